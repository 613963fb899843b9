# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
segment_node's cones over real rclpy and DDS: <camera>/cones, cone_markers, CameraInfo.

A frame rendered by ``training.synthetic`` with its scene JSON is the known scene.
The image published is its ground-truth mask in the class colours and the engine
is a real :class:`SegmentationEngine` over the palette network at the frame's own
size, so the node's mask is the true mask and the cone positions it publishes can
be checked against the JSON's true cone positions: what is tested is everything
after the network (cone finding, CameraInfo, pose, the message).
"""

import math
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from eunet_ros.core.checkpoint import Checkpoint
from eunet_ros.core.cones import CONE_DTYPE
from eunet_ros.core.engine import SegmentationEngine
from eunet_ros.core.model import config_for_variant
from eunet_ros.ros.cone_msgs import cloud_to_array, MarkerArray, MARKERS_NOTE
from eunet_ros.ros.segment_node import StartupError
import node_harness as H
import numpy as np
import pytest
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from training.synthetic import render_sample
from training_helpers import PaletteModel

W, H_ = 640, 360


@pytest.fixture(scope='module')
def ros():
    r = H.Ros()
    yield r
    r.close()


@pytest.fixture(scope='module')
def scene():
    """Return a 640x360 frame with four or more countable cones within 15 m, and its JSON."""
    for index in range(20):
        _, mask, _, js = render_sample(3, index, W, H_, truth=True)
        near = [c for c in js['cones'] if not c['ignored'] and c['distance_m'] < 15
                and c['bbox'][3] < H_]
        if len(near) >= 4:
            palette = np.array(H.PALETTE, np.uint8)
            rgb = np.zeros((H_, W, 3), np.uint8)
            ok = mask < len(palette)
            rgb[ok] = palette[mask[ok]]
            return rgb[:, :, ::-1].copy(), js, near
    raise AssertionError('no scene with four near cones in 20 samples')


def engine():
    """Return a palette engine whose input is the frame's own size: the mask is the true mask."""
    ckpt = Checkpoint(config=config_for_variant('fast', num_classes=len(H.CLASSES)),
                      state_dict={}, class_names=H.CLASSES, palette=H.PALETTE,
                      mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), color_order='rgb',
                      input_size=(H_, W), variant='palette-test')
    return SegmentationEngine(ckpt, device='cpu', model=PaletteModel(H.PALETTE), warmup=False,
                              backend='torch')


def pose_params(js, camera='camera'):
    pose = js['camera']['pose_in_base']
    return {f'{camera}.pose.{k}': float(pose[k]) for k in ('x', 'y', 'z', 'roll', 'pitch',
                                                           'yaw')}


def camera_info(js, **change):
    cam = js['camera']
    m = CameraInfo(width=js['width'], height=js['height'],
                   distortion_model=cam['distortion_model'])
    m.k = [float(v) for v in np.ravel(cam['K'])]
    m.d = [float(v) for v in cam['D']]
    m.header.frame_id = 'camera_optical'
    for k, v in change.items():
        setattr(m, k, v)
    return m


def latest_status(diags, ns):
    """Return the newest camera status of the node in namespace ``ns`` (by its topic)."""
    found = [s for d in list(diags) for s in d.status if s.name.endswith(': camera camera')
             and kv(s).get('topic') == f'/{ns}/camera/image']
    return found[-1] if found else None


def kv(status):
    return {k.key: k.value for k in status.values}


def start(ros, ns, js, **params):
    node = ros.segment_node(f'/{ns}', engine=engine(), diagnostics_period=0.2,
                            class_groups=[''], **params)
    clouds, _ = ros.collect(PointCloud2, f'/{ns}/camera/cones', 10)
    pub = ros.probe.create_publisher(Image, f'/{ns}/camera/image', qos_profile_sensor_data)
    H.wait_for(lambda: pub.get_subscription_count() >= 1, what='the image subscription')
    return node, clouds, pub


def with_stamp(clouds, sec):
    return [c for c in list(clouds) if c.header.stamp.sec == sec]


def check_against_truth(points, near):
    """Every near true cone has a published cone of its class within 3 % of its range."""
    placed = points[np.isfinite(points['x'])]
    for t in near:
        same = placed[placed['class_id'] == t['class_id']]
        d = np.hypot(same['x'] - t['base_xyz'][0], same['y'] - t['base_xyz'][1])
        assert len(d) and d.min() < 0.03 * t['distance_m'] + 0.05, (t, d)
        best = same[int(np.argmin(d))]
        assert best['range'] == pytest.approx(t['distance_m'], rel=0.05)
        assert best['confidence'] > 0.9


def test_cones_from_camera_info_match_the_known_scene(ros, scene):
    if MarkerArray is None:
        pytest.skip(MARKERS_NOTE)
    from visualization_msgs.msg import Marker
    frame, js, near = scene
    ns = 'cones_info'
    _, clouds, pub = start(ros, ns, js, **pose_params(js))
    markers, _ = ros.collect(MarkerArray, f'/{ns}/camera/cone_markers', 10)
    info_pub = ros.probe.create_publisher(CameraInfo, f'/{ns}/camera/camera_info', 10)
    node = ros.nodes[-1]
    H.wait_for(lambda: node.count_subscribers(f'/{ns}/camera/cone_markers') >= 1,
               what='the marker subscription')

    def placed():
        info_pub.publish(camera_info(js))
        got = with_stamp(clouds, 7)
        return got and np.isfinite(cloud_to_array(got[-1])['x']).any() and list(markers)

    H.publish_until(pub, H.image(frame, stamp=(7, 500)), placed, timeout=30,
                    what='cones with positions')
    msg = with_stamp(clouds, 7)[-1]
    assert msg.header.frame_id == 'base_link' and msg.header.stamp.nanosec == 500
    assert [f.name for f in msg.fields] == list(CONE_DTYPE.names)
    assert msg.point_step == 32 and msg.height == 1 and msg.row_step == 32 * msg.width
    points = cloud_to_array(msg)
    assert np.all((points['u'] >= 0) & (points['u'] < W) & (points['v'] > 0)
                  & (points['v'] < H_))
    check_against_truth(points, near)
    # the same bytes read with the package's own dtype (what a script without the
    # field list would do)
    assert np.array_equal(np.frombuffer(bytes(msg.data), CONE_DTYPE)['u'], points['u'])
    # markers: a DELETEALL, then one cylinder per placed cone, in base_link
    last = list(markers)[-1]
    assert last.markers[0].action == Marker.DELETEALL
    cyl = last.markers[1:]
    assert len(cyl) == int(np.isfinite(points['x']).sum())
    assert all(m.type == Marker.CYLINDER and m.header.frame_id == 'base_link' for m in cyl)
    blue = [m for m in cyl if m.color.b > 0.9 and m.color.r < 0.2]
    assert blue or not (points['class_id'] == 2).any()


def test_without_intrinsics_cones_are_pixel_only_and_diagnostics_say_why(ros, scene):
    frame, js, near = scene
    ns = 'cones_none'
    diags, _ = ros.collect(DiagnosticArray, '/diagnostics', 50)
    _, clouds, pub = start(ros, ns, js, **pose_params(js))
    H.publish_until(pub, H.image(frame, stamp=(3, 0)), lambda: with_stamp(clouds, 3),
                    what='the cone cloud')
    points = cloud_to_array(with_stamp(clouds, 3)[-1])
    assert len(points) >= len(near)
    assert np.all(np.isnan(points['x'])) and np.all(np.isnan(points['range']))
    assert np.all(np.isfinite(points['u'])) and np.all(points['confidence'] > 0.9)
    # missing intrinsics are no fault: the status stays OK while frames flow, and says why

    def said_why():
        return [s for d in list(diags) for s in d.status
                if kv(s).get('topic') == f'/{ns}/camera/image' and s.level == DiagnosticStatus.OK
                and 'no CameraInfo on' in kv(s).get('cone_positions', '')
                and 'cones: no positions' in s.message]

    H.publish_until(pub, H.image(frame, stamp=(3, 0)), said_why, timeout=30, period=0.1,
                    what='an OK status that says why positions are missing')
    s = said_why()[-1]
    assert kv(s)['cones_placed_last_frame'] == '0'
    assert int(kv(s)['cones_last_frame']) == len(points)


@pytest.mark.parametrize('case,change,words', [
    ('zero_focal', {'k': [0.0] * 9}, 'focal length must be > 0'),
    ('nan', {'d': [float('nan'), 0.0, 0.0, 0.0, 0.0]}, 'non-finite'),
    ('wrong_size', {'width': 1280, 'height': 720}, 'for 1280x720 images but the image is 640x360'),
])
def test_bad_camera_info_keeps_the_node_up_with_pixel_cones_then_recovers(ros, scene, case,
                                                                          change, words):
    frame, js, near = scene
    ns = f'cones_bad_{case}'
    diags, _ = ros.collect(DiagnosticArray, '/diagnostics', 50)
    _, clouds, pub = start(ros, ns, js, **pose_params(js))
    info_pub = ros.probe.create_publisher(CameraInfo, f'/{ns}/camera/camera_info', 10)
    bad = camera_info(js, **change)
    if case == 'wrong_size':   # a consistent calibration, for other images
        bad.k = [2 * v for v in bad.k[:6]] + [0.0, 0.0, 1.0]

    def warned():
        info_pub.publish(bad)
        s = latest_status(diags, ns)
        return (s is not None and s.level == DiagnosticStatus.WARN and words in s.message
                and with_stamp(clouds, 4))

    H.publish_until(pub, H.image(frame, stamp=(4, 0)), warned, timeout=30,
                    what=f'WARN naming the bad CameraInfo ({words})')
    points = cloud_to_array(with_stamp(clouds, 4)[-1])
    assert len(points) >= len(near) and np.all(np.isnan(points['x']))
    # the node is alive: a good CameraInfo gives positions on the next frame
    info_pub.publish(camera_info(js))

    def good():
        info_pub.publish(camera_info(js))
        got = with_stamp(clouds, 5)
        return got and np.isfinite(cloud_to_array(got[-1])['x']).any()

    H.publish_until(pub, H.image(frame, stamp=(5, 0)), good, timeout=30,
                    what='positions once a good CameraInfo arrives')
    check_against_truth(cloud_to_array(with_stamp(clouds, 5)[-1]), near)


def test_calibration_file_is_the_fallback_and_an_empty_frame_gives_an_empty_cloud(
        ros, scene, tmp_path):
    frame, js, near = scene
    cam = js['camera']
    f = tmp_path / 'front.yaml'
    k = [float(v) for v in np.ravel(cam['K'])]
    d = [float(v) for v in cam['D']]
    f.write_text(f'image_width: {W}\nimage_height: {H_}\ncamera_name: front\n'
                 f'camera_matrix: {{rows: 3, cols: 3, data: {k}}}\n'
                 f'distortion_model: {cam["distortion_model"]}\n'
                 f'distortion_coefficients: {{rows: 1, cols: {len(d)}, data: {d}}}\n')
    ns = 'cones_file'
    _, clouds, pub = start(ros, ns, js, **pose_params(js),
                           **{'camera.camera_info_url': f'file://{f}'})
    H.publish_until(pub, H.image(frame, stamp=(6, 0)), lambda: with_stamp(clouds, 6),
                    what='the cone cloud')
    check_against_truth(cloud_to_array(with_stamp(clouds, 6)[-1]), near)
    empty = np.zeros((H_, W, 3), np.uint8)
    H.publish_until(pub, H.image(empty, stamp=(8, 0)), lambda: with_stamp(clouds, 8),
                    what='the empty cloud')
    msg = with_stamp(clouds, 8)[-1]
    assert msg.width == 0 and len(msg.data) == 0 and len(msg.fields) == 8


def test_a_camera_pitched_up_places_no_cone_above_the_horizon(ros, scene):
    """The same frame from a camera pitched 0.5 rad up: every base ray is above the horizon."""
    frame, js, near = scene
    ns = 'cones_up'
    params = pose_params(js)
    params['camera.pose.pitch'] = -0.5
    K = [float(v) for v in np.ravel(js['camera']['K'])]
    _, clouds, pub = start(ros, ns, js, **params, **{
        'camera.K': K, 'camera.D': [float(v) for v in js['camera']['D']] or [0.0],
        'camera.distortion_model': js['camera']['distortion_model']})
    H.publish_until(pub, H.image(frame, stamp=(9, 0)), lambda: with_stamp(clouds, 9),
                    what='the cone cloud')
    points = cloud_to_array(with_stamp(clouds, 9)[-1])
    horizon = K[5] + K[4] * math.tan(0.5)       # ~ 360 px: below the image's last row
    assert horizon > H_
    assert len(points) >= len(near) and np.all(np.isnan(points['x']))


def test_bad_inline_intrinsics_stop_start_up_with_the_parameter(ros):
    with pytest.raises(StartupError, match='camera.K.*focal length'):
        ros.segment_node('/cones_k', engine=engine(),
                         **{'camera.K': [0.0, 0.0, 320.0, 0.0, 1.0, 180.0, 0.0, 0.0, 1.0]})


def test_publish_cones_can_be_turned_off_at_run_time(ros, scene):
    frame, js, _ = scene
    ns = 'cones_off'
    node, clouds, pub = start(ros, ns, js)
    H.publish_until(pub, H.image(frame, stamp=(10, 0)), lambda: with_stamp(clouds, 10),
                    what='the cone cloud')
    assert node.set_parameters([Parameter('publish_cones', value=False)])[0].successful
    masks, _ = ros.collect(Image, f'/{ns}/camera/mask', 10)
    H.publish_until(pub, H.image(frame, stamp=(11, 0)),
                    lambda: [m for m in list(masks) if m.header.stamp.sec == 11],
                    what='the mask')
    time.sleep(0.3)
    assert not with_stamp(clouds, 11)
