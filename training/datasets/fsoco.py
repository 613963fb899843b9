# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
FSOCO segmentation (Supervisely format) as a partially labelled source.

Layout, as the FSOCO archive extracts (one Supervisely dataset per team)::

    fsoco_segmentation/
      meta.json                  # class definitions
      <team>/ann/<image>.json    # one annotation per image
      <team>/img/<image>         # the image
    (a single dataset with ann/ and img/ directly under the root works too)

Objects are bitmaps (base64 -> zlib -> PNG, placed with its top-left corner at
``bitmap.origin`` = [x, y]) or polygons. Cone classes (``seg_blue_cone``,
``seg_yellow_cone``, ``seg_orange_cone``, ``seg_large_orange_cone``,
``seg_unknown_cone``, with or without ``seg_``) map onto the FS class table;
pixels of other classes are ignored (255), pixels where cones of different
classes overlap too.

FSOCO labels cones only, so every other pixel is UNLABELLED (254): "background or
track", trained with the marginal loss (see :mod:`training.losses`).

The black border FSOCO images carry (140 px on every side) is cropped from image
and mask. The train/val split (80/20 by default) hashes each image's file name, so
it never changes when files are added or removed elsewhere.

Broken input: images whose file is missing are skipped with a warning at start;
an unreadable ``meta.json`` is an error; a broken annotation JSON, an
undecodable bitmap or image raise :class:`~training.datasets.files.DatasetError`
naming the file when the sample is loaded (training skips such a sample with a
warning and goes on, see :class:`training.data.SegmentationDataset`).
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
import zlib

import cv2
import numpy as np
from PIL import Image
from training.datasets.base import FS_CLASSES, IGNORE, SegmentationSource, UNLABELLED
from training.datasets.files import DatasetError, IMAGE_SUFFIXES, in_split, read_json, read_rgb

log = logging.getLogger(__name__)

CONE_CLASSES = ('blue_cone', 'yellow_cone', 'orange_cone', 'large_orange_cone', 'unknown_cone')
DEFAULT_BORDER = 140
# polygon points farther than this many image sides from the origin are corrupt
POLYGON_REACH = 4


def fsoco_class_id(title: str) -> Optional[int]:
    """Map a Supervisely class title (with or without ``seg_``) to our id, else None."""
    t = str(title).strip().lower()
    if t.startswith('seg_'):
        t = t[4:]
    return FS_CLASSES.index(t) if t in CONE_CLASSES else None


def decode_bitmap(data: str) -> np.ndarray:
    """
    Decode a Supervisely bitmap (base64 of zlib of a PNG) into a bool H x W mask.

    Paletted PNGs (what Supervisely writes) give their indices, RGBA/LA images their
    alpha, grey images their value; non-zero is foreground.
    """
    raw = zlib.decompress(base64.b64decode(data, validate=False))
    with Image.open(io.BytesIO(raw)) as im:
        im.load()
        mode = im.mode
        arr = np.array(im)
    if mode in ('RGBA', 'LA', 'PA'):
        return arr[..., -1] > 0
    if arr.ndim == 3:
        return arr.any(axis=-1)
    return arr > 0


def _place(canvas: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    """OR ``patch`` into ``canvas`` with its top-left corner at (x, y), clipped."""
    h, w = canvas.shape
    ph, pw = patch.shape
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(w, x + pw), min(h, y + ph)
    if x1 > x0 and y1 > y0:
        canvas[y0:y1, x0:x1] |= patch[y0 - y:y1 - y, x0 - x:x1 - x]


class FsocoSource(SegmentationSource):
    """
    FSOCO segmentation in Supervisely format (cones labelled, the rest UNLABELLED).

    :param root: the extracted FSOCO segmentation folder (holds ``meta.json``).
    :param split: ``train``, ``val`` (alias ``test``) or ``all``.
    :param val_fraction: share of images in ``val`` (by file-name hash).
    :param border: pixels cropped from every side (FSOCO's black frame; 0 for none).
    :param limit: use only the first ``limit`` images of the split.

    """

    classes = FS_CLASSES
    labelled = tuple(FS_CLASSES.index(c) for c in CONE_CLASSES)

    def __init__(self, root: os.PathLike, *, split: str = 'train', val_fraction: float = 0.2,
                 border: int = DEFAULT_BORDER, limit: Optional[int] = None) -> None:
        self.root = Path(root)
        self.split = split
        self.border = int(border)
        if self.border < 0:
            raise DatasetError(f'FSOCO border must be >= 0, got {border}')
        if not self.root.is_dir():
            raise DatasetError(f'FSOCO folder {self.root} does not exist; extract the FSOCO '
                               'segmentation archive there (it holds meta.json and one folder '
                               'per team with ann/ and img/).')
        meta = self.root / 'meta.json'
        if meta.exists():
            m = read_json(meta, 'Supervisely meta file')
            classes = m.get('classes', []) if isinstance(m, dict) else None
            titles = [c.get('title') for c in classes if isinstance(c, dict)] \
                if isinstance(classes, list) else None
            if titles is None:
                raise DatasetError(f'Supervisely meta file {meta} has no "classes" list; '
                                   're-extract the FSOCO archive.')
            other = sorted(str(t) for t in titles if fsoco_class_id(t) is None)
            if other:
                log.info('FSOCO %s: classes %s are not cone classes; their pixels are ignored',
                         self.root, other)
        ann_dirs = [d for d in [self.root / 'ann'] + sorted(self.root.glob('*/ann'))
                    if d.is_dir()]
        if not ann_dirs:
            raise DatasetError(f'FSOCO folder {self.root} has no ann/ folders (expected '
                               '<root>/<team>/ann/*.json); is it the segmentation archive?')
        items: List[Tuple[Path, Path]] = []
        missing = []
        for ad in ann_dirs:
            for ann in sorted(ad.glob('*.json')):
                img_name = ann.name[:-len('.json')]
                img = ad.parent / 'img' / img_name
                if not img.is_file():
                    alt = [ad.parent / 'img' / (Path(img_name).stem + s) for s in IMAGE_SUFFIXES]
                    alt = [a for a in alt if a.is_file()]
                    if not alt:
                        missing.append(ann)
                        continue
                    img = alt[0]
                if in_split(img.name, split, val_fraction):
                    items.append((ann, img))
        if missing:
            log.warning('FSOCO %s: %d annotation(s) without their image (e.g. %s); skipped',
                        self.root, len(missing), missing[0])
        if limit is not None:
            items = items[:int(limit)]
        if not items:
            raise DatasetError(f'FSOCO folder {self.root}: no images with annotations in split '
                               f'{split!r}.')
        self._items = items
        self._warned: set = set()

    def __len__(self) -> int:
        return len(self._items)

    def name(self, index: int) -> str:
        """Return the image's file stem."""
        return self._items[index][1].stem

    def _warn_once(self, key: str, msg: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning('%s', msg)

    def load(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
        """Return the border-cropped RGB image and its mask (cones, 254 elsewhere)."""
        ann_path, img_path = self._items[index]
        ann = read_json(ann_path, 'Supervisely annotation')
        image = read_rgb(img_path)
        h, w = image.shape[:2]
        try:
            size = ann.get('size') or {}
            if size and (int(size['height']), int(size['width'])) != (h, w):
                raise DatasetError(f'image {img_path} is {w}x{h} but its annotation {ann_path} '
                                   f'says {size["width"]}x{size["height"]}.')
            objects = ann.get('objects', [])
            if not isinstance(objects, list) or not all(isinstance(o, dict) for o in objects):
                raise TypeError('"objects" must be a list of objects (JSON mappings)')
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError) as e:
            raise DatasetError(f'Supervisely annotation {ann_path} is malformed ({e}).') from None
        per_class: Dict[int, np.ndarray] = {}
        ignore = np.zeros((h, w), bool)
        for obj in objects:
            m = self._rasterise(obj, h, w, ann_path)
            if m is None:
                continue
            cid = fsoco_class_id(obj.get('classTitle', ''))
            if cid is None:
                ignore |= m
            elif cid in per_class:
                per_class[cid] |= m
            else:
                per_class[cid] = m
        mask = np.full((h, w), UNLABELLED, np.uint8)
        count = np.zeros((h, w), np.uint8)
        for cid, m in per_class.items():
            mask[m] = cid
            count += m
        mask[count > 1] = IGNORE
        mask[ignore & (count == 0)] = IGNORE
        b = self.border
        if b:
            if h <= 2 * b or w <= 2 * b:
                raise DatasetError(f'image {img_path} ({w}x{h}) is too small for a {b} px '
                                   'border; set border: 0 for images without the FSOCO frame.')
            image, mask = image[b:h - b, b:w - b], mask[b:h - b, b:w - b]
        return np.ascontiguousarray(image), np.ascontiguousarray(mask)

    def _rasterise(self, obj: Dict[str, Any], h: int, w: int,
                   ann_path: Path) -> Optional[np.ndarray]:
        gtype = obj.get('geometryType')
        oid = obj.get('id', '?')
        canvas = np.zeros((h, w), bool)
        if gtype == 'bitmap':
            try:
                bm = obj['bitmap']
                patch = decode_bitmap(bm['data'])
                x, y = int(bm['origin'][0]), int(bm['origin'][1])
            except (KeyError, IndexError, TypeError, ValueError, binascii.Error, zlib.error,
                    OSError) as e:
                raise DatasetError(
                    f'Supervisely annotation {ann_path}: object {oid} has an undecodable bitmap '
                    f'({type(e).__name__}: {e}); re-export it or delete the file (and its '
                    'image).') from None
            _place(canvas, patch, x, y)
            return canvas
        if gtype == 'polygon':
            try:
                pts = obj['points']
                ext = np.asarray(pts['exterior'], np.float64).reshape(-1, 2)
                holes = [np.asarray(p, np.float64).reshape(-1, 2)
                         for p in pts.get('interior', [])]
            except (KeyError, TypeError, ValueError) as e:
                raise DatasetError(f'Supervisely annotation {ann_path}: object {oid} has a '
                                   f'malformed polygon ({e}).') from None
            # NaN, Infinity or far-away points would wrap around in int32 and make
            # OpenCV's fillPoly run for minutes; real ones lie on or near the image
            reach = POLYGON_REACH * max(h, w)
            for p in [ext] + holes:
                if not np.isfinite(p).all() or (np.abs(p) > reach).any():
                    raise DatasetError(
                        f'Supervisely annotation {ann_path}: object {oid} has a polygon point '
                        f'that is not finite or lies more than {POLYGON_REACH} image sides '
                        f'away ({w}x{h} image); re-export it or delete the file (and its '
                        'image).')
            m = np.zeros((h, w), np.uint8)
            cv2.fillPoly(m, [np.round(ext).astype(np.int32)], 1)
            for hole in holes:
                cv2.fillPoly(m, [np.round(hole).astype(np.int32)], 0)
            return m.astype(bool)
        self._warn_once(str(gtype), f'Supervisely annotation {ann_path}: geometry {gtype!r} '
                                    f'(object {oid}) is not a bitmap or polygon; such objects '
                                    'are skipped')
        return None
