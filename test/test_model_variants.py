# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
EUnet's layout options (stem block, refinement, attention stages) and the 640x384 variants.

The options must leave every earlier network exactly as it was: the shipped
checkpoint loads and gives the logits it gave before the options existed, the
parameter names of the old variants do not change, and their config dicts are
written as before. Networks with the new options round-trip through checkpoints
and run in ONNX Runtime as in torch.
"""

import hashlib
from pathlib import Path

from eunet_ros.core.checkpoint import load_checkpoint, save_checkpoint
from eunet_ros.core.engine import SegmentationEngine
from eunet_ros.core.model import (Attention, build_eunet, config_for_variant, EUnet,
                                  EUnetConfig, VARIANTS)
from eunet_ros.core.ort_backend import OrtNetwork
import numpy as np
import pytest
import torch
from training.synthetic import render_sample

ROOT = Path(__file__).resolve().parent.parent
# The checkpoint shipped until 2026-12-02 (fast, 320x192 input), kept as a fixture: a
# checkpoint written before the layout options must load and run as it did then.
PACKAGED = ROOT / 'test' / 'data' / 'eunet_fs_synthetic_fast_320x192.pt'
OLD_VARIANTS = ('seed', 'fast', 'small')
NEW_VARIANTS = sorted(set(VARIANTS) - set(OLD_VARIANTS))


def pattern(h, w):
    """Return a deterministic 1 x 3 x h x w test image (no RNG: the same on every machine)."""
    yy = torch.linspace(-1, 1, h).view(1, 1, h, 1)
    xx = torch.linspace(-1, 1, w).view(1, 1, 1, w)
    ch = torch.arange(3.).view(1, 3, 1, 1)
    return torch.sin(7 * xx * (ch + 1) + 3 * yy) + torch.cos(11 * yy * (ch + 2) - 5 * xx * xx)


# Logits of the shipped checkpoint on pattern(h, w), computed with the model code
# before the layout options were added (commit 1496dc7): (y, x) -> 7 class logits.
PACKAGED_LOGITS = {
    (192, 320): {
        (0, 0): [11.426804, -1.503339, -7.151374, 0.907581, -7.410273, -8.048195, -1.578152],
        (50, 100): [8.846338, -0.431606, -8.250973, -2.585318, -4.349551, -2.478892,
                    -1.496182],
        (191, 319): [1.348833, 3.494828, 4.303219, -5.909075, -0.513797, -0.472661, 2.787919],
        (120, 200): [14.613584, 13.800663, -1.137573, -4.380762, -11.059196, -15.500713,
                     -2.515665],
    },
    (181, 317): {
        (0, 0): [10.419760, -1.373421, -7.230813, 1.461849, -6.784991, -7.038013, -2.148231],
        (50, 100): [2.286427, -2.442450, -2.178718, -4.928997, 0.120497, 3.298625, 0.915581],
        (180, 316): [4.310650, 2.764826, -0.194800, -1.498709, -2.671276, -3.753514,
                     -1.092510],
        (120, 200): [6.512125, 6.057928, 2.652440, -6.839251, -4.090539, -6.227050, -0.190332],
    },
}
# Per-class mean logit over the image, same source.
PACKAGED_MEANS = {
    (192, 320): [8.941862, 1.958746, -1.273150, -3.974806, -5.859451, -6.038266, 0.364751],
    (181, 317): [8.599976, 1.978676, -1.254738, -4.137067, -5.611921, -5.732851, 0.481461],
}
# len(state_dict) and sha256 of 'name:shape|...' of the old variants (7 classes),
# before the layout options were added.
OLD_KEYS = {'seed': (170, '361bb5ddf432b8b9'), 'fast': (168, '79faf96cb6f86065'),
            'small': (168, '71afbc1383e4abde')}


def keys_digest(model):
    s = '|'.join(f'{k}:{tuple(t.shape)}' for k, t in model.state_dict().items())
    return len(model.state_dict()), hashlib.sha256(s.encode()).hexdigest()[:16]


@pytest.mark.parametrize('size', sorted(PACKAGED_LOGITS))
def test_shipped_checkpoint_gives_the_logits_of_earlier_versions(size):
    raw = torch.load(PACKAGED, weights_only=True)
    ckpt = load_checkpoint(PACKAGED)
    # the stored config reads back and is written back exactly as stored
    assert ckpt.config.to_dict() == raw['model']['config']
    assert not ckpt.config.stem_block and ckpt.config.refine == 'none'
    assert ckpt.config.attention_stages is None
    model = ckpt.build_model().eval()
    assert set(model.state_dict()) == set(raw['state_dict'])
    with torch.no_grad():
        y = model(pattern(*size))[0]
    assert y.shape == (7, *size)
    for (i, j), want in PACKAGED_LOGITS[size].items():
        torch.testing.assert_close(y[:, i, j], torch.tensor(want), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(y.mean((1, 2)), torch.tensor(PACKAGED_MEANS[size]),
                               rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize('variant', OLD_VARIANTS)
def test_old_variants_keep_their_parameter_names_and_config_dicts(variant):
    model = build_eunet(variant=variant, num_classes=7)
    assert keys_digest(model) == OLD_KEYS[variant]
    d = model.config.to_dict()
    assert set(d) == {'widths', 'num_classes', 'in_channels', 'stem', 'attention'}
    assert EUnetConfig.from_dict(d) == model.config


def test_default_options_are_the_original_network():
    old = {'widths': (8, 16, 32), 'num_classes': 3, 'stem': 'spd4'}
    a = EUnetConfig(**old)
    b = EUnetConfig(**old, stem_block=False, refine='none', attention_stages=None)
    every = EUnetConfig(**old, attention_stages=(0, 1, 2))
    assert a == b
    x = pattern(40, 72)
    torch.manual_seed(0)
    ref = EUnet(a).eval()
    torch.manual_seed(0)
    same = EUnet(every).eval()
    assert keys_digest(same) == keys_digest(ref)
    with torch.no_grad():
        assert torch.equal(same(x), ref(x))


@pytest.mark.parametrize('variant', NEW_VARIANTS)
@pytest.mark.parametrize('size', [(384, 640), (97, 203), (31, 45)])
def test_new_variants_give_logits_of_any_input_size(variant, size):
    assert VARIANTS[variant].input_size == (384, 640)
    model = build_eunet(variant=variant, num_classes=7).eval()
    with torch.no_grad():
        y = model(torch.rand(1, 3, *size))
    assert y.shape == (1, 7, *size)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize('variant', NEW_VARIANTS)
def test_gradients_reach_every_parameter_of_the_new_variants(variant):
    model = build_eunet(variant=variant, num_classes=4)
    model(torch.rand(2, 3, 64, 96)).logsumexp(1).mean().backward()
    assert not [n for n, p in model.named_parameters() if p.grad is None]


def attention_at(model):
    """Return the names of the modules that own an Attention layer."""
    return {name.rsplit('.', 1)[0] for name, m in model.named_modules()
            if isinstance(m, Attention)}


def test_options_put_their_blocks_where_they_say():
    cfg = EUnetConfig(widths=(16, 32, 64, 128), num_classes=7, stem='spd4', stem_block=True,
                      refine='block', attention_stages=(2, 3))
    model = EUnet(cfg)
    names = set(model.state_dict())
    assert any(k.startswith('stem_body.') for k in names)
    assert any(k.startswith('refine.') for k in names)
    # down block i is stage i + 1; ups[0] runs at the bottleneck (stage 3), ups[k] at 3 - k
    assert attention_at(model) == {'downs.1.body', 'downs.2.body', 'ups.0.body', 'ups.1.body'}
    assert model.head.in_channels == 32
    every = EUnet(EUnetConfig(widths=(16, 32, 64), stem='spd4', stem_block=True,
                              refine='reduce'))
    assert attention_at(every) == {'stem_body', 'refine', 'downs.0.body', 'downs.1.body',
                                   'ups.0.body', 'ups.1.body'}
    assert every.head.in_channels == 16
    none = EUnet(EUnetConfig(widths=(16, 32, 64), stem_block=True, refine='block',
                             attention=False))
    assert attention_at(none) == set()


def test_new_options_validate_and_round_trip():
    cfg = config_for_variant('fast-sr-a23', num_classes=7)
    d = cfg.to_dict()
    assert d['stem_block'] is True and d['refine'] == 'block'
    assert d['attention_stages'] == [2, 3]
    assert EUnetConfig.from_dict(d) == cfg
    assert EUnetConfig(widths=(8, 16, 32), attention_stages=[2, 0, 2]).attention_stages == (0, 2)
    with pytest.raises(ValueError, match='refine'):
        EUnetConfig(refine='deep')
    with pytest.raises(ValueError, match='attention_stages must be within'):
        EUnetConfig(widths=(8, 16, 32), attention_stages=(3,))
    with pytest.raises(ValueError, match='needs attention=True'):
        EUnetConfig(widths=(8, 16, 32), attention=False, attention_stages=(1,))
    # attention=False with no stages (or an empty tuple) is the plain attention-free net
    assert EUnetConfig(widths=(8, 16), attention=False, attention_stages=()).attention_stages \
        == ()


def test_training_builds_the_variants_options():
    from training.train import model_config
    cfg = {'model': {'arch': 'eunet', 'variant': 'fast-sr-a23', 'widths': None, 'stem': None,
                     'attention': None, 'input_size': None}}
    config, size = model_config(cfg, 7)
    assert config == config_for_variant('fast-sr-a23', num_classes=7) and size == (384, 640)
    cfg['model']['attention'] = False
    config, _ = model_config(cfg, 7)
    assert not config.attention and config.attention_stages is None and config.stem_block
    cfg['model'].update(variant='fast', attention=None)
    assert model_config(cfg, 7)[0] == config_for_variant('fast', num_classes=7)


@pytest.fixture(scope='module')
def new_checkpoint(tmp_path_factory):
    """Return a saved checkpoint of a random-init network with every new option on."""
    torch.manual_seed(0)
    model = build_eunet(variant='fast24-sr-a23', num_classes=7).eval()
    # BN statistics away from the init values, so the export sees non-trivial BNs
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 2.0)
    path = save_checkpoint(tmp_path_factory.mktemp('ckpt') / 'sr.pt', model=model,
                           variant='fast24-sr-a23', input_size=(96, 160))
    return path, model


def test_new_options_round_trip_through_checkpoints(new_checkpoint):
    path, model = new_checkpoint
    ckpt = load_checkpoint(path)
    assert ckpt.variant == 'fast24-sr-a23' and ckpt.config == model.config
    rebuilt = ckpt.build_model().eval()
    x = pattern(70, 130)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model(x))


def test_new_options_run_in_onnx_runtime_as_in_torch(new_checkpoint, tmp_path):
    path, model = new_checkpoint
    x = pattern(96, 160)
    runner = OrtNetwork(model, (96, 160), cache_dir=tmp_path)
    with torch.no_grad():
        ref = model(x)
    torch.testing.assert_close(runner(x), ref, rtol=1e-3, atol=1e-3)
    torch_engine = SegmentationEngine(path, device='cpu', backend='torch')
    ort_engine = SegmentationEngine(path, device='cpu', backend='onnxruntime',
                                    cache_dir=tmp_path)
    assert ort_engine.backend == 'onnxruntime'
    frames = [np.ascontiguousarray(render_sample(3000, i, 320, 180)[0][..., ::-1])
              for i in range(2)]
    for a, b in zip(torch_engine.infer(frames, color_order='bgr'),
                    ort_engine.infer(frames, color_order='bgr')):
        assert a.mask.shape == b.mask.shape == (180, 320)
        assert (a.mask == b.mask).mean() >= 0.999
