# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
The pinhole camera of the synthetic renderer and its projection helpers.

Camera frame: x right, y down, z forward; world frame: x, y on the ground, z up.
Image polygons are int32 fixed point with 4 fractional bits (``shift=4`` in the
OpenCV fill calls); polygons are clipped to the near plane before projection.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence

import numpy as np

_NEAR = 0.2          # near clipping plane (m)


class _Camera:
    """Pinhole camera; world frame x, y on the ground, z up; camera x right, y down, z fwd."""

    def __init__(self, pos: Sequence[float], yaw: float, pitch: float, roll: float,
                 hfov: float, width: int, height: int, dcx: float = 0.0,
                 dcy: float = 0.0) -> None:
        self.pos = np.asarray(pos, dtype=np.float64)
        self.width, self.height = width, height
        self.f = (width / 2) / math.tan(hfov / 2)
        self.cx = (width - 1) / 2 + dcx
        self.cy = (height - 1) / 2 + dcy
        cp, sp, cyw, syw = math.cos(pitch), math.sin(pitch), math.cos(yaw), math.sin(yaw)
        forward = np.array([cp * cyw, cp * syw, sp])
        right0 = np.array([syw, -cyw, 0.0])
        down0 = -np.cross(right0, forward)
        cr, sr = math.cos(roll), math.sin(roll)
        right = cr * right0 + sr * down0
        down = -sr * right0 + cr * down0
        self.R = np.stack([right, down, forward])   # rows: world -> camera
        self.yaw = yaw

    def to_cam(self, p: np.ndarray) -> np.ndarray:
        """Transform world points (..., 3) to camera coordinates."""
        return (p - self.pos) @ self.R.T

    def project(self, pc: np.ndarray) -> np.ndarray:
        """Project camera points (..., 3) with z > 0 to pixel coordinates (..., 2)."""
        z = pc[..., 2:3]
        return np.concatenate([self.f * pc[..., 0:1] / z + self.cx,
                               self.f * pc[..., 1:2] / z + self.cy], axis=-1)


def _fixed(uv: np.ndarray) -> np.ndarray:
    """Return pixel coordinates as int32 fixed point with 4 fractional bits."""
    return np.round(uv * 16.0).astype(np.int32)


def _clip_near(poly: np.ndarray) -> Optional[np.ndarray]:
    """Clip a convex polygon (k x 3, camera frame) to z >= near; None if nothing is left."""
    out = []
    k = len(poly)
    for i in range(k):
        a, b = poly[i], poly[(i + 1) % k]
        ain, bin_ = a[2] >= _NEAR, b[2] >= _NEAR
        if ain:
            out.append(a)
        if ain != bin_:
            t = (_NEAR - a[2]) / (b[2] - a[2])
            out.append(a + t * (b - a))
    return np.array(out) if len(out) >= 3 else None


def _ground_polys(cam: _Camera, polys: np.ndarray) -> List[np.ndarray]:
    """Project ground polygons (n x k x 2 world, convex) to fixed-point image polygons."""
    if len(polys) == 0:
        return []
    n, k = polys.shape[:2]
    p3 = np.concatenate([polys, np.zeros((n, k, 1))], axis=2)
    pc = cam.to_cam(p3)
    inside = pc[..., 2] >= _NEAR
    full = inside.all(axis=1)
    out = list(_fixed(cam.project(pc[full])))
    for j in np.nonzero(inside.any(axis=1) & ~full)[0]:
        clipped = _clip_near(pc[j])
        if clipped is not None:
            out.append(_fixed(cam.project(clipped)))
    return out
