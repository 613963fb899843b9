# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Cones as objects: from a class mask to a list of cones with class, confidence and position.

ROS-free. :func:`extract_cones` finds the cones of a mask; :func:`locate_cones` adds
their ground positions (:mod:`eunet_ros.core.ground`); :func:`cones_to_array` packs
them into the point layout :data:`CONE_DTYPE` that ``<camera>/cones``
(sensor_msgs/PointCloud2) carries, which a numpy structured array reads back.
:func:`cones` does all three for a frame, the same code the node runs::

    engine = SegmentationEngine('models/eunet_fs_synthetic.pt')
    seg = engine.infer([frame], color_order='bgr', confidence=True)[0]
    found = cones(seg, engine.class_names, intrinsics, pose)

How a mask becomes cones (one OpenCV pass over the frame, numpy over its cone pixels,
then a Python loop over the blobs big enough to be cones; ``python -m eunet_ros.benchmark
cones`` times it, the README has the figures):

1. the cone pixels (every class whose name ends in ``cone``) are found with one
   ``cv2.inRange`` when the cone ids are contiguous (the FS class table), else a LUT,
   and listed with ``cv2.findNonZero``;
2. inside their bounding box they are grouped into connected components
   (8-connected, one labelling with stats);
3. the class counts and probability sums of all blobs come from one ``bincount``
   each over the cone pixels. A blob takes its majority class; where a second cone
   class has at least :data:`MIXED_FRACTION` of the pixels (a blue cone touching a
   yellow one), each class forms its own blobs;
4. touching cones of one class side by side: a blob wider than
   :data:`SPLIT_WIDTH` times the width a cone of its height has is cut into
   ``round(width / cone width)`` parts, each cut at the emptiest column near the
   even split (the gap between two cone bodies); blobs under
   :data:`SPLIT_MIN_HEIGHT` rows are too coarse to tell and stay whole. Cones one
   behind the other (one blob, the near cone's base at the bottom) are not split;
5. blobs under ``min_pixels`` pixels or ``min_height`` rows are dropped;
6. per cone: pixel box, base point (the bottom edge's centre: u = the box centre,
   v = bottom row + 0.5, where the cone stands on the ground; with a network
   mask one network row higher, see :data:`BASE_LIFT_NOTE`), and confidence:
   the mean over the blob of its class's softmax probability (the engine's
   per-pixel probability of the arg-max class; pixels labelled another class
   count 0).

Ground position: the base point's ray meets the ground at the cone's near edge;
the cone's centre is :data:`BASE_RADIUS` farther along the ray (the half base
width of FS cones: 0.114 m small, 0.1425 m large).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
from eunet_ros.core.ground import CameraPose, ground_points, Intrinsics
import numpy as np

__all__ = ['Cone', 'CONE_DTYPE', 'CONE_FIELDS', 'cone_class_ids', 'extract_cones',
           'locate_cones', 'cones_to_array', 'cones', 'MIN_PIXELS', 'MIN_HEIGHT',
           'BASE_RADIUS', 'ASPECT', 'summary', 'BASE_LIFT_NOTE']

# One point of <camera>/cones: name, numpy type, byte offset (4-byte aligned, 32 bytes).
CONE_FIELDS: Tuple[Tuple[str, str, int], ...] = (
    ('x', '<f4', 0), ('y', '<f4', 4), ('z', '<f4', 8), ('class_id', 'u1', 12),
    ('confidence', '<f4', 16), ('u', '<f4', 20), ('v', '<f4', 24), ('range', '<f4', 28))
CONE_DTYPE = np.dtype({'names': [f[0] for f in CONE_FIELDS],
                       'formats': [f[1] for f in CONE_FIELDS],
                       'offsets': [f[2] for f in CONE_FIELDS], 'itemsize': 32})

# The network's blobs end lower than the cones: on the synthetic test set at 1280x720
# with the packaged checkpoint (network output 320x180, 4x upsampled) the bottom row
# of a found cone lies a median 4-5 px (about one network row) below the true base
# (the logits' bilinear upsampling and the network's own blur), which at 20 m from a
# 0.4 m high camera moves the cone ~4 m closer. extract_cones lifts the base point by
# one network row when it is given the network-resolution probability.
BASE_LIFT_NOTE = 'one network row when the probability map is smaller than the mask'
MIN_PIXELS = 12   # fewer pixels: noise, or a cone too far to place
MIN_HEIGHT = 4    # rows; the synthetic labels keep cones from 4 px (640x360) / 8 px (720p)
MIXED_FRACTION = 0.3
SPLIT_WIDTH = 1.6
SPLIT_MIN_HEIGHT = 10   # smaller blobs are too coarse to tell one cone from two
# width / height of a cone's silhouette (FS rules: 228 x 325 mm small, 285 x 505 mm large)
ASPECT = {'large_orange_cone': 285 / 505}
DEFAULT_ASPECT = 228 / 325
BASE_RADIUS = {'large_orange_cone': 0.1425}
DEFAULT_BASE_RADIUS = 0.114
# Spaghetti labelling (OpenCV 4.5.1 and later); the default algorithm before it
_CCL = getattr(cv2, 'CCL_SPAGHETTI', cv2.CCL_DEFAULT)


@dataclass
class Cone:
    """
    One cone in one frame.

    :ivar class_id: class id in the checkpoint's class table.
    :ivar confidence: mean probability of its class over the blob (0..1; NaN when the
        engine gave no probabilities).
    :ivar bbox: pixel box (u0, v0, u1, v1), half open (width = u1 - u0).
    :ivar pixels: pixels of the blob.
    :ivar base: base point (u, v) in pixels of the (distorted) image.
    :ivar xyz: centre of the base on the ground in the vehicle frame, or None.
    :ivar distance: ground distance from the point below the camera, or None (the
        ``range`` field of the point cloud).
    """

    class_id: int
    confidence: float
    bbox: Tuple[int, int, int, int]
    pixels: int
    base: Tuple[float, float]
    xyz: Optional[Tuple[float, float, float]] = None
    distance: Optional[float] = None


def cone_class_ids(class_names: Sequence[str]) -> List[int]:
    """Return the ids of the cone classes (names ending in ``cone``)."""
    return [i for i, n in enumerate(class_names) if str(n).endswith('cone')]


def _cone_pixels(mask: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """Return 255 where the mask's class is a cone class, else 0."""
    lo, hi = min(ids), max(ids)
    if list(ids) == list(range(lo, hi + 1)):
        return cv2.inRange(mask, lo, hi)
    lut = np.zeros(256, np.uint8)
    lut[list(ids)] = 255
    return cv2.LUT(mask, lut)


def _split_columns(blob: np.ndarray, parts: int) -> List[Tuple[int, int]]:
    """Cut a blob (bool h x w) into ``parts`` column ranges at its emptiest columns."""
    cols = blob.sum(0)
    w = len(cols)
    cuts = [0]
    for k in range(1, parts):
        target = k * w / parts
        half = max(1, int(0.3 * w / parts))
        lo, hi = max(cuts[-1] + 1, int(target) - half), min(w - 1, int(target) + half + 1)
        if lo >= hi:
            continue
        cuts.append(lo + int(np.argmin(cols[lo:hi])))
    cuts.append(w)
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def _wide(split: bool, w: int, h: int, name: str) -> bool:
    """Return whether a blob ``w`` x ``h`` px of class ``name`` is several cones side by side."""
    return (split and h >= SPLIT_MIN_HEIGHT
            and w > SPLIT_WIDTH * ASPECT.get(name, DEFAULT_ASPECT) * h)


def _blob_cones(sel: np.ndarray, cls: int, x0: int, y0: int, prob: Any, name: str,
                min_pixels: int, min_height: int, split: bool, weight: float = 1.0,
                area: Optional[int] = None) -> List[Cone]:
    """
    Return the cone(s) of one blob ``sel`` (bool, cropped to its box at ``x0, y0``).

    :param area: the blob's pixel count when known (then ``sel`` is not counted again).
    """
    h, w = sel.shape
    ranges = [(0, w)]
    if _wide(split, w, h, name):
        ranges = _split_columns(sel, int(round(w / (ASPECT.get(name, DEFAULT_ASPECT) * h))))
    out = []
    for a, b in ranges:
        part = sel if (a, b) == (0, w) else sel[:, a:b]
        if len(ranges) == 1 and area is not None:
            n, v0, v1, u0, u1 = area, 0, h, 0, w
        else:
            n = int(np.count_nonzero(part))
            if n < min_pixels:
                continue
            prow = np.flatnonzero(part.any(1))
            pcol = np.flatnonzero(part.any(0))
            v0, v1 = int(prow[0]), int(prow[-1]) + 1
            u0, u1 = a + int(pcol[0]), a + int(pcol[-1]) + 1
            if v1 - v0 < min_height:
                continue
        if prob is None:
            conf = float('nan')
        else:
            ys, xs = np.nonzero(part)
            conf = float(prob[ys + y0, xs + x0 + a].mean()) * weight
        out.append(Cone(class_id=int(cls), confidence=conf,
                        bbox=(x0 + u0, y0 + v0, x0 + u1, y0 + v1), pixels=n,
                        base=(x0 + (u0 + u1 - 1) / 2.0, y0 + v1 - 0.5)))
    return out


def _sampler(probability: Optional[np.ndarray], shape: Tuple[int, int]) -> Optional[Any]:
    """Return an object indexable like a full-resolution probability map, or None."""
    if probability is None:
        return None
    p = np.asarray(probability)
    if p.shape == shape:
        return p
    return _LowRes(p, shape)


class _LowRes:
    """Nearest-neighbour view of a low-resolution map at full resolution (index only)."""

    def __init__(self, p: np.ndarray, shape: Tuple[int, int]) -> None:
        self.p = p
        self.sy = p.shape[0] / shape[0]
        self.sx = p.shape[1] / shape[1]

    def __getitem__(self, idx: Tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        ys, xs = idx
        yi = np.minimum(((ys + 0.5) * self.sy).astype(np.intp), self.p.shape[0] - 1)
        xi = np.minimum(((xs + 0.5) * self.sx).astype(np.intp), self.p.shape[1] - 1)
        return self.p[yi, xi]


def extract_cones(mask: np.ndarray, class_names: Sequence[str], *,
                  probability: Optional[np.ndarray] = None, min_pixels: int = MIN_PIXELS,
                  min_height: int = MIN_HEIGHT, split: bool = True,
                  base_lift: Optional[float] = None) -> List[Cone]:
    """
    Return the cones of a class-id mask (see the module doc for how), top-left first.

    :param mask: uint8 H x W class ids (255 = ignore, never a cone).
    :param class_names: the checkpoint's class names (cone classes end in ``cone``).
    :param probability: per-pixel probability of the mask's class, float H x W or a
        lower resolution covering the same image (the engine's
        ``Segmentation.probability``); None: confidences are NaN.
    :param min_pixels: smaller blobs are dropped.
    :param min_height: blobs with fewer rows are dropped.
    :param split: cut blobs of touching cones side by side (step 4).
    :param base_lift: rows the base point sits above the blob's bottom edge. None:
        one network row (mask height / probability height) when ``probability`` has
        a lower resolution than the mask, else 0 (see :data:`BASE_LIFT_NOTE`).
    """
    if mask.dtype != np.uint8 or mask.ndim != 2:
        raise ValueError(f'mask: expected uint8 H x W, got {mask.dtype} {mask.shape}')
    ids = cone_class_ids(class_names)
    if not ids or mask.size == 0:
        return []
    h, w = mask.shape
    binary = _cone_pixels(mask, ids)
    points = cv2.findNonZero(binary)      # (u, v) of each, row by row; None: no cone pixel
    if points is None:
        return []
    x0, y0, rw, rh = cv2.boundingRect(points)      # the region holding every cone pixel
    ltype = cv2.CV_16U if len(points) < 65535 else cv2.CV_32S   # labels <= pixels
    n, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        binary[y0:y0 + rh, x0:x0 + rw], 8, ltype, _CCL)
    keep = ((stats[:, cv2.CC_STAT_AREA] >= min_pixels)
            & (stats[:, cv2.CC_STAT_HEIGHT] >= min_height))
    keep[0] = False
    if not keep.any():
        return []
    points = points.reshape(-1, 2)      # N x 1 x 2, or N x 2 in some OpenCV builds
    us, vs = points[:, 0], points[:, 1]
    lab = labels[vs - y0, us - x0].astype(np.intp)
    nc = len(ids)
    index = np.full(256, nc, np.intp)
    index[list(ids)] = np.arange(nc)
    cidx = index[mask[vs, us]]                      # 0..nc-1 cone class, nc otherwise
    table = np.bincount(lab * (nc + 1) + cidx,
                        minlength=n * (nc + 1)).reshape(n, nc + 1)[:, :nc]
    major = table.argmax(1)
    second = np.sort(table, 1)[:, -2] if nc > 1 else np.zeros(n, np.intp)
    prob = _sampler(probability, (h, w))
    conf = None
    if prob is not None:
        own = cidx == major[lab]
        conf = np.bincount(lab, weights=prob[vs, us] * own, minlength=n)
    roi = mask[y0:y0 + rh, x0:x0 + rw]
    out: List[Cone] = []
    for k in np.flatnonzero(keep).tolist():
        bx, by, bw, bh, area = stats[k].tolist()
        c = ids[int(major[k])]
        if second[k] >= MIXED_FRACTION * area:
            out.extend(_mixed_blob(labels[by:by + bh, bx:bx + bw] == k,
                                   roi[by:by + bh, bx:bx + bw], x0 + bx, y0 + by, ids,
                                   table[k], class_names, prob, min_pixels, min_height,
                                   split))
            continue
        if _wide(split, bw, bh, class_names[c]):
            out.extend(_blob_cones(labels[by:by + bh, bx:bx + bw] == k, c, x0 + bx, y0 + by,
                                   prob, class_names[c], min_pixels, min_height, split,
                                   weight=float(table[k].max()) / area))
            continue
        u0, v0 = x0 + bx, y0 + by
        out.append(Cone(class_id=c,
                        confidence=float('nan') if conf is None else float(conf[k]) / area,
                        bbox=(u0, v0, u0 + bw, v0 + bh), pixels=int(area),
                        base=(u0 + (bw - 1) / 2.0, v0 + bh - 0.5)))
    if base_lift is None:
        base_lift = 0.0
        if probability is not None and np.shape(probability)[0] < h:
            base_lift = h / np.shape(probability)[0]
    out.sort(key=lambda c: (c.bbox[1], c.bbox[0]))
    if base_lift:
        for c in out:
            c.base = (c.base[0], c.base[1] - base_lift)
    return out


def _mixed_blob(sel: np.ndarray, cls_roi: np.ndarray, x0: int, y0: int, ids: Sequence[int],
                counts: np.ndarray, class_names: Sequence[str], prob: Any, min_pixels: int,
                min_height: int, split: bool) -> List[Cone]:
    """Return the cones of a blob of two or more cone classes: each class on its own."""
    out: List[Cone] = []
    for c, n in zip(ids, counts.tolist()):
        if n < min_pixels:
            continue
        m = (sel & (cls_roi == c)).astype(np.uint8)
        nn, lab2, st2, _ = cv2.connectedComponentsWithStats(m, connectivity=8, ltype=cv2.CV_32S)
        for j in range(1, nn):
            sx, sy, sw, sh, sa = (int(v) for v in st2[j])
            if sa < min_pixels or sh < min_height:
                continue
            out.extend(_blob_cones(lab2[sy:sy + sh, sx:sx + sw] == j, c, x0 + sx, y0 + sy,
                                   prob, class_names[c], min_pixels, min_height, split,
                                   area=sa))
    return out


def locate_cones(found: List[Cone], class_names: Sequence[str],
                 intrinsics: Optional[Intrinsics], pose: Optional[CameraPose], *,
                 max_range: float = 60.0) -> List[Cone]:
    """
    Set ``xyz`` and ``distance`` of each cone whose base point meets the ground (in place).

    Cones whose base row is the image's last row are cut off by the image border
    (their base is not visible) and get no position; neither do cones whose base
    ray is at or above the horizon or meets the ground beyond ``max_range``.

    :returns: ``found``.
    """
    if intrinsics is None or pose is None or not found:
        return found
    uv = np.array([c.base for c in found], dtype=np.float64)
    near = ground_points(uv, intrinsics, pose, max_range=max_range)
    origin = np.array([pose.x, pose.y])
    for c, p in zip(found, near):
        if not np.all(np.isfinite(p)):
            continue
        if intrinsics.height and c.bbox[3] >= intrinsics.height:
            continue
        d = p[:2] - origin
        dist = float(np.hypot(d[0], d[1]))
        r = BASE_RADIUS.get(class_names[c.class_id], DEFAULT_BASE_RADIUS)
        centre = p[:2] + d / max(dist, 1e-9) * r
        c.xyz = (float(centre[0]), float(centre[1]), 0.0)
        c.distance = dist + r
    return found


def cones_to_array(found: Sequence[Cone]) -> np.ndarray:
    """Pack cones into a :data:`CONE_DTYPE` array (NaN x, y, z, range without a position)."""
    a = np.zeros(len(found), CONE_DTYPE)
    if not len(found):
        return a
    nan = float('nan')
    a['x'] = [c.xyz[0] if c.xyz else nan for c in found]
    a['y'] = [c.xyz[1] if c.xyz else nan for c in found]
    a['z'] = [c.xyz[2] if c.xyz else nan for c in found]
    a['class_id'] = [c.class_id for c in found]
    a['confidence'] = [c.confidence for c in found]
    a['u'] = [c.base[0] for c in found]
    a['v'] = [c.base[1] for c in found]
    a['range'] = [c.distance if c.distance is not None else nan for c in found]
    return a


def cones(segmentation: Any, class_names: Sequence[str],
          intrinsics: Optional[Intrinsics] = None, pose: Optional[CameraPose] = None, *,
          max_range: float = 60.0, **kwargs: Any) -> List[Cone]:
    """
    Return the cones of one engine result (``Segmentation``), located where possible.

    :param segmentation: has ``mask`` and, when the engine was asked for it,
        ``probability`` (``infer(..., confidence=True)``).
    :param kwargs: passed to :func:`extract_cones` (``min_pixels``, ``min_height``, ``split``).
    """
    found = extract_cones(segmentation.mask, class_names,
                          probability=getattr(segmentation, 'probability', None), **kwargs)
    return locate_cones(found, class_names, intrinsics, pose, max_range=max_range)


def summary(found: Sequence[Cone], class_names: Sequence[str]) -> Dict[str, int]:
    """Return the number of cones per class name (for logs and diagnostics)."""
    out: Dict[str, int] = {}
    for c in found:
        out[class_names[c.class_id]] = out.get(class_names[c.class_id], 0) + 1
    return out
