# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Training faults of issue 14: the disk fills up; dataset files vanish during an epoch.

The disk is "full" through ``RLIMIT_FSIZE`` in a child process (SIGXFSZ ignored, so
a write past the limit fails with EFBIG, as it fails with ENOSPC on a full disk):
the checkpoint written before the limit stays byte for byte, no temporary file is
left beside it, and the error names the file, says what happened and that the
previous file is unchanged.

Files of a folder dataset deleted after it was indexed: each sample that hits one is
replaced by the next, counted across the loader's worker processes, warned about once
per file, and the epoch goes on; a training run reports the count per epoch and in
its summary.
"""

import logging
from pathlib import Path
import subprocess
import sys
import textwrap

import pytest
import torch
from torch.utils.data import DataLoader
from training import train as train_module
from training.data import EpochSampler, loader_context, SegmentationDataset, worker_init
from training.datasets.files import DatasetError, MissingFileError, read_mask, read_rgb
from training.datasets.folder import FolderSource
from training_helpers import one_thread, write_config, write_folder_dataset  # noqa: F401

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


def _identity(image, mask, seed):
    return image, mask


def test_a_vanished_file_is_a_missing_file_error_naming_it(tmp_path):
    root = write_folder_dataset(tmp_path / 'ds', 2)
    img, mask = sorted((root / 'images').iterdir())[0], sorted((root / 'masks').iterdir())[0]
    img.unlink()
    mask.unlink()
    for read, path in ((read_rgb, img), (read_mask, mask)):
        with pytest.raises(MissingFileError) as e:
            read(path)
        assert e.value.path == str(path) and str(path) in str(e.value)
        assert isinstance(e.value, DatasetError)  # callers catching DatasetError still do


@pytest.mark.parametrize('workers', [0, 2])
def test_files_vanishing_during_an_epoch_are_skipped_counted_and_the_epoch_goes_on(
        tmp_path, caplog, workers):
    root = write_folder_dataset(tmp_path / 'ds', 16)
    ds = SegmentationDataset([FolderSource(root)], _identity, seed=0)
    sampler = EpochSampler(len(ds), shuffle=False)
    loader = DataLoader(ds, batch_size=4, sampler=sampler, num_workers=workers,
                        worker_init_fn=worker_init if workers else None,
                        multiprocessing_context=loader_context() if workers else None,
                        persistent_workers=workers > 0)
    names = [ds.name(i) for i in range(len(ds))]
    with caplog.at_level(logging.WARNING):
        for epoch in range(2):
            sampler.set_epoch(epoch)
            batches = 0
            for images, masks, _ in loader:
                assert images.shape[0] == 4 and masks.shape == (4, 32, 48)
                if epoch == 0 and batches == 0:
                    # after indexing and the first batch: two images and one mask go
                    for stem in names[9:11]:
                        (root / 'images' / f'{stem}.png').unlink()
                    (root / 'masks' / f'{names[13]}.png').unlink()
                batches += 1
            assert batches == 4  # every batch full: the next sample stood in
            # samples 9, 10 and 13 vanished (prefetching workers may have loaded them before
            # the deletion in epoch 0, never in epoch 1)
            n = ds.take_vanished()
            assert n == 3 if epoch == 1 else 0 <= n <= 3
            assert ds.take_vanished() == 0
    if not workers:  # the workers' warnings go to their own stderr
        vanished = [r.getMessage() for r in caplog.records if 'vanished' in r.getMessage()]
        assert len(vanished) == 3, vanished  # once per file, not once per epoch
        assert any(f'{names[13]}.png' in m for m in vanished)


def test_a_training_run_reports_the_vanished_samples_and_finishes(tmp_path, monkeypatch,
                                                                  caplog):
    train_root = write_folder_dataset(tmp_path / 'train', 12, seed=1)
    val_root = write_folder_dataset(tmp_path / 'val', 4, seed=2)
    cfg = write_config(tmp_path / 'tiny.yaml', train_root, val_root, tmp_path / 'run',
                       epochs=2)
    build_data = train_module.build_data
    gone = sorted((train_root / 'images').iterdir())[:2]

    def build_then_lose_files(*args, **kwargs):
        data = build_data(*args, **kwargs)  # indexed: now two images vanish
        for p in gone:
            p.unlink()
        return data
    monkeypatch.setattr(train_module, 'build_data', build_then_lose_files)
    torch.manual_seed(0)
    with caplog.at_level(logging.WARNING):
        summary = train_module.main(train_module.get_args_parser().parse_args(
            ['--config', str(cfg), '--no-progress']))
    assert summary['finished'] and summary['epochs_run'] == 2 and summary['global_step'] == 6
    assert [r['samples_skipped_vanished'] for r in summary['history']] == [2, 2]
    assert summary['samples_skipped_vanished'] == 4
    assert 'epoch 1: 2 sample(s) skipped because their image or mask vanished' in caplog.text
