# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
The end-to-end node benchmark: real processes, real DDS, consistent rows (no timing asserted).

``python -m eunet_ros.benchmark node`` starts segment_node and camera publishers as
processes of their own; these tests run it briefly with tiny frames and check what
a user reads from it: the table, the JSON row appended to an existing result file,
and clear errors for a missing or a broken checkpoint.
"""

import json
import os
import subprocess
import sys

from eunet_ros.tools import bench_node
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(args, timeout=90):
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([ROOT] + [p for p in [env.get('PYTHONPATH')] if p])
    return subprocess.run([sys.executable, '-m', 'eunet_ros.benchmark', 'node'] + args,
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)


def test_two_cameras_end_to_end_rows_are_consistent(tmp_path):
    out = tmp_path / 'results.json'
    earlier = {'model': 'eunet-fast', 'net_ms': 1.0}
    out.write_text(json.dumps({'environment': {}, 'args': {}, 'rows': [earlier]}))
    r = run_cli(['--device', 'cpu', '--cameras', '2', '--rate', '20', '--resolution', '64x48',
                 '--duration', '3', '--warmup', '0.5', '--node-param', 'input_size:=[48, 64]',
                 '--json', str(out), '--log-dir', str(tmp_path / 'logs')])
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'cam0' in r.stdout and 'cam1' in r.stdout and 'dropped %' in r.stdout, r.stdout
    data = json.loads(out.read_text())
    assert data['rows'][0] == earlier, 'the earlier row must be kept'
    row = data['rows'][1]
    assert (row['mode'], row['cameras'], row['resolution'], row['device'], row['precision'],
            row['input_size']) == ('node', 2, '64x48', 'cpu', 'fp32', '64x48')
    assert len(row['per_camera']) == 2
    for e in row['per_camera'] + [row]:
        assert e['sent'] > 0 and 0 < e['received'] <= e['sent']
        assert 0.0 <= e['dropped_pct'] < 100.0
        assert 0 < e['latency_ms_p50'] <= e['latency_ms_p99'] <= e['latency_ms_max']
        assert e['latency_p50_first_quarter_ms'] > 0 and e['latency_p50_last_quarter_ms'] > 0
    assert row['sent'] == sum(e['sent'] for e in row['per_camera'])
    # 3 s at 20 Hz: each publisher sent about 60 frames in the window
    assert all(40 <= e['sent'] <= 61 for e in row['per_camera']), row['per_camera']
    assert row['achieved_hz_per_camera'] > 13
    assert row['node_exit_code'] == 0
    assert (tmp_path / 'logs' / 'segment_node.log').is_file()
    assert data['environment']['rmw_implementation']


def test_missing_checkpoint_is_refused_before_anything_starts(tmp_path, capsys):
    missing = tmp_path / 'nope.pt'
    rc = bench_node.main(['--device', 'cpu', '--checkpoint', str(missing),
                          '--json', str(tmp_path / 'r.json')])
    assert rc == 2
    err = capsys.readouterr().err
    assert str(missing) in err and 'does not exist' in err and '--checkpoint' in err
    assert not (tmp_path / 'r.json').exists()


def test_a_node_that_cannot_start_fails_the_run_with_its_log(tmp_path):
    bad = tmp_path / 'broken.pt'
    bad.write_bytes(b'not a checkpoint')
    r = run_cli(['--device', 'cpu', '--resolution', '64x48', '--duration', '2',
                 '--checkpoint', str(bad), '--json', str(tmp_path / 'r.json')])
    assert r.returncode == 1, r.stdout + r.stderr
    assert 'segment_node exited with status 1' in r.stderr
    assert 'cannot start' in r.stderr and 'broken.pt' in r.stderr, r.stderr
    assert 'Traceback' not in r.stderr
    assert not (tmp_path / 'r.json').exists()


def test_summary_counts_drops_and_latency_per_quarter():
    ms = 1_000_000
    w0, w1 = 1_000 * ms, 2_000 * ms  # a 1 s window
    stamps = np.arange(w0 - 100 * ms, w1 + 100 * ms, 10 * ms)  # 100 Hz, some outside
    inside = stamps[(stamps >= w0) & (stamps < w1)]
    # cam0: every frame, 5 ms in the first half and 9 ms in the second; cam1: every other
    masks0 = [(int(s), int(s + (5 if s < w0 + 500 * ms else 9) * ms)) for s in stamps]
    masks1 = [(int(s), int(s + 7 * ms)) for s in inside[::2]] + [(int(inside[0]), 0)]
    out = bench_node.summarise({'cam0': stamps, 'cam1': stamps},
                               {'cam0': masks0, 'cam1': masks1}, w0, w1, 100.0)
    c0, c1 = out['per_camera']
    assert (c0['sent'], c0['received'], c0['dropped_pct']) == (100, 100, 0.0)
    assert (c1['sent'], c1['received'], c1['dropped_pct']) == (100, 50, 50.0)
    assert (out['sent'], out['received'], out['dropped_pct']) == (200, 150, 25.0)
    assert c0['latency_p50_first_quarter_ms'] == 5.0 and c0['latency_p50_last_quarter_ms'] == 9.0
    assert c0['latency_grows'] and not c1['latency_grows']
    assert c1['latency_ms_max'] == 7.0  # the duplicate mask of a frame counts once
    assert abs(c0['achieved_hz'] - 100.0) < 1e-9 and c0['send_jitter_ms_p99'] < 1e-6
    assert out['mask_hz_per_camera'] == 75.0
