# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""camera_replay plays a bag over real DDS; segment_node on it answers as the bag tool does."""

import time

from bag_helpers import image_array, read_bag, tiny_checkpoint, write_drive
from eunet_ros.core.engine import SegmentationEngine
from eunet_ros.ros.camera_replay import CameraReplay
from eunet_ros.ros.node_params import ConfigError
from eunet_ros.tools import bag as bagtool
import node_harness as H
import numpy as np
import pytest
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)


@pytest.fixture(scope='module')
def ros():
    r = H.Ros()
    yield r
    r.close()


def replay(ros, **params):
    return ros.add(CameraReplay(context=ros.ctx, parameter_overrides=[
        Parameter(k, value=v) for k, v in params.items()]))


def stamp(m):
    return m.header.stamp.sec * 10**9 + m.header.stamp.nanosec


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_replay_keeps_recorded_messages_stamps_and_pace(ros, tmp_path, storage):
    recs = write_drive(tmp_path / 'in', storage, frames=6)
    ns = f'/{storage}'
    raw, _ = ros.collect(Image, '/front/image', RELIABLE)
    comp, _ = ros.collect(CompressedImage, '/rear/image/compressed', RELIABLE)
    t0 = time.monotonic()
    node = replay(ros, source=str(tmp_path / 'in'), loop=False, reliability='reliable',
                  wait_for_subscribers=1)
    H.wait_for(node.done.done, timeout=30, what='the bag played')
    took = time.monotonic() - t0
    assert node.done.result() == 12
    H.wait_for(lambda: len(raw) == 6 and len(comp) == 6, what='6 + 6 frames')
    assert took >= 0.25, f'{ns}: 0.26 s of recording played in {took:.2f} s: not at its pace'
    src = read_bag(tmp_path / 'in')
    front = [r for r in recs if r.frame_id == 'front']
    rear = [r for r in recs if r.frame_id == 'rear']
    assert [stamp(m) for m in raw] == [r.sec * 10**9 + r.nanosec for r in front]
    assert [stamp(m) for m in comp] == [r.sec * 10**9 + r.nanosec for r in rear]
    for m, r in zip(raw, front):
        assert m.encoding == 'rgb8' and m.header.frame_id == 'front'
        np.testing.assert_array_equal(H.as_array(m), r.frame)
    assert [bytes(m.data) for m in comp] == [bytes(msg.data) for _, _, msg, _ in
                                             src['/rear/image/compressed']]
    raw.clear()
    comp.clear()


def test_replay_restamps_and_plays_only_the_topics_asked(ros, tmp_path):
    write_drive(tmp_path / 'in', 'mcap', frames=3)
    got, _ = ros.collect(CompressedImage, '/rear/image/compressed', RELIABLE)
    before = time.time_ns()
    node = replay(ros, source=str(tmp_path / 'in'), loop=False, reliability='reliable',
                  wait_for_subscribers=1, restamp=True, topics='/rear/image/compressed')
    H.wait_for(node.done.done, timeout=30, what='the bag played')
    assert node.done.result() == 3
    H.wait_for(lambda: len(got) == 3, what='3 frames')
    assert all(before <= stamp(m) <= time.time_ns() for m in got)


def test_replay_names_a_missing_topic(ros, tmp_path):
    write_drive(tmp_path / 'in', 'sqlite3', frames=1)
    with pytest.raises(ConfigError) as e:
        replay(ros, source=str(tmp_path / 'in'), topics='/front/image,/left/image')
    assert "'/left/image' is not an image topic of the bag" in str(e.value)
    assert '/front/image, /rear/image/compressed' in str(e.value)


def test_segment_node_on_a_replayed_bag_matches_the_bag_tool(ros, tmp_path):
    """A downstream node cannot tell the bag tool's masks from the live node's."""
    write_drive(tmp_path / 'in', 'mcap', frames=8)
    engine = SegmentationEngine(tiny_checkpoint(tmp_path / 'tiny.pt'), device='cpu',
                                backend='torch')
    bagtool.segment_bag(tmp_path / 'in', tmp_path / 'out', engine, batch=1, quiet=True)
    offline = {(topic, stamp(m)): (m.header.frame_id, image_array(m))
               for topic in ('/front/mask', '/rear/mask')
               for _, _, m, _ in read_bag(tmp_path / 'out')[topic]}
    ros.segment_node('/', engine=engine, cameras=['front', 'rear'],
                     **{'front.topic': '/front/image', 'rear.topic': '/rear/image',
                        'rear.transport': 'compressed', 'max_batch': 1})
    front, _ = ros.collect(Image, '/front/mask', qos_profile_sensor_data)
    rear, _ = ros.collect(Image, '/rear/mask', qos_profile_sensor_data)
    node = replay(ros, source=str(tmp_path / 'in'), loop=False, wait_for_subscribers=1)
    H.wait_for(node.done.done, timeout=30, what='the bag played')
    H.wait_for(lambda: front and rear, timeout=30, what='masks from segment_node')
    time.sleep(0.5)
    for topic, got in (('/front/mask', front), ('/rear/mask', rear)):
        for m in list(got):
            frame_id, want = offline[(topic, stamp(m))]
            assert m.header.frame_id == frame_id and m.encoding == 'mono8'
            np.testing.assert_array_equal(H.as_array(m), want)
