# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""EUnet: layout, parameter counts, any input size, binary and multi-class heads."""

from eunet_ros.core.model import (build_eunet, config_for_variant, count_parameters, EUnet,
                                  EUnetConfig, stage_shapes, VARIANTS)
import pytest
import torch


def test_seed_matches_original_parameter_count():
    # The original EUnet code (64-128-256-512, 1 class) has 6,434,463 parameters.
    model = build_eunet(variant='seed', num_classes=1)
    n = count_parameters(model)
    assert abs(n - 6_434_463) / 6_434_463 < 0.01, n


@pytest.mark.parametrize('variant', sorted(VARIANTS))
@pytest.mark.parametrize('size', [(64, 64), (101, 77), (37, 130)])
def test_any_input_size_gives_logits_of_that_size(variant, size):
    model = build_eunet(variant=variant, num_classes=7).eval()
    with torch.no_grad():
        y = model(torch.rand(2, 3, *size))
    assert y.shape == (2, 7, *size)
    assert torch.isfinite(y).all()


def test_binary_head_has_one_channel():
    model = build_eunet(variant='fast', num_classes=1).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 48, 48)).shape == (1, 1, 48, 48)


def test_skip_channels_concatenate_without_cropping():
    cfg = EUnetConfig(widths=(8, 16, 32, 64, 128), num_classes=3, stem='spd2')
    shapes = stage_shapes(cfg, (100, 150))
    # every stage halves the previous one exactly: no cropping is ever needed
    for (_, h0, w0), (_, h1, w1) in zip(shapes, shapes[1:]):
        assert (h0, w0) == (2 * h1, 2 * w1)
    model = EUnet(cfg).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 100, 150)).shape == (1, 3, 100, 150)


def test_config_round_trip_and_errors():
    cfg = config_for_variant('fast', num_classes=7)
    assert EUnetConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match='stem'):
        EUnetConfig(stem='bogus')
    with pytest.raises(ValueError, match='widths'):
        EUnetConfig(widths=(8,))
    with pytest.raises(ValueError, match='unknown EUnet variant'):
        build_eunet(variant='nope')
    with pytest.raises(ValueError, match='unknown EUnet config keys'):
        EUnetConfig.from_dict({'widths': [8, 16], 'colour': 1})


def test_builder_is_keyword_only_and_never_downloads(monkeypatch):
    def no_network(*a, **k):
        raise AssertionError('builders must not download anything')
    monkeypatch.setattr(torch.hub, 'load_state_dict_from_url', no_network)
    with pytest.raises(TypeError):
        build_eunet('fast')  # positional use is refused
    assert isinstance(build_eunet(variant='fast'), EUnet)


def test_fast_default_is_much_smaller_than_seed():
    seed = count_parameters(build_eunet(variant='seed', num_classes=7))
    fast = count_parameters(build_eunet(variant='fast', num_classes=7))
    assert fast * 5 < seed


def test_gradients_flow_to_every_parameter():
    model = build_eunet(variant='fast', num_classes=4)
    y = model(torch.rand(2, 3, 64, 96))
    y.logsumexp(1).mean().backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None]
    assert not dead
