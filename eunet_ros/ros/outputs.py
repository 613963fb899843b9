# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
What segment_node publishes per camera, as data: topic names, group masks, Image fields.

ROS-free, so that ``python -m eunet_ros.bag segment`` writes exactly the topics,
message fields and group masks that the node publishes live, from the same code:

* ``<camera>/mask``: mono8 class ids, the input's header and size;
* ``<camera>/overlay``: bgr8 class colours over the image;
* ``<camera>/<group>/mask``: mono8, 255 where the pixel's class is in the group, else 0.
"""

from __future__ import annotations

from typing import Dict, Mapping, Sequence

import cv2
import numpy as np

__all__ = ['mask_topic', 'overlay_topic', 'group_topic', 'group_luts', 'group_mask',
           'image_fields']


def mask_topic(camera: str) -> str:
    """Return the class-id mask topic of ``camera`` (relative to the node's namespace)."""
    return f'{camera}/mask'


def overlay_topic(camera: str) -> str:
    """Return the overlay topic of ``camera``."""
    return f'{camera}/overlay'


def group_topic(camera: str, group: str) -> str:
    """Return the binary mask topic of class group ``group`` of ``camera``."""
    return f'{camera}/{group}/mask'


def group_luts(group_ids: Mapping[str, Sequence[int]]) -> Dict[str, np.ndarray]:
    """Return, per group, the 256-entry lookup table class id -> 255 (in the group) or 0."""
    luts = {}
    for g, ids in group_ids.items():
        lut = np.zeros(256, np.uint8)
        lut[list(ids)] = 255
        luts[g] = lut
    return luts


def group_mask(mask: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Return the binary (0/255) mask of a group: ``lut`` of :func:`group_luts` over ``mask``."""
    return cv2.LUT(mask, lut)


def image_fields(a: np.ndarray, encoding: str) -> dict:
    """
    Return the sensor_msgs/Image fields other than header and data of a uint8 array.

    ``height``, ``width``, ``encoding``, ``is_bigendian`` (0) and ``step`` (dense rows).
    """
    return {'height': int(a.shape[0]), 'width': int(a.shape[1]), 'encoding': encoding,
            'is_bigendian': 0,
            'step': int(a.shape[1]) * (int(a.shape[2]) if a.ndim == 3 else 1)}
