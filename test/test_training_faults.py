# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Training faults of issue 14: the disk fills up while last.pt or best.pt is written.

The disk is "full" through ``RLIMIT_FSIZE`` in a child process (SIGXFSZ ignored, so
a write past the limit fails with EFBIG, as it fails with ENOSPC on a full disk):
the checkpoint written before the limit stays byte for byte, no temporary file is
left beside it, and the error names the file, says what happened and that the
previous file is unchanged.
"""

from pathlib import Path
import subprocess
import sys
import textwrap

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHILD = textwrap.dedent("""
    import resource, signal, sys
    sys.path.insert(0, {root!r})
    import torch
    from eunet_ros.core.checkpoint import save_checkpoint
    from eunet_ros.core.model import build_eunet, EUnetConfig
    torch.manual_seed(0)
    def tiny():
        return build_eunet(config=EUnetConfig(widths=(4, 8), attention=False, num_classes=7))
    path = {path!r}
    if {first}:
        save_checkpoint(path, model=tiny(), input_size=(32, 48))
        sys.exit(0)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    try:
        save_checkpoint(path, model=tiny(), input_size=(32, 48), provenance={{'epoch': 2}})
    except OSError as e:
        print('ERROR', e, flush=True)
        sys.exit(3)
    print('second written')
""")


@pytest.mark.parametrize('name', ['last.pt', 'best.pt'])
def test_disk_full_while_a_checkpoint_is_written_keeps_the_previous_one(tmp_path, name):
    from eunet_ros.core.checkpoint import load_checkpoint
    path = tmp_path / 'run' / name
    first = subprocess.run([sys.executable, '-c', CHILD.format(
        root=str(ROOT), path=str(path), first=True)], capture_output=True, text=True,
        timeout=120)
    assert first.returncode == 0, first.stderr
    before = path.read_bytes()
    assert len(before) > 4096  # the limit really cuts the next write
    proc = subprocess.run([sys.executable, '-c', CHILD.format(
        root=str(ROOT), path=str(path), first=False)], capture_output=True, text=True,
        timeout=120)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    err = proc.stdout.split('ERROR', 1)[1]
    assert f'could not write {path}' in err and 'File too large' in err
    assert 'file size limit' in err and f'the previous {name} is unchanged' in err
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [name]  # no temporary file
    assert load_checkpoint(path).provenance.get('epoch') is None  # still the first one
