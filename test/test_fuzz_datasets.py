# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Property tests of the dataset loaders over mutated annotation JSON and PNGs.

A real folder dataset, FSOCO (Supervisely) dataset and COCO dataset are written;
each example changes their annotation JSON (values replaced by values of other
types, lists, huge or negative numbers, NaN / Infinity, which Python's JSON reader
accepts) or their PNGs (bytes flipped, cut, inserted). Building the source and
loading every sample must either raise :class:`DatasetError` or give an RGB uint8
image and a uint8 mask of the same size. Training skips a sample whose load raises
DatasetError; any other exception would stop the run.
"""

import base64
import copy
import io
import json
from pathlib import Path
import tempfile
import zlib

import cv2
from hypothesis import example, given, strategies as st
import numpy as np
from PIL import Image
import pytest
from training.datasets.coco import CocoSource
from training.datasets.files import DatasetError
from training.datasets.folder import FolderSource
from training.datasets.fsoco import FsocoSource

H, W = 24, 32
ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2**40, 2**40), st.integers(-3, 40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(['../../x', '/etc/passwd', '', '.', 'a' * 300]),
    st.lists(st.integers(-5, 50), max_size=8),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


def _paths(obj, prefix=()):
    """Every key path of a JSON value (dict keys and list indices)."""
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


@st.composite
def json_mutations(draw, doc):
    """Replace or delete up to 3 values anywhere in ``doc``; returns the new document."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        if not path:
            doc = draw(ODD_VALUES)
            continue
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        if draw(st.booleans()) or not isinstance(parent, dict):
            parent[path[-1]] = draw(ODD_VALUES)
        else:
            del parent[path[-1]]
    return doc


def _png(arr) -> bytes:
    ok, buf = cv2.imencode('.png', arr)
    assert ok
    return buf.tobytes()


def _mutate_bytes(draw, buf: bytes) -> bytes:
    out = bytearray(buf)
    for _ in range(draw(st.integers(1, 3))):
        if not out:
            break
        i = draw(st.integers(0, len(out) - 1))
        op = draw(st.sampled_from(['flip', 'cut', 'insert']))
        if op == 'flip':
            out[i] ^= 1 << draw(st.integers(0, 7))
        elif op == 'cut':
            del out[i:]
        else:
            out[i:i] = draw(st.binary(min_size=1, max_size=8))
    return bytes(out)


def _scene(seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    mask = np.zeros((H, W), np.uint8)
    mask[4:12, 6:14] = 2
    mask[14:20, 18:26] = 3
    return img, mask


def check_samples(src):
    """Load every sample; each is a DatasetError or a consistent (image, mask)."""
    for i in range(len(src)):
        try:
            image, mask = src.load(i)
        except DatasetError as e:
            assert str(e)
            continue
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert mask.dtype == np.uint8 and mask.shape == image.shape[:2]
        src.name(i)


# ----------------------------------------------------------------------------- folder
def _write_folder(root: Path, meta=None, mask_png=None, image_png=None):
    img, mask = _scene()
    (root / 'images').mkdir(parents=True, exist_ok=True)
    (root / 'masks').mkdir(exist_ok=True)
    (root / 'images' / 'a.png').write_bytes(image_png or _png(img[:, :, ::-1]))
    (root / 'masks' / 'a.png').write_bytes(mask_png or _png(mask))
    (root / 'images' / 'b.png').write_bytes(_png(img[:, :, ::-1]))
    (root / 'masks' / 'b.png').write_bytes(_png(mask))
    if meta is not None:
        (root / 'dataset.json').write_text(json.dumps(meta))


FOLDER_META = {'classes': ['background', 'track', 'blue_cone', 'yellow_cone'],
               'labelled': ['blue_cone', 3], 'description': 'x'}


@st.composite
def folder_cases(draw):
    what = draw(st.sampled_from(['meta', 'mask', 'image']))
    img, mask = _scene()
    if what == 'meta':
        return draw(json_mutations(FOLDER_META)), None, None
    if what == 'mask':
        return FOLDER_META, _mutate_bytes(draw, _png(mask)), None
    return FOLDER_META, None, _mutate_bytes(draw, _png(img))


@given(folder_cases())
@example(({'classes': 5}, None, None))
@example(({'labelled': 3}, None, None))
def test_folder_source_over_mutated_files(case):
    with tempfile.TemporaryDirectory() as d:
        _check_folder(Path(d), *case)


def _check_folder(root, meta, mask_png, image_png):
    _write_folder(root, meta, mask_png, image_png)
    try:
        src = FolderSource(root)
    except DatasetError as e:
        assert str(e)
        return
    check_samples(src)


# ----------------------------------------------------------------------------- FSOCO
def _bitmap(patch) -> str:
    pim = Image.fromarray(patch.astype(np.uint8) * 255, mode='L')
    bio = io.BytesIO()
    pim.save(bio, format='PNG')
    return base64.b64encode(zlib.compress(bio.getvalue())).decode('ascii')


def _fsoco_ann():
    patch = np.zeros((5, 4), bool)
    patch[1:4, 1:3] = True
    return {'size': {'height': H, 'width': W}, 'objects': [
        {'id': 1, 'classTitle': 'seg_blue_cone', 'geometryType': 'bitmap',
         'bitmap': {'origin': [3, 4], 'data': _bitmap(patch)}},
        {'id': 2, 'classTitle': 'yellow_cone', 'geometryType': 'polygon',
         'points': {'exterior': [[10, 10], [20, 10], [15, 20]], 'interior': []}},
        {'id': 3, 'classTitle': 'seg_car', 'geometryType': 'rectangle'}]}


FSOCO_META = {'classes': [{'title': 'seg_blue_cone'}, {'title': 'seg_car'}]}


@st.composite
def fsoco_cases(draw):
    what = draw(st.sampled_from(['ann', 'ann', 'meta', 'bitmap', 'image']))
    ann, meta, image = _fsoco_ann(), FSOCO_META, None
    if what == 'ann':
        ann = draw(json_mutations(ann))
    elif what == 'meta':
        meta = draw(json_mutations(meta))
    elif what == 'bitmap':
        patch = np.ones((3, 3), np.uint8) * 255
        raw = _mutate_bytes(draw, _png(patch))
        ann['objects'][0]['bitmap']['data'] = base64.b64encode(zlib.compress(raw)).decode()
    else:
        image = _mutate_bytes(draw, _png(_scene()[0]))
    return ann, meta, image


@given(fsoco_cases())
@example(({'objects': 5}, FSOCO_META, None))
@example(({'objects': [5]}, FSOCO_META, None))
@example(({'objects': [{'classTitle': 'blue_cone', 'geometryType': 'polygon', 'points': {
    'exterior': [[float('nan'), 1], [1, -2**40], [3, 3]]}}]}, FSOCO_META, None))
def test_fsoco_source_over_mutated_files(case):
    with tempfile.TemporaryDirectory() as d:
        _check_fsoco(Path(d), *case)


def _check_fsoco(root, ann, meta, image):
    team = root / 'team'
    (team / 'ann').mkdir(parents=True)
    (team / 'img').mkdir()
    (root / 'meta.json').write_text(json.dumps(meta))
    (team / 'img' / 'f1.png').write_bytes(image or _png(_scene()[0]))
    (team / 'ann' / 'f1.png.json').write_text(json.dumps(ann))
    try:
        src = FsocoSource(root, split='all', border=0)
    except DatasetError as e:
        assert str(e)
        return
    check_samples(src)


# ----------------------------------------------------------------------------- COCO
def _coco_doc():
    return {
        'images': [{'id': 1, 'file_name': 'one.png', 'height': H, 'width': W},
                   {'id': 2, 'file_name': 'two.png', 'height': H, 'width': W}],
        'annotations': [
            {'id': 10, 'image_id': 1, 'category_id': 3, 'iscrowd': 0,
             'segmentation': [[2, 2, 12, 2, 12, 12, 2, 12]]},
            {'id': 11, 'image_id': 1, 'category_id': 5, 'iscrowd': 1,
             'segmentation': {'size': [H, W], 'counts': [30, 10, 200, 20]}},
            {'id': 12, 'image_id': 2, 'category_id': 3, 'iscrowd': 0,
             'segmentation': {'size': [H, W], 'counts': '0`0'}}],
        'categories': [{'id': 3, 'name': 'car'}, {'id': 5, 'name': 'person'}]}


@given(json_mutations(_coco_doc()), st.sampled_from(['binary', 'categories']))
@example({**_coco_doc(), 'images': [{'id': 1, 'file_name': '../one.png', 'height': H,
                                     'width': W}]}, 'binary')
@example({**_coco_doc(), 'images': [{'id': 1, 'file_name': 'one.png', 'height': 10**6,
                                     'width': 10**6}]}, 'binary')
def test_coco_source_over_mutated_annotations(doc, mode):
    with tempfile.TemporaryDirectory() as d:
        _check_coco(Path(d), doc, mode)


def _check_coco(root, doc, mode):
    (root / 'annotations').mkdir()
    images = root / 'images'
    images.mkdir()
    img = _png(_scene()[0])
    (images / 'one.png').write_bytes(img)
    (images / 'two.png').write_bytes(img)
    (root / 'one.png').write_bytes(img)  # outside the image folder: must never be read
    ann = root / 'annotations' / 'instances_x.json'
    ann.write_text(json.dumps(doc))
    try:
        src = CocoSource(ann, images, mode=mode, cache_dir=root / 'cache')
        src.prepare(workers=0, progress=False)
    except DatasetError as e:
        assert str(e)
        return
    for i in range(len(src)):
        assert (images / src._entries[i][1]).resolve().parent == images.resolve()
    check_samples(src)
    for p in (root / 'cache').rglob('*'):
        assert p.resolve().is_relative_to((root / 'cache').resolve())


@pytest.mark.parametrize('name', ['../outside.png', '/etc/hostname', 'sub/../../outside.png'])
def test_coco_file_names_cannot_leave_the_image_folder(tmp_path, name):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'outside.png').write_bytes(_png(_scene()[0]))
    doc = _coco_doc()
    doc['images'][0]['file_name'] = name
    doc['images'] = doc['images'][:1]
    ann = tmp_path / 'instances_x.json'
    ann.write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match='outside'):
        CocoSource(ann, tmp_path / 'images', cache_dir=tmp_path / 'cache')
