# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Cones found by distance: training.evaluate, training.compare and the model card.

The data are real files written here (images, masks, uint16 instance maps, scene
JSON per the renderer's schema) and the network has a known answer: each pixel gets
the class whose palette colour is nearest (as ``PaletteModel`` of node_harness.py),
so painting a cone's pixels decides exactly which cones are found.
"""

import json
import time

import cv2
from eunet_ros.core.checkpoint import Checkpoint, DEFAULT_CLASSES, DEFAULT_PALETTE
from eunet_ros.core.checkpoint import save_checkpoint
from eunet_ros.core.engine import SegmentationEngine
from eunet_ros.core.model import config_for_variant, EUnet, EUnetConfig
import numpy as np
import pytest
import torch
from training import compare, evaluate, model_card
from training.cone_distance import ConeDetection, Scene
from training.datasets.base import IGNORE
from training_helpers import PaletteModel

H, W = 96, 128  # the palette engine's input size: no resize, so the prediction is exact
CLASSES = list(DEFAULT_CLASSES)
PALETTE = [tuple(p) for p in DEFAULT_PALETTE]
BLUE, YELLOW, ORANGE, LARGE, UNKNOWN = 2, 3, 4, 5, 6


def cone(cls, d, box, paint=None, rest=0, ignored=False):
    """
    Describe a cone of a test frame.

    :param box: (v0, u0, h, w) of its pixels.
    :param paint: how many of them (the first, row by row) get its class colour; None: all.
    :param rest: the class whose colour the other pixels get.
    """
    return {'cls': cls, 'd': d, 'box': box, 'paint': paint, 'rest': rest, 'ignored': ignored}


FRAMES = {
    'a': [cone(BLUE, 5.0, (5, 5, 10, 10)),                    # found, 0-10
          cone(YELLOW, 15.0, (5, 20, 10, 10), paint=50),      # half its pixels: found
          cone(ORANGE, 25.0, (5, 35, 10, 10), paint=49),      # 49 %: missed
          cone(BLUE, 40.0, (5, 50, 6, 3), ignored=True),      # skipped
          cone(YELLOW, 50.0, (5, 60, 10, 10))],               # found, >35
    'b': [cone(LARGE, 9.99, (20, 5, 12, 10), paint=0, rest=1),  # predicted track: missed
          cone(BLUE, 10.0, (20, 20, 10, 10)),                 # found, 10-20
          cone(UNKNOWN, 12.0, (0, 0, 0, 0))],                 # no visible pixel: skipped
    'c': [],
}


def palette_engine():
    ckpt = Checkpoint(config=config_for_variant('fast', num_classes=len(CLASSES)),
                      state_dict={}, class_names=CLASSES, palette=PALETTE,
                      mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), color_order='rgb',
                      input_size=(H, W), variant='palette-test')
    return SegmentationEngine(ckpt, device='cpu', model=PaletteModel(PALETTE), warmup=False,
                              backend='torch')


def write_frame(root, stem, cones, min_cone_px=8):
    """Write image, mask, instance map and scene JSON of one frame."""
    for sub in ('images', 'masks', 'instances', 'scene'):
        (root / sub).mkdir(parents=True, exist_ok=True)
    img = np.empty((H, W, 3), np.uint8)
    img[:] = PALETTE[0]
    mask = np.zeros((H, W), np.uint8)
    img[60:], mask[60:] = PALETTE[1], 1  # the track
    inst = np.zeros((H, W), np.uint16)
    entries = []
    for k, c in enumerate(cones, 1):
        v0, u0, h, w = c['box']
        inst[v0:v0 + h, u0:u0 + w] = k
        mask[v0:v0 + h, u0:u0 + w] = IGNORE if c['ignored'] else c['cls']
        patch = np.empty((h * w, 3), np.uint8)
        patch[:] = PALETTE[c['rest']]
        patch[:h * w if c['paint'] is None else c['paint']] = PALETTE[c['cls']]
        img[v0:v0 + h, u0:u0 + w] = patch.reshape(h, w, 3)
        entries.append({'instance': k, 'class_id': c['cls'], 'class': CLASSES[c['cls']],
                        'base_xyz': [0.5, 1.2, c['d']], 'distance_m': c['d'],
                        'pixels': h * w, 'bbox': [u0, v0, u0 + w, v0 + h], 'height_px': h,
                        'ignored': c['ignored'], 'knocked_over': False})
    cv2.imwrite(str(root / 'images' / f'{stem}.png'), img[:, :, ::-1])
    cv2.imwrite(str(root / 'masks' / f'{stem}.png'), mask)
    cv2.imwrite(str(root / 'instances' / f'{stem}.png'), inst)
    scene = {'generator_version': 2, 'seed': 7, 'index': 0, 'width': W, 'height': H,
             'camera': {'K': [[100.0, 0, W / 2], [0, 100.0, H / 2], [0, 0, 1]],
                        'distortion_model': 'plumb_bob', 'D': [0.0] * 5, 'height_m': 1.0},
             'min_cone_px': min_cone_px, 'cones': entries}
    (root / 'scene' / f'{stem}.json').write_text(json.dumps(scene))


@pytest.fixture
def data(tmp_path):
    root = tmp_path / 'test_set'
    for stem, cones in FRAMES.items():
        write_frame(root, stem, cones)
    return root


def run(data, out, *extra, engines=None, checkpoint=('palette.pt',)):
    argv = ['--dataset', f'folder:{data}', '--output-dir', str(out), '--overlays', '1',
            '--device', 'cpu', *extra]
    for c in checkpoint:
        argv += ['--checkpoint', str(c)]
    args = evaluate.get_args_parser().parse_args(argv)
    return evaluate.main(args, engines=engines or [palette_engine()])


def cells(by, row):
    return {b: (v['found'], v['cones']) for b, v in by['table'][row].items() if v['cones']}


def test_found_cones_by_class_and_distance(data, tmp_path, capsys):
    md = tmp_path / 'table.md'
    result = run(data, tmp_path / 'eval', '--markdown', str(md))
    by = result['by_distance']
    assert by['bins'] == ['0-10 m', '10-20 m', '20-35 m', '>35 m']
    assert by['frames'] == 3 and by['cones'] == 6 and by['found'] == 4
    assert by['skipped'] == {'ignored': 1, 'no_pixels': 1}
    assert by['min_cone_px'] == 8
    assert cells(by, 'blue_cone') == {'0-10 m': (1, 1), '10-20 m': (1, 1), 'all': (2, 2)}
    assert cells(by, 'yellow_cone') == {'10-20 m': (1, 1), '>35 m': (1, 1), 'all': (2, 2)}
    assert cells(by, 'orange_cone') == {'20-35 m': (0, 1), 'all': (0, 1)}
    assert cells(by, 'large_orange_cone') == {'0-10 m': (0, 1), 'all': (0, 1)}
    assert cells(by, 'unknown_cone') == {}  # listed, but no visible pixel
    assert cells(by, 'all cones') == {'0-10 m': (1, 2), '10-20 m': (2, 2), '20-35 m': (0, 1),
                                      '>35 m': (1, 1), 'all': (4, 6)}
    assert by['table']['all cones']['all']['share'] == pytest.approx(4 / 6)
    assert by['table']['orange_cone']['0-10 m'] == {'cones': 0, 'found': 0, 'share': None}
    # the same rule on the ground-truth masks finds every counted cone
    assert all(v['found'] == v['cones'] for row in by['ground_truth'].values()
               for v in row.values())
    assert by['ground_truth']['all cones']['all']['cones'] == 6
    # the pixel metrics are unchanged: IoU of the exact palette answer
    assert result['images'] == 3 and result['iou']['background'] is not None
    saved = json.loads((tmp_path / 'eval' / 'metrics.json').read_text())
    assert saved['by_distance'] == by
    printed = capsys.readouterr().out
    assert 'IoU %' in printed and 'cones found by distance' in printed
    assert '4/6  66.7%' in printed and '0/1   0.0%' in printed
    assert ('not counted: 1 ignored cone (under 8 px tall, 255 in the masks), '
            '1 without a visible pixel') in printed
    text = md.read_text()
    assert '| background |' in text  # the IoU table first, then the distance table
    assert '| cones found % (found/cones) | 0-10 m | 10-20 m | 20-35 m | >35 m | all |' in text
    assert ('| **all cones** | 50.0 (1/2) | 100.0 (2/2) | 0.0 (0/1) | 100.0 (1/1) '
            '| 66.7 (4/6) |') in text
    assert '| unknown_cone | – | – | – | – | – |' in text
    assert 'at least 50% of its pixels' in text


def test_distance_bins_option(data, tmp_path):
    by = run(data, tmp_path / 'e', '--distance-bins', '0', '20')['by_distance']
    assert by['bins'] == ['0-20 m', '>20 m'] and by['bin_edges_m'] == [0.0, 20.0]
    assert cells(by, 'all cones') == {'0-20 m': (3, 4), '>20 m': (1, 2), 'all': (4, 6)}
    # a bin below the first edge appears only when cones lie there
    by = run(data, tmp_path / 'f', '--distance-bins', '8', '30')['by_distance']
    assert by['bins'] == ['<8 m', '8-30 m', '>30 m']
    assert cells(by, 'all cones') == {'<8 m': (1, 1), '8-30 m': (2, 4), '>30 m': (1, 1),
                                      'all': (4, 6)}
    assert evaluate.cli(['--checkpoint', 'x.pt', '--dataset', f'folder:{data}',
                         '--distance-bins', '10', '5']) == 2


def test_without_scene_folders_evaluation_is_as_before(data, tmp_path, capsys):
    import shutil
    shutil.rmtree(data / 'scene')
    shutil.rmtree(data / 'instances')
    md = tmp_path / 'table.md'
    result = run(data, tmp_path / 'e', '--markdown', str(md))
    assert 'by_distance' not in result
    assert 'by_distance' not in json.loads((tmp_path / 'e' / 'metrics.json').read_text())
    assert 'cones found' not in md.read_text() and '| background |' in md.read_text()
    assert 'cones found' not in capsys.readouterr().out


def always_background(path):
    model = EUnet(EUnetConfig(widths=(8, 16, 16), num_classes=7, stem='spd2',
                              attention=False))
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([5.0, 0, 0, 0, 0, 0, 0]))
    return save_checkpoint(path, model=model, input_size=(32, 48),
                           provenance={'data': {'train': []}})


def _scene(data, stem='a'):
    return json.loads((data / 'scene' / f'{stem}.json').read_text())


def _break(data, how):
    """Damage the dataset; return the file (or folder) the message must name."""
    if how == 'missing json':
        (data / 'scene' / 'b.json').unlink()
        return 'scene/b.json'
    if how == 'truncated json':
        p = data / 'scene' / 'a.json'
        p.write_text(p.read_text()[:40])
        return 'scene/a.json'
    if how == 'old generator':
        s = _scene(data)
        del s['generator_version']
        (data / 'scene' / 'a.json').write_text(json.dumps(s))
        return 'scene/a.json'
    if how == 'class mismatch':
        s = _scene(data)
        s['cones'][0]['class'] = 'yellow_cone'
        (data / 'scene' / 'a.json').write_text(json.dumps(s))
        return 'cones[0]'
    if how == 'missing instances':
        (data / 'instances' / 'c.png').unlink()
        return 'instances/c.png'
    if how == 'no instances folder':
        import shutil
        shutil.rmtree(data / 'instances')
        return 'no instances/'
    if how == 'id beyond the cones':
        inst = np.full((H, W), 9, np.uint16)
        cv2.imwrite(str(data / 'instances' / 'b.png'), inst)
        return 'instances/b.png'
    if how == 'wrong size':
        cv2.imwrite(str(data / 'instances' / 'a.png'), np.zeros((H, W + 1), np.uint16))
        return 'instances/a.png'
    if how == 'not a png':
        (data / 'instances' / 'a.png').write_bytes(b'not a png')
        return 'instances/a.png'
    raise AssertionError(how)


@pytest.mark.parametrize('how', ['missing json', 'truncated json', 'old generator',
                                 'class mismatch', 'missing instances', 'no instances folder',
                                 'id beyond the cones', 'wrong size', 'not a png'])
def test_broken_scene_files_give_a_clear_error(data, tmp_path, capsys, how):
    names = _break(data, how)
    ckpt = always_background(tmp_path / 'bg.pt')
    rc = evaluate.cli(['--checkpoint', str(ckpt), '--dataset', f'folder:{data}',
                       '--output-dir', str(tmp_path / 'e'), '--overlays', '0',
                       '--device', 'cpu'])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith('error: ')]
    assert rc == 2 and len(err) == 1
    assert names in err[0]
    assert 're-render the dataset' in err[0] and 'without the distance table' in err[0]


def test_compare_two_checkpoints_side_by_side(data, tmp_path, capsys):
    bg = always_background(tmp_path / 'bg.pt')
    out = tmp_path / 'cmp'
    md = tmp_path / 'cmp.md'
    res = run(data, out, '--label', 'palette', '--label', 'background', '--markdown', str(md),
              checkpoint=('palette.pt', bg), engines=[palette_engine(), None])
    assert res['labels'] == ['palette', 'background']
    first, second = res['results']
    assert first['by_distance']['found'] == 4 and second['by_distance']['found'] == 0
    for folder in ('palette', 'background'):
        assert (out / folder / 'metrics.json').is_file()
    saved = json.loads((out / 'comparison.json').read_text())
    assert saved['checkpoints'] == ['palette.pt', str(bg)]
    assert saved['results'][1]['by_distance']['table']['all cones']['all']['found'] == 0
    printed = capsys.readouterr().out
    table = printed[printed.index('palette vs background'):]
    assert 'palette IoU %' in table and 'background IoU %' in table and 'diff' in table
    assert '66.7 -> 0.0 (n=6)' in table and '100.0 -> 0.0 (n=2)' in table
    text = md.read_text()
    assert (out / 'comparison.md').read_text() == text
    assert '| class | palette IoU % | background IoU % | diff (points) |' in text
    assert '| all cones | 50.0 → 0.0 (n=2) | 100.0 → 0.0 (n=2) | 0.0 → 0.0 (n=1) ' in text
    # the same tables from the two metrics.json files
    assert compare.main([str(out / 'palette' / 'metrics.json'),
                         str(out / 'background' / 'metrics.json'),
                         '--label', 'palette', '--label', 'background',
                         '--markdown', str(tmp_path / 'again.md')]) == 0
    assert '66.7 -> 0.0 (n=6)' in capsys.readouterr().out
    assert (tmp_path / 'again.md').read_text() == '\n'.join(text.split('\n')[2:])
    # default labels: the shortest tails of the paths that differ
    assert compare.default_labels(['runs/a/best.pt', 'runs/b/best.pt']) == ['a/best', 'b/best']


def test_model_card_shows_the_distance_table_and_the_label_rule(data, tmp_path):
    metrics = run(data, tmp_path / 'e')
    ckpt = always_background(tmp_path / 'bg.pt')
    text = model_card.render(ckpt, metrics, None, 'make train-synthetic')
    assert '| background |' in text and '| **all cones** | 50.0 (1/2) |' in text
    # no training folder to check: the rule is stated for the evaluation data only
    assert ('Label rule: cones under 8 px tall at the frame size are marked ignore (255) in '
            'evaluation') in text
    # training folders that say the same: the rule holds in training and evaluation
    train = tmp_path / 'train'
    write_frame(train, 't0', FRAMES['a'])
    spec = [{'type': 'folder', 'root': str(train)}]
    assert model_card.label_rule(metrics, spec) == (
        'Label rule: cones under 8 px tall at the frame size are marked ignore (255) in '
        'training and evaluation.')
    write_frame(train, 't0', FRAMES['a'], min_cone_px=12)
    assert 'the training scenes use 12 px' in model_card.label_rule(metrics, spec)
    # training frames at half the camera's scale with half the threshold: one rule
    assert metrics['by_distance']['frame_height'] == H
    scene_file = train / 'scene' / 't0.json'
    half = json.loads(scene_file.read_text())
    half.update(min_cone_px=4, height=H // 2)
    scene_file.write_text(json.dumps(half))
    assert model_card.label_rule(metrics, spec) == (
        f'Label rule: cones under 8 px tall in the {H} px high evaluation frames '
        f'({800 / H:.2f} % of the frame height) are marked ignore (255); the same share in '
        f'training: 4 px in the {H // 2} px high training frames.')
    # promoted over an earlier checkpoint: the card shows both on the same test set
    (tmp_path / 'm.json').write_text(json.dumps(metrics))
    worse = json.loads(json.dumps(metrics))
    worse['iou']['blue_cone'] = 0.25
    (tmp_path / 'old.json').write_text(json.dumps(worse))
    assert model_card.main(['--checkpoint', str(ckpt), '--eval', str(tmp_path / 'm.json'),
                            '--before-eval', str(tmp_path / 'old.json'), '--before-label',
                            'shipped', '--out', str(tmp_path / 'card.md')]) == 0
    card = (tmp_path / 'card.md').read_text()
    assert '## Before and after, on the same test set' in card
    assert '| class | shipped IoU % | bg.pt IoU % | diff (points) |' in card
    assert '| blue_cone | 25.0 |' in card
    # an evaluation without scene files: the card is as before
    plain = {k: v for k, v in metrics.items() if k != 'by_distance'}
    text = model_card.render(ckpt, plain, None, 'make x')
    assert 'all cones' not in text and 'Label rule' not in text


def test_bookkeeping_is_vectorised_and_matches_a_reference(tmp_path):
    """1280x720 frames with 60 cones: exact counts, and milliseconds per frame."""
    rng = np.random.default_rng(0)
    h, w, n = 720, 1280, 60
    det = ConeDetection(CLASSES)
    want = np.zeros_like(det.cones)
    want_found = np.zeros_like(det.found)
    frames = []
    for _ in range(4):
        inst = rng.integers(0, n + 1, (h, w)).astype(np.uint16)
        inst[rng.random((h, w)) < 0.7] = 0
        cls = rng.integers(2, 7, n)
        dist = rng.uniform(0, 60, n)
        ignored = rng.random(n) < 0.2
        scene = Scene(tmp_path, w, h, 8, cls, dist, ignored)
        pred = np.where(rng.random((h, w)) < 0.5, np.concatenate(([0], cls))[inst], 0)
        pred = pred.astype(np.uint8)
        truth = np.concatenate(([0], cls))[inst].astype(np.uint8)
        frames.append((pred, truth, inst, scene))
        for k in range(1, n + 1):  # the obvious loop over cones, as the reference
            px = inst == k
            if ignored[k - 1] or not px.any():
                continue
            b = int(np.searchsorted(det.bins.edges, dist[k - 1], side='right'))
            want[cls[k - 1], b] += 1
            want_found[cls[k - 1], b] += (pred[px] == cls[k - 1]).mean() >= 0.5
    t0 = time.perf_counter()
    for f in frames:
        det.update(*f)
    per_frame = (time.perf_counter() - t0) / len(frames)
    assert np.array_equal(det.cones, want) and np.array_equal(det.found, want_found)
    assert np.array_equal(det.truth_found, want)
    assert 0 < det.found.sum() < det.cones.sum()
    assert per_frame < 0.25, f'{1000 * per_frame:.0f} ms per 1280x720 frame'
