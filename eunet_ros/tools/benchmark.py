# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Benchmark EUnet variants (and torchvision's real-time peers) on one device.

For each model x resolution x precision x backend it prints parameters, the
median latency and FPS of the network alone (a float tensor already on the device)
and of the engine (uint8 frame on the host -> pre-processing, network,
post-processing -> uint8 class-id mask on the host, see eunet_ros.core.engine), and
writes the rows as JSON. When torchvision imports, LRASPP-MobileNetV3-Large and
DeepLabV3-MobileNetV3-Large (random init, the same classes) are measured in the
same run, so ratios never mix two runs. ``--backends torch onnxruntime`` times the
two CPU backends of the engine side by side; ``--checkpoints`` adds trained
checkpoints, whose network runs at the checkpoint's own input size (the frames of
each resolution are letterboxed to it, as in the node).

By default it measures the default EUnet variant (``fast``) and the peers, quickly;
``--variants seed fast`` adds the original full-resolution layout (seconds per
1280x720 frame on a CPU). ``--max-time`` is the budget of the whole run: each
resolution x precision gets an equal share of what is left, and the ones that no
longer fit are skipped with a note (a single call slower than the budget still
runs once warm and once timed).

    python -m eunet_ros.benchmark --device cpu
    python -m eunet_ros.benchmark --device cpu --backends torch onnxruntime \
        --checkpoints models/eunet_fs_synthetic.pt
    python -m eunet_ros.benchmark --device cuda --precisions fp16 --cuda-graphs

``python -m eunet_ros.benchmark node [options]`` is the end-to-end node benchmark
(eunet_ros.tools.bench_node): camera publisher processes -> segment_node (its own
process) -> mask subscriber over DDS, latency from the camera stamp to the mask,
dropped frames per camera; ``node --help`` lists its options.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from eunet_ros.core.checkpoint import (Checkpoint, CheckpointError, DEFAULT_CLASSES,
                                       DEFAULT_PALETTE, IMAGENET_MEAN, IMAGENET_STD,
                                       load_checkpoint)
from eunet_ros.core.engine import (capture_cuda_graph, DTYPES, EngineError, padded_size,
                                   resolve_backend, resolve_device, resolve_precision,
                                   SegmentationEngine, wants_channels_last)
from eunet_ros.core.model import (build_eunet, config_for_variant, count_parameters,
                                  DEFAULT_VARIANT, VARIANTS)
from eunet_ros.core.options import BACKENDS, PRECISIONS
from eunet_ros.core.peers import build_peer, PEERS, torchvision_available
from eunet_ros.fileio import atomic_write_json
from eunet_ros.tools.common import environment, parse_resolution, text_table
import numpy as np
import torch
from torch import nn


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def prepare(name: str, model: nn.Module, *, device: torch.device, precision: str,
            resolution: Tuple[int, int], batch: int, cuda_graphs: bool, engine: bool,
            num_classes: int, backend: str = 'torch',
            checkpoint: Optional[Checkpoint] = None,
            ) -> Tuple[Dict[str, object], Dict[str, Callable[[], object]]]:
    """
    Set one model up at one resolution, precision and backend.

    :param checkpoint: the model's checkpoint: its network runs at the checkpoint's
        input size and the engine letterboxes the frames of ``resolution`` to it.
        Without it the network runs at ``resolution``.
    :returns: the result row (without timings) and the functions to time, by key
        (``net`` and, with ``engine``, ``engine``).
    :raises EngineError: the backend cannot run this model here.
    """
    w, h = resolution
    nh, nw = checkpoint.input_size if checkpoint is not None else (h, w)
    dtype = DTYPES[precision]
    backend = resolve_backend(backend, device, precision, model)
    row: Dict[str, object] = {
        'model': name, 'params': count_parameters(model), 'resolution': f'{w}x{h}',
        'input': f'{nw}x{nh}', 'precision': precision, 'batch': batch, 'device': str(device),
        'backend': backend}
    net = model.eval().to(device)
    # the memory format the engine gives the network
    channels_last = wants_channels_last(device, backend, precision, model)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    net = net.to(dtype)
    x = torch.randn(batch, 3, nh, nw, device=device, dtype=dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    fns: Dict[str, Callable[[], object]] = {
        'net': _network_call(net, x, device=device, backend=backend, cuda_graphs=cuda_graphs)}
    if engine:
        ckpt = checkpoint or Checkpoint(
            config=config_for_variant('fast', num_classes=num_classes), state_dict={},
            class_names=DEFAULT_CLASSES[:num_classes], palette=DEFAULT_PALETTE[:num_classes],
            mean=IMAGENET_MEAN, std=IMAGENET_STD, input_size=(h, w), variant=name)
        eng = SegmentationEngine(ckpt, device=str(device), precision=precision, model=net,
                                 warmup=True, cuda_graphs=cuda_graphs, backend=backend,
                                 cache_dir='')
        rng = np.random.default_rng(0)
        frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(batch)]
        fns['engine'] = lambda: eng.infer(frames, color_order='bgr')
    return row, fns


def _network_call(net: nn.Module, x: torch.Tensor, *, device: torch.device, backend: str,
                  cuda_graphs: bool) -> Callable[[], object]:
    """
    Return a call of the network alone on the batch ``x``, as the engine runs it.

    ONNX Runtime gets a batch padded as the engine pads it; with ``cuda_graphs`` on
    CUDA the network is replayed from a captured graph; otherwise it runs eagerly.
    """
    if backend == 'onnxruntime':
        from eunet_ros.core.ort_backend import OrtNetwork
        batch, _, nh, nw = x.shape
        ph, pw = padded_size((nh, nw), net)
        xp = torch.randn(batch, 3, ph, pw)   # the engine feeds the padded batch
        runner = OrtNetwork(net, (ph, pw), cache_dir='')
        return lambda: runner(xp)
    if cuda_graphs and device.type == 'cuda':
        with torch.inference_mode():
            graph, _, static_y = capture_cuda_graph(net, x, warmup=3)

        def replay() -> torch.Tensor:
            graph.replay()
            return static_y
        return replay

    def run_net() -> torch.Tensor:
        with torch.inference_mode():
            return net(x)
    return run_net


def time_round_robin(jobs: Sequence[Tuple[Dict[str, object], Dict[str, Callable[[], object]]]],
                     device: torch.device, *, warmup: int, iters: int,
                     min_time: float, max_time: float, slot: float = 0.25,
                     min_rounds: int = 3, deadline: Optional[float] = None) -> None:
    """
    Time every function of every job in turn, one call each per round.

    Interleaving makes the ratios between models robust to load that drifts during
    the run (other processes on a shared CPU, GPU clocks). In a round each function
    is called repeatedly for ``slot`` seconds (at least once). Rounds continue until
    ``iters`` rounds and ``min_time`` seconds have passed, or ``max_time`` seconds
    (after at least ``min_rounds`` rounds). With ``deadline`` (a ``time.perf_counter``
    value) warm-up calls beyond the first of each function stop there.
    Median and minimum (ms) are written into each job's row.
    """
    keys = [(i, k) for i, (_, fns) in enumerate(jobs) for k in fns]
    for i, k in keys:
        for n in range(warmup):
            if n and deadline is not None and time.perf_counter() > deadline:
                break
            jobs[i][1][k]()
    _sync(device)
    times: Dict[Tuple[int, str], List[float]] = {key: [] for key in keys}
    start = time.perf_counter()
    rounds = 0
    while True:
        for i, k in keys:
            # fast models get several calls per round, slow ones one: every model is
            # sampled across the whole run, and fast ones get enough samples
            t_slot = time.perf_counter()
            while True:
                t0 = time.perf_counter()
                jobs[i][1][k]()
                _sync(device)
                t1 = time.perf_counter()
                times[(i, k)].append((t1 - t0) * 1000.0)
                if t1 - t_slot >= slot:
                    break
        rounds += 1
        elapsed = time.perf_counter() - start
        if rounds >= max(1, min_rounds) and elapsed > max_time:
            break
        if rounds >= iters and elapsed >= min_time:
            break
    for (i, k), t in times.items():
        row = jobs[i][0]
        batch = int(row['batch'])
        row[f'{k}_ms'] = statistics.median(t)
        row[f'{k}_min_ms'] = min(t)
        row[f'{k}_fps'] = 1000.0 * batch / row[f'{k}_ms']
        row['rounds'] = rounds
        row[f'{k}_samples'] = len(t)


def format_table(rows: Sequence[Dict[str, object]]) -> str:
    """Render result rows as a fixed-width text table."""
    head = ('model', 'params', 'res', 'input', 'prec', 'backend', 'batch', 'net ms', 'net min',
            'net FPS', 'engine ms', 'engine FPS')
    lines = [head]
    for r in rows:
        lines.append((
            str(r['model']), f'{int(r["params"]) / 1e6:.2f}M', str(r['resolution']),
            str(r.get('input', r['resolution'])), str(r['precision']),
            str(r.get('backend', 'torch')), str(r['batch']), f'{r["net_ms"]:.2f}',
            f'{r["net_min_ms"]:.2f}', f'{r["net_fps"]:.1f}',
            f'{r["engine_ms"]:.2f}' if 'engine_ms' in r else '-',
            f'{r["engine_fps"]:.1f}' if 'engine_fps' in r else '-'))
    return text_table(lines)


def get_args_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(
        prog='python -m eunet_ros.benchmark', description=__doc__.split('\n\n')[0].strip(),
        epilog='End-to-end node benchmark (camera -> segment_node -> mask over DDS): '
               'python -m eunet_ros.benchmark node --help',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--device', default='auto', help='auto, cpu, cuda or cuda:N')
    p.add_argument('--variants', nargs='+', default=[DEFAULT_VARIANT],
                   choices=sorted(VARIANTS),
                   help='EUnet variants to measure (seed, the original full-resolution '
                        'layout, takes seconds per 1280x720 frame on a CPU: ask for it)')
    p.add_argument('--peers', nargs='*', default=list(PEERS), choices=list(PEERS),
                   help='torchvision peers to measure when torchvision imports '
                        '(give --peers with no names to skip them)')
    p.add_argument('--checkpoints', nargs='*', default=[], metavar='PATH',
                   help='trained checkpoints to measure too (network at their own input '
                        'size, frames letterboxed to it)')
    p.add_argument('--backends', nargs='+', default=['auto'], choices=list(BACKENDS),
                   help='engine backends to measure (auto: what the engine picks; a '
                        'backend that cannot run a model here is skipped with the reason)')
    p.add_argument('--resolutions', nargs='+', type=parse_resolution,
                   default=[(640, 480), (1280, 720)], help='WxH input sizes')
    p.add_argument('--precisions', nargs='+', default=['auto'],
                   choices=list(PRECISIONS))
    p.add_argument('--batch', type=int, default=1, help='frames per network call')
    p.add_argument('--num-classes', type=int, default=len(DEFAULT_CLASSES))
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--iters', type=int, default=10, help='timed iterations at least')
    p.add_argument('--min-time', type=float, default=2.0,
                   help='keep timing until this many seconds have passed')
    p.add_argument('--max-time', type=float, default=60.0,
                   help='seconds for the whole run: each resolution x precision gets an '
                        'equal share of what is left, those that no longer fit are skipped '
                        '(every function still runs once warm and once timed)')
    p.add_argument('--threads', type=int, default=None,
                   help='torch CPU threads (ONNX Runtime: its default)')
    p.add_argument('--cuda-graphs', action='store_true',
                   help='replay the network from a CUDA graph, alone and in the engine '
                        '(CUDA only; without it both run eagerly)')
    p.add_argument('--no-engine', action='store_true', help='measure the network alone')
    p.add_argument('--json', default='benchmark_results.json',
                   help='where to write the rows (benchmark_results*.json is git-ignored)')
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the network/engine benchmark; return the exit code."""
    args = get_args_parser().parse_args(argv)
    if args.batch < 1:
        print('error: --batch must be >= 1', file=sys.stderr)
        return 2
    if args.max_time <= 0:
        print('error: --max-time must be > 0 (seconds for the whole run)', file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    try:
        # the node's checks and messages: a device or precision it refuses, refused here too
        device = resolve_device(args.device)
        for prec in args.precisions:
            resolve_precision(prec, device)
        env = environment(device)
        print('# eunet_ros benchmark: ' + ', '.join(f'{k}={v}' for k, v in env.items()))
        rows = _measure_all(args, device, _models(args), deadline=start + args.max_time)
    except (EngineError, CheckpointError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(f'# measured in {time.perf_counter() - start:.1f} s (--max-time {args.max_time:g} s)')
    print()
    print(format_table(rows))
    if args.json:
        doc = {'environment': env,
               'args': {k: (list(v) if isinstance(v, tuple) else v)
                        for k, v in vars(args).items()},
               'rows': rows}
        atomic_write_json(args.json, doc, durable=False)
        print(f'\nwrote {args.json}')
    return 0


_Model = Tuple[str, Callable[[], nn.Module], Optional[Checkpoint]]


def _models(args: argparse.Namespace) -> List[_Model]:
    """Return (name, build, checkpoint or None) of every model the options ask for."""
    models: List[_Model] = []
    for v in args.variants:
        models.append((f'eunet-{v}', lambda v=v: build_eunet(
            variant=v, num_classes=args.num_classes), None))
    if args.peers:
        ok, why = torchvision_available()
        if ok:
            for name in args.peers:
                models.append((name, lambda n=name: build_peer(n, args.num_classes), None))
        else:
            print(f'# torchvision peers skipped: torchvision does not import ({why})')
    for path in args.checkpoints:
        ckpt = load_checkpoint(path)
        models.append((ckpt.name, ckpt.build_model, ckpt))
    return models


def _measure_all(args: argparse.Namespace, device: torch.device,
                 models: Sequence[_Model], deadline: float) -> List[Dict[str, object]]:
    """
    Time every model per resolution and precision, backends side by side; return the rows.

    :param deadline: the ``time.perf_counter`` value the run ends by: each resolution x
        precision gets an equal share of the time left; those that no longer fit are
        skipped with a note.
    """
    rows: List[Dict[str, object]] = []
    torch.manual_seed(0)
    groups = [(res, p) for res in args.resolutions for p in args.precisions]
    for n, (res, prec_arg) in enumerate(groups):
        now = time.perf_counter()
        if now >= deadline:
            left = ', '.join(f'{w}x{h} {p}' for (w, h), p in groups[n:])
            print(f'# --max-time {args.max_time:g} s used up: skipped {left}', flush=True)
            break
        group_end = now + (deadline - now) / (len(groups) - n)
        precision = resolve_precision(prec_arg, device)
        jobs = []
        for backend in args.backends:
            for name, make, ckpt in models:
                try:
                    jobs.append(prepare(
                        name, make(), device=device, precision=precision, resolution=res,
                        batch=args.batch, cuda_graphs=args.cuda_graphs,
                        engine=not args.no_engine, num_classes=args.num_classes,
                        backend=backend, checkpoint=ckpt))
                except EngineError as e:
                    print(f'# {name} {precision} backend {backend} skipped: {e}')
        if not jobs:
            continue
        budget = max(0.0, group_end - time.perf_counter())
        time_round_robin(jobs, device, warmup=args.warmup, iters=args.iters,
                         min_time=min(args.min_time, budget), max_time=budget,
                         min_rounds=1, deadline=group_end)
        for row, _ in jobs:
            rows.append(row)
            print(f'# {row["model"]} {row["resolution"]} {precision} {row["backend"]}: net '
                  f'{row["net_ms"]:.2f} ms'
                  + (f', engine {row["engine_ms"]:.2f} ms' if 'engine_ms' in row else ''),
                  flush=True)
        del jobs
    return rows


if __name__ == '__main__':
    sys.exit(main())
