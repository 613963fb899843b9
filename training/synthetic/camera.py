# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
The cameras of the synthetic renderer: the pinhole canvas, the lens and the view.

* :class:`_Camera`: the pinhole camera the geometry is rasterised through (the
  *canvas*, supersampled); camera frame x right, y down, z forward; world frame
  x, y on the ground, z up.
* :class:`_Lens`: radial lens distortion of normalised image coordinates in the
  OpenCV / ROS models ``plumb_bob`` (k1, k2, p1, p2, k3) and ``equidistant``
  (fisheye: k1..k4), or ``none``.
* :class:`_View`: the camera of one frame as the dataset describes it: pose on
  the car (``base_link``, REP 103), intrinsics ``K``, lens, image size. It makes
  the supersampled pinhole canvas that covers its image and resamples a canvas
  into the image (:meth:`_View.resample`): anti-aliasing and lens distortion in
  one step, labels taken from the canvas sample nearest each pixel centre.

Image polygons are int32 fixed point with 4 fractional bits (``shift=4`` in the
OpenCV fill calls); polygons are clipped to the near plane before projection.
Pixel coordinates put the centre of pixel (0, 0) at (0, 0), as OpenCV does.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

_NEAR = 0.2          # near clipping plane (m)
_CANVAS_AREA = 1.6   # largest canvas (before supersampling) in image areas, distorted views
DISTORTION_MODELS = ('none', 'plumb_bob', 'equidistant')


class _Camera:
    """Pinhole camera; world frame x, y on the ground, z up; camera x right, y down, z fwd."""

    def __init__(self, pos: Sequence[float], yaw: float, pitch: float, roll: float,
                 hfov: float, width: int, height: int, dcx: float = 0.0,
                 dcy: float = 0.0, *, f: Optional[float] = None, cx: Optional[float] = None,
                 cy: Optional[float] = None) -> None:
        self.pos = np.asarray(pos, dtype=np.float64)
        self.width, self.height = width, height
        self.f = (width / 2) / math.tan(hfov / 2) if f is None else float(f)
        self.cx = (width - 1) / 2 + dcx if cx is None else float(cx)
        self.cy = (height - 1) / 2 + dcy if cy is None else float(cy)
        cp, sp, cyw, syw = math.cos(pitch), math.sin(pitch), math.cos(yaw), math.sin(yaw)
        forward = np.array([cp * cyw, cp * syw, sp])
        right0 = np.array([syw, -cyw, 0.0])
        down0 = -np.cross(right0, forward)
        cr, sr = math.cos(roll), math.sin(roll)
        right = cr * right0 + sr * down0
        down = -sr * right0 + cr * down0
        self.R = np.stack([right, down, forward])   # rows: world -> camera
        self.yaw, self.pitch, self.roll = yaw, pitch, roll

    def to_cam(self, p: np.ndarray) -> np.ndarray:
        """Transform world points (..., 3) to camera coordinates."""
        return (p - self.pos) @ self.R.T

    def project(self, pc: np.ndarray) -> np.ndarray:
        """Project camera points (..., 3) with z > 0 to pixel coordinates (..., 2)."""
        z = pc[..., 2:3]
        return np.concatenate([self.f * pc[..., 0:1] / z + self.cx,
                               self.f * pc[..., 1:2] / z + self.cy], axis=-1)


class _Lens:
    """
    Radial distortion of normalised image coordinates (x, y) = (X / Z, Y / Z).

    ``plumb_bob``: r_d = r (1 + k1 r^2 + k2 r^4 + k3 r^6) with D = (k1, k2, p1, p2, k3)
    (the tangential p1, p2 are always 0 here); ``equidistant``: r_d = t (1 + k1 t^2 +
    k2 t^4 + k3 t^6 + k4 t^8) with t = atan(r) and D = (k1, k2, k3, k4), as OpenCV's
    ``cv2.projectPoints`` and ``cv2.fisheye.projectPoints`` compute them.
    """

    def __init__(self, model: str = 'none', D: Sequence[float] = ()) -> None:
        if model not in DISTORTION_MODELS:
            raise ValueError(f'unknown distortion model {model!r}')
        n = {'none': 0, 'plumb_bob': 5, 'equidistant': 4}[model]
        D = tuple(float(d) for d in D) + (0.0,) * (n - len(D))
        if len(D) != n:
            raise ValueError(f'{model} takes {n} distortion coefficients, got {len(D)}')
        if model == 'plumb_bob' and (D[2] or D[3]):
            raise ValueError('tangential distortion (p1, p2) is not modelled')
        self.model, self.D = model, D
        self._table: Optional[Tuple[np.ndarray, np.ndarray]] = None

    def radial(self, r: np.ndarray) -> np.ndarray:
        """Return the distorted radius of undistorted radii ``r`` (tan of the ray angle)."""
        r = np.asarray(r, dtype=np.float64)
        if self.model == 'plumb_bob':
            k1, k2, _, _, k3 = self.D
            r2 = r * r
            return r * (1 + r2 * (k1 + r2 * (k2 + r2 * k3)))
        if self.model == 'equidistant':
            k1, k2, k3, k4 = self.D
            t = np.arctan(r)
            t2 = t * t
            return t * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
        return r

    def table(self) -> Tuple[np.ndarray, np.ndarray]:
        """Return (r_u, r_d) sampled up to where the distortion stops growing (invertible)."""
        if self._table is None:
            r = np.linspace(0.0, 6.0, 24001)
            rd = self.radial(r)
            grows = np.diff(rd) > 1e-9
            end = len(r) if grows.all() else int(np.argmin(grows)) + 1
            self._table = (r[:end], rd[:end])
        return self._table

    def max_distorted(self) -> float:
        """Return the largest distorted radius the model maps one to one."""
        return float(self.table()[1][-1])

    def distort(self, x: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Distort normalised coordinates; radii beyond the invertible range are clamped."""
        if self.model == 'none':
            return x, y
        r = np.hypot(x, y)
        ru, _ = self.table()
        s = self.radial(np.minimum(r, ru[-1])) / np.maximum(r, 1e-12)
        s = np.where(r > 1e-12, s, 1.0)
        return x * s, y * s

    def undistort(self, xd: np.ndarray, yd: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Invert :meth:`distort` (exact to the table's resolution, 0.25 mm per metre)."""
        if self.model == 'none':
            return xd, yd
        rd = np.hypot(xd, yd)
        ru_t, rd_t = self.table()
        ru = np.interp(rd, rd_t, ru_t)
        s = np.where(rd > 1e-12, ru / np.maximum(rd, 1e-12), 1.0)
        return xd * s, yd * s

    def describe(self) -> Dict[str, Any]:
        """Return the model name and coefficients as the scene JSON writes them."""
        return {'distortion_model': self.model, 'D': [round(d, 6) for d in self.D]}


class _View:
    """
    The camera of one frame: pose on the car, intrinsics, lens and image size.

    World pose: ``pos`` (x, y, z; z = height above the ground), ``yaw`` (world
    heading of the optical axis), ``pitch`` (up positive), ``roll`` (right side down
    positive); ``heading`` is the car's yaw, so ``base_link`` is the frame on the
    ground below the camera with x along ``heading``. The horizontal field of view
    ``hfov`` is the angle between the left and the right image edge.
    """

    def __init__(self, pos: Sequence[float], heading: float, yaw: float, pitch: float,
                 roll: float, hfov: float, width: int, height: int, dcx: float = 0.0,
                 dcy: float = 0.0, lens: Optional[_Lens] = None) -> None:
        self.lens = lens if lens is not None else _Lens()
        self.width, self.height, self.hfov, self.heading = width, height, hfov, heading
        self.f = float((width / 2) / self.lens.radial(math.tan(hfov / 2)))
        self.cx = (width - 1) / 2 + dcx
        self.cy = (height - 1) / 2 + dcy
        self.cam = _Camera(pos, yaw, pitch, roll, hfov, width, height, f=self.f, cx=self.cx,
                           cy=self.cy)
        self._canvas: Dict[int, Tuple[_Camera, Optional[Tuple[np.ndarray, np.ndarray]]]] = {}

    # -- what the dataset records ------------------------------------------------
    def K(self) -> List[List[float]]:
        """Return the 3 x 3 intrinsic matrix of the (distorted) image."""
        return [[round(self.f, 4), 0.0, round(self.cx, 4)],
                [0.0, round(self.f, 4), round(self.cy, 4)], [0.0, 0.0, 1.0]]

    def pose_in_base(self) -> Dict[str, float]:
        """Return the camera pose in base_link (REP 103: x fwd, y left, z up; radians)."""
        yaw = (self.cam.yaw - self.heading + math.pi) % (2 * math.pi) - math.pi
        return {'x': 0.0, 'y': 0.0, 'z': round(float(self.cam.pos[2]), 4),
                'roll': round(self.cam.roll, 6), 'pitch': round(-self.cam.pitch, 6),
                'yaw': round(yaw, 6)}

    def to_base(self, p: np.ndarray) -> np.ndarray:
        """Transform world points (..., 3) to base_link (on the ground below the camera)."""
        c, s = math.cos(self.heading), math.sin(self.heading)
        d = np.asarray(p, dtype=np.float64) - np.array([self.cam.pos[0], self.cam.pos[1], 0.0])
        return np.stack([c * d[..., 0] + s * d[..., 1], -s * d[..., 0] + c * d[..., 1],
                         d[..., 2]], axis=-1)

    def to_world(self, p: np.ndarray) -> np.ndarray:
        """Transform base_link points (..., 3) to the world."""
        c, s = math.cos(self.heading), math.sin(self.heading)
        p = np.asarray(p, dtype=np.float64)
        return np.stack([self.cam.pos[0] + c * p[..., 0] - s * p[..., 1],
                         self.cam.pos[1] + s * p[..., 0] + c * p[..., 1], p[..., 2]], axis=-1)

    def project(self, p: np.ndarray) -> np.ndarray:
        """Project world points (..., 3) in front of the camera to distorted pixels (..., 2)."""
        pc = self.cam.to_cam(p)
        z = np.maximum(pc[..., 2], _NEAR)
        xd, yd = self.lens.distort(pc[..., 0] / z, pc[..., 1] / z)
        return np.stack([self.f * xd + self.cx, self.f * yd + self.cy], axis=-1)

    # -- rendering ---------------------------------------------------------------
    def canvas(self, ss: int) -> _Camera:
        """
        Return the pinhole camera the geometry is rasterised through, ``ss`` x supersampled.

        Canvas sample ``ss * u + ss // 2`` lies exactly on the centre of image pixel
        ``u`` (no distortion); with distortion the canvas covers the undistorted
        image of every pixel, at the image's scale in the centre (at most
        ``_CANVAS_AREA`` image areas before supersampling).
        """
        return self._prepare(ss)[0]

    def _prepare(self, ss: int) -> Tuple[_Camera, Optional[Tuple[np.ndarray, np.ndarray]]]:
        if ss in self._canvas:
            return self._canvas[ss]
        c = ss // 2
        extra = (ss + 1) % 2   # even factors: one more sample for the centred tent filter
        cam, W, H = self.cam, self.width, self.height
        if self.lens.model == 'none':
            canvas = _Camera(cam.pos, cam.yaw, cam.pitch, cam.roll, self.hfov, ss * W + extra,
                             ss * H + extra, f=ss * self.f, cx=ss * self.cx + c,
                             cy=ss * self.cy + c)
            maps = None
        else:
            xu, yu = _undistort_grid(self.lens, W, H, self.f, self.cx, self.cy)
            x0, x1 = float(xu[:, 0].min()), float(xu[:, -1].max())
            y0, y1 = float(yu[0].min()), float(yu[-1].max())
            fc = self.f
            area = (x1 - x0) * (y1 - y0) * fc * fc
            if area > _CANVAS_AREA * W * H:
                fc *= math.sqrt(_CANVAS_AREA * W * H / area)
            wc = int(math.ceil(fc * (x1 - x0))) + 3
            hc = int(math.ceil(fc * (y1 - y0))) + 3
            cxc, cyc = 1.0 - fc * x0, 1.0 - fc * y0
            canvas = _Camera(cam.pos, cam.yaw, cam.pitch, cam.roll, self.hfov, ss * wc + extra,
                             ss * hc + extra, f=ss * fc, cx=ss * cxc + c, cy=ss * cyc + c)
            maps = ((canvas.f * xu + canvas.cx).astype(np.float32),
                    (canvas.f * yu + canvas.cy).astype(np.float32))
        self._canvas[ss] = (canvas, maps)
        return self._canvas[ss]

    def resample(self, ss: int, col: np.ndarray, *labels: np.ndarray) -> List[np.ndarray]:
        """
        Turn a canvas (float RGB and label maps) into the image: anti-alias, distort.

        The colour is averaged over each pixel's footprint (a box of ``ss`` samples
        for odd factors, a centred tent of ``ss + 1`` for even ones) and sampled at
        the pixel centre, bilinearly where the lens bends the grid; label maps take
        the canvas sample nearest the pixel centre, so they stay exact class ids.
        """
        canvas, maps = self._prepare(ss)
        assert col.shape[:2] == (canvas.height, canvas.width)
        if ss > 1:
            n = ss + 1 - ss % 2
            k = np.full(n, 1.0 / ss, np.float32)
            if ss % 2 == 0:
                k[0] = k[-1] = 0.5 / ss
            col = cv2.sepFilter2D(col, -1, k, k, borderType=cv2.BORDER_REPLICATE)
        if maps is None:
            c = ss // 2
            H, W = self.height, self.width
            return [np.ascontiguousarray(a[c::ss, c::ss][:H, :W]) for a in (col,) + labels]
        out = [cv2.remap(col, maps[0], maps[1], cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)]
        out += [cv2.remap(lab, maps[0], maps[1], cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0) for lab in labels]
        return out


_GRID_CACHE: Dict[Tuple, Tuple[np.ndarray, np.ndarray]] = {}


def _undistort_grid(lens: _Lens, W: int, H: int, f: float, cx: float,
                    cy: float) -> Tuple[np.ndarray, np.ndarray]:
    """Return the undistorted normalised coordinates of every pixel centre (cached)."""
    key = (lens.model, lens.D, W, H, f, cx, cy)
    if key not in _GRID_CACHE:
        if len(_GRID_CACHE) > 4:
            _GRID_CACHE.clear()
        xd = np.broadcast_to(((np.arange(W) - cx) / f)[None, :], (H, W))
        yd = np.broadcast_to(((np.arange(H) - cy) / f)[:, None], (H, W))
        _GRID_CACHE[key] = lens.undistort(xd, yd)
    return _GRID_CACHE[key]


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
