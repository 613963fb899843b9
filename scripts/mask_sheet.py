#!/usr/bin/env python3
# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

r"""
Contact sheet of masks: frames of a dataset, their ground truth and each model's mask.

    python scripts/mask_sheet.py --dataset data/synthetic/test \
        --checkpoint OLD.pt --label before --checkpoint models/eunet_fs_synthetic.pt \
        --label now --out docs/synthetic_masks.png

Each row is one frame: image | ground truth (255 = ignore, grey) | one mask per
``--checkpoint``, predicted through :class:`~eunet_ros.core.engine.SegmentationEngine`
at the frame's full resolution, exactly as the node runs. Beneath the full frames a
``--zoom`` band (the middle of the frame around the horizon, where far cones are)
is repeated at twice the scale. Used for issue 11's "masks on real-style scenes".
"""

import argparse
from pathlib import Path
import sys
from typing import List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

TILE_W = 640


def _label(img: np.ndarray, text: str) -> np.ndarray:
    head = np.full((30, img.shape[1], 3), 255, np.uint8)
    cv2.putText(head, text, (8, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([head, img], axis=0)


def main() -> int:
    """Write the sheet; return the exit status."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--dataset', type=Path, default=Path('data/synthetic/test'),
                   help='folder dataset (images/, masks/)')
    p.add_argument('--checkpoint', action='append', required=True, help='repeatable')
    p.add_argument('--label', action='append', default=[], help='a name per --checkpoint')
    p.add_argument('--first', type=int, default=0, help='first frame (sorted by name)')
    p.add_argument('--count', type=int, default=5)
    p.add_argument('--step', type=int, default=37, help='take every STEP-th frame')
    p.add_argument('--zoom', type=float, nargs=2, default=(0.3, 0.7), metavar=('TOP', 'BOTTOM'),
                   help='rows of the zoomed band, as fractions of the height; the middle '
                        'half of the width is shown')
    p.add_argument('--device', default='cpu')
    p.add_argument('--out', type=Path, default=Path('docs/synthetic_masks.png'))
    a = p.parse_args()
    from eunet_ros.core.checkpoint import DEFAULT_PALETTE, load_checkpoint
    from eunet_ros.core.engine import SegmentationEngine
    from eunet_ros.fileio import atomic_write_bytes
    labels = a.label + [Path(c).name for c in a.checkpoint[len(a.label):]]
    engines = [SegmentationEngine(load_checkpoint(c), device=a.device, warmup=False)
               for c in a.checkpoint]
    lut = np.full((256, 3), 128, np.uint8)
    lut[:len(DEFAULT_PALETTE)] = np.array(DEFAULT_PALETTE, np.uint8)
    images = sorted((a.dataset / 'images').glob('*'))
    pick = images[a.first::a.step][:a.count]
    if not pick:
        print(f'error: no images in {a.dataset}/images', file=sys.stderr)
        return 2
    rows: List[np.ndarray] = []
    for path in pick:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        truth = cv2.imread(str(a.dataset / 'masks' / f'{path.stem}.png'), cv2.IMREAD_UNCHANGED)
        if bgr is None or truth is None:
            print(f'error: {path} or its mask does not decode', file=sys.stderr)
            return 2
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        panels = [rgb, lut[truth]] + [lut[e.infer([rgb], color_order='rgb')[0].mask]
                                      for e in engines]
        h, w = rgb.shape[:2]
        th = round(h * TILE_W / w)
        full = [cv2.resize(x, (TILE_W, th), interpolation=cv2.INTER_AREA if i == 0
                           else cv2.INTER_NEAREST) for i, x in enumerate(panels)]
        y0, y1 = int(a.zoom[0] * h), int(a.zoom[1] * h)
        x0, x1 = w // 4, 3 * w // 4
        zoom = [cv2.resize(x[y0:y1, x0:x1], (TILE_W, round((y1 - y0) * TILE_W / (x1 - x0))),
                           interpolation=cv2.INTER_AREA if i == 0 else cv2.INTER_NEAREST)
                for i, x in enumerate(panels)]
        sep = np.full((4, TILE_W * len(panels), 3), 255, np.uint8)
        rows += [np.concatenate(full, axis=1), sep, np.concatenate(zoom, axis=1),
                 np.full((12, TILE_W * len(panels), 3), 255, np.uint8)]
    sheet = np.concatenate(rows, axis=0)
    titles = ['image (below: the middle, x2)', 'ground truth (grey: ignored)'] + labels
    head = np.concatenate([_label(np.zeros((0, TILE_W, 3), np.uint8), t) for t in titles], 1)
    sheet = np.concatenate([head, sheet], axis=0)
    ok, buf = cv2.imencode('.png', cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    atomic_write_bytes(a.out, buf.tobytes())
    print(f'wrote {a.out} ({len(pick)} frames of {a.dataset})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
