# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""The ROS-free parts of the node: frame slots, statistics, parameters, DDS profile, sources."""

import math
import threading

import cv2
from eunet_ros.ros import dds_profile
from eunet_ros.ros.frame_slots import LatestFrameSlots
from eunet_ros.ros.frame_source import FrameSource, FrameSourceError, resize_to
from eunet_ros.ros.node_params import (camera_params, ConfigError, GLOBAL_PARAMS, group_param,
                                       parse_settings, resolve_groups, runtime_check)
from eunet_ros.ros.stats import CameraStats, LatencyWindow, LogThrottle, percentiles
import numpy as np
import pytest

# ----------------------------------------------------------------------------- slots


def test_newest_frame_wins_and_replacements_are_reported():
    slots = LatestFrameSlots(['front', 'rear'])
    assert slots.put('front', 1) is False
    assert slots.put('front', 2) is True       # 1 was still waiting: dropped
    assert slots.put('front', 3) is True
    assert slots.take(4, timeout=0) == [('front', 3)]
    assert slots.take(4, timeout=0) == []      # never a queue: nothing left


def test_waiting_cameras_come_out_as_one_batch_in_waiting_order():
    slots = LatestFrameSlots(['a', 'b', 'c'])
    slots.put('b', 'b1')
    slots.put('a', 'a1')
    slots.put('c', 'c1')
    slots.put('b', 'b2')   # replacing keeps b's place in line
    assert slots.take(2, timeout=0) == [('b', 'b2'), ('a', 'a1')]
    assert slots.take(2, timeout=0) == [('c', 'c1')]


def test_take_blocks_until_a_frame_comes_and_close_wakes_it():
    slots = LatestFrameSlots(['cam'])
    got = []
    t = threading.Thread(target=lambda: got.append(slots.take(1)))
    t.start()
    slots.put('cam', 'frame')
    t.join(5)
    assert got == [[('cam', 'frame')]]
    t = threading.Thread(target=lambda: got.append(slots.take(1)))
    t.start()
    slots.close()
    t.join(5)
    assert not t.is_alive() and got[-1] == []
    with pytest.raises(KeyError):
        slots.put('other', 1)


def test_clear_returns_what_was_waiting():
    slots = LatestFrameSlots(['a', 'b'])
    slots.put('a', 1)
    slots.put('b', 2)
    assert sorted(slots.clear()) == [('a', 1), ('b', 2)]
    assert slots.pending() == 0

# ----------------------------------------------------------------------------- stats


def test_percentiles_and_latency_window():
    assert percentiles(list(range(1, 101))) == pytest.approx((50.5, 99.01))
    assert all(math.isnan(v) for v in percentiles([]))
    w = LatencyWindow(window_s=10.0)
    for i in range(100):
        w.add(0.001 * (i + 1), now=100.0)
    p50, p99, n = w.summary_ms(now=105.0)
    assert n == 100 and p50 == pytest.approx(50.5) and p99 == pytest.approx(99.01)
    p50, p99, n = w.summary_ms(now=111.0)   # all older than the window
    assert n == 0 and math.isnan(p50)


def test_camera_stats_rates_are_per_period():
    s = CameraStats()
    s.snapshot(now=0.0)
    s.count('received', 30)
    s.count('processed', 10)
    s.count('dropped', 20)
    snap = s.snapshot(now=1.0)
    assert snap['input_rate_hz'] == pytest.approx(30) and snap['output_rate_hz'] == 10
    assert snap['dropped_period'] == 20 and snap['dropped'] == 20
    s.count('received', 5)
    snap = s.snapshot(now=2.0)
    assert snap['received'] == 35 and snap['received_period'] == 5
    assert snap['dropped_period'] == 0


def test_log_throttle_counts_what_it_held_back():
    t = LogThrottle(5.0)
    assert t.allow('a', now=0.0) == 0
    assert t.allow('a', now=1.0) is None
    assert t.allow('b', now=1.0) == 0        # other keys are independent
    assert t.allow('a', now=2.0) is None
    assert t.allow('a', now=6.0) == 2

# ------------------------------------------------------------------------ parameters


def values(**changes):
    v = {s.name: s.default for s in GLOBAL_PARAMS}
    v.update(changes)
    for c in v['cameras']:
        for s in camera_params(c):
            v.setdefault(s.name, s.default)
    for g in v['class_groups']:
        if g:
            v.setdefault(group_param(g).name, group_param(g).default)
    return v


def test_defaults_are_valid():
    s = parse_settings(values())
    assert [c.name for c in s.cameras] == ['camera']
    assert s.cameras[0].input_topic == 'camera/image'
    assert s.input_reliability == 'best_effort' and s.input_depth == 1
    assert s.class_groups == ['cones', 'track'] and s.input_size is None


def test_compressed_transport_and_camera_topic_shortcut():
    v = values(camera_topic='/zed/image')
    v['camera.transport'] = 'compressed'
    s = parse_settings(v)
    assert s.cameras[0].input_topic == '/zed/image/compressed'


@pytest.mark.parametrize('change,param,allowed', [
    ({'device': 'gpu'}, 'device', 'auto, cpu, cuda or cuda:N'),
    ({'precision': 'fp8'}, 'precision', 'auto, fp32, fp16, bf16'),
    ({'input_size': [8, 8]}, 'input_size', '16 <= H, W <= 8192'),
    ({'cameras': ['front', 'front']}, 'cameras', 'unique'),
    ({'cameras': ['front cam']}, 'cameras', 'letters, digits'),
    ({'cameras': ['device']}, 'cameras', 'reserved'),
    ({'cameras': ['']}, 'cameras', 'at least one camera'),
    ({'cameras': ['a', 'b'], 'camera_topic': '/x'}, 'camera_topic', 'one-camera shortcut'),
    ({'max_batch': 0}, 'max_batch', '1 .. 64'),
    ({'overlay_alpha': 1.5}, 'overlay_alpha', '0.0 .. 1.0'),
    ({'qos.reliability': 'sometimes'}, 'qos.reliability', 'best_effort, reliable'),
    ({'camera.transport': 'h264'}, 'camera.transport', 'raw, compressed'),
    ({'class_groups': ['cones', 'lanes']}, 'group.lanes', 'lists no classes'),
])
def test_invalid_values_name_the_parameter_and_the_allowed_values(change, param, allowed):
    with pytest.raises(ConfigError) as e:
        parse_settings(values(**change))
    assert e.value.param == param
    assert f'"{param}"' in str(e.value) and allowed in str(e.value)


def test_groups_resolve_to_class_ids_or_name_the_unknown_class():
    classes = ['background', 'track', 'blue_cone', 'yellow_cone', 'orange_cone',
               'large_orange_cone', 'unknown_cone']
    ids = resolve_groups({'cones': ['blue_cone', 'yellow_cone'], 'track': ['track']}, classes)
    assert ids == {'cones': [2, 3], 'track': [1]}
    with pytest.raises(ConfigError, match='purple_cone') as e:
        resolve_groups({'cones': ['purple_cone']}, classes)
    assert e.value.param == 'group.cones'


def test_runtime_changes_take_effect_or_are_refused_with_a_reason():
    assert runtime_check('overlay_alpha', 0.3) is None
    assert runtime_check('max_batch', 2) is None
    assert runtime_check('publish_overlay', False) is None
    assert 'out of range' in runtime_check('overlay_alpha', 2.0)
    assert 'restart the node' in runtime_check('checkpoint', '/other.pt')
    assert 'restart the node' in runtime_check('camera.topic', '/x')

# ----------------------------------------------------------------------- DDS profile


def test_profile_is_set_only_when_the_user_has_not_chosen(tmp_path):
    prof = tmp_path / 'p.xml'
    prof.write_text('<dds/>')
    env = {}
    applied, what = dds_profile.apply_large_message_profile(env, cwd=tmp_path, path=prof)
    assert applied and env == {'FASTDDS_DEFAULT_PROFILES_FILE': str(prof)}
    env = {'ROS_DISTRO': 'humble'}   # Fast DDS 2.x reads the older variable
    assert dds_profile.apply_large_message_profile(env, cwd=tmp_path, path=prof)[0]
    assert env['FASTRTPS_DEFAULT_PROFILES_FILE'] == str(prof)
    for env in ({'RMW_IMPLEMENTATION': 'rmw_cyclonedds_cpp'},
                {'RMW_IMPLEMENTATION': 'rmw_zenoh_cpp'},
                {'FASTDDS_DEFAULT_PROFILES_FILE': '/mine.xml'},
                {'FASTRTPS_DEFAULT_PROFILES_FILE': '/mine.xml'},
                {'FASTDDS_BUILTIN_TRANSPORTS': 'LARGE_DATA'},
                {'EUNET_DDS_PROFILE': 'off'}):
        before = dict(env)
        applied, what = dds_profile.apply_large_message_profile(env, cwd=tmp_path, path=prof)
        assert not applied and env == before, what
    (tmp_path / 'DEFAULT_FASTDDS_PROFILES.xml').write_text('<dds/>')
    env = {'RMW_IMPLEMENTATION': 'rmw_fastrtps_cpp'}
    assert not dds_profile.apply_large_message_profile(env, cwd=tmp_path, path=prof)[0]


def test_shipped_profile_is_found_and_has_a_large_segment():
    p = dds_profile.profile_path()
    assert p is not None and p.name == dds_profile.PROFILE_FILE
    text = p.read_text()
    assert '<segment_size>67108864</segment_size>' in text and 'UDPv4' in text

# ---------------------------------------------------------------------- frame source


def write_images(folder, n, size=(40, 30)):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = np.full((size[1], size[0], 3), i * 20, np.uint8)
        cv2.imwrite(str(folder / f'frame_{i}.png'), img)


def test_folder_in_natural_order_looped_and_resized(tmp_path):
    write_images(tmp_path / 'seq', 12)
    src = FrameSource(str(tmp_path / 'seq'), loop=True, size=(20, 0))
    firsts = [int(src.read()[0, 0, 0]) for _ in range(14)]
    assert firsts == [i * 20 for i in range(12)] + [0, 20]   # 2 before 10, then loops
    assert src.read().shape == (15, 20, 3)                   # width 20, aspect kept
    src = FrameSource(str(tmp_path / 'seq' / 'frame_1*.png'), loop=False)
    assert [int(src.read()[0, 0, 0]) for _ in range(3)] == [20, 200, 220]
    assert src.read() is None


def test_video_source_loops(tmp_path):
    path = str(tmp_path / 'v.avi')
    w = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 30, (32, 24))
    for i in range(3):
        w.write(np.full((24, 32, 3), 60 * i + 30, np.uint8))
    w.release()
    src = FrameSource(path, loop=True)
    vals = [int(src.read().mean()) for _ in range(5)]
    assert [round(v / 10) for v in vals] == [3, 9, 15, 3, 9]
    once = FrameSource(path, loop=False)
    frames = [once.read() for _ in range(4)]
    assert [f is None for f in frames] == [False, False, False, True]


def test_unreadable_sources_are_clear_errors(tmp_path):
    with pytest.raises(FrameSourceError, match='does not exist'):
        FrameSource(str(tmp_path / 'missing.mp4'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FrameSourceError, match='holds no image files'):
        FrameSource(str(tmp_path / 'empty'))
    bad = tmp_path / 'bad.mp4'
    bad.write_bytes(b'not a video at all' * 100)
    with pytest.raises(FrameSourceError, match='cannot open video'):
        FrameSource(str(bad))
    (tmp_path / 'broken').mkdir()
    (tmp_path / 'broken' / 'a.png').write_bytes(b'garbage')
    with pytest.raises(FrameSourceError, match='could be read'):
        FrameSource(str(tmp_path / 'broken')).read()


def test_resize_to_keeps_aspect_when_one_side_is_zero():
    img = np.zeros((480, 640, 3), np.uint8)
    assert resize_to(img, 320, 0).shape == (240, 320, 3)
    assert resize_to(img, 0, 720).shape == (720, 960, 3)
    assert resize_to(img, 0, 0) is img
