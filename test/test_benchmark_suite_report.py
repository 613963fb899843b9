# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
scripts/gpu_suite_report.py: suite.json from the step files, and the summary tables.

The GPU suite runs once, unattended, on a machine this repository's CI never sees:
its report must survive every kind of step result (ok with rows, failed without a
file, half-written JSON, skipped) and rows of every mode, including the node rows
whose producer is not run here.
"""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _report():
    spec = importlib.util.spec_from_file_location('gpu_suite_report',
                                                  ROOT / 'scripts' / 'gpu_suite_report.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _net_row(model, ms, res='1280x720', prec='fp16', batch=1):
    return {'model': model, 'resolution': res, 'precision': prec, 'batch': batch,
            'net_ms': ms, 'net_fps': 1000 * batch / ms, 'engine_ms': ms + 1.0,
            'engine_fps': 1000 * batch / (ms + 1.0)}


def _write_work(work: Path) -> None:
    work.mkdir()
    steps = [
        ('install', 'skipped', '', '0', '90', 'everything needed imports already', ''),
        ('net_graphs', 'ok', '0', '41', '120', '', 'python -m eunet_ros.benchmark ...'),
        ('net_b4', 'failed', '1', '3', '75', 'exit code 1 (see suite.log)', 'python ...'),
        ('train_bf16', 'ok', '0', '55', '90', '', 'python -m training.throughput ...'),
        ('node_1cam', 'ok', '0', '44', '75', '', 'python -m eunet_ros.benchmark node ...'),
        ('node_4cam', 'timeout', '124', '170', '170', 'no result within 170s', 'python ...'),
    ]
    (work / 'steps.tsv').write_text(''.join('\t'.join(s) + '\n' for s in steps))
    (work / 'suite_meta.json').write_text(json.dumps({'smoke': False, 'device': 'cuda'}))
    (work / 'environment.json').write_text(json.dumps({'gpu': 'NVIDIA H100 80GB HBM3'}))
    (work / 'net_graphs.json').write_text(json.dumps({'rows': [
        _net_row('eunet-fast', 1.6), _net_row('lraspp_mobilenet_v3_large', 2.0)]}))
    (work / 'net_b4.json').write_text('{"rows": [')   # killed while writing
    (work / 'train_bf16.json').write_text(json.dumps({'rows': [{
        'model': 'eunet-fast', 'input_size': [384, 640], 'batch': 64, 'amp': 'bf16',
        'device': 'cuda', 'workers': 8, 'steps': 300, 'images_per_s': 4321.0,
        'data_wait_fraction': 0.02, 'gpu_util_pct_mean': 97.5, 'peak_gpu_mem_mb': 5000.0}]}))
    (work / 'node_1cam.json').write_text(json.dumps({'rows': [{
        'mode': 'node', 'cameras': 1, 'rate_hz': 60, 'resolution': '1280x720',
        'device': 'cuda', 'precision': 'fp16', 'sent': 1800, 'received': 1799,
        'dropped_pct': 0.06, 'latency_ms_p50': 3.1, 'latency_ms_p99': 6.2,
        'latency_ms_max': 9.0, 'latency_p50_first_quarter_ms': 3.0,
        'latency_p50_last_quarter_ms': 3.1, 'achieved_hz_per_camera': 59.9}]}))


def test_suite_json_and_summary(tmp_path):
    report = _report()
    work, out = tmp_path / 'work', tmp_path / 'out'
    _write_work(work)
    assert report.main(['combine', str(work), str(out)]) == 0
    doc = json.loads((out / 'suite.json').read_text())
    assert doc['suite']['device'] == 'cuda'
    assert doc['environment']['gpu'].startswith('NVIDIA')
    by_name = {s['name']: s for s in doc['steps']}
    assert list(by_name) == ['install', 'net_graphs', 'net_b4', 'train_bf16', 'node_1cam',
                             'node_4cam']
    assert by_name['net_b4']['result'] is None and by_name['net_b4']['rc'] == 1
    assert by_name['node_4cam']['status'] == 'timeout'
    assert by_name['install']['rc'] is None and by_name['install']['reason']
    assert len(by_name['net_graphs']['result']['rows']) == 2
    assert sorted(p.name for p in out.iterdir()) == ['suite.json']

    text = report.summary(doc)
    assert 'LRASPP / EUnet = 1.25' in text
    assert '4321.0' in text and '2.0%' in text and '97.5' in text
    assert '59.9' in text and '6.20' in text
    assert 'no result within 170s' in text


def test_empty_work_folder_still_gives_a_suite_json(tmp_path):
    report = _report()
    (tmp_path / 'work').mkdir()
    assert report.main(['combine', str(tmp_path / 'work'), str(tmp_path / 'out'),
                        '--summary']) == 0
    doc = json.loads((tmp_path / 'out' / 'suite.json').read_text())
    assert doc['steps'] == [] and doc['suite'] == {}
