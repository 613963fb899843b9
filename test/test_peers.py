# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""torchvision peers in the checkpoint format (accuracy comparisons with the same recipe)."""

import sys

from eunet_ros.core.checkpoint import (Checkpoint, CheckpointError, DEFAULT_CLASSES,
                                       DEFAULT_PALETTE, load_checkpoint, save_checkpoint)
from eunet_ros.core.engine import SegmentationEngine
from eunet_ros.core.peers import PeerConfig, torchvision_available
import numpy as np
import pytest
import torch

HAVE_TV, TV_WHY = torchvision_available()
needs_tv = pytest.mark.skipif(not HAVE_TV, reason=f'torchvision does not import ({TV_WHY})')
PEER = 'lraspp_mobilenet_v3_large'


def _peer_file(tmp_path, state_dict=None):
    """Write a peer checkpoint the way save_checkpoint lays it out, without torchvision."""
    ckpt = Checkpoint(config=PeerConfig(name=PEER, num_classes=len(DEFAULT_CLASSES)),
                      state_dict=state_dict or {'model.classifier.low_classifier.weight':
                                                torch.zeros(7, 40, 1, 1)},
                      class_names=DEFAULT_CLASSES, palette=DEFAULT_PALETTE,
                      input_size=(96, 128), variant=PEER)
    path = tmp_path / 'peer.pt'
    torch.save(ckpt.to_dict(), path)
    return path


def test_peer_checkpoint_without_torchvision_says_what_to_install(tmp_path, monkeypatch):
    path = _peer_file(tmp_path)
    # a None entry in sys.modules makes the import raise ImportError, as if not installed
    for name in [m for m in sys.modules if m.split('.')[0] == 'torchvision'] + ['torchvision']:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(CheckpointError, match=r'peer\.pt.*lraspp_mobilenet_v3_large.*'
                                              r'Install torchvision'):
        load_checkpoint(path)


def test_unknown_peer_name_is_a_malformed_checkpoint(tmp_path):
    path = _peer_file(tmp_path)
    raw = torch.load(path, weights_only=True)
    raw['model']['config']['name'] = 'resnet9000'
    torch.save(raw, path)
    with pytest.raises(CheckpointError, match=r'malformed.*resnet9000'):
        load_checkpoint(path)


def test_peer_config_validates_its_fields():
    with pytest.raises(ValueError, match='unknown peer'):
        PeerConfig(name='nope', num_classes=3)
    with pytest.raises(ValueError, match='num_classes'):
        PeerConfig(name=PEER, num_classes=0)
    cfg = PeerConfig(name=PEER, num_classes=4)
    assert PeerConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.multiple == 1


@needs_tv
def test_peer_round_trip_and_engine(tmp_path):
    from eunet_ros.core.peers import build_peer
    torch.manual_seed(0)
    model = build_peer(PEER, len(DEFAULT_CLASSES)).eval()
    path = save_checkpoint(tmp_path / 'peer.pt', model=model, variant=PEER,
                           input_size=(96, 128))
    ckpt = load_checkpoint(path)
    assert ckpt.arch == 'torchvision' and ckpt.description == f'torchvision {PEER}'
    x = torch.rand(1, 3, 96, 128)
    with torch.no_grad():
        assert torch.equal(ckpt.build_model().eval()(x), model(x))
    eng = SegmentationEngine(ckpt, device='cpu', warmup=False)
    frame = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    mask = eng.infer([frame], color_order='bgr')[0].mask
    assert mask.shape == (120, 160) and int(mask.max()) < len(DEFAULT_CLASSES)
