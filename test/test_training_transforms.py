# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""Image and mask stay aligned through the augmentations; eval matches the engine."""

from eunet_ros.core.engine import letterbox_geometry
import numpy as np
import pytest
import torch
from training.datasets.base import IGNORE
from training.transforms import DEFAULT_AUGMENT, EvalTransform, mean_fill, Normalize
from training.transforms import TrainTransform

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
# Class k is drawn in colour COLOURS[k]; far apart so blurred edges never look alike.
COLOURS = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]],
                   np.uint8)

GEOMETRY_ONLY = {k: 0.0 for k in DEFAULT_AUGMENT if k.startswith('p_') and k != 'p_hflip'}


def _pattern(h=120, w=200):
    """Blocks of several classes, asymmetric left/right so flips are visible."""
    mask = np.zeros((h, w), np.uint8)
    mask[10:60, 10:50] = 1
    mask[70:110, 30:150] = 2
    mask[20:40, 120:190] = 3
    mask[50:60, 170:180] = 4
    return COLOURS[mask], mask


def _interior(mask):
    """Pixels whose 5x5 neighbourhood has one label (away from resampled edges)."""
    m = mask.astype(np.int32)
    ok = np.ones_like(mask, bool)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            ok &= np.roll(np.roll(m, dy, 0), dx, 1) == m
    ok[:2] = ok[-2:] = False
    ok[:, :2] = ok[:, -2:] = False
    return ok & (mask != IGNORE)


@pytest.mark.parametrize('size', [(32, 48), (64, 64), (96, 160)])
def test_geometry_keeps_image_and_mask_aligned(size):
    image, mask = _pattern()
    t = TrainTransform(size, MEAN, GEOMETRY_ONLY)
    flipped = 0
    for seed in range(24):
        img, m = t(image, mask, seed)
        assert img.shape == size + (3,) and m.shape == size and m.dtype == np.uint8
        assert set(np.unique(m)) <= {0, 1, 2, 3, 4, IGNORE}  # nearest: ids stay ids
        inner = _interior(m)
        assert inner.sum() > 0
        # resampling blends colours at edges; away from them the colour is the class's
        nearest = np.abs(img[inner][:, None].astype(int) - COLOURS[None]).sum(-1).argmin(-1)
        assert (nearest == m[inner]).all(), f'seed {seed}: image and mask moved apart'
        # padding: mean colour in the image where the mask is IGNORE, never a class colour
        pad = m == IGNORE
        if pad.any():
            assert (img[_interior_of(pad)] == mean_fill(MEAN)).all()
        # which side is class 1 (left in the original) on?
        cols = np.nonzero((m == 1).any(0))[0]
        cols3 = np.nonzero((m == 3).any(0))[0]
        if len(cols) and len(cols3):
            flipped += cols.mean() > cols3.mean()
    assert 0 < flipped < 24  # both orientations occur


def test_unit_scale_is_pixel_exact():
    image, mask = _pattern(96, 160)
    t = TrainTransform((96, 160), MEAN, dict(GEOMETRY_ONLY, scale=(1.0, 1.0)))
    seen = set()
    for seed in range(8):
        img, m = t(image, mask, seed)
        same = np.array_equal(m, mask) and np.array_equal(img, image)
        mirrored = np.array_equal(m, mask[:, ::-1]) and np.array_equal(img, image[:, ::-1])
        assert same or mirrored
        seen.add(same)
    assert seen == {True, False}


def _interior_of(b):
    ok = b.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            ok &= np.roll(np.roll(b, dy, 0), dx, 1)
    return ok


def test_photometric_augmentations_change_pixels_not_labels():
    image, mask = _pattern()
    t = TrainTransform((64, 96), MEAN, {'p_hflip': 0.0, 'scale': (1.0, 1.0)})
    ref = TrainTransform((64, 96), MEAN, dict(GEOMETRY_ONLY, p_hflip=0.0, scale=(1.0, 1.0)))
    base_img, base_mask = ref(image, mask, 0)
    changed = 0
    for seed in range(12):
        img, m = t(image, mask, seed)
        # same geometry whatever the photometric draw: the crop position comes from the seed
        img_ref, m_ref = ref(image, mask, seed)
        assert np.array_equal(m, m_ref)
        changed += not np.array_equal(img, img_ref)
    assert changed >= 6
    assert base_img.shape == (64, 96, 3) and base_mask.shape == (64, 96)


def test_same_seed_same_sample_other_seed_other_sample():
    image, mask = _pattern()
    t = TrainTransform((48, 64), MEAN)
    a, b = t(image, mask, 7), t(image, mask, 7)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    c = t(image, mask, 8)
    assert not np.array_equal(a[0], c[0])


def test_unknown_augment_key_is_refused():
    with pytest.raises(ValueError, match='unknown augment keys'):
        TrainTransform((32, 32), MEAN, {'p_flip': 0.5})


@pytest.mark.parametrize('frame', [(120, 200), (200, 120), (30, 90), (64, 96)])
def test_eval_letterbox_is_the_engines(frame):
    image, mask = _pattern(*frame)
    size = (64, 96)
    img, m = EvalTransform(size, MEAN)(image, mask)
    rh, rw = letterbox_geometry(frame, size)
    assert img.shape == size + (3,) and m.shape == size
    assert (m[rh:] == IGNORE).all() and (m[:, rw:] == IGNORE).all()
    assert (img[rh:] == mean_fill(MEAN)).all() and (img[:, rw:] == mean_fill(MEAN)).all()
    assert (m[:rh, :rw] != IGNORE).all()
    inner = _interior(m)
    nearest = np.abs(img[inner][:, None].astype(int) - COLOURS[None]).sum(-1).argmin(-1)
    assert (nearest == m[inner]).all()
    if frame == size:
        assert np.array_equal(img, image) and np.array_equal(m, mask)


def test_normalize_maps_the_padding_colour_to_about_zero():
    x = torch.tensor(mean_fill(MEAN), dtype=torch.uint8).view(1, 3, 1, 1)
    y = Normalize(MEAN, STD)(x)
    assert y.abs().max() < 0.01
    white = Normalize(MEAN, STD)(torch.full((1, 3, 1, 1), 255, dtype=torch.uint8))
    assert torch.allclose(white.flatten(), (1 - torch.tensor(MEAN)) / torch.tensor(STD))
