# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
``python -m eunet_ros.benchmark cones``: what turning masks into cones costs per frame.

Frames come from a folder of images (``images/`` of a dataset, or any folder):
each goes through :class:`~eunet_ros.core.engine.SegmentationEngine` once, with
``confidence=True``, and the cone step (:func:`eunet_ros.core.cones.extract_cones`
and :func:`~eunet_ros.core.cones.locate_cones` with a fixed camera) is then timed
``--repeat`` times on that mask. ``--masks`` takes the ground-truth masks of a
dataset (``masks/``) instead of the network's. It prints, per frame and over all
frames, p50 and p90 wall time and thread CPU time (on a busy machine the CPU time
is the cost, the wall time includes waiting for a core), and the engine's
``infer`` with and without ``confidence`` in alternation, the probability's cost.
Benchmarks print numbers; no test times anything.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import sys
import time
from typing import List, Optional, Sequence

import cv2
from eunet_ros.argtypes import at_least
from eunet_ros.core.cones import extract_cones, locate_cones
from eunet_ros.core.ground import CameraPose, check_intrinsics
from eunet_ros.fileio import atomic_write_json
import numpy as np

__all__ = ['get_args_parser', 'main']


def get_args_parser() -> argparse.ArgumentParser:
    """Return the command line of ``benchmark cones``."""
    p = argparse.ArgumentParser('python -m eunet_ros.benchmark cones',
                                description=__doc__.split('\n\n')[0].strip())
    p.add_argument('--dataset', required=True, help='a folder with images/ (and masks/ for '
                   '--masks), e.g. a synthetic test set')
    p.add_argument('--masks', action='store_true', help='time the ground-truth masks (masks/) '
                   'instead of the network output')
    p.add_argument('--checkpoint', default='', help='checkpoint (default: the packaged model)')
    p.add_argument('--device', default='cpu', help='engine device (default cpu)')
    p.add_argument('--frames', type=at_least(1), default=10, help='frames to use (by name)')
    p.add_argument('--repeat', type=at_least(1), default=30, help='timings per frame')
    p.add_argument('--json', help='also write the figures here')
    return p


def _q(v: Sequence[float], p: float) -> float:
    return float(np.percentile(np.asarray(v) * 1e3, p))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark; print the table; return 0."""
    args = get_args_parser().parse_args(argv)
    root = Path(args.dataset)
    sub = root / ('masks' if args.masks else 'images')
    files = sorted(p for p in sub.glob('*') if p.suffix.lower() in ('.png', '.jpg', '.jpeg'))
    files = files[:args.frames]
    if not files:
        print(f'benchmark cones: no images in {sub}', file=sys.stderr)
        return 2
    names = ['background', 'track', 'blue_cone', 'yellow_cone', 'orange_cone',
             'large_orange_cone', 'unknown_cone']
    engine = None
    if not args.masks:
        from eunet_ros.core.engine import SegmentationEngine
        path = args.checkpoint
        if not path:
            from eunet_ros.resources import default_checkpoint_path
            path = str(default_checkpoint_path())
        engine = SegmentationEngine(path, device=args.device)
        names = list(engine.class_names)
    wall: List[float] = []
    cpu: List[float] = []
    plain: List[float] = []
    withp: List[float] = []
    counts = []
    size = None
    for f in files:
        img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED if args.masks else cv2.IMREAD_COLOR)
        if img is None:
            print(f'benchmark cones: {f} does not decode', file=sys.stderr)
            return 2
        if engine is None:
            mask, prob = img, None
        else:
            for _ in range(2):   # infer with and without the probability, in alternation
                t = time.perf_counter()
                engine.infer([img], color_order='bgr')
                plain.append(time.perf_counter() - t)
                t = time.perf_counter()
                seg = engine.infer([img], color_order='bgr', confidence=True)[0]
                withp.append(time.perf_counter() - t)
            mask, prob = seg.mask, seg.probability
        h, w = mask.shape[:2]
        size = (w, h)
        intr = check_intrinsics([0.9 * w, 0, w / 2, 0, 0.9 * w, h / 2, 0, 0, 1], [], 'none',
                                w, h)
        pose = CameraPose(z=1.0, pitch=0.02)
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.thread_time()
            found = locate_cones(extract_cones(mask, names, probability=prob), names, intr, pose)
            cpu.append(time.thread_time() - c0)
            wall.append(time.perf_counter() - t0)
        counts.append(len(found))
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    result = {
        'frames': len(files), 'resolution': f'{size[0]}x{size[1]}', 'repeat': args.repeat,
        'source': 'ground-truth masks' if engine is None else engine.description,
        'cones_per_frame_mean': float(np.mean(counts)),
        'cone_step_wall_ms': {'p50': _q(wall, 50), 'p90': _q(wall, 90)},
        'cone_step_cpu_ms': {'p50': _q(cpu, 50), 'p90': _q(cpu, 90)},
        'load_average_1min': load, 'cpu_count': os.cpu_count()}
    if plain:
        result['infer_ms'] = {'p50': _q(plain, 50)}
        result['infer_with_confidence_ms'] = {'p50': _q(withp, 50)}
    print(f'cone step on {len(files)} frames of {root} ({result["source"]}), '
          f'{result["resolution"]}, {np.mean(counts):.1f} cones a frame, '
          f'load average {load:.2f} on {os.cpu_count()} CPUs')
    print(f'  wall  p50 {result["cone_step_wall_ms"]["p50"]:.2f} ms  '
          f'p90 {result["cone_step_wall_ms"]["p90"]:.2f} ms')
    print(f'  CPU   p50 {result["cone_step_cpu_ms"]["p50"]:.2f} ms  '
          f'p90 {result["cone_step_cpu_ms"]["p90"]:.2f} ms')
    if plain:
        print(f'  engine infer p50 {result["infer_ms"]["p50"]:.1f} ms, with confidence '
              f'{result["infer_with_confidence_ms"]["p50"]:.1f} ms')
    if args.json:
        atomic_write_json(args.json, result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
