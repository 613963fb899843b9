# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""The marginal loss for partial labels, and the confusion-matrix metrics."""

import math

import pytest
import torch
import torch.nn.functional as F
from training.datasets.base import IGNORE, UNLABELLED
from training.losses import marginal_cross_entropy
from training.metrics import ConfusionMatrix, format_table
from training_helpers import one_thread  # noqa: F401 - autouse fixture

C = 7
CONES = [2, 3, 4, 5, 6]


def _labelled(n, ids):
    lab = torch.zeros(n, C, dtype=torch.bool)
    lab[:, ids] = True
    return lab


def test_equals_cross_entropy_on_fully_labelled_pixels():
    torch.manual_seed(0)
    logits = torch.randn(2, C, 5, 6)
    target = torch.randint(0, C, (2, 5, 6))
    target[0, 0, :3] = IGNORE
    ref = F.cross_entropy(logits, target, ignore_index=IGNORE)
    assert torch.allclose(marginal_cross_entropy(logits, target), ref)
    assert torch.allclose(marginal_cross_entropy(logits, target, _labelled(2, range(C))), ref)


def test_unlabelled_pixel_is_minus_log_of_the_summed_open_probabilities():
    logits = torch.tensor([1.0, 2.0, 0.5, -1.0, 0.0, 0.3, -0.2]).view(1, C, 1, 1)
    target = torch.full((1, 1, 1), UNLABELLED)
    p = logits.flatten().softmax(0)
    expected = -math.log(float(p[0] + p[1]))
    got = marginal_cross_entropy(logits, target, _labelled(1, CONES))
    assert got.item() == pytest.approx(expected, rel=1e-6)
    # a pixel that puts all its mass on track (or background) costs nothing
    sure_track = torch.full((1, C, 1, 1), -30.0)
    sure_track[0, 1] = 30.0
    assert marginal_cross_entropy(sure_track, target, _labelled(1, CONES)).item() < 1e-6
    # without the labelled set, 254 is just ignored
    assert marginal_cross_entropy(logits, target).item() == 0.0


def test_per_sample_labelled_sets_and_finite_gradients():
    torch.manual_seed(1)
    logits = torch.randn(2, C, 4, 4, requires_grad=True)
    target = torch.full((2, 4, 4), UNLABELLED)
    target[:, 0] = 3
    # sample 0: FSOCO-like, sample 1 labels everything (its 254 pixels are ignored)
    lab = torch.stack([_labelled(1, CONES)[0], _labelled(1, range(C))[0]])
    loss = marginal_cross_entropy(logits, target, lab)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    assert logits.grad[1, :, 1:].abs().max() == 0  # ignored pixels give no gradient
    per_pixel = marginal_cross_entropy(logits.detach(), target, lab, reduction='none')
    assert (per_pixel[1, 1:] == 0).all() and (per_pixel[0, 1:] > 0).all()


def _train_pixel_classifier(loss_kind, steps=150):
    """
    Pretrain a per-pixel classifier on full labels, then fine-tune on partial ones.

    Three colours: background (0), track (1), blue cone (2). Fine-tuning data labels
    only the cones (FSOCO-like); the track keeps its colour but is UNLABELLED there.
    """
    torch.manual_seed(0)
    colours = torch.tensor([[0.2, 0.8, 0.2], [0.3, 0.3, 0.3], [0.1, 0.2, 0.9]])
    labels = torch.tensor([0, 1, 2])
    x = colours.t().reshape(1, 3, 3, 1).expand(4, 3, 3, 8).contiguous()
    full = labels.view(1, 3, 1).expand(4, 3, 8).contiguous()
    model = torch.nn.Conv2d(3, C, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):  # pretraining: all classes labelled
        opt.zero_grad()
        marginal_cross_entropy(model(x), full).backward()
        opt.step()
    with torch.no_grad():
        assert (model(x).argmax(1) == full).all()  # pretraining learned all three
    partial = full.clone()
    partial[partial != 2] = UNLABELLED
    lab = _labelled(4, CONES)
    for _ in range(steps):  # fine-tuning on partial labels
        opt.zero_grad()
        if loss_kind == 'marginal':
            loss = marginal_cross_entropy(model(x), partial, lab)
        else:  # the naive alternative: unlabelled means background
            loss = F.cross_entropy(model(x), torch.where(partial == UNLABELLED, 0, partial))
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = model(x).argmax(1)
    return (pred[:, 1] == 1).float().mean().item(), (pred[:, 2] == 2).float().mean().item()


def test_marginal_loss_keeps_the_track_that_plain_ce_forgets():
    track_marginal, cone_marginal = _train_pixel_classifier('marginal')
    track_ce, cone_ce = _train_pixel_classifier('ce')
    assert cone_marginal == 1.0 and cone_ce == 1.0
    assert track_marginal == 1.0   # still predicted as track after fine-tuning
    assert track_ce == 0.0         # plain CE taught the network that track is background


# ---------------------------------------------------------------- metrics


def test_confusion_matrix_iou_dice_accuracy():
    cm = ConfusionMatrix(3)
    target = torch.tensor([[0, 0, 1, 1, 2, IGNORE]])
    pred = torch.tensor([[0, 1, 1, 1, 0, 2]])
    cm.update(pred, target)
    r = cm.compute()
    # class 0: tp 1, fp 1, fn 1 -> 1/3; class 1: tp 2, fp 1 -> 2/3; class 2: tp 0, fn 1 -> 0
    assert torch.allclose(r['iou'], torch.tensor([1 / 3, 2 / 3, 0.0], dtype=torch.float64))
    assert torch.allclose(r['dice'], torch.tensor([0.5, 0.8, 0.0], dtype=torch.float64))
    assert r['miou'].item() == pytest.approx(1 / 3)
    assert r['pixel_accuracy'].item() == pytest.approx(3 / 5)
    assert int(r['pixels']) == 5  # the 255 pixel counts nowhere


def test_classes_never_seen_are_nan_and_skipped_by_the_mean():
    cm = ConfusionMatrix(3)
    cm.update(torch.tensor([[0, 1]]), torch.tensor([[0, 1]]))
    r = cm.compute()
    assert math.isnan(r['iou'][2]) and r['miou'].item() == 1.0
    s = cm.summary(['a', 'b', 'c'])
    assert s['iou']['c'] is None and s['miou'] == 1.0
    assert 'c' in format_table(s) and '100.00' in format_table(s)


def test_unlabelled_pixels_count_cone_false_positives_only():
    cm = ConfusionMatrix(C)
    target = torch.tensor([[3, 3, UNLABELLED, UNLABELLED, UNLABELLED]])
    pred = torch.tensor([[3, 3, 1, 0, 3]])  # track, background: fine; a cone there: wrong
    cm.update(pred, target, _labelled(1, CONES))
    r = cm.compute(scored=CONES)
    assert r['iou'][3].item() == pytest.approx(2 / 3)
    assert math.isnan(r['iou'][0]) and math.isnan(r['iou'][1])  # not scored on such data
    assert r['pixel_accuracy'].item() == pytest.approx(4 / 5)
