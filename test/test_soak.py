# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
The soak tool: its verdict over hand-made samples, its errors, and one short real soak.

The verdict is a pure function of the per-second samples, so each way a soak can
fail (RSS growth, latency growth, a counter that stops) is checked with samples
built here. The real soak runs segment_node (a tiny random checkpoint) and one
camera publisher over DDS for a few seconds and checks the JSON and the PNG a
user gets; it asserts no timing, since the machine may be busy.
"""

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

from eunet_ros.tools import soak
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def samples(n=40, warmup=10, rss=lambda t: 200.0, lat=lambda t: 30.0, rate=5,
            stall=None, node_stall=None):
    """
    Return ``n`` one-second samples as the tool takes them, for two cameras.

    :param stall: ``(t0, t1)``: cam0's mask count does not move from t0 to t1.
    :param node_stall: the same for the frames the node received from cam1.
    """
    out = []
    masks = {'cam0': 0, 'cam1': 0}
    node = {'cam0': 0, 'cam1': 0}
    for t in range(1, n + 1):
        for c in masks:
            if not (c == 'cam0' and stall and stall[0] < t <= stall[1]):
                masks[c] += rate
            if not (c == 'cam1' and node_stall and node_stall[0] < t <= node_stall[1]):
                node[c] += rate
        p50 = lat(t)
        out.append({'t_s': float(t), 'warmup': t <= warmup, 'rss_mib': rss(t), 'cpu_pct': 50.0,
                    'threads': 20, 'fds': 30, 'latency_ms_p50': p50,
                    'latency_ms_p99': None if p50 is None else 1.5 * p50,
                    'masks': 2 * rate, 'masks_total': sum(masks.values()),
                    'masks_total_by_camera': dict(masks),
                    'node_received_total_by_camera': dict(node), 'node_dropped_total': 0,
                    'node_dropped': 0, 'sent': 2 * rate, 'lost': 0})
    return out


def check(v, name):
    return next(c for c in v['checks'] if c['name'] == name)


def failed(v):
    return [c['name'] for c in v['checks'] if not c['passed']]


# --------------------------------------------------------------------------- the verdict
def test_a_flat_run_passes():
    wobble = [0.0, 0.4, -0.3, 0.2]  # a little noise on every figure
    v = soak.verdict(samples(rss=lambda t: 200.0 + wobble[t % 4],
                             lat=lambda t: 30.0 + wobble[t % 4]), warmup_s=10)
    assert v['passed'], v
    assert failed(v) == []
    assert abs(check(v, 'rss_growth')['growth_pct']) < 1.0
    assert check(v, 'counters_move')['longest_stall_s'] <= 1.0


def test_growth_during_the_warm_up_is_not_counted():
    # RSS and latency climb while the node warms up, then stay flat: that is no leak
    v = soak.verdict(samples(rss=lambda t: 100.0 + 10 * min(t, 10),
                             lat=lambda t: 80.0 if t <= 10 else 30.0), warmup_s=10)
    assert v['passed'], v
    assert check(v, 'rss_growth')['rss_mib_after_warmup'] == 200.0


def test_rss_growth_fails_with_its_figures():
    v = soak.verdict(samples(rss=lambda t: 200.0 + 0.5 * max(0, t - 10)), warmup_s=10)
    assert not v['passed']
    assert failed(v) == ['rss_growth']
    c = check(v, 'rss_growth')
    assert c['rss_mib_after_warmup'] == 201.0 and c['rss_mib_end'] == 214.5
    assert c['growth_pct'] == pytest.approx(6.72, abs=0.01)
    assert 'RSS grew +6.7 %' in c['message'] and 'limit +5 %' in c['message']
    # within a looser limit it passes
    assert soak.verdict(samples(rss=lambda t: 200.0 + 0.5 * max(0, t - 10)), warmup_s=10,
                        max_rss_growth_pct=10.0)['passed']


def test_latency_growth_fails_and_small_growth_passes():
    v = soak.verdict(samples(lat=lambda t: 30.0 + max(0, t - 10)), warmup_s=10)
    assert failed(v) == ['latency_growth']
    c = check(v, 'latency_growth')
    assert c['latency_ms_p50_last_quarter'] > 1.2 * c['latency_ms_p50_first_quarter']
    assert 'latency p50 grew' in c['message'] and 'limit +20 %' in c['message']
    # +10 %: within the limit
    assert soak.verdict(samples(lat=lambda t: 30.0 if t < 25 else 33.0), warmup_s=10)['passed']
    # seconds without a mask do not count as latency
    assert soak.verdict(samples(lat=lambda t: None if t % 3 == 0 else 30.0),
                        warmup_s=10)['passed']


def test_a_mask_counter_that_stops_fails_naming_the_camera():
    v = soak.verdict(samples(stall=(20, 28)), warmup_s=10)
    assert failed(v) == ['counters_move']
    msg = check(v, 'counters_move')['message']
    assert 'masks received from cam0 stopped at 20 s for 8 s' in msg, msg
    assert 'cam1' not in msg
    assert check(v, 'counters_move')['longest_stall_s'] == 8.0
    # a pause of a few seconds (here 3) is allowed
    assert soak.verdict(samples(stall=(20, 23)), warmup_s=10)['passed']


def test_a_node_counter_that_stops_fails_too_even_in_the_warm_up():
    v = soak.verdict(samples(node_stall=(1, 9)), warmup_s=10)
    assert failed(v) == ['counters_move']
    assert 'frames the node received from cam1' in check(v, 'counters_move')['message']


def test_too_few_samples_after_the_warm_up_cannot_pass():
    v = soak.verdict(samples(n=10), warmup_s=10)
    assert not v['passed']
    assert 'cannot be judged' in check(v, 'rss_growth')['message']
    assert 'cannot be judged' in check(v, 'latency_growth')['message']


def test_summary_and_plot_of_hand_made_samples():
    s = samples(rss=lambda t: 200.0 + t)
    summary = soak.summarise_samples(s, 10)
    assert (summary['samples'], summary['samples_judged']) == (40, 30)
    assert summary['rss_mib'] == {'min': 211.0, 'mean': 225.5, 'max': 240.0}
    assert summary['sent'] == 300 and summary['lost_pct'] == 0.0
    png = soak.plot(s, 10, title='hand-made')
    assert png.startswith(PNG_MAGIC) and len(png) > 10_000


def test_proc_sampler_reads_this_process():
    sampler = soak.ProcSampler(os.getpid())
    sum(i * i for i in range(200_000))  # some CPU time to measure
    s = sampler.sample()
    assert s['rss_mib'] > 10 and s['threads'] >= 1 and s['fds'] >= 3
    assert s['cpu_pct'] >= 0


# --------------------------------------------------------------------------- bad input
def test_a_duration_not_longer_than_the_warm_up_is_refused(tmp_path, capsys):
    out = tmp_path / 'soak.json'
    rc = soak.main(['--device', 'cpu', '--duration', '10', '--warmup', '10',
                    '--json', str(out), '--plot', str(tmp_path / 'soak.png')])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('error: --duration 10 s leaves 0 s after --warmup 10 s')
    assert 'give a longer --duration' in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_an_unwritable_output_path_is_refused_before_the_soak(tmp_path, capsys):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    rc = soak.main(['--device', 'cpu', '--duration', '20', '--warmup', '5',
                    '--json', str(tmp_path / 'soak.json'),
                    '--plot', str(blocker / 'soak.png')])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f'error: --plot {blocker / "soak.png"} cannot be written'), err
    assert 'writable folder' in err
    assert not (tmp_path / 'soak.json').exists()


# --------------------------------------------------------------------------- real soaks
def soak_cli(args):
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([ROOT] + [p for p in [env.get('PYTHONPATH')] if p])
    return subprocess.Popen([sys.executable, '-m', 'eunet_ros.tools.soak', '--device', 'cpu']
                            + args, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope='module')
def tiny_checkpoint(tmp_path_factory):
    from node_harness import random_checkpoint
    return random_checkpoint(tmp_path_factory.mktemp('ckpt') / 'tiny.pt')


def test_a_short_real_soak_writes_samples_and_a_plot(tmp_path, tiny_checkpoint):
    out, png = tmp_path / 'out' / 'soak.json', tmp_path / 'out' / 'soak.png'
    p = soak_cli(['--checkpoint', str(tiny_checkpoint), '--cameras', '1', '--rate', '5',
                  '--resolution', '160x120', '--duration', '12', '--warmup', '3',
                  '--json', str(out), '--plot', str(png)])
    stdout, stderr = p.communicate(timeout=240)
    assert p.returncode in (0, 1), stdout + stderr  # 1: a check failed on a busy machine
    doc = json.loads(out.read_text())
    assert doc['verdict']['passed'] == (p.returncode == 0), stdout + stderr
    assert 'verdict: ' in stdout and 'RSS MiB' in stdout
    s = doc['samples']
    assert 11 <= len(s) <= 13
    ts = [x['t_s'] for x in s]
    assert ts == sorted(ts) and all(0.5 < b - a < 2.5 for a, b in zip(ts, ts[1:])), ts
    assert [x['warmup'] for x in s] == [t <= 3 for t in ts]
    for x in s:
        assert x['rss_mib'] > 10 and x['threads'] >= 2 and x['fds'] >= 3
        assert x['cpu_pct'] >= 0
        assert set(x) >= {'latency_ms_p50', 'latency_ms_p99', 'masks', 'node_dropped', 'sent',
                          'lost', 'masks_total_by_camera'}
    with_masks = [x for x in s if x['latency_ms_p50'] is not None]
    assert len(with_masks) >= len(s) // 2, s
    assert all(0 < x['latency_ms_p50'] <= x['latency_ms_p99'] for x in with_masks)
    assert s[-1]['masks_total'] > s[0]['masks_total']
    assert sum(x['sent'] for x in s) > 20
    assert {c['name'] for c in doc['verdict']['checks']} == {'rss_growth', 'latency_growth',
                                                             'counters_move'}
    assert doc['summary']['node_exit_code'] == 0 and doc['summary']['samples'] == len(s)
    data = png.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    assert not [f for f in out.parent.iterdir() if f.name.startswith('.')], 'temporary files left'


def test_a_checkpoint_the_node_cannot_load_is_a_clear_error(tmp_path):
    bad = tmp_path / 'broken.pt'
    bad.write_bytes(b'not a checkpoint')
    out = tmp_path / 'soak.json'
    p = soak_cli(['--checkpoint', str(bad), '--resolution', '160x120', '--duration', '10',
                  '--warmup', '2', '--json', str(out), '--plot', str(tmp_path / 'soak.png')])
    stdout, stderr = p.communicate(timeout=180)
    assert p.returncode == 2, stdout + stderr
    first = stderr.splitlines()[0]
    assert first.startswith('error: segment_node exited with status 1 before its first mask, '
                            f'with checkpoint {bad}'), stderr
    assert 'Traceback (most recent call last)' not in stderr.splitlines()[0]
    assert not out.exists() and not (tmp_path / 'soak.png').exists()


def _children(pid):
    """Return the pids of the children of ``pid`` (from /proc)."""
    out = []
    for task in Path(f'/proc/{pid}/task').iterdir():
        out += [int(c) for c in (task / 'children').read_text().split()]
    return out


def test_the_node_dying_mid_soak_is_an_error_and_writes_nothing(tmp_path, tiny_checkpoint):
    out = tmp_path / 'soak.json'
    p = soak_cli(['--checkpoint', str(tiny_checkpoint), '--rate', '5', '--resolution',
                  '160x120', '--duration', '60', '--warmup', '2', '--json', str(out),
                  '--plot', str(tmp_path / 'soak.png')])
    try:
        line = p.stdout.readline()  # '# starting ...'
        while line and 'ready after' not in line:
            line = p.stdout.readline()
        assert 'ready after' in line, p.stderr.read()
        time.sleep(2.0)
        node = [c for c in _children(p.pid)
                if b'segment_node' in Path(f'/proc/{c}/cmdline').read_bytes()]
        assert len(node) == 1, node
        os.kill(node[0], signal.SIGKILL)
        stdout, stderr = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 2, stdout + stderr
    first = stderr.splitlines()[0]
    assert first.startswith('error: segment_node died ') and 'exit status -9' in first, stderr
    assert 'nothing was written' in first
    assert not out.exists() and not (tmp_path / 'soak.png').exists()
