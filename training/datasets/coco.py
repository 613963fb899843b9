# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
COCO instance annotations as semantic segmentation (pretraining data).

``instances_<split>.json`` + its image folder become one class-id mask per image:

* ``mode='binary'``: 0 background, 1 any object (how the original EUnet was
  pretrained);
* ``mode='categories'``: 0 background, 1..80 the COCO categories in the order of
  their ids (contiguous ids; names from the file).

Pixels where instances of *different* classes overlap are ignored (255), and so
are crowd regions (``iscrowd=1``, coarse outlines) that no regular instance covers.

Masks are computed once (pycocotools: polygons and RLE) into a PNG cache, in
parallel, each written atomically: an interrupted :meth:`CocoSource.prepare`
resumes where it stopped, and epochs only read PNGs. The cache folder's name
carries a fingerprint of the annotation file and the mode, so a changed file
never reuses stale masks.

Broken input: an unreadable or malformed annotation file is an error naming it;
images listed in the file but missing on disk are skipped with a warning at
start; a malformed single annotation is skipped with a warning (one bad polygon
should not stop a pretraining run).
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing as mp
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple
import warnings

import cv2
from eunet_ros.core.options import MAX_FRAME_SIDE
from eunet_ros.fileio import atomic_write_json
import numpy as np
from pycocotools import mask as mask_utils
from training.datasets.base import IGNORE, SegmentationSource
from training.datasets.files import atomic_write_png, DatasetError, read_json
from training.datasets.files import read_rgb

log = logging.getLogger(__name__)

MODES = ('binary', 'categories')
CACHE_VERSION = 1
# polygon points farther than this many image sides from the origin are corrupt
POLYGON_REACH = 4

Task = Tuple[Path, int, int, List[Dict[str, Any]], Dict[int, int], str]


def ann_to_mask(segmentation: Any, height: int, width: int) -> np.ndarray:
    """
    Rasterise one COCO ``segmentation`` (polygons, RLE or uncompressed RLE).

    Same conversion as ``pycocotools.coco.COCO.annToMask``; polygons with fewer
    than three points are dropped.

    :returns: uint8 H x W array of 0/1.
    """
    if isinstance(segmentation, list):
        polys = [p for p in segmentation if isinstance(p, list) and len(p) >= 6]
        if not polys:
            raise ValueError('no polygon with at least 3 points')
        reach = POLYGON_REACH * max(height, width)
        for p in polys:
            xy = np.asarray(p, np.float64)
            if not np.isfinite(xy).all() or (np.abs(xy) > reach).any():
                raise ValueError(f'a polygon point is not finite or lies more than '
                                 f'{POLYGON_REACH} image sides away')
        rle = mask_utils.merge(mask_utils.frPyObjects(polys, height, width))
    elif isinstance(segmentation, dict) and 'counts' in segmentation:
        size = segmentation.get('size')
        if not (isinstance(size, list) and [type(v) for v in size] == [int, int]
                and size == [height, width]):
            raise ValueError(f'RLE size {size!r} differs from the image size '
                             f'{[height, width]}')
        counts = segmentation['counts']
        if isinstance(counts, list):
            if not all(type(c) is int and c >= 0 for c in counts) or sum(counts) != \
                    height * width:
                raise ValueError('uncompressed RLE counts must be non-negative integers '
                                 f'that add up to {height} x {width} pixels')
            rle = mask_utils.frPyObjects(dict(segmentation), height, width)
        elif isinstance(counts, (str, bytes)):
            rle = {'size': size, 'counts': counts.encode('ascii') if isinstance(counts, str)
                   else counts}
        else:
            raise ValueError(f'RLE counts of type {type(counts).__name__}')
    else:
        raise ValueError(f'unknown segmentation type {type(segmentation).__name__}')
    with warnings.catch_warnings():  # pycocotools' __array__ predates numpy 2's copy=
        warnings.simplefilter('ignore', DeprecationWarning)
        m = mask_utils.decode(rle)
    if m.shape != (height, width):
        raise ValueError(f'RLE size {m.shape} differs from the image size {(height, width)}')
    return m


def semantic_mask(anns: Sequence[Dict[str, Any]], height: int, width: int,
                  class_of: Dict[int, int], where: str = '') -> Tuple[np.ndarray, List[str]]:
    """
    Combine the instance annotations of one image into a class-id mask.

    :param anns: the image's annotations (``segmentation``, ``category_id``, ``iscrowd``).
    :param class_of: COCO category id -> our class id (>= 1).
    :param where: text naming the image in warnings.
    :returns: (uint8 mask, warnings about skipped annotations).
    """
    label = np.zeros((height, width), np.uint8)
    count = np.zeros((height, width), np.uint8)
    crowd = np.zeros((height, width), bool)
    per_class: Dict[int, np.ndarray] = {}
    msgs = []
    for ann in anns:
        if not isinstance(ann, dict):
            msgs.append(f'{where}: annotation {ann!r:.40} is not a JSON mapping; skipped')
            continue
        cat = ann.get('category_id')
        cid = class_of.get(cat) if isinstance(cat, int) else None
        if cid is None:
            msgs.append(f'{where}: annotation {ann.get("id")} has unknown category_id '
                        f'{ann.get("category_id")}; skipped')
            continue
        try:
            m = ann_to_mask(ann.get('segmentation'), height, width).astype(bool)
        except (ValueError, TypeError, KeyError, OverflowError, UnicodeError) as e:
            msgs.append(f'{where}: annotation {ann.get("id")} has a malformed segmentation '
                        f'({e}); skipped')
            continue
        if ann.get('iscrowd', 0):
            crowd |= m
        elif cid in per_class:
            per_class[cid] |= m
        else:
            per_class[cid] = m
    for cid, m in per_class.items():
        label[m] = cid
        count += m
    label[count > 1] = IGNORE
    label[crowd & (count == 0)] = IGNORE
    return label, msgs


def _build_one(task: Task) -> List[str]:
    path, height, width, anns, class_of, where = task
    mask, msgs = semantic_mask(anns, height, width, class_of, where)
    atomic_write_png(path, mask)
    return msgs


class CocoSource(SegmentationSource):
    """
    A COCO ``instances_*.json`` + image folder as a segmentation source.

    :param annotations: the ``instances_<split>.json`` file.
    :param images: the folder holding the images named in it.
    :param mode: ``'binary'`` (object vs background) or ``'categories'`` (80 classes).
    :param cache_dir: where the mask PNGs go (default: ``eunet_masks/`` beside the
        annotation folder, i.e. ``<coco root>/eunet_masks/<file>_<mode>_<hash>/``).
    :param limit: use only the first ``limit`` images (debugging, smoke tests).
    :param skip_empty: leave out images without any annotation.

    """

    def __init__(self, annotations: os.PathLike, images: os.PathLike, *, mode: str = 'binary',
                 cache_dir: Optional[os.PathLike] = None, limit: Optional[int] = None,
                 skip_empty: bool = False) -> None:
        if mode not in MODES:
            raise DatasetError(f'COCO mode must be one of {MODES}, got {mode!r}')
        self.annotations = Path(annotations)
        self.images = Path(images)
        self.mode = mode
        data = read_json(self.annotations, 'COCO annotation file')
        where = f'COCO annotation file {self.annotations}'
        if not isinstance(data, dict) or not all(
                isinstance(data.get(k), list) for k in ('images', 'annotations', 'categories')):
            raise DatasetError(f'{where} has no "images", "annotations" and "categories" lists; '
                               'give an instances_<split>.json file (not captions or keypoints).')
        if not self.images.is_dir():
            raise DatasetError(f'COCO image folder {self.images} does not exist (annotations: '
                               f'{self.annotations}); put the images of that split there.')
        try:
            cats = sorted(data['categories'], key=lambda c: int(c['id']))
            if mode == 'binary':
                self.classes = ('background', 'object')
                class_of = {int(c['id']): 1 for c in cats}
            else:
                self.classes = ('background',) + tuple(str(c['name']) for c in cats)
                class_of = {int(c['id']): i + 1 for i, c in enumerate(cats)}
            if len(self.classes) > 254:
                raise DatasetError(f'{where}: {len(cats)} categories do not fit in 8-bit masks')
            anns_by_img: Dict[int, List[Dict[str, Any]]] = {}
            for a in data['annotations']:
                anns_by_img.setdefault(int(a['image_id']), []).append(a)
            entries = []
            for im in sorted(data['images'], key=lambda i: int(i['id'])):
                entries.append((int(im['id']), str(im['file_name']), int(im['height']),
                                int(im['width'])))
                if not (0 < entries[-1][2] <= MAX_FRAME_SIDE
                        and 0 < entries[-1][3] <= MAX_FRAME_SIDE):
                    raise ValueError(f'image {entries[-1][0]} claims {entries[-1][3]}x'
                                     f'{entries[-1][2]} pixels (sides must be 1..'
                                     f'{MAX_FRAME_SIDE})')
        except (KeyError, TypeError, ValueError, OverflowError) as e:
            raise DatasetError(f'{where} is malformed ({type(e).__name__}: {e}); re-extract '
                               'it from the official COCO archive.') from None
        self.labelled = None
        root = self.images.resolve()
        for e in entries:
            if not (root / e[1]).resolve().is_relative_to(root):
                raise DatasetError(
                    f'{where}: image {e[0]} has file_name {e[1]!r}, which points outside the '
                    f'image folder {self.images}; COCO file names are plain names in it '
                    '(a crafted or damaged annotation file).')
        kept, missing = [], []
        for e in entries:
            if skip_empty and e[0] not in anns_by_img:
                continue
            (kept if (self.images / e[1]).is_file() else missing).append(e)
        if missing:
            log.warning('%s: %d image(s) listed but not found in %s (e.g. %s); they are '
                        'skipped', where, len(missing), self.images,
                        ', '.join(m[1] for m in missing[:3]))
        if limit is not None:
            kept = kept[:int(limit)]
        if not kept:
            raise DatasetError(f'{where}: none of its images were found in {self.images}.')
        self._entries = kept
        self._class_of = class_of
        self._anns: Optional[Dict[int, List[Dict[str, Any]]]] = {
            e[0]: anns_by_img.get(e[0], []) for e in kept}
        fp = hashlib.sha1(f'{self.annotations.stat().st_size}|{mode}|{CACHE_VERSION}'.encode())
        if cache_dir is None:
            cache_dir = self.annotations.resolve().parent.parent / 'eunet_masks'
        self.cache_dir = Path(cache_dir) / f'{self.annotations.stem}_{mode}_{fp.hexdigest()[:8]}'

    def __len__(self) -> int:
        return len(self._entries)

    def name(self, index: int) -> str:
        """Return the image file's stem."""
        return Path(self._entries[index][1]).stem

    def _mask_path(self, index: int) -> Path:
        return self.cache_dir / f'{self._entries[index][0]}.png'

    def _task(self, index: int) -> Task:
        img_id, fname, h, w = self._entries[index]
        if self._anns is None:
            raise DatasetError(
                f'COCO mask cache {self.cache_dir} lost the mask of image {fname} after it was '
                'built; delete the cache folder and start again to rebuild it.')
        return (self._mask_path(index), h, w, self._anns[img_id], self._class_of,
                f'{self.annotations.name} image {fname}')

    def prepare(self, workers: Optional[int] = None, progress: bool = True) -> int:
        """
        Build the missing mask PNGs (in parallel); resumable.

        :param workers: processes (default: CPU count); 0 builds in this process.
        :param progress: show a tqdm bar.
        :returns: the number of masks built.
        """
        todo = [i for i in range(len(self)) if not self._mask_path(i).is_file()]
        if todo:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.cache_dir / 'cache_info.json', {
                'annotations': str(self.annotations.resolve()), 'mode': self.mode,
                'classes': list(self.classes), 'version': CACHE_VERSION})
            log.info('COCO %s: computing %d of %d masks into %s', self.annotations.name,
                     len(todo), len(self), self.cache_dir)
            from tqdm import tqdm
            workers = (os.cpu_count() or 1) if workers is None else int(workers)
            tasks = (self._task(i) for i in todo)
            bar = tqdm(total=len(todo), desc=f'masks {self.annotations.stem}', unit='img',
                       disable=not progress, dynamic_ncols=True)
            if workers > 0 and len(todo) > 1:
                # never fork this (possibly multi-threaded: torch, loaders) process: a lock
                # held by another thread at fork time deadlocks the child
                methods = mp.get_all_start_methods()
                ctx = mp.get_context('forkserver' if 'forkserver' in methods else 'spawn')
                if 'forkserver' in methods:
                    ctx.set_forkserver_preload([__name__])
                with ctx.Pool(min(workers, len(todo))) as pool:
                    for msgs in pool.imap_unordered(_build_one, tasks, chunksize=16):
                        self._warn(msgs)
                        bar.update(1)
            else:
                for t in tasks:
                    self._warn(_build_one(t))
                    bar.update(1)
            bar.close()
        self._anns = None  # every mask is on disk: free the annotations
        return len(todo)

    @staticmethod
    def _warn(msgs: Sequence[str]) -> None:
        for w in msgs:
            log.warning('%s', w)

    def load(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
        """Return (RGB image, class-id mask); the mask comes from the cache."""
        img_id, fname, h, w = self._entries[index]
        image = read_rgb(self.images / fname)
        if image.shape[:2] != (h, w):
            raise DatasetError(
                f'image {self.images / fname} is {image.shape[1]}x{image.shape[0]} but '
                f'{self.annotations} says {w}x{h}; the file does not belong to this annotation '
                'file (wrong split folder?).')
        path = self._mask_path(index)
        mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if path.is_file() else None
        if mask is None or mask.shape != (h, w):
            self._warn(_build_one(self._task(index)))
            mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        return image, mask
