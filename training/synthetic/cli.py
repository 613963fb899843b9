# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""Command line of ``python -m training.synthetic``: datasets, drives, a benchmark."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Optional, Tuple

import cv2
from eunet_ros.argtypes import at_least
from training.synthetic.samples import _check_size, MIN_CONE_PX, render_sample, SUPERSAMPLE
from training.synthetic.write import write_dataset, write_drive

LOG = logging.getLogger('training.synthetic')


def _benchmark(count: int, width: int, height: int, seed: int, min_cone_px: float = MIN_CONE_PX,
               supersample: int = SUPERSAMPLE) -> Tuple[float, float]:
    """Return (wall, CPU) milliseconds per rendered sample (in memory, no files)."""
    import time
    opts = {'min_cone_px': min_cone_px, 'supersample': supersample, 'truth': True}
    render_sample(seed, 0, width, height, **opts)   # textures, caches
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(count):
        render_sample(seed, i + 1, width, height, **opts)
    return ((time.perf_counter() - t0) / count * 1000.0,
            (time.process_time() - c0) / count * 1000.0)


_positive_int = at_least(1)
_seed = at_least(0)
_non_negative_int = at_least(0)
_positive_float = at_least(0, float, inclusive=False)


def _supersample(text: str) -> int:
    value = _positive_int(text)
    if value > 4:
        raise argparse.ArgumentTypeError(f'must be 1..4, got {value}')
    return value


def get_args_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m training.synthetic``."""
    p = argparse.ArgumentParser(
        prog='python -m training.synthetic',
        description='Render synthetic Formula Student scenes with exact class-id masks, cone '
                    'instance maps and per-frame ground truth (camera K, D, pose; cone '
                    'positions): a folder dataset (--out) or a continuous drive (--video / '
                    '--frames).',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='examples:\n'
               '  training set:   --out data/synthetic/train --count 20000 --seed 0\n'
               '  held-out test:  --out data/synthetic/test --count 1000 --seed 1000000\n'
               '  demo drive:     --video demo_out/synthetic_drive.mp4 --frames '
               'demo_out/synthetic_drive\n'
               '                  --drive-seconds 20 --fps 30 --width 1280 --height 720 '
               '--seed 2\n'
               'Sample i of seed s depends only on (s, i): a test set with another seed never '
               'shares a\nscene with the training set; re-running resumes and skips complete '
               'files.\n'
               'Per sample: images/<stem>, masks/<stem>.png (class ids, 255 = ignore), '
               'instances/<stem>.png\n(uint16, k = k-th cone of the JSON), scene/<stem>.json '
               '(camera and cones); --frames\nwrites <stem>_instances.png and <stem>.json '
               'beside images/ and masks/.')
    p.add_argument('--out', type=Path,
                   help='dataset folder: images/, masks/, instances/, scene/, meta.json')
    p.add_argument('--count', type=_positive_int, default=1000, help='samples to write')
    p.add_argument('--seed', type=_seed, default=0,
                   help='dataset / drive seed; use seeds never used for training for test sets')
    p.add_argument('--width', type=_positive_int, default=640, help='image width (pixels)')
    p.add_argument('--height', type=_positive_int, default=384, help='image height (pixels)')
    p.add_argument('--format', dest='image_format', choices=('jpg', 'png'), default='jpg',
                   help='image file format (masks are always PNG)')
    p.add_argument('--jpeg-quality', type=int, default=95, help='JPEG quality 1-100')
    p.add_argument('--workers', type=_positive_int, default=1,
                   help='processes rendering in parallel')
    p.add_argument('--min-cone-px', type=_non_negative_int, default=MIN_CONE_PX, metavar='PX',
                   help='cones projected fewer pixels high (at --width x --height) are 255 '
                        '(ignore) in the masks and "ignored" in the scene JSON; 0 keeps every '
                        'cone (default %(default)s)')
    p.add_argument('--supersample', type=_supersample, default=SUPERSAMPLE, metavar='N',
                   help='rasterise the geometry at N x the resolution, then resample: '
                        'anti-aliased edges, labels from the sample nearest each pixel centre '
                        '(1-4, default %(default)s)')
    p.add_argument('--video', type=Path, help='render a drive into this .mp4 (mp4v)')
    p.add_argument('--frames', type=Path,
                   help='render a drive into this folder (images/, masks/, '
                        '<stem>_instances.png, <stem>.json, meta.json)')
    p.add_argument('--drive-seconds', type=_positive_float, default=20.0,
                   help='duration of the drive')
    p.add_argument('--fps', type=_positive_float, default=30.0, help='frames per second')
    p.add_argument('--benchmark', type=_positive_int, metavar='N',
                   help='render N samples at --width x --height and print ms per frame')
    p.add_argument('--quiet', action='store_true', help='no progress bars')
    return p


def main(args: Optional[argparse.Namespace] = None) -> int:
    """Run the CLI; returns the process exit code."""
    if args is None:
        args = get_args_parser().parse_args()
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    if args.out is None and args.video is None and args.frames is None \
            and args.benchmark is None:
        get_args_parser().error('nothing to do: give --out DIR (a dataset), --video OUT.mp4 '
                                'or --frames DIR (a drive), or --benchmark N')
    try:
        _check_size(args.width, args.height)
        if args.benchmark:
            wall, cpu = _benchmark(args.benchmark, args.width, args.height, args.seed,
                                   args.min_cone_px, args.supersample)
            print(f'{wall:.1f} ms wall, {cpu:.1f} ms CPU per {args.width}x{args.height} frame '
                  f'(mean of {args.benchmark}, cv2 threads {cv2.getNumThreads()})')
        if args.out is not None:
            r = write_dataset(args.out, args.count, args.seed, args.width, args.height,
                              args.image_format, args.jpeg_quality, args.workers, args.quiet,
                              args.min_cone_px, args.supersample)
            LOG.info('%s: %d samples written, %d already there (seed %d, %dx%d)', args.out,
                     r['written'], r['skipped'], args.seed, args.width, args.height)
        if args.video is not None or args.frames is not None:
            r = write_drive(args.seed, args.drive_seconds, args.fps, args.width, args.height,
                            args.video, args.frames, args.image_format, args.jpeg_quality,
                            args.quiet, args.min_cone_px, args.supersample)
            LOG.info('drive of %d frames written to %s', r['frames'],
                     ', '.join(x for x in (r['video'], r['frame_dir']) if x))
    except (ValueError, RuntimeError, OSError) as e:
        LOG.error('error: %s', e)
        return 2
    return 0
