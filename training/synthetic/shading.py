# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Ground, sky and tree-line shading of one view: the scene radiance behind the objects.

:func:`_shade_environment` turns the material map of a view (grass, apron, track,
sky, trees; the mask is made from it before) into colour: the materials with
paint lines, kerbs and repair patches on top (colour only), world-space textures
(grain, aggregate stones, cracks, concrete joints, grass clumps, dry patches,
mowing stripes), rubber of the racing line and skid marks, the shadows of the
objects (also of those out of view), wet sheen with the sky and the sun
mirrored in it, the tree line's foliage (autumn colours too), the sun and its
glow in the sky. It notes where the sun is for the lens effects.
"""

from __future__ import annotations

import math
from typing import Any, Dict

import cv2
import numpy as np
from training.synthetic.camera import _Camera, _ground_polys, _NEAR
from training.synthetic.distractors import (_KERB_RED, _KERB_WHITE, _N_MATERIALS, _PAINT,
                                            _PAINT_YELLOW, _PATCH)
from training.synthetic.materials import _shadow_map, _SHADOW_RES
from training.synthetic.scene import _APRON, _GRASS, _Scene, _SKY, _TRACK_MAT, _TREES
from training.synthetic.textures import (_CLOUD_TEXEL, _detail_textures, _GROUND_TEXEL, _TEX,
                                         _textures)

_D_BINS = 30.0     # distance (m) at the middle of the palette's distance axis
_D_GRAIN = 25.0    # distance (m) at which the fine grain has faded to half
_MACRO = 10.0      # the large-scale texture is this many times coarser than the ground's

# Hard surfaces (take tyre rubber, get wet): apron, track, paint, kerbs, patches.
_HARD = np.zeros(_N_MATERIALS, np.float32)
_HARD[[_APRON, _TRACK_MAT, _PAINT, _PAINT_YELLOW, _KERB_RED, _KERB_WHITE, _PATCH]] = 1.0
_GROUND = np.ones(_N_MATERIALS, np.float32)
_GROUND[[_SKY, _TREES]] = 0.0


def _palette(scene: _Scene) -> np.ndarray:
    """
    Return the scene's colour palette (one 64 x 64 RGB block per material), built once.

    Ground blocks (grass, apron, track, paint, kerb, patch): rows = distance bins
    (haze), columns = coarse texture (albedo a -> b); sky block: rows = cloud
    amount, columns = elevation. One ``cv2.remap`` of this table colours every pixel.
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
    for m in range(_N_MATERIALS):
        if m == _SKY:
            elev = c
            grad = hz + (scene.sky_zenith - scene.sky_horizon)[None, None, :] * np.sqrt(
                np.minimum(elev * 2.5, 1.0))
            amount = (r / 63.0)[:, None, None] * scene.cloud_cover * np.minimum(elev * 8.0, 1.0)
            blocks.append(grad + (scene.cloud_colour[None, None, :] - grad) * amount)
            continue
        alb = scene.albedo_a[m] + (scene.albedo_b[m] - scene.albedo_a[m]) * c
        blocks.append(alb * scene.lit_rgb * (1 - haze) + hz * haze)
    scene.palette = np.ascontiguousarray(np.concatenate(blocks, axis=0), dtype=np.float32)
    return scene.palette


def _draw_ground_quads(cam: _Camera, layer: np.ndarray, quads: np.ndarray,
                       values: Any) -> None:
    """Fill world quads (n x 4 x 2) into an image layer, with one value each or for all."""
    if not len(quads):
        return
    values = np.broadcast_to(np.asarray(values, float), (len(quads),))
    centre = quads.mean(axis=1)
    half = np.linalg.norm(quads - centre[:, None], axis=2).max(axis=1)
    rel = centre - cam.pos[:2]
    fwd = cam.R[2, :2] / (np.linalg.norm(cam.R[2, :2]) + 1e-9)
    keep = (np.linalg.norm(rel, axis=1) - half < 150.0) & (rel @ fwd + half > 0)
    quads, values = quads[keep], values[keep]
    if not len(quads):
        return
    p3 = np.concatenate([quads, np.zeros(quads.shape[:2] + (1,))], axis=2)
    front = (cam.to_cam(p3)[..., 2] >= _NEAR).all(axis=1)
    # wholly in front: one projection for all, in order; the others clipped one by one
    for p, v in zip(_ground_polys(cam, quads[front]), values[front]):
        cv2.fillConvexPoly(layer, p, float(v), shift=4)
    for q, v in zip(quads[~front], values[~front]):
        for p in _ground_polys(cam, q[None]):
            cv2.fillConvexPoly(layer, p, float(v), shift=4)


def _markings_layer(scene: _Scene, cam: _Camera, mat: np.ndarray) -> np.ndarray:
    """Return the colouring materials: ``mat`` with paint, kerbs and patches on top."""
    marks = getattr(scene, 'markings', None)
    if not marks:
        return mat
    layer = np.zeros_like(mat)
    for m in (_PATCH, _KERB_RED, _KERB_WHITE, _PAINT, _PAINT_YELLOW):
        if m in marks:
            _draw_ground_quads(cam, layer, marks[m], m)
    ys, xs = np.nonzero(layer)
    if not len(ys):
        return mat
    under, over = mat[ys, xs], layer[ys, xs]
    asphalt = (under == _TRACK_MAT) | ((under == _APRON) & (scene.apron_kind != 'gravel'))
    kerb = (over == _KERB_RED) | (over == _KERB_WHITE)
    ok = np.where(kerb, (under == _GRASS) | (under == _APRON), asphalt)
    look = mat.copy()
    look[ys[ok], xs[ok]] = over[ok]
    return look


def _shade_environment(scene: _Scene, cam: _Camera, mat: np.ndarray,
                       effects: Dict[str, Any]) -> np.ndarray:
    """
    Return the float32 H x W x 3 radiance of the ground, sky and tree line of a view.

    ``mat`` holds the materials of the view (0 grass, 1 apron, 2 track, 3 sky,
    4 trees). Writes ``effects['sun']`` (normalised image position, strength,
    in front) for the lens effects.
    """
    H, W = mat.shape
    f32 = np.float32
    right, down, fwd = cam.R
    a = ((np.arange(W) - cam.cx) / cam.f)[None, :]
    b = ((np.arange(H) - cam.cy) / cam.f)[:, None]
    ca, sa = math.cos(scene.tex_angle), math.sin(scene.tex_angle)
    rot = np.array([[ca, -sa, 0.0], [sa, ca, 0.0], [0.0, 0.0, 1.0]])

    def ray(vec: np.ndarray) -> np.ndarray:   # world component of every pixel's ray
        return (b * vec[1]).astype(f32) + (a * vec[0] + vec[2]).astype(f32)

    world = np.stack([right, down, fwd], axis=1)   # rows: world x, y, z
    basis = rot @ world                            # rows: tex-x, tex-y, z
    ex, ey, dz = ray(basis[0]), ray(basis[1]), ray(basis[2])
    inv_norm = f32(1.0) / np.sqrt((b * b).astype(f32) + (a * a + 1.0).astype(f32))
    ground = dz < 0
    g = ground.astype(f32)
    look = _markings_layer(scene, cam, mat)

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
    cracks, stones, clumps, blotch = cv2.split(cv2.remap(
        _detail_textures(), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP))
    Mx = (ex * kg + f32(off_g[0] + 977.0)) * f32(1.0 / _MACRO)
    My = (ey * kg + f32(off_g[1] + 311.0)) * f32(1.0 / _MACRO)
    Mx -= np.floor(Mx * f32(1.0 / _TEX)) * f32(_TEX)
    My -= np.floor(My * f32(1.0 / _TEX)) * f32(_TEX)
    _, macro, macro2, _ = cv2.split(cv2.remap(_textures(), Mx, My, cv2.INTER_LINEAR,
                                              borderMode=cv2.BORDER_WRAP))

    # Colour: one palette lookup (material, distance / cloud, texture / elevation).
    q = np.abs(dz) * inv_norm                     # sine of the angle to the horizon
    cz = f32(cam.pos[2])
    w63 = np.clip((coarse + f32(0.35) * macro) * f32(0.8 * 63) + f32(31.5), f32(0), f32(63))
    c63 = np.clip((clouds - f32(scene.cloud_thresh)) * f32(2.5 * 63), f32(0), f32(63))
    u63 = f32(63) * cz / (cz + f32(_D_BINS) * q)
    q63 = q * f32(63)
    px = q63 + g * (w63 - q63)
    py = look.astype(f32) * f32(64) + c63 + g * (u63 - c63)
    col = cv2.remap(_palette(scene), px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    fade = q / (q + cz * f32(1.0 / _D_GRAIN))
    near = q / (q + cz * f32(1.0 / 10.0))         # fine detail fades sooner
    detail = (np.take(scene.grain, look) * fade * fine
              + np.take(scene.stones, look) * near * stones
              - np.take(scene.cracks, look) * near * cracks
              + np.take(scene.clumps, look) * fade * clumps + f32(1.0))
    col *= detail[..., None]
    _large_scale(scene, look, col, mx, my, macro, macro2, fade)

    _rubber(scene, cam, look, col, blotch)
    _object_shadows(scene, cam, look, col, ray(world[0]), ray(world[1]), dz)
    ray_n = (ray(world[0]) * inv_norm, ray(world[1]) * inv_norm, dz * inv_norm)
    if scene.wet > 0:
        _wet(scene, look, col, q, ray_n, blotch, macro)
    _tree_line(scene, cam, look, col, ray_n)
    _sun(scene, cam, look, col, ray_n, effects)
    return col


def _large_scale(scene: _Scene, look: np.ndarray, col: np.ndarray, mx: np.ndarray,
                 my: np.ndarray, macro: np.ndarray, macro2: np.ndarray,
                 fade: np.ndarray) -> None:
    """Dry patches and mowing stripes on the grass, concrete joints, surface shades."""
    f32 = np.float32
    grass = (look == _GRASS)
    if scene.grass_patches > 0:   # dry, yellower patches of grass
        dry = np.clip(macro2 * f32(2.5) - f32(0.4), f32(0), f32(1)) * f32(scene.grass_patches)
        dry *= grass
        ratio = (scene.grass_dry / np.maximum(scene.albedo_a[_GRASS], 0.02) - 1.0).astype(f32)
        col *= f32(1.0) + dry[..., None] * ratio[None, None, :]
    if scene.mow > 0:
        stripes = np.tanh(np.sin(mx * f32(2 * np.pi * scene.mow_period / _TEX)) * f32(5.0))
        far = fade * fade
        col *= (f32(1.0) + f32(scene.mow) * stripes * far * grass)[..., None]
    hard = np.take(_HARD, look)
    col *= (f32(1.0) + f32(0.07) * macro * hard)[..., None]
    if scene.concrete:   # joints between the slabs of an airfield
        jx, jy = scene.joint
        near = fade * fade
        ux = (mx * f32(jx / _TEX)) % f32(1.0)
        uy = (my * f32(jy / _TEX)) % f32(1.0)
        width = f32(1.6 * jx / _TEX)
        joint = np.maximum(np.clip(1 - np.minimum(ux, 1 - ux) / width, 0, 1),
                           np.clip(1 - np.minimum(uy, 1 - uy) / width, 0, 1))
        on = (look == _TRACK_MAT) | ((look == _APRON) & (scene.apron_kind == 'same'))
        col *= (f32(1.0) - f32(0.45) * joint * near * on)[..., None]


def _rubber(scene: _Scene, cam: _Camera, look: np.ndarray, col: np.ndarray,
            blotch: np.ndarray) -> None:
    """Darken the racing line and the skid marks on hard surfaces, patchily."""
    quads, values = getattr(scene, 'tyre_marks', (np.zeros((0, 4, 2)), np.zeros(0)))
    if not len(quads):
        return
    layer = np.zeros(look.shape, np.uint8)
    _draw_ground_quads(cam, layer, quads, values)
    if not layer.any():
        return
    layer = cv2.GaussianBlur(layer, (0, 0), 1.2)
    patchy = np.clip(blotch * np.float32(0.8) + np.float32(0.7), 0, 1)
    dark = layer.astype(np.float32) * np.float32(0.85 / 255) * np.take(_HARD, look) * patchy
    col *= (np.float32(1.0) - dark)[..., None]


def _object_shadows(scene: _Scene, cam: _Camera, look: np.ndarray, col: np.ndarray,
                    rx: np.ndarray, ry: np.ndarray, dz: np.ndarray) -> None:
    """Darken the ground in the shadows of the objects (trees, tents, people, ...)."""
    sm = _shadow_map(scene)
    if sm is None:
        return
    m, lo = sm
    with np.errstate(divide='ignore', invalid='ignore'):
        t = np.where(dz < 0, np.float32(-cam.pos[2]) / dz, np.float32(-1e6))
    u = (np.float32(cam.pos[0] - lo[0]) + rx * t) * np.float32(1.0 / _SHADOW_RES)
    v = (np.float32(cam.pos[1] - lo[1]) + ry * t) * np.float32(1.0 / _SHADOW_RES)
    np.clip(u, -4.0, m.shape[1] + 4.0, out=u)
    np.clip(v, -4.0, m.shape[0] + 4.0, out=v)
    s = cv2.remap(m, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if not s.any():
        return
    keep = (scene.ambient * scene.sky_rgb / scene.lit_rgb).astype(np.float32)
    s = s.astype(np.float32) * np.float32(1.0 / 255) * np.take(_GROUND, look)
    col *= np.float32(1.0) - s[..., None] * (np.float32(1.0) - keep)[None, None, :]


def _wet(scene: _Scene, look: np.ndarray, col: np.ndarray, q: np.ndarray, ray_n: tuple,
         blotch: np.ndarray, macro: np.ndarray) -> None:
    """Wet hard surfaces: Fresnel reflection of the sky, puddles, the sun's glint."""
    f32 = np.float32
    wet = np.clip(f32(scene.wet) * (f32(0.55) + f32(0.6) * macro + f32(0.5) * blotch), 0, 1)
    wet *= np.take(_HARD, look)
    fres = f32(0.02) + f32(0.98) * (f32(1.0) - q) ** 5
    r = wet * fres
    sky = scene.sky_horizon.astype(f32)
    zen = (scene.sky_zenith - scene.sky_horizon).astype(f32)
    grad = np.sqrt(np.minimum(q * f32(2.5), f32(1.0)))
    refl = sky[None, None, :] + zen[None, None, :] * grad[..., None]
    L = scene.sun_dir.astype(f32)
    cosg = ray_n[0] * L[0] + ray_n[1] * L[1] - ray_n[2] * L[2]   # mirrored ray . sun
    glint = f32(scene.direct * 6.0) * np.exp((cosg - f32(1.0)) * f32(150.0))
    col *= (f32(1.0) - r)[..., None]
    col += (refl * r[..., None] + (glint * wet * fres)[..., None])


def _tree_line(scene: _Scene, cam: _Camera, look: np.ndarray, col: np.ndarray,
               ray_n: tuple) -> None:
    """Colour the tree line: crowns of varied greens, autumn colours, shade below."""
    ys, xs = np.nonzero(look == _TREES)
    if not len(ys):
        return
    f32 = np.float32
    rx, ry, rz = (r[ys, xs] for r in ray_n)
    az = np.arctan2(ry, rx)
    el = rz / np.sqrt(rx * rx + ry * ry + f32(1e-9))
    scale = f32(scene.ring_radius / 0.3)   # texels of 30 cm at the ring: crowns of ~15 m
    u = (az * scale + f32(scene.tex_offset[0])) % f32(_TEX)
    v = (el * scale * f32(1.6) + f32(scene.tex_offset[1])) % f32(_TEX)
    det = _detail_textures()
    tex = _textures()
    # float32 % can round -1e-9 up to _TEX itself: wrap the integer index, too
    iu, iv = u.astype(np.int32) % _TEX, v.astype(np.int32) % _TEX
    crowns = det[iv, iu, 2]
    patch = tex[(iv // 2) % _TEX, (iu // 2) % _TEX, 1]       # stands of one kind of tree
    kind = det[(iv // 4) % _TEX, (iu // 4) % _TEX, 3]
    leaves = tex[iv, iu, 0]
    cache = scene.look_cache
    if 'tree_colours' not in cache:
        rng = np.random.default_rng([scene.look_seed, 0x7EE])
        greens = np.array([[0.07, 0.13, 0.06], [0.12, 0.20, 0.08], [0.16, 0.25, 0.10],
                           [0.09, 0.16, 0.09]]) * rng.uniform(0.75, 1.3)
        autumn = np.array([[0.72, 0.33, 0.06], [0.74, 0.56, 0.10], [0.56, 0.15, 0.06],
                           [0.42, 0.26, 0.09]]) * rng.uniform(0.8, 1.1)
        cache['tree_colours'] = (greens.astype(f32), autumn.astype(f32))
    greens, autumn = cache['tree_colours']
    gi = np.clip(((patch + 1) * 2).astype(np.int32), 0, 3)
    colour = greens[gi]
    if scene.autumn > 0:
        ai = np.clip(((kind * f32(1.2) + crowns * f32(0.3) + f32(1)) * 2).astype(np.int32),
                     0, 3)   # orange, yellow, red or brown by stand, a little per crown
        fall = np.clip((patch * f32(2.5) + crowns * f32(0.8)) * f32(2.0)
                       + f32(scene.autumn * 2.0 - 1.0), 0, 1)
        colour = colour + (autumn[ai] - colour) * fall[:, None]
    light = f32(0.65) + f32(0.45) * np.clip(crowns * f32(1.2) + f32(0.3), 0, 1) \
        + f32(0.15) * leaves
    h_t = f32(0.5 * scene.ring_radius / (scene.ring_radius + scene.haze))
    lit = (scene.lit_rgb * 0.85).astype(f32)
    hz = scene.sky_horizon.astype(f32)
    col[ys, xs] = colour * (light[:, None] * lit[None, :]) * (1 - h_t) + hz[None, :] * h_t


def _sun(scene: _Scene, cam: _Camera, look: np.ndarray, col: np.ndarray, ray_n: tuple,
         effects: Dict[str, Any]) -> None:
    """Put the sun and its glow in the sky; note its image position for the lens."""
    f32 = np.float32
    L = scene.sun_dir
    sc = cam.R @ L   # camera frame: x right, y down, z forward
    strength = 0.0 if scene.overcast else float(scene.direct)
    effects['sun'] = None
    if strength <= 0.0 and scene.direct <= 0.0:
        return
    cosang = ray_n[0] * f32(L[0]) + ray_n[1] * f32(L[1]) + ray_n[2] * f32(L[2])
    sky = (look == _SKY)
    if scene.overcast:   # a bright patch in the clouds where the sun is
        glow = f32(0.25 * scene.direct / 0.12) * np.exp((cosang - f32(1.0)) * f32(12.0))
        col += (glow * sky)[..., None]
        return
    warm = scene.sun_rgb.astype(f32)
    glow = (f32(0.5) * np.exp((cosang - f32(1.0)) * f32(400.0))
            + f32(0.25) * np.exp((cosang - f32(1.0)) * f32(25.0)))
    disc = (cosang > f32(math.cos(math.radians(0.6)))).astype(f32) * f32(40.0)
    col += ((glow * f32(strength) + disc) * sky)[..., None] * warm[None, None, :]
    if sc[2] > 0.05:
        u = cam.f * sc[0] / sc[2] + cam.cx
        v = cam.f * sc[1] / sc[2] + cam.cy
        W, H = cam.width, cam.height
        iu, iv = int(round(u)), int(round(v))
        visible = 0.0
        if 0 <= iu < W and 0 <= iv < H:
            visible = float(look[iv, iu] == _SKY)
        effects['sun'] = (float(u / W), float(v / H), strength, visible)
