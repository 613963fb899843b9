# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Samples and drives: seeds -> scene, camera pose and effects -> rendered frames.

:func:`render_sample` renders sample ``i`` of seed ``s`` from ``(s, i)`` alone;
:func:`render_drive` renders consecutive frames of a car driving around one track
(:class:`_DrivePlan`); :class:`SyntheticSource` serves samples on the fly as a
``training.datasets.base.SegmentationSource``. The argument checks live here too.
"""

from __future__ import annotations

import math
from typing import Iterator, Tuple

from eunet_ros.core.options import MAX_SIDE, MIN_SIDE
import numpy as np
from training.datasets.base import FS_CLASSES, SegmentationSource
from training.synthetic.camera import _Camera
from training.synthetic.render import _render, _sample_effects
from training.synthetic.scene import _Scene

# Bumped whenever the pictures of a given (seed, index) change; stored in meta.json.
GENERATOR_VERSION = 1

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
