# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Segmentation data sources (COCO, FSOCO, folders, synthetic) behind one interface.

:func:`build_source` turns a spec dict from a config file into a source::

    {type: coco, root: data/coco, split: train2017, mode: binary}
    {type: fsoco, root: data/fsoco, split: train}
    {type: folder, root: data/my_team, split: all}
    {type: synthetic, count: 1000, seed: 0, width: 640, height: 384, min_cone_px: 8}

Relative paths are relative to the current directory; ``~`` and ``$VARS`` expand.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Mapping

from training.datasets.base import FS_CLASSES, IGNORE, SegmentationSource, UNLABELLED
from training.datasets.files import DatasetError

__all__ = ['FS_CLASSES', 'IGNORE', 'UNLABELLED', 'SegmentationSource', 'DatasetError',
           'build_source', 'SOURCE_KEYS']

SOURCE_KEYS: Dict[str, tuple] = {
    'coco': ('root', 'split', 'annotations', 'images', 'mode', 'cache', 'limit', 'skip_empty'),
    'fsoco': ('root', 'split', 'val_fraction', 'border', 'limit'),
    'folder': ('root', 'split', 'val_fraction', 'classes', 'labelled', 'limit'),
    'synthetic': ('count', 'seed', 'width', 'height', 'min_cone_px'),
}


def _path(v: Any) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(str(v))))


def build_source(spec: Mapping[str, Any]) -> SegmentationSource:
    """
    Build a data source from a spec dict (see the module docstring).

    :raises DatasetError: unknown type or keys, missing files; the message says which.
    """
    if not isinstance(spec, Mapping) or 'type' not in spec:
        raise DatasetError(f'a dataset spec needs a "type" ({", ".join(SOURCE_KEYS)}); got '
                           f'{spec!r}')
    kind = str(spec['type'])
    if kind not in SOURCE_KEYS:
        raise DatasetError(f'unknown dataset type {kind!r}; known: {", ".join(SOURCE_KEYS)}')
    args = {k: v for k, v in spec.items() if k != 'type'}
    unknown = sorted(set(args) - set(SOURCE_KEYS[kind]))
    if unknown:
        raise DatasetError(f'dataset spec of type {kind}: unknown keys {unknown}; allowed: '
                           f'{", ".join(SOURCE_KEYS[kind])}')
    if kind == 'coco':
        from training.datasets.coco import CocoSource
        root = _path(args['root']) if 'root' in args else None
        split = str(args.get('split', 'train2017'))
        if 'annotations' in args:
            ann = _path(args['annotations'])
        elif root is not None:
            ann = root / 'annotations' / f'instances_{split}.json'
        else:
            raise DatasetError('coco dataset spec needs "root" (with annotations/ and image '
                               'folders) or "annotations" and "images"')
        if 'images' in args:
            images = _path(args['images'])
        elif root is not None:
            images = root / split
        else:
            raise DatasetError('coco dataset spec needs "images" when "root" is not given')
        return CocoSource(ann, images, mode=str(args.get('mode', 'binary')),
                          cache_dir=_path(args['cache']) if args.get('cache') else None,
                          limit=args.get('limit'), skip_empty=bool(args.get('skip_empty')))
    if 'root' not in args and kind in ('fsoco', 'folder'):
        raise DatasetError(f'{kind} dataset spec needs "root"')
    if kind == 'fsoco':
        from training.datasets.fsoco import DEFAULT_BORDER, FsocoSource
        return FsocoSource(_path(args['root']), split=str(args.get('split', 'train')),
                           val_fraction=float(args.get('val_fraction', 0.2)),
                           border=int(args.get('border', DEFAULT_BORDER)),
                           limit=args.get('limit'))
    if kind == 'folder':
        from training.datasets.folder import FolderSource
        return FolderSource(_path(args['root']), split=str(args.get('split', 'all')),
                            val_fraction=float(args.get('val_fraction', 0.2)),
                            classes=args.get('classes'), labelled=args.get('labelled'),
                            limit=args.get('limit'))
    try:
        from training.synthetic import SyntheticSource
    except ImportError as e:
        raise DatasetError(f'dataset type synthetic needs training.synthetic ({e}).') from None
    missing = [k for k in ('count',) if k not in args]
    if missing:
        raise DatasetError(f'synthetic dataset spec needs {missing}')
    opts = {} if 'min_cone_px' not in args else {'min_cone_px': float(args['min_cone_px'])}
    return SyntheticSource(int(args['count']), int(args.get('seed', 0)),
                           int(args.get('width', 640)), int(args.get('height', 384)), **opts)
