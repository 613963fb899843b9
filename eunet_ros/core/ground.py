# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Pixels to the ground: camera intrinsics, the camera's pose on the car, ray casting.

ROS-free and torch-free. :class:`Intrinsics` is what ``sensor_msgs/CameraInfo``
carries (K, D, distortion model, image size); :func:`check_intrinsics` refuses
values that would give wrong positions (zero or negative focal length, NaN, a
coefficient count the model does not take) with a message that says which.
:class:`CameraPose` is the optical centre's pose in the vehicle frame (REP 103:
x forward, y left, z up; roll, pitch, yaw in radians about x, y, z, applied as
``Rz(yaw) Ry(pitch) Rx(roll)``, the camera looking along +x at zero, so a
positive pitch looks down). :func:`ground_points` undistorts pixels
(``cv2.undistortPoints`` for plumb_bob and rational_polynomial,
``cv2.fisheye.undistortPoints`` for equidistant), turns them into rays in the
vehicle frame and intersects the rays with the ground plane z = 0. A ray at or
above the horizon, or one that meets the ground farther than ``max_range``, gives
NaN: no position.

:func:`load_calibration` reads a camera_calibration YAML file (what
``camera_info_url`` points at).
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

__all__ = ['DISTORTION_MODELS', 'Intrinsics', 'CameraPose', 'IntrinsicsError',
           'check_intrinsics', 'ground_points', 'load_calibration', 'parse_calibration',
           'calibration_path', 'rotation_matrix', 'OPTICAL_TO_BODY']

# distortion model -> the coefficient counts it takes (ROS names, image_geometry's set)
DISTORTION_MODELS = {'plumb_bob': (4, 5), 'rational_polynomial': (8,), 'equidistant': (4,),
                     'none': (0,)}
# camera body (x forward, y left, z up) from optical (x right, y down, z forward)
OPTICAL_TO_BODY = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
# The ray must point down by at least this much (the ground is then < ~1000 camera
# heights away); flatter rays are the horizon.
_MIN_DOWN = 1e-3
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)


class IntrinsicsError(ValueError):
    """Camera intrinsics that cannot give positions; the message says what is wrong."""


@dataclass(frozen=True)
class Intrinsics:
    """
    A camera's intrinsics as ``sensor_msgs/CameraInfo`` carries them.

    :ivar K: 3 x 3 camera matrix (fx, 0, cx; 0, fy, cy; 0, 0, 1) of the distorted image.
    :ivar D: distortion coefficients of ``model``.
    :ivar model: ``plumb_bob`` (k1, k2, p1, p2[, k3]), ``rational_polynomial`` (8),
        ``equidistant`` (k1..k4, OpenCV fisheye) or ``none``.
    :ivar width: image width the calibration is for (0: unknown, not checked).
    :ivar height: image height (0: unknown).
    :ivar source: where it came from, for diagnostics (topic, file, parameters).
    """

    K: Tuple[Tuple[float, float, float], ...]
    D: Tuple[float, ...] = ()
    model: str = 'plumb_bob'
    width: int = 0
    height: int = 0
    source: str = ''

    @property
    def matrix(self) -> np.ndarray:
        """Return K as a float64 3 x 3 array."""
        return np.asarray(self.K, dtype=np.float64).reshape(3, 3)

    def size_problem(self, width: int, height: int) -> Optional[str]:
        """Return why this calibration does not fit a ``width`` x ``height`` image, or None."""
        if self.width and self.height and (self.width, self.height) != (width, height):
            return (f'the calibration ({self.source or "camera_info"}) is for '
                    f'{self.width}x{self.height} images but the image is {width}x{height}')
        return None


def check_intrinsics(K: Sequence[float], D: Sequence[float], model: str, width: int = 0,
                     height: int = 0, source: str = '') -> Intrinsics:
    """
    Validate intrinsics and return them as :class:`Intrinsics`.

    An all-zero D of any length (drivers fill 5 zeros for rectified images) is
    accepted for every model; ``model`` '' is read as ``plumb_bob`` when D is
    zero or has 5 entries (what uncalibrated drivers publish).

    :param K: 9 numbers, row major.
    :raises IntrinsicsError: NaN or infinite values, a focal length <= 0, a principal
        point outside the image, an unknown model or a wrong number of coefficients.
    """
    where = f'{source}: ' if source else ''
    try:
        k = np.asarray(list(K), dtype=np.float64)
        d = np.asarray(list(D), dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise IntrinsicsError(f'{where}K and D must be numbers ({e})') from None
    if k.size != 9:
        raise IntrinsicsError(f'{where}K needs 9 numbers, got {k.size}')
    if not np.all(np.isfinite(k)) or not np.all(np.isfinite(d)):
        raise IntrinsicsError(f'{where}K or D holds a non-finite value (not-a-number or '
                              'infinity)')
    k = k.reshape(3, 3)
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    if fx <= 0 or fy <= 0:
        raise IntrinsicsError(f'{where}focal length must be > 0, got fx={fx:g}, fy={fy:g} '
                              '(an uncalibrated camera publishes zeros)')
    if width < 0 or height < 0:
        raise IntrinsicsError(f'{where}image size {width}x{height} is negative')
    if width and height and not (0 <= cx <= width and 0 <= cy <= height):
        raise IntrinsicsError(f'{where}principal point ({cx:g}, {cy:g}) lies outside the '
                              f'{width}x{height} image')
    name = str(model).strip().lower()
    if not np.any(d):
        d = np.zeros(0)
        name = name or 'plumb_bob'
    elif name == '' and d.size == 5:
        name = 'plumb_bob'
    if name not in DISTORTION_MODELS:
        raise IntrinsicsError(f'{where}distortion model {model!r} is not one of '
                              f'{", ".join(DISTORTION_MODELS)}')
    if d.size and d.size not in DISTORTION_MODELS[name]:
        raise IntrinsicsError(f'{where}distortion model {name} takes '
                              f'{" or ".join(map(str, DISTORTION_MODELS[name]))} coefficients, '
                              f'got {d.size}')
    return Intrinsics(K=tuple(tuple(float(v) for v in row) for row in k),
                      D=tuple(float(v) for v in d), model=name, width=int(width),
                      height=int(height), source=source)


def rotation_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Return ``Rz(yaw) Ry(pitch) Rx(roll)`` (body to parent frame, REP 103 angles)."""
    cr, sr = math.cos(roll), math.sin(roll)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
    return rz @ ry @ rx


@dataclass(frozen=True)
class CameraPose:
    """
    The optical centre's pose in the vehicle frame (metres, radians; see the module doc).

    ``z`` is the height above the ground plane z = 0 and must be > 0 for positions.
    """

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    roll: float = 0.0
    pitch: float = 0.0
    yaw: float = 0.0

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> 'CameraPose':
        """Build from a mapping with keys x, y, z, roll, pitch, yaw (the scene JSON's pose)."""
        return cls(**{k: float(m.get(k, 0.0)) for k in ('x', 'y', 'z', 'roll', 'pitch', 'yaw')})

    def problem(self) -> Optional[str]:
        """Return why no ground position can come out of this pose, or None."""
        vals = (self.x, self.y, self.z, self.roll, self.pitch, self.yaw)
        if not all(math.isfinite(v) for v in vals):
            return 'the camera pose holds a non-finite value'
        if self.z <= 0:
            return (f'the camera height z is {self.z:g} m; it must be > 0 (above the '
                    'ground plane z = 0)')
        return None

    def optical_rotation(self) -> np.ndarray:
        """Return the rotation optical frame -> vehicle frame (3 x 3)."""
        return rotation_matrix(self.roll, self.pitch, self.yaw) @ OPTICAL_TO_BODY


def undistort(uv: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Return the normalised image coordinates (x/z, y/z) of distorted pixels ``uv`` (N x 2)."""
    pts = np.ascontiguousarray(uv, dtype=np.float64).reshape(-1, 1, 2)
    if len(pts) == 0:
        return np.zeros((0, 2))
    K = intrinsics.matrix
    D = np.asarray(intrinsics.D, dtype=np.float64)
    if intrinsics.model == 'equidistant' and D.size:
        out = cv2.fisheye.undistortPoints(pts, K, D)
    elif D.size:
        # OpenCV's default 5 iterations leave centimetres at the image corners of a
        # strong lens; iterate to convergence
        it = getattr(cv2, 'undistortPointsIter', None)   # OpenCV 4; 5 takes criteria below
        if it is not None:
            out = it(pts, K, D, None, None, _UNDISTORT_CRITERIA)
        else:
            out = cv2.undistortPoints(pts, K, D, criteria=_UNDISTORT_CRITERIA)
    else:
        out = cv2.undistortPoints(pts, K, None)
    return out.reshape(-1, 2)


def ground_points(uv: np.ndarray, intrinsics: Intrinsics, pose: CameraPose, *,
                  max_range: float = 100.0) -> np.ndarray:
    """
    Intersect the rays of pixels ``uv`` (N x 2, distorted image) with the ground z = 0.

    :param max_range: farther intersections (ground distance from the point below
        the camera) count as the horizon: NaN.
    :returns: N x 3 float64 points in the vehicle frame; NaN rows where the ray does
        not meet the ground in front of the camera within ``max_range``.
    """
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    out = np.full((len(uv), 3), np.nan)
    if not len(uv) or pose.problem() is not None:
        return out
    xy = undistort(uv, intrinsics)
    rays = np.concatenate([xy, np.ones((len(xy), 1))], axis=1) @ pose.optical_rotation().T
    down = rays[:, 2] < -_MIN_DOWN * np.linalg.norm(rays, axis=1)
    if not np.any(down):
        return out
    s = -pose.z / rays[down, 2]
    hit = np.array([pose.x, pose.y, pose.z]) + s[:, None] * rays[down]
    hit[:, 2] = 0.0
    far = np.hypot(hit[:, 0] - pose.x, hit[:, 1] - pose.y) > max_range
    hit[far] = np.nan
    out[down] = hit
    return out


def calibration_path(url: str) -> Path:
    """
    Return the file a ``camera_info_url`` names (``file://`` URL or a plain path).

    :raises IntrinsicsError: another scheme (``package://`` needs ament_index; give
        the path instead).
    """
    u = str(url).strip()
    if u.startswith('file://'):
        return Path(u[len('file://'):]).expanduser()
    if '://' in u:
        raise IntrinsicsError(f'camera_info_url {u!r}: only file:// URLs and plain paths are '
                              'supported; give the file path')
    return Path(u).expanduser()


def parse_calibration(data: Mapping[str, Any], source: str = '') -> Intrinsics:
    """Return the intrinsics of a camera_calibration YAML mapping (already parsed)."""
    try:
        K = data['camera_matrix']['data']
        D = (data.get('distortion_coefficients') or {}).get('data') or []
        model = data.get('distortion_model') or ('plumb_bob' if D else 'none')
        w, h = int(data.get('image_width', 0)), int(data.get('image_height', 0))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise IntrinsicsError(f'{source}: not a camera_calibration file (needs camera_matrix: '
                              f'{{data: [9 numbers]}}; {type(e).__name__}: {e})') from None
    return check_intrinsics(K, D, model, w, h, source=source)


def load_calibration(url: Union[str, Path]) -> Intrinsics:
    """
    Read a camera_calibration YAML file (``camera_info_url``) into :class:`Intrinsics`.

    :raises IntrinsicsError: missing or unreadable file, bad YAML, bad values.
    """
    import yaml
    path = calibration_path(str(url))
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise IntrinsicsError(f'camera_info_url {str(url)!r}: cannot read {path}: '
                              f'{e.strerror or e}') from None
    except yaml.YAMLError as e:
        raise IntrinsicsError(f'camera_info_url {str(url)!r}: {path} is not valid YAML: '
                              f'{str(e).splitlines()[0]}') from None
    if not isinstance(data, dict):
        raise IntrinsicsError(f'camera_info_url {str(url)!r}: {path} is not a '
                              'camera_calibration file')
    return parse_calibration(data, source=str(path))
