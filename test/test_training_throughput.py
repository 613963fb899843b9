# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""``python -m training.throughput``: real loader, real steps, sane JSON; clear errors."""

import itertools
import json
import math

import pytest
from training import throughput
from training_helpers import one_thread, write_folder_dataset  # noqa: F401 - autouse fixture

TINY = ['--device', 'cpu', '--input-size', '32', '48', '--batch-size', '4',
        '--warmup-steps', '1', '--render-workers', '1']


def test_rendered_synthetic_set_gives_sane_figures(tmp_path, capsys):
    out = tmp_path / 'tp.json'
    rc = throughput.cli(TINY + ['--steps', '3', '--workers', '1', '--synthetic-count', '6',
                                '--json', str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert 'img/s' in text and 'eunet-fast' in text and 'data wait' in text
    doc = json.loads(out.read_text())
    assert doc['environment']['torch'] and doc['args']['batch_size'] == 4
    (row,) = doc['rows']
    assert row['mode'] == 'train' and row['device'] == 'cpu' and row['amp'] == 'none'
    assert row['steps'] == 3 and row['batch'] == 4 and row['input_size'] == [32, 48]
    assert row['dataset_size'] == 6 and row['data'].startswith('synthetic')
    assert row['images_per_s'] > 0 and row['seconds'] > 0
    assert math.isclose(row['images_per_s'], 3 * 4 / row['seconds'])
    assert 0.0 <= row['data_wait_fraction'] <= 1.0
    assert row['gpu_util_pct_mean'] is None and row['peak_gpu_mem_mb'] is None
    assert row['gpu_util_note'] and row['peak_rss_mb'] > 0
    assert math.isfinite(row['final_loss']) and row['params'] > 0


def test_folder_dataset_for_a_duration(tmp_path):
    data = write_folder_dataset(tmp_path / 'd', 3, h=40, w=60)
    out = tmp_path / 'tp.json'
    rc = throughput.cli(TINY + ['--data', str(data), '--duration', '0.5', '--workers', '0',
                                '--json', str(out)])
    assert rc == 0
    (row,) = json.loads(out.read_text())['rows']
    # a batch of 4 from 3 images: the sampler runs on into the next epoch
    assert row['steps'] >= 1 and row['seconds'] >= 0.5 and row['dataset_size'] == 3
    assert row['data'] == f'folder {data}'


def test_endless_sampler_reshuffles_each_epoch():
    pairs = list(itertools.islice(iter(throughput.EndlessSampler(4, seed=1)), 10))
    assert [e for e, _ in pairs] == [0] * 4 + [1] * 4 + [2] * 2
    assert sorted(i for _, i in pairs[:4]) == [0, 1, 2, 3]
    assert sorted(i for _, i in pairs[4:8]) == [0, 1, 2, 3]


def test_missing_data_folder_is_a_clear_error(tmp_path, capsys):
    missing = tmp_path / 'nope'
    rc = throughput.cli(TINY + ['--data', str(missing), '--json', str(tmp_path / 'x.json')])
    assert rc == 2
    err = capsys.readouterr().err
    assert str(missing) in err and 'no such folder' in err and 'images/' in err
    assert not (tmp_path / 'x.json').exists()


def test_folder_without_masks_is_a_clear_error(tmp_path, capsys):
    (tmp_path / 'd' / 'images').mkdir(parents=True)
    rc = throughput.cli(TINY + ['--data', str(tmp_path / 'd')])
    assert rc == 2
    assert 'masks/' in capsys.readouterr().err


def test_amp_on_cpu_is_refused(capsys):
    rc = throughput.cli(TINY + ['--amp', 'fp16'])
    assert rc == 2
    assert 'CUDA only' in capsys.readouterr().err


def test_bad_numbers_are_refused(capsys):
    with pytest.raises(SystemExit):
        throughput.cli(['--batch-size', '0'])
    assert 'must be >= 1' in capsys.readouterr().err


def test_a_warm_up_shorter_than_the_workers_burst_is_raised_and_said(tmp_path, capsys):
    """--warmup-steps 1 with 2 workers: the timed window would start inside their burst."""
    data = write_folder_dataset(tmp_path / 'd', 3, h=40, w=60)
    out = tmp_path / 'tp.json'
    rc = throughput.cli(TINY + ['--data', str(data), '--steps', '2', '--workers', '2',
                                '--json', str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert '--warmup-steps 1 raised to 2: the 2 loader workers start together' in text, text
    (row,) = json.loads(out.read_text())['rows']
    assert row['warmup_steps'] == 2 and row['warmup_steps_requested'] == 1
    assert row['steps'] == 2 and math.isclose(row['images_per_s'], 2 * 4 / row['seconds'])


def test_warmup_steps_rule():
    assert throughput.warmup_steps(10, 8) == (10, '')
    assert throughput.warmup_steps(1, 1) == (1, '')
    steps, note = throughput.warmup_steps(1, 8)
    assert steps == 8 and 'burst' in note and 'images/s too high' in note
    steps, note = throughput.warmup_steps(0, 0)
    assert steps == 1 and 'one-off costs' in note
