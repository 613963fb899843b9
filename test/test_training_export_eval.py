# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""ONNX export parity at several sizes, and evaluation outputs and scores."""

import json

import cv2
from eunet_ros.core.checkpoint import save_checkpoint
from eunet_ros.core.model import EUnet, EUnetConfig
import numpy as np
import onnx
import pytest
import torch
from training import evaluate, export
from training.datasets.base import UNLABELLED
from training_helpers import write_folder_dataset

TINY = EUnetConfig(widths=(8, 16, 16), num_classes=7, stem='spd2', attention=False)


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    model = EUnet(TINY)
    with torch.no_grad():  # make BN statistics non-trivial
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return save_checkpoint(tmp_path / 'tiny.pt', model=model, input_size=(32, 48),
                           variant='custom')


def test_export_matches_pytorch_at_two_sizes(checkpoint, tmp_path, capsys):
    args = export.get_args_parser().parse_args([
        '--checkpoint', str(checkpoint), '--onnx', str(tmp_path / 'm.onnx'),
        '--check-size', '32', '48', '--check-size', '45', '70'])
    result = export.main(args)
    assert result['ok']
    assert [r['size'] for r in result['checks']] == [[32, 48], [45, 70]]
    for r in result['checks']:
        assert r['argmax_agreement'] == 1.0 and r['max_abs_diff'] < 1e-4
    out = capsys.readouterr().out
    assert 'argmax agreement' in out and 'ONNX Runtime matches PyTorch' in out
    proto = onnx.load(str(tmp_path / 'm.onnx'))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta['eunet_ros.classes'])[1] == 'track'
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ['batch', '', 'height', 'width']
    # one more size (a multiple of the network's) through the same file
    rows = export.check_onnx(checkpoint, tmp_path / 'm.onnx', [(64, 96)], batch=1)
    assert rows[0]['argmax_agreement'] == 1.0


def test_export_cli_exit_codes(checkpoint, tmp_path):
    assert export.cli(['--checkpoint', str(checkpoint), '--onnx', str(tmp_path / 'a.onnx')]) == 0
    assert export.cli(['--checkpoint', str(tmp_path / 'nope.pt'),
                       '--onnx', str(tmp_path / 'b.onnx')]) == 2


def _always_background(tmp_path):
    model = EUnet(TINY)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([5.0, 0, 0, 0, 0, 0, 0]))
    return save_checkpoint(tmp_path / 'bg.pt', model=model, input_size=(32, 48))


def test_evaluate_writes_table_json_confusion_and_overlays(tmp_path, capsys):
    data = write_folder_dataset(tmp_path / 'val', 5, h=40, w=64, seed=3)
    ckpt = _always_background(tmp_path)
    out = tmp_path / 'eval'
    args = evaluate.get_args_parser().parse_args([
        '--checkpoint', str(ckpt), '--dataset', f'folder:{data}', '--output-dir', str(out),
        '--overlays', '2', '--markdown', str(tmp_path / 'table.md'), '--device', 'cpu'])
    result = evaluate.main(args)
    masks = np.stack([cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
                      for p in sorted((data / 'masks').glob('*.png'))])
    bg = float((masks == 0).mean())
    # at the frames' own resolution (40x64, not the 32x48 network input), as the node sees it
    assert result['pixels'] == masks.size
    assert result['pixel_accuracy'] == pytest.approx(bg)
    assert result['iou']['background'] == pytest.approx(bg)
    assert result['iou']['track'] == 0.0
    assert result['images'] == 5
    saved = json.loads((out / 'metrics.json').read_text())
    assert saved['miou'] == pytest.approx(result['miou'])
    assert cv2.imread(str(out / 'confusion.png')) is not None
    overlays = sorted((out / 'overlays').glob('*.png'))
    assert len(overlays) == 2
    assert cv2.imread(str(overlays[0])).shape == (40, 3 * 64, 3)  # image | truth | prediction
    assert '| background |' in (tmp_path / 'table.md').read_text()
    printed = capsys.readouterr().out
    assert 'background' in printed and 'pixel accuracy' in printed


def test_evaluate_partial_labels_scores_only_labelled_classes(tmp_path):
    data = write_folder_dataset(tmp_path / 'cones', 3, seed=4,
                                labelled=['blue_cone', 'yellow_cone', 'orange_cone',
                                          'large_orange_cone', 'unknown_cone'])
    for p in (data / 'masks').glob('*.png'):  # FSOCO-like: non-cone pixels unlabelled
        m = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        m[m < 2] = UNLABELLED
        cv2.imwrite(str(p), m)
    ckpt = _always_background(tmp_path)
    args = evaluate.get_args_parser().parse_args([
        '--checkpoint', str(ckpt), '--dataset', f'folder:{data}',
        '--output-dir', str(tmp_path / 'e'), '--overlays', '0'])
    result = evaluate.main(args)
    # background/track are not scored on such data; predicting background on an
    # unlabelled pixel is consistent, on a cone it is a miss
    assert result['iou']['background'] is None and result['iou']['track'] is None
    assert all(result['iou'][c] in (0.0, None) for c in ('blue_cone', 'yellow_cone'))
    masks = np.stack([cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
                      for p in sorted((data / 'masks').glob('*.png'))])
    assert result['pixel_accuracy'] == pytest.approx(float((masks == UNLABELLED).mean()))


def test_evaluate_refuses_data_with_other_classes(tmp_path):
    data = write_folder_dataset(tmp_path / 'v', 1)
    (data / 'dataset.yaml').write_text('classes: [background, object]\n')
    ckpt = _always_background(tmp_path)
    assert evaluate.cli(['--checkpoint', str(ckpt), '--dataset', f'folder:{data}',
                         '--output-dir', str(tmp_path / 'e')]) == 2
