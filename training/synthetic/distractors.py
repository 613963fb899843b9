# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Distractors: what an FS event shows besides cones, much of it in cone colours.

People in hi-vis vests, gazebos, banners and feather flags, plastic barriers and
mesh fences, trees, bushes and hedges (autumn ones in orange, yellow and red),
cars, team trailers and hangars, and on the ground paint lines, kerbs, repair
patches and tyre marks. None of it is a cone: the renderer labels every part
``background`` and the paint on the track ``track``.

Objects are built from *parts*, convex solids in the tuple form of the boxes
beside the track, ``(x, y, yaw, (sx, sy, sz), colour, style)``: a prism of
``n`` sides with an elliptic cross-section ``sx`` x ``sy`` (a box for ``n = 4``)
whose rings follow ``style['profile']`` (height fraction, x scale, y scale),
lifted by ``style['z0']``, with per-side colours and decals (coloured quads on a
face: vest stripes, logos, windows, leaves). A convex solid projects to a convex
silhouette, so the label of each part is exact. Ground markings are world
quadrilaterals per colouring material.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

# Ground materials for colouring only (the mask never sees them): 0-4 are the
# scene's grass, apron, track, sky and trees.
_PAINT, _PAINT_YELLOW, _KERB_RED, _KERB_WHITE, _PATCH = range(5, 10)
_N_MATERIALS = 10

Part = Tuple[float, float, float, Tuple[float, float, float], np.ndarray, Dict[str, Any]]
Colour = Tuple[float, float, float]

HIVIS_YELLOW = (0.84, 0.93, 0.14)
HIVIS_ORANGE = (1.0, 0.40, 0.05)
_REFLECTIVE = (0.72, 0.73, 0.74)
_SKIN = ((0.86, 0.66, 0.52), (0.68, 0.47, 0.34), (0.42, 0.28, 0.19), (0.92, 0.74, 0.62))
_TROUSERS = ((0.08, 0.10, 0.18), (0.13, 0.13, 0.13), (0.24, 0.30, 0.42), (0.45, 0.40, 0.30),
             (0.30, 0.30, 0.31))
# Team shirts, tents, banners: cone colours among the others.
_BRIGHT = ((0.08, 0.20, 0.65), (0.95, 0.78, 0.08), (0.98, 0.45, 0.06), (0.92, 0.92, 0.90),
           (0.08, 0.08, 0.09), (0.80, 0.10, 0.10), (0.10, 0.48, 0.22), (0.45, 0.45, 0.47),
           (0.10, 0.45, 0.80), (0.98, 0.60, 0.05))
_CAR = ((0.90, 0.90, 0.90), (0.62, 0.63, 0.65), (0.06, 0.06, 0.07), (0.30, 0.31, 0.33),
        (0.65, 0.08, 0.08), (0.10, 0.22, 0.55), (0.95, 0.75, 0.10), (0.95, 0.45, 0.08))
_GREEN = ((0.10, 0.20, 0.07), (0.14, 0.26, 0.08), (0.08, 0.15, 0.07), (0.18, 0.27, 0.10))
_AUTUMN = ((0.72, 0.32, 0.06), (0.82, 0.62, 0.10), (0.58, 0.13, 0.06), (0.42, 0.27, 0.10),
           (0.64, 0.46, 0.12), (0.85, 0.45, 0.08))
_GLASS = (0.05, 0.07, 0.09)


def _pick(rng: np.random.Generator, table: Sequence[Colour], jitter: float = 0.08) -> Colour:
    """Return a colour of ``table`` with a little value / channel jitter."""
    c = np.array(table[int(rng.integers(len(table)))]) * rng.uniform(1 - jitter, 1 + jitter)
    c = c * rng.uniform(1 - jitter / 2, 1 + jitter / 2, 3)
    return tuple(float(v) for v in np.clip(c, 0.0, 1.0))


def _part(x: float, y: float, yaw: float, size: Tuple[float, float, float], colour: Colour,
          z0: float = 0.0, n: int = 4, profile: Optional[Sequence] = None,
          sides: Optional[Sequence[Colour]] = None, top: Optional[Colour] = None,
          bottom: Optional[Colour] = None, decals: Sequence = ()) -> Part:
    """
    Return one convex part.

    :param size: (sx, sy, sz): cross-section extents and height (m).
    :param colour: albedo of every face without its own colour.
    :param z0: height of the part's bottom above the ground.
    :param n: sides of the prism (4: a box).
    :param profile: rings as (height fraction, x scale, y scale), convex overall.
    :param sides: per-side colours (length ``n``).
    :param top: colour of the top face; ``bottom`` likewise.
    :param decals: (band, side, u0, v0, u1, v1, colour): a quad on a side face in
        its (along, up) coordinates in [0, 1]; side -1 puts it on every side.
    """
    style = {'z0': float(z0), 'n': int(n),
             'profile': tuple(profile) if profile is not None else ((0, 1, 1), (1, 1, 1)),
             'sides': sides, 'top': top, 'bottom': bottom, 'decals': tuple(decals)}
    return (float(x), float(y), float(yaw), tuple(float(v) for v in size),
            np.array(colour, float), style)


class _Frame:
    """Local frame of an object: places parts given in object coordinates."""

    def __init__(self, x: float, y: float, yaw: float) -> None:
        self.x, self.y, self.yaw = x, y, yaw
        self.c, self.s = math.cos(yaw), math.sin(yaw)

    def at(self, lx: float, ly: float) -> Tuple[float, float]:
        """Return the world position of local point (lx, ly)."""
        return self.x + self.c * lx - self.s * ly, self.y + self.s * lx + self.c * ly

    def part(self, lx: float, ly: float, size: Tuple[float, float, float], colour: Colour,
             lyaw: float = 0.0, **kw: Any) -> Part:
        """Return a part at local (lx, ly), turned by ``lyaw`` against the object."""
        x, y = self.at(lx, ly)
        return _part(x, y, self.yaw + lyaw, size, colour, **kw)


def _mottle(rng: np.random.Generator, colour: Colour, bands: int, n: int, per_face: int,
            spread: float, palette: Optional[Sequence[Colour]] = None) -> List[Tuple]:
    """Return leaf-cluster decals: darker, lighter and other-coloured patches on every face."""
    m = bands * n * per_face
    band = np.repeat(np.arange(bands), n * per_face)
    side = np.tile(np.repeat(np.arange(n), per_face), bands)
    u0, v0 = rng.uniform(-0.05, 0.85, m), rng.uniform(-0.05, 0.85, m)
    u1 = np.minimum(u0 + rng.uniform(0.08, 0.3, m), 1.0)
    v1 = np.minimum(v0 + rng.uniform(0.08, 0.28, m), 1.0)
    cols = np.array(colour)[None, :] * rng.uniform(1 - spread, 1 + spread * 0.8, (m, 1))
    if palette is not None:
        other = rng.random(m) < 0.3
        pal = np.array(palette)[rng.integers(len(palette), size=m)]
        pal = pal * rng.uniform(0.85, 1.1, (m, 1))
        cols = np.where(other[:, None], pal, cols)
    cols = np.clip(cols, 0, 1)
    return [(int(b), int(k), float(a), float(c), float(d), float(e), tuple(map(float, col)))
            for b, k, a, c, d, e, col in zip(band, side, u0, v0, u1, v1, cols)]


def _crown(rng: np.random.Generator, x: float, y: float, z0: float, w: float, h: float,
           colour: Colour, palette: Sequence[Colour], blobs: int) -> List[Part]:
    """Return a leafy crown: a few overlapping round blobs, lighter on top."""
    parts = []
    for b in range(blobs):
        main = b == 0
        bw = w * (rng.uniform(0.75, 0.9) if main else rng.uniform(0.45, 0.65))
        bh = h * (rng.uniform(0.85, 1.0) if main else rng.uniform(0.5, 0.7))
        ang, r = rng.uniform(0, 2 * np.pi), 0.0 if main else rng.uniform(0.25, 0.45) * w
        bz = z0 + (0.0 if main else rng.uniform(0.05, 0.35) * h)
        c = tuple(float(v) for v in np.clip(np.array(colour) * rng.uniform(0.85, 1.15), 0, 1))
        parts.append(_part(x + r * math.cos(ang), y + r * math.sin(ang), rng.uniform(0, np.pi),
                           (bw, bw * rng.uniform(0.8, 1.0), bh), c, z0=bz, n=9,
                           profile=((0, 0.5, 0.5), (0.3, 0.95, 0.95), (0.6, 1, 1),
                                    (1, 0.4, 0.4)),
                           decals=_mottle(rng, c, 3, 9, 2, 0.4, palette),
                           top=tuple(float(v) * 1.15 for v in c),
                           bottom=tuple(float(v) * 0.8 for v in c)))
    return parts


# -- people --------------------------------------------------------------------
def person(rng: np.random.Generator, x: float, y: float, yaw: float,
           vest: Optional[Colour] = None) -> List[Part]:
    """Return a standing person: legs, torso (a hi-vis vest or a shirt), arms, head."""
    h = rng.uniform(1.58, 1.92)
    f = _Frame(x, y, yaw)
    trousers = _pick(rng, _TROUSERS)
    shirt = _pick(rng, _BRIGHT, 0.1)
    skin = _pick(rng, _SKIN, 0.06)
    hair = _pick(rng, ((0.06, 0.05, 0.04), (0.25, 0.17, 0.10), (0.55, 0.45, 0.30),
                       (0.45, 0.45, 0.45)) + tuple(_BRIGHT[:4]), 0.1)
    legs_h, torso_h = 0.47 * h, 0.31 * h
    stance = rng.uniform(0.08, 0.13)
    leg = ((0, 0.75, 0.8), (1, 1, 1))   # tapering to the ankle
    parts = [f.part(0.0, side * stance, (0.17, 0.17, legs_h), trousers, n=6, profile=leg)
             for side in (-1, 1)]
    torso = ((0, 0.85, 0.82), (0.8, 1, 1), (1, 0.8, 0.75))   # waist, chest, shoulders
    if vest is not None:
        # a hi-vis vest over the shirt: two reflective bands, the shirt at the hem
        decals = [(0, -1, 0.0, 0.27, 1.0, 0.37, _REFLECTIVE),
                  (0, -1, 0.0, 0.62, 1.0, 0.72, _REFLECTIVE),
                  (0, -1, 0.0, 0.0, 1.0, 0.09, shirt)]
        parts.append(f.part(0.0, 0.0, (0.30, 0.46, torso_h), vest, z0=legs_h, n=6,
                            profile=torso, decals=decals, top=shirt))
    else:
        parts.append(f.part(0.0, 0.0, (0.28, 0.44, torso_h), shirt, z0=legs_h, n=6,
                            profile=torso))
    arm_col = shirt if rng.random() < 0.5 else skin
    swing = rng.uniform(-0.25, 0.25)
    for side in (-1, 1):
        parts.append(f.part(0.02 * side, side * 0.245, (0.10, 0.10, 0.34 * h), arm_col,
                            lyaw=swing * side, z0=0.45 * h, n=6,
                            profile=((0, 0.8, 0.8), (1, 1, 1)),
                            decals=[(0, -1, 0.0, 0.0, 1.0, 0.14, skin)]))
    cap = rng.random() < 0.3
    parts.append(f.part(0.0, 0.0, (0.20, 0.18, 0.135 * h), skin, z0=legs_h + torso_h + 0.02,
                        n=6, profile=((0, 0.8, 0.8), (0.5, 1, 1), (1, 0.85, 0.85)),
                        top=hair, decals=[(1, -1, 0.0, 0.45 if cap else 0.7, 1.0, 1.0,
                                           hair)]))
    return parts


# -- event furniture -----------------------------------------------------------
def gazebo(rng: np.random.Generator, x: float, y: float, yaw: float) -> List[Part]:
    """Return a pop-up gazebo: four legs, a roof with a printed valance, maybe a wall."""
    w, d = (3.0, 3.0) if rng.random() < 0.6 else (4.5, 3.0)
    if rng.random() < 0.2:
        w = 6.0
    leg_h = rng.uniform(1.95, 2.2)
    cloth = _pick(rng, _BRIGHT, 0.06)
    print_col = _pick(rng, _BRIGHT, 0.06)
    f = _Frame(x, y, yaw)
    parts = []
    for sx in (-1, 1):
        for sy in (-1, 1):
            parts.append(f.part(sx * (w / 2 - 0.03), sy * (d / 2 - 0.03), (0.04, 0.04, leg_h),
                                (0.55, 0.55, 0.56)))
    decals = [(0, k, rng.uniform(0.1, 0.3), 0.15, rng.uniform(0.6, 0.9), 0.85, print_col)
              for k in range(4) if rng.random() < 0.7]
    roof_h = rng.uniform(0.6, 0.9)
    val = 0.24 / roof_h
    parts.append(f.part(0.0, 0.0, (w, d, roof_h), cloth, z0=leg_h,
                        profile=((0, 1, 1), (val, 1, 1), (1, 0.12, 0.12)),
                        bottom=tuple(float(v) * 0.7 for v in cloth), decals=decals))
    if rng.random() < 0.45:   # a back wall
        parts.append(f.part(0.0, d / 2 - 0.02, (w - 0.08, 0.02, leg_h - 0.02), cloth))
    if rng.random() < 0.6:    # a table under it
        parts.append(f.part(rng.uniform(-0.5, 0.5), rng.uniform(-0.6, 0.4), (1.8, 0.7, 0.74),
                            (0.85, 0.85, 0.84)))
    return parts


def banner(rng: np.random.Generator, x: float, y: float, yaw: float) -> List[Part]:
    """Return a sponsor banner between two posts: a coloured face with logo blocks."""
    w = rng.uniform(2.0, 5.0)
    h = rng.uniform(0.7, 1.2)
    z0 = rng.uniform(0.0, 0.9)
    back = _pick(rng, _BRIGHT, 0.05)
    f = _Frame(x, y, yaw)
    decals = []
    for _ in range(int(rng.integers(1, 5))):
        u0, v0 = rng.uniform(0.03, 0.7), rng.uniform(0.1, 0.6)
        c = _pick(rng, _BRIGHT, 0.05)
        decals += [(0, s, u0, v0, min(u0 + rng.uniform(0.1, 0.4), 0.97),
                    min(v0 + rng.uniform(0.1, 0.35), 0.9), c) for s in (0, 2)]
    if rng.random() < 0.5:   # a stripe along the bottom
        c = _pick(rng, _BRIGHT, 0.05)
        decals += [(0, s, 0.0, 0.0, 1.0, 0.12, c) for s in (0, 2)]
    edge = (0.3, 0.3, 0.3)
    parts = [f.part(0.0, 0.0, (w, 0.03, h), back, z0=z0, sides=(back, edge, back, edge),
                    decals=decals)]
    post = (0.35, 0.35, 0.36)
    for side in (-1, 1):
        parts.append(f.part(side * (w / 2 + 0.03), 0.0, (0.05, 0.05, z0 + h + 0.05), post))
    return parts


def feather_flag(rng: np.random.Generator, x: float, y: float, yaw: float) -> List[Part]:
    """Return a feather flag: a pole and a tall tapered cloth in event colours."""
    h = rng.uniform(2.2, 3.8)
    w = rng.uniform(0.55, 0.85)
    cloth = _pick(rng, _BRIGHT, 0.05)
    f = _Frame(x, y, yaw)
    decals = [(b, s, 0.1, 0.05, 0.9, 0.95, _pick(rng, _BRIGHT, 0.05))
              for b in range(2) for s in (0, 2) if rng.random() < 0.5]
    return [f.part(0.0, 0.0, (0.035, 0.035, h + 0.1), (0.3, 0.3, 0.32), n=5),
            f.part(w / 2 + 0.02, 0.0, (w, 0.02, h * 0.8), cloth, z0=h * 0.2,
                   profile=((0, 0.55, 1), (0.6, 1, 1), (1, 0.55, 1)), decals=decals)]


def barrier_row(rng: np.random.Generator, x: float, y: float, yaw: float,
                count: int) -> List[Part]:
    """Return a row of plastic road barriers, alternating red / orange and white."""
    length = rng.uniform(1.0, 1.6)
    height = rng.uniform(0.7, 1.0)
    a = _pick(rng, ((0.82, 0.10, 0.08), HIVIS_ORANGE, (0.95, 0.55, 0.05)), 0.05)
    b = _pick(rng, ((0.90, 0.90, 0.88),), 0.05)
    f = _Frame(x, y, yaw)
    return [f.part((k - (count - 1) / 2) * (length + 0.02), 0.0, (length, 0.45, height),
                   a if k % 2 == 0 else b, profile=((0, 1, 1), (0.35, 1, 1), (1, 1, 0.45)))
            for k in range(count)]


def mesh_fence(rng: np.random.Generator, x: float, y: float, yaw: float,
               length: float) -> List[Part]:
    """Return an orange safety mesh fence on posts (as horizontal bands, see-through)."""
    f = _Frame(x, y, yaw)
    colour = _pick(rng, (HIVIS_ORANGE, (0.95, 0.30, 0.05)), 0.06)
    h = rng.uniform(0.9, 1.2)
    spans = max(1, int(round(length / 2.5)))
    span = length / spans
    parts = []
    for k in range(spans + 1):
        parts.append(f.part(-length / 2 + k * span, 0.0, (0.04, 0.04, h + 0.1),
                            (0.5, 0.48, 0.45)))
    bands = int(rng.integers(3, 6))
    for k in range(spans):
        for j in range(bands):
            z = 0.1 + (h - 0.15) * j / max(bands - 1, 1)
            parts.append(f.part(-length / 2 + (k + 0.5) * span, 0.0, (span - 0.05, 0.01, 0.05),
                                colour, z0=z))
    return parts


def tyre_stack(rng: np.random.Generator, x: float, y: float, yaw: float) -> List[Part]:
    """Return a stack of tyres (a dark round prism), sometimes with a white band."""
    size = rng.uniform(0.6, 0.8)
    decals = [(0, -1, 0.0, 0.45, 1.0, 0.6, (0.85, 0.85, 0.82))] if rng.random() < 0.3 else ()
    return [_part(x, y, yaw, (size, size, rng.uniform(0.4, 1.2)),
                  (float(rng.uniform(0.05, 0.12)),) * 3, n=8, decals=decals)]


def block(rng: np.random.Generator, x: float, y: float, yaw: float) -> List[Part]:
    """Return a concrete / red / white barrier block."""
    col = np.array([(0.6, 0.6, 0.58), (0.8, 0.15, 0.1), (0.85, 0.85, 0.85)][
        int(rng.integers(3))]) * rng.uniform(0.8, 1.1)
    return [_part(x, y, yaw, (rng.uniform(1.5, 4.0), rng.uniform(0.4, 0.7),
                              rng.uniform(0.6, 1.1)), tuple(np.clip(col, 0, 1)))]


# -- plants --------------------------------------------------------------------
def _foliage(rng: np.random.Generator, autumn: float) -> Tuple[Colour, Sequence[Colour]]:
    """Return a foliage colour and the palette of its leaf clusters (autumn: some always)."""
    autumn = max(autumn, 0.06)
    if rng.random() < autumn:
        return _pick(rng, _AUTUMN, 0.1), _AUTUMN
    return _pick(rng, _GREEN, 0.15), _GREEN + (_AUTUMN if rng.random() < autumn else ())


def bush(rng: np.random.Generator, x: float, y: float, autumn: float) -> List[Part]:
    """Return a bush: a round, leafy solid on the ground."""
    w = rng.uniform(0.8, 2.6)
    h = rng.uniform(0.6, 1.8)
    col, pal = _foliage(rng, autumn)
    return _crown(rng, x, y, 0.0, w, h, col, pal, int(rng.integers(1, 4)))


def hedge(rng: np.random.Generator, x: float, y: float, yaw: float, length: float,
          autumn: float) -> List[Part]:
    """Return a hedge: a row of leafy blocks of slightly different heights."""
    f = _Frame(x, y, yaw)
    col, pal = _foliage(rng, autumn)
    h = rng.uniform(1.1, 2.6)
    d = rng.uniform(0.8, 1.6)
    seg = rng.uniform(2.0, 4.0)
    k = max(1, int(round(length / seg)))
    parts = []
    for i in range(k):
        c = tuple(float(v) for v in np.clip(np.array(col) * rng.uniform(0.85, 1.15, 3), 0, 1))
        parts.append(f.part((i - (k - 1) / 2) * seg, rng.uniform(-0.1, 0.1),
                            (seg + 0.15, d, h * rng.uniform(0.9, 1.1)), c,
                            profile=((0, 0.95, 0.9), (0.8, 1, 1), (1, 0.97, 0.75)),
                            decals=_mottle(rng, c, 2, 4, 3, 0.35, pal)))
    return parts


def tree(rng: np.random.Generator, x: float, y: float, autumn: float) -> List[Part]:
    """Return a tree: a trunk and a leafy crown (broadleaf or conifer)."""
    trunk_h = rng.uniform(1.2, 3.5)
    trunk_w = rng.uniform(0.2, 0.45)
    bark = _pick(rng, ((0.22, 0.18, 0.14), (0.35, 0.32, 0.28), (0.15, 0.13, 0.11)))
    parts = [_part(x, y, 0.0, (trunk_w, trunk_w, trunk_h + 0.5), bark, n=5)]
    if rng.random() < 0.25:   # conifer: dark, conical, low
        col = _pick(rng, ((0.09, 0.18, 0.08), (0.12, 0.21, 0.10), (0.10, 0.17, 0.12)), 0.15)
        w, h = rng.uniform(2.5, 5.0), rng.uniform(5.0, 12.0)
        parts.append(_part(x, y, rng.uniform(0, np.pi), (w, w, h), col, z0=trunk_h * 0.3, n=8,
                           profile=((0, 1, 1), (0.2, 0.95, 0.95), (1, 0.04, 0.04)),
                           decals=_mottle(rng, col, 2, 8, 1, 0.3)))
        return parts
    col, pal = _foliage(rng, autumn)
    w, h = rng.uniform(3.0, 8.0), rng.uniform(3.0, 8.0)
    return parts + _crown(rng, x, y, trunk_h, w, h, col, pal, int(rng.integers(3, 6)))


# -- vehicles and buildings ----------------------------------------------------
def car(rng: np.random.Generator, x: float, y: float, yaw: float) -> List[Part]:
    """Return a car or a van: body, glazed cabin, wheels."""
    f = _Frame(x, y, yaw)
    paint = _pick(rng, _CAR, 0.05)
    wheel = (0.05, 0.05, 0.05)
    if rng.random() < 0.75:
        L, W, body_h, cab_h, cab_l = (rng.uniform(3.9, 4.8), rng.uniform(1.7, 1.9), 0.75,
                                      rng.uniform(0.5, 0.6), rng.uniform(0.45, 0.55))
    else:
        L, W, body_h, cab_h, cab_l = rng.uniform(4.8, 5.6), 2.0, 1.35, 0.75, 0.8
    parts = []
    for sx in (-1, 1):
        for sy in (-1, 1):
            parts.append(f.part(sx * L * 0.32, sy * (W / 2 - 0.14), (0.62, 0.24, 0.62), wheel,
                                n=8))
    parts.append(f.part(0.0, 0.0, (L, W, body_h), paint, z0=0.25,
                        profile=((0, 0.97, 0.96), (0.7, 1, 1), (1, 0.98, 0.97)),
                        decals=[(1, -1, 0.0, 0.0, 1.0, 0.15, (0.12, 0.12, 0.12))]))
    glass = [(0, s, 0.08, 0.12, 0.92, 0.9, _GLASS) for s in range(4)]
    parts.append(f.part(-L * 0.05, 0.0, (L * cab_l, W * 0.92, cab_h), paint, z0=0.25 + body_h,
                        profile=((0, 1, 1), (1, 0.8, 0.85)), decals=glass))
    return parts


def trailer(rng: np.random.Generator, x: float, y: float, yaw: float) -> List[Part]:
    """Return a team trailer or container: a big box, often with a livery."""
    col = _pick(rng, ((0.92, 0.92, 0.90), (0.7, 0.7, 0.7), (0.15, 0.15, 0.16)) + _BRIGHT[:3],
                0.06)
    L, W, H = rng.uniform(4.0, 8.0), rng.uniform(2.1, 2.5), rng.uniform(2.2, 2.9)
    decals = []
    if rng.random() < 0.7:
        c = _pick(rng, _BRIGHT, 0.05)
        decals = [(0, s, 0.05, rng.uniform(0.1, 0.3), rng.uniform(0.5, 0.95),
                   rng.uniform(0.5, 0.8), c) for s in (0, 2)]
    return [_part(x, y, yaw, (L, W, H), col, z0=0.35, decals=decals),
            _part(x, y, yaw, (L * 0.3, W * 0.8, 0.36), (0.08, 0.08, 0.08))]


def building(rng: np.random.Generator, x: float, y: float, yaw: float) -> List[Part]:
    """Return a far building: a hangar (round roof), a hall or a grandstand."""
    col = _pick(rng, ((0.78, 0.78, 0.76), (0.62, 0.64, 0.66), (0.72, 0.68, 0.60),
                      (0.45, 0.52, 0.58), (0.55, 0.35, 0.28)), 0.06)
    L, W = rng.uniform(20.0, 70.0), rng.uniform(15.0, 40.0)
    H = rng.uniform(6.0, 16.0)
    kind = rng.random()
    if kind < 0.4:    # hangar with a barrel roof and a big door
        prof = ((0, 1, 1), (0.45, 1, 1), (0.75, 1, 0.75), (1, 1, 0.3))
        door = [(0, s, 0.15, 0.0, 0.85, 0.85, tuple(float(v) * 0.8 for v in col))
                for s in (0, 2)]
        return [_part(x, y, yaw, (L, W, H), col, n=4, profile=prof, decals=door)]
    if kind < 0.7:    # grandstand: sloped seating
        prof = ((0, 1, 1), (1, 1, 0.25))
        seats = [(0, s, 0.0, 0.2, 1.0, 0.9, _pick(rng, _BRIGHT, 0.1)) for s in range(4)]
        return [_part(x, y, yaw, (L, W * 0.6, H * 0.7), col, profile=prof, decals=seats)]
    windows = [(0, s, 0.05, 0.55, 0.95, 0.75, _GLASS) for s in range(4)]
    return [_part(x, y, yaw, (L, W, H * 0.6), col, decals=windows)]


# -- ground markings -------------------------------------------------------------
def _quad(p: np.ndarray, d: np.ndarray, length: float, width: float) -> np.ndarray:
    """Return the 4 x 2 rectangle from ``p`` along unit ``d``, ``width`` wide."""
    n = np.array([-d[1], d[0]]) * width / 2
    q = p + d * length
    return np.array([p - n, q - n, q + n, p + n])


def markings(rng: np.random.Generator, center: np.ndarray, normal: np.ndarray,
             tangent: np.ndarray, width: np.ndarray, curvature: np.ndarray,
             airfield: bool) -> Dict[int, np.ndarray]:
    """
    Return the ground markings of a venue: material -> n x 4 x 2 world quads.

    Paint lines (white and yellow: parking bays, taxiway and dashed lines, a start
    line), red and white kerbs on the outside of some corners, repair patches.
    The renderer paints them on asphalt only (kerbs on any ground but the track).
    """
    out: Dict[int, List[np.ndarray]] = {_PAINT: [], _PAINT_YELLOW: [], _KERB_RED: [],
                                        _KERB_WHITE: [], _PATCH: []}
    n = len(center)
    lo, hi = center.min(0) - 30.0, center.max(0) + 30.0
    mid = (lo + hi) / 2
    if airfield or rng.random() < 0.35:   # lines of the car park / airfield the track is on
        ang = rng.uniform(0, np.pi)
        d = np.array([math.cos(ang), math.sin(ang)])
        e = np.array([-d[1], d[0]])
        span = float(np.max(hi - lo))
        if rng.random() < 0.6:   # parking bays: rows of short parallel lines
            colour = _PAINT if rng.random() < 0.8 else _PAINT_YELLOW
            bay, depth = rng.uniform(2.3, 3.0), rng.uniform(4.5, 5.5)
            lw = rng.uniform(0.1, 0.15)
            for row in range(int(rng.integers(1, 5))):
                off = rng.uniform(-span / 2, span / 2)
                start = mid + e * off - d * rng.uniform(0, span / 2)
                for k in range(int(rng.integers(8, 40))):
                    out[colour].append(_quad(start + d * k * bay, e, depth, lw))
                out[colour].append(_quad(start + e * depth, d, 40 * bay, lw))
        for _ in range(int(rng.integers(1, 4))):   # long lines, some dashed
            colour = _PAINT_YELLOW if rng.random() < 0.5 else _PAINT
            lw = rng.uniform(0.12, 0.3)
            a2 = ang + (np.pi / 2 if rng.random() < 0.5 else 0.0) + rng.normal(0, 0.05)
            d2 = np.array([math.cos(a2), math.sin(a2)])
            start = mid + np.array([-d2[1], d2[0]]) * rng.uniform(-span / 2, span / 2) \
                - d2 * span
            if rng.random() < 0.5:
                dash, gap = rng.uniform(1.0, 4.0), rng.uniform(1.0, 6.0)
                for k in range(int(2 * span / (dash + gap))):
                    out[colour].append(_quad(start + d2 * k * (dash + gap), d2, dash, lw))
            else:
                out[colour].append(_quad(start, d2, 2 * span, lw))
    if rng.random() < 0.3:   # a start line across the track
        i = 0
        out[_PAINT].append(_quad(center[i] + normal[i] * (width[i] / 2 + 0.2), -normal[i],
                                 width[i] + 0.4, rng.uniform(0.08, 0.3)))
    if rng.random() < 0.2:   # kerbs on the outside of the tighter corners
        kw, off = rng.uniform(0.3, 0.8), rng.uniform(0.2, 0.5)
        thresh = np.quantile(np.abs(curvature), 0.8)
        step = 2
        for i in range(0, n, step):
            if abs(curvature[i]) < thresh:
                continue
            side = -1.0 if curvature[i] > 0 else 1.0   # outside of the turn
            j = (i + step) % n
            a = center[i] + normal[i] * side * (width[i] / 2 + off)
            b = center[j] + normal[j] * side * (width[j] / 2 + off)
            quad = np.array([a, b, b + normal[j] * side * kw, a + normal[i] * side * kw])
            out[_KERB_RED if (i // step) % 2 == 0 else _KERB_WHITE].append(quad)
    for _ in range(int(rng.integers(0, 8))):   # repair patches on the track
        i = int(rng.integers(n))
        p = center[i] + normal[i] * rng.uniform(-width[i] / 2, width[i] / 2)
        ang = math.atan2(tangent[i, 1], tangent[i, 0]) + rng.normal(0, 0.2)
        d = np.array([math.cos(ang), math.sin(ang)])
        out[_PATCH].append(_quad(p, d, rng.uniform(0.5, 3.0), rng.uniform(0.4, 1.8)))
    return {m: np.array(q, float).reshape(-1, 4, 2) for m, q in out.items() if q}


def tyre_marks(rng: np.random.Generator, center: np.ndarray, normal: np.ndarray,
               width: np.ndarray, curvature: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """
    Return dark rubber on the track: (n x 4 x 2 world quads, n darkness values 0..255).

    The racing line (both wheel tracks, cutting the corners) and a few skid
    marks: pairs of curved black streaks.
    """
    quads, values = [], []
    n = len(center)
    win = 25
    k = np.convolve(np.concatenate([curvature[-win:], curvature, curvature[:win]]),
                    np.ones(2 * win + 1) / (2 * win + 1), mode='valid')
    half = np.maximum(width / 2 - 0.8, 0.0)
    line = np.clip(k * 40.0, -1, 1) * half * 0.8
    dark = rng.uniform(8, 45) if rng.random() < 0.75 else 0.0
    step = 2
    for wheel in ((-0.62, 0.62) if dark > 0 else ()):
        off = line + wheel
        pts = center + normal * off[:, None]
        idx = np.arange(0, n, step)
        d = pts[(idx + step) % n] - pts[idx]
        e = np.stack([-d[:, 1], d[:, 0]], 1) / (np.linalg.norm(d, axis=1, keepdims=True)
                                                + 1e-9) * 0.16
        a, b = pts[idx], pts[(idx + step) % n]
        quads += list(np.stack([a - e, b - e, b + e, a + e], axis=1))
        values += list(dark * (0.5 + 0.5 * np.minimum(np.abs(k[idx]) * 30, 1)))
    for _ in range(int(rng.integers(0, 6))):   # skid marks: a pair of arcs
        i = int(rng.integers(n))
        p = center[i] + normal[i] * rng.uniform(-width[i] / 2, width[i] / 2)
        heading = rng.uniform(0, 2 * np.pi)
        turn = rng.normal(0, 0.15)
        length = rng.uniform(3.0, 15.0)
        v = rng.uniform(50, 150)
        for wheel in (-0.62, 0.62):
            h = heading
            q = p + np.array([-math.sin(h), math.cos(h)]) * wheel
            for _ in range(int(length / 0.8)):
                d = np.array([math.cos(h), math.sin(h)])
                e = np.array([-d[1], d[0]]) * 0.11
                q2 = q + d * 0.8
                quads.append([q - e, q2 - e, q2 + e, q + e])
                values.append(v)
                q, h = q2, h + turn * 0.8
    return np.array(quads, float).reshape(-1, 4, 2), np.array(values, float)
