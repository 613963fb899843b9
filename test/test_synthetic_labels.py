# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Synthetic FS scenes: geometry, camera, labels and the per-frame ground truth.

Everything is rendered for real at small resolutions and written to a temporary
folder; the scene JSON is checked against the pixels it describes, and its
camera (K, D, pose in base_link) against OpenCV's own projection.
"""

import json
import logging
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from training.datasets.base import FS_CLASSES, IGNORE
from training.datasets.folder import FolderSource
from training.synthetic import (GENERATOR_VERSION, get_args_parser, main, render_drive,
                                render_sample, sample_stem, write_dataset, write_drive)
from training.synthetic.camera import _View
from training.synthetic.relabel import main as relabel_main, relabel_dataset, RelabelError
from training.synthetic.render import _render, _sample_effects
from training.synthetic.scene import (_ACCEL_LENGTH, _Scene, _SKID_IN, _SKID_OUT, _SKID_R,
                                      LAYOUTS)

BLUE, YELLOW, ORANGE, LARGE_ORANGE, UNKNOWN = (FS_CLASSES.index(n) for n in (
    'blue_cone', 'yellow_cone', 'orange_cone', 'large_orange_cone', 'unknown_cone'))
CONES = (BLUE, YELLOW, ORANGE, LARGE_ORANGE, UNKNOWN)
TRACK = FS_CLASSES.index('track')

CONE_KEYS = ['instance', 'class_id', 'class', 'base_xyz', 'distance_m', 'pixels', 'bbox',
             'height_px', 'ignored', 'knocked_over']
CAMERA_KEYS = ['K', 'distortion_model', 'D', 'height_m', 'pitch_deg', 'roll_deg', 'hfov_deg',
               'base_frame', 'pose_in_base']
TOP_KEYS = ['generator_version', 'seed', 'index', 'width', 'height', 'camera', 'min_cone_px',
            'cones']


def run_cli(*argv):
    """Run ``python -m training.synthetic`` in this process; return its exit code."""
    return main(get_args_parser().parse_args([str(a) for a in argv]))


def read(path, flags=cv2.IMREAD_UNCHANGED):
    img = cv2.imread(str(path), flags)
    assert img is not None, f'{path} does not decode'
    return img


def samples(seed, count, width, height, **kw):
    """Yield (index, image, mask, instances, scene JSON) of samples 0..count-1."""
    for i in range(count):
        yield (i,) + tuple(render_sample(seed, i, width, height, truth=True, **kw))


def check_truth(mask, inst, js):
    """Assert that the instance map, the mask and the JSON cone list agree exactly."""
    cones = js['cones']
    assert inst.dtype == np.uint16 and inst.shape == mask.shape
    assert [c['instance'] for c in cones] == list(range(1, len(cones) + 1))
    assert set(np.unique(inst)) <= set(range(len(cones) + 1))
    dist = [c['distance_m'] for c in cones]
    assert dist == sorted(dist), 'cones are listed near to far'
    for c in cones:
        assert list(c) == CONE_KEYS
        assert c['class'] == FS_CLASSES[c['class_id']] and c['class_id'] in CONES
        assert c['ignored'] == (c['height_px'] < js['min_cone_px'])
        here = inst == c['instance']
        assert c['pixels'] == int(here.sum()) > 0, 'listed cones have visible pixels'
        ys, xs = np.nonzero(here)
        assert c['bbox'] == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        # every instance pixel carries its cone's class, or ignore when the cone is small
        want = IGNORE if c['ignored'] else c['class_id']
        assert np.all(mask[here] == want), (c, np.unique(mask[here]))
        x, y, z = c['base_xyz']
        assert abs(math.hypot(x, y) - c['distance_m']) < 2e-3
    # every cone pixel of the mask belongs to an instance, and 255 only to small cones
    assert np.all(inst[np.isin(mask, CONES)] > 0)
    assert np.all(inst[mask == IGNORE] > 0)
    assert np.all(np.isin(mask, list(range(len(FS_CLASSES))) + [IGNORE]))


def rpy(roll, pitch, yaw):
    """Return the rotation of REP 103 roll, pitch, yaw (fixed axes x, y, z)."""
    cr, sr, cp, sp = math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch)
    cy, sy = math.cos(yaw), math.sin(yaw)
    return (np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
            @ np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
            @ np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]]))


def opencv_project(camera, pts):
    """Project base_link points with OpenCV from the JSON's K, D and pose alone."""
    pose = camera['pose_in_base']
    body = rpy(pose['roll'], pose['pitch'], pose['yaw'])
    optical = np.array([[0, -1, 0], [0, 0, -1], [1, 0, 0]], float)   # x fwd -> z fwd
    rot = optical @ body.T
    tvec = -rot @ np.array([pose['x'], pose['y'], pose['z']])
    rvec = cv2.Rodrigues(rot)[0]
    K, D = np.array(camera['K'], float), np.array(camera['D'], float)
    pts = np.asarray(pts, float).reshape(-1, 1, 3)
    if camera['distortion_model'] == 'equidistant':
        uv = cv2.fisheye.projectPoints(pts, rvec, tvec, K, D)[0]
    else:
        uv = cv2.projectPoints(pts, rvec, tvec, K, D if len(D) else None)[0]
    return uv.reshape(-1, 2)


# ---------------------------------------------------------------- files and schema

def test_dataset_writes_instances_and_scene_json_with_the_schema(tmp_path):
    out = tmp_path / 'synth'
    assert run_cli('--out', out, '--count', 3, '--seed', 12, '--width', 96, '--height', 64,
                   '--format', 'png', '--quiet') == 0
    stems = [sample_stem(12, i) for i in range(3)]
    for sub, ext in (('images', 'png'), ('masks', 'png'), ('instances', 'png'),
                     ('scene', 'json')):
        assert sorted(p.stem for p in (out / sub).glob(f'*.{ext}')) == stems, sub
    meta = json.loads((out / 'meta.json').read_text())
    assert meta['generator_version'] == GENERATOR_VERSION == 2
    assert meta['min_cone_px'] == 8 and meta['supersample'] == 2 and meta['complete'] is True
    assert meta['files']['instances'] == 'instances/{stem}.png'
    for i, stem in enumerate(stems):
        img, mask, inst, js = render_sample(12, i, 96, 64, truth=True)
        on_disk = json.loads((out / 'scene' / f'{stem}.json').read_text())
        assert on_disk == js
        assert list(js) == TOP_KEYS
        assert (js['generator_version'], js['seed'], js['index']) == (2, 12, i)
        assert (js['width'], js['height'], js['min_cone_px']) == (96, 64, 8)
        cam = js['camera']
        assert list(cam) == CAMERA_KEYS and cam['base_frame'] == 'base_link'
        K = np.array(cam['K'])
        assert K.shape == (3, 3) and K[0, 1] == K[1, 0] == K[2, 0] == K[2, 1] == 0
        assert K[2, 2] == 1 and K[0, 0] == K[1, 1] > 0
        assert cam['distortion_model'] in ('plumb_bob', 'equidistant', 'none')
        assert len(cam['D']) == {'plumb_bob': 5, 'equidistant': 4, 'none': 0}[
            cam['distortion_model']]
        pose = cam['pose_in_base']
        assert list(pose) == ['x', 'y', 'z', 'roll', 'pitch', 'yaw']
        assert pose['x'] == pose['y'] == 0 and pose['z'] == cam['height_m']
        assert math.isclose(math.degrees(pose['pitch']), cam['pitch_deg'], abs_tol=1e-3)
        assert math.isclose(math.degrees(pose['roll']), cam['roll_deg'], abs_tol=1e-3)
        # the files hold exactly what the renderer returns, pixel-aligned
        written = read(out / 'instances' / f'{stem}.png')
        assert written.dtype == np.uint16 and np.array_equal(written, inst)
        assert np.array_equal(read(out / 'masks' / f'{stem}.png'), mask)
        check_truth(mask, inst, js)


def test_instances_masks_and_json_agree_exactly():
    listed = ignored = 0
    for _, _, mask, inst, js in samples(31, 10, 160, 96):
        check_truth(mask, inst, js)
        listed += len(js['cones'])
        ignored += sum(c['ignored'] for c in js['cones'])
    assert listed >= 50 and 0 < ignored < listed


def test_same_seed_gives_the_same_bytes_for_every_output(tmp_path):
    a, b = tmp_path / 'a', tmp_path / 'b'
    write_dataset(a, 3, seed=40, width=80, height=48, image_format='png', quiet=True)
    render_sample(41, 5, 120, 72, truth=True)   # other sizes and scenes in between
    write_dataset(b, 3, seed=40, width=80, height=48, image_format='png', quiet=True)
    files = sorted(p.relative_to(a) for p in a.rglob('*') if p.is_file() and p.name != 'meta.json')
    assert len(files) == 12
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


# ---------------------------------------------------------------- learnable labels

def test_cones_under_min_cone_px_are_ignored_in_mask_and_json():
    small = 0
    for i, img, mask, inst, js in samples(2, 6, 160, 96):
        img0, mask0, inst0, js0 = render_sample(2, i, 160, 96, truth=True, min_cone_px=0)
        assert np.array_equal(img, img0) and np.array_equal(inst, inst0)   # labels only
        assert js0['min_cone_px'] == 0 and not any(c['ignored'] for c in js0['cones'])
        assert [c['height_px'] for c in js['cones']] == [c['height_px'] for c in js0['cones']]
        for c in js['cones']:
            here = inst == c['instance']
            if c['height_px'] < 8:
                assert c['ignored'] and np.all(mask[here] == IGNORE)
                assert np.all(mask0[here] == c['class_id'])   # its instance pixels stay
                small += 1
            else:
                assert not c['ignored'] and np.all(mask[here] == c['class_id'])
        assert np.array_equal(mask[mask != IGNORE], mask0[mask != IGNORE])
    assert small >= 5


def test_cli_min_cone_px_is_recorded_and_guards_resuming(tmp_path, caplog):
    out = tmp_path / 'px'
    common = ['--count', 2, '--seed', 3, '--width', 96, '--height', 64, '--quiet']
    assert run_cli('--out', out, '--min-cone-px', 0, *common) == 0
    assert json.loads((out / 'meta.json').read_text())['min_cone_px'] == 0
    for p in (out / 'masks').glob('*.png'):
        assert read(p).max() < len(FS_CLASSES)
    with caplog.at_level('ERROR', logger='training.synthetic'):
        assert run_cli('--out', out, '--min-cone-px', 12, *common) == 2
    assert 'min_cone_px=0' in caplog.text
    with pytest.raises(SystemExit):
        run_cli('--out', tmp_path / 'bad', '--min-cone-px', -1, *common)
    with pytest.raises(SystemExit):
        run_cli('--out', tmp_path / 'bad', '--supersample', 5, *common)
    help_text = get_args_parser().format_help()
    assert '--min-cone-px' in help_text and '--supersample' in help_text


def _files(folder):
    """{relative path: bytes} of a dataset folder, meta.json without its 'created' stamp."""
    out = {}
    for p in sorted(Path(folder).rglob('*')):
        if p.is_file():
            data = p.read_bytes()
            if p.name == 'meta.json':
                meta = json.loads(data)
                meta.pop('created')
                data = json.dumps(meta, sort_keys=True).encode()
            out[str(p.relative_to(folder))] = data
    return out


@pytest.mark.parametrize('start, target', [(8, 4), (4, 8), (8, 0)])
def test_relabel_gives_the_bytes_of_a_render_with_that_rule(tmp_path, start, target):
    common = ['--count', 3, '--seed', 2, '--width', 160, '--height', 96, '--quiet']
    assert run_cli('--out', tmp_path / 'a', '--min-cone-px', start, *common) == 0
    assert run_cli('--out', tmp_path / 'b', '--min-cone-px', target, *common) == 0
    before, want = _files(tmp_path / 'a'), _files(tmp_path / 'b')
    assert before != want   # the rule matters on these frames
    assert relabel_main([str(tmp_path / 'a'), '--min-cone-px', str(target)]) == 0
    assert _files(tmp_path / 'a') == want
    assert relabel_dataset(tmp_path / 'a', target) == (0, 3)   # nothing left to do


def test_relabel_killed_between_mask_and_json_is_finished_by_a_rerun(tmp_path):
    common = ['--count', 2, '--seed', 2, '--width', 160, '--height', 96, '--quiet']
    assert run_cli('--out', tmp_path / 'a', *common) == 0
    assert run_cli('--out', tmp_path / 'b', '--min-cone-px', 4, *common) == 0
    stem = sample_stem(2, 0)
    # as if killed after the mask: the new mask on disk, the old JSON and meta.json
    (tmp_path / 'a' / 'masks' / f'{stem}.png').write_bytes(
        (tmp_path / 'b' / 'masks' / f'{stem}.png').read_bytes())
    assert relabel_dataset(tmp_path / 'a', 4) == (2, 2)
    assert _files(tmp_path / 'a') == _files(tmp_path / 'b')


def test_relabel_names_the_bad_folder_or_file(tmp_path, caplog):
    with caplog.at_level('ERROR', logger='training.synthetic.relabel'):
        assert relabel_main([str(tmp_path), '--min-cone-px', '4']) == 2
    assert f'{tmp_path} has no meta.json' in caplog.text
    out = tmp_path / 'd'
    assert run_cli('--out', out, '--count', 2, '--seed', 2, '--width', 96, '--height', 64,
                   '--quiet') == 0
    (out / 'scene' / f'{sample_stem(2, 1)}.json').write_text('{"cones": [')
    with pytest.raises(RelabelError, match=f'{sample_stem(2, 1)}.json is unreadable'):
        relabel_dataset(out, 4)
    (out / 'scene' / f'{sample_stem(2, 1)}.json').unlink()
    with pytest.raises(RelabelError, match='holds 1 of 2 samples'):
        relabel_dataset(out, 4)
    with pytest.raises(ValueError, match='min_cone_px'):
        relabel_dataset(out, -1)


# ---------------------------------------------------------------- camera and lens

def test_camera_heights_fields_of_view_and_lenses_vary():
    heights, fovs, models, k1 = [], [], set(), []
    for i in range(40):
        js = render_sample(6, i, 64, 48, truth=True)[3]
        cam = js['camera']
        heights.append(cam['height_m'])
        fovs.append(cam['hfov_deg'])
        models.add(cam['distortion_model'])
        if cam['distortion_model'] == 'plumb_bob':
            k1.append(cam['D'][0])
            assert cam['D'][2:] == [0, 0, 0]
        assert -9.5 <= cam['pitch_deg'] <= 9.5 and abs(cam['roll_deg']) <= 5
        assert abs(cam['pose_in_base']['yaw']) <= math.radians(3.01)
    assert 0.3 <= min(heights) < 0.55 and 1.0 < max(heights) <= 1.3
    assert 50 <= min(fovs) < 60 and 90 < max(fovs) <= 100
    assert models == {'plumb_bob', 'equidistant', 'none'}
    assert -0.35 <= min(k1) < -0.1 and max(k1) <= 0.05


def test_scene_json_camera_projects_cones_onto_their_pixels_with_opencv():
    """K, D and the pose in base_link put each cone's base where it is drawn."""
    checked = {'plumb_bob': 0, 'equidistant': 0, 'none': 0}
    for _, _, mask, inst, js in samples(3, 24, 320, 180, min_cone_px=0):
        for c in js['cones']:
            u0, v0, u1, v1 = c['bbox']
            if c['pixels'] < 40 or c['knocked_over'] or u0 == 0 or v0 == 0 or u1 == 320 \
                    or v1 == 180:
                continue
            u, v = opencv_project(js['camera'], [c['base_xyz']])[0]
            # the base centre: between the cone's left and right edge, at its bottom
            assert u0 - 1 <= u <= u1 and v1 - 0.25 * (v1 - v0) - 2 <= v <= v1 + 2, (c, u, v)
            checked[js['camera']['distortion_model']] += 1
    assert min(checked.values()) >= 3, checked


def test_lens_distortion_keeps_image_mask_and_instances_aligned():
    """Blue-cone pixels are blue in the distorted image; moved a few pixels, they are not."""
    found = []
    for i, img, mask, inst, js in samples(8, 30, 320, 180):
        cam = js['camera']
        strong = cam['distortion_model'] == 'equidistant' or (
            cam['distortion_model'] == 'plumb_bob' and cam['D'][0] < -0.12)
        blue = mask == BLUE
        if not strong or blue.sum() < 60:
            continue
        check_truth(mask, inst, js)
        inner = cv2.erode(blue.view(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        rgb = img.astype(float)
        blueness = rgb[..., 2] - (rgb[..., 0] + rgb[..., 1]) / 2
        moved = np.roll(blue, 5, axis=1) & ~blue & ~np.isin(mask, CONES + (IGNORE,))
        if inner.sum() < 10 or moved.sum() < 20:
            continue
        on, off = blueness[inner].mean(), blueness[moved].mean()
        assert on > off + 12, (i, on, off)   # dark bases and white stripes are in `inner`
        found.append(on - off)
    assert len(found) >= 3 and np.mean(found) > 30, found


def cone_centroids(inst, js):
    """Return {cone base: (u, v) centroid of its pixels} of the cones with 30+ pixels."""
    out = {}
    for c in js['cones']:
        if c['pixels'] >= 30:
            ys, xs = np.nonzero(inst == c['instance'])
            out[tuple(c['base_xyz'])] = (xs.mean(), ys.mean())
    return out


def test_supersampled_labels_sit_on_the_pixel_centres():
    """2x supersampled labels are centred like a plain render's; the image is smoother."""
    shifts, smoother = [], 0
    for i in range(40):
        if render_sample(5, i, 32, 24, truth=True)[3]['camera']['distortion_model'] != 'none':
            continue
        img1, mask1, inst1, js1 = render_sample(5, i, 160, 96, supersample=1, min_cone_px=0,
                                                truth=True)
        img2, mask2, inst2, js2 = render_sample(5, i, 160, 96, supersample=2, min_cone_px=0,
                                                truth=True)
        assert (mask1 == mask2).mean() > 0.98
        # edges move by the fill rule's half sample at most: centroids stay put
        c1, c2 = cone_centroids(inst1, js1), cone_centroids(inst2, js2)
        shifts += [np.subtract(c2[k], c1[k]) for k in c1 if k in c2]
        # anti-aliasing: the 2x image steps less across the label edges
        edge = cv2.morphologyEx((mask1 > 1).view(np.uint8), cv2.MORPH_GRADIENT,
                                np.ones((3, 3), np.uint8)).astype(bool)
        if edge.sum() >= 50:
            step = [np.abs(np.diff(x.astype(float), axis=1)).sum(-1)[edge[:, 1:]].mean()
                    for x in (img1, img2)]
            assert step[1] < step[0]
            smoother += 1
    assert len(shifts) >= 6 and smoother >= 2
    assert np.all(np.abs(np.mean(shifts, axis=0)) < 0.15), np.mean(shifts, axis=0)


# ---------------------------------------------------------------- layouts

def render_layout(layout, seed, width=160, height=96):
    """Render a layout from a car near its start, looking along the track."""
    rng = np.random.default_rng([seed, LAYOUTS.index(layout)])
    scene = _Scene(rng, layout=layout)
    tr = scene.track
    s = max(tr.marks.get('start', 0.0) - 12.0, 1.0)
    p, t = tr.interp(s, tr.center), tr.interp(s, tr.tangent)
    yaw = math.atan2(t[1], t[0])
    view = _View((p[0], p[1], 1.0), yaw, yaw, math.radians(-4), 0.0, math.radians(80), width,
                 height)
    return scene, _render(scene, view, rng, _sample_effects(rng), min_cone_px=0)


@pytest.mark.parametrize('layout', LAYOUTS)
def test_layouts_render_track_and_cones(layout):
    scene, frame = render_layout(layout, 1)
    assert frame.image.shape == (96, 160, 3) and frame.mask.shape == (96, 160)
    assert (frame.mask == TRACK).mean() > 0.05
    classes = {c['class_id'] for c in frame.cones}
    assert len(frame.cones) >= 4 and classes & {BLUE, YELLOW, ORANGE, LARGE_ORANGE}
    assert scene.track.closed == (layout == 'trackdrive')


def local_cones(scene):
    """Return the cones of an open layout in its own frame: (x, y, class, large)."""
    (ox, oy), a = scene.track.frame
    c, s = math.cos(a), math.sin(a)
    out = []
    for cone in scene.cones:
        dx, dy = cone[0] - ox, cone[1] - oy
        out.append((c * dx + s * dy, -s * dx + c * dy, cone[2], cone[3] == 'large'))
    return out


def test_skidpad_follows_the_rules():
    for seed in range(3):
        scene = _Scene(np.random.default_rng([seed, 50]), layout='skidpad')
        cones = [c for c in local_cones(scene) if c[2] != UNKNOWN]
        for sign, inner, outer in ((1, YELLOW, BLUE), (-1, BLUE, YELLOW)):
            r = [(math.hypot(x - sign * _SKID_R, y), cls) for x, y, cls, _ in cones]
            ring_in = [cls for d, cls in r if abs(d - _SKID_IN) < 0.45]
            ring_out = [cls for d, cls in r if abs(d - _SKID_OUT) < 0.45]
            # knocked-over and replaced cones aside, each ring has its own colour
            assert ring_in.count(inner) >= 12 and ring_in.count(outer) == 0
            assert ring_out.count(outer) >= 10
        big = [(x, y) for x, y, cls, large in cones if cls == LARGE_ORANGE]
        assert len(big) >= 3 and all(abs(x) < 2.0 and abs(y) < 1.0 for x, y in big)
        lanes = [(x, y) for x, y, cls, _ in cones if cls == ORANGE]
        assert any(y < -5 for _, y in lanes) and any(y > _SKID_OUT for _, y in lanes)


def test_acceleration_and_autocross_layouts():
    for seed in range(3):
        scene = _Scene(np.random.default_rng([seed, 60]), layout='acceleration')
        cones = [c for c in local_cones(scene) if c[2] != UNKNOWN]
        on_straight = [c for c in cones if 1.0 < c[0] < _ACCEL_LENGTH - 1.0]
        assert all(c[2] == BLUE for c in on_straight if c[1] > 0.5)
        assert all(c[2] == YELLOW for c in on_straight if c[1] < -0.5)
        big = [c[0] for c in cones if c[2] == LARGE_ORANGE]
        assert any(abs(x) < 1.5 for x in big) and any(abs(x - _ACCEL_LENGTH) < 1.5 for x in big)
        assert any(c[2] == ORANGE and c[0] > _ACCEL_LENGTH + 2 for c in cones)
        scene = _Scene(np.random.default_rng([seed, 61]), layout='autocross')
        tr = scene.track
        assert not tr.closed and 200 < tr.length < 500
        # hairpins: at least 9 m outer diameter
        assert np.all(1 / np.maximum(np.abs(tr.curvature), 1e-9) + tr.width / 2 >= 4.5)
    tight = [np.abs(_Scene(np.random.default_rng([s, 61]), layout='autocross').track.curvature)
             .max() for s in range(8)]
    assert max(tight) > 1 / 8.0, 'some autocross has a hairpin or tight corner'


def test_knocked_over_cones_lie_on_their_side_and_keep_their_class():
    knocked = []
    for _, _, mask, inst, js in samples(0, 40, 96, 64, min_cone_px=0):
        for c in js['cones']:
            if c['knocked_over']:
                knocked.append(c)
                assert np.all(mask[inst == c['instance']] == c['class_id'])
    assert knocked, 'no knocked-over cone in view in 40 samples'
    assert all(0.05 < c['base_xyz'][2] < 0.2 for c in knocked)   # the base stands up
    total = share = 0
    for seed in range(10):
        scene = _Scene(np.random.default_rng([seed, 70]))
        lying = [c for c in scene.cones if c[7] is not None]
        total += len(scene.cones)
        share += len(lying)
    assert 0 < share < 0.1 * total


# ---------------------------------------------------------------- drives and loaders

def test_drive_frames_write_ground_truth_beside_images(tmp_path):
    frames = tmp_path / 'frames'
    write_drive(4, seconds=0.3, fps=10, width=96, height=64, frames=frames, image_format='png',
                quiet=True)
    stems = sorted(p.stem for p in (frames / 'masks').glob('*.png'))
    assert len(stems) == 3
    fresh = {k: (m, i, j) for k, _, m, i, j in render_drive(4, 0.3, 10, 96, 64, truth=True)}
    for k, stem in enumerate(stems):
        js = json.loads((frames / f'{stem}.json').read_text())
        inst = read(frames / f'{stem}_instances.png')
        mask = read(frames / 'masks' / f'{stem}.png')
        assert js['index'] == k and js['seed'] == 4 and list(js) == TOP_KEYS
        assert js == fresh[k][2] and np.array_equal(inst, fresh[k][1])
        check_truth(mask, inst, js)
    meta = json.loads((frames / 'meta.json').read_text())
    assert meta['min_cone_px'] == 8 and meta['files']['scene'] == '{stem}.json'
    # resuming rewrites a frame whose mask is missing, the same bytes
    before = (frames / f'{stems[1]}_instances.png').read_bytes()
    (frames / 'masks' / f'{stems[1]}.png').unlink()
    write_drive(4, seconds=0.3, fps=10, width=96, height=64, frames=frames, image_format='png',
                quiet=True)
    assert (frames / f'{stems[1]}_instances.png').read_bytes() == before
    assert (frames / 'masks' / f'{stems[1]}.png').is_file()


def test_folder_loader_reads_datasets_and_frames_and_ignores_the_extra_files(tmp_path, caplog):
    data, frames = tmp_path / 'data', tmp_path / 'frames'
    write_dataset(data, 3, seed=9, width=64, height=48, image_format='png', quiet=True)
    write_drive(9, seconds=0.2, fps=10, width=64, height=48, frames=frames, quiet=True)
    assert (data / 'instances').is_dir() and (data / 'scene').is_dir()
    assert list(frames.glob('*_instances.png')) and list(frames.glob('drive_*.json'))
    for root, n in ((data, 3), (frames, 2)):
        with caplog.at_level(logging.WARNING):
            caplog.clear()
            src = FolderSource(root)
        assert not caplog.text, caplog.text   # no lone images or masks
        assert len(src) == n
        for k in range(n):
            image, mask = src.load(k)
            assert image.shape[:2] == mask.shape == (48, 64)
            stem = src.name(k)
            assert np.array_equal(mask, read(Path(root) / 'masks' / f'{stem}.png'))
    assert [FolderSource(data).name(k) for k in range(3)] == [sample_stem(9, k) for k in range(3)]


def test_the_makefile_names_data_folders_by_the_renderer_version():
    """Data folders carry the renderer version: make never reuses older scenes."""
    import re
    from pathlib import Path

    from training.synthetic import GENERATOR_VERSION
    text = (Path(__file__).resolve().parent.parent / 'Makefile').read_text()
    assert int(re.search(r'^SYN_GEN := (\d+)$', text, re.M).group(1)) == GENERATOR_VERSION
    assert '_v$(SYN_GEN)' in text
