# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Augmentations (albumentations) for a car's camera, and the evaluation letterbox.

Geometry follows :mod:`eunet_ros.core.engine`: at inference a frame is resized keeping
its aspect ratio to fit the network input (H, W) and placed at the top-left, the
rest padded with the mean colour (zero after normalisation). Training therefore

1. fits the image into (H, W) the same way, then rescales it by a random factor
   (``scale``: zoomed-out views and close-ups of cones);
2. flips, changes brightness/contrast/gamma/colour, adds motion blur, sensor noise
   and JPEG artefacts (what a camera on a moving car does);
3. pads with the mean colour (mask: 255, not trained) and crops (H, W), or the
   smaller ``crop`` (h, w) when set: random windows of the letterboxed frame at the
   pixel scale of inference, fewer pixels per image and so more images per second
   (validation stays whole-frame).

Before all this, ``copy_paste`` (when set; :mod:`training.copy_paste`) pastes cones
cut from other training samples into the frame.

Masks always use nearest-neighbour interpolation, so class ids stay class ids.
Every sample's randomness comes from a seed given per call, so augmentations are
reproducible across data-loader workers, machines and resumed runs.

Normalisation (the checkpoint's mean/std) happens on the training device, see
:class:`Normalize`.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import cv2
from eunet_ros.core.engine import letterbox_geometry
import numpy as np
import torch
from training.copy_paste import copy_paste_config, CopyPaste
from training.datasets.base import IGNORE

os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')  # no network check at import
import albumentations as A  # noqa: E402,I100

__all__ = ['DEFAULT_AUGMENT', 'TrainTransform', 'EvalTransform', 'Normalize', 'letterbox',
           'mean_fill']

# Probabilities (p_*) and ranges; override any key in a config's `augment:` block.
DEFAULT_AUGMENT: Dict[str, Any] = {
    'scale': (0.6, 1.6),          # random zoom relative to the letterbox fit
    'p_hflip': 0.5,               # cone classes are defined by colour, not side
    'p_brightness_contrast': 0.6,
    'brightness': 0.25,
    'contrast': 0.25,
    'p_gamma': 0.3,
    'gamma': (70, 150),
    'p_hue_saturation': 0.3,
    'hue': 4,                     # small: hue is what tells cone classes apart
    'saturation': 25,
    'p_motion_blur': 0.25,
    'motion_blur': (3, 9),
    'p_noise': 0.25,
    'noise_std': (0.01, 0.05),
    'p_jpeg': 0.25,
    'jpeg_quality': (40, 95),
    'copy_paste': None,           # cone copy-paste (training.copy_paste), e.g. {prob: 0.5}
    'crop': None,                 # [h, w]: train on crops of the letterboxed input
}


def mean_fill(mean: Sequence[float]) -> Tuple[int, ...]:
    """RGB uint8 colour that normalises to (about) zero: the engine's padding value."""
    return tuple(int(round(float(m) * 255.0)) for m in mean)


def letterbox(image: np.ndarray, mask: Optional[np.ndarray], size: Sequence[int],
              fill: Sequence[int]) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """
    Fit ``image`` (and ``mask``) into ``size`` (H, W) at the top-left, as the engine does.

    :returns: the (H, W, 3) image padded with ``fill`` and the (H, W) mask padded with 255.
    """
    nh, nw = int(size[0]), int(size[1])
    h, w = image.shape[:2]
    rh, rw = letterbox_geometry((h, w), (nh, nw))
    if (rh, rw) != (h, w):
        interp = cv2.INTER_AREA if rh < h or rw < w else cv2.INTER_LINEAR
        image = cv2.resize(image, (rw, rh), interpolation=interp)
        if mask is not None:
            mask = cv2.resize(mask, (rw, rh), interpolation=cv2.INTER_NEAREST)
    out = np.empty((nh, nw, 3), np.uint8)
    out[...] = np.asarray(fill, np.uint8)
    out[:rh, :rw] = image
    if mask is None:
        return out, None
    m = np.full((nh, nw), IGNORE, np.uint8)
    m[:rh, :rw] = mask
    return out, m


class EvalTransform:
    """The engine's letterbox (deterministic); ``seed`` is accepted and unused."""

    def __init__(self, input_size: Sequence[int], mean: Sequence[float]) -> None:
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.fill = mean_fill(mean)

    def __call__(self, image: np.ndarray, mask: np.ndarray,
                 seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
        img, m = letterbox(image, mask, self.input_size, self.fill)
        return img, m


class TrainTransform:
    """
    Random camera-like augmentation to the network input size (see module docstring).

    :param input_size: (H, W) of the network input.
    :param mean: normalisation mean (0..1, RGB): padding colour.
    :param augment: overrides of :data:`DEFAULT_AUGMENT`; unknown keys are an error.
    :param copy_paste: the cone paster; required when ``augment`` turns copy-paste on
        (it holds the cones cut from the training set, see :mod:`training.copy_paste`).

    """

    def __init__(self, input_size: Sequence[int], mean: Sequence[float],
                 augment: Optional[Mapping[str, Any]] = None,
                 copy_paste: Optional[CopyPaste] = None) -> None:
        cfg = dict(DEFAULT_AUGMENT)
        unknown = sorted(set(augment or {}) - set(cfg))
        if unknown:
            raise ValueError(f'unknown augment keys {unknown}; known: {sorted(cfg)}')
        cfg.update(augment or {})
        self.config = cfg
        h, w = self.input_size = (int(input_size[0]), int(input_size[1]))
        fill = mean_fill(mean)
        s0, s1 = (float(v) for v in cfg['scale'])
        if not 0 < s0 <= s1:
            raise ValueError(f'augment scale must be 0 < min <= max, got {cfg["scale"]}')
        cp = copy_paste_config(cfg['copy_paste'])
        if cp is not None and copy_paste is None:
            raise ValueError('augment.copy_paste is on but no CopyPaste (cone bank) was given')
        self.copy_paste = copy_paste if cp is not None else None
        self.copy_paste_prob = cp['prob'] if cp is not None else 0.0
        self.output_size = (h, w)
        if cfg['crop'] is not None:
            ch, cw = (int(v) for v in cfg['crop'])
            if not (16 <= ch <= h and 16 <= cw <= w):
                raise ValueError(f'augment crop must be [h, w] within [16, 16]..{[h, w]} (the '
                                 f'input size), got {cfg["crop"]}')
            self.output_size = (ch, cw)
        oh, ow = self.output_size
        self.compose = A.Compose([
            A.LongestMaxSize(max_size_hw=(h, w), area_for_downscale='image', p=1.0),
            A.RandomScale(scale_limit=(s0 - 1.0, s1 - 1.0), interpolation=cv2.INTER_LINEAR,
                          mask_interpolation=cv2.INTER_NEAREST, p=1.0),
            A.HorizontalFlip(p=cfg['p_hflip']),
            A.RandomBrightnessContrast(brightness_limit=cfg['brightness'],
                                       contrast_limit=cfg['contrast'],
                                       p=cfg['p_brightness_contrast']),
            A.RandomGamma(gamma_limit=tuple(cfg['gamma']), p=cfg['p_gamma']),
            A.HueSaturationValue(hue_shift_limit=cfg['hue'], sat_shift_limit=cfg['saturation'],
                                 val_shift_limit=0, p=cfg['p_hue_saturation']),
            A.MotionBlur(blur_limit=tuple(cfg['motion_blur']), p=cfg['p_motion_blur']),
            A.GaussNoise(std_range=tuple(cfg['noise_std']), p=cfg['p_noise']),
            A.ImageCompression(quality_range=tuple(cfg['jpeg_quality']), p=cfg['p_jpeg']),
            A.PadIfNeeded(min_height=oh, min_width=ow, position='random',
                          border_mode=cv2.BORDER_CONSTANT, fill=fill, fill_mask=IGNORE),
            A.RandomCrop(height=oh, width=ow),
        ], mask_interpolation=cv2.INTER_NEAREST, seed=0)

    def __call__(self, image: np.ndarray, mask: np.ndarray,
                 seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
        """Augment one (RGB image, mask) pair with the randomness of ``seed``."""
        if self.copy_paste is not None:
            # a stream of its own: the draws below stay those of the same seed without it
            rng = np.random.default_rng([int(seed) % (2 ** 32), 0xC0E])
            if rng.random() < self.copy_paste_prob:
                image, mask = self.copy_paste(image, mask, rng)
        self.compose.set_random_seed(int(seed) % (2 ** 32))
        out = self.compose(image=image, mask=mask)
        return out['image'], out['mask']


class Normalize(torch.nn.Module):
    """uint8 N x 3 x H x W (RGB) -> float, ``(x / 255 - mean) / std`` on the tensor's device."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer('scale', 1.0 / (255.0 * torch.tensor(std).view(1, -1, 1, 1)),
                             persistent=False)
        self.register_buffer('shift', torch.tensor(mean).view(1, -1, 1, 1) /
                             torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.float() * self.scale - self.shift
