# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""segment_lifecycle_node over real DDS, driven through the lifecycle_msgs services."""

import time

from eunet_ros.ros.ros_util import image_msg
from eunet_ros.ros.segment_lifecycle_node import SegmentLifecycleNode
from eunet_ros.ros.segment_node import StartupError
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
import node_harness as H
import pytest
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

NS = '/lc'
NODE = f'{NS}/segment_node'
INPUT = f'{NS}/cam/image'
MASK = f'{NS}/camera/mask'


@pytest.fixture(scope='module')
def ros():
    r = H.Ros()
    yield r
    r.close()


def transition(ros, tid):
    req = ChangeState.Request()
    req.transition.id = tid
    return ros.call(ChangeState, f'{NODE}/change_state', req).success


def state(ros):
    return ros.call(GetState, f'{NODE}/get_state', GetState.Request()).current_state.label


def quiet_for(ros, pub, frame, got, seconds=1.0):
    """Publish frames for ``seconds``; assert no mask came back."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pub.publish(frame)
        time.sleep(0.05)
    assert got == []


def test_lifecycle_transitions_over_dds(ros):
    engine = H.palette_engine()
    node = ros.add(SegmentLifecycleNode(namespace=NS, context=ros.ctx, engine=engine,
                                        parameter_overrides=[Parameter('camera_topic',
                                                                       value=INPUT)]))
    got, _ = ros.collect(Image, MASK, qos_profile_sensor_data)
    pub = ros.probe.create_publisher(Image, INPUT, qos_profile_sensor_data)
    frame = image_msg(H.bands(48, 96), 'bgr8')

    # unconfigured, then inactive: no subscription, no mask publisher, nothing answered
    assert state(ros) == 'unconfigured'
    assert ros.probe.count_publishers(MASK) == 0 and ros.probe.count_subscribers(INPUT) == 0
    assert transition(ros, Transition.TRANSITION_CONFIGURE)
    assert state(ros) == 'inactive' and node.engine is engine
    assert ros.probe.count_publishers(MASK) == 0 and ros.probe.count_subscribers(INPUT) == 0
    quiet_for(ros, pub, frame, got)

    # active: frames are answered with the known masks
    assert transition(ros, Transition.TRANSITION_ACTIVATE)
    assert state(ros) == 'active' and node.active
    H.publish_until(pub, frame, lambda: got, what='a mask from the active node')
    H.check_bands(H.as_array(got[0]))
    assert got[0].width == 96 and got[0].height == 48

    # deactivate: silent again, the engine stays loaded
    assert transition(ros, Transition.TRANSITION_DEACTIVATE)
    assert state(ros) == 'inactive' and node.engine is engine
    H.wait_for(lambda: ros.probe.count_publishers(MASK) == 0, what='the mask publisher gone')
    time.sleep(0.3)
    got.clear()
    quiet_for(ros, pub, frame, got)

    # activate again answers at once; cleanup unloads; configure + activate work again
    assert transition(ros, Transition.TRANSITION_ACTIVATE)
    H.publish_until(pub, frame, lambda: got, what='a mask after re-activation')
    assert transition(ros, Transition.TRANSITION_DEACTIVATE)
    assert transition(ros, Transition.TRANSITION_CLEANUP)
    assert state(ros) == 'unconfigured' and node.engine is None
    assert transition(ros, Transition.TRANSITION_CONFIGURE)
    assert transition(ros, Transition.TRANSITION_ACTIVATE)
    got.clear()
    H.publish_until(pub, frame, lambda: got, what='a mask after cleanup and configure')
    H.check_bands(H.as_array(got[-1]))


def test_a_bad_checkpoint_fails_configure_and_a_bad_parameter_fails_creation(ros, tmp_path):
    bad = tmp_path / 'broken.pt'
    bad.write_bytes(b'not a checkpoint')
    node = ros.add(SegmentLifecycleNode(
        'bad_ckpt', namespace=NS, context=ros.ctx,
        parameter_overrides=[Parameter('checkpoint', value=str(bad)),
                             Parameter('device', value='cpu')]))
    req = ChangeState.Request()
    req.transition.id = Transition.TRANSITION_CONFIGURE
    assert not ros.call(ChangeState, f'{NS}/bad_ckpt/change_state', req).success
    assert node.engine is None
    label = ros.call(GetState, f'{NS}/bad_ckpt/get_state', GetState.Request())
    assert label.current_state.label == 'unconfigured'
    with pytest.raises(StartupError):
        SegmentLifecycleNode('bad_param', namespace=NS, context=ros.ctx,
                             parameter_overrides=[Parameter('max_batch', value=0)])
