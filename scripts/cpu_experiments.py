#!/usr/bin/env python3
# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
CPU speed experiments of issue 6: every candidate of one question in ONE round-robin run.

The log with predictions, figures and decisions is docs/performance_history_cpu.md;
this script produces its figures. Each subcommand times its candidates with
:func:`eunet_ros.tools.benchmark.time_round_robin` (interleaved, so all of them share the
same machine load) and prints median / min ms, the ratio to the first candidate and
how many pixels of the argmax agree with it.

    python scripts/cpu_experiments.py network --model rand --size 640x480
    python scripts/cpu_experiments.py network --model ckpt
    python scripts/cpu_experiments.py engine --frames 640x480 --baseline-ref 690424b
    python scripts/cpu_experiments.py steps --frames 1280x720

network
    the network alone on a float tensor: torch eager NCHW (the engine before), 1 vs 2
    threads, channels_last, BN folded into the preceding 1x1 conv, TorchScript
    freeze + optimize_for_inference, bf16, torch.compile (inductor), ONNX Runtime
    with 1/2 threads, spinning or not.
engine
    the whole engine (uint8 frame -> uint8 mask) of the engine at a git revision
    (the baseline) against the engine of this tree with backend torch and
    onnxruntime; masks compared on rendered synthetic frames (training.synthetic).
steps
    the engine's CPU pre- and post-processing steps, float path vs uint8 resize and
    dense vs sparse upsample + argmax.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
import io
from pathlib import Path
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, Tuple
import warnings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
from eunet_ros.core.checkpoint import load_checkpoint  # noqa: E402
from eunet_ros.core.engine import (argmax_np, channel_argmax, letterbox_geometry,  # noqa: E402
                                   SegmentationEngine, upsample_argmax)
from eunet_ros.core.model import build_eunet, EfficientConvBlock  # noqa: E402
from eunet_ros.tools.benchmark import time_round_robin  # noqa: E402
from eunet_ros.tools.common import parse_resolution, text_table  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

CKPT = ROOT / 'models' / 'eunet_fs_synthetic.pt'
Job = Tuple[Dict[str, object], Dict[str, Callable[[], object]]]


@contextlib.contextmanager
def _threads(n: int):
    """Run the block with ``n`` torch threads (set-up that fixes its thread count: inductor)."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def with_threads(n: int, fn: Callable[[], object]) -> Callable[[], object]:
    """Run ``fn`` with ``n`` torch threads, then restore the previous count."""
    def run():
        with _threads(n):
            return fn()
    return run


def eager(model: nn.Module, x: torch.Tensor) -> Callable[[], torch.Tensor]:
    """Return a call of ``model(x)`` under inference_mode."""
    def run():
        with torch.inference_mode():
            return model(x)
    return run


def fold_bn(model: nn.Module) -> nn.Module:
    """Fold each EfficientConvBlock's second BN into the 1x1 conv before it (a copy)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    m = copy.deepcopy(model)
    for blk in m.modules():
        if isinstance(blk, EfficientConvBlock):
            body = blk.body
            body[2].pointwise = fuse_conv_bn_eval(body[2].pointwise, body[3])
            body[3] = nn.Identity()
    return m


def ort_session(model: nn.Module, x: torch.Tensor, threads: int, spin: bool,
                level: str = 'all') -> Callable[[], torch.Tensor]:
    """Export ``model`` at x's shape (dynamic batch) and return an ONNX Runtime call."""
    import onnxruntime as ort
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(model, (x,), buf, dynamo=False, opset_version=17,
                          input_names=['image'], output_names=['logits'],
                          dynamic_axes={'image': {0: 'b'}, 'logits': {0: 'b'}})
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if level == 'all'
                                   else ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
    so.add_session_config_entry('session.intra_op.allow_spinning', '1' if spin else '0')
    sess = ort.InferenceSession(buf.getvalue(), so, providers=['CPUExecutionProvider'])
    xn = x.numpy()
    return lambda: torch.from_numpy(sess.run(['logits'], {'image': xn})[0])


def network_candidates(model: nn.Module, x: torch.Tensor,
                       names: List[str]) -> List[Tuple[str, Callable[[], torch.Tensor]]]:
    """Build the named network candidates (see the module docstring)."""
    out = []
    cl_x = x.contiguous(memory_format=torch.channels_last)
    for full in names:
        t0 = time.perf_counter()
        name = full[:-3] if full.endswith('-1t') and not full.startswith('ort') else full
        threads = 1 if name != full else torch.get_num_threads()
        with _threads(threads):
            fn = _candidate(name, model, x, cl_x)
            fn()
        if name != full:
            fn = with_threads(1, fn)
        setup = time.perf_counter() - t0
        if setup > 5:
            print(f'# {full}: set-up {setup:.1f} s', flush=True)
        out.append((full, fn))
    return out


def _candidate(name: str, model: nn.Module, x: torch.Tensor,
               cl_x: torch.Tensor) -> Callable[[], torch.Tensor]:
    """Build one network candidate (its ``-1t`` suffix already stripped)."""
    if name == 'eager':
        fn = eager(model, x)
    elif name == 'channels_last':
        fn = eager(copy.deepcopy(model).to(memory_format=torch.channels_last), cl_x)
    elif name == 'bn_folded':
        fn = eager(fold_bn(model), x)
    elif name == 'jit_optimized':
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter('ignore')   # TracerWarnings of the pad/crop branch
            traced = torch.jit.trace(copy.deepcopy(model), x)
            frozen = torch.jit.optimize_for_inference(traced)

        def fn(frozen=frozen):
            with torch.no_grad():
                return frozen(x)
    elif name == 'bf16':
        fn = eager(copy.deepcopy(model).to(torch.bfloat16), x.to(torch.bfloat16))
    elif name == 'bf16_channels_last':
        m = copy.deepcopy(model).to(torch.bfloat16).to(memory_format=torch.channels_last)
        fn = eager(m, cl_x.to(torch.bfloat16))
    elif name == 'compile':
        fn = eager(torch.compile(copy.deepcopy(model)), x)
    elif name.startswith('ort'):
        # ort-2t, ort-1t, ort-2t-spin, ort-2t-basic
        parts = name.split('-')
        fn = ort_session(model, x, threads=int(parts[1][0]), spin='spin' in parts,
                         level='basic' if 'basic' in parts else 'all')
    else:
        raise SystemExit(f'unknown network candidate {name!r}')
    return fn


def report(jobs: List[Job], key: str, extra: Callable[[Dict[str, object]], str] = None) -> None:
    """Print median, min, ratio to the first job and the extra column."""
    base = jobs[0][0][f'{key}_ms']
    lines = [('candidate', 'median ms', 'min ms', 'ratio', 'samples', 'agreement with the first')]
    for row, _ in jobs:
        lines.append((str(row['model']), f'{row[f"{key}_ms"]:.2f}', f'{row[f"{key}_min_ms"]:.2f}',
                      f'{row[f"{key}_ms"] / base:.2f}', str(row[f'{key}_samples']),
                      extra(row) if extra else ''))
    print(text_table(lines))


def cmd_network(args: argparse.Namespace) -> None:
    """Time the network candidates at one input size."""
    torch.manual_seed(0)
    if args.model == 'ckpt':
        ckpt = load_checkpoint(CKPT)
        model = ckpt.build_model().eval()
        h, w = ckpt.input_size
    else:
        model = build_eunet(variant='fast', num_classes=7).eval()
        w, h = args.size
    x = torch.randn(1, 3, h, w)
    with torch.inference_mode():
        ref = model(x)
    jobs: List[Job] = []
    for name, fn in network_candidates(model, x, args.candidates):
        y = fn().float()
        agree = float((y.argmax(1) == ref.argmax(1)).float().mean())
        row = {'model': name, 'batch': 1, 'agree': agree,
               'max_diff': float((y - ref).abs().max())}
        jobs.append((row, {'net': fn}))
    print(f'# network {args.model} {w}x{h}, torch {torch.__version__}, '
          f'{torch.get_num_threads()} torch threads by default', flush=True)
    time_round_robin(jobs, torch.device('cpu'), warmup=2, iters=10, min_time=args.time / 2,
                     max_time=args.time)
    report(jobs, 'net', lambda r: f'{100 * r["agree"]:.3f}% (max |logit diff| '
                                  f'{r["max_diff"]:.1e})')


def baseline_engine_class(ref: str):
    """Import eunet_ros/core/engine.py as it was at git revision ``ref``."""
    for rel in ('eunet_ros/core/engine.py', 'eunet_ros/engine.py'):  # after / before #10
        got = subprocess.run(['git', '-C', str(ROOT), 'show', f'{ref}:{rel}'],
                             capture_output=True, text=True)
        if got.returncode == 0:
            break
    got.check_returncode()
    src = got.stdout
    path = Path(tempfile.mkdtemp(prefix='eunet_engine_base_')) / 'engine_base.py'
    path.write_text(src)
    spec = importlib.util.spec_from_file_location('engine_base', path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules['engine_base'] = mod
    spec.loader.exec_module(mod)
    return mod.SegmentationEngine


def synthetic_frames(w: int, h: int, n: int) -> List[np.ndarray]:
    """Render ``n`` held-out synthetic frames (seed 3000), bgr8."""
    from training.synthetic import render_sample
    return [np.ascontiguousarray(render_sample(3000, i, w, h)[0][..., ::-1])
            for i in range(n)]


def cmd_engine(args: argparse.Namespace) -> None:
    """Time the baseline engine against this tree's engine, torch and onnxruntime."""
    w, h = args.frames
    base_cls = baseline_engine_class(args.baseline_ref)
    cache = tempfile.mkdtemp(prefix='eunet_onnx_')
    if args.model == 'ckpt':
        source = str(CKPT)
    else:
        from eunet_ros.core.checkpoint import save_checkpoint
        torch.manual_seed(0)
        source = str(Path(cache) / 'fast_random.pt')
        save_checkpoint(source, model=build_eunet(variant='fast', num_classes=7),
                        variant='fast', input_size=(h, w))
    parallel_prepost = SegmentationEngine(source, device='cpu', backend='onnxruntime',
                                          cache_dir=cache)
    parallel_prepost._prepost_threads = None   # pre/post on torch's default threads
    engines = [
        (f'base {args.baseline_ref} torch', base_cls(source, device='cpu')),
        ('new torch', SegmentationEngine(source, device='cpu', backend='torch')),
        ('new ort, pre/post 2 thr', parallel_prepost),
        ('new onnxruntime', SegmentationEngine(source, device='cpu', backend='onnxruntime',
                                               cache_dir=cache)),
    ]
    if args.one_thread:
        engines.insert(1, (f'base {args.baseline_ref} torch 1t', 'base'))
        engines.append(('new torch 1t', 'new'))
    frames = synthetic_frames(w, h, args.frames_checked)
    ref = [engines[0][1].infer([f], color_order='bgr')[0].mask for f in frames]
    jobs: List[Job] = []
    for name, eng in engines:
        if isinstance(eng, str):   # the same engine object as above, on one torch thread
            eng = engines[0][1] if eng == 'base' else engines[2][1]
            fn = with_threads(1, lambda eng=eng: eng.infer(frames[:1], color_order='bgr'))
        else:
            fn = (lambda eng=eng: eng.infer(frames[:1], color_order='bgr'))
        masks = [eng.infer([f], color_order='bgr')[0].mask for f in frames]
        agree = float(np.mean([(m == r).mean() for m, r in zip(masks, ref)]))
        worst = float(min((m == r).mean() for m, r in zip(masks, ref)))
        jobs.append(({'model': name, 'batch': 1, 'agree': agree, 'worst': worst},
                     {'engine': fn}))
    ck = engines[0][1].checkpoint
    print(f'# engine {args.model} (network input {ck.input_size[1]}x{ck.input_size[0]}), '
          f'frames {w}x{h}, {torch.get_num_threads()} torch threads by default; masks of '
          f'{len(frames)} synthetic frames', flush=True)
    time_round_robin(jobs, torch.device('cpu'), warmup=2, iters=10, min_time=args.time / 2,
                     max_time=args.time)
    report(jobs, 'engine', lambda r: f'{100 * r["agree"]:.3f}% (worst frame '
                                     f'{100 * r["worst"]:.3f}%)')


def cmd_steps(args: argparse.Namespace) -> None:
    """Time the engine's CPU pre- and post-processing steps, old vs new."""
    w, h = args.frames
    ckpt = load_checkpoint(CKPT)
    model = ckpt.build_model().eval()
    nh, nw = ckpt.input_size
    rh, rw = letterbox_geometry((h, w), (nh, nw))
    frame = synthetic_frames(w, h, 1)[0]
    mean = torch.tensor(ckpt.mean).view(1, 3, 1, 1) * 255.0
    inv = 1.0 / (torch.tensor(ckpt.std).view(1, 3, 1, 1) * 255.0)

    def pre_float():
        with torch.inference_mode():
            x = torch.from_numpy(frame).flip(-1).permute(2, 0, 1).unsqueeze(0).float()
            x = F.interpolate(x, size=(rh, rw), mode='bilinear', align_corners=False,
                              antialias=True)
            return (x - mean) * inv

    def pre_uint8():
        with torch.inference_mode():
            x = torch.from_numpy(frame).permute(2, 0, 1).unsqueeze(0)
            x = F.interpolate(x, size=(rh, rw), mode='bilinear', align_corners=False,
                              antialias=True)
            return (x.flip(1).float() - mean) * inv

    def pre_cv2_area():
        with torch.inference_mode():
            s = cv2.resize(frame, (rw, rh), interpolation=cv2.INTER_AREA)
            x = torch.from_numpy(s).permute(2, 0, 1).unsqueeze(0).flip(1).float()
            return (x - mean) * inv

    batch = torch.zeros(1, 3, nh, nw)
    batch[:, :, :rh, :rw] = pre_float()
    with torch.inference_mode():
        logits = model(batch)[0, :, :rh, :rw].contiguous()

    def low_mask(x):
        b = torch.zeros(1, 3, nh, nw)
        b[:, :, :rh, :rw] = x
        with torch.inference_mode():
            return channel_argmax(model(b)[0, :, :rh, :rw]).numpy()
    pre_ref = low_mask(pre_float())

    def post_torch():
        with torch.inference_mode():
            up = F.interpolate(logits[None], size=(h, w), mode='bilinear', align_corners=False)
            best = up[0, 0].clone()
            idx = torch.zeros((h, w), dtype=torch.uint8)
            for c in range(1, up.shape[1]):
                idx.masked_fill_(up[0, c] > best, c)
                torch.maximum(best, up[0, c], out=best)
            return idx.numpy()

    lg = logits.numpy()

    def post_dense_cv2():
        planes = np.stack([cv2.resize(np.ascontiguousarray(p), (w, h),
                                      interpolation=cv2.INTER_LINEAR) for p in lg])
        return argmax_np(planes)

    def post_sparse():
        return upsample_argmax(lg, (h, w))

    post_ref = post_torch()
    jobs: List[Job] = []
    for name, fn, check in (
            ('pre: float resize (before)', pre_float, lambda: low_mask(pre_float())),
            ('pre: uint8 resize (engine)', pre_uint8, lambda: low_mask(pre_uint8())),
            ('pre: cv2 INTER_AREA', pre_cv2_area, lambda: low_mask(pre_cv2_area()))):
        jobs.append(({'model': name, 'batch': 1,
                      'agree': float((check() == pre_ref).mean())}, {'step': fn}))
    for name, fn in (('post: torch (before)', post_torch),
                     ('post: dense cv2 + numpy', post_dense_cv2),
                     ('post: sparse (engine)', post_sparse)):
        jobs.append(({'model': name, 'batch': 1, 'agree': float((fn() == post_ref).mean())},
                     {'step': fn}))
    print(f'# steps: frames {w}x{h} -> network {rw}x{rh} of {nw}x{nh}; 1 torch thread, 1 '
          'OpenCV thread; agreement: pre: network-resolution masks; post: full masks',
          flush=True)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    time_round_robin(jobs, torch.device('cpu'), warmup=2, iters=10, min_time=args.time / 2,
                     max_time=args.time)
    report(jobs[:3], 'step', lambda r: f'{100 * r["agree"]:.3f}%')
    report(jobs[3:], 'step', lambda r: f'{100 * r["agree"]:.3f}%')


def main(argv=None) -> int:
    """Parse the subcommand and run it."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].strip())
    sub = p.add_subparsers(dest='cmd', required=True)
    n = sub.add_parser('network')
    n.add_argument('--model', choices=['rand', 'ckpt'], default='rand',
                   help='rand: random-init fast at --size; ckpt: ' + str(CKPT.name))
    n.add_argument('--size', type=parse_resolution, default=(640, 480), help='WxH (rand only)')
    n.add_argument('--candidates', nargs='+',
                   default=['eager', 'eager-1t', 'channels_last', 'channels_last-1t',
                            'bn_folded', 'jit_optimized', 'bf16', 'ort-2t-spin', 'ort-2t',
                            'ort-1t'])
    n.add_argument('--time', type=float, default=90.0, help='seconds of timing at most')
    e = sub.add_parser('engine')
    e.add_argument('--model', choices=['rand', 'ckpt'], default='ckpt',
                   help='ckpt: the packaged model; rand: random-init fast at the frame size')
    e.add_argument('--frames', type=parse_resolution, default=(640, 480), help='frame WxH')
    e.add_argument('--baseline-ref', default='690424b', help='git revision of the baseline')
    e.add_argument('--frames-checked', type=int, default=8)
    e.add_argument('--one-thread', action='store_true', help='also the baseline and the new '
                   'torch engine with 1 torch thread')
    e.add_argument('--time', type=float, default=60.0)
    s = sub.add_parser('steps')
    s.add_argument('--frames', type=parse_resolution, default=(1280, 720))
    s.add_argument('--time', type=float, default=30.0)
    args = p.parse_args(argv)
    {'network': cmd_network, 'engine': cmd_engine, 'steps': cmd_steps}[args.cmd](args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
