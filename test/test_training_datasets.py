# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""The data sources on small files written here in the real formats."""

import base64
import contextlib
import io
import json
import logging
import os
import warnings
import zlib

import cv2
import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
import pytest
from training.data import SegmentationDataset
from training.datasets import build_source, DatasetError, IGNORE, UNLABELLED
from training.datasets.coco import CocoSource
from training.datasets.files import in_split
from training.datasets.fsoco import FsocoSource
from training.transforms import EvalTransform
from training_helpers import write_folder_dataset

# ---------------------------------------------------------------- COCO


def _write_img(path, h, w, value=100):
    img = np.full((h, w, 3), value, np.uint8)
    cv2.imwrite(str(path), img)


def _coco_files(tmp_path):
    """Write an instances json with polygons, compressed RLE, uncompressed RLE (crowd)."""
    root = tmp_path / 'coco'
    (root / 'annotations').mkdir(parents=True)
    (root / 'val2017').mkdir()
    h, w = 40, 60
    _write_img(root / 'val2017' / '000001.jpg', h, w)
    _write_img(root / 'val2017' / '000002.jpg', h, w)
    # instance of category 3 (car) as compressed RLE: rows 10..29, cols 25..44
    car = np.zeros((h, w), np.uint8, order='F')
    car[10:30, 25:45] = 1
    rle = mask_utils.encode(np.asfortranarray(car))
    rle['counts'] = rle['counts'].decode('ascii')
    # crowd of category 1 as uncompressed RLE (column-major run lengths)
    crowd = np.zeros((h, w), np.uint8)
    crowd[30:38, 0:10] = 1
    flat = crowd.flatten(order='F')
    counts, cur, run = [], 0, 0
    for v in flat:
        if v != cur:
            counts.append(run)
            cur, run = v, 0
        run += 1
    counts.append(run)
    anns = [
        {'id': 1, 'image_id': 1, 'category_id': 1, 'iscrowd': 0,
         'segmentation': [[5, 5, 30, 5, 30, 20, 5, 20]], 'area': 1, 'bbox': [5, 5, 25, 15]},
        {'id': 2, 'image_id': 1, 'category_id': 3, 'iscrowd': 0, 'segmentation': rle,
         'area': 1, 'bbox': [25, 10, 20, 20]},
        {'id': 3, 'image_id': 1, 'category_id': 1, 'iscrowd': 1,
         'segmentation': {'size': [h, w], 'counts': counts}, 'area': 1, 'bbox': [0, 30, 10, 8]},
        {'id': 4, 'image_id': 1, 'category_id': 90, 'iscrowd': 0,
         'segmentation': [[50, 30, 58, 30, 58, 38, 50, 38]], 'area': 1, 'bbox': [50, 30, 8, 8]},
    ]
    data = {
        'images': [{'id': 1, 'file_name': '000001.jpg', 'height': h, 'width': w},
                   {'id': 2, 'file_name': '000002.jpg', 'height': h, 'width': w},
                   {'id': 3, 'file_name': '000003.jpg', 'height': h, 'width': w}],
        'annotations': anns,
        'categories': [{'id': 1, 'name': 'person'}, {'id': 3, 'name': 'car'},
                       {'id': 90, 'name': 'toothbrush'}],
    }
    ann_file = root / 'annotations' / 'instances_val2017.json'
    ann_file.write_text(json.dumps(data))
    return root, ann_file


def _reference(ann_file):
    """Per-annotation masks from pycocotools' own COCO.annToMask."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter('ignore', DeprecationWarning)  # pycocotools vs numpy 2
        coco = COCO(str(ann_file))
        return {a['id']: coco.annToMask(a).astype(bool)
                for a in coco.loadAnns(coco.getAnnIds())}


def test_coco_categories_mode_rle_polygons_overlap_and_crowd(tmp_path, caplog):
    root, ann_file = _coco_files(tmp_path)
    ref = _reference(ann_file)
    with caplog.at_level(logging.WARNING):
        src = build_source({'type': 'coco', 'root': str(root), 'split': 'val2017',
                            'mode': 'categories', 'cache': str(tmp_path / 'cache')})
    assert '000003.jpg' in caplog.text  # listed but missing: skipped with a warning
    assert len(src) == 2
    assert src.classes == ('background', 'person', 'car', 'toothbrush')
    assert src.prepare(workers=2, progress=False) == 2
    image, mask = src.load(0)
    assert image.shape == (40, 60, 3) and mask.shape == (40, 60) and mask.dtype == np.uint8
    person, car, crowd, brush = ref[1], ref[2], ref[3], ref[4]
    assert (mask[person & ~car] == 1).all()
    assert (mask[car & ~person] == 2).all()
    assert (mask[person & car] == IGNORE).all() and (person & car).sum() > 0
    assert (mask[brush] == 3).all()  # category id 90 -> contiguous id 3
    assert (mask[crowd] == IGNORE).all()
    assert (mask[~(person | car | crowd | brush)] == 0).all()
    _, empty = src.load(1)
    assert (empty == 0).all()


def test_coco_binary_mode_and_resumable_cache(tmp_path):
    root, ann_file = _coco_files(tmp_path)
    ref = _reference(ann_file)
    spec = {'type': 'coco', 'annotations': str(ann_file), 'images': str(root / 'val2017'),
            'mode': 'binary', 'cache': str(tmp_path / 'cache')}
    src = build_source(spec)
    assert src.classes == ('background', 'object')
    assert src.prepare(workers=0, progress=False) == 2
    _, mask = src.load(0)
    objects = ref[1] | ref[2] | ref[4]
    assert (mask[objects] == 1).all()  # same class overlapping: no conflict
    assert (mask[ref[3] & ~objects] == IGNORE).all()
    # a second source reuses the cache; a lost mask (killed run) is rebuilt alone
    pngs = sorted(src.cache_dir.glob('*.png'))
    assert len(pngs) == 2
    again = build_source(spec)
    assert again.prepare(workers=0, progress=False) == 0
    pngs[0].unlink()
    again = build_source(spec)
    assert again.prepare(workers=0, progress=False) == 1
    assert np.array_equal(again.load(0)[1], mask)
    # another mode never shares the cache
    cats = build_source(dict(spec, mode='categories'))
    assert cats.cache_dir != src.cache_dir


def test_coco_broken_files_name_the_file(tmp_path):
    root, ann_file = _coco_files(tmp_path)
    ann_file.write_text(ann_file.read_text()[:200])
    with pytest.raises(DatasetError, match=r'instances_val2017\.json is not valid JSON'):
        build_source({'type': 'coco', 'root': str(root), 'split': 'val2017'})
    with pytest.raises(DatasetError, match=r'image folder .*train2017 does not exist'):
        _coco_files(tmp_path / 'b')
        build_source({'type': 'coco', 'root': str(tmp_path / 'b' / 'coco'),
                      'split': 'train2017',
                      'annotations': str(tmp_path / 'b' / 'coco' / 'annotations' /
                                         'instances_val2017.json')})


def test_coco_undecodable_image_is_named(tmp_path):
    root, ann_file = _coco_files(tmp_path)
    (root / 'val2017' / '000001.jpg').write_bytes(b'not a jpeg')
    src = CocoSource(ann_file, root / 'val2017', cache_dir=tmp_path / 'c')
    with pytest.raises(DatasetError, match=r'000001\.jpg could not be decoded'):
        src.load(0)


# ---------------------------------------------------------------- FSOCO


def _bitmap(mask, rgba=False):
    """Encode a bool mask the way Supervisely does: PNG -> zlib -> base64."""
    if rgba:
        arr = np.zeros(mask.shape + (4,), np.uint8)
        arr[mask] = (255, 255, 255, 255)
        im = Image.fromarray(arr, 'RGBA')
        buf = io.BytesIO()
        im.save(buf, format='PNG')
    else:
        im = Image.fromarray(mask.astype(np.uint8))
        im.putpalette([0, 0, 0, 255, 255, 255])
        buf = io.BytesIO()
        im.save(buf, format='PNG', transparency=0, optimize=0)
    return base64.b64encode(zlib.compress(buf.getvalue())).decode('utf-8')


def _fsoco(tmp_path, border=140):
    root = tmp_path / 'fsoco'
    team = root / 'team_a'
    (team / 'ann').mkdir(parents=True)
    (team / 'img').mkdir()
    (root / 'meta.json').write_text(json.dumps({'classes': [
        {'title': 'seg_blue_cone', 'shape': 'bitmap'},
        {'title': 'seg_yellow_cone', 'shape': 'bitmap'},
        {'title': 'orange_cone', 'shape': 'bitmap'}, {'title': 'car', 'shape': 'bitmap'}]}))
    h, w = 2 * border + 30, 2 * border + 40
    img = np.zeros((h, w, 3), np.uint8)  # black frame ...
    img[border:h - border, border:w - border] = (0, 200, 0)  # ... around a green picture
    cv2.imwrite(str(team / 'img' / 'frame_0001.png'), img)
    blue = np.zeros((6, 4), bool)
    blue[1:5, 1:3] = True
    yellow = np.ones((5, 5), bool)
    objects = [
        {'id': 11, 'classTitle': 'seg_blue_cone', 'geometryType': 'bitmap',
         'bitmap': {'data': _bitmap(blue), 'origin': [border + 10, border + 5]}},
        {'id': 12, 'classTitle': 'seg_yellow_cone', 'geometryType': 'bitmap',
         'bitmap': {'data': _bitmap(yellow, rgba=True), 'origin': [border + 20, border + 20]}},
        # overlaps the yellow one by a column: conflict -> ignored
        {'id': 13, 'classTitle': 'orange_cone', 'geometryType': 'polygon',
         'points': {'exterior': [[border + 24, border + 20], [border + 30, border + 20],
                                 [border + 30, border + 24], [border + 24, border + 24]],
                    'interior': []}},
        {'id': 14, 'classTitle': 'car', 'geometryType': 'bitmap',
         'bitmap': {'data': _bitmap(np.ones((3, 3), bool)), 'origin': [border + 1, border + 1]}},
    ]
    (team / 'ann' / 'frame_0001.png.json').write_text(json.dumps(
        {'size': {'height': h, 'width': w}, 'objects': objects, 'tags': []}))
    return root


def test_fsoco_bitmaps_origin_border_and_partial_labels(tmp_path):
    root = _fsoco(tmp_path)
    src = FsocoSource(root, split='all')
    assert len(src) == 1 and src.name(0) == 'frame_0001'
    assert src.labelled_ids() == [2, 3, 4, 5, 6]
    image, mask = src.load(0)
    assert image.shape == (30, 40, 3) and mask.shape == (30, 40)
    assert (image == (0, 200, 0)).all()  # the black border is gone
    # blue bitmap 6x4 at origin x=10, y=5 (after the crop), True in rows 1..4, cols 1..2
    assert (mask[6:10, 11:13] == 2).all()
    assert mask[5, 10] == UNLABELLED and mask[6, 10] == UNLABELLED
    # yellow 5x5 at (20, 20); the orange polygon covers x 24..30, y 20..24 (overlap at x=24)
    assert (mask[20:25, 20:24] == 3).all()
    assert (mask[20:25, 24] == IGNORE).all()
    assert (mask[20:25, 25:31] == 4).all()
    # 'car' is not a cone class: ignored, never taught as background
    assert (mask[1:4, 1:4] == IGNORE).all()
    # everything else: background or track
    assert (mask == UNLABELLED).sum() == mask.size - 8 - 20 - 5 - 30 - 9


def test_fsoco_split_is_stable_and_about_80_20(tmp_path):
    root = tmp_path / 'fs'
    for team in ('a', 'b'):
        (root / team / 'ann').mkdir(parents=True)
        (root / team / 'img').mkdir()
    names = [f'{t}_{i:04d}.jpg' for t in 'ab' for i in range(200)]
    for n in names:
        team = n[0]
        (root / team / 'img' / n).write_bytes(b'')
        (root / team / 'ann' / f'{n}.json').write_text('{}')
    train_src = FsocoSource(root, split='train')
    train = {train_src.name(i) for i in range(len(train_src))}
    val_src = FsocoSource(root, split='val')
    val = {val_src.name(i) for i in range(len(val_src))}
    assert not train & val and len(train) + len(val) == 400
    assert 0.7 < len(train) / 400 < 0.9
    # files added in another team folder do not move any existing file
    (root / 'c' / 'ann').mkdir(parents=True)
    (root / 'c' / 'img').mkdir()
    for i in range(50):
        (root / 'c' / 'img' / f'c_{i}.jpg').write_bytes(b'')
        (root / 'c' / 'ann' / f'c_{i}.jpg.json').write_text('{}')
    val2 = FsocoSource(root, split='val')
    assert val <= {val2.name(i) for i in range(len(val2))}
    assert all(in_split(f'{n}.jpg', 'val') for n in val)


def test_fsoco_broken_annotation_is_named_and_skipped_in_training(tmp_path, caplog):
    root = _fsoco(tmp_path)
    ann = root / 'team_a' / 'ann' / 'frame_0001.png.json'
    good = json.loads(ann.read_text())
    # a second image whose bitmap is not zlib data
    bad = json.loads(ann.read_text())
    bad['objects'][0]['bitmap']['data'] = base64.b64encode(b'garbage').decode()
    (root / 'team_a' / 'ann' / 'frame_0002.png.json').write_text(json.dumps(bad))
    os.link(root / 'team_a' / 'img' / 'frame_0001.png', root / 'team_a' / 'img' /
            'frame_0002.png')
    # a third whose JSON is cut off
    (root / 'team_a' / 'ann' / 'frame_0003.png.json').write_text(json.dumps(good)[:50])
    os.link(root / 'team_a' / 'img' / 'frame_0001.png', root / 'team_a' / 'img' /
            'frame_0003.png')
    # and an annotation without an image: skipped at start with a warning
    (root / 'team_a' / 'ann' / 'frame_0004.png.json').write_text(json.dumps(good))
    with caplog.at_level(logging.WARNING):
        src = FsocoSource(root, split='all')
    assert 'without their image' in caplog.text and len(src) == 3
    with pytest.raises(DatasetError, match=r'frame_0002\.png\.json: object 11 has an '
                       r'undecodable bitmap'):
        src.load(1)
    with pytest.raises(DatasetError, match=r'frame_0003\.png\.json is not valid JSON'):
        src.load(2)
    ds = SegmentationDataset([src], EvalTransform((32, 48), (0.5, 0.5, 0.5)))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        img, mask, labelled = ds[1]  # broken: replaced by the next good one, with a warning
    assert 'frame_0002.png.json' in caplog.text and 'frame_0003.png.json' in caplog.text
    assert img.shape == (3, 32, 48) and labelled.tolist() == [False, False] + [True] * 5


def test_fsoco_missing_folder_says_what_to_do(tmp_path):
    with pytest.raises(DatasetError, match='extract the FSOCO segmentation archive'):
        build_source({'type': 'fsoco', 'root': str(tmp_path / 'nope')})


# ---------------------------------------------------------------- folder


def test_folder_labelled_yaml_and_stem_matching(tmp_path, caplog):
    root = write_folder_dataset(tmp_path / 'team', 3, labelled=['blue_cone', 'yellow_cone'])
    cv2.imwrite(str(root / 'images' / 'lonely.png'), np.zeros((8, 8, 3), np.uint8))
    with caplog.at_level(logging.WARNING):
        src = build_source({'type': 'folder', 'root': str(root)})
    assert 'without a mask' in caplog.text
    assert len(src) == 3 and src.labelled_ids() == [2, 3]
    image, mask = src.load(0)
    assert image.shape[:2] == mask.shape == (32, 48)


def test_folder_bad_masks_are_named(tmp_path):
    root = write_folder_dataset(tmp_path / 'd', 2)
    stem = sorted(p.stem for p in (root / 'masks').glob('*.png'))[0]
    cv2.imwrite(str(root / 'masks' / f'{stem}.png'), np.zeros((32, 48, 3), np.uint8))
    src = build_source({'type': 'folder', 'root': str(root)})
    with pytest.raises(DatasetError, match=rf'{stem}\.png has image mode RGB'):
        src.load(0)
    cv2.imwrite(str(root / 'masks' / f'{stem}.png'), np.full((32, 48), 9, np.uint8))
    with pytest.raises(DatasetError, match=r'class ids \[9\] outside 0\.\.6'):
        src.load(0)
    cv2.imwrite(str(root / 'masks' / f'{stem}.png'), np.zeros((16, 48), np.uint8))
    with pytest.raises(DatasetError, match=r'is 48x16 but its image'):
        src.load(0)


def test_build_source_synthetic_renders_on_the_fly():
    pytest.importorskip('training.synthetic', reason='the synthetic renderer is not here yet')
    src = build_source({'type': 'synthetic', 'count': 2, 'seed': 7, 'width': 64, 'height': 48})
    assert len(src) == 2 and list(src.classes)[1] == 'track' and src.labelled_ids() == list(
        range(7))
    image, mask = src.load(1)
    # class ids, and 255 (ignore) over cones projected under min_cone_px (default 8 px)
    assert image.shape == (48, 64, 3) and mask.shape == (48, 64)
    assert np.all((mask < 7) | (mask == 255))
    again = build_source({'type': 'synthetic', 'count': 2, 'seed': 7, 'width': 64, 'height': 48})
    assert np.array_equal(again.load(1)[1], mask)  # deterministic by seed
    every = build_source({'type': 'synthetic', 'count': 2, 'seed': 7, 'width': 64, 'height': 48,
                          'min_cone_px': 0})   # 0: every cone keeps its class
    full = every.load(1)[1]
    assert full.max() < 7 and np.array_equal(full[mask != 255], mask[mask != 255])


def test_build_source_rejects_unknown_types_and_keys(tmp_path):
    with pytest.raises(DatasetError, match='unknown dataset type'):
        build_source({'type': 'kitti', 'root': 'x'})
    with pytest.raises(DatasetError, match=r"unknown keys \['rot'\]"):
        build_source({'type': 'folder', 'rot': 'x'})
    with pytest.raises(DatasetError, match='needs images/ and masks/'):
        build_source({'type': 'folder', 'root': str(tmp_path)})
