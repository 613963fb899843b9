# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
The renderer: one view of a scene -> (RGB image, class-id mask, instance map, cones).

:func:`_render` runs the stages of a frame:

1. geometry (:func:`_render_geometry`) on the view's supersampled pinhole canvas:
   the ground, sky and tree line from polygons and texture lookups (one palette
   remap), then shadows, cones, boxes and the car's nose far to near into the
   image, the mask and the instance map alike (exact labels);
2. resampling to the image (:meth:`training.synthetic.camera._View.resample`):
   anti-aliasing and lens distortion together, labels from the nearest sample;
3. the camera effects drawn by :func:`_sample_effects` (exposure, white balance,
   tone, vignetting, blur, motion blur, noise, JPEG), on the distorted image;
4. the ground truth of the cones in view (:func:`_cone_truth`): instances
   numbered near to far, cones under ``min_cone_px`` set to ignore (255) in the mask.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import cv2
import numpy as np
from training.datasets.base import FS_CLASSES, IGNORE
from training.synthetic.camera import _Camera, _fixed, _ground_polys, _NEAR, _View
from training.synthetic.scene import (_APRON, _GRASS, _RING, _Scene, _SKY, _TRACK_MAT,
                                      _TREES, BACKGROUND, TRACK)
from training.synthetic.textures import (_CLOUD_TEXEL, _GROUND_TEXEL, _sensor_noise, _TEX,
                                         _textures, _vignette)

_D_BINS = 30.0     # distance (m) at the middle of the palette's distance axis
_D_GRAIN = 25.0    # distance (m) at which the fine grain has faded to half


def _colour(c: np.ndarray) -> Tuple[float, float, float]:
    """Return an RGB array as the float tuple OpenCV takes as a colour."""
    return (float(c[0]), float(c[1]), float(c[2]))


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


class _Frame(NamedTuple):
    """One rendered view and its ground truth."""

    image: np.ndarray       # H x W x 3 RGB uint8
    mask: np.ndarray        # H x W uint8 class ids; 255 = ignore (cones under min_cone_px)
    instances: np.ndarray   # H x W uint16; 0 = no cone, k = cones[k - 1]
    cones: List[Dict[str, Any]]   # the cones in view, near to far (scene JSON entries)


def _render(scene: _Scene, view: _View, rng: np.random.Generator, effects: Dict[str, Any],
            supersample: int = 2, min_cone_px: float = 8.0) -> _Frame:
    """
    Render one view: geometry -> anti-aliasing and lens distortion -> camera effects.

    :param scene: the world.
    :param view: the camera (pose, intrinsics, lens, image size).
    :param rng: draws of the camera effects (noise).
    :param effects: camera effects from :func:`_sample_effects`.
    :param supersample: geometry is rasterised at this factor, then resampled.
    :param min_cone_px: cones projected smaller (height in pixels) are ignored (255)
        in the mask; 0 keeps every cone.
    """
    cam = view.canvas(supersample)
    col, mask, inst = _render_geometry(scene, cam)
    col, mask, inst = view.resample(supersample, col, mask, inst)
    img = _camera_effects(col, rng, effects)
    inst, cones = _cone_truth(scene, view, mask, inst, min_cone_px)
    return _Frame(img, mask, inst, cones)


def _render_geometry(scene: _Scene, cam: _Camera) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rasterise a scene through a pinhole camera: (float RGB, class ids, cone ids + 1)."""
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
    if not tr.closed:   # an open track does not join its end to its start
        sel = sel[sel < tr.n - 1]
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

    inst = np.zeros((H, W), np.uint16)
    _draw_objects(scene, cam, col, mask, inst)
    if scene.nose is not None:
        _draw_nose(scene, col, mask)
    return col, mask, inst


def _cone_truth(scene: _Scene, view: _View, mask: np.ndarray, inst: np.ndarray,
                min_cone_px: float) -> Tuple[np.ndarray, List[Dict[str, Any]]]:
    """
    Renumber the visible cones near to far and describe them; ignore the small ones.

    ``inst`` holds scene cone index + 1 per pixel; pixels an occluder relabelled
    in the mask (the car's nose) are dropped first, so an instance pixel always
    carries its cone's class (or 255). Returns the renumbered uint16 instance map
    (k = k-th entry of the list) and the list; sets the mask of cones projected
    under ``min_cone_px`` pixels high to 255.
    """
    cones = scene.cone_arrays()
    n = cones['n']
    cls_of = np.concatenate([[IGNORE], cones['cls']]).astype(np.uint8)
    inst[cls_of[inst] != mask] = 0
    counts = np.bincount(inst.ravel(), minlength=n + 1)
    ids = np.nonzero(counts[1:])[0]
    k = len(ids)
    if k == 0:
        return np.zeros_like(inst), []
    rings, plate = _cone_solids(cones, ids)
    pts = np.concatenate([rings.reshape(k, -1, 3), plate], axis=1)
    v = view.project(pts)[..., 1]
    height_px = v.max(axis=1) - v.min(axis=1)
    base = view.to_base(plate[:, :4].mean(axis=1))
    dist = np.hypot(base[:, 0], base[:, 1])
    order = np.lexsort((ids, dist))
    ids, height_px, base, dist = ids[order], height_px[order], base[order], dist[order]
    lut = np.zeros(n + 1, np.uint16)
    lut[ids + 1] = np.arange(1, k + 1)
    inst = lut[inst]
    height_px = np.round(height_px, 2)   # as written: the JSON decides like the mask
    ignored = height_px < min_cone_px if min_cone_px > 0 else np.zeros(k, bool)
    if ignored.any():
        mask[np.concatenate([[False], ignored])[inst]] = IGNORE
    ys, xs = np.nonzero(inst)
    lab = inst[ys, xs]
    lo_u, lo_v = np.full(k + 1, 1 << 30), np.full(k + 1, 1 << 30)
    hi_u, hi_v = np.full(k + 1, -1), np.full(k + 1, -1)
    np.minimum.at(lo_u, lab, xs)
    np.minimum.at(lo_v, lab, ys)
    np.maximum.at(hi_u, lab, xs)
    np.maximum.at(hi_v, lab, ys)
    out = []
    for j in range(k):
        c = int(cones['cls'][ids[j]])
        out.append({
            'instance': j + 1, 'class_id': c, 'class': FS_CLASSES[c],
            'base_xyz': [round(float(x), 3) + 0.0 for x in base[j]],
            'distance_m': round(float(dist[j]), 3), 'pixels': int(counts[ids[j] + 1]),
            'bbox': [int(lo_u[j + 1]), int(lo_v[j + 1]), int(hi_u[j + 1]) + 1,
                     int(hi_v[j + 1]) + 1],
            'height_px': float(height_px[j]), 'ignored': bool(ignored[j]),
            'knocked_over': bool(cones['knocked'][ids[j]])})
    return inst, out


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


def _draw_objects(scene: _Scene, cam: _Camera, col: np.ndarray, mask: np.ndarray,
                  inst: Optional[np.ndarray] = None) -> None:
    """
    Draw shadows, then cones and boxes far to near, then shade the near cones.

    ``inst`` (optional) receives scene cone index + 1 wherever a cone is drawn.
    """
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
            if inst is not None:
                cv2.fillConvexPoly(inst, gb['hull'], 0, shift=4)
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
        elif cones['knocked'][i]:   # lying on its side: flat shading, parts far to near
            _draw_lying_cone(col, cones, i, geo, j, plate)
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
        if inst is not None:
            cv2.fillConvexPoly(inst, plate, int(i) + 1, shift=4)
            cv2.fillConvexPoly(inst, body, int(i) + 1, shift=4)
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
    rings, plate = _cone_solids(cones, idx)
    pc_r = cam.to_cam(rings)
    pc_p = cam.to_cam(plate)
    # a lying cone shows its base plate in front when the base is the nearer end
    out_base_far = pc_r[:, 0, :, 2].mean(axis=1) > pc_r[:, -1, :, 2].mean(axis=1)
    ok = (pc_r[..., 2].reshape(nv, -1).min(1) >= _NEAR) & (pc_p[..., 2].min(1) >= _NEAR)
    pc_r[..., 2] = np.maximum(pc_r[..., 2], _NEAR)
    pc_p[..., 2] = np.maximum(pc_p[..., 2], _NEAR)
    uv_r = cam.project(pc_r)
    out = {'ok': ok, 'rings': _fixed(uv_r), 'plate': _fixed(cam.project(pc_p)),
           'base_far': out_base_far}
    out['px_height'] = uv_r[:, 0, :, 1].max(1) - uv_r[:, -1, :, 1].min(1)
    lo = np.minimum(uv_r.reshape(nv, -1, 2).min(1), out['plate'].min(1) / 16.0)
    hi = np.maximum(uv_r.reshape(nv, -1, 2).max(1), out['plate'].max(1) / 16.0)
    out['bbox'] = np.concatenate([lo, hi], axis=1)
    out['px_height'] = np.where(cones['knocked'][idx], hi[:, 1] - lo[:, 1], out['px_height'])
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
    out['mean_shade'] = mean_shade
    out['mean_lit'] = [tuple(v) for v in cones['mean_col'][idx] * mean_shade[:, None]]
    out['base_lit'] = [tuple(v) for v in cones['base'][idx] * mean_shade[:, None]]
    # Shadows: the hull of the base square and the top ring cast along the sun.
    out['shadow'] = [None] * nv
    if scene.direct > 0.05:
        sd = -scene.sun_dir[:2] / scene.sun_dir[2]
        hull3 = np.concatenate([plate, rings[:, -1]], axis=1)   # base plate and top ring
        pts = hull3[..., :2] + hull3[..., 2:3] * sd
        p3 = np.concatenate([pts, np.zeros(pts.shape[:2] + (1,))], axis=2)
        pc_s = cam.to_cam(p3)
        good = pc_s[..., 2].min(1) >= _NEAR
        pc_s[..., 2] = np.maximum(pc_s[..., 2], _NEAR)
        uv_s = _fixed(cam.project(pc_s))
        out['shadow'] = [uv_s[j] if good[j] else None for j in range(nv)]
    return out


def _cone_solids(cones: Dict[str, Any], idx: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """
    Return the world points of cones ``idx``: rings (n, 6, _RING, 3) and plates (n, 8, 3).

    Rings are the body's circles from its base to its top; the plate is the
    square base (4 bottom corners, then 4 top corners). A knocked-over cone is
    turned about its base towards its fall direction until it lies on the plate
    edge and the top ring, then lifted onto the ground.
    """
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
    lying = np.nonzero(cones['knocked'][idx])[0]
    if len(lying):
        i = idx[lying]
        tilt = np.pi - np.arctan2(cones['height'][i] - cones['plate_h'][i],
                                  cones['plate_half'][i] - radii[lying, -1]) + \
            cones['fall_tilt'][i]
        ca, sa = np.cos(tilt)[:, None], np.sin(tilt)[:, None]
        dx, dy = np.cos(cones['fall_dir'][i])[:, None], np.sin(cones['fall_dir'][i])[:, None]
        p0 = pos[lying]
        for pts in (rings, plate):
            q = pts[lying].reshape(len(lying), -1, 3)
            rx, ry = q[..., 0] - p0[:, 0:1], q[..., 1] - p0[:, 1:2]
            along, across, up = rx * dx + ry * dy, -rx * dy + ry * dx, q[..., 2]
            along, up = along * ca + up * sa, -along * sa + up * ca
            q = np.stack([p0[:, 0:1] + along * dx - across * dy,
                          p0[:, 1:2] + along * dy + across * dx, up], axis=-1)
            pts[lying] = q.reshape(pts[lying].shape)
        lift = np.minimum(rings[lying, ..., 2].reshape(len(lying), -1).min(1),
                          plate[lying, :, 2].min(1))
        rings[lying, ..., 2] -= lift[:, None, None]
        plate[lying, :, 2] -= lift[:, None]
    return rings, plate


def _draw_lying_cone(col: np.ndarray, cones: Dict[str, Any], i: int, geo: Dict[str, Any],
                     j: int, plate: np.ndarray) -> None:
    """Draw knocked-over cone ``i`` (visible cone ``j``): its parts far to near, flat shaded."""
    rings = geo['rings'][j]
    shade = float(geo['mean_shade'][j])
    parts = [cv2.convexHull(np.concatenate([rings[s], rings[s + 1]])) for s in range(5)
             if cones['seg_on'][i, s]]
    colours = [_colour(cones['seg_col'][i, s] * shade) for s in range(5) if cones['seg_on'][i, s]]
    base = _colour(cones['base'][i] * shade)
    if geo['base_far'][j]:   # base away from the camera: plate, body, the open top
        cv2.fillConvexPoly(col, plate, base, shift=4)
        for hull, colour in zip(parts, colours):
            cv2.fillConvexPoly(col, hull, colour, shift=4)
        cv2.fillConvexPoly(col, cv2.convexHull(rings[-1]), (0.05, 0.05, 0.05), shift=4)
    else:                    # base towards the camera: body from the top, plate last
        for hull, colour in zip(parts[::-1], colours[::-1]):
            cv2.fillConvexPoly(col, hull, colour, shift=4)
        cv2.fillConvexPoly(col, plate, base, shift=4)


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
