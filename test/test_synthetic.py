# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Synthetic FS scenes (training.synthetic): labels, determinism, files, drives.

Everything is rendered for real at small resolutions; files are written to and
read back from a temporary folder with OpenCV, and the CLI runs in a subprocess
where the behaviour depends on a real process (entry point, SIGKILL).
"""

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import cv2
from eunet_ros.core.checkpoint import DEFAULT_PALETTE
import numpy as np
import pytest
from training.datasets.base import FS_CLASSES, SegmentationSource
from training.synthetic import (drive_frame_count, get_args_parser, main, render_drive,
                                render_sample, sample_stem, SyntheticSource, write_drive)

ROOT = Path(__file__).resolve().parents[1]
BLUE, YELLOW, ORANGE, LARGE_ORANGE = (FS_CLASSES.index(n) for n in (
    'blue_cone', 'yellow_cone', 'orange_cone', 'large_orange_cone'))
TRACK = FS_CLASSES.index('track')


def run_cli(*argv):
    """Run ``python -m training.synthetic`` in this process; return its exit code."""
    return main(get_args_parser().parse_args([str(a) for a in argv]))


def read_rgb(path):
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, f'{path} does not decode'
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_mask(path):
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert mask is not None, f'{path} does not decode'
    return mask


def stems(folder, ext):
    return sorted(p.stem for p in Path(folder).glob(f'*.{ext}'))


def test_synthetic_same_seed_gives_the_same_bytes():
    img1, mask1 = render_sample(4, 7, 96, 64)
    img2, mask2 = render_sample(4, 7, 96, 64)
    assert img1.dtype == np.uint8 and img1.shape == (64, 96, 3)
    assert mask1.dtype == np.uint8 and mask1.shape == (64, 96)
    assert img1.tobytes() == img2.tobytes()
    assert mask1.tobytes() == mask2.tobytes()


def test_synthetic_texture_lookup_wraps_at_the_seam():
    """
    Train sample 2307 of seed 1000 once stopped a 4000-image render.

    A tree-line texel at u = -1e-9 gave ``np.float32(-1e-9) % 1024 == 1024.0``, one past
    the texture; the integer index is now wrapped as well.
    """
    img, mask = render_sample(1000, 2307, 640, 360)
    assert img.shape == (360, 640, 3) and mask.shape == (360, 640)


def test_synthetic_seeds_and_indices_give_different_scenes():
    base_img, base_mask = render_sample(0, 0, 96, 64)
    for seed, index in ((1, 0), (0, 1), (1000, 0)):
        img, mask = render_sample(seed, index, 96, 64)
        assert np.abs(img.astype(int) - base_img).mean() > 5, (seed, index)
        assert (mask != base_mask).mean() > 0.02, (seed, index)


def test_synthetic_sample_does_not_depend_on_count_or_order():
    small, large = SyntheticSource(3, seed=9, width=80, height=48), SyntheticSource(
        500, seed=9, width=80, height=48)
    later = [large.load(i) for i in (2, 1)]   # other order, other count
    for (img_a, mask_a), (img_b, mask_b) in zip([small.load(2), small.load(1)], later):
        assert np.array_equal(img_a, img_b) and np.array_equal(mask_a, mask_b)
    assert small.name(2) == large.name(2) == sample_stem(9, 2)


def test_synthetic_source_follows_the_segmentation_contract():
    src = SyntheticSource(4, seed=2, width=72, height=40)
    assert isinstance(src, SegmentationSource)
    assert tuple(src.classes) == FS_CLASSES and src.labelled is None
    assert src.labelled_ids() == list(range(len(FS_CLASSES)))
    assert len(src) == 4
    img, mask = src.load(3)
    assert img.shape == (40, 72, 3) and img.dtype == np.uint8
    assert mask.shape == (40, 72) and mask.dtype == np.uint8
    assert len({src.name(i) for i in range(4)}) == 4
    with pytest.raises(IndexError):
        src.load(4)
    with pytest.raises(ValueError, match='count'):
        SyntheticSource(0)
    with pytest.raises(ValueError, match='resolution'):
        SyntheticSource(3, width=8, height=8)
    with pytest.raises(ValueError, match='seed'):
        SyntheticSource(3, seed=-1)


def test_synthetic_masks_use_the_class_table_and_show_every_class():
    seen = np.zeros(len(FS_CLASSES), int)
    for i in range(40):
        _, mask = render_sample(1, i, 160, 96)
        # class ids, and 255 (ignore) over cones too small to learn (min_cone_px)
        assert np.all((mask < len(FS_CLASSES)) | (mask == 255))
        seen += np.bincount(mask.ravel(), minlength=256)[:len(FS_CLASSES)] > 0
    missing = [FS_CLASSES[c] for c in np.nonzero(seen == 0)[0]]
    assert not missing, f'classes never rendered in 40 samples: {missing}'
    # every picture shows background and the track it drives on
    assert seen[0] == 40 and seen[TRACK] == 40


def test_synthetic_labels_are_aligned_with_what_is_drawn():
    """Cone pixels carry the cone's colour, track pixels are asphalt grey."""
    colours = {c: [] for c in (BLUE, YELLOW, ORANGE, LARGE_ORANGE, TRACK)}
    shifted_blue = []
    kernel = np.ones((3, 3), np.uint8)
    for i in range(40):
        img, mask = render_sample(5, i, 320, 192)
        rgb = img.astype(float)
        for c in colours:
            inner = cv2.erode((mask == c).view(np.uint8), kernel).astype(bool)
            if inner.sum() >= 20:
                colours[c].append(rgb[inner].mean(axis=0))
        # the blue-cone mask moved by 6 px lands on much less blue
        blue = (mask == BLUE)
        moved = np.roll(blue, 6, axis=1) & ~blue
        if blue.sum() >= 40 and moved.sum() >= 40:
            blueness = rgb[..., 2] - (rgb[..., 0] + rgb[..., 1]) / 2
            shifted_blue.append((blueness[blue].mean(), blueness[moved].mean()))
    for c, found in colours.items():
        assert len(found) >= 2, f'too few samples with {FS_CLASSES[c]} pixels'
    r, g, b = np.mean(colours[BLUE], axis=0)
    assert b > r + 25 and b > g + 10, f'blue_cone pixels are not blue: {(r, g, b)}'
    r, g, b = np.mean(colours[YELLOW], axis=0)
    assert r > b + 50 and g > b + 40, f'yellow_cone pixels are not yellow: {(r, g, b)}'
    for c in (ORANGE, LARGE_ORANGE):
        r, g, b = np.mean(colours[c], axis=0)
        assert r > g + 30 and g > b, f'{FS_CLASSES[c]} pixels are not orange: {(r, g, b)}'
    track = np.array(colours[TRACK])
    spread = track.max(axis=1) - track.min(axis=1)
    assert np.all(spread < 40), f'track pixels are not grey: {track[spread >= 40]}'
    assert np.all((track.mean(axis=1) > 25) & (track.mean(axis=1) < 220))
    on, off = np.mean(shifted_blue, axis=0)
    assert on > off + 30, f'blue-cone mask is not on the blue cones: {on:.1f} vs {off:.1f}'


def test_synthetic_cli_writes_a_folder_dataset(tmp_path):
    out = tmp_path / 'synth'
    assert run_cli('--out', out, '--count', 3, '--seed', 11, '--width', 64, '--height', 48,
                   '--format', 'png', '--quiet') == 0
    names = stems(out / 'images', 'png')
    assert names == stems(out / 'masks', 'png') == [sample_stem(11, i) for i in range(3)]
    meta = json.loads((out / 'meta.json').read_text())
    assert meta['classes'] == list(FS_CLASSES)
    assert meta['palette'] == [list(c) for c in DEFAULT_PALETTE]
    assert meta['seed'] == 11 and meta['count'] == 3 and meta['complete'] is True
    assert meta['resolution'] == {'width': 64, 'height': 48}
    for i, stem in enumerate(names):   # the files hold exactly what the renderer draws
        img, mask = render_sample(11, i, 64, 48)
        assert np.array_equal(read_rgb(out / 'images' / f'{stem}.png'), img)
        assert np.array_equal(read_mask(out / 'masks' / f'{stem}.png'), mask)
    assert not list(out.rglob('*.tmp'))


WORKERS_AFTER_THREADS = """
import sys
import cv2, numpy as np, torch
# threads busy first, as in a training process: forked workers used to deadlock here
torch.randn(256, 256) @ torch.randn(256, 256)
cv2.GaussianBlur(np.zeros((512, 512, 3), np.uint8), (0, 0), 3)
from training.synthetic import get_args_parser, main
sys.exit(main(get_args_parser().parse_args(sys.argv[1:])))
"""


def test_synthetic_cli_workers_write_the_same_dataset(tmp_path):
    one, two = tmp_path / 'one', tmp_path / 'two'
    common = ['--count', '5', '--seed', '21', '--width', '48', '--height', '32', '--format',
              'png', '--quiet']
    assert run_cli('--out', one, *common) == 0
    proc = subprocess.Popen([sys.executable, '-c', WORKERS_AFTER_THREADS, '--out', str(two),
                             '--workers', '2', *common], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)   # the workers too
        proc.communicate()
        pytest.fail('--workers 2 hung (deadlocked workers?)')
    assert proc.returncode == 0, err
    names = stems(one / 'masks', 'png')
    assert names == stems(two / 'masks', 'png') == stems(two / 'images', 'png')
    assert len(names) == 5
    for stem in names:
        for sub in ('images', 'masks'):
            assert (one / sub / f'{stem}.png').read_bytes() == (
                two / sub / f'{stem}.png').read_bytes()


def test_synthetic_module_entry_point_writes_jpeg_dataset(tmp_path):
    out = tmp_path / 'jpg'
    r = subprocess.run([sys.executable, '-m', 'training.synthetic', '--out', str(out),
                        '--count', '2', '--seed', '3', '--width', '80', '--height', '48'],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert stems(out / 'images', 'jpg') == stems(out / 'masks', 'png') == [
        sample_stem(3, 0), sample_stem(3, 1)]
    # same scene in another process: the masks are byte-identical
    assert np.array_equal(read_mask(out / 'masks' / f'{sample_stem(3, 1)}.png'),
                          render_sample(3, 1, 80, 48)[1])
    assert read_rgb(out / 'images' / f'{sample_stem(3, 1)}.jpg').shape == (48, 80, 3)


def test_synthetic_cli_resumes_and_skips_complete_files(tmp_path, caplog):
    out = tmp_path / 'resume'
    args = ['--out', out, '--seed', 5, '--width', 48, '--height', 32, '--format', 'png',
            '--quiet']
    assert run_cli(*args, '--count', 3) == 0
    kept = out / 'masks' / f'{sample_stem(5, 0)}.png'
    stat_before = kept.stat()
    # a run killed between image and mask, and a temporary file it left behind
    (out / 'masks' / f'{sample_stem(5, 1)}.png').unlink()
    (out / 'images' / f'.{sample_stem(5, 2)}.png.1234.tmp').write_bytes(b'half')
    caplog.clear()
    with caplog.at_level('INFO', logger='training.synthetic'):
        assert run_cli(*args, '--count', 4) == 0
    assert '2 samples written, 2 already there' in caplog.text
    assert kept.stat().st_mtime_ns == stat_before.st_mtime_ns   # not rewritten
    assert stems(out / 'images', 'png') == stems(out / 'masks', 'png') == [
        sample_stem(5, i) for i in range(4)]
    assert np.array_equal(read_mask(out / 'masks' / f'{sample_stem(5, 1)}.png'),
                          render_sample(5, 1, 48, 32)[1])
    assert not [p for p in out.rglob('.*') if p.is_file()]


def test_synthetic_cli_refuses_to_mix_settings_in_one_folder(tmp_path, caplog):
    out = tmp_path / 'mixed'
    assert run_cli('--out', out, '--count', 2, '--seed', 1, '--width', 48, '--height', 32,
                   '--quiet') == 0
    before = sorted(p.name for p in out.rglob('*'))
    with caplog.at_level('ERROR', logger='training.synthetic'):
        assert run_cli('--out', out, '--count', 2, '--seed', 2, '--width', 48, '--height', 32,
                       '--quiet') == 2
    assert 'seed=1' in caplog.text and 'another output folder' in caplog.text
    assert sorted(p.name for p in out.rglob('*')) == before


def test_synthetic_cli_rejects_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        run_cli('--count', 3)               # neither --out nor a drive
    assert e.value.code == 2 and 'nothing to do' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_cli('--out', tmp_path / 'x', '--count', 0)
    with pytest.raises(SystemExit):
        run_cli('--out', tmp_path / 'x', '--seed', -3)
    assert run_cli('--out', tmp_path / 'x', '--width', 8, '--height', 8, '--quiet') == 2
    assert run_cli('--video', tmp_path / 'd.avi', '--width', 64, '--height', 48,
                   '--quiet') == 2
    assert run_cli('--video', tmp_path / 'd.mp4', '--width', 65, '--height', 48,
                   '--quiet') == 2
    assert not (tmp_path / 'x').exists() and not list(tmp_path.glob('*.mp4'))


def test_synthetic_killed_run_leaves_only_whole_files_and_resumes(tmp_path):
    out = tmp_path / 'killed'
    cmd = [sys.executable, '-m', 'training.synthetic', '--out', str(out), '--count', '400',
           '--seed', '8', '--width', '64', '--height', '48', '--format', 'png', '--quiet']
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((out / 'masks').glob('*.png'))) < 10:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    masks = stems(out / 'masks', 'png')
    assert 10 <= len(masks) < 400, 'the run was not killed mid-way'
    for stem in masks:   # every mask on disk is whole, and so is its image
        assert read_mask(out / 'masks' / f'{stem}.png').shape == (48, 64)
        assert read_rgb(out / 'images' / f'{stem}.png').shape == (48, 64, 3)
    cmd[cmd.index('400')] = str(len(masks) + 5)
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f'5 samples written, {len(masks)} already there' in r.stderr
    assert stems(out / 'images', 'png') == stems(out / 'masks', 'png') == [
        sample_stem(8, i) for i in range(len(masks) + 5)]
    assert not [p for p in out.rglob('.*') if p.is_file()]


def test_synthetic_drive_writes_video_and_frames(tmp_path):
    video, frames = tmp_path / 'demo' / 'drive.mp4', tmp_path / 'frames'
    r = write_drive(3, seconds=0.6, fps=10, width=96, height=64, video=video, frames=frames,
                    image_format='png', quiet=True)
    n = drive_frame_count(0.6, 10)
    assert r['frames'] == n == 6
    cap = cv2.VideoCapture(str(video))
    assert cap.isOpened()
    decoded = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        decoded.append(frame)
    cap.release()
    assert len(decoded) == n and all(f.shape == (64, 96, 3) for f in decoded)
    names = stems(frames / 'images', 'png')
    assert names == stems(frames / 'masks', 'png') and len(names) == n
    meta = json.loads((frames / 'meta.json').read_text())
    assert meta['fps'] == 10 and meta['count'] == n and meta['complete'] is True
    masks = [read_mask(frames / 'masks' / f'{s}.png') for s in names]
    # consecutive frames of a drive: the track moves a little, it does not jump
    for a, b in zip(masks, masks[1:]):
        ta, tb = a == TRACK, b == TRACK
        assert (ta & tb).sum() / max((ta | tb).sum(), 1) > 0.7
    # the video shows the frames that were written (lossy codec: close, not equal)
    first = cv2.imread(str(frames / 'images' / f'{names[0]}.png'))
    assert np.abs(decoded[0].astype(int) - first).mean() < 12
    assert not [p for p in tmp_path.rglob('.*') if p.is_file()]


def test_synthetic_drive_frames_resume_and_match_a_fresh_render(tmp_path):
    frames = tmp_path / 'frames'
    write_drive(6, seconds=0.3, fps=10, width=64, height=48, frames=frames, quiet=True)
    names = stems(frames / 'masks', 'png')
    assert len(names) == 3
    (frames / 'masks' / f'{names[-1]}.png').unlink()
    write_drive(6, seconds=0.5, fps=10, width=64, height=48, frames=frames, quiet=True)
    assert len(stems(frames / 'images', 'jpg')) == len(stems(frames / 'masks', 'png')) == 5
    fresh = {k: m for k, _, m in render_drive(6, 0.5, 10, 64, 48)}
    for k, stem in enumerate(stems(frames / 'masks', 'png')):
        assert np.array_equal(read_mask(frames / 'masks' / f'{stem}.png'), fresh[k])
