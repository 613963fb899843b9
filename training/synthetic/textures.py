# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Procedural textures and noise fields of the synthetic renderer (fixed seeds).

Every process builds the very same fields, once, on first use: the shared
4-channel texture tile the ground and the clouds are sampled from, the sensor
noise field and the vignetting map of each image size.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np

_TEX = 1024          # texture tile size (texels)
_GROUND_TEXEL = 0.012  # metres per texel on the ground
_CLOUD_TEXEL = 6.0   # metres per texel on the cloud plane (1 km up)

_TEXTURES: Optional[np.ndarray] = None
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
