# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""Segmentation data sources (COCO, FSOCO, folders, synthetic) behind one interface."""

from training.datasets.base import FS_CLASSES, IGNORE, SegmentationSource, UNLABELLED

__all__ = ['FS_CLASSES', 'IGNORE', 'UNLABELLED', 'SegmentationSource']
