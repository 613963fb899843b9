# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Procedural textures and noise fields of the synthetic renderer (fixed seeds).

Every process builds the very same fields, once, on first use: the shared
4-channel texture tile the ground and the clouds are sampled from, a second
4-channel tile of ground detail (cracks, aggregate stones, grass clumps,
blotches), the sensor noise field and the vignetting map of each image size.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np

_TEX = 1024          # texture tile size (texels)
_GROUND_TEXEL = 0.012  # metres per texel on the ground
_CLOUD_TEXEL = 6.0   # metres per texel on the cloud plane (1 km up)

_TEXTURES: Optional[np.ndarray] = None
_DETAIL: Optional[np.ndarray] = None
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


def _detail_textures() -> np.ndarray:
    """
    Return the ground detail tile (built once per process), sampled like :func:`_textures`.

    Channel 0: cracks (1 on a thin network of lines in some areas, else 0);
    channel 1: aggregate stones (sparse light and dark specks, about -1..1);
    channel 2: grass clumps (band-pass noise, about -1..1); channel 3: blotches of
    about a metre (puddles, stains, dust; about -1..1).
    """
    global _DETAIL
    if _DETAIL is None:
        rng = np.random.default_rng(20260103)
        # cracks: the zero lines of a smooth band-pass field, made jagged, in some areas
        ridge = np.abs(_fractal(rng, _TEX, 2.2, low=0.008) + 0.04 * _fractal(rng, _TEX, 0.8))
        where = _fractal(rng, _TEX, 2.0)
        cracks = np.clip(1.0 - ridge / 0.035, 0.0, 1.0) * np.clip(where * 1.5 - 0.2, 0.0, 1.0)
        white = rng.standard_normal((_TEX, _TEX)).astype(np.float32)
        stones = np.clip(white - 2.0, 0.0, 1.0) - np.clip(-white - 2.2, 0.0, 1.0)
        stones = np.roll(stones, 1, axis=0) * 0.35 + stones   # specks of 1-2 texels
        clumps = _fractal(rng, _TEX, 1.1, low=0.01) / 2.2
        blotch = _fractal(rng, _TEX, 1.5, low=0.004) / 2.2
        tex = np.stack([cracks, stones * 1.5, clumps, blotch], axis=-1)
        _DETAIL = np.clip(tex, -1.0, 1.0).astype(np.float32)
    return _DETAIL


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
