#!/usr/bin/env python3
# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
EUnet layout candidates against LRASPP-MobileNetV3-Large, in ONE interleaved CPU run.

The log with candidates, predictions, figures and decisions is docs/model_ablation.md;
this script produces its speed table. Every candidate (random weights, 7 classes) and
LRASPP run in ONNX Runtime on the CPU through the engine's runner
(:class:`eunet_ros.core.ort_backend.OrtNetwork`: its session options, 2 threads on 2
cores, no spinning) at the same network input, timed by
:func:`eunet_ros.tools.benchmark.time_round_robin` (interleaved, so all of them share
the same machine load). Printed: median / min wall ms, the median CPU time of the
process per call (both threads: the work itself, which other processes' load
changes much less than the wall time), LRASPP's figure over the candidate's (the
speed-up) for each of the three, parameters and the multiply-accumulates of the
convolutions (a forward pass with hooks).

    python scripts/arch_candidates.py speed --size 640x384 --time 120
    python scripts/arch_candidates.py speed --variants fast fast-sr --peer-onnx lraspp.onnx
    python scripts/arch_candidates.py speed --checkpoint models/eunet_fs_synthetic.pt \
        --variants fast   # target 6 of issue 11: the packaged network against LRASPP

LRASPP needs torchvision, which does not import beside the project's CPU torch. Either
run ``speed`` in a venv where it does (docs/performance.md, CPU run), or export LRASPP
there once and time the file here:

    /tmp/venv-tv/bin/python scripts/arch_candidates.py export-peer --out /tmp/lraspp.onnx
    python scripts/arch_candidates.py speed --peer-onnx /tmp/lraspp.onnx

``export-peer`` also writes ``<out>.json`` (parameters, MACs, versions), which
``speed`` reads for LRASPP's row.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import json
import os
from pathlib import Path
import platform
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eunet_ros.core.engine import padded_size  # noqa: E402
from eunet_ros.core.model import (build_eunet, config_for_variant,  # noqa: E402
                                  count_parameters, VARIANTS)
from eunet_ros.core.ort_backend import export_onnx_bytes, OrtNetwork  # noqa: E402
from eunet_ros.core.peers import build_peer, torchvision_available  # noqa: E402
from eunet_ros.tools.benchmark import time_round_robin  # noqa: E402
from eunet_ros.tools.common import parse_resolution, text_table  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

PEER = 'lraspp_mobilenet_v3_large'
NUM_CLASSES = 7
# fast is the reference layout; the others are the 640x384 candidates of model.VARIANTS
DEFAULT_CANDIDATES = ('fast', 'fast-stem', 'fast-refine', 'fast-sr', 'fast-sr-a23',
                      'fast24-sr-a23', 'spd2-cheap')
# Layouts timed only, to price one option alone (what attention costs per stage); they
# are not variants: EUnetConfig options on top of the named variant.
PROBES: Dict[str, Tuple[str, Dict[str, object]]] = {
    'probe:fast-a23': ('fast', {'attention_stages': (2, 3)}),
    'probe:fast-sr-a0123': ('fast-sr', {'attention_stages': (0, 1, 2, 3)}),
}
Job = Tuple[Dict[str, object], Dict[str, Callable[[], object]]]


def with_cpu_time(fn: Callable[[], object], into: List[float]) -> Callable[[], object]:
    """
    Wrap ``fn`` to also record the CPU time of this process per call (ms, all threads).

    On a shared machine the wall time includes the time other processes hold the cores;
    the CPU time is the work the call itself did, which load changes much less.
    """
    def run() -> object:
        t0 = time.process_time()
        out = fn()
        into.append((time.process_time() - t0) * 1000.0)
        return out
    return run


def conv_macs(model: nn.Module, hw: Sequence[int]) -> int:
    """Multiply-accumulates of every Conv2d / ConvTranspose2d for one 3 x H x W image."""
    total = [0]

    def hook(m: nn.Module, inputs, output) -> None:
        k = m.kernel_size[0] * m.kernel_size[1]
        if isinstance(m, nn.ConvTranspose2d):
            total[0] += inputs[0].numel() * m.out_channels * k // m.groups
        else:
            total[0] += output.numel() * (m.in_channels // m.groups) * k

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    try:
        with torch.inference_mode():
            model.eval()(torch.zeros(1, 3, int(hw[0]), int(hw[1])))
    finally:
        for h in handles:
            h.remove()
    return total[0]


class OnnxFileNetwork(OrtNetwork):
    """An ONNX file in a session with the engine's options (the runner of ``--peer-onnx``)."""

    def __init__(self, path: Path, input_hw: Sequence[int]) -> None:
        import onnxruntime as ort
        self._ort = ort
        self.input_hw = (int(input_hw[0]), int(input_hw[1]))
        self.num_threads = None
        self.path = Path(path)
        self.source = 'file'
        self.note = f'onnx file {path}'
        self._session = self._open(str(path))


def eunet_job(variant: str, hw: Tuple[int, int]) -> Job:
    """Return the row and the timed call of a random-init EUnet variant (or probe) in ORT."""
    if variant in PROBES:
        base, options = PROBES[variant]
        config = replace(config_for_variant(base, num_classes=NUM_CLASSES), **options)
        model = build_eunet(config=config).eval()
    else:
        model = build_eunet(variant=variant, num_classes=NUM_CLASSES).eval()
    ph, pw = padded_size(hw, model)
    runner = OrtNetwork(model, (ph, pw), cache_dir='')
    x = torch.randn(1, 3, ph, pw)
    row = {'model': variant, 'batch': 1, 'params': count_parameters(model),
           'macs': conv_macs(model, (ph, pw)), 'input': f'{pw}x{ph}'}
    return row, {'net': lambda: runner(x)}


def checkpoint_job(path: str, hw: Tuple[int, int]) -> Job:
    """Return the row and the timed call of a checkpoint's network (its weights) in ORT."""
    from eunet_ros.core.checkpoint import load_checkpoint
    ckpt = load_checkpoint(path)
    model = ckpt.build_model().eval()
    ph, pw = padded_size(hw, model)
    runner = OrtNetwork(model, (ph, pw), cache_dir='')
    x = torch.randn(1, 3, ph, pw)
    row = {'model': f'{Path(path).name} ({ckpt.variant})', 'batch': 1,
           'params': count_parameters(model), 'macs': conv_macs(model, (ph, pw)),
           'input': f'{pw}x{ph}', 'source': str(path)}
    return row, {'net': lambda: runner(x)}


def peer_job(hw: Tuple[int, int], peer_onnx: Optional[str]) -> Optional[Job]:
    """Return LRASPP's row and timed call, built here or read from ``peer_onnx``."""
    x = torch.randn(1, 3, *hw)
    ok, why = torchvision_available()
    if ok:
        model = build_peer(PEER, NUM_CLASSES).eval()
        runner = OrtNetwork(model, hw, cache_dir='')
        row = {'model': PEER, 'batch': 1, 'params': count_parameters(model),
               'macs': conv_macs(model, hw), 'input': f'{hw[1]}x{hw[0]}',
               'source': f'torchvision {why}'}
        return row, {'net': lambda: runner(x)}
    if not peer_onnx:
        print(f'# {PEER} skipped: torchvision does not import ({why}) and no --peer-onnx')
        return None
    meta_path = Path(str(peer_onnx) + '.json')
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if meta.get('input_hw') and list(meta['input_hw']) != list(hw):
        raise SystemExit(f'{peer_onnx} was exported at {meta["input_hw"]}, not {list(hw)}')
    runner = OnnxFileNetwork(Path(peer_onnx), hw)
    row = {'model': PEER, 'batch': 1, 'params': meta.get('params', 0),
           'macs': meta.get('macs', 0), 'input': f'{hw[1]}x{hw[0]}',
           'source': f'{peer_onnx} ({meta.get("versions", "versions unknown")})'}
    return row, {'net': lambda: runner(x)}


def load_line() -> str:
    """Return the load averages and the core count, for the log."""
    a, b, c = os.getloadavg()
    return f'load average {a:.2f} {b:.2f} {c:.2f} on {os.cpu_count()} cores'


def cmd_speed(args: argparse.Namespace) -> None:
    """Time the candidates and LRASPP in one interleaved run."""
    import onnxruntime
    w, h = args.size
    hw = (h, w)
    torch.manual_seed(0)
    load_before = os.getloadavg()
    print(f'# before set-up: {load_line()}', flush=True)
    jobs: List[Job] = []
    peer = peer_job(hw, args.peer_onnx)
    if peer is not None:
        jobs.append(peer)
    for path in args.checkpoint:
        jobs.append(checkpoint_job(path, hw))
    for v in args.variants:
        jobs.append(eunet_job(v, hw))
    print(f'# {len(jobs)} networks at {w}x{h}, batch 1, fp32, ONNX Runtime '
          f'{onnxruntime.__version__} CPU, torch {torch.__version__}, python '
          f'{platform.python_version()}; {load_line()}', flush=True)
    if peer is not None:
        print(f'# {PEER}: {peer[0]["source"]}')
    cpu: List[List[float]] = []
    for _, fns in jobs:
        cpu.append([])
        fns['net'] = with_cpu_time(fns['net'], cpu[-1])
    time_round_robin(jobs, torch.device('cpu'), warmup=3, iters=args.rounds,
                     min_time=args.time / 2, max_time=args.time)
    for (row, _), times in zip(jobs, cpu):
        row['net_cpu_ms'] = statistics.median(times[3:])   # without the warm-up calls
    print(f'# after the run: {load_line()}')
    base = jobs[0][0]['net_ms'] if peer is not None else None
    base_min = jobs[0][0]['net_min_ms'] if peer is not None else None
    base_cpu = jobs[0][0]['net_cpu_ms'] if peer is not None else None
    lines = [('network', 'params', 'GMACs', 'median ms', 'min ms', 'CPU ms', 'LRASPP / it',
              'by min', 'by CPU', 'samples')]
    for row, _ in jobs:
        lines.append((str(row['model']), f'{int(row["params"]) / 1e6:.3f} M',
                      f'{int(row["macs"]) / 1e9:.3f}' if row['macs'] else '-',
                      f'{row["net_ms"]:.2f}', f'{row["net_min_ms"]:.2f}',
                      f'{row["net_cpu_ms"]:.2f}',
                      f'{base / row["net_ms"]:.2f}x' if base else '-',
                      f'{base_min / row["net_min_ms"]:.2f}x' if base else '-',
                      f'{base_cpu / row["net_cpu_ms"]:.2f}x' if base else '-',
                      str(row['net_samples'])))
    print(text_table(lines))
    if args.json:
        doc = {'size': [w, h], 'load_before': load_before, 'load_after': os.getloadavg(),
               'cores': os.cpu_count(), 'onnxruntime': onnxruntime.__version__,
               'torch': torch.__version__, 'python': platform.python_version(),
               'rows': [row for row, _ in jobs]}
        Path(args.json).write_text(json.dumps(doc, indent=1, default=str))
        print(f'# wrote {args.json}')


def cmd_export_peer(args: argparse.Namespace) -> None:
    """Export LRASPP (random weights) as ONNX at the given size, with a .json beside it."""
    import torchvision
    w, h = args.size
    model = build_peer(PEER, NUM_CLASSES).eval()
    data = export_onnx_bytes(model, (h, w))
    out = Path(args.out)
    out.write_bytes(data)
    meta = {'input_hw': [h, w], 'params': count_parameters(model),
            'macs': conv_macs(model, (h, w)),
            'versions': f'exported with torch {torch.__version__}, torchvision '
                        f'{torchvision.__version__}'}
    Path(str(out) + '.json').write_text(json.dumps(meta, indent=1))
    print(f'wrote {out} ({len(data) / 1e6:.1f} MB) and {out}.json: {meta}')


def get_args_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].strip())
    sub = p.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('speed', help='time the candidates and LRASPP (ONNX Runtime, CPU)')
    s.add_argument('--variants', nargs='+', default=list(DEFAULT_CANDIDATES) + list(PROBES),
                   choices=sorted(VARIANTS) + list(PROBES),
                   help='EUnet variants (and probes: one option on a variant) to time')
    s.add_argument('--checkpoint', action='append', default=[], metavar='PT',
                   help='also time the network of this checkpoint, with its weights '
                        '(repeatable; e.g. the packaged models/eunet_fs_synthetic.pt)')
    s.add_argument('--size', type=parse_resolution, default=(640, 384),
                   help='network input WxH')
    s.add_argument('--time', type=float, default=120.0, help='seconds of timing at most')
    s.add_argument('--rounds', type=int, default=20, help='round-robin rounds at least')
    s.add_argument('--peer-onnx', help=f'{PEER} exported by export-peer (when torchvision '
                   'does not import here)')
    s.add_argument('--json', help='also write the rows here')
    s.set_defaults(fn=cmd_speed)
    e = sub.add_parser('export-peer', help=f'export {PEER} as ONNX (needs torchvision)')
    e.add_argument('--out', required=True, help='the .onnx file to write')
    e.add_argument('--size', type=parse_resolution, default=(640, 384),
                   help='network input WxH')
    e.set_defaults(fn=cmd_export_peer)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run a subcommand."""
    args = get_args_parser().parse_args(argv)
    args.fn(args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
