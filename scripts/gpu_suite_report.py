# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Combine the GPU suite's step results into one ``suite.json`` and print a summary.

Called by ``scripts/gpu_suite.sh`` after every step (so a suite killed half way
still leaves a valid ``suite.json``) and once more at the end with ``--summary``::

    python3 scripts/gpu_suite_report.py env WORK_DIR/environment.json
    python3 scripts/gpu_suite_report.py combine WORK_DIR OUT_DIR [--summary]

``env`` records the versions and devices (and prints them). ``WORK_DIR`` holds
``steps.tsv`` (one line per step: name, status, exit code, seconds, budget, reason,
command), ``<step>.json`` (the step's own JSON document, ``{environment, args,
rows}``), ``environment.json`` and ``suite_meta.json`` (the suite's header).
Written: ``OUT_DIR/suite.json`` = ``{suite, environment, steps: [{..., result}]}``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import sys
from typing import Any, Dict, List, Optional, Sequence


def _load_json(path: Path) -> Optional[Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_steps(work: Path) -> List[Dict[str, Any]]:
    """Return the steps recorded in ``work/steps.tsv`` with their JSON results."""
    steps = []
    tsv = work / 'steps.tsv'
    lines = tsv.read_text().splitlines() if tsv.exists() else []
    for line in lines:
        parts = line.split('\t')
        if len(parts) < 7:
            continue
        name, status, rc, seconds, budget, reason, command = parts[:7]
        steps.append({'name': name, 'status': status,
                      'rc': int(rc) if rc.lstrip('-').isdigit() else None,
                      'seconds': float(seconds) if seconds else None,
                      'budget_s': int(budget) if budget.isdigit() else None,
                      'reason': reason or None, 'command': command or None,
                      'result': _load_json(work / f'{name}.json')})
    return steps


def write_suite(work: Path, out: Path) -> Dict[str, Any]:
    """Write ``out/suite.json`` atomically and return it."""
    doc = {'suite': _load_json(work / 'suite_meta.json') or {},
           'environment': _load_json(work / 'environment.json') or {},
           'steps': read_steps(work)}
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / '.suite.json.tmp'
    tmp.write_text(json.dumps(doc, indent=1))
    os.replace(tmp, out / 'suite.json')
    return doc


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], left: Sequence[int] = (0,)) -> str:
    lines = [tuple(head)] + [tuple(r) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = []
    for j, line in enumerate(lines):
        out.append('  '.join(c.ljust(widths[i]) if i in left else c.rjust(widths[i])
                             for i, c in enumerate(line)).rstrip())
        if j == 0:
            out.append('  '.join('-' * w for w in widths))
    return '\n'.join(out)


def _f(v: Any, fmt: str = '.2f') -> str:
    return '-' if v is None else format(v, fmt)


def summary(doc: Dict[str, Any]) -> str:
    """Return the human summary: step statuses, then the tables of figures."""
    parts = []
    steps = doc['steps']
    parts.append(_table(('step', 'status', 'rc', 'seconds', 'budget', 'reason'), [
        (s['name'], s['status'], _f(s['rc'], 'd'), _f(s['seconds'], '.0f'),
         _f(s['budget_s'], 'd'), (s['reason'] or '')[:90]) for s in steps], left=(0, 5)))
    net = [(s['name'], r) for s in steps if s['name'].startswith('net')
           for r in ((s['result'] or {}).get('rows') or [])]
    if net:
        parts.append(_table(
            ('step', 'model', 'res', 'prec', 'batch', 'net ms', 'net FPS', 'engine ms',
             'engine FPS'),
            [(n, str(r.get('model')), str(r.get('resolution')), str(r.get('precision')),
              str(r.get('batch')), _f(r.get('net_ms')), _f(r.get('net_fps'), '.1f'),
              _f(r.get('engine_ms')), _f(r.get('engine_fps'), '.1f')) for n, r in net]))
        ratios = []
        for name in sorted({n for n, _ in net}):
            rows = [r for n, r in net if n == name]
            for r in rows:
                if r.get('model') != 'eunet-fast':
                    continue
                peer = next((p for p in rows if p.get('model') == 'lraspp_mobilenet_v3_large'
                             and all(p.get(k) == r.get(k)
                                     for k in ('resolution', 'precision', 'batch'))), None)
                if peer and r.get('net_ms') and peer.get('net_ms'):
                    ratios.append(f'{name} {r["resolution"]} {r["precision"]} batch '
                                  f'{r["batch"]}: eunet-fast {r["net_ms"]:.2f} ms vs LRASPP '
                                  f'{peer["net_ms"]:.2f} ms (LRASPP / EUnet = '
                                  f'{peer["net_ms"] / r["net_ms"]:.2f}; >= 1: EUnet as fast)')
        if ratios:
            parts.append('\n'.join(ratios))
    node = [(s['name'], r) for s in steps if s['name'].startswith('node')
            for r in ((s['result'] or {}).get('rows') or [])]
    if node:
        parts.append(_table(
            ('step', 'cams', 'Hz', 'res', 'device', 'prec', 'sent', 'recv', 'drop %', 'p50 ms',
             'p99 ms', 'max ms', 'p50 q1', 'p50 q4', 'Hz/cam'),
            [(n, str(r.get('cameras')), str(r.get('rate_hz')), str(r.get('resolution')),
              str(r.get('device')), str(r.get('precision')), str(r.get('sent')),
              str(r.get('received')), _f(r.get('dropped_pct')), _f(r.get('latency_ms_p50')),
              _f(r.get('latency_ms_p99')), _f(r.get('latency_ms_max')),
              _f(r.get('latency_p50_first_quarter_ms')),
              _f(r.get('latency_p50_last_quarter_ms')),
              _f(r.get('achieved_hz_per_camera'), '.1f')) for n, r in node]))
    train = [(s['name'], r) for s in steps if s['name'].startswith('train')
             for r in ((s['result'] or {}).get('rows') or [])]
    if train:
        parts.append(_table(
            ('step', 'model', 'input', 'batch', 'amp', 'device', 'workers', 'steps', 'img/s',
             'data wait', 'GPU util %', 'GPU mem MB'),
            [(n, str(r.get('model')), 'x'.join(str(v) for v in reversed(r['input_size'])),
              str(r.get('batch')), str(r.get('amp')), str(r.get('device')),
              str(r.get('workers')), str(r.get('steps')), _f(r.get('images_per_s'), '.1f'),
              _f(100 * r['data_wait_fraction'] if r.get('data_wait_fraction') is not None
                 else None, '.1f') + '%', _f(r.get('gpu_util_pct_mean'), '.1f'),
              _f(r.get('peak_gpu_mem_mb'), '.0f')) for n, r in train]))
    return '\n\n'.join(parts)


def _version(dist: str) -> Optional[str]:
    from importlib import metadata
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _try(fn: Any) -> Any:
    try:
        return fn()
    except Exception as e:  # noqa: B902 - record why, whatever it is
        return f'unavailable ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""})'


def environment() -> Dict[str, Any]:
    """Return versions, devices and the ROS import check of this Python."""
    import platform
    env: Dict[str, Any] = {'python': platform.python_version(), 'executable': sys.executable,
                           'machine': platform.machine(), 'cpu_count': os.cpu_count()}
    try:
        import torch
    except ImportError as e:
        env['torch'] = f'unavailable ({e})'
        return env
    env['torch'] = torch.__version__
    env['torch_cuda'] = torch.version.cuda
    env['cudnn'] = _try(lambda: torch.backends.cudnn.version())
    env['cuda_available'] = torch.cuda.is_available()
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env['gpu'] = props.name
        env['gpu_memory_gib'] = round(props.total_memory / 2 ** 30, 1)
        env['gpu_sm_count'] = props.multi_processor_count
        env['gpu_capability'] = f'{props.major}.{props.minor}'
    for dist in ('torchvision', 'onnxruntime', 'onnxruntime-gpu', 'numpy',
                 'opencv-python-headless', 'lion-pytorch', 'albumentations', 'pydantic',
                 'nvidia-ml-py', 'ros-rclpy', 'rclpy'):
        env[dist] = _version(dist)
    env['onnxruntime_providers'] = _try(
        lambda: __import__('onnxruntime').get_available_providers())

    def ros() -> str:
        import rclpy
        from sensor_msgs.msg import Image  # noqa: F401
        rclpy.init()
        try:
            return rclpy.get_rmw_implementation_identifier()
        finally:
            rclpy.try_shutdown()
    env['rclpy'] = _try(ros)
    for key in ('PYTHONPATH', 'AMENT_PREFIX_PATH', 'ROS_DOMAIN_ID', 'RMW_IMPLEMENTATION',
                'SUITE_COMMIT'):
        env[key] = os.environ.get(key)
    return env


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``env`` or ``combine`` command."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].strip())
    sub = p.add_subparsers(dest='command', required=True)
    e = sub.add_parser('env', help='record versions and devices')
    e.add_argument('json', type=Path, help='where to write them')
    c = sub.add_parser('combine', help='write suite.json from the work folder')
    c.add_argument('work', type=Path, help="the suite's work folder")
    c.add_argument('out', type=Path, help='where suite.json goes')
    c.add_argument('--summary', action='store_true', help='print the summary tables')
    args = p.parse_args(argv)
    if args.command == 'env':
        env = environment()
        for k, v in env.items():
            print(f'{k}: {v}')
        args.json.write_text(json.dumps(env, indent=1))
        return 0
    doc = write_suite(args.work, args.out)
    if args.summary:
        print(summary(doc))
    return 0


if __name__ == '__main__':
    sys.exit(main())
