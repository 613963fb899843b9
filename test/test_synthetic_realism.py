# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Synthetic FS scenes look like real events: distractors, cone materials, light.

Real renders at small sizes. Some tests build a scene and set its sun or its
objects by hand, then render it through the renderer as it is, to check what
a user would see: shadows on the side away from the sun, paint that changes
colours but never labels, people who hide the cones behind them.
"""

import math

import cv2
import numpy as np
import pytest
from training.datasets.base import FS_CLASSES
from training.synthetic import render_sample
from training.synthetic import scene as scene_mod
from training.synthetic.camera import _View
from training.synthetic.distractors import _PAINT_YELLOW, _part, HIVIS_ORANGE, person
from training.synthetic.render import _render as _render_frame
from training.synthetic.scene import _Scene

BLUE, YELLOW, ORANGE, LARGE_ORANGE, UNKNOWN = (FS_CLASSES.index(n) for n in (
    'blue_cone', 'yellow_cone', 'orange_cone', 'large_orange_cone', 'unknown_cone'))
TRACK = FS_CLASSES.index('track')
CONES = (BLUE, YELLOW, ORANGE, LARGE_ORANGE, UNKNOWN)
# Hue (degrees) of the body of real FS cones, as the renders must show them.
HUE_RANGE = {BLUE: (200.0, 245.0), YELLOW: (38.0, 70.0), ORANGE: (5.0, 32.0),
             LARGE_ORANGE: (5.0, 32.0)}
PLAIN = {'exposure': 1.0, 'wb': np.ones(3), 'gamma': 1.0, 'vignette': 0.0, 'blur': 0.0,
         'motion': 0, 'motion_angle': 0.0, 'noise': 0.0, 'jpeg': 0, 'bloom': 0.0,
         'flare': 0.0, 'knee': 0.9}


def _render(scene, view, rng, effects):
    """Render one view without supersampling; return (image, mask)."""
    frame = _render_frame(scene, view, rng, effects, supersample=1, min_cone_px=0)
    return frame.image, frame.mask


def hsv(img):
    """Return hue in degrees (-60..300, red around 0), saturation and value in 0..255."""
    h, s, v = cv2.split(cv2.cvtColor(img, cv2.COLOR_RGB2HSV_FULL).astype(float))
    h = h * 360.0 / 256.0
    return np.where(h > 300.0, h - 360.0, h), s, v


def bare_scene(seed, sun_az=0.0, sun_elev=20.0, ambient=0.35, direct=1.0):
    """Return a scene without objects, markings, rubber or wet, lit by a given sun."""
    sc = _Scene(np.random.default_rng(seed))
    sc.boxes = []
    sc.markings = {}
    sc.tyre_marks = (np.zeros((0, 4, 2)), np.zeros(0))
    sc.wet = 0.0
    sc.overcast = False
    sc.sun_az, sc.sun_elev = math.radians(sun_az), math.radians(sun_elev)
    sc.sun_dir = np.array([math.cos(sc.sun_elev) * math.cos(sc.sun_az),
                           math.cos(sc.sun_elev) * math.sin(sc.sun_az), math.sin(sc.sun_elev)])
    sc.ambient, sc.direct = ambient, direct
    sc.sun_rgb = sc.sky_rgb = np.ones(3)
    sc.lit = ambient + direct * math.sin(sc.sun_elev)
    sc.lit_rgb = np.full(3, sc.lit)
    sc.palette = None
    sc.look_cache = {}
    sc.nose = None
    return sc


def view_of(sc, at, width=320, height=192, back=12.0, side=0.0):
    """Return a camera on the ground ``back`` metres before world point ``at``, facing it."""
    tr = sc.track
    i = int(np.argmin(np.linalg.norm(tr.center - at, axis=1)))
    t = tr.tangent[i]
    pos = np.asarray(at) - t * back + np.array([-t[1], t[0]]) * side
    yaw = math.atan2(at[1] - pos[1], at[0] - pos[0])
    return _View((pos[0], pos[1], 1.0), yaw, yaw, math.radians(-6.0), 0.0, math.radians(70),
                 width, height)


def pixel(cam, p):
    """Return the (row, col) of world point ``p`` (x, y, z) in the image of ``cam``."""
    uv = cam.cam.project(cam.cam.to_cam(np.asarray(p, float)))
    return int(round(uv[1])), int(round(uv[0]))


def patch_mean(img, rc, r=3):
    """Return the mean luminance of a small square of pixels around (row, col)."""
    y, x = rc
    return float(img[y - r:y + r + 1, x - r:x + r + 1].astype(float).mean())


def test_distractors_in_cone_colours_are_never_labelled_cones(monkeypatch):
    """Without cones the masks hold only background and track, yet cone colours abound."""
    monkeypatch.setattr(scene_mod._Scene, '_make_cones',
                        lambda self, rng: setattr(self, 'cones', []))
    monkeypatch.setattr(scene_mod._Scene, '_add_unknown', lambda self, cones, rng, s: None)
    warm = 0
    for i in range(24):
        img, mask = render_sample(31, i, 256, 144)
        assert set(np.unique(mask)) <= {0, TRACK}, f'sample {i}: a cone class without cones'
        h, s, v = hsv(img)
        warm += ((s > 150) & (v > 90) & (h > 5) & (h < 68)).sum() >= 20
    # people in hi-vis, tents, banners, barriers, autumn leaves, paint: orange and yellow
    # in a third of the views at least (scenes of plain grass and asphalt had almost none)
    assert warm >= 8, warm


def test_cone_colours_stay_in_their_class_hue_range_and_vary():
    """Every rendered cone class reads as its colour; bodies differ between cones."""
    found = {c: [] for c in HUE_RANGE}
    for i in range(48):
        img, mask = render_sample(5, i, 320, 192)
        h, s, v = hsv(img)
        for c in HUE_RANGE:
            inner = cv2.erode((mask == c).view(np.uint8), np.ones((3, 3), np.uint8)) > 0
            body = inner & (s > 90) & (v > 40)
            if body.sum() >= 25:   # not a few pixels smeared by motion blur
                found[c].append(np.median(h[body]))
    for c, (lo, hi) in HUE_RANGE.items():
        hues = np.array(found[c])
        if c != LARGE_ORANGE:
            assert len(hues) >= 5, f'too few samples show {FS_CLASSES[c]}'
        assert np.all((hues >= lo) & (hues <= hi)), (FS_CLASSES[c], np.round(hues, 1))
    # the cones are not all of one colour: red-orange to yellow-orange, several blues
    for c in (BLUE, YELLOW, ORANGE):
        assert np.ptp(found[c]) >= 6.0, (FS_CLASSES[c], np.round(found[c], 1))
    # orange never drifts into yellow
    assert max(found[ORANGE] + found[LARGE_ORANGE]) + 8 < min(found[YELLOW])


def test_cone_materials_keep_the_class_colour_per_cone():
    """Per-cone bodies (manufacturers, fading) stay within the class's hue and differ."""
    from training.synthetic.materials import _cone_look, _rgb_to_hsv
    spread = {c: [] for c in HUE_RANGE}
    for seed in range(12):
        sc = _Scene(np.random.default_rng([77, seed]))
        cones = sc.cone_arrays()
        geo = {'light': np.zeros((0, 6))}
        out = _cone_look(sc, cones, np.zeros(0, int), geo)
        hue, sat, _ = _rgb_to_hsv(out['seg_col'][:, 0])
        hue = np.where(hue > 300, hue - 360, hue)
        for c, (lo, hi) in HUE_RANGE.items():
            sel = cones['cls'] == c
            assert np.all((hue[sel] >= lo) & (hue[sel] <= hi)), (seed, FS_CLASSES[c])
            assert np.all(sat[sel] > 0.4), (seed, FS_CLASSES[c])
            if sel.sum() >= 2:
                spread[c].append(np.ptp(hue[sel]))
        # the same cone keeps its material when cones are added (drive and samples agree)
        sc._add_unknown(sc.cones, np.random.default_rng(1), 10.0)
        more = _cone_look(sc, sc.cone_arrays(), np.zeros(0, int), geo)
        assert np.array_equal(more['seg_col'][:len(hue)], out['seg_col'])
    for c in (BLUE, YELLOW, ORANGE):
        assert np.median(spread[c]) > 1.0, (FS_CLASSES[c], spread[c])


@pytest.mark.parametrize('sun_az', [0.0, 110.0, 230.0])
def test_shadows_darken_the_ground_on_the_side_away_from_the_sun(sun_az):
    """A wall's and a cone's shadows fall away from a low sun, not towards it."""
    sc = bare_scene(3, sun_az=sun_az, sun_elev=12.0)
    c = sc.track.center.mean(axis=0)   # inside the loop, far from the track
    sc.apron = c + np.array([[-1e3, -1e3], [1e3, -1e3], [1e3, 1e3], [-1e3, 1e3]])
    sun = sc.sun_dir[:2] / np.linalg.norm(sc.sun_dir[:2])
    view = np.array([-sun[1], sun[0]])   # look across the sun's rays
    yaw = math.atan2(view[1], view[0])
    sc.boxes = [_part(c[0], c[1], yaw, (4.0, 0.3, 2.0), (0.5, 0.5, 0.5))]
    cone_at = c - view * 8.0
    sc.cones = [(cone_at[0], cone_at[1], BLUE, 'small', None, None, 0.0, None)]
    for base, dist, back, height, pitch in ((c, 3.0, 14.0, 1.0, -6.0),
                                            (cone_at, 0.6, 1.5, 2.0, -50.0)):
        pos = base - view * back
        cam = _View((pos[0], pos[1], height), yaw, yaw, math.radians(pitch), 0.0,
                    math.radians(70), 320, 192)
        img, mask = _render(sc, cam, np.random.default_rng(0), dict(PLAIN))
        lum = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        shade = pixel(cam, (*(base - sun * dist), 0.0))
        sunny = pixel(cam, (*(base + sun * dist), 0.0))
        assert mask[shade] == mask[sunny] == 0   # both on the open apron
        assert patch_mean(lum, shade, 2) < 0.8 * patch_mean(lum, sunny, 2), (sun_az, dist)


def test_paint_changes_colours_never_labels():
    """A yellow line painted across the track is yellow in the image and track in the mask."""
    sc = bare_scene(8)
    sc.apron, sc.shoulder = None, 0.0   # grass beside the track
    tr = sc.track
    i = tr.n // 4
    at = tr.center[i]
    cam = view_of(sc, at, back=8.0)
    plain_img, plain_mask = _render(sc, cam, np.random.default_rng(0), dict(PLAIN))
    n = tr.normal[i]
    a, b = at + n * (tr.width[i] / 2 + 3.0), at - n * (tr.width[i] / 2 + 3.0)
    d = tr.tangent[i] * 0.15
    sc.markings = {_PAINT_YELLOW: np.array([[a - d, b - d, b + d, a + d]])}
    img, mask = _render(sc, cam, np.random.default_rng(0), dict(PLAIN))
    assert np.array_equal(mask, plain_mask)
    changed = np.abs(img.astype(int) - plain_img).sum(axis=2) > 60
    assert changed.sum() >= 30
    # painted on the asphalt only: the track, not the grass beside it
    assert np.all(mask[changed] == TRACK)
    on_track = changed
    h, s, _ = hsv(img)
    assert 35 < np.median(h[on_track]) < 70 and np.median(s[on_track]) > 80


def test_a_person_in_front_of_a_cone_hides_it_and_is_background():
    """Distractors are drawn by depth: a marshal between camera and cone occludes it."""
    sc = bare_scene(11)
    tr = sc.track
    i = tr.n // 2
    cone_at = tr.left[i]
    sc.cones = [(cone_at[0], cone_at[1], ORANGE, 'small', None, None, 0.0, None)]
    cam = view_of(sc, cone_at, back=9.0)
    _, alone = _render(sc, cam, np.random.default_rng(0), dict(PLAIN))
    seen = (alone == ORANGE).sum()
    assert seen >= 20
    toward = (cam.cam.pos[:2] - cone_at) / np.linalg.norm(cam.cam.pos[:2] - cone_at)
    p = cone_at + toward * 3.0
    facing = math.atan2(toward[1], toward[0])
    sc.boxes = person(np.random.default_rng(2), p[0], p[1], facing, HIVIS_ORANGE)
    torso = sc.boxes[2]
    sc.look_cache = {}
    img, mask = _render(sc, cam, np.random.default_rng(0), dict(PLAIN))
    assert (mask == ORANGE).sum() < 0.5 * seen        # hidden behind the person
    vest = pixel(cam, (p[0], p[1], torso[5]['z0'] + 0.4 * torso[3][2]))
    assert mask[vest] == 0                            # the vest is background
    h, s, _ = hsv(img)
    assert 5 < h[vest] < 40 and s[vest] > 120         # and as orange as a cone


def test_a_low_sun_in_view_gives_glare():
    """Looking into a low sun: a blown-out sun, a veil of light around it."""
    sc = bare_scene(4, sun_az=0.0, sun_elev=6.0, direct=1.2)
    sc.ring_heights = np.zeros_like(sc.ring_heights)   # nothing in front of the sun
    cam = _View((0.0, 0.0, 1.0), 0.0, 0.0, 0.0, 0.0, math.radians(70), 320, 192)
    row, col = pixel(cam, (1000.0, 0.0, 1000.0 * math.tan(sc.sun_elev)))
    assert 0 <= row < 192 and 0 <= col < 320
    dull, _ = _render(sc, cam, np.random.default_rng(0), dict(PLAIN))
    glare, _ = _render(sc, cam, np.random.default_rng(0), dict(PLAIN, flare=1.0, bloom=0.1))
    assert dull[row, col].min() >= 250 and glare[row, col].min() >= 250
    around = (slice(max(row - 40, 0), row + 40), slice(max(col - 60, 0), col + 60))
    assert glare[around].mean() > dull[around].mean() + 5


def test_scenes_vary_in_weather_surface_and_venue():
    """Across scenes: overcast and low sun, wet days, concrete, autumn, busy and empty venues."""
    looks = [_Scene(np.random.default_rng([91, i])) for i in range(40)]
    assert 4 <= sum(s.overcast for s in looks) <= 20
    assert 4 <= sum(s.low_sun for s in looks) <= 24
    assert 1 <= sum(s.wet > 0 for s in looks)
    assert 1 <= sum(s.concrete for s in looks)
    assert 2 <= sum(s.autumn > 0 for s in looks)
    parts = [len(s.boxes) for s in looks]
    assert min(parts) < 0.5 * max(parts)
    assert all(s.sun_elev < math.radians(16) for s in looks if s.low_sun)
