# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Training throughput: ``python -m training.throughput [--data DIR] [--json OUT]``.

Measures images/s of EUnet training steps as :mod:`training.train` runs them: the
same model builder, channels_last on CUDA, the uint8 batches of the real DataLoader
(worker processes, pinned memory, prefetch) over real image files through the real
:class:`~training.transforms.TrainTransform` augmentation, normalisation on the
device, the marginal cross-entropy, Lion, the one-cycle schedule and AMP (bf16 by
default on CUDA; none on the CPU). Reported, for the steady state after
``--warmup-steps`` (raised to at least ``--workers``, see :func:`warmup_steps`):

* ``images_per_s``: timed steps x batch / wall time (the GPU is synchronised at both
  ends of the window, never in between, as in training);
* ``data_wait_fraction``: the share of that wall time the training loop spent blocked
  in ``next(loader)``; near 0 means loading keeps up, near 1 that the model waits;
* ``gpu_util_pct_mean``: NVML's GPU utilisation sampled every 0.1 s in a thread during
  the window (``nvidia-ml-py``; null when it does not import or on the CPU);
* ``peak_gpu_mem_mb``: ``torch.cuda.max_memory_allocated`` (null on the CPU; the CPU
  run reports the process's peak resident memory instead).

Data: ``--data DIR`` (a folder dataset: ``images/`` + ``masks/``), or, without it,
``--synthetic-count`` scenes rendered by :mod:`training.synthetic` into a temporary
folder at the network input size (deleted at the end). The sampler runs over epochs
without a break, so a small set measures the same steady state as a large one.

    python -m training.throughput                       # default variant, batch 64
    python -m training.throughput --amp fp16 --duration 60 --json train_tp.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import resource
import statistics
import sys
import tempfile
import threading
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from eunet_ros.argtypes import at_least
from eunet_ros.core.checkpoint import IMAGENET_MEAN, IMAGENET_STD
from eunet_ros.core.engine import EngineError, resolve_device
from eunet_ros.core.model import count_parameters, DEFAULT_VARIANT, EUnet, VARIANTS
from eunet_ros.fileio import atomic_write_bytes
from eunet_ros.tools.common import text_table
import torch
from torch.utils.data import Sampler
from training.data import EpochSampler, SegmentationDataset
from training.datasets import build_source, DatasetError
from training.losses import MarginalCrossEntropy
from training.train import _loader, DEFAULTS, make_optimizer, model_config, train_step
from training.transforms import Normalize, TrainTransform

__all__ = ['get_args_parser', 'main', 'cli', 'measure', 'GpuUtilSampler', 'ThroughputError']

AMP_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}


class ThroughputError(Exception):
    """A user error (bad data folder, option, device): one clear line, exit code 2."""


class EndlessSampler(Sampler):
    """
    ``(epoch, index)`` pairs of :class:`EpochSampler`, epoch after epoch, never ending.

    Training reshuffles per epoch; a loader restarted at every epoch of a small
    measurement set would add a refill stall every few steps that a real run over a
    large set sees once per epoch, so the measurement never stops the loader.
    """

    def __init__(self, size: int, seed: int = 0) -> None:
        self.inner = EpochSampler(size, shuffle=True, seed=seed)

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        epoch = 0
        while True:
            self.inner.set_epoch(epoch)
            yield from self.inner
            epoch += 1


class GpuUtilSampler:
    """
    Sample NVML's GPU utilisation (percent) of one CUDA device in a background thread.

    ``available`` is False (and ``samples`` stays empty) when ``pynvml``
    (nvidia-ml-py) does not import or NVML does not start; ``why`` then says why.

    :param device: the CUDA device whose GPU is sampled.
    :param period: seconds between samples.

    """

    def __init__(self, device: torch.device, period: float = 0.1) -> None:
        self.period = float(period)
        self.samples: List[float] = []
        self.available = False
        self.why = ''
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._nvml: Any = None
        self._handle: Any = None
        if device.type != 'cuda':
            self.why = 'not a CUDA device'
            return
        try:
            import pynvml
            pynvml.nvmlInit()
            self._nvml = pynvml
            self._handle = self._find_handle(pynvml, device)
            pynvml.nvmlDeviceGetUtilizationRates(self._handle)
            self.available = True
        except Exception as e:  # noqa: B902 - no NVML for any reason: report null
            self.why = f'{type(e).__name__}: {e}'

    @staticmethod
    def _find_handle(pynvml: Any, device: torch.device) -> Any:
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        bus = getattr(props, 'pci_bus_id', None)
        if bus is not None:  # CUDA_VISIBLE_DEVICES may renumber: find the GPU by PCI
            dom = getattr(props, 'pci_domain_id', 0)
            dev = getattr(props, 'pci_device_id', 0)
            try:
                return pynvml.nvmlDeviceGetHandleByPciBusId(
                    f'{dom:08x}:{bus:02x}:{dev:02x}.0'.encode())
            except Exception:  # noqa: B902 - fall back to the index
                pass
        return pynvml.nvmlDeviceGetHandleByIndex(index)

    def start(self) -> None:
        """Start sampling (no-op without NVML)."""
        if not self.available:
            return
        self._thread = threading.Thread(target=self._run, name='gpu-util', daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.samples.append(
                    float(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu))
            except Exception:  # noqa: B902 - a failed read is a missing sample
                pass

    def stop(self) -> Optional[float]:
        """Stop sampling; return the mean utilisation (percent), or None without samples."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:  # noqa: B902
                pass
        return statistics.fmean(self.samples) if self.samples else None


def _input_size(args: argparse.Namespace) -> Tuple[int, int]:
    if args.input_size:
        h, w = (int(v) for v in args.input_size)
    else:
        h, w = VARIANTS[args.variant].input_size
    if min(h, w) < 16:
        raise ThroughputError(f'--input-size {h} {w}: both sides must be >= 16')
    return h, w


def _amp(name: str, device: torch.device) -> Optional[torch.dtype]:
    if name == 'auto':
        name = 'bf16' if device.type == 'cuda' and torch.cuda.is_bf16_supported() else 'none'
    if name == 'none':
        return None
    if device.type != 'cuda':
        raise ThroughputError(f'--amp {name}: mixed precision runs on CUDA only (training.train '
                              'trains in fp32 on the CPU); use --amp none or auto on the CPU')
    return AMP_DTYPES[name]


def _render(out: Path, count: int, size: Tuple[int, int], workers: int, seed: int) -> float:
    from training.synthetic import write_dataset
    t0 = time.perf_counter()
    write_dataset(out, count, seed=seed, width=size[1], height=size[0], workers=workers,
                  quiet=True)
    return time.perf_counter() - t0


def warmup_steps(requested: int, workers: int) -> Tuple[int, str]:
    """
    Return the warm-up steps to run (at least ``workers`` and 1) and why, when raised.

    The loader's workers start together, so their first batches arrive in one burst,
    and the first step pays one-off costs (allocations, cuDNN autotuning, compilation).
    A timed window that starts inside the burst counts batches loaded during the
    warm-up as free: with 8 workers and 1 warm-up step, 7 of the timed steps never
    wait for data, so images/s comes out too high and the data wait too low.
    """
    need = max(1, workers)
    if requested >= need:
        return requested, ''
    why = ('the first step pays one-off costs (allocations, kernel choice)' if workers <= 1 else
           f'the {workers} loader workers start together and deliver their first batches '
           'in one burst; timing from inside it would count batches loaded during the '
           'warm-up (images/s too high, data wait too low)')
    return need, f'--warmup-steps {requested} raised to {need}: {why}'


def measure(args: argparse.Namespace, data_root: Path, data_desc: str) -> Dict[str, Any]:
    """
    Train on ``data_root`` as ``args`` says and return the result row.

    :param args: parsed command-line options.
    :param data_root: a folder dataset.
    :param data_desc: how the data came about (stored in the row).
    :returns: the row (see the module docstring for the figures).
    """
    device = resolve_device(args.device)
    amp = _amp(args.amp, device)
    input_size = _input_size(args)
    source = build_source({'type': 'folder', 'root': str(data_root)})
    classes = list(source.classes)
    cfg = {'model': dict(DEFAULTS['model'], variant=args.variant, input_size=list(input_size))}
    mcfg, _ = model_config(cfg, len(classes))
    mean, std = list(IMAGENET_MEAN), list(IMAGENET_STD)
    ds = SegmentationDataset([source], TrainTransform(input_size, mean), seed=args.seed)
    loader = _loader(ds, EndlessSampler(len(ds), seed=args.seed), args.batch_size, args.workers,
                     True, device)

    torch.manual_seed(args.seed)
    model = EUnet(mcfg).to(device)
    if device.type == 'cuda':
        model = model.to(memory_format=torch.channels_last)
    model.train()
    warmup, note = warmup_steps(args.warmup_steps, args.workers)
    if note:
        print(f'# {note}', flush=True)
    total = warmup + (args.steps if args.duration is None else 10 ** 7)
    optimizer, scheduler = make_optimizer(model, dict(DEFAULTS['optim'], lr=args.lr), total)
    scaler = torch.amp.GradScaler('cuda', enabled=amp == torch.float16)
    net: torch.nn.Module = torch.compile(model) if args.compile else model
    normalize = Normalize(mean, std).to(device)
    criterion = MarginalCrossEntropy(None).to(device)

    def sync() -> None:
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    def step(batch: Tuple[torch.Tensor, ...]) -> torch.Tensor:
        return train_step(net, model, batch, normalize, criterion, optimizer, scaler,
                          scheduler, device, amp, args.grad_clip)

    it = iter(loader)
    t_first = time.perf_counter()
    for _ in range(warmup):
        step(next(it))
    sync()
    warmup_s = time.perf_counter() - t_first
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    util = GpuUtilSampler(device)
    util.start()
    waits: List[float] = []
    loss = torch.zeros(())
    t0 = time.perf_counter()
    deadline = None if args.duration is None else t0 + float(args.duration)
    while True:
        tw = time.perf_counter()
        batch = next(it)
        waits.append(time.perf_counter() - tw)
        loss = step(batch)
        if deadline is None:
            if len(waits) >= args.steps:
                break
        elif time.perf_counter() >= deadline:
            break
    sync()
    seconds = time.perf_counter() - t0
    util_mean = util.stop()
    steps = len(waits)
    del it
    row: Dict[str, Any] = {
        'mode': 'train', 'model': f'eunet-{args.variant}', 'variant': args.variant,
        'params': count_parameters(model), 'input_size': list(input_size),
        'batch': args.batch_size, 'amp': {None: 'none', torch.bfloat16: 'bf16',
                                          torch.float16: 'fp16'}[amp],
        'device': str(device), 'channels_last': device.type == 'cuda',
        'compile': bool(args.compile), 'workers': args.workers, 'data': data_desc,
        'dataset_size': len(ds), 'warmup_steps': warmup,
        'warmup_steps_requested': args.warmup_steps, 'warmup_s': warmup_s,
        'steps': steps, 'seconds': seconds,
        'images_per_s': steps * args.batch_size / seconds,
        'step_ms': 1000.0 * seconds / steps,
        'data_wait_fraction': sum(waits) / seconds,
        'data_wait_ms_per_step': 1000.0 * sum(waits) / steps,
        'data_wait_ms_max': 1000.0 * max(waits),
        'gpu_util_pct_mean': util_mean,
        'gpu_util_samples': len(util.samples),
        'gpu_util_note': None if util.available else util.why,
        'peak_gpu_mem_mb': (torch.cuda.max_memory_allocated(device) / 2 ** 20
                            if device.type == 'cuda' else None),
        'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        'final_loss': float(loss),
    }
    return row


def environment(device: torch.device) -> Dict[str, Any]:
    """Describe the machine and versions (the benchmark's fields, plus the training libs)."""
    from eunet_ros.tools.common import environment as bench_env
    env = dict(bench_env(device))
    from importlib import metadata
    for dist in ('lion-pytorch', 'albumentations', 'nvidia-ml-py'):
        try:
            env[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            env[dist] = None
    return env


def format_table(rows: Sequence[Dict[str, Any]]) -> str:
    """Render result rows as a fixed-width text table."""
    def opt(v: Optional[float], fmt: str) -> str:
        return '-' if v is None else format(v, fmt)
    head = ('model', 'input', 'batch', 'amp', 'device', 'workers', 'steps', 'img/s',
            'step ms', 'data wait', 'GPU util %', 'GPU mem MB')
    lines = [head]
    for r in rows:
        lines.append((r['model'], 'x'.join(str(v) for v in reversed(r['input_size'])),
                      str(r['batch']), r['amp'], r['device'], str(r['workers']),
                      str(r['steps']), f'{r["images_per_s"]:.1f}', f'{r["step_ms"]:.1f}',
                      f'{100 * r["data_wait_fraction"]:.1f}%',
                      opt(r['gpu_util_pct_mean'], '.1f'), opt(r['peak_gpu_mem_mb'], '.0f')))
    return text_table(lines)


def get_args_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(
        prog='python -m training.throughput', description=__doc__.split('\n\n')[0].strip(),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--variant', default=DEFAULT_VARIANT, choices=sorted(VARIANTS),
                   help='EUnet variant')
    p.add_argument('--batch-size', type=at_least(1), default=64, help='images per step')
    p.add_argument('--amp', default='auto', choices=['auto', 'bf16', 'fp16', 'none'],
                   help='mixed precision (auto: bf16 on CUDA, none on the CPU)')
    p.add_argument('--device', default='auto', help='auto, cpu, cuda or cuda:N')
    p.add_argument('--input-size', type=int, nargs=2, metavar=('H', 'W'),
                   help="network input size (default: the variant's)")
    p.add_argument('--steps', type=at_least(1), default=50, help='timed steps')
    p.add_argument('--duration', type=at_least(0.001, float), default=None, metavar='S',
                   help='time steps for S seconds instead of --steps')
    p.add_argument('--warmup-steps', type=at_least(0), default=10,
                   help='untimed steps first (workers start, cuDNN picks kernels); raised to '
                        'at least --workers (their first batches come in one burst) and 1')
    p.add_argument('--workers', type=at_least(0),
                   default=int(DEFAULTS['train']['workers']),
                   help='data-loader processes (0: in the training process)')
    p.add_argument('--data', type=Path, default=None,
                   help='folder dataset (images/ + masks/); default: render a synthetic set')
    p.add_argument('--synthetic-count', type=at_least(1), default=256,
                   help='scenes to render when --data is not given')
    p.add_argument('--render-workers', type=at_least(1),
                   default=max(1, min(8, os.cpu_count() or 1)),
                   help='processes rendering the synthetic set')
    p.add_argument('--lr', type=at_least(0, float, inclusive=False),
                   default=float(DEFAULTS['optim']['lr']), help='one-cycle peak learning rate')
    p.add_argument('--grad-clip', type=at_least(0, float), default=None,
                   help='clip the gradient norm (synthetic.yaml uses 1.0)')
    p.add_argument('--compile', action='store_true', help='torch.compile the model')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=at_least(1), default=None,
                   help='torch CPU threads of the training process')
    p.add_argument('--json', default=None, help='write {environment, args, rows} here')
    return p


def main(args: argparse.Namespace) -> Dict[str, Any]:
    """Measure as ``args`` says, print the table, write the JSON; return the document."""
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.variant not in VARIANTS:
        raise ThroughputError(f'--variant {args.variant}: one of {sorted(VARIANTS)}')
    try:
        device = resolve_device(args.device)
    except EngineError as e:
        raise ThroughputError(str(e)) from None
    _amp(args.amp, device)
    size = _input_size(args)
    env = environment(device)
    print('# eunet_ros training throughput: ' + ', '.join(f'{k}={v}' for k, v in env.items()),
          flush=True)
    with tempfile.TemporaryDirectory(prefix='eunet_throughput_') as tmp:
        if args.data is not None:
            root = Path(args.data)
            if not root.is_dir():
                raise ThroughputError(
                    f'--data {root}: no such folder; give a folder dataset (images/ and masks/ '
                    'with matching stems), or leave --data out to render a synthetic set')
            desc = f'folder {root}'
        else:
            root = Path(tmp) / 'synthetic'
            took = _render(root, args.synthetic_count, size, args.render_workers, args.seed)
            desc = f'synthetic: {args.synthetic_count} scenes rendered at {size[1]}x{size[0]}'
            print(f'# rendered {args.synthetic_count} synthetic scenes at {size[1]}x{size[0]} '
                  f'in {took:.1f} s', flush=True)
        row = measure(args, root, desc)
    print()
    print(format_table([row]))
    print(f'# data wait {row["data_wait_ms_per_step"]:.1f} ms per step'
          f' ({100 * row["data_wait_fraction"]:.1f}% of the time); '
          + ('GPU utilisation not sampled (' + str(row['gpu_util_note']) + ')'
             if row['gpu_util_pct_mean'] is None
             else f'GPU utilisation {row["gpu_util_pct_mean"]:.1f}% '
                  f'({row["gpu_util_samples"]} samples)'), flush=True)
    doc = {'environment': env,
           'args': {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
           'rows': [row]}
    if args.json:
        atomic_write_bytes(Path(args.json), json.dumps(doc, indent=2).encode())
        print(f'wrote {args.json}')
    return doc


def cli(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point: run :func:`main`; user errors print one clear line and return 2."""
    args = get_args_parser().parse_args(argv)
    try:
        main(args)
    except (ThroughputError, DatasetError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    sys.exit(cli())
