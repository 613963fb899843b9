# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Pieces every measuring tool shares: text tables, ``WxH`` options, the environment record.

Light to import (torch only inside :func:`environment`), so the training
throughput tool and the experiment scripts can print tables without loading the
benchmark.
"""

from __future__ import annotations

import argparse
import os
import platform
from typing import Any, Dict, Sequence, Tuple

from eunet_ros.core.options import MAX_SIDE, MIN_SIDE

__all__ = ['text_table', 'parse_resolution', 'environment']


def text_table(lines: Sequence[Sequence[str]]) -> str:
    """Render the header and rows of cells as fixed-width text: first column left-aligned."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for j, line in enumerate(lines):
        out.append('  '.join(c.rjust(widths[i]) if i else c.ljust(widths[i])
                             for i, c in enumerate(line)))
        if j == 0:
            out.append('  '.join('-' * wd for wd in widths))
    return '\n'.join(out)


def parse_resolution(s: str) -> Tuple[int, int]:
    """Parse ``WxH`` (e.g. 640x480) for argparse; refuse anything else or sides out of range."""
    try:
        w, h = (int(v) for v in s.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'resolution must be WxH (e.g. 640x480), got {s!r}')
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise argparse.ArgumentTypeError(f'resolution {s!r} is out of range: each side must be '
                                         f'{MIN_SIDE} to {MAX_SIDE} pixels')
    return w, h


def environment(device: Any) -> Dict[str, object]:
    """Describe the machine and versions for the JSON output (``device``: a torch.device)."""
    from eunet_ros.core.ort_backend import onnxruntime_available
    from eunet_ros.core.peers import torchvision_available
    import torch
    ort_ok, ort_why = onnxruntime_available()
    env: Dict[str, object] = {
        'torch': torch.__version__, 'onnxruntime': ort_why if ort_ok else None,
        'python': platform.python_version(),
        'machine': platform.machine(), 'cpu_count': os.cpu_count(),
        'torch_threads': torch.get_num_threads(), 'device': str(device)}
    if device.type == 'cuda':
        env['gpu'] = torch.cuda.get_device_name(device)
        env['cuda'] = torch.version.cuda
    else:
        try:
            with open('/proc/cpuinfo') as f:
                for line in f:
                    if line.startswith('model name'):
                        env['cpu'] = line.split(':', 1)[1].strip()
                        break
        except OSError:
            pass
    ok, tv = torchvision_available()
    env['torchvision'] = tv if ok else None
    if not ok:
        env['torchvision_error'] = tv
    return env
