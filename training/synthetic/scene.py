# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
The world of a synthetic scene: a track of an FS layout, its cones, objects and look.

:class:`_Scene` builds all of it from one random generator: the track of a
layout (:func:`_make_track`: the closed trackdrive loop of
:func:`_make_centerline`, an open autocross, the acceleration straight or the
skidpad; :class:`_Track`), the cones of the layout (FS colours, a few knocked
over and a few unknown ones), the ground materials, boxes beside the track,
the tree line at the horizon, the light, the colours and the camera style. It
holds world geometry only: :mod:`training.synthetic.camera` looks at it and
:mod:`training.synthetic.render` draws it. The class ids of the mask and the
ground materials are defined here too.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np
from training.datasets.base import FS_CLASSES
from training.synthetic.distractors import (banner, barrier_row, block, building, bush, car,
                                            feather_flag, gazebo, hedge, HIVIS_ORANGE,
                                            HIVIS_YELLOW, markings, mesh_fence, person,
                                            trailer, tree, tyre_marks, tyre_stack)
from training.synthetic.textures import _TEX

BACKGROUND, TRACK, BLUE, YELLOW, ORANGE, LARGE_ORANGE, UNKNOWN = range(7)
assert FS_CLASSES[TRACK] == 'track' and FS_CLASSES[UNKNOWN] == 'unknown_cone'

# Ground materials (index into per-scene colour tables).
_GRASS, _APRON, _TRACK_MAT, _SKY, _TREES = range(5)

# Cone geometry from the competition rules (metres): square base plate, round body.
_CONE_GEOMETRY = {
    'small': {'base': 0.228, 'plate': 0.025, 'r0': 0.100, 'r1': 0.022, 'height': 0.325,
              'stripes': ((0.40, 0.62),)},
    'large': {'base': 0.285, 'plate': 0.030, 'r0': 0.125, 'r1': 0.026, 'height': 0.505,
              'stripes': ((0.33, 0.46), (0.60, 0.73))},
}
_RING = 14  # points per ring of a cone

_WHITE = (0.92, 0.92, 0.90)
_BLACK = (0.07, 0.07, 0.07)
# (body albedo, stripe albedo) of the FS cone colours, sRGB in [0, 1].
_CONE_COLOURS = {
    BLUE: ((0.07, 0.22, 0.68), _WHITE),
    YELLOW: ((0.96, 0.80, 0.06), _BLACK),
    ORANGE: ((0.98, 0.42, 0.05), _WHITE),
    LARGE_ORANGE: ((0.98, 0.38, 0.04), _WHITE),
}
# Body colours of cones that are no FS cone (labelled unknown_cone).
_UNKNOWN_COLOURS = (
    (0.85, 0.85, 0.82), (0.12, 0.55, 0.18), (0.75, 0.08, 0.10), (0.45, 0.15, 0.60),
    (0.90, 0.45, 0.65), (0.45, 0.45, 0.45), (0.12, 0.12, 0.12), (0.45, 0.28, 0.14),
    (0.20, 0.70, 0.70))


class _Track:
    """
    A track sampled every ``ds`` metres along its centre line: a closed loop or open.

    :ivar center: N x 2 centre line; the car drives in index order.
    :ivar tangent: N x 2 unit tangents.
    :ivar normal: N x 2 unit normals pointing to the LEFT of the driving direction.
    :ivar width: N track widths (m).
    :ivar curvature: N signed curvatures (1/m, positive = left turn).
    :ivar closed: whether the last sample connects to the first (trackdrive loop).
    :ivar layout: ``trackdrive``, ``autocross``, ``acceleration`` or ``skidpad``.
    :ivar marks: arc lengths of the layout's lines (``start``, ``finish``), if any.
    :ivar frame: (origin, angle) of the layout's own frame in the world (open layouts).
    """

    def __init__(self, center: np.ndarray, width: np.ndarray, closed: bool = True,
                 layout: str = 'trackdrive', marks: Optional[Dict[str, float]] = None,
                 frame: Tuple[np.ndarray, float] = (np.zeros(2), 0.0)) -> None:
        self.center = center
        self.n = len(center)
        self.closed, self.layout = closed, layout
        self.marks = dict(marks or {})
        self.frame = frame
        if closed:
            d = np.roll(center, -1, axis=0) - np.roll(center, 1, axis=0)
        else:
            d = np.gradient(center, axis=0)
        self.tangent = d / np.linalg.norm(d, axis=1, keepdims=True)
        self.normal = np.stack([-self.tangent[:, 1], self.tangent[:, 0]], axis=1)
        seg = np.linalg.norm(np.roll(center, -1, axis=0) - center, axis=1)
        if not closed:
            seg = seg[:-1]
        self.length = float(seg.sum())
        self.ds = self.length / len(seg)
        t2 = np.roll(self.tangent, -1, axis=0)
        if not closed:
            t2[-1] = self.tangent[-1]
        cross = self.tangent[:, 0] * t2[:, 1] - self.tangent[:, 1] * t2[:, 0]
        self.curvature = np.arcsin(np.clip(cross, -1, 1)) / self.ds
        self.width = width
        self.left = center + self.normal * (width / 2)[:, None]
        self.right = center - self.normal * (width / 2)[:, None]

    def _pos(self, s: float) -> float:
        x = s / self.ds
        return x % self.n if self.closed else min(max(x, 0.0), self.n - 1.0)

    def index(self, s: float) -> int:
        """Return the sample index nearest to arc length ``s`` (wraps or clamps)."""
        return int(round(self._pos(s))) % self.n

    def interp(self, s: float, arr: np.ndarray) -> np.ndarray:
        """Linearly interpolate a per-sample array at arc length ``s`` (wraps or clamps)."""
        x = self._pos(s)
        i = int(math.floor(x))
        f = x - i
        j = (i + 1) % self.n if self.closed else min(i + 1, self.n - 1)
        return arr[i] * (1 - f) + arr[j] * f

    def to_world(self, p: np.ndarray) -> np.ndarray:
        """Transform points (..., 2) of the layout's own frame to the world."""
        return _to_world(self.frame, p)


def _to_world(frame: Tuple[np.ndarray, float], p: np.ndarray) -> np.ndarray:
    """Transform points (..., 2) of a frame (origin, angle) to the world."""
    origin, angle = frame
    c, s = math.cos(angle), math.sin(angle)
    p = np.asarray(p, dtype=np.float64)
    return np.stack([origin[0] + c * p[..., 0] - s * p[..., 1],
                     origin[1] + s * p[..., 0] + c * p[..., 1]], axis=-1)


def _make_centerline(rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Return a smooth simple closed centre line (counter-clockwise) and its widths."""
    base_width = rng.uniform(3.0, 5.0)
    for attempt in range(30):
        radius = rng.uniform(22.0, 55.0)
        theta = np.linspace(0, 2 * np.pi, 3000, endpoint=False)
        r = np.ones_like(theta)
        shrink = 0.8 ** attempt
        for k in range(2, 7):
            r += shrink * rng.uniform(0, 0.28 / k ** 0.9) * np.cos(k * theta + rng.uniform(0, 6.3))
        pts = np.stack([np.cos(theta) * r, np.sin(theta) * r], axis=1) * radius
        stretch = rng.uniform(1.0, 1.8)
        shear = rng.uniform(-0.25, 0.25)
        a = np.array([[stretch, shear], [0.0, 1.0 / math.sqrt(stretch)]])
        rot = rng.uniform(0, 2 * np.pi)
        c, s = math.cos(rot), math.sin(rot)
        pts = pts @ a.T @ np.array([[c, s], [-s, c]])
        seg = np.linalg.norm(np.roll(pts, -1, axis=0) - pts, axis=1)
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        length = cum[-1]
        n = max(int(round(length / 0.5)), 64)
        su = np.linspace(0, length, n, endpoint=False)
        closed = np.vstack([pts, pts[:1]])
        center = np.stack([np.interp(su, cum, closed[:, 0]), np.interp(su, cum, closed[:, 1])],
                          axis=1)
        phase = rng.uniform(0, 2 * np.pi)
        waves = rng.integers(2, 6)
        width = np.clip(base_width + rng.uniform(0, 0.6) * np.sin(
            2 * np.pi * waves * su / length + phase), 3.0, 5.0)
        track = _Track(center, width)
        rmin = 1.0 / max(np.abs(track.curvature).max(), 1e-6)
        if rmin < width.max() / 2 + 3.5:
            continue
        # Parts of the loop far apart along the track must be far apart in space too.
        step = max(1, int(round(2.0 / track.ds)))
        p = center[::step]
        d = np.linalg.norm(p[:, None] - p[None], axis=2)
        idx = np.arange(len(p))
        sep = np.abs(idx[:, None] - idx[None])
        sep = np.minimum(sep, len(p) - sep) * step * track.ds
        if np.any(d[sep > 4 * width.max() + 10] < width.max() + 8.0):
            continue
        break
    return center, width


# Layouts of a sample and how often they are drawn (the drive stays on the loop).
LAYOUTS = ('trackdrive', 'autocross', 'acceleration', 'skidpad')
LAYOUT_P = (0.45, 0.30, 0.12, 0.13)

# Skidpad (FS rules): two circles of 15.25 m inner and 21.25 m outer diameter whose
# centres are 18.25 m apart; the car crosses the timekeeping line between them.
_SKID_R, _SKID_IN, _SKID_OUT = 9.125, 7.625, 10.625
_ACCEL_LENGTH = 75.0


def _make_track(rng: np.random.Generator, layout: str) -> _Track:
    """Return the track of a layout (see :data:`LAYOUTS`)."""
    if layout == 'trackdrive':
        center, width = _make_centerline(rng)
        if rng.random() < 0.5:   # drive clockwise half of the time
            center = center[::-1].copy()
            width = width[::-1].copy()
        return _Track(center, width)
    frame = (rng.uniform(-60.0, 60.0, 2), rng.uniform(0, 2 * np.pi))
    if layout == 'autocross':
        local, width = _make_autocross(rng)
        length = 0.5 * (len(local) - 1)
        marks = {'start': rng.uniform(8.0, 14.0), 'finish': length - rng.uniform(10.0, 16.0)}
    elif layout == 'acceleration':
        back, brake = 25.0, rng.uniform(80.0, 110.0)
        x = np.arange(0.0, back + _ACCEL_LENGTH + brake + 1e-9, 0.5) - back
        local = np.stack([x, np.zeros_like(x)], axis=1)
        width = np.full(len(x), rng.uniform(3.0, 5.0))
        marks = {'start': back, 'finish': back + _ACCEL_LENGTH, 'end': float(x[-1] + back)}
    elif layout == 'skidpad':
        local = _skidpad_centerline()
        width = np.full(len(local), _SKID_OUT - _SKID_IN)
        marks = {'start': 15.0}
    else:
        raise ValueError(f'unknown layout {layout!r}; known: {", ".join(LAYOUTS)}')
    return _Track(_to_world(frame, local), width, closed=False, layout=layout, marks=marks,
                  frame=frame)


def _make_autocross(rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """
    Return an open autocross centre line (0.5 m steps, heading +x at the start) and widths.

    A chain of straights, corners, hairpins (outer diameter at least 9 m),
    slaloms and chicanes, steered back when it turns too far from its start
    direction; parts far apart along the track stay apart in space.
    """
    ds = 0.5
    width0 = rng.uniform(3.0, 4.5)
    for attempt in range(40):
        simple = attempt >= 30   # last tries: no hairpins
        segs = [(rng.uniform(15.0, 30.0), 0.0)]
        heading, total, target = 0.0, segs[0][0], rng.uniform(220.0, 400.0)
        while total < target:
            sign = -1.0 if heading > 1.2 else 1.0 if heading < -1.2 else (
                1.0 if rng.random() < 0.5 else -1.0)
            u = rng.random()
            if u < 0.25:
                new = [(rng.uniform(10.0, 55.0), 0.0)]
            elif u < 0.55:
                r, a = rng.uniform(8.0, 30.0), math.radians(rng.uniform(30.0, 110.0))
                new = [(r * a, sign / r)]
            elif u < 0.72 and not simple:   # hairpin
                r = rng.uniform(width0 / 2 + 2.6, width0 / 2 + 4.5)
                a = math.radians(rng.uniform(150.0, 190.0))
                new = [(rng.uniform(5.0, 15.0), 0.0), (r * a, sign / r),
                       (rng.uniform(5.0, 15.0), 0.0)]
            elif u < 0.9:   # slalom: alternating arcs, half arcs at both ends
                r, a = rng.uniform(9.0, 16.0), math.radians(rng.uniform(25.0, 45.0))
                k = int(rng.integers(3, 7))
                new = [(r * a * (0.5 if j in (0, k - 1) else 1.0), sign * (-1) ** j / r)
                       for j in range(k)]
            else:   # chicane
                r, a = rng.uniform(8.0, 14.0), math.radians(rng.uniform(30.0, 50.0))
                new = [(r * a, sign / r), (rng.uniform(0.0, 6.0), 0.0), (r * a, -sign / r)]
            for length, k in new:
                heading += length * k
                total += length
            segs += new
        kappa = np.concatenate([np.full(max(int(round(length / ds)), 1), k)
                                for length, k in segs])
        kappa = np.convolve(np.pad(kappa, 2, mode='edge'), np.ones(5) / 5, mode='valid')
        theta = np.concatenate([[0.0], np.cumsum(kappa[:-1] * ds)])
        center = np.concatenate([[[0.0, 0.0]], np.cumsum(
            np.stack([np.cos(theta[:-1]), np.sin(theta[:-1])], axis=1) * ds, axis=0)])
        n = len(center)
        width = np.clip(width0 + rng.uniform(0, 0.4) * np.sin(
            np.arange(n) * ds / rng.uniform(20.0, 60.0) + rng.uniform(0, 6.3)), 3.0, 5.0)
        p = center[::4]
        d = np.linalg.norm(p[:, None] - p[None], axis=2)
        idx = np.arange(len(p))
        sep = np.abs(idx[:, None] - idx[None]) * 4 * ds
        if not np.any(d[sep > 30.0] < width.max() + 4.0):
            break
    return center, width


def _skidpad_centerline() -> np.ndarray:
    """Return the skidpad path: entry, right circle clockwise, left circle, exit (+y)."""
    ds, R = 0.5, _SKID_R
    entry = np.stack([np.zeros(30), np.arange(-15.0, 0.0, ds)], axis=1)
    n = int(round(2 * np.pi * R / ds))
    t = np.arange(n) / n * 2 * np.pi
    right = np.stack([R - R * np.cos(t), R * np.sin(t)], axis=1)
    left = np.stack([R * np.cos(t) - R, R * np.sin(t)], axis=1)
    exit_ = np.stack([np.zeros(41), np.arange(41) * ds], axis=1)
    return np.concatenate([entry, right, left, exit_])


_TEMPLATES: Optional[Dict[str, np.ndarray]] = None


def _cone_templates() -> Any:
    """
    Return per-template cone arrays, indexed by 2 * large + striped.

    A structured numpy array with fields zs (6 ring heights), radii, pattern (5
    segments: 0 body, 1 stripe, -1 unused), frac (stripe share of the height),
    plate_half, plate_h, height, taper.
    """
    global _TEMPLATES
    if _TEMPLATES is None:
        dt = np.dtype([('zs', float, 6), ('radii', float, 6), ('pattern', int, 5),
                       ('frac', float), ('plate_half', float), ('plate_h', float),
                       ('height', float), ('taper', float)])
        out = np.zeros(4, dt)
        for k, (kind, striped) in enumerate(((
                'small', False), ('small', True), ('large', False), ('large', True))):
            geo = _CONE_GEOMETRY[kind]
            h0, h1 = geo['plate'], geo['height']
            zs, pattern, frac = [h0], [], 0.0
            for lo, hi in (geo['stripes'] if striped else ()):
                zs += [h0 + lo * (h1 - h0), h0 + hi * (h1 - h0)]
                pattern += [0, 1]
                frac += hi - lo
            zs.append(h1)
            pattern.append(0)
            zs += [h1] * (6 - len(zs))
            pattern += [-1] * (5 - len(pattern))
            z = np.array(zs)
            out[k] = (z, geo['r0'] + (geo['r1'] - geo['r0']) * (z - h0) / (h1 - h0), pattern,
                      frac, geo['base'] / 2, h0, h1, math.atan2(geo['r0'] - geo['r1'], h1 - h0))
        _TEMPLATES = out
    return _TEMPLATES


def _cone(x: float, y: float, cls: int, yaw: float, large: bool = False) -> Tuple:
    """Return a standing FS cone (see :meth:`_Scene._make_cones` for the fields)."""
    return (float(x), float(y), cls, 'large' if large else 'small', None, None, float(yaw), None)


def _knock_over(c: Tuple, rng: np.random.Generator) -> Tuple:
    """Return cone ``c`` lying on its side, a little away from where it stood."""
    direction = rng.uniform(0, 2 * np.pi)
    shift = rng.uniform(0.05, 0.4)
    return (c[0] + shift * math.cos(direction), c[1] + shift * math.sin(direction)) + tuple(
        c[2:7]) + ((direction, rng.uniform(-0.08, 0.08)),)


def _edge_cones(rng: np.random.Generator, tr: _Track) -> List[Tuple]:
    """Line a trackdrive loop or an autocross: blue left, yellow right, orange at the start."""
    cones: List[Tuple] = []
    start = tr.marks.get('start', 0.0)
    orange_zone = (-rng.uniform(4, 18), rng.uniform(4, 16)) if rng.random() < 0.8 \
        else (0.0, 0.0)
    max_gap = rng.uniform(3.5, 5.0)
    gaps = np.clip(0.3 / np.maximum(np.abs(tr.curvature), 1e-6), 2.0, max_gap).tolist()
    for edge, colour in ((tr.left, BLUE), (tr.right, YELLOW)):
        jitter = rng.uniform(0.88, 1.12, int(tr.length / 1.7) + 2).tolist()
        if tr.closed:
            s = rng.uniform(0, max_gap)
            end = s + tr.length - 1.5
        else:
            s = rng.uniform(0.5, max_gap)
            end = tr.length - 0.5
        arc = []
        while s < end:   # closer in tight corners, up to max_gap on straights
            arc.append(s)
            s += gaps[tr.index(s)] * jitter[len(arc) - 1]
        x = np.array(arc) / tr.ds
        if tr.closed:
            i0 = np.floor(x).astype(int) % tr.n
            i1 = (i0 + 1) % tr.n
        else:
            i0 = np.clip(np.floor(x).astype(int), 0, tr.n - 2)
            i1 = i0 + 1
        f = np.clip(x - np.floor(x), 0, 1)[:, None]
        pos = edge[i0] * (1 - f) + edge[i1] * f
        pos += rng.normal(0, 0.06, pos.shape)
        yaw = rng.uniform(0, 6.3, len(arc))
        rel = np.array(arc) - start
        if tr.closed:
            rel = (rel + tr.length / 2) % tr.length - tr.length / 2
        orange = (rel >= orange_zone[0]) & (rel <= orange_zone[1])
        cones.extend(_cone(p[0], p[1], ORANGE if o else colour, y)
                     for p, o, y in zip(pos, orange, yaw))
    lines = [start] + ([tr.marks['finish']] if 'finish' in tr.marks else [])
    for line in lines:
        if rng.random() < 0.85:   # large orange cones at the start / finish line
            for ds in (-0.6, 0.6):
                for side in (1, -1):
                    i = tr.index(line + ds)
                    off = tr.width[i] / 2 + rng.uniform(0.35, 0.6)
                    p = tr.center[i] + tr.normal[i] * off * side
                    cones.append(_cone(p[0], p[1], LARGE_ORANGE, rng.uniform(0, 6.3), True))
    return cones


def _skidpad_cones(rng: np.random.Generator, tr: _Track) -> List[Tuple]:
    """
    Return the skidpad cones (FS rules), in the layout frame: the car enters along +y.

    Right circle (driven clockwise first): yellow inside, blue outside; left circle:
    blue inside, yellow outside; the outer cones leave the crossing open; four large
    orange cones at the timekeeping line between the circles, small orange cones
    along the entry and exit lanes and across the exit.
    """
    local: List[Tuple[float, float, int, bool]] = []
    for cx, inner, outer, a0, a1 in ((_SKID_R, YELLOW, BLUE, -0.75 * np.pi, 0.75 * np.pi),
                                     (-_SKID_R, BLUE, YELLOW, 0.25 * np.pi, 1.75 * np.pi)):
        for a in np.arange(16) / 16 * 2 * np.pi:
            x, y = cx + _SKID_IN * math.cos(a), _SKID_IN * math.sin(a)
            if abs(x) > 1.9:   # the crossing has the timekeeping cones instead
                local.append((x, y, inner, False))
        for a in np.linspace(a0, a1, 13):
            local.append((cx + _SKID_OUT * math.cos(a), _SKID_OUT * math.sin(a), outer, False))
    half = (_SKID_OUT - _SKID_IN) / 2
    for x in (-half, half):
        for y in (-0.5, 0.5):
            local.append((x, y, LARGE_ORANGE, True))
        for y in (-14.0, -11.5, -9.0):
            local.append((x, y, ORANGE, False))
        for y in np.linspace(_SKID_OUT - 1.0, 20.0, 6):
            local.append((x, y, ORANGE, False))
        local.append((x / 2, 20.0, ORANGE, False))
    xy = np.array([c[:2] for c in local]) + rng.normal(0, 0.04, (len(local), 2))
    world = tr.to_world(xy)
    return [_cone(p[0], p[1], c[2], rng.uniform(0, 6.3), c[3]) for p, c in zip(world, local)]


def _acceleration_cones(rng: np.random.Generator, tr: _Track) -> List[Tuple]:
    """
    Return the acceleration cones in the layout frame (the car drives along +x).

    75 m from the start to the finish line: blue left, yellow right, large orange
    at both timekeeping lines, small orange in the staging area before the start
    and along the braking zone after the finish, and a row across its end.
    """
    half = tr.width[0] / 2
    end = tr.marks['end'] - tr.marks['start']
    local: List[Tuple[float, float, int, bool]] = []
    gap = rng.uniform(4.0, 5.0)
    n = int(math.ceil(_ACCEL_LENGTH / gap))
    for x in np.linspace(0.0, _ACCEL_LENGTH, n + 1)[1:-1]:
        local += [(x, half, BLUE, False), (x, -half, YELLOW, False)]
    for line in (0.0, _ACCEL_LENGTH):
        for dx in (-0.5, 0.5):
            local += [(line + dx, half, LARGE_ORANGE, True),
                      (line + dx, -half, LARGE_ORANGE, True)]
    for x in np.arange(-rng.uniform(2.0, 4.0), -12.0, -rng.uniform(3.0, 5.0)):
        local += [(x, half, ORANGE, False), (x, -half, ORANGE, False)]
    bgap = rng.uniform(4.0, 8.0)
    for x in np.arange(_ACCEL_LENGTH + bgap, end - 1.0, bgap):
        local += [(x, half, ORANGE, False), (x, -half, ORANGE, False)]
    for y in np.linspace(-half, half, int(rng.integers(3, 6))):
        local.append((end, y, ORANGE, False))
    xy = np.array([c[:2] for c in local]) + rng.normal(0, 0.04, (len(local), 2))
    world = tr.to_world(xy)
    return [_cone(p[0], p[1], c[2], rng.uniform(0, 6.3), c[3]) for p, c in zip(world, local)]


class _Scene:
    """One track with its cones, objects and look (light, colours, camera style)."""

    def __init__(self, rng: np.random.Generator, drive: bool = False,
                 layout: str = 'trackdrive') -> None:
        self.track = _make_track(rng, layout)
        self.drive = drive
        self.palette: Optional[np.ndarray] = None
        self._cone_cache: Optional[Dict[str, Any]] = None
        self._make_look(rng)
        self._make_cones(rng)
        self._make_ground(rng)
        self._make_objects(rng)
        self._make_horizon(rng)

    # -- look --------------------------------------------------------------------
    def _make_look(self, rng: np.random.Generator) -> None:
        """Draw the light, sky, ground materials, cone style and camera of the scene."""
        self.look_cache: Dict[str, Any] = {}   # per-scene caches of the renderer
        self.look_seed = int(rng.integers(2 ** 62))   # per-cone materials, stable per cone
        self.overcast = overcast = rng.random() < 0.28
        self.low_sun = low = not overcast and rng.random() < 0.4
        self.sun_elev = math.radians(rng.uniform(3.5, 15.0) if low else rng.uniform(15, 65))
        self.sun_az = rng.uniform(0, 2 * np.pi)
        sin_e = math.sin(self.sun_elev)
        if overcast:
            self.ambient = rng.uniform(0.75, 1.05)
            self.direct = rng.uniform(0.0, 0.12)
            zen = rng.uniform(0.62, 0.85)
            self.sky_zenith = np.array([zen, zen + 0.01, zen + 0.035])
            self.sky_horizon = np.array([0.86, 0.87, 0.88]) * rng.uniform(0.85, 1.05)
            self.cloud_cover = rng.uniform(0.0, 0.5)
            self.sun_rgb = np.ones(3)
            self.sky_rgb = np.ones(3)
        else:
            # Ground light ``target``, sun / sky contrast on the ground; low sun: long shadows,
            # vertical faces lit much more than the ground, a warmer sun.
            target = rng.uniform(0.85, 1.1)
            contrast = rng.uniform(1.6, 2.8) if low else rng.uniform(1.9, 3.4)
            ambient = target / contrast
            direct = min((target - ambient) / sin_e, 1.8)
            gain = (target / (ambient + direct * sin_e)) ** 0.5   # half auto-exposure
            self.ambient, self.direct = ambient * gain, direct * gain
            self.sky_zenith = np.array([rng.uniform(0.25, 0.42), rng.uniform(0.45, 0.60),
                                        rng.uniform(0.75, 0.92)])
            self.sky_horizon = np.array([0.72, 0.80, 0.90]) * rng.uniform(0.95, 1.1)
            self.cloud_cover = rng.uniform(0.0, 1.0)
            warm = (rng.uniform(0.5, 1.0) * (1 - (math.degrees(self.sun_elev) - 3.5) / 14)
                    if low else rng.uniform(0.0, 0.2))
            self.sun_rgb = np.array([1 + 0.05 * warm, 1 - 0.03 * warm, 1 - 0.15 * warm])
            self.sky_rgb = np.array([0.95, 0.98, 1.06])
            if low:   # a paler, warmer horizon
                self.sky_horizon = self.sky_horizon * (1 + np.array([0.06, 0.0, -0.08]) * warm)
        self.cloud_colour = np.array([0.93, 0.93, 0.94]) * rng.uniform(0.8, 1.05)
        self.cloud_thresh = rng.uniform(-0.2, 0.5)
        self.haze = rng.uniform(250.0, 1500.0) * (rng.uniform(0.5, 1.0) if low else 1.0)
        self.sun_dir = np.array([math.cos(self.sun_elev) * math.cos(self.sun_az),
                                 math.cos(self.sun_elev) * math.sin(self.sun_az),
                                 sin_e])
        self.lit = self.ambient + self.direct * sin_e
        self.lit_rgb = self.ambient * self.sky_rgb + self.direct * sin_e * self.sun_rgb
        self.wet = (rng.uniform(0.4, 1.0) if rng.random() < (0.5 if overcast else 0.08)
                    else 0.0)
        self._make_materials(rng)
        # Cone colour variation of this event (faded, dirty), per-cone on top of it.
        self.cone_tint = rng.uniform(0.95, 1.03, 3)
        self.black_bases = rng.random() < 0.4
        self.cone_age = rng.uniform(0.0, 1.0) ** 1.5
        self.autumn = rng.uniform(0.25, 0.9) if rng.random() < 0.3 else 0.0
        # Camera of this scene (drive mode keeps it; samples jitter it per frame).
        u_height, u_fov = rng.random(2)
        if self.drive:   # the demo car: camera on the main hoop, a typical lens
            self.cam_height = 0.95 + 0.2 * u_height
            self.hfov = math.radians(70 + 20 * u_fov)
        else:
            self.cam_height = 0.65 + 0.7 * u_height
            self.hfov = math.radians(60 + 40 * u_fov)
        self.nose = None
        if rng.random() < 0.25:
            self.nose = (rng.uniform(0.05, 0.16), rng.uniform(0.25, 0.6),
                         np.clip(rng.uniform(0.0, 0.7, 3) * rng.uniform(0.3, 1.0), 0, 1))

    def _make_materials(self, rng: np.random.Generator) -> None:
        """
        Draw the ground materials: albedo pairs (blended by coarse texture), grain, detail.

        Grass (lush, dry, mown in stripes), the track (asphalt or airfield concrete),
        the apron (asphalt, concrete or gravel), paint, kerbs and repair patches;
        wet surfaces are darker.
        """
        dry = rng.random() < 0.3
        g = np.array([0.20, 0.36, 0.10]) if not dry else np.array([0.42, 0.40, 0.22])
        g = g * rng.uniform(0.85, 1.15, 3)
        g2 = g * rng.uniform(0.6, 0.95) + (np.array([0.1, 0.08, 0.02]) if rng.random() < 0.5
                                           else 0)
        self.grass_dry = np.array([0.50, 0.45, 0.26]) * rng.uniform(0.8, 1.1)
        self.grass_patches = rng.uniform(0.0, 0.7) if rng.random() < 0.6 else 0.0
        self.mow = rng.uniform(0.05, 0.14) if rng.random() < 0.35 else 0.0
        self.mow_period = int(rng.integers(4, 7))   # stripes per texture tile (12 m)
        wet_dark = 1.0 - 0.4 * self.wet
        concrete = rng.random() < 0.25
        if concrete:   # airfield concrete slabs
            grey = rng.uniform(0.45, 0.62)
            track = np.clip(grey + np.array([0.02, 0.01, -0.01]) + rng.uniform(-0.015, 0.015, 3),
                            0, 1)
        else:
            grey = rng.uniform(0.24, 0.46)
            track = np.clip(grey + rng.uniform(-0.02, 0.02, 3) + np.array([0.0, 0.0, 0.01]), 0, 1)
        track2 = track * rng.uniform(0.75, 0.92)
        u = rng.random()
        self.apron_kind = 'same' if u < 0.45 else ('gravel' if u < 0.6 else 'other')
        if self.apron_kind == 'same':
            apron = np.clip(track + rng.uniform(-0.015, 0.015, 3), 0, 1)
        elif self.apron_kind == 'gravel':   # dusty gravel / compacted sand
            apron = np.array([0.52, 0.48, 0.41]) * rng.uniform(0.8, 1.1)
        else:
            apron = np.clip(rng.uniform(0.26, 0.6) + rng.uniform(-0.02, 0.02, 3), 0, 1)
        apron2 = apron * rng.uniform(0.75, 0.92)
        self.concrete = concrete
        self.joint = (int(rng.integers(2, 4)), int(rng.integers(2, 4)))   # slabs per tile
        paint = np.array([0.86, 0.86, 0.83]) * rng.uniform(0.85, 1.0)
        yellow = np.array([0.92, 0.70, 0.10]) * rng.uniform(0.85, 1.0)
        worn = rng.uniform(0.1, 0.7)
        kerb = np.array([0.72, 0.12, 0.10]) * rng.uniform(0.85, 1.05)
        patch = track * (rng.uniform(0.6, 0.85) if rng.random() < 0.75 else rng.uniform(1.05, 1.2))
        trees = np.array([0.10, 0.17, 0.09]) * rng.uniform(0.7, 1.5)
        sky = self.sky_horizon
        # materials: grass, apron, track, sky, trees, paint, yellow paint, kerbs, patch
        asphalt = np.array([1, wet_dark, wet_dark, 1, 1, 1, 1, 1, 1, wet_dark])[:, None]
        self.albedo_a = (np.stack([g, apron, track, sky, trees, paint, yellow, kerb, paint,
                                   np.clip(patch, 0, 1)]) * asphalt).astype(np.float32)
        self.albedo_b = (np.stack([g2, apron2, track2, sky, trees * 0.6,
                                   paint * (1 - worn) + track * worn,
                                   yellow * (1 - worn) + track * worn, kerb * 0.8, paint * 0.85,
                                   np.clip(patch * 0.9, 0, 1)]) * asphalt).astype(np.float32)
        gravel = self.apron_kind == 'gravel'
        self.grain = np.array([rng.uniform(0.25, 0.45), rng.uniform(0.35, 0.6) if gravel
                               else rng.uniform(0.12, 0.3), rng.uniform(0.12, 0.3), 0.0, 0.5,
                               0.1, 0.1, 0.1, 0.1, rng.uniform(0.1, 0.25)], np.float32)
        # Detail amplitudes per material: aggregate stones, cracks, grass clumps.
        stones = rng.uniform(0.1, 0.35)
        self.stones = np.array([0.0, stones * (2.0 if gravel else 1.0), stones, 0, 0, 0.1, 0.1,
                                0.1, 0.1, stones], np.float32)
        cracks = rng.uniform(0.0, 0.45) if rng.random() < 0.7 else 0.0
        self.cracks = np.array([0, 0 if gravel else cracks, cracks, 0, 0, cracks, cracks, 0, 0,
                                cracks * 0.5], np.float32)
        self.clumps = np.array([rng.uniform(0.15, 0.4), 0.08 if gravel else 0, 0, 0, 0, 0, 0,
                                0, 0, 0], np.float32)
        self.tex_offset = rng.uniform(0, _TEX, 2)
        self.tex_angle = rng.uniform(0, 2 * np.pi)

    # -- cones -------------------------------------------------------------------
    # A cone: (x, y, class, 'small' | 'large', body albedo or None, stripe albedo or None,
    # yaw, fall) with fall None for a standing cone, else (direction, extra tilt) of a
    # cone lying on its side.
    def _make_cones(self, rng: np.random.Generator) -> None:
        tr = self.track
        if tr.layout == 'skidpad':
            cones = _skidpad_cones(rng, tr)
        elif tr.layout == 'acceleration':
            cones = _acceleration_cones(rng, tr)
        else:
            cones = _edge_cones(rng, tr)
        # A few cones of no FS colour: on the edge instead of a track cone, or beside it.
        for _ in range(int(rng.integers(2, 7))):
            self._add_unknown(cones, rng, rng.uniform(0, tr.length))
        if rng.random() < 0.5:   # a few knocked-over cones, still of their class
            p = rng.uniform(0.02, 0.08)
            for j in np.nonzero(rng.random(len(cones)) < p)[0]:
                cones[j] = _knock_over(cones[j], rng)
        self.cones = cones

    def _add_unknown(self, cones: List, rng: np.random.Generator, s: float) -> None:
        """Add a cone of no FS colour near arc length ``s``."""
        tr = self.track
        i = tr.index(s)
        body = np.array(_UNKNOWN_COLOURS[int(rng.integers(len(_UNKNOWN_COLOURS)))])
        body = np.clip(body * rng.uniform(0.85, 1.1, 3), 0, 1)
        stripe = (None, _WHITE, _BLACK)[int(rng.integers(3))]
        kind = 'small' if rng.random() < 0.8 else 'large'
        side = 1 if rng.random() < 0.5 else -1
        if rng.random() < 0.4:
            off = tr.width[i] / 2
            pos = tr.center[i] + tr.normal[i] * off * side
            # replace the nearest track cone, if one is close
            for j, c in enumerate(cones):
                if (c[0] - pos[0]) ** 2 + (c[1] - pos[1]) ** 2 < 1.0 and c[2] in (BLUE, YELLOW):
                    pos = np.array(c[:2])
                    del cones[j]
                    break
        else:
            off = tr.width[i] / 2 + rng.uniform(0.8, 6.0)
            pos = tr.center[i] + tr.normal[i] * off * side
        cones.append((pos[0], pos[1], UNKNOWN, kind, tuple(body),
                      stripe if stripe is None else tuple(stripe), rng.uniform(0, 6.3), None))

    def cone_arrays(self) -> Dict[str, Any]:
        """
        Return the cones as arrays (built once, again only after cones were added).

        Every cone has 6 ring heights (base of the body, stripe edges, top; unused
        levels repeat the top) and 5 body segments with their albedo.
        """
        n = len(self.cones)
        if self._cone_cache is not None and self._cone_cache['n'] == n:
            return self._cone_cache
        x, y, cls, kind, body_u, stripe_u, yaw, fall = (list(c) for c in zip(*self.cones)) \
            if n else ([],) * 8
        cls = np.array(cls, np.uint8)
        large = np.array([k == 'large' for k in kind], bool)
        unknown = cls == UNKNOWN
        body = np.array([_CONE_COLOURS.get(int(c), ((0, 0, 0),))[0] if b is None else b
                         for c, b in zip(cls, body_u)], float).reshape(n, 3)
        stripe = np.array([_CONE_COLOURS[int(c)][1] if not u else (s if s is not None
                                                                   else (0, 0, 0))
                           for c, u, s in zip(cls, unknown, stripe_u)], float).reshape(n, 3)
        striped = np.array([not (u and s is None) for u, s in zip(unknown, stripe_u)], bool)
        body = np.clip(body * self.cone_tint, 0, 1)
        t = _cone_templates()[large.astype(int) * 2 + striped.astype(int)]
        base = np.full((n, 3), 0.06) if self.black_bases else body * 0.45
        pattern = t['pattern']
        seg = np.where(pattern[..., None] == 1, stripe[:, None, :], body[:, None, :])
        frac = t['frac'][:, None]
        self._cone_cache = {
            'n': n, 'pos': np.stack([np.array(x, float), np.array(y, float)], 1).reshape(n, 2),
            'cls': cls, 'yaw': np.array(yaw, float), 'zs': t['zs'], 'radii': t['radii'],
            'seg_on': pattern >= 0, 'seg_col': seg, 'base': base,
            'mean_col': body * (1 - frac) + stripe * frac, 'plate_half': t['plate_half'],
            'plate_h': t['plate_h'], 'height': t['height'], 'taper': t['taper'],
            'knocked': np.array([f is not None for f in fall], bool),
            'fall_dir': np.array([0.0 if f is None else f[0] for f in fall], float),
            'fall_tilt': np.array([0.0 if f is None else f[1] for f in fall], float)}
        return self._cone_cache

    # -- ground ------------------------------------------------------------------
    def _make_ground(self, rng: np.random.Generator) -> None:
        tr = self.track
        self.apron = None
        self.shoulder = 0.0
        u = rng.random()
        if u < 0.3:   # airfield / paddock: asphalt all around the track
            margin = rng.uniform(8, 40)
            p = tr.center[::8]
            ang = np.linspace(0, 2 * np.pi, 12, endpoint=False)
            ring = np.stack([np.cos(ang), np.sin(ang)], 1) * margin
            pts = (p[:, None, :] + ring[None]).reshape(-1, 2).astype(np.float32)
            self.apron = cv2.convexHull(pts).reshape(-1, 2).astype(np.float64)
        elif u < 0.6:
            rmin = 1.0 / max(np.abs(tr.curvature).max(), 1e-6)
            self.shoulder = min(rng.uniform(0.3, 3.0), rmin - tr.width.max() / 2 - 0.5)
        # Paint, kerbs, patches (colour only) and rubber on the track.
        self.markings = markings(rng, tr.center, tr.normal, tr.tangent, tr.width,
                                 tr.curvature, self.apron is not None)
        self.tyre_marks = tyre_marks(rng, tr.center, tr.normal, tr.width, tr.curvature) \
            if rng.random() < 0.85 else (np.zeros((0, 4, 2)), np.zeros(0))

    def _make_objects(self, rng: np.random.Generator) -> None:
        """
        Fill the venue: people, tents, banners, flags, barriers, fences, plants, vehicles.

        Everything keeps clear of every part of the track; how busy the venue is and
        how much of it is in cone colours varies per scene.
        """
        tr = self.track
        self.boxes: List[Any] = []
        busy = rng.uniform(0.15, 1.0) * tr.length / 150.0
        # where the event happens: most of it around the start line and a few other spots
        hubs = [0 if rng.random() < 0.6 else int(rng.integers(tr.n))] + [
            int(rng.integers(tr.n)) for _ in range(int(rng.integers(0, 3)))]
        spread = 20.0 / tr.ds

        def clear(p: np.ndarray, margin: float) -> bool:
            """Return whether ``p`` is ``margin`` beyond both edges of every part of the track."""
            return bool(np.all(np.linalg.norm(tr.center - p, axis=1) >= tr.width / 2 + margin))

        def spot(near: float, far: float, radius: float) -> Optional[Tuple[np.ndarray, float]]:
            """Return a clear point beside the track and the yaw facing the track."""
            if rng.random() < 0.6:
                i = int(hubs[int(rng.integers(len(hubs)))] + rng.normal(0, spread)) % tr.n
            else:
                i = int(rng.integers(tr.n))
            side = 1 if rng.random() < 0.5 else -1
            off = tr.width[i] / 2 + rng.uniform(near, far) + radius
            p = tr.center[i] + tr.normal[i] * off * side
            if not clear(p, near + radius - 0.3):
                return None
            n = -tr.normal[i] * side
            return p, math.atan2(n[1], n[0])

        def along(near: float, far: float, length: float) -> Optional[Tuple[np.ndarray, float]]:
            """Return the middle and the yaw of a clear straight row parallel to the track."""
            got = spot(near, far, 0.5)
            if got is None:
                return None
            p, yaw = got
            d = np.array([-math.sin(yaw), math.cos(yaw)])
            if not all(clear(end, near) for end in (p - d * length / 2, p + d * length / 2)):
                return None
            return p, yaw + np.pi / 2

        def n_of(most: float) -> int:
            return int(rng.integers(0, int(round(most * busy)) + 1))

        old = (tyre_stack, tyre_stack, block, trailer)
        for _ in range(int(rng.integers(3, 10))):
            got = spot(3.0, 25.0, 2.0)
            if got is not None:
                make = old[int(rng.integers(len(old)))]
                self.boxes += make(rng, got[0][0], got[0][1], got[1] + rng.normal(0, 0.3))
        for _ in range(n_of(16)):   # marshals and spectators in small groups
            got = spot(1.5, 12.0, 0.5)
            if got is None:
                continue
            vest = (HIVIS_YELLOW, HIVIS_ORANGE)[int(rng.random() < 0.4)] \
                if rng.random() < 0.7 else None
            for _ in range(int(rng.integers(1, 5))):
                q = got[0] + rng.normal(0, 0.9, 2)
                if clear(q, 1.2):
                    v = vest if rng.random() < 0.8 else None
                    self.boxes += person(rng, q[0], q[1], got[1] + rng.normal(0, 0.8), v)
        for _ in range(n_of(6)):   # gazebos, with people around them
            got = spot(6.0, 40.0, 3.5)
            if got is None:
                continue
            p, yaw = got
            self.boxes += gazebo(rng, p[0], p[1], yaw + np.pi + rng.normal(0, 0.2))
            for _ in range(int(rng.integers(0, 4))):
                q = p + rng.uniform(-2.5, 2.5, 2)
                vest = HIVIS_YELLOW if rng.random() < 0.3 else None
                self.boxes += person(rng, q[0], q[1], rng.uniform(0, 2 * np.pi), vest)
        for _ in range(n_of(8)):
            got = spot(2.0, 12.0, 3.0)
            if got is not None:
                self.boxes += banner(rng, got[0][0], got[0][1], got[1] + np.pi / 2)
        for _ in range(n_of(8)):
            got = spot(3.0, 20.0, 1.0)
            if got is not None:
                self.boxes += feather_flag(rng, got[0][0], got[0][1], rng.uniform(0, np.pi))
        for _ in range(n_of(4)):
            count = int(rng.integers(3, 12))
            got = along(2.5, 12.0, count * 1.6)
            if got is not None:
                self.boxes += barrier_row(rng, got[0][0], got[0][1], got[1], count)
        for _ in range(n_of(3)):
            length = rng.uniform(5.0, 25.0)
            got = along(3.0, 10.0, length)
            if got is not None:
                self.boxes += mesh_fence(rng, got[0][0], got[0][1], got[1], length)
        plants = rng.uniform(0.2, 1.0) * tr.length / 150.0
        for _ in range(int(rng.integers(0, int(14 * plants) + 1))):
            got = spot(3.0, 25.0, 1.3)
            if got is not None:
                self.boxes += bush(rng, got[0][0], got[0][1], self.autumn)
        for _ in range(int(rng.integers(0, int(3 * plants) + 1))):
            length = rng.uniform(4.0, 20.0)
            got = along(4.0, 25.0, length)
            if got is not None:
                self.boxes += hedge(rng, got[0][0], got[0][1], got[1], length, self.autumn)
        for _ in range(int(rng.integers(0, int(24 * plants) + 1))):
            got = spot(5.0, 60.0, 4.0)
            if got is not None:
                self.boxes += tree(rng, got[0][0], got[0][1], self.autumn)
        for _ in range(n_of(10)):
            got = spot(8.0, 60.0, 3.0)
            if got is not None:
                self.boxes += car(rng, got[0][0], got[0][1],
                                  got[1] + (0.0 if rng.random() < 0.5 else np.pi / 2))

    def _make_horizon(self, rng: np.random.Generator) -> None:
        """Tree line around the venue, far buildings inside it."""
        tr = self.track
        self.venue_center = tr.center.mean(axis=0)
        extent = float(np.max(np.linalg.norm(tr.center - self.venue_center, axis=1)))
        self.ring_radius = extent + float(rng.uniform(120, 300))
        n = 720
        ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
        h = np.zeros(n)
        if rng.random() < 0.85:
            for k in (1, 2, 3, 5, 8, 13, 21, 34, 55, 89):
                h += rng.uniform(0, 1.0) / k ** 0.6 * np.cos(k * ang + rng.uniform(0, 6.3))
            h = (h - h.min()) / (np.ptp(h) + 1e-9)
            h = rng.uniform(3, 8) + h * rng.uniform(6, 22)
        self.ring_points = self.venue_center + self.ring_radius * np.stack(
            [np.cos(ang), np.sin(ang)], axis=1)
        self.ring_heights = h
        for _ in range(int(rng.integers(0, 5))):   # hangars, halls, grandstands
            a = rng.uniform(0, 2 * np.pi)
            r = rng.uniform(extent + 60.0, max(self.ring_radius - 40.0, extent + 70.0))
            p = self.venue_center + r * np.array([math.cos(a), math.sin(a)])
            self.boxes += building(rng, p[0], p[1], a + np.pi / 2 + rng.normal(0, 0.3))
