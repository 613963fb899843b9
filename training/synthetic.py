# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Synthetic Formula Student scenes: a procedural renderer with exact labels.

A closed track (a smooth closed curve, 3-5 m wide) is lined with cones as the
competition uses them: blue on the left edge, yellow on the right, small orange
around the start zone, large orange at the start/finish line, and a few cones of
no FS colour (``unknown_cone``). A pinhole camera at car height looks along the
track. Everything is drawn by projecting 3D geometry with the pinhole model and
rasterising convex polygons (``cv2.fillConvexPoly``) far to near, and the mask is
written by the very same polygons, so labels are exact by construction:

* ground: grass everywhere, optionally an asphalt apron or shoulder (background),
  and the track surface between the edges (``track``), textured in world
  coordinates; sky with clouds, a tree line at the horizon;
* cones: square darker base plate and a round frustum with the rule stripes
  (blue + white, yellow + black, small orange + white, large orange + two white),
  Lambert + specular shaded, with shadows on the ground; a few boxes (tyre
  stacks, barriers) beside the track, sometimes the car's nose in view;
* camera: exposure, white balance, tone, vignetting, blur, motion blur, noise and
  JPEG artefacts vary per sample.

Sample ``i`` of seed ``s`` depends only on ``(s, i)`` (never on how many samples
are generated), so a training set and a test set rendered with other seeds never
share a scene. Two uses:

* in Python, :class:`SyntheticSource` renders samples on the fly
  (``training.datasets.base.SegmentationSource`` contract);
* on the command line, ``python -m training.synthetic --out DIR --count N``
  writes a folder dataset (``DIR/images/<stem>.jpg|png``, ``DIR/masks/<stem>.png``
  with the class ids, ``DIR/meta.json``), atomically per file and resumable, and
  ``--video OUT.mp4`` / ``--frames DIR`` render a continuous drive around one
  track for the demo.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import math
import os
from pathlib import Path
import sys
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
from eunet_ros.argtypes import at_least
from eunet_ros.checkpoint import DEFAULT_PALETTE
from eunet_ros.fileio import atomic_write_bytes
import numpy as np
from training.datasets.base import FS_CLASSES, SegmentationSource

__all__ = [
    'GENERATOR_VERSION',
    'SyntheticSource',
    'render_sample',
    'render_drive',
    'drive_frame_count',
    'sample_stem',
    'write_dataset',
    'write_drive',
    'get_args_parser',
    'main',
]

LOG = logging.getLogger('training.synthetic')

# Bumped whenever the pictures of a given (seed, index) change; stored in meta.json.
GENERATOR_VERSION = 1

BACKGROUND, TRACK, BLUE, YELLOW, ORANGE, LARGE_ORANGE, UNKNOWN = range(7)
assert FS_CLASSES[TRACK] == 'track' and FS_CLASSES[UNKNOWN] == 'unknown_cone'

_SAMPLE_TAG = 0x53594E31   # entropy tags: samples and drives draw from disjoint streams
_DRIVE_TAG = 0x44525631
_DRIVE_FRAME_TAG = 0x44524632

# Ground materials (index into per-scene colour tables).
_GRASS, _APRON, _TRACK_MAT, _SKY, _TREES = range(5)

_NEAR = 0.2          # near clipping plane (m)
_TEX = 1024          # texture tile size (texels)
_GROUND_TEXEL = 0.012  # metres per texel on the ground
_CLOUD_TEXEL = 6.0   # metres per texel on the cloud plane (1 km up)

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


# ----------------------------------------------------------------------------------
# Procedural textures (fixed seed: identical in every process)
# ----------------------------------------------------------------------------------

_TEXTURES: Optional[np.ndarray] = None
_NOISE_CACHE: Dict[Tuple[int, int], np.ndarray] = {}
_VIGNETTE_CACHE: Dict[Tuple[int, int], np.ndarray] = {}


def _fractal(rng: np.random.Generator, size: int, beta: float, low: float = 0.0) -> np.ndarray:
    """Return tileable 1/f^beta noise of unit std (optionally without frequencies < low)."""
    white = rng.standard_normal((size, size))
    f = np.fft.fftfreq(size)
    r = np.sqrt(f[None, :] ** 2 + f[:, None] ** 2)
    r[0, 0] = 1.0
    spectrum = np.fft.fft2(white) / r ** beta
    spectrum[r < max(low, 1e-9)] = 0.0
    spectrum[0, 0] = 0.0
    out = np.real(np.fft.ifft2(spectrum))
    return (out / (out.std() + 1e-12)).astype(np.float32)


def _textures() -> np.ndarray:
    """
    Return the shared 4-channel texture tile (built once per process).

    Channel 0: fine grain (asphalt grit, grass blades); channel 1: coarse patches;
    channel 2: clouds; channel 3: unused (4 channels remap fastest). Values are
    roughly in [-1, 1].
    """
    global _TEXTURES
    if _TEXTURES is None:
        rng = np.random.default_rng(20260101)
        fine = _fractal(rng, _TEX, 0.35, low=0.02)
        coarse = _fractal(rng, _TEX, 1.8)
        clouds = _fractal(rng, _TEX, 1.6)
        tex = np.stack([fine / 3.0, coarse / 2.5, clouds / 2.0, np.zeros_like(fine)], axis=-1)
        _TEXTURES = np.clip(tex, -1.0, 1.0).astype(np.float32)
    return _TEXTURES


def _sensor_noise(height: int, width: int) -> np.ndarray:
    """Return a cached unit-std noise field a little larger than the image."""
    key = (height, width)
    if key not in _NOISE_CACHE:
        rng = np.random.default_rng(20260102)
        _NOISE_CACHE[key] = rng.standard_normal((height + 32, width + 32, 3)).astype(np.float32)
    return _NOISE_CACHE[key]


def _vignette(height: int, width: int) -> np.ndarray:
    """Return the squared normalised radius of every pixel (cached)."""
    key = (height, width)
    if key not in _VIGNETTE_CACHE:
        y = (np.arange(height, dtype=np.float32) - (height - 1) / 2) / (height / 2)
        x = (np.arange(width, dtype=np.float32) - (width - 1) / 2) / (width / 2)
        r2 = (x[None, :] ** 2 * (width / height) ** 2 + y[:, None] ** 2)
        _VIGNETTE_CACHE[key] = (r2 / r2.max()).astype(np.float32)
    return _VIGNETTE_CACHE[key]


# ----------------------------------------------------------------------------------
# Scene: track, cones, objects, look
# ----------------------------------------------------------------------------------


class _Track:
    """
    A closed track sampled every ``ds`` metres along its centre line.

    :ivar center: N x 2 centre line; the car drives in index order.
    :ivar tangent: N x 2 unit tangents.
    :ivar normal: N x 2 unit normals pointing to the LEFT of the driving direction.
    :ivar width: N track widths (m).
    :ivar curvature: N signed curvatures (1/m, positive = left turn).
    """

    def __init__(self, center: np.ndarray, width: np.ndarray) -> None:
        self.center = center
        self.n = len(center)
        d = np.roll(center, -1, axis=0) - np.roll(center, 1, axis=0)
        self.tangent = d / np.linalg.norm(d, axis=1, keepdims=True)
        self.normal = np.stack([-self.tangent[:, 1], self.tangent[:, 0]], axis=1)
        seg = np.linalg.norm(np.roll(center, -1, axis=0) - center, axis=1)
        self.length = float(seg.sum())
        self.ds = self.length / self.n
        t2 = np.roll(self.tangent, -1, axis=0)
        cross = self.tangent[:, 0] * t2[:, 1] - self.tangent[:, 1] * t2[:, 0]
        self.curvature = np.arcsin(np.clip(cross, -1, 1)) / self.ds
        self.width = width
        self.left = center + self.normal * (width / 2)[:, None]
        self.right = center - self.normal * (width / 2)[:, None]

    def index(self, s: float) -> int:
        """Return the sample index nearest to arc length ``s`` (wraps around)."""
        return int(round(s / self.ds)) % self.n

    def interp(self, s: float, arr: np.ndarray) -> np.ndarray:
        """Linearly interpolate a per-sample array at arc length ``s`` (wraps around)."""
        x = (s / self.ds) % self.n
        i = int(math.floor(x))
        f = x - i
        return arr[i] * (1 - f) + arr[(i + 1) % self.n] * f


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


class _Scene:
    """One track with its cones, objects and look (light, colours, camera style)."""

    def __init__(self, rng: np.random.Generator, drive: bool = False) -> None:
        center, width = _make_centerline(rng)
        if rng.random() < 0.5:   # drive clockwise half of the time
            center = center[::-1].copy()
            width = width[::-1].copy()
        self.track = _Track(center, width)
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
        overcast = rng.random() < 0.3
        self.sun_elev = math.radians(rng.uniform(12, 65))
        self.sun_az = rng.uniform(0, 2 * np.pi)
        if overcast:
            self.ambient = rng.uniform(0.75, 1.0)
            self.direct = rng.uniform(0.0, 0.15)
            zen = rng.uniform(0.70, 0.85)
            self.sky_zenith = np.array([zen, zen + 0.01, zen + 0.04])
            self.sky_horizon = np.array([0.86, 0.87, 0.88]) * rng.uniform(0.9, 1.05)
            self.cloud_cover = rng.uniform(0.0, 0.4)
        else:
            self.ambient = rng.uniform(0.35, 0.55)
            self.direct = rng.uniform(0.55, 0.85)
            self.sky_zenith = np.array([rng.uniform(0.25, 0.42), rng.uniform(0.45, 0.60),
                                        rng.uniform(0.75, 0.92)])
            self.sky_horizon = np.array([0.72, 0.80, 0.90]) * rng.uniform(0.95, 1.1)
            self.cloud_cover = rng.uniform(0.0, 1.0)
        self.cloud_colour = np.array([0.93, 0.93, 0.94]) * rng.uniform(0.8, 1.05)
        self.cloud_thresh = rng.uniform(-0.2, 0.5)
        self.haze = rng.uniform(250.0, 1500.0)
        self.sun_dir = np.array([math.cos(self.sun_elev) * math.cos(self.sun_az),
                                 math.cos(self.sun_elev) * math.sin(self.sun_az),
                                 math.sin(self.sun_elev)])
        self.lit = self.ambient + self.direct * math.sin(self.sun_elev)
        # Materials: albedo pair (blended by coarse texture), grain amplitude.
        dry = rng.random() < 0.3
        g = np.array([0.20, 0.36, 0.10]) if not dry else np.array([0.42, 0.40, 0.22])
        g = g * rng.uniform(0.85, 1.15, 3)
        g2 = g * rng.uniform(0.6, 0.95) + (np.array([0.1, 0.08, 0.02]) if rng.random() < 0.5
                                           else 0)
        grey = rng.uniform(0.26, 0.48)
        tint = rng.uniform(-0.02, 0.02, 3)
        asphalt = np.clip(grey + tint + np.array([0.0, 0.0, 0.01]), 0, 1)
        asphalt2 = asphalt * rng.uniform(0.75, 0.92)
        apron_delta = 0.0 if rng.random() < 0.5 else rng.uniform(-0.08, 0.08)
        apron = np.clip(asphalt + apron_delta + rng.uniform(-0.015, 0.015, 3), 0, 1)
        apron2 = apron * rng.uniform(0.75, 0.92)
        trees = np.array([0.10, 0.17, 0.09]) * rng.uniform(0.7, 1.5)
        sky = self.sky_horizon
        self.albedo_a = np.stack([g, apron, asphalt, sky, trees]).astype(np.float32)
        self.albedo_b = np.stack([g2, apron2, asphalt2, sky, trees * 0.6]).astype(np.float32)
        self.grain = np.array([rng.uniform(0.25, 0.45), rng.uniform(0.12, 0.3),
                               rng.uniform(0.12, 0.3), 0.0, 0.5], np.float32)
        self.tex_offset = rng.uniform(0, _TEX, 2)
        self.tex_angle = rng.uniform(0, 2 * np.pi)
        # Cone colour variation of this event (faded, dirty).
        self.cone_tint = rng.uniform(0.88, 1.06, 3)
        self.black_bases = rng.random() < 0.4
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

    # -- cones -------------------------------------------------------------------
    def _make_cones(self, rng: np.random.Generator) -> None:
        tr = self.track
        cones: List[Tuple[float, float, int, str, Tuple, Tuple, float]] = []
        orange_zone = (-rng.uniform(4, 18), rng.uniform(4, 16)) if rng.random() < 0.8 \
            else (0.0, 0.0)
        max_gap = rng.uniform(3.5, 5.0)
        gaps = np.clip(0.3 / np.maximum(np.abs(tr.curvature), 1e-6), 2.0, max_gap).tolist()
        for edge, colour in ((tr.left, BLUE), (tr.right, YELLOW)):
            jitter = rng.uniform(0.88, 1.12, int(tr.length / 1.7) + 2).tolist()
            s = rng.uniform(0, max_gap)
            end = s + tr.length - 1.5
            arc = []
            while s < end:   # closer in tight corners, up to max_gap on straights
                arc.append(s)
                s += gaps[int(round(s / tr.ds)) % tr.n] * jitter[len(arc) - 1]
            x = np.array(arc) / tr.ds
            i0 = np.floor(x).astype(int) % tr.n
            f = (x - np.floor(x))[:, None]
            pos = edge[i0] * (1 - f) + edge[(i0 + 1) % tr.n] * f
            pos += rng.normal(0, 0.06, pos.shape)
            yaw = rng.uniform(0, 6.3, len(arc))
            wrapped = (np.array(arc) + tr.length / 2) % tr.length - tr.length / 2
            orange = (wrapped >= orange_zone[0]) & (wrapped <= orange_zone[1])
            cones.extend((float(p[0]), float(p[1]), ORANGE if o else colour, 'small', None,
                          None, float(y)) for p, o, y in zip(pos, orange, yaw))
        if rng.random() < 0.85:   # large orange cones at the start/finish line
            for ds in (-0.6, 0.6):
                for side in (1, -1):
                    i = tr.index(ds % tr.length)
                    off = tr.width[i] / 2 + rng.uniform(0.35, 0.6)
                    p = tr.center[i] + tr.normal[i] * off * side
                    cones.append((p[0], p[1], LARGE_ORANGE, 'large', None, None,
                                  rng.uniform(0, 6.3)))
        # A few cones of no FS colour: on the edge instead of a track cone, or beside it.
        for _ in range(int(rng.integers(2, 7))):
            self._add_unknown(cones, rng, rng.uniform(0, tr.length))
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
                      stripe if stripe is None else tuple(stripe), rng.uniform(0, 6.3)))

    def cone_arrays(self) -> Dict[str, Any]:
        """
        Return the cones as arrays (built once, again only after cones were added).

        Every cone has 6 ring heights (base of the body, stripe edges, top; unused
        levels repeat the top) and 5 body segments with their albedo.
        """
        n = len(self.cones)
        if self._cone_cache is not None and self._cone_cache['n'] == n:
            return self._cone_cache
        x, y, cls, kind, body_u, stripe_u, yaw = (list(c) for c in zip(*self.cones)) \
            if n else ([],) * 7
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
            'plate_h': t['plate_h'], 'height': t['height'], 'taper': t['taper']}
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

    def _make_objects(self, rng: np.random.Generator) -> None:
        """Boxes beside the track: tyre stacks, barriers, containers, tents."""
        tr = self.track
        self.boxes = []
        for _ in range(int(rng.integers(4, 18))):
            s = rng.uniform(0, tr.length)
            i = tr.index(s)
            side = 1 if rng.random() < 0.5 else -1
            off = tr.width[i] / 2 + rng.uniform(3.0, 25.0)
            p = tr.center[i] + tr.normal[i] * off * side
            # keep clear of every part of the track
            if np.min(np.linalg.norm(tr.center - p, axis=1)) < tr.width.max() / 2 + 2.5:
                continue
            kind = rng.random()
            if kind < 0.35:     # tyre stack
                size = (rng.uniform(0.6, 0.8), rng.uniform(0.6, 0.8), rng.uniform(0.4, 1.2))
                col = np.full(3, rng.uniform(0.05, 0.12))
            elif kind < 0.65:   # barrier
                size = (rng.uniform(1.5, 4.0), rng.uniform(0.4, 0.7), rng.uniform(0.6, 1.1))
                col = np.array([(0.6, 0.6, 0.58), (0.8, 0.15, 0.1), (0.85, 0.85, 0.85)][
                    int(rng.integers(3))]) * rng.uniform(0.8, 1.1)
            else:               # container / tent / trailer: mostly muted colours
                size = (rng.uniform(2.0, 6.0), rng.uniform(2.0, 3.0), rng.uniform(2.0, 3.0))
                grey = rng.uniform(0.15, 0.9)
                col = np.clip(grey + rng.uniform(-0.12, 0.12, 3) * rng.uniform(0, 2.5), 0, 1)
            self.boxes.append((p[0], p[1], rng.uniform(0, np.pi), size, col))

    def _make_horizon(self, rng: np.random.Generator) -> None:
        """Tree line around the venue: heights on a ring far beyond the track."""
        tr = self.track
        self.venue_center = tr.center.mean(axis=0)
        self.ring_radius = float(np.max(np.linalg.norm(tr.center - self.venue_center, axis=1))
                                 + rng.uniform(120, 300))
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


# ----------------------------------------------------------------------------------
# Camera
# ----------------------------------------------------------------------------------


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


def _colour(c: np.ndarray) -> Tuple[float, float, float]:
    """Return an RGB array as the float tuple OpenCV takes as a colour."""
    return (float(c[0]), float(c[1]), float(c[2]))


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


# ----------------------------------------------------------------------------------
# Renderer
# ----------------------------------------------------------------------------------

_D_BINS = 30.0     # distance (m) at the middle of the palette's distance axis
_D_GRAIN = 25.0    # distance (m) at which the fine grain has faded to half


def _palette(scene: _Scene) -> np.ndarray:
    """
    Return the scene's colour palette (5 blocks of 64 x 64 RGB), built once per scene.

    Ground blocks (grass, apron, track): rows = distance bins (haze), columns = coarse
    texture (albedo a -> b); sky block: rows = cloud amount, columns = elevation;
    tree block: columns = texture. One ``cv2.remap`` of this table colours every pixel.
    """
    if scene.palette is not None:
        return scene.palette
    r = np.arange(64, dtype=np.float64)
    c = (np.arange(64, dtype=np.float64) / 63.0)[None, :, None]
    dist = _D_BINS * r / np.maximum(63.0 - r, 1e-9)
    haze = (dist / (dist + scene.haze))[:, None, None]
    haze[-1] = 1.0
    hz = scene.sky_horizon[None, None, :]
    blocks = []
    for m in (_GRASS, _APRON, _TRACK_MAT):
        alb = scene.albedo_a[m] + (scene.albedo_b[m] - scene.albedo_a[m]) * c
        blocks.append(alb * scene.lit * (1 - haze) + hz * haze)
    elev = c
    grad = hz + (scene.sky_zenith - scene.sky_horizon)[None, None, :] * np.sqrt(
        np.minimum(elev * 2.5, 1.0))
    amount = (r / 63.0)[:, None, None] * scene.cloud_cover * np.minimum(elev * 8.0, 1.0)
    blocks.append(grad + (scene.cloud_colour[None, None, :] - grad) * amount)
    h_t = 0.5 * scene.ring_radius / (scene.ring_radius + scene.haze)
    alb = scene.albedo_a[_TREES] + (scene.albedo_b[_TREES] - scene.albedo_a[_TREES]) * c
    blocks.append(np.broadcast_to(alb * scene.lit * 0.85 * (1 - h_t) + hz * h_t, (64, 64, 3)))
    scene.palette = np.ascontiguousarray(np.concatenate(blocks, axis=0), dtype=np.float32)
    return scene.palette


def _render(scene: _Scene, cam: _Camera, rng: np.random.Generator,
            effects: Dict[str, Any]) -> Tuple[np.ndarray, np.ndarray]:
    """Render one view; returns (RGB uint8 image, uint8 class-id mask)."""
    W, H = cam.width, cam.height
    f32 = np.float32
    tr = scene.track
    right, down, fwd = cam.R
    a = ((np.arange(W) - cam.cx) / cam.f)[None, :]
    b = ((np.arange(H) - cam.cy) / cam.f)[:, None]
    ca, sa = math.cos(scene.tex_angle), math.sin(scene.tex_angle)
    rot = np.array([[ca, -sa, 0.0], [sa, ca, 0.0], [0.0, 0.0, 1.0]])

    def ray(vec: np.ndarray) -> np.ndarray:   # world component of every pixel's ray
        return (b * vec[1]).astype(f32) + (a * vec[0] + vec[2]).astype(f32)

    basis = rot @ np.stack([right, down, fwd], axis=1)   # rows: tex-x, tex-y, z
    ex, ey, dz = ray(basis[0]), ray(basis[1]), ray(basis[2])
    inv_norm = f32(1.0) / np.sqrt((b * b).astype(f32) + (a * a + 1.0).astype(f32))
    ground = dz < 0
    g = ground.astype(f32)

    # Materials by polygons, in the same fixed-point geometry as everything else.
    mat = np.zeros((H, W), np.uint8)   # grass
    if scene.apron is not None:
        for p in _ground_polys(cam, scene.apron[None]):
            cv2.fillPoly(mat, [p], _APRON, shift=4)
    near = np.linalg.norm(tr.center - cam.pos[:2], axis=1) < scene.ring_radius
    sel = np.nonzero(near & np.roll(near, -1))[0]
    nxt = (sel + 1) % tr.n
    if scene.shoulder > 0:
        for sign, edge in ((1, tr.left), (-1, tr.right)):
            outer = edge + tr.normal * (scene.shoulder * sign)
            quads = np.stack([edge[sel], edge[nxt], outer[nxt], outer[sel]], axis=1)
            for p in _ground_polys(cam, quads):
                cv2.fillConvexPoly(mat, p, _APRON, shift=4)
    quads = np.stack([tr.left[sel], tr.left[nxt], tr.right[nxt], tr.right[sel]], axis=1)
    for p in _ground_polys(cam, quads):
        cv2.fillConvexPoly(mat, p, _TRACK_MAT, shift=4)
    np.bitwise_or(mat, (~ground).view(np.uint8) * np.uint8(_SKY), out=mat)   # 0..2 | 3 = 3
    _draw_tree_line(scene, cam, mat)
    mask = (mat == _TRACK_MAT).view(np.uint8) * np.uint8(TRACK)

    # Texture coordinates: the ground in world texels, the sky on a cloud plane 1 km up.
    with np.errstate(divide='ignore'):
        inv_dz = np.clip(f32(1.0) / dz, f32(-1e4), f32(1e4))
    kg = np.maximum(inv_dz * f32(-cam.pos[2] / _GROUND_TEXEL), f32(0))
    ks = np.maximum(inv_dz * f32(1000.0 / _CLOUD_TEXEL), f32(0))
    k = kg + ks
    cpos = rot @ cam.pos
    off_g = cpos[:2] / _GROUND_TEXEL + scene.tex_offset
    off_s = cpos[:2] / _CLOUD_TEXEL + scene.tex_offset
    mx = ex * k + (g * f32(off_g[0] - off_s[0]) + f32(off_s[0]))
    my = ey * k + (g * f32(off_g[1] - off_s[1]) + f32(off_s[1]))
    mx -= np.floor(mx * f32(1.0 / _TEX)) * f32(_TEX)
    my -= np.floor(my * f32(1.0 / _TEX)) * f32(_TEX)
    fine, coarse, clouds, _ = cv2.split(cv2.remap(_textures(), mx, my, cv2.INTER_LINEAR,
                                                  borderMode=cv2.BORDER_WRAP))

    # Colour: one palette lookup (material, distance / cloud, texture / elevation).
    q = np.abs(dz) * inv_norm                     # sine of the angle to the horizon
    cz = f32(cam.pos[2])
    w63 = np.clip(coarse * f32(0.9 * 63) + f32(31.5), f32(0), f32(63))
    c63 = np.clip((clouds - f32(scene.cloud_thresh)) * f32(2.5 * 63), f32(0), f32(63))
    u63 = f32(63) * cz / (cz + f32(_D_BINS) * q)
    q63 = q * f32(63)
    px = q63 + g * (w63 - q63)
    py = mat.astype(f32) * f32(64) + c63 + g * (u63 - c63)
    col = cv2.remap(_palette(scene), px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    fade = q / (q + cz * f32(1.0 / _D_GRAIN))
    grain = np.take(scene.grain, mat) * fade * fine + f32(1.0)
    col *= grain[..., None]

    _draw_objects(scene, cam, col, mask)
    if scene.nose is not None:
        _draw_nose(scene, col, mask)
    img = _camera_effects(col, rng, effects)
    return img, mask


def _draw_tree_line(scene: _Scene, cam: _Camera, mat: np.ndarray) -> None:
    """Fill the tree line (material _TREES) from the ring heights visible in front."""
    h = scene.ring_heights
    if not np.any(h > 0):
        return
    pts = scene.ring_points
    rel = np.arctan2(pts[:, 1] - cam.pos[1], pts[:, 0] - cam.pos[0]) - cam.yaw
    rel = (rel + np.pi) % (2 * np.pi) - np.pi
    keep = np.nonzero(np.abs(rel) < math.radians(80))[0]
    if len(keep) < 2:
        return
    keep = keep[np.argsort(rel[keep])]
    top = np.concatenate([pts[keep], h[keep, None]], axis=1)
    bottom = np.concatenate([pts[keep], np.zeros((len(keep), 1))], axis=1)
    pc = cam.to_cam(np.concatenate([top, bottom[::-1]]))
    if np.any(pc[:, 2] < _NEAR):
        return
    cv2.fillPoly(mat, [_fixed(cam.project(pc))], _TREES, shift=4)


_RING_CS = np.stack([np.cos(np.linspace(0, 2 * np.pi, _RING, endpoint=False)),
                     np.sin(np.linspace(0, 2 * np.pi, _RING, endpoint=False))], axis=1)
_SQUARE = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])


def _draw_objects(scene: _Scene, cam: _Camera, col: np.ndarray, mask: np.ndarray) -> None:
    """Draw shadows, then cones and boxes far to near, then shade the near cones."""
    H, W = mask.shape
    tanh = (W / 2 + 8) / cam.f
    cones = scene.cone_arrays()
    items = []   # (depth, kind, index)
    nv = 0
    if cones['n']:
        centre = np.concatenate([cones['pos'], cones['height'][:, None] / 2], axis=1)
        pc = cam.to_cam(centre)
        z = pc[:, 2]
        vis = (z > 0.5) & (np.abs(pc[:, 0]) < tanh * z + 0.4)
        vis &= (np.abs(pc[:, 1]) < (H / cam.f) * z + 1.0)
        vis &= cam.f * cones['height'] / np.maximum(z, 1e-3) > 1.0
        idx = np.nonzero(vis)[0]
        nv = len(idx)
    if nv:
        geo = _cone_points(scene, cam, cones, idx)
        for j in range(nv):
            if geo['ok'][j]:
                items.append((z[idx[j]], 0, j))
    for j, bx in enumerate(scene.boxes):
        c = cam.to_cam(np.array([bx[0], bx[1], bx[3][2] / 2]))
        r = math.hypot(bx[3][0], bx[3][1]) / 2
        if c[2] + r > 0.5 and abs(c[0]) < tanh * max(c[2], 0) + r + 0.5:
            items.append((c[2], 1, j))
    if not items:
        return
    items.sort(key=lambda it: -it[0])
    boxes = {j: _box_geometry(scene, cam, scene.boxes[j]) for _, kind, j in items if kind == 1}

    # Shadows on the ground first (everything drawn so far is ground, sky, trees).
    if scene.direct > 0.05:
        shadow = np.zeros((H, W), np.uint8)
        for _, kind, j in items:
            if kind == 0:
                poly = geo['shadow'][j]
                if poly is not None:
                    cv2.fillConvexPoly(shadow, cv2.convexHull(poly), 255, shift=4)
                continue
            gb = boxes[j]
            if gb is not None:
                for p in _ground_polys(cam, gb['shadow'][None]):
                    cv2.fillConvexPoly(shadow, p, 255, shift=4)
        shadow = cv2.GaussianBlur(shadow, (0, 0), 0.8)
        k = np.float32((1.0 - scene.ambient / scene.lit) / 255.0)
        col *= (np.float32(1.0) - shadow.astype(np.float32) * k)[..., None]

    ids = np.zeros((H, W), np.int16)
    shaded = []
    for _, kind, j in items:
        if kind == 1:
            gb = boxes[j]
            if gb is None:
                continue
            for poly, colour in gb['faces']:
                cv2.fillConvexPoly(col, poly, colour, shift=4)
            cv2.fillConvexPoly(mask, gb['hull'], BACKGROUND, shift=4)
            if shaded:
                cv2.fillConvexPoly(ids, gb['hull'], 0, shift=4)
            continue
        i = idx[j]
        cls = int(cones['cls'][i])
        plate = cv2.convexHull(geo['plate'][j])
        body = cv2.convexHull(np.concatenate([geo['rings'][j, 0], geo['rings'][j, -1]]))
        if geo['px_height'][j] < 6.0:   # far: flat colour, mean shading
            cv2.fillConvexPoly(col, plate, geo['base_lit'][j], shift=4)
            cv2.fillConvexPoly(col, body, geo['mean_lit'][j], shift=4)
            value = 0
        else:
            cv2.fillConvexPoly(col, plate, _colour(cones['base'][i]), shift=4)
            rings = geo['rings'][j]
            for s in range(5):
                if cones['seg_on'][i, s]:
                    hull = cv2.convexHull(np.concatenate([rings[s], rings[s + 1]]))
                    cv2.fillConvexPoly(col, hull, _colour(cones['seg_col'][i, s]), shift=4)
            cv2.fillConvexPoly(col, cv2.convexHull(rings[-1]), (0.05, 0.05, 0.05), shift=4)
            value = len(shaded) + 1
            shaded.append(j)
        cv2.fillConvexPoly(mask, plate, cls, shift=4)
        cv2.fillConvexPoly(mask, body, cls, shift=4)
        if shaded:
            cv2.fillConvexPoly(ids, plate, value, shift=4)
            cv2.fillConvexPoly(ids, body, value, shift=4)
    for n, j in enumerate(shaded):
        _shade_cone(scene, col, ids, n + 1, geo, j)


def _cone_points(scene: _Scene, cam: _Camera, cones: Dict[str, Any],
                 idx: np.ndarray) -> Dict[str, Any]:
    """Project the visible cones at once: rings, base plates, shadows, shading terms."""
    nv = len(idx)
    pos = cones['pos'][idx]
    radii = cones['radii'][idx]
    zs = cones['zs'][idx]
    rings = np.empty((nv, 6, _RING, 3))
    rings[..., 0] = pos[:, None, None, 0] + radii[:, :, None] * _RING_CS[None, None, :, 0]
    rings[..., 1] = pos[:, None, None, 1] + radii[:, :, None] * _RING_CS[None, None, :, 1]
    rings[..., 2] = zs[:, :, None]
    yaw = cones['yaw'][idx]
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    half = cones['plate_half'][idx][:, None]
    sx, sy = _SQUARE[None, :, 0] * half, _SQUARE[None, :, 1] * half
    sq = np.stack([pos[:, None, 0] + c * sx - s * sy, pos[:, None, 1] + s * sx + c * sy], axis=2)
    plate = np.concatenate([
        np.concatenate([sq, np.zeros((nv, 4, 1))], axis=2),
        np.concatenate([sq, cones['plate_h'][idx][:, None, None].repeat(4, 1)], axis=2)], axis=1)
    pc_r = cam.to_cam(rings)
    pc_p = cam.to_cam(plate)
    ok = (pc_r[..., 2].reshape(nv, -1).min(1) >= _NEAR) & (pc_p[..., 2].min(1) >= _NEAR)
    pc_r[..., 2] = np.maximum(pc_r[..., 2], _NEAR)
    pc_p[..., 2] = np.maximum(pc_p[..., 2], _NEAR)
    uv_r = cam.project(pc_r)
    out = {'ok': ok, 'rings': _fixed(uv_r), 'plate': _fixed(cam.project(pc_p))}
    out['px_height'] = uv_r[:, 0, :, 1].max(1) - uv_r[:, -1, :, 1].min(1)
    lo = np.minimum(uv_r.reshape(nv, -1, 2).min(1), out['plate'].min(1) / 16.0)
    hi = np.maximum(uv_r.reshape(nv, -1, 2).max(1), out['plate'].max(1) / 16.0)
    out['bbox'] = np.concatenate([lo, hi], axis=1)
    # Shading terms: view direction, light, taper (Lambert + Blinn-Phong on a frustum).
    centre = np.concatenate([pos, (cones['height'][idx] / 2)[:, None]], axis=1)
    v = cam.pos[None, :] - centre
    vh = v[:, :2] / (np.linalg.norm(v[:, :2], axis=1, keepdims=True) + 1e-9)
    rh = np.stack([-vh[:, 1], vh[:, 0]], axis=1)
    rh *= np.sign(rh @ cam.R[0, :2] + 1e-12)[:, None]
    beta = cones['taper'][idx]
    cb, sbeta = np.cos(beta), np.sin(beta)
    L = scene.sun_dir
    hv = L[None, :] + v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-9)
    hv /= np.linalg.norm(hv, axis=1, keepdims=True) + 1e-9
    out['light'] = np.stack([cb * (vh @ L[:2]), cb * (rh @ L[:2]), sbeta * L[2],
                             cb * np.einsum('ij,ij->i', vh, hv[:, :2]),
                             cb * np.einsum('ij,ij->i', rh, hv[:, :2]), sbeta * hv[:, 2]], 1)
    mean_shade = scene.ambient + scene.direct * np.maximum(
        out['light'][:, 0] * 0.78 + out['light'][:, 2], 0)
    out['mean_lit'] = [tuple(v) for v in cones['mean_col'][idx] * mean_shade[:, None]]
    out['base_lit'] = [tuple(v) for v in cones['base'][idx] * mean_shade[:, None]]
    # Shadows: the hull of the base square and the top ring cast along the sun.
    out['shadow'] = [None] * nv
    if scene.direct > 0.05:
        sd = -scene.sun_dir[:2] / scene.sun_dir[2]
        tip = rings[:, -1, :, :2] + zs[:, -1, None, None] * sd
        pts = np.concatenate([sq, tip], axis=1)
        p3 = np.concatenate([pts, np.zeros(pts.shape[:2] + (1,))], axis=2)
        pc_s = cam.to_cam(p3)
        good = pc_s[..., 2].min(1) >= _NEAR
        pc_s[..., 2] = np.maximum(pc_s[..., 2], _NEAR)
        uv_s = _fixed(cam.project(pc_s))
        out['shadow'] = [uv_s[j] if good[j] else None for j in range(nv)]
    return out


def _box_geometry(scene: _Scene, cam: _Camera, box: Tuple) -> Optional[Dict[str, Any]]:
    """Project one box: visible faces with Lambert shading, silhouette, shadow."""
    x, y, yaw, (sx, sy, sz), albedo = box
    c, s = math.cos(yaw), math.sin(yaw)
    rot = np.array([[c, -s], [s, c]])
    sq = (np.array([[-sx, -sy], [sx, -sy], [sx, sy], [-sx, sy]]) / 2) @ rot.T + np.array([x, y])
    corners = np.concatenate([np.concatenate([sq, np.zeros((4, 1))], 1),
                              np.concatenate([sq, np.full((4, 1), sz)], 1)])
    pc = cam.to_cam(corners)
    if pc[:, 2].min() < _NEAR:
        return None
    uv = _fixed(cam.project(pc))
    faces = [((0, 1, 5, 4), (0, -1, 0)), ((1, 2, 6, 5), (1, 0, 0)),
             ((2, 3, 7, 6), (0, 1, 0)), ((3, 0, 4, 7), (-1, 0, 0)), ((4, 5, 6, 7), (0, 0, 1))]
    out = []
    for idx, n in faces:
        nw = np.array([rot[0, 0] * n[0] + rot[0, 1] * n[1], rot[1, 0] * n[0] + rot[1, 1] * n[1],
                       n[2]])
        centre = corners[list(idx)].mean(0)
        if np.dot(nw, cam.pos - centre) <= 0:
            continue
        shade = scene.ambient + scene.direct * max(0.0, float(np.dot(nw, scene.sun_dir)))
        out.append((uv[list(idx)], tuple(float(v) for v in albedo * shade)))
    sd = -scene.sun_dir[:2] / max(scene.sun_dir[2], 0.05)
    shadow = cv2.convexHull(np.concatenate([sq, sq + sz * sd]).astype(np.float32))
    return {'faces': out, 'hull': cv2.convexHull(uv),
            'shadow': shadow.reshape(-1, 2).astype(np.float64)}


def _shade_cone(scene: _Scene, col: np.ndarray, ids: np.ndarray, cid: int,
                geo: Dict[str, Any], j: int) -> None:
    """Multiply a drawn cone by Lambert + specular shading across its silhouette."""
    H, W = ids.shape
    x0, y0, x1, y1 = geo['bbox'][j]
    x0, y0 = max(int(x0) - 1, 0), max(int(y0) - 1, 0)
    x1, y1 = min(int(x1) + 2, W), min(int(y1) + 2, H)
    if x1 <= x0 or y1 <= y0:
        return
    region = ids[y0:y1, x0:x1] == cid
    if not region.any():
        return
    la, lb, lc, ha, hb, hc = geo['light'][j]
    rw = region.shape[1]
    any_row = region.any(axis=1)
    left = np.argmax(region, axis=1).astype(np.float32)
    right = (rw - 1 - np.argmax(region[:, ::-1], axis=1)).astype(np.float32)
    mid = (left + right) / 2
    half = np.maximum((right - left) / 2 + 0.5, 0.5)
    xs = np.arange(rw, dtype=np.float32)
    t = np.clip((xs[None, :] - mid[:, None]) / half[:, None], -1, 1)
    t[~any_row] = 0
    ct = np.sqrt(1 - t * t)
    lam = np.maximum(la * ct + lb * t + lc, 0)
    spec = np.maximum(ha * ct + hb * t + hc, 0) ** 24 * (0.35 * scene.direct)
    shade = (scene.ambient + scene.direct * lam).astype(np.float32)
    sub = col[y0:y1, x0:x1]
    sub[region] = sub[region] * shade[region][:, None] + spec[region][:, None].astype(np.float32)


def _draw_nose(scene: _Scene, col: np.ndarray, mask: np.ndarray) -> None:
    """Draw the car's nose at the bottom of the image (an occluder, background)."""
    H, W = mask.shape
    height, half_w, colour = scene.nose
    top = H * (1 - height)
    ang = np.linspace(0, np.pi, 24)
    arc = np.stack([W / 2 - np.cos(ang) * half_w * W, H + 2 - np.sin(ang) * (H + 2 - top)], 1)
    p = _fixed(arc)
    shade = scene.ambient + scene.direct * 0.6
    cv2.fillConvexPoly(col, p, tuple(float(v) * shade for v in colour), shift=4)
    cv2.fillConvexPoly(mask, p, BACKGROUND, shift=4)


def _white_balance(rng: np.random.Generator) -> np.ndarray:
    """Return per-channel gains: a warm/cool shift plus a little green/magenta."""
    temp = rng.uniform(-0.06, 0.06)
    tint = rng.uniform(-0.025, 0.025)
    return np.array([1.0 + temp, 1.0 + tint, 1.0 - temp])


def _sample_effects(rng: np.random.Generator) -> Dict[str, Any]:
    """Draw camera effects: exposure, white balance, tone, vignetting, blur, noise, JPEG."""
    return {
        'exposure': float(np.exp(rng.normal(0.0, 0.22))),
        'wb': _white_balance(rng),
        'gamma': float(rng.uniform(0.8, 1.2)),
        'vignette': float(rng.uniform(0.0, 0.45)) if rng.random() < 0.5 else 0.0,
        'blur': float(rng.uniform(0.3, 1.2)) if rng.random() < 0.7 else 0.0,
        'motion': int(rng.integers(3, 10)) if rng.random() < 0.2 else 0,
        'motion_angle': float(rng.uniform(-20, 20)),
        'noise': float(rng.uniform(0.0, 6.0)),
        'jpeg': int(rng.integers(35, 92)) if rng.random() < 0.3 else 0,
    }


def _camera_effects(col: np.ndarray, rng: np.random.Generator,
                    fx: Dict[str, Any]) -> np.ndarray:
    """Turn the scene radiance into an 8-bit camera image."""
    H, W = col.shape[:2]
    gain = np.asarray(fx['wb'], dtype=np.float64) * fx['exposure'] * 255.0
    if fx['vignette'] > 0:
        col *= (np.float32(1.0) - np.float32(fx['vignette']) * _vignette(H, W))[..., None]
    col = cv2.multiply(col, (float(gain[0]), float(gain[1]), float(gain[2]), 0.0))
    img = cv2.convertScaleAbs(col)   # saturates to uint8
    lut = np.clip(255.0 * (np.arange(256) / 255.0) ** fx['gamma'], 0, 255).astype(np.uint8)
    img = cv2.LUT(img, lut)
    if fx['blur'] > 0:
        img = cv2.GaussianBlur(img, (0, 0), fx['blur'])
    if fx['motion'] > 1:
        n = fx['motion']
        k = np.zeros((n, n), np.float32)
        k[n // 2, :] = 1.0 / n
        rot = cv2.getRotationMatrix2D(((n - 1) / 2, (n - 1) / 2), fx['motion_angle'], 1.0)
        k = cv2.warpAffine(k, rot, (n, n))
        k /= max(float(k.sum()), 1e-6)
        img = cv2.filter2D(img, -1, k)
    if fx['noise'] > 0:
        oy, ox = rng.integers(0, 32, 2)
        n = _sensor_noise(H, W)[oy:oy + H, ox:ox + W] * np.float32(fx['noise'])
        img = cv2.add(img, n, dtype=cv2.CV_8U)
    if fx['jpeg']:
        ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, fx['jpeg']])
        if ok:
            img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return img


# ----------------------------------------------------------------------------------
# Public API: samples, drives, source
# ----------------------------------------------------------------------------------


def _check_size(width: int, height: int) -> None:
    if not (isinstance(width, (int, np.integer)) and isinstance(height, (int, np.integer))):
        raise TypeError(f'width and height must be integers, got {width!r} x {height!r}')
    if width < 16 or height < 16 or width > 8192 or height > 8192:
        raise ValueError(f'resolution {width}x{height} is out of range: width and height '
                         'must be between 16 and 8192 pixels')


def _check_format(image_format: str, quality: int) -> None:
    if image_format not in ('jpg', 'png'):
        raise ValueError(f'image format must be jpg or png, got {image_format!r}')
    if not 1 <= quality <= 100:
        raise ValueError(f'JPEG quality must be in 1..100, got {quality}')


def _check_seed(seed: int) -> None:
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be a non-negative integer, got {seed!r}')


def render_sample(seed: int, index: int, width: int = 640,
                  height: int = 384) -> Tuple[np.ndarray, np.ndarray]:
    """
    Render sample ``index`` of ``seed``: its own track, look and camera pose.

    The result depends only on (seed, index, width, height), so samples can be
    rendered in any order, in any process, on the fly.

    :param seed: non-negative dataset seed.
    :param index: non-negative sample index.
    :param width: image width in pixels.
    :param height: image height in pixels.
    :returns: (RGB uint8 H x W x 3 image, uint8 H x W mask of ``FS_CLASSES`` ids).
    """
    _check_seed(seed)
    _check_seed(index)
    _check_size(width, height)
    rng = np.random.default_rng([_SAMPLE_TAG, int(seed), int(index)])
    scene = _Scene(rng)
    tr = scene.track
    if rng.random() < 0.25:   # approaching or crossing the start line: orange cones
        s = rng.uniform(-35.0, 4.0) % tr.length
    else:
        s = rng.uniform(0, tr.length)
    i = tr.index(s)
    half = max(tr.width[i] / 2 - 0.7, 0.0)
    lateral = rng.uniform(-half, half)
    p = tr.interp(s, tr.center) + tr.interp(s, tr.normal) * lateral
    t = tr.interp(s, tr.tangent)
    yaw = math.atan2(t[1], t[0]) + math.radians(float(np.clip(rng.normal(0, 6), -18, 18)))
    if rng.random() < 0.5:   # more unknown cones where the camera looks
        for _ in range(int(rng.integers(1, 4))):
            scene._add_unknown(scene.cones, rng, s + rng.uniform(5.0, 30.0))
    cam = _Camera((p[0], p[1], scene.cam_height * rng.uniform(0.9, 1.1)), yaw,
                  pitch=math.radians(rng.uniform(-9.0, 1.5)),
                  roll=math.radians(float(np.clip(rng.normal(0, 1.5), -5, 5))),
                  hfov=scene.hfov, width=width, height=height,
                  dcx=rng.normal(0, width * 0.01), dcy=rng.normal(0, height * 0.01))
    return _render(scene, cam, rng, _sample_effects(rng))


class _DrivePlan:
    """A car's path around one track: racing-line offset, speed profile, vibration."""

    def __init__(self, scene: _Scene, rng: np.random.Generator) -> None:
        tr = scene.track
        k = tr.curvature
        win = max(1, int(round(12.0 / tr.ds)))
        kern = np.ones(2 * win + 1) / (2 * win + 1)
        ks = np.convolve(np.concatenate([k[-win:], k, k[:win]]), kern, mode='valid')
        half = np.maximum(tr.width / 2 - 0.8, 0.0)
        self.offset = np.clip(ks * 40.0, -1, 1) * half * 0.8   # cut the inside of corners
        pos = tr.center + tr.normal * self.offset[:, None]
        d = np.roll(pos, -3, axis=0) - np.roll(pos, 3, axis=0)
        self.heading = np.unwrap(np.arctan2(d[:, 1], d[:, 0]))
        speed = np.clip(np.sqrt(6.0 / np.maximum(np.abs(ks), 1e-4)), 4.0,
                        rng.uniform(9.0, 13.0))
        speed = np.convolve(np.concatenate([speed[-win:], speed, speed[:win]]), kern,
                            mode='valid')
        self.pos = pos
        seg = np.linalg.norm(np.roll(pos, -1, axis=0) - pos, axis=1)
        self.time = np.concatenate([[0.0], np.cumsum(seg / speed)])   # t at each sample
        self.lap_time = float(self.time[-1])
        self.phases = rng.uniform(0, 2 * np.pi, 8)
        self.start = tr.index(-rng.uniform(25.0, 40.0) % tr.length)
        self.n = tr.n

    def pose(self, t: float) -> Tuple[np.ndarray, float, float, float]:
        """Return (x, y), yaw, pitch, roll at time ``t`` seconds after the start."""
        t0 = self.time[self.start]
        tt = (t0 + t) % self.lap_time
        x = float(np.interp(tt, self.time, np.arange(self.n + 1)))
        i = int(math.floor(x)) % self.n
        j = (i + 1) % self.n
        f = x - math.floor(x)
        p = self.pos[i] * (1 - f) + self.pos[j] * f
        hi, hj = self.heading[i], self.heading[j]
        hj = hi + (hj - hi + np.pi) % (2 * np.pi) - np.pi
        yaw = hi * (1 - f) + hj * f
        ph = self.phases
        pitch = (math.radians(-3.0) + math.radians(0.6) * math.sin(0.7 * t + ph[0])
                 + math.radians(0.15) * math.sin(11.0 * t + ph[1])
                 + math.radians(0.08) * math.sin(23.0 * t + ph[2]))
        roll = (math.radians(0.8) * math.sin(0.5 * t + ph[3])
                + math.radians(0.12) * math.sin(13.0 * t + ph[4]))
        yaw += math.radians(0.3) * math.sin(1.3 * t + ph[5])
        return p, yaw, pitch, roll


def drive_frame_count(seconds: float, fps: float) -> int:
    """Return the number of frames of a drive of ``seconds`` at ``fps``."""
    return max(1, int(round(seconds * fps)))


Frame = Tuple[int, np.ndarray, np.ndarray]


def render_drive(seed: int, seconds: float = 20.0, fps: float = 30.0, width: int = 1280,
                 height: int = 720, first: int = 0) -> Iterator[Frame]:
    """
    Yield (frame index, RGB image, mask) of a continuous drive around one track.

    The track, look and camera come from ``seed``; frame ``k`` shows the car
    ``k / fps`` seconds after the start, so frames are consecutive and smooth.

    :param seed: non-negative seed of the drive (track, look, camera).
    :param seconds: duration of the drive.
    :param fps: frames per second.
    :param width: image width in pixels.
    :param height: image height in pixels.
    :param first: first frame to yield (to resume a partly written frame folder).
    """
    _check_seed(seed)
    _check_size(width, height)
    if not (seconds > 0 and fps > 0):
        raise ValueError(f'drive duration and fps must be positive, got {seconds} s at {fps} fps')
    rng = np.random.default_rng([_DRIVE_TAG, int(seed)])
    scene = _Scene(rng, drive=True)
    plan = _DrivePlan(scene, rng)
    effects = _sample_effects(rng)
    effects.update(motion=0, jpeg=0, blur=min(effects['blur'], 0.6),
                   noise=min(effects['noise'], 3.0))
    exposure = effects['exposure']
    n = drive_frame_count(seconds, fps)
    for k in range(first, n):
        t = k / fps
        p, yaw, pitch, roll = plan.pose(t)
        frng = np.random.default_rng([_DRIVE_FRAME_TAG, int(seed), k])
        fx = dict(effects)
        fx['exposure'] = exposure * (1.0 + 0.05 * math.sin(0.3 * t + plan.phases[6]))
        cam = _Camera((p[0], p[1], scene.cam_height), yaw, pitch, roll, scene.hfov, width,
                      height)
        img, mask = _render(scene, cam, frng, fx)
        yield k, img, mask


def sample_stem(seed: int, index: int) -> str:
    """Return the file stem of sample ``index`` of ``seed`` (unique across seeds)."""
    return f'synth_s{int(seed)}_{int(index):07d}'


class SyntheticSource(SegmentationSource):
    """
    Synthetic FS scenes rendered on the fly: sample i depends only on (seed, i).

    :ivar count: number of samples.
    :ivar seed: dataset seed; sets of different seeds never share a scene.
    :ivar width: image width.
    :ivar height: image height.
    """

    classes = FS_CLASSES
    labelled = None

    def __init__(self, count: int, seed: int = 0, width: int = 640, height: int = 384) -> None:
        if not isinstance(count, (int, np.integer)) or count < 1:
            raise ValueError(f'SyntheticSource count must be a positive integer, got {count!r}')
        _check_seed(seed)
        _check_size(width, height)
        self.count, self.seed, self.width, self.height = int(count), int(seed), width, height

    def __len__(self) -> int:
        return self.count

    def load(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
        """Render sample ``index`` (RGB uint8 image, uint8 class-id mask)."""
        if not 0 <= index < self.count:
            raise IndexError(f'sample {index} out of range for a SyntheticSource of '
                             f'{self.count} samples')
        return render_sample(self.seed, int(index), self.width, self.height)

    def name(self, index: int) -> str:
        """Return the file stem the CLI uses for sample ``index``."""
        return sample_stem(self.seed, index)


# ----------------------------------------------------------------------------------
# Writing datasets and drives
# ----------------------------------------------------------------------------------


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (no fsync: bulk)."""
    atomic_write_bytes(path, data, durable=False)


def _encode(img_rgb: Optional[np.ndarray], mask: np.ndarray, image_format: str,
            quality: int) -> Tuple[Optional[bytes], bytes]:
    img_bytes = None
    if img_rgb is not None:
        bgr = cv2.cvtColor(img_rgb, cv2.COLOR_RGB2BGR)
        params = [cv2.IMWRITE_JPEG_QUALITY, quality] if image_format == 'jpg' else [
            cv2.IMWRITE_PNG_COMPRESSION, 1]
        ok, buf = cv2.imencode('.' + image_format, bgr, params)
        if not ok:
            raise RuntimeError(f'OpenCV could not encode a {image_format} image')
        img_bytes = buf.tobytes()
    ok, buf = cv2.imencode('.png', mask, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise RuntimeError('OpenCV could not encode a mask PNG')
    return img_bytes, buf.tobytes()


def _write_pair(out: Path, stem: str, image_format: str, quality: int, img: np.ndarray,
                mask: np.ndarray) -> None:
    img_bytes, mask_bytes = _encode(img, mask, image_format, quality)
    # image first, mask last: a mask on disk means the pair is complete
    _atomic_write(out / 'images' / f'{stem}.{image_format}', img_bytes)
    _atomic_write(out / 'masks' / f'{stem}.png', mask_bytes)


def _complete(out: Path, stem: str, image_format: str) -> bool:
    return ((out / 'masks' / f'{stem}.png').is_file()
            and (out / 'images' / f'{stem}.{image_format}').is_file())


def _remove_stale_temps(out: Path) -> None:
    for sub in ('images', 'masks'):
        for p in (out / sub).glob('.*.tmp'):
            try:
                p.unlink()
            except OSError:
                pass


def _meta(seed: int, count: int, width: int, height: int, image_format: str,
          extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    meta = {
        'generator': 'training.synthetic',
        'generator_version': GENERATOR_VERSION,
        'classes': list(FS_CLASSES),
        'palette': [list(c) for c in DEFAULT_PALETTE],
        'seed': int(seed),
        'count': int(count),
        'resolution': {'width': int(width), 'height': int(height)},
        'image_format': image_format,
        'created': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
    }
    meta.update(extra or {})
    return meta


def _prepare_folder(out: Path, meta: Dict[str, Any], keys: Sequence[str]) -> None:
    """Create ``out``; refuse to mix into a folder rendered with other settings."""
    if out.exists() and not out.is_dir():
        raise ValueError(f'{out} exists and is not a folder; choose another output path')
    meta_path = out / 'meta.json'
    if meta_path.is_file():
        try:
            old = json.loads(meta_path.read_text())
        except (OSError, ValueError) as e:
            raise ValueError(f'{meta_path} is unreadable ({e}); remove it or choose another '
                             'output folder') from e
        for key in keys:
            if old.get(key) != meta.get(key):
                raise ValueError(
                    f'{out} already holds a dataset with {key}={old.get(key)!r}, not '
                    f'{meta.get(key)!r}; resume only with the same settings, or choose '
                    'another output folder')
    (out / 'images').mkdir(parents=True, exist_ok=True)
    (out / 'masks').mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(out)


def _write_meta(out: Path, meta: Dict[str, Any]) -> None:
    _atomic_write(out / 'meta.json', (json.dumps(meta, indent=2) + '\n').encode())


def _dataset_job(job: Tuple[str, int, int, int, int, str, int]) -> bool:
    """Render and write one sample unless complete (worker entry point); True if written."""
    out, seed, index, width, height, image_format, quality = job
    out_p = Path(out)
    stem = sample_stem(seed, index)
    if _complete(out_p, stem, image_format):
        return False
    img, mask = render_sample(seed, index, width, height)
    _write_pair(out_p, stem, image_format, quality, img, mask)
    return True


def _progress(iterable: Any, total: int, desc: str, quiet: bool) -> Any:
    if quiet:
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, total=total, desc=desc, unit='img', dynamic_ncols=True)


def write_dataset(out: Path, count: int, seed: int = 0, width: int = 640, height: int = 384,
                  image_format: str = 'jpg', quality: int = 95, workers: int = 1,
                  quiet: bool = False) -> Dict[str, int]:
    """
    Write samples 0..count-1 of ``seed`` as a folder dataset; skip complete pairs.

    :param out: output folder (``images/``, ``masks/``, ``meta.json``).
    :param count: number of samples.
    :param seed: dataset seed.
    :param width: image width.
    :param height: image height.
    :param image_format: ``jpg`` or ``png``.
    :param quality: JPEG quality.
    :param workers: processes rendering in parallel.
    :param quiet: no progress bar.
    :returns: counts of ``written`` and ``skipped`` samples.
    """
    _check_seed(seed)
    _check_size(width, height)
    if count < 1:
        raise ValueError(f'--count must be at least 1, got {count}')
    _check_format(image_format, quality)
    out = Path(out)
    meta = _meta(seed, count, width, height, image_format,
                 {'stem_format': 'synth_s{seed}_{index:07d}', 'complete': False})
    _prepare_folder(out, meta, ('generator_version', 'seed', 'resolution', 'image_format'))
    _write_meta(out, meta)
    jobs = [(str(out), seed, i, width, height, image_format, quality) for i in range(count)]
    written = 0
    if workers > 1:
        import multiprocessing
        # spawn, not fork: forking a process whose threads (torch, OpenCV) hold locks
        # deadlocks the children; spawned workers start clean on every platform.
        ctx = multiprocessing.get_context('spawn')
        with ctx.Pool(workers, initializer=_worker_init) as pool:
            for w in _progress(pool.imap(_dataset_job, jobs, chunksize=4), count,
                               'synthetic', quiet):
                written += int(w)
    else:
        for job in _progress(jobs, count, 'synthetic', quiet):
            written += int(_dataset_job(job))
    meta['complete'] = True
    _write_meta(out, meta)
    return {'written': written, 'skipped': count - written}


def _worker_init() -> None:
    cv2.setNumThreads(1)


def write_drive(seed: int, seconds: float, fps: float, width: int, height: int,
                video: Optional[Path] = None, frames: Optional[Path] = None,
                image_format: str = 'jpg', quality: int = 95,
                quiet: bool = False) -> Dict[str, Any]:
    """
    Render a drive to an MP4 (``mp4v``) and/or a frame folder (images/ + masks/).

    The video is written to a temporary file and renamed when complete; the frame
    folder is written per file and resumes like a dataset.

    :returns: frame count and paths written.
    """
    if video is None and frames is None:
        raise ValueError('write_drive needs a video path, a frame folder, or both')
    _check_seed(seed)
    _check_size(width, height)
    _check_format(image_format, quality)
    if not (seconds > 0 and fps > 0):
        raise ValueError(f'drive duration and fps must be positive, got {seconds} s at {fps} fps')
    if video is not None:
        video = Path(video)
        if video.suffix.lower() != '.mp4':
            raise ValueError(f'--video {video}: the file name must end in .mp4')
        if width % 2 or height % 2:
            raise ValueError(f'--video needs an even width and height (MP4 encoders halve '
                             f'the chroma resolution), got {width}x{height}')
    n = drive_frame_count(seconds, fps)
    if frames is not None:
        frames = Path(frames)
        meta = _meta(seed, n, width, height, image_format,
                     {'drive_seconds': seconds, 'fps': fps,
                      'stem_format': 'drive_s{seed}_{frame:05d}', 'complete': False})
        _prepare_folder(frames, meta, ('generator_version', 'seed', 'resolution',
                                       'image_format', 'fps'))
        _write_meta(frames, meta)
    writer = None
    tmp_video = None
    if video is not None:
        video.parent.mkdir(parents=True, exist_ok=True)
        tmp_video = video.with_name(f'.{video.stem}.{os.getpid()}.partial.mp4')
        writer = cv2.VideoWriter(str(tmp_video), cv2.VideoWriter_fourcc(*'mp4v'), float(fps),
                                 (width, height))
        if not writer.isOpened():
            raise RuntimeError(f'OpenCV cannot write MP4 (mp4v) to {video}; render a frame '
                               'folder with --frames instead')
    first = 0
    if writer is None:   # frames only: resume after the last complete frame
        while first < n and _complete(frames, f'drive_s{seed}_{first:05d}', image_format):
            first += 1
    try:
        for k, img, mask in _progress(render_drive(seed, seconds, fps, width, height, first),
                                      n - first, 'drive', quiet):
            if writer is not None:
                writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            if frames is not None:
                stem = f'drive_s{seed}_{k:05d}'
                if not _complete(frames, stem, image_format):
                    _write_pair(frames, stem, image_format, quality, img, mask)
        if writer is not None:
            writer.release()
            writer = None
            os.replace(tmp_video, video)
    finally:
        if writer is not None:
            writer.release()
        if tmp_video is not None and tmp_video.exists():
            tmp_video.unlink()
    if frames is not None:
        meta['complete'] = True
        _write_meta(frames, meta)
    return {'frames': n, 'video': str(video) if video else None,
            'frame_dir': str(frames) if frames else None}


def _benchmark(count: int, width: int, height: int, seed: int) -> Tuple[float, float]:
    """Return (wall, CPU) milliseconds per rendered sample (in memory, no files)."""
    import time
    render_sample(seed, 0, width, height)   # textures, caches
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(count):
        render_sample(seed, i + 1, width, height)
    return ((time.perf_counter() - t0) / count * 1000.0,
            (time.process_time() - c0) / count * 1000.0)


# ----------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------


_positive_int = at_least(1)
_seed = at_least(0)
_positive_float = at_least(0, float, inclusive=False)


def get_args_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m training.synthetic``."""
    p = argparse.ArgumentParser(
        prog='python -m training.synthetic',
        description='Render synthetic Formula Student scenes with exact class-id masks: a '
                    'folder dataset (--out) or a continuous drive (--video / --frames).',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='examples:\n'
               '  training set:   --out data/synthetic/train --count 20000 --seed 0\n'
               '  held-out test:  --out data/synthetic/test --count 1000 --seed 1000000\n'
               '  demo drive:     --video demo_out/synthetic_drive.mp4 --frames '
               'demo_out/synthetic_drive\n'
               '                  --drive-seconds 20 --fps 30 --width 1280 --height 720 '
               '--seed 2\n'
               'Sample i of seed s depends only on (s, i): a test set with another seed never '
               'shares a\nscene with the training set; re-running resumes and skips complete '
               'files.')
    p.add_argument('--out', type=Path, help='dataset folder: images/, masks/, meta.json')
    p.add_argument('--count', type=_positive_int, default=1000, help='samples to write')
    p.add_argument('--seed', type=_seed, default=0,
                   help='dataset / drive seed; use seeds never used for training for test sets')
    p.add_argument('--width', type=_positive_int, default=640, help='image width (pixels)')
    p.add_argument('--height', type=_positive_int, default=384, help='image height (pixels)')
    p.add_argument('--format', dest='image_format', choices=('jpg', 'png'), default='jpg',
                   help='image file format (masks are always PNG)')
    p.add_argument('--jpeg-quality', type=int, default=95, help='JPEG quality 1-100')
    p.add_argument('--workers', type=_positive_int, default=1,
                   help='processes rendering in parallel')
    p.add_argument('--video', type=Path, help='render a drive into this .mp4 (mp4v)')
    p.add_argument('--frames', type=Path,
                   help='render a drive into this folder (images/, masks/, meta.json)')
    p.add_argument('--drive-seconds', type=_positive_float, default=20.0,
                   help='duration of the drive')
    p.add_argument('--fps', type=_positive_float, default=30.0, help='frames per second')
    p.add_argument('--benchmark', type=_positive_int, metavar='N',
                   help='render N samples at --width x --height and print ms per frame')
    p.add_argument('--quiet', action='store_true', help='no progress bars')
    return p


def main(args: Optional[argparse.Namespace] = None) -> int:
    """Run the CLI; returns the process exit code."""
    if args is None:
        args = get_args_parser().parse_args()
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    if args.out is None and args.video is None and args.frames is None \
            and args.benchmark is None:
        get_args_parser().error('nothing to do: give --out DIR (a dataset), --video OUT.mp4 '
                                'or --frames DIR (a drive), or --benchmark N')
    try:
        _check_size(args.width, args.height)
        if args.benchmark:
            wall, cpu = _benchmark(args.benchmark, args.width, args.height, args.seed)
            print(f'{wall:.1f} ms wall, {cpu:.1f} ms CPU per {args.width}x{args.height} frame '
                  f'(mean of {args.benchmark}, cv2 threads {cv2.getNumThreads()})')
        if args.out is not None:
            r = write_dataset(args.out, args.count, args.seed, args.width, args.height,
                              args.image_format, args.jpeg_quality, args.workers, args.quiet)
            LOG.info('%s: %d samples written, %d already there (seed %d, %dx%d)', args.out,
                     r['written'], r['skipped'], args.seed, args.width, args.height)
        if args.video is not None or args.frames is not None:
            r = write_drive(args.seed, args.drive_seconds, args.fps, args.width, args.height,
                            args.video, args.frames, args.image_format, args.jpeg_quality,
                            args.quiet)
            LOG.info('drive of %d frames written to %s', r['frames'],
                     ', '.join(x for x in (r['video'], r['frame_dir']) if x))
    except (ValueError, RuntimeError, OSError) as e:
        LOG.error('error: %s', e)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
