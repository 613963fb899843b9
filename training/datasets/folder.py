# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
A folder of images and class-id masks: a team's own labels, synthetic renders.

Layout::

    <root>/images/<stem>.png|jpg|...   the images (any format OpenCV reads)
    <root>/masks/<stem>.png            8-bit PNG (grey or paletted) of class ids;
                                       255 = ignore, 254 = unlabelled (see below)
    <root>/dataset.yaml                optional: {classes: [...], labelled: [...]}

``classes`` (names, index = id) defaults to the FS class table. ``labelled`` lists
the classes (names or ids) the masks label; pixels of value 254 then mean "one of
the other classes", trained with the marginal loss. Leave it out when every pixel
is labelled. ``dataset.json`` with the same keys works too.

Broken input: images without a mask (and masks without an image) are skipped
with a warning at start; a mask whose size differs from its image, or with ids
outside the class table, raises a DatasetError naming the file when loaded.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
from training.datasets.base import FS_CLASSES, IGNORE, SegmentationSource, UNLABELLED
from training.datasets.files import DatasetError, IMAGE_SUFFIXES, in_split, read_json, read_mask
from training.datasets.files import read_rgb
import yaml

log = logging.getLogger(__name__)

META_FILES = ('dataset.yaml', 'dataset.yml', 'dataset.json')


def _read_meta(root: Path) -> dict:
    for name in META_FILES:
        p = root / name
        if not p.exists():
            continue
        if p.suffix == '.json':
            meta = read_json(p, 'dataset description')
        else:
            try:
                meta = yaml.safe_load(p.read_text())
            except yaml.YAMLError as e:
                raise DatasetError(f'dataset description {p} is not valid YAML ({e}).') from None
        if meta is None:
            return {}
        if not isinstance(meta, dict):
            raise DatasetError(f'dataset description {p} must be a mapping with optional keys '
                               '"classes" and "labelled".')
        unknown = set(meta) - {'classes', 'labelled', 'description'}
        if unknown:
            raise DatasetError(f'dataset description {p}: unknown keys {sorted(unknown)}; '
                               'allowed: classes, labelled, description.')
        meta['_path'] = p
        return meta
    return {}


def resolve_labelled(labelled: Sequence[Any], classes: Sequence[str], where: str) -> List[int]:
    """Turn class names or ids into a sorted list of ids; unknown ones are an error."""
    out = set()
    for c in labelled:
        if isinstance(c, int) and not isinstance(c, bool) and 0 <= c < len(classes):
            out.add(c)
        elif isinstance(c, str) and c in classes:
            out.add(list(classes).index(c))
        else:
            raise DatasetError(f'{where}: labelled class {c!r} is not one of {list(classes)} '
                               f'(names) or 0..{len(classes) - 1} (ids).')
    return sorted(out)


class FolderSource(SegmentationSource):
    """
    ``<root>/images`` + ``<root>/masks`` with matching stems.

    :param root: the dataset folder.
    :param split: ``all`` (default), or ``train`` / ``val`` for a stable hash split.
    :param val_fraction: share of files in ``val`` when splitting.
    :param classes: class table when the folder has no ``dataset.yaml`` (default FS).
    :param labelled: labelled classes, overriding ``dataset.yaml``.
    :param limit: use only the first ``limit`` pairs (sorted by stem).

    """

    def __init__(self, root: os.PathLike, *, split: str = 'all', val_fraction: float = 0.2,
                 classes: Optional[Sequence[str]] = None,
                 labelled: Optional[Sequence[Any]] = None, limit: Optional[int] = None) -> None:
        self.root = Path(root)
        images, masks = self.root / 'images', self.root / 'masks'
        if not images.is_dir() or not masks.is_dir():
            raise DatasetError(
                f'dataset folder {self.root} needs images/ and masks/ subfolders (masks are '
                'PNGs of class ids with the same stem as their image). Synthetic data: '
                f'python -m training.synthetic --out {self.root} --count N.')
        meta = _read_meta(self.root)
        where = str(meta.get('_path', self.root))
        for key in ('classes', 'labelled'):
            if meta.get(key) is not None and not isinstance(meta[key], list):
                raise DatasetError(f'{where}: "{key}" must be a list, got '
                                   f'{type(meta[key]).__name__} {meta[key]!r}.')
        if meta.get('classes') is not None:
            names = [str(c) for c in meta['classes']]
            if classes is not None and list(classes) != names:
                raise DatasetError(f'{where}: classes {names} differ from the configured '
                                   f'{list(classes)}.')
            self.classes = tuple(names)
        else:
            self.classes = tuple(classes) if classes is not None else FS_CLASSES
        if len(self.classes) > UNLABELLED:
            raise DatasetError(f'{where}: at most {UNLABELLED} classes fit in 8-bit masks.')
        lab = labelled if labelled is not None else meta.get('labelled')
        self.labelled = None if lab is None else tuple(
            resolve_labelled(lab, self.classes, where))
        by_stem = {}
        for p in sorted(images.iterdir()):
            if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith('.'):
                if p.stem in by_stem:
                    raise DatasetError(f'dataset folder {images} has two images with stem '
                                       f'{p.stem!r} ({by_stem[p.stem].name}, {p.name}).')
                by_stem[p.stem] = p
        mask_stems = {p.stem: p for p in masks.glob('*.png') if not p.name.startswith('.')}
        pairs = [(by_stem[s], mask_stems[s]) for s in sorted(by_stem) if s in mask_stems]
        lone = sorted(set(by_stem) - set(mask_stems))
        orphans = sorted(set(mask_stems) - set(by_stem))
        if lone:
            log.warning('dataset %s: %d image(s) without a mask in masks/ (e.g. %s); skipped',
                        self.root, len(lone), by_stem[lone[0]].name)
        if orphans:
            log.warning('dataset %s: %d mask(s) without an image (e.g. %s); ignored',
                        self.root, len(orphans), orphans[0])
        pairs = [pr for pr in pairs if in_split(pr[0].name, split, val_fraction)]
        if limit is not None:
            pairs = pairs[:int(limit)]
        if not pairs:
            raise DatasetError(f'dataset folder {self.root}: no image/mask pairs (split '
                               f'{split!r}); masks/<stem>.png must match images/<stem>.*')
        self._pairs: List[Tuple[Path, Path]] = pairs

    def __len__(self) -> int:
        return len(self._pairs)

    def name(self, index: int) -> str:
        """Return the file stem."""
        return self._pairs[index][0].stem

    def load(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
        """Return (RGB image, class-id mask) of pair ``index``."""
        img_path, mask_path = self._pairs[index]
        image = read_rgb(img_path)
        mask = read_mask(mask_path)
        if mask.shape != image.shape[:2]:
            raise DatasetError(f'mask {mask_path} is {mask.shape[1]}x{mask.shape[0]} but its '
                               f'image {img_path.name} is {image.shape[1]}x{image.shape[0]}.')
        n = len(self.classes)
        bad = (mask >= n) & (mask != IGNORE) & (mask != UNLABELLED)
        if bad.any():
            raise DatasetError(f'mask {mask_path} holds class ids {np.unique(mask[bad]).tolist()} '
                               f'outside 0..{n - 1} (and 254/255); classes are {self.classes}.')
        return image, mask
