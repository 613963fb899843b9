# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Property test of the checkpoint loader over mutated files, and crafted pickles refused.

A real checkpoint of a tiny EUnet is written with ``save_checkpoint``; each example
flips, overwrites, cuts or inserts bytes. ``load_checkpoint`` must either raise
:class:`CheckpointError` or return a checkpoint that validates and builds its network
(a flipped byte inside a weight tensor is still a valid file). Nothing else: the
node turns a CheckpointError into a clear start-up error, anything else is a crash.
"""

import os
import pickle
import zipfile

from eunet_ros.core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from eunet_ros.core.model import build_eunet, EUnetConfig
from fuzz_helpers import byte_edits, mutate
from hypothesis import example, given
import pytest
import torch


def _tiny_bytes(tmp_dir):
    torch.manual_seed(0)
    model = build_eunet(config=EUnetConfig(widths=(4, 8), attention=False, num_classes=7))
    path = save_checkpoint(os.path.join(tmp_dir, 'tiny.pt'), model=model, input_size=(32, 48))
    with open(path, 'rb') as f:
        return f.read()


@pytest.fixture(scope='module')
def base(tmp_path_factory):
    d = tmp_path_factory.mktemp('fuzz_ckpt')
    return _tiny_bytes(str(d)), d


MUTATIONS = byte_edits()


@given(MUTATIONS)
@example([('cut', 0.5, 0, b'x')])
@example([('insert', 0.0, 0, b'PK\x03\x04')])
def test_mutated_checkpoint_loads_or_is_refused(base, mutations):
    raw, folder = base
    path = folder / 'mutated.pt'
    path.write_bytes(mutate(raw, mutations))
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError as e:
        assert str(path) in str(e)
        return
    assert ckpt.num_classes == 7
    model = ckpt.build_model()  # weights match the config: a strict load
    assert sum(p.numel() for p in model.parameters()) > 0


class _WritesMarker:
    """A pickle that runs code when unpickled: it would create the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def test_crafted_pickle_in_a_checkpoint_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / 'pwned'
    # a torch file (zip) whose data.pkl holds the payload beside real-looking entries
    evil = tmp_path / 'evil.pt'
    torch.save({'format': 'eunet_ros', 'format_version': 1, 'x': _WritesMarker(str(marker))},
               evil)
    assert not marker.exists()
    with zipfile.ZipFile(evil) as z:
        assert any(n.endswith('data.pkl') for n in z.namelist())
    with pytest.raises(CheckpointError, match='not an eunet_ros checkpoint'):
        load_checkpoint(evil)
    assert not marker.exists()
    # a plain pickle (the legacy, non-zip torch format) carrying the same payload
    legacy = tmp_path / 'legacy.pt'
    legacy.write_bytes(pickle.dumps(_WritesMarker(str(marker)), protocol=2))
    with pytest.raises(CheckpointError):
        load_checkpoint(legacy)
    assert not marker.exists()
    # the payload is real: unpickling it without weights_only creates the marker
    pickle.loads(legacy.read_bytes()).close()
    assert marker.exists()
