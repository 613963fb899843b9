# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Score cone lists against the synthetic ground truth: ``python -m training.evaluate_cones``.

Each frame goes through :class:`~eunet_ros.core.engine.SegmentationEngine` (with
``confidence=True``) and :func:`eunet_ros.core.cones.cones`, the code segment_node
runs, with the camera intrinsics and pose of the frame's scene JSON (written by
``training.synthetic``: ``scene/<stem>.json`` of a dataset folder, or ``<stem>.json``
beside ``images/`` of a drive's frame folder). ``--truth-masks`` uses the
ground-truth masks instead of the network: what the geometry alone achieves.

Matching: a predicted cone with a ground position and a true cone match when
their ground distance is within ``--tolerance`` m plus ``--tolerance-pct`` % of
the true range (default 0.5 m + 5 %); pairs are taken closest first, one to one,
regardless of class. True cones count when their base is visible: not ``ignored``
(under ``min_cone_px`` tall), and their pixel box does not reach the image's
bottom row. A prediction that matches a true cone that does not count is neither
right nor wrong; a predicted cone without a position (base at or above the
horizon, or cut by the image border) is reported as such, not scored.

Per class and per range bin (``[lo, hi)`` of ``--bins``, default 0 10 20 35;
true range for true cones and matches, predicted range for unmatched
predictions): precision (by predicted class), recall (by true class), colour
accuracy (matches whose predicted class is the true one), median and p90 ground
position error in metres and in % of the true range.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
from eunet_ros.argtypes import at_least
from eunet_ros.core.cones import Cone, cones as find_cones
from eunet_ros.core.engine import Segmentation
from eunet_ros.core.ground import CameraPose, check_intrinsics
from eunet_ros.fileio import atomic_write_bytes, atomic_write_json
import numpy as np

__all__ = ['Truth', 'read_truth', 'frames_of', 'match', 'ConeScores', 'get_args_parser',
           'main', 'cli']

DEFAULT_BINS = (0.0, 10.0, 20.0, 35.0)
ALL = 'all'


class Truth:
    """The ground truth of one frame: camera and the cones that count."""

    def __init__(self, scene: Dict[str, Any], source: str = '') -> None:
        cam = scene['camera']
        self.width, self.height = int(scene['width']), int(scene['height'])
        self.intrinsics = check_intrinsics(np.ravel(cam['K']), cam.get('D', []),
                                           cam.get('distortion_model', 'none'), self.width,
                                           self.height, source=source)
        self.pose = CameraPose.from_mapping(cam['pose_in_base'])
        cones = scene['cones']
        self.xy = np.array([c['base_xyz'][:2] for c in cones], np.float64).reshape(-1, 2)
        self.class_id = np.array([c['class_id'] for c in cones], np.int64)
        self.range = np.hypot(self.xy[:, 0] - self.pose.x, self.xy[:, 1] - self.pose.y)
        self.counts = np.array([not c['ignored'] and c['bbox'][3] < self.height
                                for c in cones], bool)


def read_truth(path: Path) -> Truth:
    """Read one scene JSON (see :mod:`training.synthetic.samples`)."""
    try:
        return Truth(json.loads(Path(path).read_text()), source=str(path))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SystemExit(f'evaluate_cones: {path}: not a readable scene JSON '
                         f'({type(e).__name__}: {e})') from None


def frames_of(root: Path, limit: Optional[int] = None) -> List[Tuple[Path, Path, Path]]:
    """
    Return (image, mask, scene JSON) of a synthetic dataset or drive frame folder, by stem.

    :raises SystemExit: no images, or an image without its scene JSON.
    """
    root = Path(root)
    images = sorted(p for p in (root / 'images').glob('*')
                    if p.suffix.lower() in ('.jpg', '.jpeg', '.png'))
    if not images:
        raise SystemExit(f'evaluate_cones: {root}/images holds no images; render a dataset '
                         'with python -m training.synthetic --out DIR --count N')
    out = []
    for img in images[:limit]:
        scene = root / 'scene' / f'{img.stem}.json'
        if not scene.is_file():
            scene = root / f'{img.stem}.json'
        if not scene.is_file():
            raise SystemExit(f'evaluate_cones: no scene JSON for {img.name} (looked for '
                             f'scene/{img.stem}.json and {img.stem}.json in {root}); '
                             're-render it with python -m training.synthetic')
        out.append((img, root / 'masks' / f'{img.stem}.png', scene))
    return out


def match(pred_xy: np.ndarray, truth: Truth, tolerance: float = 0.5,
          tolerance_pct: float = 5.0) -> List[Tuple[int, int, float]]:
    """
    Match predictions to true cones, closest pairs first, one to one.

    :param pred_xy: P x 2 ground positions (finite).
    :returns: (prediction index, true cone index, distance) of every match.
    """
    if not len(pred_xy) or not len(truth.xy):
        return []
    d = np.hypot(pred_xy[:, None, 0] - truth.xy[None, :, 0],
                 pred_xy[:, None, 1] - truth.xy[None, :, 1])
    ok = d <= tolerance + tolerance_pct / 100.0 * truth.range[None, :]
    pi, ti = np.nonzero(ok)
    order = np.argsort(d[pi, ti], kind='stable')
    used_p, used_t, out = set(), set(), []
    for k in order:
        p, t = int(pi[k]), int(ti[k])
        if p in used_p or t in used_t:
            continue
        used_p.add(p)
        used_t.add(t)
        out.append((p, t, float(d[p, t])))
    return out


class ConeScores:
    """Counts and errors per (class, range bin), accumulated over frames."""

    def __init__(self, class_names: Sequence[str], bins: Sequence[float]) -> None:
        self.names = list(class_names)
        self.edges = [float(b) for b in bins]
        self.bins = [f'{a:g}-{b:g} m' for a, b in zip(self.edges[:-1], self.edges[1:])]
        self.cells: Dict[Tuple[str, str], Dict[str, Any]] = {}
        self.frames = 0
        self.no_position = 0
        self.predicted = 0

    def _bin(self, r: float) -> Optional[str]:
        for a, b, name in zip(self.edges[:-1], self.edges[1:], self.bins):
            if a <= r < b:
                return name
        return None

    def _cell(self, cls: str, b: str) -> Dict[str, Any]:
        return self.cells.setdefault((cls, b), {'tp_pred': 0, 'fp': 0, 'tp_true': 0, 'fn': 0,
                                                'colour_ok': 0, 'err_m': [], 'err_pct': []})

    def _add(self, cls: str, r: float, key: str, value: Any = 1) -> None:
        b = self._bin(r)
        for c in (cls, ALL):
            for bb in ([b] if b else []) + [ALL]:
                cell = self._cell(c, bb)
                if isinstance(cell[key], list):
                    cell[key].append(value)
                else:
                    cell[key] += value

    def add_frame(self, found: Sequence[Cone], truth: Truth, tolerance: float,
                  tolerance_pct: float) -> List[Tuple[int, int, float]]:
        """Score one frame; return the matches (indices into the positioned cones, truth)."""
        self.frames += 1
        self.predicted += len(found)
        placed = [c for c in found if c.xyz is not None]
        self.no_position += len(found) - len(placed)
        xy = np.array([c.xyz[:2] for c in placed], np.float64).reshape(-1, 2)
        pairs = match(xy, truth, tolerance, tolerance_pct)
        matched_p = {p for p, _, _ in pairs}
        matched_t = {t for _, t, _ in pairs}
        for p, t, d in pairs:
            if not truth.counts[t]:
                continue
            r = float(truth.range[t])
            true_cls = self.names[int(truth.class_id[t])]
            pred_cls = self.names[placed[p].class_id]
            self._add(pred_cls, r, 'tp_pred')
            self._add(true_cls, r, 'tp_true')
            self._add(true_cls, r, 'colour_ok', int(pred_cls == true_cls))
            self._add(true_cls, r, 'err_m', d)
            self._add(true_cls, r, 'err_pct', 100.0 * d / max(r, 1e-6))
        for p, c in enumerate(placed):
            if p not in matched_p:
                self._add(self.names[c.class_id], float(c.distance), 'fp')
        for t in np.flatnonzero(truth.counts):
            if int(t) not in matched_t:
                self._add(self.names[int(truth.class_id[t])], float(truth.range[t]), 'fn')
        return pairs

    def summary(self) -> Dict[str, Any]:
        """Return the table as a dict: {class: {bin: figures}}."""
        def q(v: List[float], p: float) -> Optional[float]:
            return float(np.percentile(v, p)) if v else None

        out: Dict[str, Any] = {}
        for (cls, b), c in sorted(self.cells.items()):
            npred = c['tp_pred'] + c['fp']
            ntrue = c['tp_true'] + c['fn']
            out.setdefault(cls, {})[b] = {
                'true': ntrue, 'predicted': npred, 'matched': c['tp_true'],
                'precision': c['tp_pred'] / npred if npred else None,
                'recall': c['tp_true'] / ntrue if ntrue else None,
                'colour_accuracy': c['colour_ok'] / c['tp_true'] if c['tp_true'] else None,
                'median_err_m': q(c['err_m'], 50), 'p90_err_m': q(c['err_m'], 90),
                'median_err_pct': q(c['err_pct'], 50), 'p90_err_pct': q(c['err_pct'], 90)}
        return out

    def table(self) -> str:
        """Return the table as aligned text (one row per class and bin)."""
        s = self.summary()

        def f(v: Optional[float], fmt: str) -> str:
            return '-' if v is None else format(v, fmt)

        head = (f'{"class":<18} {"range":>8} {"true":>5} {"pred":>5} {"prec":>6} {"recall":>6} '
                f'{"colour":>6} {"med m":>6} {"p90 m":>6} {"med %":>6} {"p90 %":>6}')
        lines = [head, '-' * len(head)]
        order = [ALL] + [n for n in self.names if n in s and n != ALL]
        for cls in order:
            for b in self.bins + [ALL]:
                c = s.get(cls, {}).get(b)
                if c is None:
                    continue
                lines.append(
                    f'{cls:<18} {b:>8} {c["true"]:>5} {c["predicted"]:>5} '
                    f'{f(c["precision"], ".3f"):>6} {f(c["recall"], ".3f"):>6} '
                    f'{f(c["colour_accuracy"], ".3f"):>6} {f(c["median_err_m"], ".3f"):>6} '
                    f'{f(c["p90_err_m"], ".3f"):>6} {f(c["median_err_pct"], ".1f"):>6} '
                    f'{f(c["p90_err_pct"], ".1f"):>6}')
        return '\n'.join(lines)


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    """Return the command line of ``python -m training.evaluate_cones``."""
    p = argparse.ArgumentParser('python -m training.evaluate_cones', add_help=add_help,
                                description=__doc__.split('\n\n')[0].strip())
    p.add_argument('--dataset', required=True, help='a synthetic dataset folder (images/, '
                   'masks/, scene/) or a drive frame folder (images/, masks/, <stem>.json)')
    p.add_argument('--checkpoint', default='', help='checkpoint (default: the packaged model)')
    p.add_argument('--truth-masks', action='store_true',
                   help='use the ground-truth masks instead of the network (geometry only)')
    p.add_argument('--limit', type=at_least(1), help='use only the first N frames (by stem)')
    p.add_argument('--device', default='auto', help='auto, cpu, cuda, cuda:N')
    p.add_argument('--backend', default='auto', help='auto, torch, onnxruntime')
    p.add_argument('--bins', type=float, nargs='+', default=list(DEFAULT_BINS),
                   help='range bin edges in metres (default 0 10 20 35)')
    p.add_argument('--tolerance', type=float, default=0.5, help='match radius, metres part')
    p.add_argument('--tolerance-pct', type=float, default=5.0,
                   help='match radius, %% of the true range part')
    p.add_argument('--min-pixels', type=at_least(1), default=None,
                   help='smallest cone blob in pixels (default: eunet_ros.core.cones)')
    p.add_argument('--json', help='write the figures as JSON to this file')
    p.add_argument('--markdown', help='write the table (in a code block) to this file')
    return p


def _engine(args: argparse.Namespace) -> Any:
    from eunet_ros.core.engine import SegmentationEngine
    path = args.checkpoint
    if not path:
        from eunet_ros.resources import default_checkpoint_path
        path = default_checkpoint_path()
        if path is None:
            raise SystemExit('evaluate_cones: no --checkpoint and no packaged model')
    return SegmentationEngine(str(path), device=args.device, backend=args.backend)


def main(args: argparse.Namespace) -> Dict[str, Any]:
    """Score the dataset; print the table; write --json / --markdown; return the figures."""
    bins = sorted(set(args.bins))
    if len(bins) < 2:
        raise SystemExit('evaluate_cones: --bins needs at least two edges')
    frames = frames_of(Path(args.dataset), args.limit)
    engine = None if args.truth_masks else _engine(args)
    if engine is not None:
        names = list(engine.class_names)
    else:
        from training.datasets.base import FS_CLASSES
        names = list(FS_CLASSES)
    kw = {} if args.min_pixels is None else {'min_pixels': args.min_pixels}
    scores = ConeScores(names, bins)
    t_cones = []
    t0 = time.time()
    for img_path, mask_path, scene_path in frames:
        truth = read_truth(scene_path)
        if engine is not None:
            frame = cv2.imread(str(img_path), cv2.IMREAD_COLOR)
            if frame is None:
                raise SystemExit(f'evaluate_cones: {img_path} does not decode')
            seg = engine.infer([frame], color_order='bgr', confidence=True)[0]
        else:
            mask = cv2.imread(str(mask_path), cv2.IMREAD_UNCHANGED)
            if mask is None:
                raise SystemExit(f'evaluate_cones: {mask_path} does not decode')
            seg = Segmentation(mask=mask)
        t = time.perf_counter()
        found = find_cones(seg, names, truth.intrinsics, truth.pose, **kw)
        t_cones.append(time.perf_counter() - t)
        scores.add_frame(found, truth, args.tolerance, args.tolerance_pct)
    what = 'ground-truth masks' if engine is None else engine.description
    head = (f'cones on {scores.frames} frames of {args.dataset} ({what}); match within '
            f'{args.tolerance:g} m + {args.tolerance_pct:g} % of range; '
            f'{scores.predicted} predicted, {scores.no_position} without a position; '
            f'cone step p50 {1e3 * float(np.median(t_cones)):.2f} ms; '
            f'{time.time() - t0:.0f} s in all')
    table = scores.table()
    print(head)
    print(table)
    result = {'dataset': str(args.dataset), 'frames': scores.frames, 'source': what,
              'tolerance_m': args.tolerance, 'tolerance_pct': args.tolerance_pct,
              'predicted': scores.predicted, 'without_position': scores.no_position,
              'cone_step_p50_ms': 1e3 * float(np.median(t_cones)),
              'table': scores.summary()}
    if args.json:
        atomic_write_json(args.json, result)
    if args.markdown:
        atomic_write_bytes(args.markdown, f'{head}\n\n```\n{table}\n```\n'.encode())
    return result


def cli(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; return the exit status."""
    main(get_args_parser().parse_args(argv))
    return 0


if __name__ == '__main__':
    sys.exit(cli())
