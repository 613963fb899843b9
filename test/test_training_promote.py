# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""training.promote replaces the shipped checkpoint only with a better one."""

import json

import pytest
from training.promote import main


def metrics(path, cones, miou=0.5):
    iou = {'background': 0.9, 'track': 0.9, 'blue_cone': cones, 'yellow_cone': cones,
           'orange_cone': cones, 'large_orange_cone': cones, 'unknown_cone': None}
    path.write_text(json.dumps({'miou': miou, 'iou': iou}))
    return str(path)


@pytest.fixture
def files(tmp_path):
    cand = tmp_path / 'best.pt'
    cand.write_bytes(b'new weights')
    cur = tmp_path / 'models' / 'shipped.pt'
    cur.parent.mkdir()
    cur.write_bytes(b'old weights')
    return tmp_path, cand, cur


def test_a_better_candidate_replaces_the_shipped_file(files, capsys):
    tmp, cand, cur = files
    rc = main(['--candidate', str(cand), '--candidate-eval', metrics(tmp / 'a.json', 0.7),
               '--current', str(cur), '--current-eval', metrics(tmp / 'b.json', 0.4)])
    assert rc == 0 and cur.read_bytes() == b'new weights'
    assert 'candidate 70.0, current 40.0' in capsys.readouterr().out


def test_a_worse_candidate_leaves_the_shipped_file_alone(files, capsys):
    tmp, cand, cur = files
    rc = main(['--candidate', str(cand), '--candidate-eval', metrics(tmp / 'a.json', 0.3),
               '--current', str(cur), '--current-eval', metrics(tmp / 'b.json', 0.4)])
    assert rc == 1 and cur.read_bytes() == b'old weights'
    assert 'not promoted' in capsys.readouterr().out
    rc = main(['--candidate', str(cand), '--candidate-eval', str(tmp / 'a.json'),
               '--current', str(cur), '--current-eval', str(tmp / 'b.json'), '--force'])
    assert rc == 0 and cur.read_bytes() == b'new weights'


def test_the_metric_can_be_miou(files):
    tmp, cand, cur = files
    rc = main(['--candidate', str(cand), '--candidate-eval', metrics(tmp / 'a.json', 0.9, 0.3),
               '--current', str(cur), '--current-eval', metrics(tmp / 'b.json', 0.1, 0.5),
               '--metric', 'miou'])
    assert rc == 1 and cur.read_bytes() == b'old weights'


def test_missing_evaluations_are_clear_errors(files, capsys):
    tmp, cand, cur = files
    rc = main(['--candidate', str(cand), '--candidate-eval', metrics(tmp / 'a.json', 0.9),
               '--current', str(cur)])
    assert rc == 2 and cur.read_bytes() == b'old weights'
    assert '--current-eval' in capsys.readouterr().err
    with pytest.raises(SystemExit, match='cannot be read'):
        main(['--candidate', str(cand), '--candidate-eval', str(tmp / 'none.json'),
              '--current', str(cur), '--current-eval', str(tmp / 'none.json')])
