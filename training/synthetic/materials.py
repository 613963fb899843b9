# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
How the things of a scene look under its light: object meshes, shadows, cone materials.

* :func:`_part_mesh`: the world mesh of a convex part (see
  :mod:`training.synthetic.distractors`): vertices, faces with their normals and
  lit colours, decals;
* :func:`_shadow_map`: a top-down map of the ground the sun does not reach
  because of the objects (trees, tents, people, vehicles, buildings), built once
  per scene, also from objects out of view; :func:`_sunlit` samples it;
* :func:`_cone_look`: per-cone materials (manufacturer colour within what FS
  cones look like, fading, dirt and scuffs towards the base, stickers, stripe
  reflectivity, gloss, dirty base plates), stable per cone and deterministic from
  the scene; :func:`_wear_cone` paints them on a drawn cone.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Tuple

import cv2
import numpy as np
from training.synthetic.scene import _Scene, BLUE, LARGE_ORANGE, ORANGE, UNKNOWN, YELLOW
from training.synthetic.textures import _detail_textures, _TEX, _textures

_SHADOW_RES = 0.15   # metres per texel of the shadow map
_DEFAULT_STYLE = {'z0': 0.0, 'n': 4, 'profile': ((0, 1, 1), (1, 1, 1)), 'sides': None,
                  'top': None, 'bottom': None, 'decals': ()}

# Hue (degrees), saturation and value ranges of real FS cone bodies per class: orange
# from red-orange to yellow-orange, yellow from golden to lemon, blue from navy to
# a lighter royal blue; large orange cones like the small ones.
_CONE_HSV = {
    BLUE: ((212.0, 232.0), (0.78, 0.95), (0.50, 0.78)),
    YELLOW: ((44.0, 54.0), (0.85, 0.97), (0.85, 1.0)),
    ORANGE: ((10.0, 26.0), (0.88, 0.98), (0.88, 1.0)),
    LARGE_ORANGE: ((10.0, 25.0), (0.88, 0.98), (0.88, 1.0)),
}


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Return n x 3 RGB of hue (degrees), saturation and value arrays."""
    h6 = (np.asarray(h) % 360.0) / 60.0
    k = np.stack([(5 + h6) % 6, (3 + h6) % 6, (1 + h6) % 6], axis=-1)
    return v[:, None] - v[:, None] * s[:, None] * np.clip(np.minimum(k, 4 - k), 0, 1)


def _rgb_to_hsv(rgb: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return hue (degrees), saturation, value of n x 3 RGB."""
    mx, mn = rgb.max(axis=1), rgb.min(axis=1)
    d = np.maximum(mx - mn, 1e-9)
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    h = np.where(mx == r, (g - b) / d % 6, np.where(mx == g, (b - r) / d + 2, (r - g) / d + 4))
    return h * 60.0, np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-9), 0.0), mx


# -- object meshes ---------------------------------------------------------------
_RINGS: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}


def _part_verts(box: Tuple) -> np.ndarray:
    """Return the world vertices of a part (rings x sides, flattened to V x 3)."""
    x, y, yaw, (sx, sy, sz) = box[:4]
    style = box[5] if len(box) > 5 else _DEFAULT_STYLE
    n = style['n']
    if n not in _RINGS:
        th = 2 * np.pi * (np.arange(n) + 0.5) / n
        rad = 1.0 / math.cos(math.pi / n) if n == 4 else 1.0
        _RINGS[n] = (np.cos(th) * rad / 2, np.sin(th) * rad / 2)
    cx, cy = _RINGS[n]
    prof = style['profile']
    kx = np.array([p[1] for p in prof])[:, None]
    ky = np.array([p[2] for p in prof])[:, None]
    lx = cx[None, :] * (sx * kx)
    ly = cy[None, :] * (sy * ky)
    c, s = math.cos(yaw), math.sin(yaw)
    out = np.empty(lx.shape + (3,))
    out[..., 0] = x + c * lx - s * ly
    out[..., 1] = y + s * lx + c * ly
    out[..., 2] = np.array([style['z0'] + p[0] * sz for p in prof])[:, None]
    return out.reshape(-1, 3)


def _part_shape(scene: _Scene, box: Tuple) -> Dict[str, Any]:
    """
    Return the world geometry of a part, built once per scene.

    Keys: verts (V x 3); faces, a list of vertex index arrays; normal, centre (F x 3);
    albedo (F x 3); bottom (F,) whether a face is the bottom; decal_face (D,),
    decals (D x 4 x 3), decal_albedo (D x 3).
    """
    cache = scene.look_cache.setdefault('shape', {})
    got = cache.get(id(box))
    if got is not None and got[0] is box:
        return got[1]
    x, y, yaw, (sx, sy, sz), albedo = box[:5]
    style = box[5] if len(box) > 5 else _DEFAULT_STYLE
    n, prof = style['n'], style['profile']
    verts = _part_verts(box)
    bands = len(prof) - 1
    r = np.repeat(np.arange(bands), n)[:, None]
    k = np.tile(np.arange(n), bands)[:, None]
    k1 = (k + 1) % n
    sides = np.concatenate([r * n + k, r * n + k1, (r + 1) * n + k1, (r + 1) * n + k], axis=1)
    q = verts[sides]
    normal = np.cross(q[:, 2] - q[:, 0], q[:, 3] - q[:, 1])
    centre = q.mean(axis=1)
    mid = verts.mean(axis=0)
    flip = np.einsum('ij,ij->i', normal, centre - mid) < 0
    normal[flip] *= -1
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12
    last = bands * n
    faces = list(sides) + [np.arange(last, last + n), np.arange(n)]
    centre = np.concatenate([centre, verts[last:].mean(axis=0, keepdims=True),
                             verts[:n].mean(axis=0, keepdims=True)])
    normal = np.concatenate([normal, [[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]])
    base = np.asarray(albedo, float)
    side_col = np.asarray(style['sides'], float)[np.tile(np.arange(n), bands)] \
        if style['sides'] else np.broadcast_to(base, (bands * n, 3))
    top = np.asarray(style['top'], float) if style['top'] is not None else base
    bottom = np.asarray(style['bottom'], float) if style['bottom'] is not None else base * 0.6
    cols = np.concatenate([side_col, top[None], bottom[None]])
    # decals: bilinear on their side face, (band, side) -> face band * n + side
    dec = [(b * n + kk, u0, v0, u1, v1, col) for b, side, u0, v0, u1, v1, col in style['decals']
           if b < bands for kk in (range(n) if side < 0 else (side,))]
    if dec:
        fi = np.array([d[0] for d in dec])
        uv = np.array([d[1:5] for d in dec], float)
        fq = verts[sides[fi]]                                  # D x 4 x 3
        us = uv[:, [0, 2, 2, 0]][..., None]
        vs = uv[:, [1, 1, 3, 3]][..., None]
        decals = (1 - vs) * ((1 - us) * fq[:, None, 0] + us * fq[:, None, 1]) \
            + vs * ((1 - us) * fq[:, None, 3] + us * fq[:, None, 2])
        decal_col = np.array([d[5] for d in dec], float)
    else:
        fi = np.zeros(0, int)
        decals = np.zeros((0, 4, 3))
        decal_col = np.zeros((0, 3))
    bottom_flag = np.zeros(len(faces), bool)
    bottom_flag[-1] = True
    shape = {'verts': verts, 'faces': faces, 'normal': normal, 'centre': centre,
             'albedo': cols, 'bottom': bottom_flag, 'decal_face': fi, 'decals': decals,
             'decal_albedo': decal_col,
             'low': style['z0'] < 1.5, 'foot': (x, y, 0.5 * math.hypot(sx, sy) + 0.3)}
    cache[id(box)] = (box, shape)
    return shape


def _part_mesh(scene: _Scene, box: Tuple) -> Dict[str, Any]:
    """
    Return the part's geometry (:func:`_part_shape`) with its faces lit, once per scene.

    Adds colour (F x 3) and decal_colour (D x 3): sky light on every face (less on
    the bottom), the sun on faces turned to it unless the shadow of another object
    lies on the ground beside the part on the sun's side.
    """
    cache = scene.look_cache.setdefault('mesh', {})
    got = cache.get(id(box))
    if got is not None and got[0] is box:
        return got[1]
    shape = _part_shape(scene, box)
    L = scene.sun_dir
    sun = np.maximum(shape['normal'] @ L, 0.0)
    if shape['low']:
        x, y, radius = shape['foot']
        sun = sun * _sunlit(scene, np.array([[x, y]]) + L[None, :2] / (
            np.linalg.norm(L[:2]) + 1e-9) * radius)[0]
    ambient = np.where(shape['bottom'], 0.55, 1.0)
    shade = (scene.ambient * scene.sky_rgb)[None, :] * ambient[:, None] \
        + (scene.direct * scene.sun_rgb)[None, :] * sun[:, None]
    mesh = dict(shape)
    mesh['colour'] = shape['albedo'] * shade
    mesh['decal_colour'] = shape['decal_albedo'] * shade[shape['decal_face']]
    cache[id(box)] = (box, mesh)
    return mesh


# -- shadows of the objects ------------------------------------------------------
def _shadow_map(scene: _Scene) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """
    Return (uint8 map, world origin) of the ground in the objects' shadows, or None.

    Each part's vertices are projected along the sun onto the ground; the convex
    hull of the projection is its shadow. Built once per scene (0.15 m texels over
    the track and 60 m around it), slightly blurred (penumbra).
    """
    cache = scene.look_cache
    if 'shadow' in cache:
        return cache['shadow']
    cache['shadow'] = None
    if scene.direct <= 0.05 or not scene.boxes:
        return None
    lo = scene.track.center.min(axis=0) - 60.0
    hi = scene.track.center.max(axis=0) + 60.0
    w, h = (np.ceil((hi - lo) / _SHADOW_RES).astype(int) + 1)
    m = np.zeros((h, w), np.uint8)
    L = scene.sun_dir
    sd = -L[:2] / max(L[2], 0.03)
    for box in scene.boxes:
        v = _part_verts(box)
        g = (v[:, :2] + v[:, 2:3] * sd[None, :] - lo) / _SHADOW_RES
        hull = cv2.convexHull(np.round(np.clip(g, -1e5, 1e5) * 16).astype(np.int32))
        cv2.fillConvexPoly(m, hull, 255, shift=4)
    m = cv2.GaussianBlur(m, (0, 0), 1.0)
    cache['shadow'] = (m, lo)
    return cache['shadow']


def _sunlit(scene: _Scene, xy: np.ndarray) -> np.ndarray:
    """Return the share of sunlight (0..1) on the ground at world points n x 2."""
    sm = _shadow_map(scene)
    if sm is None:
        return np.ones(len(xy))
    m, lo = sm
    ij = np.round((xy - lo) / _SHADOW_RES).astype(int)
    inside = (ij[:, 0] >= 0) & (ij[:, 1] >= 0) & (ij[:, 0] < m.shape[1]) & (ij[:, 1] < m.shape[0])
    out = np.ones(len(xy))
    out[inside] = 1.0 - m[ij[inside, 1], ij[inside, 0]] / 255.0
    return out


# -- cone materials --------------------------------------------------------------
def _cone_table(scene: _Scene, n: int) -> np.ndarray:
    """Return n x 16 uniforms, one row per cone index, the same rows for any n."""
    cache = scene.look_cache
    table = cache.get('cone_table')
    if table is None or len(table) < n:
        rng = np.random.default_rng([scene.look_seed, 0xC0E])
        table = rng.random((max(n, 512), 16))
        cache['cone_table'] = table
    return table[:n]


def _cone_style(scene: _Scene) -> Dict[str, Any]:
    """Return the cone batches of the event: a few manufacturers, each its own tone."""
    cache = scene.look_cache
    if 'cone_style' not in cache:
        rng = np.random.default_rng([scene.look_seed, 0xBA7])
        batches = int(rng.integers(1, 4))
        cache['cone_style'] = {
            'batch_share': np.sort(rng.random(batches - 1)),
            'batch': rng.random((batches, 3)),   # hue, saturation, value positions
            'gloss': rng.uniform(0.2, 0.9, batches),
        }
    return cache['cone_style']


def _cone_look(scene: _Scene, cones: Dict[str, Any], idx: np.ndarray,
               geo: Dict[str, Any]) -> Dict[str, Any]:
    """
    Return the cone arrays with per-cone materials; note the cone indices in ``geo``.

    Body colours move within the class's range (batch + per-cone jitter, fading),
    stripes get their reflectivity, base plates their dirt; the flat colours of the
    far cones (``geo['mean_lit']``, ``geo['base_lit']``) are shaded again with them,
    with the dirt and in the shadows of objects. ``geo['index']`` maps visible to
    scene cone indices for :func:`_wear_cone`.
    """
    n = cones['n']
    cache = scene.look_cache
    key = (id(cones), n)
    got = cache.get('cone_look')
    if got is None or got[0] != key or got[1] is not cones:
        got = (key, cones, _make_cone_look(scene, cones))
        cache['cone_look'] = got
    out = got[2]
    geo['index'] = idx
    if len(idx):
        look = out['look']
        light = geo['light']
        sun = look['sunlit'][idx]
        mean_shade = scene.ambient * scene.sky_rgb[None, :] + (scene.direct * scene.sun_rgb)[
            None, :] * (np.maximum(light[:, 0] * 0.78 + light[:, 2], 0) * sun)[:, None]
        dim = (1.0 - 0.35 * look['dirt'][idx])[:, None]
        geo['mean_lit'] = [tuple(v) for v in out['mean_col'][idx] * mean_shade * dim]
        geo['base_lit'] = [tuple(v) for v in out['base'][idx] * mean_shade]
    return out


def _make_cone_look(scene: _Scene, cones: Dict[str, Any]) -> Dict[str, Any]:
    """Return a copy of the cone arrays with per-cone colours and the wear parameters."""
    n = cones['n']
    u = _cone_table(scene, n)
    style = _cone_style(scene)
    out = dict(cones)
    cls = cones['cls']
    seg_on = cones['seg_on']
    seg_col = cones['seg_col'].copy()
    body = seg_col[:, 0].copy()
    stripe_seg = seg_on & np.any(np.abs(seg_col - body[:, None, :]) > 1e-9, axis=2)
    batch = np.searchsorted(style['batch_share'], u[:, 0])
    age = scene.cone_age
    # Body colour: the batch's place in the class's range, a little per cone, faded.
    for c, ((h0, h1), (s0, s1), (v0, v1)) in _CONE_HSV.items():
        sel = np.nonzero(cls == c)[0]
        if not len(sel):
            continue
        pos = np.clip(style['batch'][batch[sel]] + (u[sel, 1:4] - 0.5) * 0.3, 0, 1)
        fade = np.clip(age * u[sel, 4] * 0.6, 0, 0.45)
        hue = h0 + (h1 - h0) * pos[:, 0]
        sat = (s0 + (s1 - s0) * pos[:, 1]) * (1 - fade * 0.5)
        val = np.minimum((v0 + (v1 - v0) * pos[:, 2]) * (1 + fade * 0.25), 1.0)
        body[sel] = _hsv_to_rgb(hue, sat, val) * scene.cone_tint
    unknown = cls == UNKNOWN
    body[unknown] = np.clip(body[unknown] * (0.9 + 0.2 * u[unknown, 1:4]), 0, 1)
    # Stripes: bright retro-reflective film, silver-grey, or faded and dirty.
    stripe = np.where(stripe_seg[..., None], seg_col, 0).max(axis=1)
    white = stripe.mean(axis=1) > 0.5
    refl = 0.62 + 0.36 * u[:, 5] * (1 - 0.5 * age * u[:, 6])
    tone = np.stack([refl, refl, refl * (1.0 + 0.04 * (u[:, 7] - 0.5))], axis=1)
    stripe = np.where(white[:, None], np.clip(tone, 0, 1),
                      stripe * (0.8 + 0.8 * u[:, 5:6]))
    seg_col = np.where(stripe_seg[..., None], stripe[:, None, :], body[:, None, :])
    out['seg_col'] = seg_col
    base = cones['base']
    dirt_base = u[:, 8] * (0.2 + 0.7 * age)
    dirt_col = np.array([0.30, 0.27, 0.22])
    out['base'] = base * (1 - dirt_base[:, None]) + dirt_col * dirt_base[:, None] * 0.8
    heights = np.diff(cones['zs'], axis=1)
    frac = (heights * stripe_seg).sum(1) / np.maximum(heights.sum(1), 1e-9)
    out['mean_col'] = body * (1 - frac[:, None]) + stripe * frac[:, None]
    sunlit = _sunlit(scene, cones['pos'] + scene.sun_dir[None, :2] / (
        np.linalg.norm(scene.sun_dir[:2]) + 1e-9) * 0.35)
    out['look'] = {
        'dirt': np.clip(u[:, 9] * (0.15 + 0.85 * age) + 0.1 * age, 0, 1),
        'scuff': u[:, 10] * (0.2 + 0.8 * age),
        'sticker': u[:, 11] < 0.35,
        'sticker_at': np.stack([u[:, 12] * 2 * np.pi, 0.25 + 0.35 * u[:, 13]], axis=1),
        'sticker_col': np.where((u[:, 14] < 0.6)[:, None], np.array([0.9, 0.9, 0.88]),
                                np.where((u[:, 14] < 0.8)[:, None], np.array([0.1, 0.1, 0.1]),
                                         np.array([0.15, 0.45, 0.75]))),
        'gloss': style['gloss'][batch] * (1 - 0.6 * age * u[:, 15]),
        'tex': u[:, 1:3] * _TEX,
        'sunlit': sunlit,
    }
    return out


def _wear_cone(scene: _Scene, sub: np.ndarray, region: np.ndarray, t: np.ndarray,
               v: np.ndarray, i: int, view_az: float) -> Tuple[np.ndarray, float, float]:
    """
    Paint cone ``i``'s wear on its drawn albedo; return (albedo, gloss, sunlit).

    ``sub`` is the cone's bounding box of the image (albedo, before shading),
    ``region`` its pixels, ``t`` the across position (-1 left .. 1 right silhouette)
    and ``v`` the height position (0 top .. 1 bottom) of every region pixel.
    Dirt and scuffs gather towards the base; stickers sit on the body at a fixed
    azimuth of the cone.
    """
    cones = scene.look_cache['cone_look'][2]
    look = cones['look']
    px = sub[region]
    if px.size == 0:
        return px, 0.0, 1.0
    ang = np.arcsin(np.clip(t, -1, 1))
    tx, ty = look['tex'][i]
    # texture coordinates on the cone surface: about 5 mm per texel
    cu = ((view_az + ang) * 18.0 + tx).astype(np.float32) % _TEX
    cv = (v * 70.0 + ty).astype(np.float32) % _TEX
    tex = _textures()
    det = _detail_textures()
    # float32 % can round -1e-9 up to _TEX itself: wrap the integer index, too
    iu, iv = cu.astype(np.int32) % _TEX, cv.astype(np.int32) % _TEX
    coarse = tex[iv, iu, 1]
    blotch = det[iv, (iu * 3) % _TEX, 3]
    dirt = look['dirt'][i]
    if dirt > 0:   # grime rising from the base, in patches
        d = np.clip((v - 0.35) * 2.5 * dirt + blotch * 0.7 * dirt + coarse * 0.3 - 0.1, 0, 0.9)
        grey = px.mean(axis=1, keepdims=True)
        muck = grey * 0.45 + np.array([0.09, 0.075, 0.05], np.float32)
        px = px * (1 - d[:, None]) + muck * d[:, None]
    scuff = look['scuff'][i]
    if scuff > 0:
        streak = tex[(iv // 6) % _TEX, (iu * 5) % _TEX, 0]
        s = np.clip((np.abs(streak) - 0.55) * 3.0, 0, 1) * scuff * np.clip(v * 1.5, 0, 1)
        px = px * (1 - 0.5 * s[:, None]) + 0.55 * s[:, None]
    if look['sticker'][i]:
        az, h = look['sticker_at'][i]
        da = (view_az + ang - az + np.pi) % (2 * np.pi) - np.pi
        on = (np.abs(da) < 0.28) & (np.abs(v - h) < 0.05)
        if on.any():
            px[on] = look['sticker_col'][i]
    px = px * (1.0 + 0.04 * coarse[:, None])
    return px.astype(np.float32), float(look['gloss'][i] * (1 - 0.6 * dirt)), float(
        look['sunlit'][i])
