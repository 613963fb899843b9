# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Samples and drives: seeds -> scene, camera pose and effects -> rendered frames.

:func:`render_sample` renders sample ``i`` of seed ``s`` from ``(s, i)`` alone:
a layout (trackdrive loop, autocross, acceleration, skidpad), a place on it, a
camera mount (nose 0.3-0.55 m, cockpit 0.55-0.95 m, main hoop 0.95-1.3 m; the
car's nose shows only from the hoop), a field of view and a lens;
:func:`render_drive` renders consecutive frames of a car driving around one loop
(:class:`_DrivePlan`); :class:`SyntheticSource` serves samples on the fly as a
``training.datasets.base.SegmentationSource``. With ``truth=True`` both also
return the instance map and the scene JSON (:func:`scene_json`). The argument
checks live here too.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

from eunet_ros.core.options import MAX_SIDE, MIN_SIDE
import numpy as np
from training.datasets.base import FS_CLASSES, SegmentationSource
from training.synthetic.camera import _Lens, _NEAR, _View
from training.synthetic.render import _render, _sample_effects
from training.synthetic.scene import _Scene, _Track, LAYOUT_P, LAYOUTS

# Bumped whenever the pictures of a given (seed, index) change; stored in meta.json
# and in every scene JSON.
GENERATOR_VERSION = 2
MIN_CONE_PX = 8      # cones projected smaller than this (pixels high) are ignored (255)
SUPERSAMPLE = 2      # geometry is rasterised at this factor and resampled

_SAMPLE_TAG = 0x53594E31   # entropy tags: samples and drives draw from disjoint streams
_DRIVE_TAG = 0x44525631
_DRIVE_FRAME_TAG = 0x44524632


def _check_size(width: int, height: int) -> None:
    if not (isinstance(width, (int, np.integer)) and isinstance(height, (int, np.integer))):
        raise TypeError(f'width and height must be integers, got {width!r} x {height!r}')
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ValueError(f'resolution {width}x{height} is out of range: width and height '
                         f'must be between {MIN_SIDE} and {MAX_SIDE} pixels')


def _check_format(image_format: str, quality: int) -> None:
    if image_format not in ('jpg', 'png'):
        raise ValueError(f'image format must be jpg or png, got {image_format!r}')
    if not 1 <= quality <= 100:
        raise ValueError(f'JPEG quality must be in 1..100, got {quality}')


def _check_seed(seed: int) -> None:
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be a non-negative integer, got {seed!r}')


def _check_labels(min_cone_px: float, supersample: int) -> None:
    if isinstance(min_cone_px, bool) or not isinstance(
            min_cone_px, (int, float, np.integer, np.floating)) or not min_cone_px >= 0:
        raise ValueError(f'min_cone_px must be a number >= 0 (0: keep every cone), got '
                         f'{min_cone_px!r}')
    if not isinstance(supersample, (int, np.integer)) or not 1 <= supersample <= 4:
        raise ValueError(f'supersample must be an integer in 1..4, got {supersample!r}')


def _sample_lens(rng: np.random.Generator, hfov: float, width: int, height: int) -> _Lens:
    """
    Draw a lens: mild barrel plumb_bob (k1 in [-0.35, 0.05]), fisheye-like or none.

    The equidistant (fisheye) model only comes with wide lenses; the coefficients
    shrink until the image corners lie well inside the range the model maps one
    to one (a strong plumb_bob barrel folds back beyond it).
    """
    u = rng.random()
    if hfov > math.radians(80) and u < 0.3:
        lens = _Lens('equidistant', (rng.uniform(-0.04, 0.04), rng.uniform(-0.01, 0.01)))
    elif u < 0.8:
        k1 = rng.uniform(-0.35, 0.05)
        k2 = -k1 * rng.uniform(0.0, 0.4) if k1 < 0 else 0.0
        lens = _Lens('plumb_bob', (k1, k2))
    else:
        return _Lens()
    corner = math.hypot(width / 2 + 0.02 * width, height / 2 + 0.02 * height)
    for _ in range(30):
        f = (width / 2) / float(lens.radial(math.tan(hfov / 2)))
        if corner / f <= 0.92 * lens.max_distorted():
            break
        lens = _Lens(lens.model, [d * 0.75 for d in lens.D])
    return lens


def _camera_arc(rng: np.random.Generator, tr: _Track) -> float:
    """Return where on the track the car is (arc length), by layout."""
    start = tr.marks.get('start', 0.0)
    if tr.layout == 'trackdrive':
        if rng.random() < 0.25:   # approaching or crossing the start line: orange cones
            return rng.uniform(-35.0, 4.0) % tr.length
        return rng.uniform(0, tr.length)
    if tr.layout == 'acceleration':
        if rng.random() < 0.35:   # staging and launch
            return start + rng.uniform(-10.0, 5.0)
        return rng.uniform(start, tr.marks['end'] - 30.0)
    if tr.layout == 'skidpad':
        return rng.uniform(0.0, tr.length - 10.0)
    if rng.random() < 0.2:   # autocross start
        return max(start + rng.uniform(-8.0, 10.0), 1.0)
    return rng.uniform(5.0, max(tr.length - 60.0, 6.0))


def _nose_shape(view: _View, supersample: int, tip: np.ndarray, half_w: float,
                colour: Any) -> Optional[Tuple[float, float, Any]]:
    """Return the car's nose as the renderer draws it (height share, half width, colour)."""
    cam = view.canvas(supersample)
    pc = cam.to_cam(view.to_world(tip))
    if pc[2] < _NEAR:
        return None
    share = 1.0 - float(cam.project(pc)[1]) / cam.height
    return (min(share, 0.5), half_w, colour) if share > 0.01 else None


def _number(x: float) -> float:
    """Return a plain int or float for JSON (numpy numbers are not serialisable)."""
    return int(x) if isinstance(x, (int, np.integer)) else float(x)


def scene_json(seed: int, index: int, view: _View, min_cone_px: float,
               cones: List[Dict[str, Any]]) -> Dict[str, Any]:
    """
    Return the ground truth of one frame (written as ``scene/<stem>.json``).

    ``camera``: ``K`` and ``D`` of the distorted image (OpenCV ``plumb_bob`` =
    k1, k2, p1, p2, k3; ``equidistant`` = k1..k4 of ``cv2.fisheye``; ``none`` =
    []), the mount height, pitch (down positive) and roll (right side down
    positive) in degrees, the horizontal field of view, and the pose of the
    optical centre in ``base_link`` (REP 103: x forward, y left, z up, on the
    ground below the camera; roll, pitch, yaw in radians, the camera looking
    along +x at zero). ``cones``: the cones with at least one visible pixel, near
    to far; entry k is instance k of the instance map. ``base_xyz`` is the centre
    of the cone's base in base_link, ``distance_m`` its ground distance from the
    camera, ``pixels`` its visible pixels, ``bbox`` [u0, v0, u1, v1) of those
    pixels (half open: width = u1 - u0), ``height_px`` its projected height,
    ``ignored`` whether it is under ``min_cone_px`` (255 in the mask).
    """
    pose = view.pose_in_base()
    camera = {'K': view.K()}
    camera.update(view.lens.describe())
    camera.update({
        'height_m': pose['z'], 'pitch_deg': round(math.degrees(pose['pitch']), 4),
        'roll_deg': round(math.degrees(pose['roll']), 4),
        'hfov_deg': round(math.degrees(view.hfov), 4), 'base_frame': 'base_link',
        'pose_in_base': pose})
    return {'generator_version': GENERATOR_VERSION, 'seed': int(seed), 'index': int(index),
            'width': int(view.width), 'height': int(view.height), 'camera': camera,
            'min_cone_px': _number(min_cone_px), 'cones': cones}


Sample = Union[Tuple[np.ndarray, np.ndarray],
               Tuple[np.ndarray, np.ndarray, np.ndarray, Dict[str, Any]]]


def render_sample(seed: int, index: int, width: int = 640, height: int = 384, *,
                  min_cone_px: float = MIN_CONE_PX, supersample: int = SUPERSAMPLE,
                  truth: bool = False) -> Sample:
    """
    Render sample ``index`` of ``seed``: its own layout, track, look, camera and lens.

    The result depends only on (seed, index, width, height and the options), so
    samples can be rendered in any order, in any process, on the fly.

    :param seed: non-negative dataset seed.
    :param index: non-negative sample index.
    :param width: image width in pixels.
    :param height: image height in pixels.
    :param min_cone_px: cones projected fewer pixels high are 255 (ignore) in the
        mask; 0 keeps every cone.
    :param supersample: geometry is rasterised at this factor (1-4) and resampled.
    :param truth: also return the instance map and the scene JSON.
    :returns: (RGB uint8 H x W x 3 image, uint8 H x W mask of ``FS_CLASSES`` ids and
        255), and with ``truth`` the uint16 instance map and the scene JSON dict.
    """
    _check_seed(seed)
    _check_seed(index)
    _check_size(width, height)
    _check_labels(min_cone_px, supersample)
    rng = np.random.default_rng([_SAMPLE_TAG, int(seed), int(index)])
    layout = LAYOUTS[min(int(np.searchsorted(np.cumsum(LAYOUT_P), rng.random())),
                         len(LAYOUTS) - 1)]
    scene = _Scene(rng, layout=layout)
    tr = scene.track
    s = _camera_arc(rng, tr)
    i = tr.index(s)
    half = max(tr.width[i] / 2 - 0.7, 0.0)
    lateral = rng.uniform(-half, half)
    p = tr.interp(s, tr.center) + tr.interp(s, tr.normal) * lateral
    t = tr.interp(s, tr.tangent)
    heading = math.atan2(t[1], t[0]) + math.radians(float(np.clip(rng.normal(0, 6), -18, 18)))
    if tr.layout == 'skidpad':   # on the circles the car's nose points into the turn
        heading += math.copysign(math.radians(rng.uniform(2.0, 10.0)), tr.curvature[i])
    if rng.random() < 0.5:   # more unknown cones where the camera looks
        for _ in range(int(rng.integers(1, 4))):
            scene._add_unknown(scene.cones, rng, s + rng.uniform(5.0, 30.0))
    # Camera mount: nose (low, no car in view), cockpit, main hoop (the nose may show).
    u = rng.random()
    mount = 'nose' if u < 0.3 else 'cockpit' if u < 0.5 else 'hoop'
    cam_height = {'nose': rng.uniform(0.3, 0.55), 'cockpit': rng.uniform(0.55, 0.95),
                  'hoop': rng.uniform(0.95, 1.3)}[mount]
    pitch = rng.uniform(-6.0, 3.0) if mount == 'nose' else rng.uniform(-9.0, 1.5)
    hfov = math.radians(rng.uniform(50.0, 100.0))
    view = _View((p[0], p[1], cam_height), heading,
                 heading + math.radians(float(np.clip(rng.normal(0, 1.0), -3, 3))),
                 math.radians(pitch), math.radians(float(np.clip(rng.normal(0, 1.5), -5, 5))),
                 hfov, width, height, dcx=rng.normal(0, width * 0.01),
                 dcy=rng.normal(0, height * 0.01), lens=_sample_lens(rng, hfov, width, height))
    scene.nose = None
    if mount == 'hoop' and rng.random() < 0.6:
        colour = np.clip(rng.uniform(0.0, 0.7, 3) * rng.uniform(0.3, 1.0), 0, 1)
        tip = np.array([rng.uniform(1.5, 2.1), 0.0, rng.uniform(0.25, 0.4)])
        half_w = float(np.clip(rng.uniform(0.25, 0.5) * math.tan(math.radians(40)) / math.tan(
            hfov / 2), 0.12, 0.6))
        scene.nose = _nose_shape(view, supersample, tip, half_w, colour)
    frame = _render(scene, view, rng, _sample_effects(rng), supersample, min_cone_px)
    if not truth:
        return frame.image, frame.mask
    return frame.image, frame.mask, frame.instances, scene_json(
        seed, index, view, min_cone_px, frame.cones)


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


Frame = Union[Tuple[int, np.ndarray, np.ndarray],
              Tuple[int, np.ndarray, np.ndarray, np.ndarray, Dict[str, Any]]]


def render_drive(seed: int, seconds: float = 20.0, fps: float = 30.0, width: int = 1280,
                 height: int = 720, first: int = 0, *, min_cone_px: float = MIN_CONE_PX,
                 supersample: int = SUPERSAMPLE, truth: bool = False) -> Iterator[Frame]:
    """
    Yield (frame index, RGB image, mask) of a continuous drive around one track.

    The track, look, camera and lens come from ``seed``; frame ``k`` shows the car
    ``k / fps`` seconds after the start, so frames are consecutive and smooth.

    :param seed: non-negative seed of the drive (track, look, camera).
    :param seconds: duration of the drive.
    :param fps: frames per second.
    :param width: image width in pixels.
    :param height: image height in pixels.
    :param first: first frame to yield (to resume a partly written frame folder).
    :param min_cone_px: as in :func:`render_sample`.
    :param supersample: as in :func:`render_sample`.
    :param truth: also yield the instance map and the scene JSON (index = frame).
    """
    _check_seed(seed)
    _check_size(width, height)
    _check_labels(min_cone_px, supersample)
    if not (seconds > 0 and fps > 0):
        raise ValueError(f'drive duration and fps must be positive, got {seconds} s at {fps} fps')
    rng = np.random.default_rng([_DRIVE_TAG, int(seed)])
    scene = _Scene(rng, drive=True)
    plan = _DrivePlan(scene, rng)
    effects = _sample_effects(rng)
    effects.update(motion=0, jpeg=0, blur=min(effects['blur'], 0.6),
                   noise=min(effects['noise'], 3.0))
    exposure = effects['exposure']
    lens = _sample_lens(rng, scene.hfov, width, height)
    nose = scene.nose   # the demo car's camera is on the main hoop
    tip = np.array([rng.uniform(1.5, 2.1), 0.0, rng.uniform(0.25, 0.4)])
    n = drive_frame_count(seconds, fps)
    for k in range(first, n):
        t = k / fps
        p, yaw, pitch, roll = plan.pose(t)
        frng = np.random.default_rng([_DRIVE_FRAME_TAG, int(seed), k])
        fx = dict(effects)
        fx['exposure'] = exposure * (1.0 + 0.05 * math.sin(0.3 * t + plan.phases[6]))
        view = _View((p[0], p[1], scene.cam_height), yaw, yaw, pitch, roll, scene.hfov, width,
                     height, lens=lens)
        scene.nose = None if nose is None else _nose_shape(view, supersample, tip, nose[1],
                                                           nose[2])
        frame = _render(scene, view, frng, fx, supersample, min_cone_px)
        if truth:
            yield k, frame.image, frame.mask, frame.instances, scene_json(
                seed, k, view, min_cone_px, frame.cones)
        else:
            yield k, frame.image, frame.mask


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
    :ivar min_cone_px: cones projected smaller are 255 (ignore) in the masks.
    :ivar supersample: supersampling factor of the geometry.
    """

    classes = FS_CLASSES
    labelled = None

    def __init__(self, count: int, seed: int = 0, width: int = 640, height: int = 384, *,
                 min_cone_px: float = MIN_CONE_PX, supersample: int = SUPERSAMPLE) -> None:
        if not isinstance(count, (int, np.integer)) or count < 1:
            raise ValueError(f'SyntheticSource count must be a positive integer, got {count!r}')
        _check_seed(seed)
        _check_size(width, height)
        _check_labels(min_cone_px, supersample)
        self.count, self.seed, self.width, self.height = int(count), int(seed), width, height
        self.min_cone_px, self.supersample = min_cone_px, supersample

    def __len__(self) -> int:
        return self.count

    def load(self, index: int) -> Tuple[np.ndarray, np.ndarray]:
        """Render sample ``index`` (RGB uint8 image, uint8 class-id mask, 255 = ignore)."""
        if not 0 <= index < self.count:
            raise IndexError(f'sample {index} out of range for a SyntheticSource of '
                             f'{self.count} samples')
        img, mask = render_sample(self.seed, int(index), self.width, self.height,
                                  min_cone_px=self.min_cone_px, supersample=self.supersample)
        return img, mask

    def name(self, index: int) -> str:
        """Return the file stem the CLI uses for sample ``index``."""
        return sample_stem(self.seed, index)
