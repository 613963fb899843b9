# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
``python -m eunet_ros.bag``: real bags written by rosbags, sqlite3 and MCAP.

The output is read back with rosbags (and with the ``mcap`` reader for MCAP) and
checked against the engine run directly on the same decoded frames.
"""

import os
from pathlib import Path
import random
import re
import signal
import subprocess
import sys
import threading
import time

from bag_helpers import (CAMERA_QOS, image_array, read_bag, Recorded, tiny_checkpoint,
                         write_drive)
import cv2
from eunet_ros.core.engine import SegmentationEngine
from eunet_ros.ros.node_params import DEFAULT_GROUPS
from eunet_ros.tools import bag as bagtool
import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
STORAGES = ('sqlite3', 'mcap')
OUT_TOPICS = {f'/{cam}/{what}' for cam in ('front', 'rear')
              for what in ('mask', 'overlay', 'cones/mask', 'track/mask')}
INPUT_TOPICS = {'/front/image', '/rear/image/compressed', '/chatter'}


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp('ckpt') / 'tiny.pt')


@pytest.fixture(scope='module')
def engine(ckpt):
    return SegmentationEngine(ckpt, device='cpu', backend='torch')


def cli(*args):
    return bagtool.main([str(a) for a in args])


def engine_args(ckpt):
    return ['--checkpoint', ckpt, '--device', 'cpu', '--backend', 'torch', '--quiet']


def expected(engine, rec: Recorded):
    return engine.infer([rec.frame], color_order=rec.order, overlay=True)[0]


def lut_of(engine, group):
    ids = [engine.class_names.index(n) for n in DEFAULT_GROUPS[group]]
    lut = np.zeros(256, np.uint8)
    lut[ids] = 255
    return lut


@pytest.mark.parametrize('storage', STORAGES)
def test_segment_writes_what_the_node_publishes(tmp_path, ckpt, engine, storage):
    recs = write_drive(tmp_path / 'in', storage)
    out = tmp_path / 'out'
    assert cli('segment', tmp_path / 'in', out, '--copy-input', '--overlay', '--batch', 1,
               *engine_args(ckpt)) == 0
    got = read_bag(out)
    assert set(got) == OUT_TOPICS | INPUT_TOPICS
    assert {t: len(v) for t, v in got.items()} == dict.fromkeys(OUT_TOPICS | INPUT_TOPICS, 6)
    # the copies are byte for byte the input, at the recorded times
    src = read_bag(tmp_path / 'in')
    for topic in INPUT_TOPICS:
        assert [(t, raw) for t, _, _, raw in got[topic]] == [(t, raw) for t, _, _, raw in
                                                             src[topic]]
    for cam in ('front', 'rear'):
        mine = [r for r in recs if r.frame_id == cam]
        for what in ('mask', 'overlay', 'cones/mask', 'track/mask'):
            msgs = got[f'/{cam}/{what}']
            assert [m[1] for m in msgs] == ['sensor_msgs/msg/Image'] * 6
            # header copied from the input message (not the bag time), bag time kept
            assert [(t, m.header.stamp.sec, m.header.stamp.nanosec, m.header.frame_id)
                    for t, _, m, _ in msgs] == [(r.t_ns, r.sec, r.nanosec, r.frame_id)
                                                for r in mine]
        for r, (_, _, mask, _), (_, _, ov, _), (_, _, cones, _), (_, _, track, _) in zip(
                mine, got[f'/{cam}/mask'], got[f'/{cam}/overlay'], got[f'/{cam}/cones/mask'],
                got[f'/{cam}/track/mask']):
            want = expected(engine, r)
            assert (mask.encoding, mask.height, mask.width, mask.step) == ('mono8', 48, 64, 64)
            np.testing.assert_array_equal(image_array(mask), want.mask)
            assert (ov.encoding, ov.step) == ('bgr8', 64 * 3)
            np.testing.assert_array_equal(image_array(ov), want.overlay)
            np.testing.assert_array_equal(image_array(cones),
                                          cv2.LUT(want.mask, lut_of(engine, 'cones')))
            np.testing.assert_array_equal(image_array(track),
                                          cv2.LUT(want.mask, lut_of(engine, 'track')))
    meta = yaml.safe_load((out / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert meta['storage_identifier'] == storage
    # the camera's QoS (best effort, depth 1) goes with its outputs
    from rosbags.rosbag2 import Reader
    with Reader(out) as r:
        qos = {c.topic: c.ext.offered_qos_profiles for c in r.connections}
    assert qos['/front/mask'] == [CAMERA_QOS] and qos['/front/image'] == [CAMERA_QOS]
    assert not any(p.name.endswith('.partial') for p in tmp_path.iterdir())


def test_mcap_output_opens_with_the_mcap_reader(tmp_path, ckpt):
    from mcap.reader import make_reader
    write_drive(tmp_path / 'in', 'mcap')
    assert cli('segment', tmp_path / 'in', tmp_path / 'out', *engine_args(ckpt)) == 0
    files = list((tmp_path / 'out').glob('*.mcap'))
    assert len(files) == 1
    counts = {}
    with open(files[0], 'rb') as f:
        reader = make_reader(f)
        for schema, channel, message in reader.iter_messages():
            assert schema.name == 'sensor_msgs/msg/Image' and channel.message_encoding == 'cdr'
            counts[channel.topic] = counts.get(channel.topic, 0) + 1
            assert message.log_time >= 1_700_000_000_000_000_000
    assert counts == dict.fromkeys((t for t in OUT_TOPICS if not t.endswith('overlay')), 6)


def test_batches_across_cameras_agree_with_single_frames(tmp_path, engine):
    recs = write_drive(tmp_path / 'in', 'sqlite3', frames=5)
    rep = bagtool.segment_bag(tmp_path / 'in', tmp_path / 'out', engine, batch=4, quiet=True)
    assert rep.frames == 10 and rep.skipped == {}
    got = read_bag(tmp_path / 'out')
    masks = [image_array(m) for t in ('/front/mask', '/rear/mask') for _, _, m, _ in got[t]]
    want = [expected(engine, r).mask for cam in ('front', 'rear') for r in recs
            if r.frame_id == cam]
    agree = np.mean([(a == b).mean() for a, b in zip(masks, want)])
    assert agree > 0.999


def test_compression_follows_the_input_and_storage_and_qos_can_change(tmp_path, ckpt):
    write_drive(tmp_path / 'in', 'sqlite3', frames=2, compression='message')
    assert cli('segment', tmp_path / 'in', tmp_path / 'same', *engine_args(ckpt)) == 0
    meta = yaml.safe_load((tmp_path / 'same' / 'metadata.yaml').read_text())
    info = meta['rosbag2_bagfile_information']
    assert (info['storage_identifier'], info['compression_mode'].lower()) == ('sqlite3', 'message')
    assert cli('segment', tmp_path / 'in', tmp_path / 'other', '--storage', 'mcap',
               '--compression', 'none', '--topics', '/rear/image/compressed',
               *engine_args(ckpt)) == 0
    info = yaml.safe_load((tmp_path / 'other' / 'metadata.yaml').read_text())[
        'rosbag2_bagfile_information']
    assert info['storage_identifier'] == 'mcap'
    assert info['compression_mode'].lower() in ('', 'none')
    rear = {'/rear/mask', '/rear/cones/mask', '/rear/track/mask'}
    assert set(read_bag(tmp_path / 'other')) == rear
    assert cli('segment', tmp_path / 'in', tmp_path / 'node_qos', '--qos', 'node',
               *engine_args(ckpt)) == 0
    from rosbags.interfaces import QosDurability, QosReliability
    from rosbags.rosbag2 import Reader
    with Reader(tmp_path / 'node_qos') as r:
        qos = {c.topic: c.ext.offered_qos_profiles for c in r.connections}
    assert {(q[0].reliability, q[0].depth, q[0].durability) for q in qos.values()} == {
        (QosReliability.RELIABLE, 1, QosDurability.VOLATILE)}


def test_existing_output_is_kept_unless_overwrite(tmp_path, ckpt, capsys):
    write_drive(tmp_path / 'in', 'sqlite3', frames=2)
    (tmp_path / 'out').mkdir()
    (tmp_path / 'out' / 'keep.txt').write_text('mine')
    assert cli('segment', tmp_path / 'in', tmp_path / 'out', *engine_args(ckpt)) == 1
    assert 'exists; give --overwrite' in capsys.readouterr().err
    assert (tmp_path / 'out' / 'keep.txt').read_text() == 'mine'
    assert cli('segment', tmp_path / 'in', tmp_path / 'out', '--overwrite',
               *engine_args(ckpt)) == 0
    assert not (tmp_path / 'out' / 'keep.txt').exists()
    assert len(read_bag(tmp_path / 'out')['/front/mask']) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ['in', 'out']


def test_unsupported_encoding_is_skipped_counted_and_named(tmp_path, engine, capsys):
    write_drive(tmp_path / 'in', 'mcap', frames=3, extra=('depth',))
    rep = bagtool.segment_bag(tmp_path / 'in', tmp_path / 'out', engine, quiet=True)
    assert rep.frames == 6 and rep.skipped == {'/depth/image': 3}
    err = capsys.readouterr().err
    assert '/depth/image: frame at' in err and "'16UC1' is not supported" in err
    assert 'skipped 3 frame(s) of /depth/image' in err
    got = read_bag(tmp_path / 'out')
    assert len(got['/front/mask']) == 3 and '/depth/mask' not in got


def test_interrupted_segment_leaves_no_bag_and_a_rerun_completes(tmp_path, ckpt):
    # enough frames that the run is still going when the signal comes
    write_drive(tmp_path / 'in', 'sqlite3', frames=300, h=240, w=320)
    out = tmp_path / 'out'
    cmd = [sys.executable, '-m', 'eunet_ros.bag', 'segment', str(tmp_path / 'in'), str(out),
           '--batch', '1', '--checkpoint', str(ckpt), '--device', 'cpu', '--backend', 'torch']
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # SIGINT at its default in the child: a shell that starts jobs in the background (CI
    # runners, nohup) hands SIGINT on as ignored, and Python then installs no Ctrl-C handler
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    chunks = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(
        lambda: proc.stderr.read(64), '')), daemon=True)
    reader.start()
    try:
        # interrupt as Ctrl-C does once the progress bar shows 30 of the 600 frames done
        # and well before the end (a file-size trigger raced the end of a fast run)
        deadline = time.monotonic() + 120
        done = 0
        while time.monotonic() < deadline and proc.poll() is None:
            counts = re.findall(r'(\d+)/600', ''.join(chunks))
            done = int(counts[-1]) if counts else 0
            if done >= 30:
                break
            time.sleep(0.02)
        assert proc.poll() is None and done < 400, f'segment was at {done}/600 frames'
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        reader.join(timeout=10)
        err = ''.join(chunks)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert 'interrupted; no output bag was left behind' in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['in']
    assert cli('segment', tmp_path / 'in', out, '--topics', '/rear/image/compressed',
               *engine_args(ckpt)) == 0
    assert len(read_bag(out)['/rear/mask']) == 300


def _truncate(path: Path, keep: float):
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


@pytest.mark.parametrize('storage,suffix', [('sqlite3', '.db3'), ('mcap', '.mcap')])
@pytest.mark.parametrize('damage', ['truncated', 'garbage'])
def test_corrupt_and_truncated_bags_are_clear_errors(tmp_path, ckpt, capsys, storage, suffix,
                                                     damage):
    write_drive(tmp_path / 'in', storage, frames=20)
    f = next((tmp_path / 'in').glob(f'*{suffix}'))
    if damage == 'truncated':
        _truncate(f, 0.5)
    else:
        # garbage over the container's records, from just past its magic: random bytes in
        # image payloads alone are a valid bag of noisy images (MCAP chunks carry no
        # checksum rosbags verifies), so that would pass or fail by chance
        data = bytearray(f.read_bytes())
        n = len(data)
        data[8:8 + n // 2] = random.Random(7).randbytes(n // 2)
        f.write_bytes(bytes(data))
    rc = cli('segment', tmp_path / 'in', tmp_path / 'out', *engine_args(ckpt))
    err = capsys.readouterr().err
    assert rc == 1, err
    assert str(tmp_path / 'in') in err and 'error:' in err and 'Traceback' not in err
    assert any(w in err for w in ('truncated', 'corrupt', 'not a valid', 'cannot open')), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ['in']


def test_unknown_storage_plugin_empty_bag_and_missing_bag(tmp_path, ckpt, capsys):
    write_drive(tmp_path / 'odd', 'sqlite3', frames=1)
    meta = tmp_path / 'odd' / 'metadata.yaml'
    meta.write_text(meta.read_text().replace('storage_identifier: sqlite3',
                                             'storage_identifier: rosbag_v2x'))
    assert cli('info', tmp_path / 'odd') == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'odd'}: storage plugin 'rosbag_v2x' is not supported" in err

    from rosbags.rosbag2 import Writer
    from bag_helpers import TYPESTORE
    with Writer(tmp_path / 'empty', version=9) as w:
        w.add_connection('/front/image', 'sensor_msgs/msg/Image', typestore=TYPESTORE)
    assert cli('segment', tmp_path / 'empty', tmp_path / 'out', *engine_args(ckpt)) == 1
    assert f"{tmp_path / 'empty'}: the bag is empty" in capsys.readouterr().err
    assert cli('info', tmp_path / 'empty') == 0
    assert 'empty bag' in capsys.readouterr().out

    assert cli('info', tmp_path / 'nothing') == 1
    assert 'no such bag' in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


def test_bad_topics_are_named(tmp_path, ckpt, capsys):
    write_drive(tmp_path / 'in', 'sqlite3', frames=1)
    assert cli('segment', tmp_path / 'in', tmp_path / 'out', '--topics', '/chatter',
               *engine_args(ckpt)) == 1
    assert "topic '/chatter' is std_msgs/msg/String" in capsys.readouterr().err
    assert cli('segment', tmp_path / 'in', tmp_path / 'out', '--topics', '/left/image',
               *engine_args(ckpt)) == 1
    assert "topic '/left/image' is not in the bag" in capsys.readouterr().err


def test_info_lists_topics_and_what_segment_writes(tmp_path, capsys):
    write_drive(tmp_path / 'in', 'mcap', frames=4)
    assert cli('info', tmp_path / 'in') == 0
    out = capsys.readouterr().out
    assert 'storage: mcap' in out and 'messages: 12 in 0.170 s' in out
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.startswith('/')}
    assert '/front/mask, /front/cones/mask, /front/track/mask' in lines['/front/image']
    assert lines['/rear/image/compressed'].split()[1:3] == ['sensor_msgs/msg/CompressedImage',
                                                            '4']
    assert lines['/chatter'].rstrip().endswith('-')
    assert 'segment would process 2 camera(s), 8 frame(s)' in out


def test_camera_namespace():
    assert bagtool.camera_namespace('/front/image') == '/front'
    assert bagtool.camera_namespace('/front/image/compressed') == '/front'
    assert bagtool.camera_namespace('/car/left/image_raw') == '/car/left'
    assert bagtool.camera_namespace('/image') == '/image'


def test_export_pre_label_is_a_folder_dataset(tmp_path, ckpt, engine):
    recs = write_drive(tmp_path / 'in', 'mcap', frames=6)
    conf = [engine.infer([r.frame], color_order=r.order, confidence=True)[0] for r in recs]
    thr = float(np.median(np.concatenate([c.confidence().reshape(-1) for c in conf])))
    out = tmp_path / 'ds'
    assert cli('export', tmp_path / 'in', out, '--stride', 2, '--pre-label',
               '--min-confidence', thr, '--batch', 1, *engine_args(ckpt)) == 0
    chosen = [(r, c) for cam in ('front', 'rear')
              for r, c in [(r, c) for r, c in zip(recs, conf) if r.frame_id == cam][::2]]
    names = sorted(p.name for p in (out / 'images').iterdir())
    assert names == sorted(p.name for p in (out / 'masks').iterdir())
    assert len(names) == 6
    for r, c in chosen:
        stem = f'{r.topic.strip("/").replace("/", "_")}_{r.sec * 10**9 + r.nanosec:019d}'
        img = cv2.imread(str(out / 'images' / f'{stem}.png'), cv2.IMREAD_COLOR)
        np.testing.assert_array_equal(img, r.frame if r.order == 'bgr' else r.frame[:, :, ::-1])
        label = cv2.imread(str(out / 'masks' / f'{stem}.png'), cv2.IMREAD_UNCHANGED)
        want = np.where(c.confidence() < thr, 255, c.mask).astype(np.uint8)
        np.testing.assert_array_equal(label, want)
        assert 0 < (label == 255).mean() < 1
    # the training code reads it as it is
    from training.datasets.folder import FolderSource
    src = FolderSource(out)
    assert len(src) == 6 and list(src.classes) == list(engine.class_names)
    img, mask = src.load(0)
    assert img.shape == (48, 64, 3) and mask.shape == (48, 64)


def test_export_min_gap_and_no_model(tmp_path):
    write_drive(tmp_path / 'in', 'sqlite3', frames=6)
    assert cli('export', tmp_path / 'in', tmp_path / 'ds', '--min-gap', 0.09, '--topics',
               '/front/image', '--quiet') == 0
    stamps = sorted(int(p.stem.rsplit('_', 1)[1]) for p in (tmp_path / 'ds' / 'images').iterdir())
    from bag_helpers import PERIOD, T0
    assert stamps == [T0, T0 + 2 * PERIOD, T0 + 4 * PERIOD]
    assert not (tmp_path / 'ds' / 'masks').exists()


def test_compare_two_checkpoints(tmp_path, ckpt, engine, capsys):
    recs = write_drive(tmp_path / 'in', 'sqlite3', frames=4)
    other = tiny_checkpoint(tmp_path / 'other.pt', seed=7)
    eng_b = SegmentationEngine(other, device='cpu', backend='torch')
    sheet = tmp_path / 'sheet.png'
    assert cli('compare', tmp_path / 'in', '--checkpoints', ckpt, other, '--top', 3,
               '--sheet', sheet, '--batch', 1, '--device', 'cpu', '--backend', 'torch',
               '--quiet') == 0
    out = capsys.readouterr().out
    a = [engine.infer([r.frame], color_order=r.order)[0].mask for r in recs]
    b = [eng_b.infer([r.frame], color_order=r.order)[0].mask for r in recs]
    equal = sum(int((x == y).sum()) for x, y in zip(a, b)) / sum(x.size for x in a)
    total = next(ln for ln in out.splitlines() if ln.startswith('all pixels'))
    assert total.split()[2] == f'{equal:.3f}'
    track = (sum(int(((x == 1) & (y == 1)).sum()) for x, y in zip(a, b))
             / sum(int(((x == 1) | (y == 1)).sum()) for x, y in zip(a, b)))
    row = next(ln for ln in out.splitlines() if ln.split()[:1] == ['track'])
    assert row.split()[1] == f'{track:.3f}'
    worst = max(range(len(recs)), key=lambda i: (a[i] != b[i]).mean())
    first = out.split('largest disagreement:')[1].splitlines()[1]
    assert recs[worst].topic in first and f'{(a[worst] != b[worst]).mean() * 100:5.1f} %' in first
    img = cv2.imread(str(sheet))
    assert img.shape == (3 * (48 + 2), 4 * 64, 3)
    # a model compared with itself agrees everywhere
    assert cli('compare', tmp_path / 'in', '--checkpoints', ckpt, ckpt, '--sheet', '',
               '--device', 'cpu', '--backend', 'torch', '--quiet') == 0
    assert 'all pixels 1.000' in ' '.join(capsys.readouterr().out.split())


def test_module_entry_point_runs_without_rclpy(tmp_path, ckpt):
    """``python -m eunet_ros.bag`` with rclpy and the ROS messages unimportable."""
    write_drive(tmp_path / 'in', 'mcap', frames=1)
    (tmp_path / 'block').mkdir()
    for name in ('rclpy', 'sensor_msgs', 'std_msgs'):
        (tmp_path / 'block' / f'{name}.py').write_text('raise ImportError("blocked")\n')
    env = dict(os.environ, PYTHONPATH=f'{tmp_path / "block"}{os.pathsep}{ROOT}')
    r = subprocess.run([sys.executable, '-m', 'eunet_ros.bag', 'segment', str(tmp_path / 'in'),
                        str(tmp_path / 'out'), *engine_args(ckpt)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert len(read_bag(tmp_path / 'out')['/front/mask']) == 1
