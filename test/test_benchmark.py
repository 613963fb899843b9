# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""The benchmark CLI runs, prints its table and writes JSON rows (no timing asserted)."""

import json
import os
import re
import subprocess
import sys
import time

from eunet_ros.tools import benchmark
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_benchmark_writes_table_and_json(tmp_path, capsys):
    out = tmp_path / 'bench.json'
    rc = benchmark.main(['--device', 'cpu', '--variants', 'fast', '--peers',
                         '--resolutions', '64x48', '96x64', '--iters', '2', '--warmup', '1',
                         '--min-time', '0', '--json', str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert 'eunet-fast' in text and 'engine FPS' in text
    data = json.loads(out.read_text())
    assert [r['resolution'] for r in data['rows']] == ['64x48', '96x64']
    for r in data['rows']:
        assert r['net_ms'] > 0 and r['engine_ms'] > 0 and r['params'] > 0
        assert r['precision'] == 'fp32' and r['device'] == 'cpu'
    assert data['environment']['torch']


def test_bad_resolution_is_refused(capsys):
    import pytest
    with pytest.raises(SystemExit):
        benchmark.main(['--resolutions', '640by480'])
    assert 'WxH' in capsys.readouterr().err


def test_the_default_run_is_the_default_variant_and_seed_is_opt_in():
    from eunet_ros.core.model import DEFAULT_VARIANT
    args = benchmark.get_args_parser().parse_args([])
    assert args.variants == [DEFAULT_VARIANT] and 'seed' not in args.variants
    assert benchmark.get_args_parser().parse_args(['--variants', 'seed', 'fast']).variants == [
        'seed', 'fast']


def test_max_time_bounds_the_whole_run(tmp_path, capsys):
    """Six resolutions that would each time for 60 s (3 s each before) stop within 3 s."""
    out = tmp_path / 'bench.json'
    t0 = time.monotonic()
    rc = benchmark.main(['--device', 'cpu', '--peers', '--backends', 'torch',
                         '--resolutions', '64x48', '80x60', '96x64', '112x84', '128x96',
                         '160x120',
                         '--iters', '100000', '--min-time', '60', '--max-time', '3',
                         '--warmup', '1', '--json', str(out)])
    took = time.monotonic() - t0
    assert rc == 0
    text = capsys.readouterr().out
    # the budget, plus building the model and one warm and one timed call per group
    assert took < 3 + 10, text
    measured = float(re.search(r'# measured in ([\d.]+) s \(--max-time 3 s\)', text).group(1))
    assert measured < 3 + 6, text
    rows = json.loads(out.read_text())['rows']
    assert rows and all(r['net_ms'] > 0 for r in rows)
    assert len(rows) == 6 or 'used up: skipped' in text, text


def test_cuda_without_cuda_is_the_nodes_clean_message():
    """A real process: exit 2 and the engine's message (the node says the same), no traceback."""
    import torch
    from eunet_ros.core.engine import EngineError, resolve_device
    device = 'cuda:99' if torch.cuda.is_available() else 'cuda'
    with pytest.raises(EngineError) as node_says:
        resolve_device(device)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT] + [
        p for p in [os.environ.get('PYTHONPATH')] if p]))
    r = subprocess.run([sys.executable, '-m', 'eunet_ros.benchmark', '--device', device,
                        '--json', ''], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.strip() == f'error: {node_says.value}', r.stderr
    assert 'Traceback' not in r.stdout + r.stderr
