# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
``make demo`` (scripts/demo.py) as a real process: small drives, the real install space.

A run removes the previous run's results before it starts, so a failed run never
leaves them looking like its own, and says in FAILED.txt why it failed; a warm-up
streams frames through the node before recording, and only recorded frames count.
"""

import importlib.util
import json
import os
from pathlib import Path
import subprocess
import sys

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
WS = ROOT / '.ws'


def demo_module():
    spec = importlib.util.spec_from_file_location('eunet_demo', ROOT / 'scripts' / 'demo.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_demo(tmp_path, *extra, ws=WS, timeout=300):
    """Run scripts/demo.py on a 64x48 drive it finds in its cache; return the process."""
    args = ['--out', str(tmp_path / 'out'), '--cache', str(tmp_path / 'cache'),
            '--width', '64', '--height', '48', '--fps', '10', '--drive-seconds', '1',
            '--ws', str(ws)] + list(extra)
    demo = demo_module()
    video = demo.drive_video(demo.get_args_parser().parse_args(args))
    if not video.exists():  # stands in for the render of step 1 (training.synthetic)
        video.parent.mkdir(parents=True, exist_ok=True)
        vw = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'mp4v'), 10, (64, 48))
        for i in range(10):
            frame = np.zeros((48, 64, 3), np.uint8)
            frame[:, 4 * i:4 * i + 12] = (255, 80, 30)
            vw.write(frame)
        vw.release()
    return subprocess.run([sys.executable, str(ROOT / 'scripts' / 'demo.py')] + args,
                          cwd=ROOT, env=dict(os.environ, PYTHONUNBUFFERED='1'),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)


def stale_results(out):
    out.mkdir(parents=True)
    (out / 'summary.json').write_text('{"frames_sent": 600, "from": "yesterday"}')
    (out / 'contact_sheet.png').write_bytes(b'yesterday')
    (out / 'logs').mkdir()
    (out / 'logs' / 'segment_node.log').write_text('yesterday')
    (out / 'notes.txt').write_text('mine')  # not the demo's: kept


def test_a_failed_demo_leaves_no_previous_results_and_says_why(tmp_path):
    out = tmp_path / 'out'
    stale_results(out)
    r = run_demo(tmp_path, ws=tmp_path / 'not_built')
    assert r.returncode == 1, r.stdout
    assert 'build first' in r.stdout and 'Traceback' not in r.stdout, r.stdout
    assert sorted(p.name for p in out.iterdir()) == ['FAILED.txt', 'notes.txt']
    failed = (out / 'FAILED.txt').read_text()
    assert 'make demo failed at' in failed and 'build first' in failed


@pytest.mark.skipif(not (WS / 'install' / 'local_setup.bash').exists(),
                    reason='no colcon install space in .ws/install (make build)')
def test_the_demo_warms_up_and_counts_only_the_recorded_frames(tmp_path):
    out = tmp_path / 'out'
    stale_results(out)
    r = run_demo(tmp_path, '--duration', '2', '--warmup', '1')
    assert r.returncode == 0, r.stdout
    assert 'warming up: 10 frames (1 s) through the node, not recorded' in r.stdout, r.stdout
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['frames_sent'] == 20 and summary['warmup_seconds'] == 1.0
    # the 10 warm-up masks came before recording started: never counted
    assert 0 < summary['frames_received'] <= summary['frames_sent'], summary
    assert 'published 10 frames' in (out / 'logs' / 'camera_replay_warmup.log').read_text()
    assert (out / 'logs' / 'segment_node.log').read_text() != 'yesterday'
    assert (out / 'contact_sheet.png').read_bytes()[:4] == b'\x89PNG'
    assert not (out / 'FAILED.txt').exists() and (out / 'notes.txt').exists()
