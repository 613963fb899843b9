# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Property test of the bag reader over mutated bags (sqlite3 and MCAP, metadata.yaml).

Real bags are written with rosbags (test/bag_helpers.py); each example flips, sets,
cuts or inserts bytes of the storage file or of metadata.yaml. Opening the bag,
reading every message and deserialising each must raise :class:`BagError` or give
messages; the bag tool and camera_replay turn a BagError into a clear message, any
other exception is a crash.
"""

from pathlib import Path
import shutil
import tempfile

from bag_helpers import write_drive
from eunet_ros.ros.bag_reader import Bag, BagError
from fuzz_helpers import byte_edits, mutate
from hypothesis import example, given, strategies as st
import pytest


@pytest.fixture(scope='module')
def bags(tmp_path_factory):
    root = tmp_path_factory.mktemp('fuzz_bags')
    out = {}
    for storage in ('sqlite3', 'mcap'):
        path = root / storage
        write_drive(path, storage, frames=3, h=8, w=12)
        out[storage] = path
    return out


EDITS = byte_edits(('flip', 'set', 'cut', 'insert'), max_blob=12, max_edits=3)


def read_all(path: Path) -> int:
    """Open the bag and deserialise every message; return how many were read."""
    n = 0
    with Bag(str(path)) as bag:
        for info, t_ns, raw in bag.messages():
            bag.deserialize(raw, info, t_ns)
            n += 1
    return n


@given(st.sampled_from(['sqlite3', 'mcap']), st.sampled_from(['storage', 'metadata']), EDITS)
@example('mcap', 'storage', [('cut', 0.5, 0, b'x')])
@example('sqlite3', 'metadata', [('insert', 0.0, 0, b'version: .inf\n')])
def test_mutated_bag_reads_or_is_refused(bags, storage, target, edits):
    with tempfile.TemporaryDirectory() as d:
        bag = Path(d) / 'bag'
        shutil.copytree(bags[storage], bag)
        if target == 'metadata':
            f = bag / 'metadata.yaml'
        else:
            f = next(p for p in bag.iterdir() if p.suffix in ('.db3', '.mcap'))
        f.write_bytes(mutate(f.read_bytes(), edits))
        try:
            n = read_all(bag)
        except BagError as e:
            assert str(e)
            return
        assert 0 <= n <= 9
