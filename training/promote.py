# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Promote a trained checkpoint to the shipped one, only when it is better on the same test set.

``python -m training.promote --candidate runs/r/best.pt --candidate-eval
runs/r/eval_test/metrics.json --current models/eunet_fs_synthetic.pt --current-eval
runs/r/eval_current/metrics.json``

Both ``metrics.json`` files come from ``python -m training.evaluate`` on the same
test set (``make promote-synthetic`` runs both). The candidate replaces ``--current``
(atomically: a copy beside it, then a rename) when its score (``--metric``: the mean
IoU of the FS cone classes by default, or ``miou``) is higher, or with ``--force``.
Otherwise nothing is written and the exit status is 1, with both figures printed.
``make train-synthetic`` never writes to ``models/``; this is the only way there.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
import shutil
import sys
from typing import Any, Dict, Optional, Sequence

from eunet_ros.fileio import atomic_write

__all__ = ['CONE_CLASSES', 'score', 'main']

CONE_CLASSES = ('blue_cone', 'yellow_cone', 'orange_cone', 'large_orange_cone')


def score(metrics: Dict[str, Any], metric: str) -> float:
    """Return ``metric`` (``cone_miou`` or ``miou``) of an evaluation; NaN when absent."""
    if metric == 'miou':
        v = metrics.get('miou')
        return float('nan') if v is None else float(v)
    ious = [metrics.get('iou', {}).get(c) for c in CONE_CLASSES]
    ious = [float(v) for v in ious if v is not None]
    return sum(ious) / len(ious) if ious else float('nan')


def _read(path: Path, what: str) -> Dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise SystemExit(f'error: {what} {path} cannot be read ({e}); run python -m '
                         'training.evaluate on the test set first (make promote-synthetic '
                         'does)') from None


def get_args_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(prog='python -m training.promote',
                                description=__doc__.split('\n\n')[0].strip())
    p.add_argument('--candidate', type=Path, required=True, help='the trained checkpoint')
    p.add_argument('--candidate-eval', type=Path, required=True, help='its metrics.json')
    p.add_argument('--current', type=Path, required=True, help='the shipped checkpoint')
    p.add_argument('--current-eval', type=Path, default=None,
                   help="the shipped checkpoint's metrics.json on the same test set (omit "
                        'when there is no shipped checkpoint yet)')
    p.add_argument('--metric', choices=('cone_miou', 'miou'), default='cone_miou')
    p.add_argument('--force', action='store_true', help='promote even when not better')
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Compare and promote; return 0 when promoted, 1 when not, 2 on bad input."""
    a = get_args_parser().parse_args(argv)
    if not a.candidate.is_file():
        print(f'error: --candidate {a.candidate} does not exist', file=sys.stderr)
        return 2
    new = score(_read(a.candidate_eval, '--candidate-eval'), a.metric)
    old = float('nan')
    if a.current.exists():
        if a.current_eval is None:
            print(f'error: {a.current} exists: give --current-eval (its metrics on the same '
                  'test set) or --force', file=sys.stderr)
            if not a.force:
                return 2
        else:
            old = score(_read(a.current_eval, '--current-eval'), a.metric)
    print(f'{a.metric}: candidate {100 * new:.1f}, current '
          f'{"-" if math.isnan(old) else f"{100 * old:.1f}"}')
    better = not math.isnan(new) and (math.isnan(old) or new > old)
    if not (better or a.force):
        print(f'not promoted: {a.candidate} is not better than {a.current} '
              '(--force promotes anyway)')
        return 1
    with open(a.candidate, 'rb') as src:
        atomic_write(a.current, lambda f: shutil.copyfileobj(src, f))
    print(f'promoted {a.candidate} -> {a.current}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
