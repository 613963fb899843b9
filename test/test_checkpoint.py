# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""The checkpoint contract: round trip, weights_only, atomic writes, clear errors."""

import os
from pathlib import Path
import pickle
import warnings

from eunet_ros.core.checkpoint import (CheckpointError, DEFAULT_CLASSES, FORMAT_VERSION,
                                       load_checkpoint, save_checkpoint)
from eunet_ros.core.model import build_eunet
import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
# torch's advice for files weights_only=True refuses; it would run code from the file
UNSAFE = ('weights_only=False', 'weights_only` set to `False`', 'arbitrary code')


@pytest.fixture
def saved(tmp_path):
    model = build_eunet(variant='fast', num_classes=len(DEFAULT_CLASSES))
    path = save_checkpoint(tmp_path / 'm.pt', model=model, variant='fast',
                           input_size=(96, 128), provenance={'data': 'unit-test', 'epoch': 3})
    return path, model


def test_round_trip_rebuilds_the_network_alone(saved):
    path, model = saved
    ckpt = load_checkpoint(path)
    rebuilt = ckpt.build_model().eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model.eval()(x))
    assert ckpt.class_names == list(DEFAULT_CLASSES)
    assert ckpt.input_size == (96, 128)
    assert ckpt.provenance['data'] == 'unit-test'
    assert ckpt.provenance['code_version']
    assert ckpt.variant == 'fast'


def test_loads_with_weights_only(saved):
    raw = torch.load(saved[0], weights_only=True)
    assert raw['format_version'] == FORMAT_VERSION


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=r'nope\.pt does not exist'):
        load_checkpoint(tmp_path / 'nope.pt')


def test_empty_file(tmp_path):
    p = tmp_path / 'empty.pt'
    p.write_bytes(b'')
    with pytest.raises(CheckpointError, match=r'empty\.pt is empty'):
        load_checkpoint(p)


def test_truncated_file(saved, tmp_path):
    data = saved[0].read_bytes()
    p = tmp_path / 'cut.pt'
    p.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match=r'cut\.pt is truncated'):
        load_checkpoint(p)


def test_not_a_checkpoint(tmp_path):
    p = tmp_path / 'notes.pt'
    p.write_text('hello, I am a text file\n')
    with pytest.raises(CheckpointError, match=r'notes\.pt'):
        load_checkpoint(p)


def test_bare_state_dict_is_explained(tmp_path):
    p = tmp_path / 'bare.pt'
    torch.save(build_eunet(variant='fast').state_dict(), p)
    with pytest.raises(CheckpointError, match=r'bare\.pt is not an eunet_ros checkpoint.*bare '
                       r'state_dict'):
        load_checkpoint(p)


def test_pickled_objects_are_refused(tmp_path):
    p = tmp_path / 'pickle.pt'
    torch.save({'format': 'eunet_ros.checkpoint', 'evil': object()}, p)
    with pytest.raises(CheckpointError, match=r'pickle\.pt .*weights_only'):
        load_checkpoint(p)


def test_weights_that_do_not_match_the_config(saved, tmp_path):
    raw = torch.load(saved[0], weights_only=True)
    raw['model']['config']['widths'] = [8, 16, 32, 64]
    p = tmp_path / 'mismatch.pt'
    torch.save(raw, p)
    with pytest.raises(CheckpointError, match=r'mismatch\.pt: weights do not match'):
        load_checkpoint(p)


def test_class_table_that_does_not_match_the_head(saved, tmp_path):
    raw = torch.load(saved[0], weights_only=True)
    raw['classes']['names'] = raw['classes']['names'][:3]
    raw['classes']['palette'] = raw['classes']['palette'][:3]
    p = tmp_path / 'classes.pt'
    torch.save(raw, p)
    with pytest.raises(CheckpointError, match=r'classes\.pt: the model has 7 output'):
        load_checkpoint(p)


def test_newer_format_version(saved, tmp_path):
    raw = torch.load(saved[0], weights_only=True)
    raw['format_version'] = FORMAT_VERSION + 1
    p = tmp_path / 'future.pt'
    torch.save(raw, p)
    with pytest.raises(CheckpointError, match=r'future\.pt has format_version'):
        load_checkpoint(p)


def test_expected_class_count(saved):
    with pytest.raises(CheckpointError, match='2 were expected'):
        load_checkpoint(saved[0], expect_num_classes=2)


def test_atomic_write_keeps_the_old_file_when_saving_fails(saved, monkeypatch):
    path, model = saved
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError('disk full')
    monkeypatch.setattr(torch, 'save', boom)
    with pytest.raises(OSError, match='disk full'):
        save_checkpoint(path, model=model, variant='fast')
    assert path.read_bytes() == before
    leftovers = [f for f in os.listdir(path.parent) if f.endswith('.tmp')]
    assert leftovers == []
    load_checkpoint(path)


def test_ddp_or_compiled_wrappers_are_unwrapped(tmp_path):
    model = build_eunet(variant='fast', num_classes=7)
    wrapped = torch.nn.DataParallel(model)
    p = save_checkpoint(tmp_path / 'w.pt', model=wrapped)
    assert not any(k.startswith('module.') for k in load_checkpoint(p).state_dict)


def refusal(path):
    """Return the CheckpointError message for ``path`` (never another exception)."""
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    msg = str(e.value)
    assert str(path) in msg
    assert not [u for u in UNSAFE if u in msg], msg
    return msg


def test_text_files_say_they_are_text_and_what_to_give(tmp_path):
    notes = tmp_path / 'notes.txt'
    notes.write_text('hello world\n')   # torch.load read 'he' as opcodes: KeyError: 101
    for path, kind in ((notes, 'a text file'), (ROOT / 'README.md', 'a Markdown text file')):
        msg = refusal(path)
        assert f'is {kind}' in msg and 'not a torch checkpoint' in msg, msg
        assert 'KeyError' not in msg and 'models/eunet_fs_synthetic.pt' in msg, msg
    card = ROOT / 'models' / 'eunet_fs_synthetic.md'
    msg = refusal(card)
    assert 'Markdown' in msg and f'The checkpoint beside it is {card.with_suffix(".pt")}' in msg


def test_an_onnx_model_is_named_and_the_pt_it_came_from_asked_for(tmp_path):
    pytest.importorskip('onnx')
    path = tmp_path / 'eunet.onnx'
    net = torch.nn.Conv2d(3, 2, 3)
    with warnings.catch_warnings():  # the exporter's deprecation and tracer notes
        warnings.simplefilter('ignore')
        torch.onnx.export(net.eval(), torch.randn(1, 3, 8, 8), str(path), dynamo=False)
    assert path.read_bytes()[:1] == b'\x08'
    msg = refusal(path)
    assert 'is an ONNX model' in msg and '.pt checkpoint it was exported from' in msg, msg
    # recognised by its bytes too, whatever its name
    assert 'is an ONNX model' in refusal(path.rename(tmp_path / 'exported.bin'))


def test_other_files_never_get_torchs_unsafe_advice(tmp_path):
    module = tmp_path / 'whole_model.pt'
    torch.save(build_eunet(variant='fast'), module)
    assert 'EUnet' in refusal(module) and 'torch.save(model)' in refusal(module)
    plain = tmp_path / 'data.pkl'
    plain.write_bytes(pickle.dumps({'x': [1, 2]}, protocol=4))
    assert 'a pickle that torch.load(weights_only=True) cannot read' in refusal(plain)
    npy = tmp_path / 'a.npy'
    np.save(npy, np.zeros(3))
    assert 'is a NumPy array file' in refusal(npy)
    binary = tmp_path / 'random.pt'
    binary.write_bytes(bytes(range(256)) * 4)
    assert 'neither a zip archive' in refusal(binary)
    damaged = tmp_path / 'damaged.pt'
    damaged.write_bytes(b'\x80\x02he')  # a pickle header, then a memo lookup: KeyError
    assert 'damaged' in refusal(damaged)
