# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

r"""
Evaluations side by side: per-class IoU and, where present, cones found by distance.

Two ways in, the same tables out:

* evaluate several checkpoints on the same test set in one command (each one gets its
  own ``metrics.json``, ``confusion.png`` and overlays in a subfolder of
  ``--output-dir``, named by its label; ``comparison.json`` and ``comparison.md``
  go beside them)::

    python -m training.evaluate --checkpoint before.pt --checkpoint after.pt \
        --label before --label after --dataset folder:data/synthetic/test \
        --output-dir runs/eval/before_after

* compare ``metrics.json`` files of earlier evaluations::

    python -m training.compare runs/eval/a/metrics.json runs/eval/b/metrics.json \
        --label before --label after --markdown before_after.md

The IoU table has a column per evaluation and, for two, the difference (second
minus first) in points. The distance table shows ``% found`` of each evaluation per
cell, joined by arrows (first -> second), and the number of cones counted.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import Any, Dict, List, Optional, Sequence

from eunet_ros.fileio import atomic_write_bytes
from training.cone_distance import ALL, rule_text

__all__ = ['default_labels', 'compare_text', 'compare_markdown', 'main']


def default_labels(paths: Sequence[str]) -> List[str]:
    """Name each checkpoint by the shortest tail of its path that tells them apart."""
    parts = [Path(p).with_suffix('').parts for p in paths]
    for k in range(1, max(len(p) for p in parts) + 1):
        labels = ['/'.join(p[-k:]) for p in parts]
        if len(set(labels)) == len(labels):
            return labels
    return [f'{i + 1}:{p}' for i, p in enumerate(paths)]


def _pct(v: Optional[float]) -> str:
    return '-' if v is None else f'{100 * v:.1f}'


def _delta(a: Optional[float], b: Optional[float]) -> str:
    return '' if a is None or b is None else f'{100 * (b - a):+.1f}'


def _iou_rows(results: Sequence[Dict[str, Any]]) -> List[List[str]]:
    names = list(results[0]['iou'])
    rows = []
    for n in names + ['mean', 'pixel accuracy']:
        key = {'mean': 'miou', 'pixel accuracy': 'pixel_accuracy'}.get(n)
        vals = [r['iou'].get(n) if key is None else r.get(key) for r in results]
        row = [n] + [_pct(v) for v in vals]
        if len(results) == 2:
            row.append(_delta(*vals))
        rows.append(row)
    return rows


def _distance_rows(results: Sequence[Dict[str, Any]]) -> Optional[List[List[str]]]:
    bys = [r.get('by_distance') for r in results]
    if not all(bys):
        return None
    cols = list(bys[0]['bins']) + [ALL]
    rows = []
    for name in bys[0]['table']:
        row = [name]
        for c in cols:
            cells = [b['table'].get(name, {}).get(c) for b in bys]
            counts = sorted({x['cones'] for x in cells if x})
            if not any(x and x['cones'] for x in cells):
                row.append('-')
                continue
            shares = ' -> '.join(_pct(x['share'] if x else None) for x in cells)
            row.append(f'{shares} (n={"/".join(str(n) for n in counts)})')
        rows.append(row)
    return [['class'] + cols] + rows


def _headline(results: Sequence[Dict[str, Any]], labels: Sequence[str]) -> List[str]:
    lines = [f'{lab}: {r.get("checkpoint", "?")} ({r.get("images", "?")} images)'
             for lab, r in zip(labels, results)]
    data = {json.dumps(r.get('datasets')) for r in results}
    images = {r.get('images') for r in results}
    if len(data) > 1 or len(images) > 1:
        lines.append('note: these evaluations ran on different data')
    return lines


def _fixed(rows: List[List[str]]) -> List[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ['  '.join(x.ljust(w) if i == 0 else x.rjust(w)
                      for i, (x, w) in enumerate(zip(r, widths))).rstrip() for r in rows]


def compare_text(results: Sequence[Dict[str, Any]], labels: Sequence[str],
                 title: str = '') -> str:
    """Render evaluations (``metrics.json`` dicts) side by side as fixed-width text."""
    head = ['class'] + [f'{lab} IoU %' for lab in labels]
    if len(results) == 2:
        head.append('diff')
    lines = [title] if title else []
    lines += _headline(results, labels) + [''] + _fixed([head] + _iou_rows(results))
    dist = _distance_rows(results)
    if dist:
        lines += ['', f'cones found by distance, % ({" -> ".join(labels)}; {rule_text()})']
        lines += _fixed(dist)
    return '\n'.join(lines)


def compare_markdown(results: Sequence[Dict[str, Any]], labels: Sequence[str],
                     title: str = '') -> str:
    """Render evaluations side by side as Markdown tables."""
    lines = [title, ''] if title else []
    lines += [f'- {x}' for x in _headline(results, labels)] + ['']
    head = ['class'] + [f'{lab} IoU %' for lab in labels]
    if len(results) == 2:
        head.append('diff (points)')
    lines += ['| ' + ' | '.join(head) + ' |', '|---|' + '---:|' * (len(head) - 1)]
    lines += ['| ' + ' | '.join(r) + ' |' for r in _iou_rows(results)]
    dist = _distance_rows(results)
    if dist:
        lines += ['', f'Cones found by distance, % ({" → ".join(labels)}); {rule_text()}:', '']
        lines += ['| ' + ' | '.join(dist[0]) + ' |', '|---|' + '---:|' * (len(dist[0]) - 1)]
        lines += ['| ' + ' | '.join(r).replace(' -> ', ' → ') + ' |' for r in dist[1:]]
    return '\n'.join(lines) + '\n'


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point: compare ``metrics.json`` files of training.evaluate."""
    p = argparse.ArgumentParser(description='Show evaluations (metrics.json of '
                                'training.evaluate) side by side.')
    p.add_argument('metrics', nargs='+', help='metrics.json files (two or more)')
    p.add_argument('--label', action='append', help='a name per file, in order (repeat)')
    p.add_argument('--title', default='', help='a title line')
    p.add_argument('--markdown', help='also write the tables as Markdown to this file')
    a = p.parse_args(argv)
    if len(a.metrics) < 2:
        p.error('give at least two metrics.json files')
    if a.label and len(a.label) != len(a.metrics):
        p.error(f'{len(a.label)} --label for {len(a.metrics)} files')
    results = []
    for m in a.metrics:
        try:
            results.append(json.loads(Path(m).read_text()))
        except (OSError, ValueError) as e:
            print(f'error: cannot read {m} ({e}); give metrics.json files written by '
                  'python -m training.evaluate', file=sys.stderr)
            return 2
    labels = a.label or default_labels([r.get('checkpoint', m) for r, m in
                                        zip(results, a.metrics)])
    print(compare_text(results, labels, a.title))
    if a.markdown:
        atomic_write_bytes(a.markdown, compare_markdown(results, labels, a.title).encode())
    return 0


if __name__ == '__main__':
    sys.exit(main())
