# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
segment_node over real rclpy and DDS, in one process.

Frames are published and masks received as a user would: headers, sizes, class ids,
compressed input, two cameras batched, overlays only while subscribed, the enable
service, bad input that never stops the node, parameters refused with a reason,
the latched class table and /diagnostics. Waits are on conditions, not sleeps.
"""

import json
from pathlib import Path
import re
import threading
import time

import cv2
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from eunet_ros.ros.image_conversion import to_byte_array
from eunet_ros.ros.node_params import ConfigError
from eunet_ros.ros.segment_node import resolve_checkpoint, StartupError
import node_harness as H
import numpy as np
import pytest
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from rclpy.qos import (DurabilityPolicy, qos_profile_sensor_data, QoSProfile,
                       ReliabilityPolicy)
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String
from std_srvs.srv import SetBool


@pytest.fixture(scope='module')
def ros():
    r = H.Ros()
    yield r
    r.close()


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return H.random_checkpoint(tmp_path_factory.mktemp('ckpt') / 'random_fast.pt')


def publisher(ros, msg_type, topic, node_count=1):
    pub = ros.probe.create_publisher(msg_type, topic, qos_profile_sensor_data)
    H.wait_for(lambda: pub.get_subscription_count() >= node_count, what=f'a subscriber on {topic}')
    # The publisher counting the subscriber does not mean the subscriber's side has
    # matched the publisher yet; a best-effort message sent in between is lost. Give
    # discovery a moment (tests that can, also re-publish with H.publish_until).
    time.sleep(0.3)
    return pub


def by_stamp(msgs, sec):
    return [m for m in list(msgs) if m.header.stamp.sec == sec]


def test_masks_keep_the_header_and_size_and_carry_class_ids(ros, checkpoint):
    """The real start-up path: checkpoint parameter, random weights, several encodings."""
    node = ros.segment_node('/basic', checkpoint=str(checkpoint), diagnostics_period=0.2)
    masks, _ = ros.collect(Image, '/basic/camera/mask', qos_profile_sensor_data)
    diags, _ = ros.collect(DiagnosticArray, '/diagnostics', 10)
    pub = publisher(ros, Image, '/basic/camera/image')
    rng = np.random.default_rng(0)
    frames = {1: ('bgr8', (120, 160, 3)), 2: ('rgb8', (100, 200, 3)), 3: ('mono8', (90, 70)),
              4: ('bgra8', (64, 64, 4))}
    for sec, (enc, shape) in frames.items():
        msg = H.image(rng.integers(0, 255, shape, np.uint8), enc, stamp=(sec, 1234),
                      frame_id=f'optical_{sec}')
        H.publish_until(pub, msg, lambda: by_stamp(masks, sec), what=f'the mask of frame {sec}')
    for sec, (enc, shape) in frames.items():
        m = by_stamp(masks, sec)[0]
        assert m.header.stamp.nanosec == 1234 and m.header.frame_id == f'optical_{sec}'
        assert (m.height, m.width) == shape[:2] and m.encoding == 'mono8'
        assert m.step == m.width and len(m.data) == m.height * m.width
        assert H.as_array(m).max() < len(node.engine.class_names)
    # /diagnostics names the camera, device and checkpoint, with rates and latencies.
    # One mask per processed frame; publish_until re-sends a frame whose mask is slow to
    # come (under load), so the node may have processed more than these 4 frames.
    H.wait_for(lambda: any(s.name == 'segment_node: camera camera' and any(
        kv.key == 'frames_processed' and kv.value == str(len(masks)) for kv in s.values)
        for d in list(diags) for s in d.status),
        what='diagnostics counting as processed every frame whose mask arrived')
    status = [s for d in list(diags) for s in d.status if s.name.endswith('camera camera')][-1]
    kv = {k.key: k.value for k in status.values}
    for key in ('input_rate_hz', 'output_rate_hz', 'latency_stamp_p50_ms',
                'latency_stamp_p99_ms', 'latency_arrival_p50_ms', 'latency_arrival_p99_ms',
                'frames_dropped', 'frames_rejected'):
        assert key in kv
    assert kv['device'] == 'cpu' and kv['checkpoint'] == 'random_fast.pt'
    assert float(kv['latency_arrival_p50_ms']) > 0


def test_class_table_is_latched(ros):
    engine = H.palette_engine()
    ros.segment_node('/table', engine=engine)
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)
    # subscribe only after the node published it: transient local delivers it anyway
    got, _ = ros.collect(String, '/table/segment_node/class_table', latched)
    H.wait_for(lambda: got, what='the class table')
    table = json.loads(got[0].data)
    assert [c['name'] for c in table['classes']] == H.CLASSES
    assert [c['id'] for c in table['classes']] == list(range(len(H.CLASSES)))
    assert [tuple(c['color_rgb']) for c in table['classes']] == H.PALETTE
    assert table['groups'] == {'cones': H.CONE_IDS, 'track': [1]}


def test_known_answer_masks_group_masks_and_compressed_input(ros):
    engine = H.palette_engine()
    ros.segment_node('/known', engine=engine, cameras=['raw', 'jpg'],
                     **{'jpg.transport': 'compressed'})
    masks, _ = ros.collect(Image, '/known/raw/mask')
    cones, _ = ros.collect(Image, '/known/raw/cones/mask')
    track, _ = ros.collect(Image, '/known/raw/track/mask')
    jmasks, _ = ros.collect(Image, '/known/jpg/mask')
    raw = publisher(ros, Image, '/known/raw/image')
    comp = publisher(ros, CompressedImage, '/known/jpg/image/compressed')
    node = ros.nodes[-1]
    H.wait_for(lambda: node.count_subscribers('/known/raw/cones/mask') == 1
               and node.count_subscribers('/known/raw/track/mask') == 1,
               what='the group mask subscriptions')
    frame = H.bands(90, 150)
    H.publish_until(raw, H.image(frame, stamp=(5, 0)),
                    lambda: by_stamp(masks, 5) and by_stamp(cones, 5) and by_stamp(track, 5),
                    what='mask and group masks')
    mask = H.as_array(by_stamp(masks, 5)[0])
    H.check_bands(mask)
    assert np.array_equal(H.as_array(by_stamp(cones, 5)[0]),
                          np.isin(mask, H.CONE_IDS).astype(np.uint8) * 255)
    assert np.array_equal(H.as_array(by_stamp(track, 5)[0]), (mask == 1).astype(np.uint8) * 255)
    ok, png = cv2.imencode('.png', frame)
    c = CompressedImage(format='png', data=to_byte_array(png))
    c.header.stamp.sec = 6
    c.header.frame_id = 'jpg_optical'
    H.publish_until(comp, c, lambda: by_stamp(jmasks, 6),
                    what='the mask of the compressed frame')
    m = by_stamp(jmasks, 6)[0]
    assert (m.height, m.width, m.header.frame_id) == (90, 150, 'jpg_optical')
    H.check_bands(H.as_array(m))


def test_two_cameras_share_a_batch_and_replaced_frames_count_as_dropped(ros):
    engine = H.palette_engine()
    node = ros.segment_node('/two', engine=engine, cameras=['front', 'rear'],
                            diagnostics_period=0.1)
    front_masks, _ = ros.collect(Image, '/two/front/mask')
    rear_masks, _ = ros.collect(Image, '/two/rear/mask')
    diags, _ = ros.collect(DiagnosticArray, '/diagnostics', 10)
    front = publisher(ros, Image, '/two/front/image')
    rear = publisher(ros, Image, '/two/rear/image')
    gate = threading.Event()
    engine.gate = gate
    front.publish(H.image(H.bands(60, 90), stamp=(1, 0)))
    H.wait_for(engine.entered.is_set, what='the first batch')       # the engine is busy now
    rear.publish(H.image(H.bands(40, 80), stamp=(1, 0)))
    # one at a time: the subscription's own depth-1 history would otherwise keep only #3
    for sec in (2, 3):                                                # #3 replaces #2
        front.publish(H.image(H.bands(60, 90), stamp=(sec, 0)))
        H.wait_for(lambda: node.camera_stats('front').totals()['received'] == sec,
                   what=f'front frame {sec} to arrive')
    H.wait_for(lambda: node.camera_stats('rear').totals()['received'] == 1, what='rear frame')
    gate.set()
    H.wait_for(lambda: by_stamp(front_masks, 3) and by_stamp(rear_masks, 1), what='masks')
    assert [c['n'] for c in engine.calls[:2]] == [1, 2]             # front #3 + rear #1 together
    assert sorted(engine.calls[1]['sizes']) == [(40, 80), (60, 90)]
    assert not by_stamp(front_masks, 2)
    assert node.camera_stats('front').totals()['dropped'] == 1
    H.check_bands(H.as_array(by_stamp(rear_masks, 1)[0]))
    H.wait_for(lambda: any(s.name.endswith('camera front') and s.level == DiagnosticStatus.WARN
                           and 'dropped 1' in s.message for d in list(diags) for s in d.status),
               what='a WARN diagnostic about the dropped frame')


def test_overlay_is_computed_only_while_subscribed(ros):
    engine = H.palette_engine()
    node = ros.segment_node('/ov', engine=engine, overlay_alpha=0.5)
    masks, _ = ros.collect(Image, '/ov/camera/mask')
    pub = publisher(ros, Image, '/ov/camera/image')
    H.publish_until(pub, H.image(H.bands(60, 90), stamp=(1, 0)), lambda: by_stamp(masks, 1),
                    what='mask 1')
    assert engine.calls[-1]['overlay'] == [False]

    overlays, sub = ros.collect(Image, '/ov/camera/overlay', qos_profile_sensor_data)
    H.wait_for(lambda: node.count_subscribers('/ov/camera/overlay') == 1, what='overlay sub')
    frame = H.bands(60, 90)
    pub.publish(H.image(frame, stamp=(2, 0)))
    H.wait_for(lambda: by_stamp(overlays, 2), what='overlay 2')
    assert engine.calls[-1]['overlay'] == [True]
    ov = by_stamp(overlays, 2)[0]
    assert (ov.encoding, ov.height, ov.width) == ('bgr8', 60, 90)
    img = H.as_array(ov)
    assert np.array_equal(img[:, -5:], frame[:, -5:])             # background: untouched
    blended = np.round(frame[:, :20].astype(float) * 0.5 + np.array(H.PALETTE[2][::-1]) * 0.5)
    assert np.abs(img[:, :20].astype(float) - blended).max() <= 1

    # a runtime change takes effect: no overlay while publish_overlay is false
    res = ros.call(SetParameters, '/ov/segment_node/set_parameters', SetParameters.Request(
        parameters=[Parameter('publish_overlay', value=False).to_parameter_msg()]))
    assert res.results[0].successful
    pub.publish(H.image(frame, stamp=(3, 0)))
    H.wait_for(lambda: by_stamp(masks, 3), what='mask 3')
    assert engine.calls[-1]['overlay'] == [False]
    ros.call(SetParameters, '/ov/segment_node/set_parameters', SetParameters.Request(
        parameters=[Parameter('publish_overlay', value=True).to_parameter_msg()]))
    ros.probe.destroy_subscription(sub)
    H.wait_for(lambda: node.count_subscribers('/ov/camera/overlay') == 0, what='no overlay sub')
    pub.publish(H.image(frame, stamp=(4, 0)))
    H.wait_for(lambda: by_stamp(masks, 4), what='mask 4')
    assert engine.calls[-1]['overlay'] == [False]


def test_enable_service_pauses_and_resumes(ros):
    engine = H.palette_engine()
    node = ros.segment_node('/en', engine=engine)
    masks, _ = ros.collect(Image, '/en/camera/mask')
    pub = publisher(ros, Image, '/en/camera/image')
    res = ros.call(SetBool, '/en/segment_node/enable', SetBool.Request(data=False))
    assert res.success and 'paused' in res.message and not node.enabled
    H.publish_until(pub, H.image(H.bands(30, 60), stamp=(1, 0)),
                    lambda: node.camera_stats('camera').totals()['paused'] >= 1,
                    what='a paused frame')
    res = ros.call(SetBool, '/en/segment_node/enable', SetBool.Request(data=True))
    assert res.success and node.enabled
    pub.publish(H.image(H.bands(30, 60), stamp=(2, 0)))
    H.wait_for(lambda: by_stamp(masks, 2), what='a mask after enabling')
    assert not by_stamp(masks, 1) and len(engine.calls) == 1


def raw_bad_cases():
    good = H.image(H.bands(20, 30))
    cases = {}

    def case(name, **fields):
        m = H.image(H.bands(20, 30))
        for k, v in fields.items():
            setattr(m, k, v)
        cases[name] = m
    case('unknown encoding', encoding='bgr9')
    case('wrong encoding', encoding='mono16')
    case('step mismatch', step=10)
    case('truncated data', data=to_byte_array(np.zeros(len(good.data) - 7, np.uint8)))
    case('zero size', width=0, height=0, step=0, data=to_byte_array(np.zeros(0, np.uint8)))
    case('absurd size', width=200000, height=200000, step=600000)
    return cases


@pytest.mark.parametrize('transport,case', [('raw', c) for c in sorted(raw_bad_cases())]
                         + [('compressed', 'undecodable'), ('compressed', 'empty')])
def test_bad_input_is_rejected_and_the_next_good_frame_is_processed(ros, transport, case):
    engine = H.palette_engine()
    ns = '/bad_' + case.replace(' ', '_')
    node = ros.segment_node(ns, engine=engine, diagnostics_period=0.1,
                            **{'camera.transport': transport})
    masks, _ = ros.collect(Image, f'{ns}/camera/mask')
    diags, _ = ros.collect(DiagnosticArray, '/diagnostics', 10)
    if transport == 'raw':
        pub = publisher(ros, Image, f'{ns}/camera/image')
        bad = raw_bad_cases()[case]
    else:
        pub = publisher(ros, CompressedImage, f'{ns}/camera/image/compressed')
        data = b'\xff\xd8 definitely not a jpeg' if case == 'undecodable' else b''
        bad = CompressedImage(format='jpeg', data=to_byte_array(np.frombuffer(data, np.uint8)))
    stats = node.camera_stats('camera')
    H.publish_until(pub, bad, lambda: stats.totals()['rejected'] >= 1,
                    what=f'the {case} frame rejected')
    assert stats.last_error
    if transport == 'raw':
        good = H.image(H.bands(40, 60), stamp=(9, 0))
    else:
        ok, png = cv2.imencode('.png', H.bands(40, 60))
        good = CompressedImage(format='png', data=to_byte_array(png))
        good.header.stamp.sec = 9
    H.publish_until(pub, good, lambda: by_stamp(masks, 9),
                    what='the good frame after the bad one')
    H.check_bands(H.as_array(by_stamp(masks, 9)[0]))
    # the WARN covers recent rejections only: keep sending bad frames until the
    # /diagnostics subscription (reliable, matched later under load) has seen one
    H.publish_until(pub, bad, lambda: any(s.name.endswith('camera camera') and s.level in (
        DiagnosticStatus.WARN, DiagnosticStatus.ERROR) and 'rejected' in s.message
        and d.header.stamp.sec > 0 for d in list(diags) for s in d.status
        if s.name.startswith('segment_node') and ns_of(s, node)),
        what='a WARN/ERROR diagnostic naming the rejection')


def ns_of(status, node):
    kv = {k.key: k.value for k in status.values}
    return kv.get('topic', '').startswith(node.get_namespace() + '/')


def test_a_silent_camera_turns_warn_naming_its_publishers_and_diagnostics_have_no_nan(ros):
    """A wrong topic or a QoS mismatch is not silent: WARN after no_frames_warning_s."""
    topic = '/silent_cam/image_raw'
    ros.segment_node('/silent', engine=H.palette_engine(), diagnostics_period=0.1,
                     no_frames_warning_s=0.5, camera_topic=topic,
                     **{'qos.reliability': 'reliable'})
    diags, _ = ros.collect(DiagnosticArray, '/diagnostics', 10)

    def latest(cond):
        found = [s for d in list(diags) for s in d.status
                 if s.name.endswith('camera camera') and _kv(s).get('topic') == topic]
        return bool(found) and cond(found[-1], _kv(found[-1]))

    # no publisher at all
    H.wait_for(lambda: latest(lambda s, kv: s.level == DiagnosticStatus.WARN
                              and 'no frames' in s.message and 'no publisher' in s.message
                              and kv['publishers'] == '0'),
               what='WARN: no frames, no publisher')
    # a best-effort camera that a reliable subscription cannot match
    pub = ros.probe.create_publisher(Image, topic, qos_profile_sensor_data)
    H.wait_for(lambda: latest(lambda s, kv: s.level == DiagnosticStatus.WARN
                              and kv['publishers'] == '1' and kv['publishers_matched'] == '0'
                              and kv['publisher_qos'] == 'best_effort x1'
                              and '0 matched' in s.message),
               what='WARN naming the unmatched best-effort publisher')
    ros.probe.destroy_publisher(pub)
    # a reliable camera is matched: frames arrive and the camera is OK again
    pub = ros.probe.create_publisher(Image, topic, 10)
    H.publish_until(pub, H.image(H.bands(30, 60), stamp=(1, 0)),
                    lambda: latest(lambda s, kv: s.level == DiagnosticStatus.OK
                                   and 'Hz in' in s.message and 'publishers' not in kv),
                    what='OK once frames arrive', period=0.05)
    # nothing in any status of the nodes of this module (most never saw a frame) says nan
    texts = [t for d in list(diags) for s in d.status
             for t in [s.message] + [kv.value for kv in s.values]]
    assert texts and not [t for t in texts if re.search(r'\bnan\b', t, re.I)]


def _kv(status):
    return {k.key: k.value for k in status.values}


@pytest.mark.parametrize('name,value,reason', [
    ('overlay_alpha', 1.5, 'out of range'),
    ('max_batch', 0, 'out of range'),
    ('checkpoint', '/other.pt', 'read-only'),
    ('camera.topic', '/elsewhere', 'read-only'),
    ('overlay_alpha', 'opaque', 'type'),
])
def test_invalid_runtime_parameter_is_refused_with_its_reason(ros, name, value, reason):
    ns = f'/param_{name.replace(".", "_")}_{type(value).__name__}'
    node = ros.segment_node(ns, engine=H.palette_engine())
    before = node.get_parameter(name).value
    res = ros.call(SetParameters, f'{ns}/segment_node/set_parameters', SetParameters.Request(
        parameters=[Parameter(name, value=value).to_parameter_msg()]))
    assert not res.results[0].successful
    assert reason in res.results[0].reason.lower(), res.results[0].reason
    assert node.get_parameter(name).value == before


def test_valid_runtime_parameters_take_effect(ros):
    engine = H.palette_engine()
    node = ros.segment_node('/param_ok', engine=engine)
    res = ros.call(SetParameters, '/param_ok/segment_node/set_parameters', SetParameters.Request(
        parameters=[Parameter('overlay_alpha', value=0.25).to_parameter_msg(),
                    Parameter('max_batch', value=1).to_parameter_msg()]))
    assert all(r.successful for r in res.results)
    overlays, _ = ros.collect(Image, '/param_ok/camera/overlay')
    H.wait_for(lambda: node.count_subscribers('/param_ok/camera/overlay') == 1, what='sub')
    pub = publisher(ros, Image, '/param_ok/camera/image')
    H.publish_until(pub, H.image(H.bands(30, 60), stamp=(1, 0)), lambda: by_stamp(overlays, 1),
                    what='an overlay')
    assert engine.calls[-1]['alpha'] == 0.25


@pytest.mark.parametrize('params,param,text', [
    ({'device': 'gpu'}, 'device', 'auto, cpu, cuda or cuda:N'),
    ({'cameras': ['front cam']}, 'cameras', 'letters, digits'),
    ({'group.cones': ['purple_cone']}, 'group.cones', 'purple_cone'),
    ({'input_size': [1, 2]}, 'input_size', '16 <= H, W'),
    ({'overlay_alpha': 1}, 'overlay_alpha', 'double'),
    ({'camera.transport': 'h264'}, 'camera.transport', 'raw, compressed'),
])
def test_invalid_startup_parameter_is_refused_with_its_message(ros, params, param, text):
    with pytest.raises(StartupError) as e:
        ros.segment_node('/startup', engine=H.palette_engine(), **params)
    assert f'"{param}"' in str(e.value) and text in str(e.value)


def test_unusable_checkpoint_or_precision_stops_start_up(ros, checkpoint, tmp_path):
    with pytest.raises(StartupError, match='does not exist'):
        ros.segment_node('/ck1', checkpoint=str(tmp_path / 'missing.pt'))
    with pytest.raises(StartupError, match='fp16'):
        ros.segment_node('/ck2', checkpoint=str(checkpoint), device='cpu', precision='fp16')
    readme = Path(__file__).resolve().parent.parent / 'README.md'
    with pytest.raises(StartupError, match=r'README\.md is a Markdown text file, .*not a torch '
                       r'checkpoint\. Give an eunet_ros checkpoint'):
        ros.segment_node('/ck3', checkpoint=str(readme))
    with pytest.raises(ConfigError, match='no checkpoint given and no packaged model') as e:
        resolve_checkpoint('', lookup=lambda: None)
    assert 'checkpoint:=' in str(e.value)
    assert resolve_checkpoint('', lookup=lambda: '/share/m.pt') == '/share/m.pt'


def test_camera_replay_publishes_stamped_resized_raw_and_compressed_frames(ros, tmp_path):
    from eunet_ros.ros.camera_replay import CameraReplay
    folder = tmp_path / 'seq'
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f'{i}.png'), np.full((60, 80, 3), 50 * (i + 1), np.uint8))
    raw, _ = ros.collect(Image, '/rp/cam/image', qos_profile_sensor_data)
    comp, _ = ros.collect(CompressedImage, '/rp/cam/image/compressed', qos_profile_sensor_data)
    params = {'source': str(folder), 'rate': 50.0, 'loop': True, 'max_frames': 5,
              'topic': '/rp/cam/image', 'frame_id': 'rp_optical', 'width': 40,
              'encoding': 'rgb8', 'publish_compressed': True, 'compressed_format': 'png',
              'wait_for_subscribers': 1}
    node = ros.add(CameraReplay(context=ros.ctx, parameter_overrides=[
        Parameter(k, value=v) for k, v in params.items()]))
    H.wait_for(node.done.done, what='5 frames published')
    assert node.done.result() == 5
    H.wait_for(lambda: len(raw) == 5 and len(comp) == 5, what='5 raw + 5 compressed frames')
    stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in raw]
    assert stamps == sorted(stamps) and len(set(stamps)) == 5
    for i, (m, c) in enumerate(zip(raw, comp)):
        assert (m.width, m.height, m.encoding) == (40, 30, 'rgb8')
        assert m.header.frame_id == 'rp_optical'
        assert int(H.as_array(m)[0, 0, 0]) == 50 * (i % 3 + 1)        # folder order, looped
        assert c.format == 'png' and c.header.stamp == m.header.stamp
        decoded = cv2.imdecode(np.frombuffer(c.data, np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape == (30, 40, 3)
