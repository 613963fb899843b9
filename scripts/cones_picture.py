# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
docs/cones.png: a frame with the cones found in it, beside a bird's-eye plot.

The frame is rendered by ``training.synthetic`` (seed and index, 1280x720 by
default) with its scene JSON; it goes through the packaged checkpoint
(``SegmentationEngine`` with ``confidence=True``) and :func:`eunet_ros.core.cones.cones`
with the frame's own camera, as segment_node would run it. Left: the image with
each cone's box, base point and confidence in its class colour. Right: the
ground seen from above (base_link, x forward up the page, y left; 5 m grid):
true cones as rings, found cones as dots, a line from each found cone to the
true cone it matches (0.5 m + 5 % of range, ``training.evaluate_cones``).

    python scripts/cones_picture.py --out docs/cones.png
"""

import argparse
from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
from eunet_ros.core.cones import cones  # noqa: E402
from eunet_ros.core.engine import SegmentationEngine  # noqa: E402
from eunet_ros.fileio import atomic_write_bytes  # noqa: E402
from eunet_ros.resources import default_checkpoint_path  # noqa: E402
import numpy as np  # noqa: E402
from training.evaluate_cones import match, Truth  # noqa: E402
from training.synthetic import render_sample  # noqa: E402


def get_args_parser() -> argparse.ArgumentParser:
    """Return the command line."""
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0].strip())
    p.add_argument('--seed', type=int, default=3000, help='synthetic seed (the test set: 3000)')
    p.add_argument('--index', type=int, default=1, help='sample index')
    p.add_argument('--width', type=int, default=1280)
    p.add_argument('--height', type=int, default=720)
    p.add_argument('--checkpoint', default='', help='default: the packaged model')
    p.add_argument('--range', type=float, default=35.0, help='metres shown ahead')
    p.add_argument('--out', default='docs/cones.png')
    return p


def bird_view(truth: Truth, found, palette_bgr: np.ndarray, size: int,
              ahead: float) -> np.ndarray:
    """Draw the ground from above: rings = true cones, dots = found, lines = matches."""
    img = np.full((size, size, 3), 255, np.uint8)
    scale = (size - 40) / ahead
    half = ahead / 2

    def px(x: float, y: float):
        return int(round(size / 2 - y * scale)), int(round(size - 20 - x * scale))

    for m in range(0, int(ahead) + 1, 5):
        u, v = px(m, 0)
        cv2.line(img, (0, v), (size, v), (225, 225, 225), 1)
        cv2.putText(img, f'{m} m', (4, v - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (120, 120, 120),
                    1, cv2.LINE_AA)
    for m in range(-int(half) // 5 * 5, int(half) + 1, 5):
        u, _ = px(0, m)
        cv2.line(img, (u, 0), (u, size), (225, 225, 225), 1)
    cam = px(truth.pose.x, truth.pose.y)
    cv2.drawMarker(img, cam, (0, 0, 0), cv2.MARKER_TRIANGLE_UP, 14, 2)
    placed = [c for c in found if c.xyz is not None]
    xy = np.array([c.xyz[:2] for c in placed]).reshape(-1, 2)
    for p, t, _ in match(xy, truth):
        cv2.line(img, px(*xy[p]), px(*truth.xy[t]), (0, 0, 0), 1, cv2.LINE_AA)
    for (x, y), cid, counts in zip(truth.xy, truth.class_id, truth.counts):
        col = tuple(int(v) for v in palette_bgr[cid])
        cv2.circle(img, px(x, y), 6, col if counts else (190, 190, 190), 2, cv2.LINE_AA)
    for c in placed:
        col = tuple(int(v) for v in palette_bgr[c.class_id])
        cv2.circle(img, px(*c.xyz[:2]), 3, col, -1, cv2.LINE_AA)
        cv2.circle(img, px(*c.xyz[:2]), 3, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, 'rings: true cones (grey: base not visible / too small), dots: found, '
                'lines: matched', (8, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1,
                cv2.LINE_AA)
    return img


def main(argv=None) -> int:
    """Render the frame, find its cones, write the picture."""
    args = get_args_parser().parse_args(argv)
    rgb, _, _, js = render_sample(args.seed, args.index, args.width, args.height, truth=True)
    truth = Truth(js, source=f'seed {args.seed} index {args.index}')
    path = args.checkpoint or str(default_checkpoint_path())
    engine = SegmentationEngine(path, device='cpu')
    frame = np.ascontiguousarray(rgb[:, :, ::-1])
    seg = engine.infer([frame], color_order='bgr', confidence=True)[0]
    found = cones(seg, engine.class_names, truth.intrinsics, truth.pose)
    palette_bgr = np.asarray(engine.palette_rgb, np.uint8)[:, ::-1]
    left = frame.copy()
    for c in found:
        col = tuple(int(v) for v in palette_bgr[c.class_id])
        u0, v0, u1, v1 = c.bbox
        cv2.rectangle(left, (u0, v0), (u1 - 1, v1 - 1), col, 2)
        cv2.circle(left, (int(c.base[0]), int(c.base[1])), 3, (255, 255, 255), -1)
        label = f'{c.confidence:.2f}' + (f' {c.distance:.1f}m' if c.distance else '')
        cv2.putText(left, label, (u0, max(10, v0 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, col, 1,
                    cv2.LINE_AA)
    h = left.shape[0]
    right = bird_view(truth, found, palette_bgr, h, args.range)
    title = (f'{engine.checkpoint.name}: {len(found)} cones found, '
             f'{sum(c.xyz is not None for c in found)} placed on the ground; '
             f'{int(truth.counts.sum())} true cones with a visible base')
    pic = np.concatenate([left, right], axis=1)
    band = np.full((28, pic.shape[1], 3), 255, np.uint8)
    cv2.putText(band, title, (8, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    pic = np.concatenate([band, pic], axis=0)
    ok, png = cv2.imencode('.png', pic)
    out = Path(args.out)
    atomic_write_bytes(out, png.tobytes())
    print(f'wrote {out} ({pic.shape[1]}x{pic.shape[0]}): {title}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
