# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
The small-object recipe: region losses, mining, EMA, no-decay, copy-paste, crops.

And best.pt by cone mIoU. The losses against direct references on tiny inputs; the
rest in real runs of a tiny EUnet on toy scenes (CPU), each key on and off, and an
interrupted run with everything on that resumes to the very weights (EMA included)
of an uninterrupted one.
"""

import itertools
import math
from pathlib import Path

import cv2
from eunet_ros.core.checkpoint import load_checkpoint
import numpy as np
import pytest
import torch
from torch import nn
from training.copy_paste import ConeBank, copy_paste_config, CopyPaste, cut_cones
from training.datasets.base import FS_CLASSES, IGNORE, UNLABELLED
from training.ema import ModelEMA
from training.losses import lovasz_softmax, marginal_cross_entropy, region_loss
from training.losses import SegmentationLoss, soft_dice
from training.metrics import cone_miou
from training.train import get_args_parser, main, make_optimizer, update_early_stopping
from training.transforms import TrainTransform
from training_helpers import one_thread, write_config, write_folder_dataset  # noqa: F401
import yaml

C = 7
MEAN = (0.485, 0.456, 0.406)


# ---------------------------------------------------------------- region losses


def _jaccard_loss(fg, wrong):
    """Jaccard loss of mispredicting the pixel set ``wrong`` (bool lists): 1 - IoU."""
    inter = sum(1 for g, w in zip(fg, wrong) if g and not w)
    union = sum(1 for g, w in zip(fg, wrong) if g or w)
    return 1.0 - inter / union if union else 0.0


def _lovasz_reference(probs, target, classes):
    """
    Return the Lovasz-softmax loss straight from its definition (Berman et al. 2018).

    For each present class: errors sorted in decreasing order, each weighted by the
    increase of the Jaccard loss when its pixel joins the set of mispredicted pixels.
    """
    losses = []
    for c in classes:
        fg = [int(t) == c for t in target]
        if not any(fg):
            continue
        err = [abs(float(g) - float(p[c])) for g, p in zip(fg, probs)]
        order = sorted(range(len(err)), key=lambda i: -err[i])
        total, wrong, before = 0.0, [False] * len(err), 0.0
        for i in order:
            wrong[i] = True
            now = _jaccard_loss(fg, wrong)
            total += err[i] * (now - before)
            before = now
        losses.append(total)
    return sum(losses) / len(losses) if losses else 0.0


def test_lovasz_hand_computed():
    # one class, 3 pixels: truth [1, 0, 1], p = [0.8, 0.3, 0.4] -> errors [0.2, 0.3, 0.6]
    # sorted: pixel 3 (fg; J = 1 - 1/2), pixel 2 (bg; J = 1 - 1/3), pixel 1 (fg; J = 1)
    # loss = 0.6 * 1/2 + 0.3 * (2/3 - 1/2) + 0.2 * (1 - 2/3) = 0.41667
    probs = torch.tensor([[0.2, 0.8], [0.7, 0.3], [0.6, 0.4]])
    target = torch.tensor([1, 0, 1])
    expected = 0.6 * 0.5 + 0.3 * (2 / 3 - 0.5) + 0.2 * (1 - 2 / 3)
    assert lovasz_softmax(probs, target, [1]).item() == pytest.approx(expected, abs=1e-6)
    assert _lovasz_reference(probs.tolist(), target.tolist(), [1]) == pytest.approx(expected)


def test_lovasz_is_zero_when_perfect_and_one_minus_iou_when_crisp():
    target = torch.tensor([0, 2, 2, 3, 1, 3, 0, 2])
    perfect = torch.nn.functional.one_hot(target, C).float()
    assert lovasz_softmax(perfect, target, [2, 3]).item() == 0.0
    # a crisp (0/1) prediction: the loss is the mean over present classes of 1 - IoU
    pred = torch.tensor([0, 2, 3, 3, 2, 0, 0, 2])
    crisp = torch.nn.functional.one_hot(pred, C).float()
    iou2 = 2 / 4   # truth {1, 2, 7}, predicted {1, 4, 7}: 2 shared of 4
    iou3 = 1 / 3   # truth {3, 5}, predicted {2, 3}: 1 shared of 3
    expected = ((1 - iou2) + (1 - iou3)) / 2
    assert lovasz_softmax(crisp, target, [2, 3]).item() == pytest.approx(expected, abs=1e-6)
    # absent classes do not count; none present: 0 with a gradient
    assert lovasz_softmax(crisp, target, [2, 3, 5]).item() == pytest.approx(expected, abs=1e-6)
    z = torch.zeros(8, C, requires_grad=True)
    none = lovasz_softmax(z.softmax(1), target, [5, 6])
    none.backward()
    assert none.item() == 0.0 and z.grad is not None


@pytest.mark.parametrize('seed', range(4))
def test_lovasz_matches_the_reference_on_random_inputs(seed):
    g = torch.Generator().manual_seed(seed)
    n = 12
    probs = torch.randn(n, C, generator=g).softmax(1)
    target = torch.randint(0, C, (n,), generator=g)
    classes = [2, 3, 4, 5, 6]
    ref = _lovasz_reference(probs.tolist(), target.tolist(), classes)
    assert lovasz_softmax(probs, target, classes).item() == pytest.approx(ref, abs=1e-6)
    # N x C x H x W input and a valid mask: the excluded pixels change nothing
    keep = torch.rand(n, generator=g) > 0.3
    ref_kept = _lovasz_reference(probs[keep].tolist(), target[keep].tolist(), classes)
    got = lovasz_softmax(probs.t().reshape(1, C, 3, 4), target.view(1, 3, 4), classes,
                         valid=keep.view(1, 3, 4))
    assert got.item() == pytest.approx(ref_kept, abs=1e-6)
    # max_pixels: exact when it covers every pixel, else off by at most the largest
    # error it leaves out
    assert lovasz_softmax(probs, target, classes, max_pixels=n).item() == \
        pytest.approx(ref, abs=1e-6)
    k = 5
    dropped = 0.0
    for c in classes:
        if (target == c).any():
            err = ((target == c).float() - probs[:, c]).abs().sort(descending=True).values
            dropped = max(dropped, float(err[k]))
    cut = lovasz_softmax(probs, target, classes, max_pixels=k).item()
    assert ref - dropped - 1e-6 <= cut <= ref + 1e-6


def test_soft_dice_hand_computed():
    probs = torch.tensor([[0.2, 0.8], [0.7, 0.3], [0.6, 0.4]])
    target = torch.tensor([1, 0, 1])
    # intersection 0.8 + 0.4, sum p 1.5, sum g 2, smooth 1: 1 - 3.4 / 4.5
    assert soft_dice(probs, target, [1]).item() == pytest.approx(1 - 3.4 / 4.5, abs=1e-6)


@pytest.mark.parametrize('kind', ['lovasz', 'dice'])
def test_region_loss_leaves_ignored_and_unlabelled_pixels_out(kind):
    torch.manual_seed(0)
    logits = torch.randn(2, C, 4, 5, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, C, (2, 4, 5))
    target[0, 0] = IGNORE
    target[1, :, 0] = UNLABELLED
    loss = region_loss(kind, logits, target, [2, 3, 4, 5, 6])
    loss.backward()
    assert loss.dtype == torch.float32   # computed in float32 whatever the input
    assert logits.grad[0, :, 0].abs().max() == 0 and logits.grad[1, :, :, 0].abs().max() == 0
    keep = target.flatten() < C
    probs = logits.detach().float().softmax(1).permute(0, 2, 3, 1).reshape(-1, C)[keep]
    t = target.flatten()[keep]
    if kind == 'lovasz':
        ref = _lovasz_reference(probs.tolist(), t.tolist(), [2, 3, 4, 5, 6])
    else:
        ref = soft_dice(probs, t, [2, 3, 4, 5, 6]).item()
    assert loss.item() == pytest.approx(ref, abs=1e-5)


def test_segmentation_loss_defaults_are_the_marginal_cross_entropy():
    torch.manual_seed(1)
    logits = torch.randn(2, C, 6, 7)
    target = torch.randint(0, C, (2, 6, 7))
    target[0, 0] = IGNORE
    lab = torch.ones(2, C, dtype=torch.bool)
    w = [1, 1, 10, 10, 10, 10, 10]
    assert torch.equal(SegmentationLoss(w)(logits, target, lab),
                       marginal_cross_entropy(logits, target, lab, torch.tensor(w).float()))
    region = SegmentationLoss(w, region='lovasz', region_weight=0.5, region_classes=[2, 3])
    assert region(logits, target, lab).item() == pytest.approx(
        marginal_cross_entropy(logits, target, lab, torch.tensor(w).float()).item()
        + 0.5 * region_loss('lovasz', logits, target, [2, 3]).item(), rel=1e-6)


def test_ohem_keeps_the_hardest_counted_pixels():
    torch.manual_seed(2)
    logits = torch.randn(1, C, 5, 8)
    target = torch.randint(0, C, (1, 5, 8))
    target[0, 0] = IGNORE                 # 8 ignored pixels, 32 counted
    per_pixel = marginal_cross_entropy(logits, target, reduction='none').flatten()
    counted = per_pixel[target.flatten() < C]
    full = SegmentationLoss(ohem_fraction=1.0)(logits, target)
    assert full.item() == pytest.approx(counted.mean().item(), rel=1e-6)
    hard = SegmentationLoss(ohem_fraction=0.25)(logits, target)
    top = counted.sort(descending=True).values[:8]     # ceil(0.25 * 32)
    assert hard.item() == pytest.approx(top.mean().item(), rel=1e-6)
    assert hard.item() > full.item()
    # class weights weigh the kept pixels; they do not choose them
    w = torch.tensor([1.0, 1, 3, 1, 1, 1, 1])
    raw = marginal_cross_entropy(logits, target, reduction='none').flatten()
    idx = torch.nonzero(target.flatten() < C).flatten()
    kept = idx[raw[idx].argsort(descending=True)[:8]]
    wk = w[target.flatten()[kept]]
    weighted = SegmentationLoss(w.tolist(), ohem_fraction=0.25)(logits, target)
    assert weighted.item() == pytest.approx(float((raw[kept] * wk).sum() / wk.sum()), rel=1e-6)


# ---------------------------------------------------------------- EMA and decay groups


def _tiny_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 1))


def test_ema_update_averages_weights_and_batchnorm_statistics():
    net = _tiny_net()
    ema = ModelEMA(net, 0.9)
    before = {k: v.clone() for k, v in ema.module.state_dict().items()}
    net.train()
    net(torch.randn(2, 3, 8, 8))          # moves the live BatchNorm statistics
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    d = ema.current_decay()
    assert d == pytest.approx(1 / 10)     # warm-up: (1 + 0) / (10 + 0)
    ema.update(net)
    live = net.state_dict()
    for k, v in ema.module.state_dict().items():
        if v.dtype.is_floating_point:
            assert torch.allclose(v, d * before[k] + (1 - d) * live[k]), k
        else:
            assert torch.equal(v, live[k]), k   # num_batches_tracked: copied
    assert ema.updates == 1 and not ema.module.training
    assert all(not p.requires_grad for p in ema.module.parameters())
    for _ in range(1000):
        ema.updates += 1
    assert ema.current_decay() == 0.9     # the warm-up ends at the configured decay
    restored = ModelEMA(_tiny_net(), 0.9)
    restored.load_state_dict(ema.state_dict())
    assert restored.updates == ema.updates
    for k, v in ema.module.state_dict().items():
        assert torch.equal(v, restored.module.state_dict()[k])


@pytest.mark.parametrize('no_decay', [False, True])
def test_no_decay_spares_norms_and_biases(no_decay):
    net = _tiny_net()
    oc = {'lr': 0.1, 'weight_decay': 0.5, 'betas': [0.9, 0.99], 'pct_start': 0.3,
          'div_factor': 1.0, 'final_div_factor': 1.0, 'no_decay_norm_bias': no_decay}
    opt, _ = make_optimizer(net, oc, 100)
    assert len(opt.param_groups) == (2 if no_decay else 1)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    for p in net.parameters():
        p.grad = torch.zeros_like(p)      # Lion moves by sign(0) = 0: only the decay acts
    opt.step()
    for n, p in net.named_parameters():
        spared = no_decay and (n.startswith('1.') or n.endswith('bias'))
        if spared:
            assert torch.equal(p, before[n]), n
        else:
            assert torch.allclose(p, before[n] * (1 - 0.1 * 0.5)), n


# ---------------------------------------------------------------- copy-paste and crop

TRACK_RGB = (70, 70, 75)
CONE_RGB = (240, 210, 20)


def _donor(h=60, w=80):
    """Return a frame with one yellow cone (class 3), 20 px tall, on the track."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = TRACK_RGB
    mask = np.ones((h, w), np.uint8)
    img[0:10] = (90, 140, 200)
    mask[0:10] = 0
    for r in range(20):                   # a triangle, rows 30..49
        half = 1 + r // 3
        img[30 + r, 40 - half:40 + half + 1] = CONE_RGB
        mask[30 + r, 40 - half:40 + half + 1] = 3
    return img, mask


def _paster(**cfg):
    img, mask = _donor()
    bank = ConeBank(cut_cones(img, mask, [2, 3, 4, 5, 6], 3), FS_CLASSES)
    assert len(bank) == 1 and bank.class_ids == [3]
    return CopyPaste(copy_paste_config(dict({'prob': 1.0}, **cfg)), bank)


def test_copy_paste_labels_pasted_pixels_with_the_cone_class():
    paste = _paster(max_cones=4, scale=[0.6, 1.0], min_cone_px=4)
    target = np.zeros((60, 80, 3), np.uint8)
    target[:] = TRACK_RGB
    tmask = np.ones((60, 80), np.uint8)
    tmask[:20] = 0                        # the ground starts at row 20
    pasted = 0
    for seed in range(10):
        img, mask = paste(target, tmask, np.random.default_rng(seed))
        assert img.shape == target.shape and mask.dtype == np.uint8
        new = mask == 3
        pasted += int(new.any())
        assert set(np.unique(mask)) <= {0, 1, 3}
        # pixels labelled cone are at least half cone (alpha >= 0.5), mostly all cone;
        # only their blended edge is changed besides
        to_cone = np.abs(img[new].astype(int) - CONE_RGB).sum(1)
        to_track = np.abs(img[new].astype(int) - TRACK_RGB).sum(1)
        assert (to_cone <= to_track + 3).all() and np.median(to_cone) < 40
        changed = (img != target).any(2)
        near = cv2.dilate(new.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        assert not (changed & ~near).any()
        # pasted cones stand on the ground: no cone pixel in the sky rows far above it
        rows = np.nonzero(new.any(1))[0]
        if len(rows):
            assert rows.max() >= 20
    assert pasted == 10
    assert tmask.max() == 1 and (target == TRACK_RGB).all()   # inputs unchanged


def test_copy_paste_marks_cones_below_min_cone_px_as_ignored():
    paste = _paster(max_cones=3, scale=[0.2, 0.3], min_cone_px=8)   # 4..6 px tall
    target = np.zeros((60, 80, 3), np.uint8)
    target[:] = TRACK_RGB
    tmask = np.ones((60, 80), np.uint8)
    for seed in range(5):
        img, mask = paste(target, tmask, np.random.default_rng(seed))
        assert (mask != 3).all() and (mask == IGNORE).any()


def test_copy_paste_in_the_transform_is_deterministic_per_seed():
    paste = _paster(max_cones=4, scale=[0.5, 1.0], min_cone_px=2)
    t = TrainTransform((48, 64), MEAN, {'copy_paste': {'prob': 1.0}}, paste)
    target = np.zeros((60, 80, 3), np.uint8)
    target[:] = TRACK_RGB
    tmask = np.ones((60, 80), np.uint8)
    a, b = t(target, tmask, 11), t(target, tmask, 11)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    outs = [t(target, tmask, s)[1] for s in range(6)]
    assert any(not np.array_equal(outs[0], o) for o in outs[1:])
    assert any((o == 3).any() for o in outs)
    # prob 0: exactly the transform without copy-paste
    off = TrainTransform((48, 64), MEAN, {'copy_paste': {'prob': 0.0}}, paste)
    plain = TrainTransform((48, 64), MEAN)
    for s in range(3):
        x, y = off(target, tmask, s), plain(target, tmask, s)
        assert np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1])
    with pytest.raises(ValueError, match='cone bank'):
        TrainTransform((48, 64), MEAN, {'copy_paste': {'prob': 0.5}})
    with pytest.raises(ValueError, match='unknown augment.copy_paste keys'):
        copy_paste_config({'probability': 0.5})


@pytest.mark.parametrize('crop', [(32, 48), (16, 64), (48, 64)])
def test_crop_yields_the_configured_size(crop):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)
    mask = rng.integers(0, 7, (90, 160), dtype=np.uint8)
    t = TrainTransform((48, 64), MEAN, {'crop': list(crop)})
    for seed in range(4):
        img, m = t(image, mask, seed)
        assert img.shape == crop + (3,) and m.shape == crop
    with pytest.raises(ValueError, match='crop'):
        TrainTransform((48, 64), MEAN, {'crop': [64, 64]})   # larger than the input


# ---------------------------------------------------------------- selection


def test_select_metric_follows_the_cone_miou_not_the_miou():
    tc = {'min_delta': 0.0, 'patience': 5}
    st = {'epoch': 0, 'best_score': None, 'best_miou': None, 'best_epoch': None,
          'bad_epochs': 0, 'stopped_early': False}
    # (mIoU, cone mIoU) per epoch: the mIoU peaks at epoch 2, the cone mIoU at epoch 3
    history = [(0.50, 0.10), (0.70, 0.20), (0.65, 0.30), (0.60, 0.25)]
    best = []
    for miou, cones in history:
        if update_early_stopping(st, cones, miou, tc):
            best.append(st['epoch'] + 1)
        st['epoch'] += 1
    assert best == [1, 2, 3] and st['best_epoch'] == 3
    assert st['best_score'] == 0.30 and st['best_miou'] == 0.65 and st['bad_epochs'] == 1
    assert cone_miou({'blue_cone': 0.2, 'yellow_cone': None, 'orange_cone': 0.4,
                      'large_orange_cone': None, 'unknown_cone': 0.9,
                      'track': 1.0}) == pytest.approx(0.3)
    assert cone_miou({'background': 1.0}) is None


# ---------------------------------------------------------------- real runs


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    base = tmp_path_factory.mktemp('recipe')
    return (write_folder_dataset(base / 'train', 24, seed=1),
            write_folder_dataset(base / 'val', 7, seed=2), base)


def _run(cfg, *flags):
    return main(get_args_parser().parse_args(['--config', str(cfg), '--no-progress', *flags]))


# toy cones are 3..5 px tall: cut them from 3 px, label them from 2 px
ALL_ON = {
    'loss': {'class_weights': [1, 1, 10, 10, 10, 10, 10], 'region': 'lovasz',
             'region_weight': 0.5, 'ohem_fraction': 0.5},
    'optim': {'ema_decay': 0.9, 'no_decay_norm_bias': True},
    'augment': {'copy_paste': {'prob': 0.8, 'max_cones': 3, 'scale': [0.5, 1.5],
                               'min_source_px': 3, 'min_cone_px': 2},
                'crop': [32, 32]},
    'train': {'select_metric': 'cone_miou'},
}


def _config(data, name, extra, **train):
    train_root, val_root, base = data
    path = write_config(base / f'{name}.yaml', train_root, val_root, base / name, **train)
    cfg = yaml.safe_load(path.read_text())
    for section, values in extra.items():
        cfg.setdefault(section, {}).update(values)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(scope='module')
def off_run(data):
    """Every key at its default: the run the others are compared with."""
    cfg = _config(data, 'off', {}, epochs=1)
    return _run(cfg)


KEYS = {
    'region_lovasz': {'loss': {'region': 'lovasz'}},
    'region_dice': {'loss': {'region': 'dice', 'region_classes': ['blue_cone', 3]}},
    'ohem': {'loss': {'ohem_fraction': 0.3}},
    'ema': {'optim': {'ema_decay': 0.9}},
    'no_decay': {'optim': {'no_decay_norm_bias': True}},
    'copy_paste': {'augment': {'copy_paste': ALL_ON['augment']['copy_paste']}},
    'crop': {'augment': {'crop': [32, 32]}},
    'select_cone_miou': {'train': {'select_metric': 'cone_miou'}},
}


@pytest.mark.parametrize('key', sorted(KEYS))
def test_each_key_on_changes_the_run_and_off_keeps_it(key, data, off_run):
    extra = KEYS[key]
    on = _run(_config(data, f'on_{key}', extra, epochs=1))
    assert on['finished'] and on['global_step'] == off_run['global_step'] == 6
    out = Path(on['output_dir'])
    last = torch.load(out / 'last.pt', weights_only=True)
    best = load_checkpoint(out / 'best.pt')
    rec, ref = on['history'][0], off_run['history'][0]
    assert 'cone_miou' in rec and on['select_metric'] == extra.get(
        'train', {}).get('select_metric', 'miou')
    ts = last['training_state']
    if key == 'ema':
        # best.pt holds the EMA weights, last.pt the live ones and the EMA state
        ema = ts['ema']
        assert ema['updates'] == 6
        for k, v in best.state_dict.items():
            assert torch.equal(v, ema['state_dict'][k]), k
        assert not all(torch.equal(v, last['state_dict'][k])
                       for k, v in best.state_dict.items())
        assert rec['train_loss'] == ref['train_loss']      # training itself unchanged
        assert rec['val_loss'] != ref['val_loss']          # validated: the EMA
    elif key == 'select_cone_miou':
        assert rec['train_loss'] == ref['train_loss'] and rec['miou'] == ref['miou']
        assert on['best_score'] == (rec['cone_miou'] or 0.0)
        assert best.provenance['select_metric'] == 'cone_miou'
    else:
        assert 'ema' not in ts
        assert rec['train_loss'] != ref['train_loss'], key
    assert len(ts['optimizer']['param_groups']) == (2 if key == 'no_decay' else 1)
    off_last = torch.load(Path(off_run['output_dir']) / 'last.pt', weights_only=True)
    assert 'ema' not in off_last['training_state']


@pytest.fixture(scope='module')
def straight_all_on(data):
    cfg = _config(data, 'all_on', ALL_ON, epochs=3)
    return cfg, _run(cfg)


def _tensors_equal(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_everything_on_resumes_bit_exact_ema_included(straight_all_on, data):
    cfg, summary = straight_all_on
    assert summary['finished'] and summary['global_step'] == 18
    out = data[2] / 'all_on_resumed'
    first = _run(cfg, '--output-dir', str(out), '--stop-after-steps', '8')
    assert not first['finished'] and first['global_step'] == 8
    # the rest with two data-loader workers: copy-paste draws from the sample's seed
    second = _run(cfg, '--output-dir', str(out), '--resume', 'auto', '--workers', '2')
    assert second['finished'] and second['global_step'] == 18
    a = torch.load(Path(summary['output_dir']) / 'last.pt', weights_only=True)
    b = torch.load(out / 'last.pt', weights_only=True)
    _tensors_equal(a['state_dict'], b['state_dict'])
    ea, eb = a['training_state']['ema'], b['training_state']['ema']
    assert ea['updates'] == eb['updates'] == 18
    _tensors_equal(ea['state_dict'], eb['state_dict'])
    sa, sb = a['training_state']['optimizer']['state'], b['training_state']['optimizer']['state']
    for k in sa:
        _tensors_equal(sa[k], sb[k])
    assert [r['cone_miou'] for r in summary['history']] == \
        [r['cone_miou'] for r in second['history']]
    _tensors_equal(torch.load(Path(summary['output_dir']) / 'best.pt',
                              weights_only=True)['state_dict'],
                   torch.load(out / 'best.pt', weights_only=True)['state_dict'])


def test_best_pt_is_the_epoch_of_the_best_cone_miou(straight_all_on):
    _, summary = straight_all_on
    scores = [r['cone_miou'] or 0.0 for r in summary['history']]
    best_epoch = 1 + max(range(len(scores)), key=lambda i: (scores[i], -i))
    assert summary['best_epoch'] == best_epoch
    assert summary['best_score'] == pytest.approx(max(scores))
    best = load_checkpoint(Path(summary['output_dir']) / 'best.pt')
    assert best.provenance['epoch'] == best_epoch
    assert best.provenance['metrics']['cone_miou'] == pytest.approx(
        summary['history'][best_epoch - 1]['cone_miou'])
    assert best.provenance['ema']['updates'] == best_epoch * 6
    assert math.isfinite(summary['history'][-1]['train_loss'])


@pytest.mark.parametrize('bad,msg', [
    ({'loss': {'region': 'iou'}}, 'loss.region'),
    ({'loss': {'ohem_fraction': 0}}, 'ohem_fraction'),
    ({'optim': {'ema_decay': 1.0}}, 'ema_decay'),
    ({'train': {'select_metric': 'dice'}}, 'select_metric'),
    ({'augment': {'crop': [64, 64]}}, 'crop'),
    ({'augment': {'copy_paste': {'prob': 2}}}, 'prob'),
    ({'loss': {'region': 'dice', 'region_classes': ['cone']}}, 'unknown class'),
])
def test_bad_recipe_values_are_config_errors(bad, msg, data):
    from training.utils import ConfigError
    name = 'bad_' + '_'.join(itertools.chain.from_iterable(v.keys() for v in bad.values()))
    with pytest.raises(ConfigError, match=msg):
        _run(_config(data, name, bad, epochs=1))
