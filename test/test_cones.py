# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Cones as objects without ROS: masks to cones, pixels to the ground, and the scoring CLI.

Masks are drawn with known cones; the geometry is checked against OpenCV's own
projection for both distortion models and against scenes rendered for real by
``training.synthetic`` (their scene JSON gives every cone's true ground position).
"""

import json
import math

import cv2
from eunet_ros.core.cones import (cone_class_ids, CONE_DTYPE, cones, cones_to_array,
                                  extract_cones, locate_cones)
from eunet_ros.core.engine import max_probability, Segmentation
from eunet_ros.core.ground import (CameraPose, check_intrinsics, ground_points,
                                   IntrinsicsError, load_calibration)
import numpy as np
import pytest
from training import evaluate_cones
from training.synthetic import render_sample, write_dataset

NAMES = ['background', 'track', 'blue_cone', 'yellow_cone', 'orange_cone',
         'large_orange_cone', 'unknown_cone']
BLUE, YELLOW, ORANGE, LARGE, UNKNOWN = 2, 3, 4, 5, 6


def cone(mask, cls, u, v_base, h, aspect=0.7):
    """Draw a cone silhouette (triangle) standing at (u, v_base), ``h`` rows high."""
    half = aspect * h / 2
    pts = np.array([[u - half, v_base], [u + half, v_base], [u, v_base - h + 1]])
    cv2.fillConvexPoly(mask, np.round(pts).astype(np.int32), cls)


def test_cone_classes_are_the_names_ending_in_cone():
    assert cone_class_ids(NAMES) == [2, 3, 4, 5, 6]
    assert cone_class_ids(['background', 'person']) == []


def test_each_cone_gets_its_class_box_base_point_and_confidence():
    mask = np.ones((200, 320), np.uint8)   # all track
    cone(mask, BLUE, 50, 150, 40)
    cone(mask, YELLOW, 250, 120, 20)
    cone(mask, LARGE, 160, 190, 60, aspect=0.56)
    prob = np.full((50, 80), 0.8, np.float32)   # 4x lower resolution, like the engine's
    found = extract_cones(mask, NAMES, probability=prob)
    assert sorted(c.class_id for c in found) == [BLUE, YELLOW, LARGE]
    for c in found:
        ys, xs = np.nonzero(mask == c.class_id)
        assert c.bbox == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        assert c.pixels == len(ys)
        # the base point: the bottom edge's centre, lifted one network row (200 / 50)
        assert c.base == ((xs.min() + xs.max()) / 2, ys.max() + 0.5 - 4)
        assert c.confidence == pytest.approx(0.8)
    # no probabilities: NaN confidence, the same cones, the base on the bottom edge
    plain = extract_cones(mask, NAMES)
    assert all(math.isnan(c.confidence) for c in plain)
    assert sorted(c.base[1] for c in plain) == sorted(c.base[1] + 4 for c in found)


def test_small_blobs_ignore_and_non_cone_classes_are_not_cones():
    mask = np.zeros((120, 160), np.uint8)
    mask[10:13, 10:13] = BLUE          # 9 px: noise
    mask[50:90, 20:60] = 1             # track
    mask[40:70, 100:115] = 255         # ignore label
    assert extract_cones(mask, NAMES) == []
    mask[100:110, 140:146] = YELLOW    # 60 px, 10 rows: a far cone
    assert [c.class_id for c in extract_cones(mask, NAMES)] == [YELLOW]
    assert extract_cones(mask, NAMES, min_pixels=61) == []


def test_touching_cones_of_one_class_side_by_side_are_split():
    mask = np.zeros((160, 320), np.uint8)
    for u in (100, 128, 156):              # three 40-row cones, bases 28 px apart, touching
        cone(mask, ORANGE, u, 120, 40)
    assert cv2.connectedComponents((mask > 0).astype(np.uint8))[0] == 2   # one blob
    found = sorted(extract_cones(mask, NAMES), key=lambda c: c.base[0])
    assert len(found) == 3
    for c, u in zip(found, (100, 128, 156)):
        assert abs(c.base[0] - u) <= 3 and c.base[1] == 120.5
    assert len(extract_cones(mask, NAMES, split=False)) == 1


def test_touching_cones_of_two_classes_are_two_cones():
    mask = np.zeros((160, 320), np.uint8)
    cone(mask, BLUE, 100, 120, 40)
    cone(mask, YELLOW, 124, 120, 40)
    found = extract_cones(mask, NAMES)
    assert sorted(c.class_id for c in found) == [BLUE, YELLOW]
    # a few pixels of another class inside a cone do not make a second cone
    mask2 = np.zeros((160, 320), np.uint8)
    cone(mask2, BLUE, 100, 120, 40)
    mask2[100:104, 98:102] = UNKNOWN
    (c,) = extract_cones(mask2, NAMES)
    assert c.class_id == BLUE
    share = np.count_nonzero(mask2 == BLUE) / np.count_nonzero(mask2)
    assert math.isnan(c.confidence)
    prob = np.ones((160, 320), np.float32)
    (c,) = extract_cones(mask2, NAMES, probability=prob)
    assert c.confidence == pytest.approx(share, abs=1e-6), 'other-class pixels count 0'


def test_a_cone_with_a_thin_neck_is_found_whole():
    """A blob joined by a 1 px neck is one blob (one labelling pass over the frame)."""
    mask = np.zeros((200, 200), np.uint8)
    mask[40:60, 40:60] = BLUE
    mask[60:100, 50] = BLUE           # 1 px wide neck, invisible at 1/4 size
    mask[100:140, 30:70] = BLUE
    (c,) = extract_cones(mask, NAMES, split=False)
    assert c.bbox == (30, 40, 70, 140) and c.pixels == int(np.count_nonzero(mask))


def test_max_probability_is_the_softmax_of_the_argmax():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (7, 5, 6)).astype(np.float32)
    e = np.exp(logits - logits.max(0))
    want = (e / e.sum(0)).max(0)
    assert np.allclose(max_probability(logits), want, atol=1e-6)
    assert np.allclose(max_probability(logits[:1]), 1 / (1 + np.exp(-abs(logits[0]))))
    seg = Segmentation(mask=np.zeros((10, 12), np.uint8), probability=want)
    assert seg.confidence().shape == (10, 12)


# ------------------------------------------------------------------- geometry
K = [800.0, 0.0, 640.0, 0.0, 800.0, 360.0, 0.0, 0.0, 1.0]
POSE = CameraPose(x=1.5, y=0.2, z=1.1, roll=0.02, pitch=0.05, yaw=-0.03)


def project(points, intr, pose):
    """Project vehicle-frame points to distorted pixels with OpenCV (the reference)."""
    R = pose.optical_rotation()                  # optical -> vehicle
    pc = (np.asarray(points) - [pose.x, pose.y, pose.z]) @ R   # vehicle -> optical
    Km = intr.matrix
    D = np.asarray(intr.D)
    obj = pc.reshape(-1, 1, 3)
    zero = np.zeros(3)
    if intr.model == 'equidistant':
        px, _ = cv2.fisheye.projectPoints(obj, zero, zero, Km, D)
    else:
        px, _ = cv2.projectPoints(obj, zero, zero, Km, D)
    # beyond the calibrated field of view a lens polynomial folds back: keep r < 0.8
    r = np.hypot(pc[:, 0], pc[:, 1]) / np.maximum(pc[:, 2], 1e-9)
    return px.reshape(-1, 2), np.where(r < 0.8, pc[:, 2], -1.0)


@pytest.mark.parametrize('model,D', [('plumb_bob', [-0.12, 0.03, 0.001, -0.0005, -0.004]),
                                     ('equidistant', [0.05, -0.02, 0.004, -0.001]),
                                     ('rational_polynomial', [0.1, -0.02, 0, 0, 0, 0.12, 0, 0]),
                                     ('none', [])])
def test_ground_points_invert_the_projection(model, D):
    intr = check_intrinsics(K, D, model, 1280, 720)
    rng = np.random.default_rng(1)
    pts = np.stack([rng.uniform(3, 40, 200), rng.uniform(-8, 8, 200), np.zeros(200)], 1)
    uv, depth = project(pts, intr, POSE)   # depth -1: outside the field of view
    inside = (depth > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < 1280) & (uv[:, 1] >= 0) & (uv[:, 1] < 720)
    assert inside.sum() > 100
    back = ground_points(uv[inside], intr, POSE)
    err = np.hypot(*(back[:, :2] - pts[inside, :2]).T)
    assert np.all(err < 1e-3 * np.hypot(pts[inside, 0] - 1.5, pts[inside, 1])), err.max()
    assert np.all(back[:, 2] == 0)


def test_no_position_at_or_above_the_horizon():
    """A camera pitched up 0.2 rad: rows above the horizon give NaN, rows below the ground."""
    intr = check_intrinsics(K, [], 'none', 1280, 720)
    pose = CameraPose(z=1.0, pitch=-0.2)           # looking up (REP 103: positive = down)
    horizon = 360 + 800 * math.tan(0.2)            # the image row of the horizon (~522)
    rows = np.arange(0, 720, 3.0)
    uv = np.stack([np.full_like(rows, 640.0), rows], 1)
    pts = ground_points(uv, intr, pose, max_range=1e9)
    above = rows <= horizon - 1
    below = rows >= horizon + 1
    assert np.all(np.isnan(pts[above])) and above.sum() > 100
    assert np.all(np.isfinite(pts[below])) and below.sum() > 50
    # far below max_range only: beyond it counts as the horizon too
    capped = ground_points(uv, intr, pose, max_range=20.0)
    d = np.hypot(capped[:, 0], capped[:, 1])
    assert np.all(np.isnan(d) | (d <= 20.0)) and np.isnan(capped[below][0, 0])
    # a camera on the ground (z = 0) or NaN pose: no position at all
    assert np.all(np.isnan(ground_points(uv, intr, CameraPose(z=0.0))))
    assert CameraPose(z=0.0).problem().startswith('the camera height z is 0')


@pytest.mark.parametrize('K,D,model,size,words', [
    ([0, 0, 640, 0, 0, 360, 0, 0, 1], [], 'plumb_bob', (1280, 720), 'focal length'),
    ([800, 0, float('nan'), 0, 800, 360, 0, 0, 1], [], 'plumb_bob', (1280, 720), 'not-a-number'),
    (K, [0.1, 0.2, 0.0], 'plumb_bob', (1280, 720), 'takes 4 or 5'),
    (K, [0.1, 0.2, 0.0, 0.0], 'kannala', (1280, 720), 'not one of'),
    (K[:8], [], 'plumb_bob', (1280, 720), '9 numbers'),
    (K, [], 'plumb_bob', (320, 240), 'outside'),
])
def test_bad_intrinsics_are_refused_with_the_reason(K, D, model, size, words):
    with pytest.raises(IntrinsicsError, match=words):
        check_intrinsics(K, D, model, *size, source='camera_info')


def test_calibration_file_and_image_size(tmp_path):
    f = tmp_path / 'cam.yaml'
    f.write_text('image_width: 1280\nimage_height: 720\ncamera_name: front\n'
                 'camera_matrix: {rows: 3, cols: 3, data: [800, 0, 640, 0, 800, 360, 0, 0, 1]}\n'
                 'distortion_model: equidistant\n'
                 'distortion_coefficients: {rows: 1, cols: 4, data: [0.1, 0.01, 0, 0]}\n')
    intr = load_calibration(f'file://{f}')
    assert intr.model == 'equidistant' and intr.D == (0.1, 0.01, 0.0, 0.0)
    assert intr.size_problem(1280, 720) is None
    assert '1280x720' in intr.size_problem(640, 360)
    with pytest.raises(IntrinsicsError, match='cannot read'):
        load_calibration(tmp_path / 'missing.yaml')
    (tmp_path / 'text.yaml').write_text("camera_matrix: {data: ['f', 0, 1, 0, 1, 1, 0, 0, 1]}\n")
    with pytest.raises(IntrinsicsError, match='must be numbers'):
        load_calibration(tmp_path / 'text.yaml')
    (tmp_path / 'bad.yaml').write_text('camera_matrix: 3\n')
    with pytest.raises(IntrinsicsError, match='not a camera_calibration file'):
        load_calibration(tmp_path / 'bad.yaml')


def test_cone_array_layout_is_self_describing():
    assert CONE_DTYPE.itemsize == 32
    assert [CONE_DTYPE.fields[n][1] for n in CONE_DTYPE.names] == [0, 4, 8, 12, 16, 20, 24, 28]
    mask = np.zeros((100, 100), np.uint8)
    cone(mask, YELLOW, 50, 80, 30)
    a = cones_to_array(extract_cones(mask, NAMES))
    assert a.dtype == CONE_DTYPE and len(a) == 1 and a['class_id'][0] == YELLOW
    assert np.isnan(a['x'][0]) and np.isnan(a['range'][0]) and a['v'][0] == 80.5
    back = np.frombuffer(a.tobytes(), CONE_DTYPE)
    assert back['u'][0] == a['u'][0]
    assert len(cones_to_array([])) == 0


# ----------------------------------------------------- rendered scenes (real)
@pytest.fixture(scope='module')
def scenes():
    """Two 640x360 synthetic frames with their ground truth, one per distortion model."""
    out = []
    for index in range(12):
        img, mask, inst, js = render_sample(5, index, 640, 360, truth=True)
        if js['camera']['distortion_model'] not in [s[3]['camera']['distortion_model']
                                                    for s in out]:
            out.append((img, mask, inst, js))
        if len(out) == 2:
            break
    return out


def test_ground_truth_masks_give_the_true_cone_positions(scenes):
    """The renderer's masks as the prediction: every placed cone lies at a true cone's base."""
    models = set()
    for _, mask, _, js in scenes:
        cam = js['camera']
        models.add(cam['distortion_model'])
        intr = check_intrinsics(np.ravel(cam['K']), cam['D'], cam['distortion_model'],
                                js['width'], js['height'])
        found = cones(Segmentation(mask=mask), NAMES, intr,
                      CameraPose.from_mapping(cam['pose_in_base']))
        truth = [c for c in js['cones'] if not c['ignored']]
        near = [c for c in truth if c['distance_m'] < 15 and c['bbox'][3] < js['height']]
        assert near, 'the scene has cones within 15 m'
        errs = []
        for t in near:
            placed = [c for c in found if c.xyz is not None and c.class_id == t['class_id']]
            d = min((math.hypot(c.xyz[0] - t['base_xyz'][0], c.xyz[1] - t['base_xyz'][1])
                     for c in placed), default=float('inf'))
            errs.append(d / t['distance_m'])
        errs = np.array(errs)
        # most near cones within 3 % of their range (occluded ones may merge)
        assert np.mean(errs < 0.03) >= 0.8, (cam['distortion_model'], errs)
        assert np.median(errs) < 0.02
    assert len(models) == 2


def test_evaluate_cones_on_a_rendered_dataset(tmp_path, capsys):
    data = tmp_path / 'data'
    write_dataset(data, 2, seed=11, width=640, height=360, image_format='png', quiet=True)
    out = tmp_path / 'cones.json'
    res = evaluate_cones.main(evaluate_cones.get_args_parser().parse_args(
        ['--dataset', str(data), '--truth-masks', '--json', str(out)]))
    text = capsys.readouterr().out
    assert 'ground-truth masks' in text and 'prec' in text and 'med m' in text
    assert json.loads(out.read_text())['frames'] == 2
    allc = res['table']['all']['all']
    assert allc['true'] > 5
    assert allc['precision'] >= 0.8 and allc['recall'] >= 0.6
    assert allc['colour_accuracy'] >= 0.9 and allc['median_err_pct'] < 3.0


def test_evaluate_cones_says_what_is_missing(tmp_path):
    (tmp_path / 'images').mkdir()
    with pytest.raises(SystemExit, match='holds no images'):
        evaluate_cones.frames_of(tmp_path)
    cv2.imwrite(str(tmp_path / 'images' / 'a.png'), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(SystemExit, match='no scene JSON for a.png'):
        evaluate_cones.frames_of(tmp_path)


def test_locate_skips_cones_cut_by_the_bottom_border():
    intr = check_intrinsics(K, [], 'none', 1280, 720)
    mask = np.zeros((720, 1280), np.uint8)
    cone(mask, BLUE, 300, 719, 60)       # its base is the image's last row: cut off
    cone(mask, BLUE, 900, 600, 60)
    found = locate_cones(extract_cones(mask, NAMES), NAMES, intr, CameraPose(z=1.0))
    by_u = {round(c.base[0]): c for c in found}
    assert by_u[300].xyz is None and by_u[900].xyz is not None
    assert by_u[900].distance == pytest.approx(math.hypot(*by_u[900].xyz[:2]))
