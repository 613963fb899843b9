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
from training.synthetic.materials import _cone_look, _part_mesh, _wear_cone
from training.synthetic.scene import (_APRON, _RING, _Scene, _SKY, _TRACK_MAT, _TREES,
                                      BACKGROUND, TRACK)
from training.synthetic.shading import _shade_environment
from training.synthetic.textures import _sensor_noise, _vignette


def _colour(c: np.ndarray) -> Tuple[float, float, float]:
    """Return an RGB array as the float tuple OpenCV takes as a colour."""
    return (float(c[0]), float(c[1]), float(c[2]))


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
    col, mask, inst = _render_geometry(scene, cam, effects)
    col, mask, inst = view.resample(supersample, col, mask, inst)
    img = _camera_effects(col, rng, effects)
    inst, cones = _cone_truth(scene, view, mask, inst, min_cone_px)
    return _Frame(img, mask, inst, cones)


def _render_geometry(scene: _Scene, cam: _Camera, effects: Dict[str, Any],
                     ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rasterise a scene through a pinhole camera: (float RGB, class ids, cone ids + 1)."""
    W, H = cam.width, cam.height
    f32 = np.float32
    tr = scene.track
    right, down, fwd = cam.R
    a = ((np.arange(W) - cam.cx) / cam.f)[None, :]
    b = ((np.arange(H) - cam.cy) / cam.f)[:, None]
    dz = (b * down[2]).astype(f32) + (a * right[2] + fwd[2]).astype(f32)   # rays' world z
    ground = dz < 0

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

    col = _shade_environment(scene, cam, mat, effects)   # ground, sky, tree line

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
        cones = _cone_look(scene, cones, idx, geo)   # per-cone materials
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
    """
    Project one part (a box or another convex solid): lit visible faces, decals, silhouette.

    The faces of a convex solid do not overlap in the image and decals lie on their
    face, so drawing faces then decals in order needs no depth test; the silhouette
    is the hull of the projected vertices. Parts are hazed with distance. Their
    shadows are on the ground already (``shading``), so ``shadow`` is empty.
    """
    mesh = _part_mesh(scene, box)
    pc = cam.to_cam(mesh['verts'])
    if pc[:, 2].min() < _NEAR:
        return None
    uv = _fixed(cam.project(pc))
    vis = np.einsum('ij,ij->i', mesh['normal'], cam.pos[None, :] - mesh['centre']) > 0
    dist = float(np.linalg.norm(pc.mean(axis=0)))
    h = dist / (dist + scene.haze)
    hz = scene.sky_horizon * h
    colours = mesh['colour'] * (1 - h) + hz
    out = [(uv[f], _colour(colours[i])) for i, f in enumerate(mesh['faces']) if vis[i]]
    if len(mesh['decals']):
        on = vis[mesh['decal_face']]
        if on.any():
            duv = _fixed(cam.project(cam.to_cam(mesh['decals'][on])))
            dcol = mesh['decal_colour'][on] * (1 - h) + hz
            out += [(duv[k], _colour(dcol[k])) for k in range(len(duv))]
    return {'faces': out, 'hull': cv2.convexHull(uv), 'shadow': np.zeros((0, 2))}


def _shade_cone(scene: _Scene, col: np.ndarray, ids: np.ndarray, cid: int,
                geo: Dict[str, Any], j: int) -> None:
    """
    Shade a drawn cone across its silhouette: its wear, Lambert, gloss, shadows.

    The across position ``t`` of a pixel gives the surface normal of the frustum
    (as seen from the camera), its row the height on the cone; the cone's own
    material (:func:`training.synthetic.materials._wear_cone`) adds dirt, scuffs
    and stickers before the light, and says how glossy it is and whether an
    object shades it.
    """
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
    rows = np.nonzero(any_row)[0]
    v = np.clip((np.arange(len(any_row), dtype=np.float32) - rows[0])
                / max(rows[-1] - rows[0], 1), 0, 1)
    sub = col[y0:y1, x0:x1]
    tr = t[region]
    if 'index' in geo:
        view_az = scene.sun_az - math.atan2(lb, la)   # azimuth from the cone to the camera
        albedo, gloss, sunlit = _wear_cone(scene, sub, region, tr, np.broadcast_to(
            v[:, None], region.shape)[region], int(geo['index'][j]), view_az)
    else:
        albedo, gloss, sunlit = sub[region], 0.5, 1.0
    ct = np.sqrt(1 - tr * tr)
    lam = np.maximum(la * ct + lb * tr + lc, 0) * sunlit
    power = 10.0 + 50.0 * gloss
    spec = np.maximum(ha * ct + hb * tr + hc, 0) ** power * (
        (0.1 + 0.5 * gloss) * scene.direct * sunlit)
    shade = (scene.ambient * scene.sky_rgb)[None, :] + lam[:, None] * (
        scene.direct * scene.sun_rgb)[None, :]
    sub[region] = albedo * shade.astype(np.float32) + spec[:, None].astype(np.float32)


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
    # glossy bodywork: the sky mirrored along the top edge, darker towards the bottom
    y0 = max(int(top), 0)
    if y0 >= H:
        return
    on = np.zeros((H - y0, W), np.uint8)
    cv2.fillConvexPoly(on, p - np.array([0, y0 * 16], np.int32), 1, shift=4)
    rows = (np.arange(H - y0, dtype=np.float32) / max(H - top, 1.0))[:, None]
    sheen = np.exp(-rows / np.float32(0.12)) * np.float32(0.35)
    dark = np.float32(1.0) - np.float32(0.35) * rows
    sub = col[y0:]
    sel = on.astype(bool)
    sky = scene.sky_horizon.astype(np.float32)
    sub[sel] = (sub * dark[..., None] + sheen[..., None] * sky)[sel]


def _white_balance(rng: np.random.Generator) -> np.ndarray:
    """Return per-channel gains: a warm/cool shift plus a little green/magenta."""
    temp = rng.uniform(-0.06, 0.06)
    tint = rng.uniform(-0.025, 0.025)
    return np.array([1.0 + temp, 1.0 + tint, 1.0 - temp])


def _sample_effects(rng: np.random.Generator) -> Dict[str, Any]:
    """
    Draw camera effects: exposure, white balance, tone, vignetting, blur, noise, JPEG.

    And the lens: bloom around highlights, flare and veiling glare strength when
    the sun is in or near the view, the knee of the highlight roll-off.
    """
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
        'bloom': float(rng.uniform(0.02, 0.1)),
        'flare': float(rng.uniform(0.3, 1.0)) if rng.random() < 0.8 else 0.0,
        'knee': float(rng.uniform(0.7, 0.9)),
    }


def _lens(col: np.ndarray, fx: Dict[str, Any]) -> None:
    """
    Add bloom, sun glare and flare ghosts to the radiance (in place).

    Bloom spreads what is brighter than white (the sun, glints, specular
    highlights); with the sun in or near the view, a veil of light around it
    lowers the contrast and ghosts of the aperture line up through the centre.
    """
    H, W = col.shape[:2]
    sw, sh = max(W // 8, 8), max(H // 8, 8)
    exposure = fx['exposure']
    small = cv2.resize(col, (sw, sh), interpolation=cv2.INTER_AREA)
    excess = np.maximum(small - np.float32(1.0 / exposure), 0)
    add = cv2.GaussianBlur(excess, (0, 0), sw / 80.0) * np.float32(fx.get('bloom', 0.0) * 3)
    add += cv2.GaussianBlur(excess, (0, 0), sw / 15.0) * np.float32(fx.get('bloom', 0.0))
    sun = fx.get('sun')
    if sun is not None and fx.get('flare', 0.0) > 0:
        u, v, strength, _ = sun
        su, sv = u * sw, v * sh
        iu, iv = int(u * W), int(v * H)
        inside = 0 <= iu < W and 0 <= iv < H
        # how much of the sun is seen: in view and not hidden behind an object
        seen = float(col[iv, iu].max() > 8.0) if inside else 0.0
        off = max(abs(u - 0.5) - 0.5, 0.0) + max(abs(v - 0.5) - 0.5, 0.0)
        near = seen if inside else math.exp(-off / 0.25) * 0.6
        k = float(fx['flare'] * min(strength, 1.5) * near)
        if k > 0.01:
            yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
            d = np.sqrt((xx - su) ** 2 + (yy - sv) ** 2) / np.float32(sw)
            veil = np.exp(-d / np.float32(0.25)) * np.float32(0.25 * k)
            add += veil[..., None] * np.array([1.0, 0.95, 0.85], np.float32)
            if seen:
                ghosts = np.zeros_like(add)
                cx, cy = sw / 2, sh / 2
                tints = ((0.5, 1.0, 0.6), (1.0, 0.6, 0.3), (0.6, 0.5, 1.0), (0.9, 0.9, 0.5),
                         (0.4, 0.8, 1.0))
                for n, (t, r) in enumerate(((0.45, 0.025), (0.8, 0.015), (1.25, 0.04),
                                            (1.6, 0.02), (2.0, 0.05))):
                    gx, gy = su + (cx - su) * t, sv + (cy - sv) * t
                    c = tuple(float(x) * 0.02 * k for x in tints[n])
                    cv2.circle(ghosts, (int(round(gx * 4)), int(round(gy * 4))),
                               max(int(r * sw * 4), 1), c, -1, cv2.LINE_AA, shift=2)
                add += cv2.GaussianBlur(ghosts, (0, 0), 0.8)
    col += cv2.resize(add, (W, H), interpolation=cv2.INTER_LINEAR)


def _camera_effects(col: np.ndarray, rng: np.random.Generator,
                    fx: Dict[str, Any]) -> np.ndarray:
    """Turn the scene radiance into an 8-bit camera image."""
    H, W = col.shape[:2]
    if fx['vignette'] > 0:
        col *= (np.float32(1.0) - np.float32(fx['vignette']) * _vignette(H, W))[..., None]
    if fx.get('bloom', 0.0) > 0 or fx.get('sun') is not None:
        _lens(col, fx)
    col *= np.float32(fx['exposure'])
    knee = fx.get('knee')
    if knee is not None:   # highlights roll off towards white, keeping their hue
        peak = col.max(axis=2)
        over = peak > np.float32(knee)
        if over.any():
            p = peak[over]
            k = np.float32(knee)
            soft = k + (np.float32(1.0) - k) * np.tanh((p - k) / (np.float32(1.0) - k))
            col[over] *= (soft / p)[:, None]
    gain = np.asarray(fx['wb'], dtype=np.float64) * 255.0
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
