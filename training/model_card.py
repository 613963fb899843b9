# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Write the provenance note of a shipped checkpoint (``models/<name>.md``).

``python -m training.model_card --checkpoint models/x.pt --eval runs/r/eval_test/metrics.json
--summary runs/r/summary.json --command "make train-synthetic" --out models/x.md``

It states what the model is, what it was trained on, how (the exact command and
the resolved config), when it was best, and its per-class IoU on held-out data.
When the evaluation counted cones by distance (test data with ``scene/`` and
``instances/``, see :mod:`training.cone_distance`) the card shows that table too,
and states the label rule its scenes record: cones under ``min_cone_px`` px tall at
the frame size are ignore (255) in the masks, in training (when the training folders
say the same) and in evaluation.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

from eunet_ros.core.checkpoint import load_checkpoint
from training.compare import compare_markdown
from training.cone_distance import label_rule_of, markdown_distance_table
from training.datasets.files import atomic_write_bytes
from training.evaluate import markdown_table

__all__ = ['render', 'label_rule', 'main']


def _train_rules(train_specs: Any) -> List[Tuple[Optional[int], Optional[int]]]:
    """Return (``min_cone_px``, frame height) of every training folder (None where unknown)."""
    specs = train_specs if isinstance(train_specs, list) else []
    return [label_rule_of(Path(s['root'])) if isinstance(s, dict) and s.get('type') == 'folder'
            and s.get('root') else (None, None) for s in specs]


def label_rule(metrics: Dict[str, Any], train_specs: Any = None) -> str:
    """
    State the small-cone label rule the data records ('' when it records none).

    The rule is the same in training and evaluation when the threshold is the same
    share of the frame height: 8 px in 1280x720 test frames and 4 px in 640x360
    training frames (that camera at half scale) are one rule.

    :param metrics: training.evaluate's metrics.json (``by_distance.min_cone_px`` and
        ``frame_height``).
    :param train_specs: the training data specs of the checkpoint's provenance.
    """
    by = metrics.get('by_distance') or {}
    px, h = by.get('min_cone_px'), by.get('frame_height')
    if not isinstance(px, int):
        return ''
    h = h if isinstance(h, int) and h > 0 else None
    train = _train_rules(train_specs)
    known = [(p, th) for p, th in train if p is not None]
    rule = f'cones under {px} px tall at the frame size'
    if train and len(known) == len(train) and all(p == px for p, _ in known):
        return f'Label rule: {rule} are marked ignore (255) in training and evaluation.'
    if (train and h and len(known) == len(train)
            and all(th and p * h == px * th for p, th in known)):
        sizes = ', '.join(sorted({f'{p} px in the {th} px high training frames'
                                  for p, th in known}))
        return (f'Label rule: cones under {px} px tall in the {h} px high evaluation frames '
                f'({px / h * 100:.2f} % of the frame height) are marked ignore (255); the '
                f'same share in training: {sizes}.')
    if known:
        return (f'Label rule: {rule} are marked ignore (255) in evaluation; the training '
                f'scenes use {", ".join(map(str, sorted({p for p, _ in known})))} px.')
    return (f'Label rule: {rule} are marked ignore (255) in evaluation (the training data is '
            'not on this disk to check it says the same).')


def render(checkpoint: Path, metrics: Dict[str, Any], summary: Optional[Dict[str, Any]],
           command: str, note: str = '', before: Optional[Dict[str, Any]] = None,
           before_label: str = 'before', name: str = '') -> str:
    """
    Return the Markdown text of the model card.

    :param before: metrics.json of the checkpoint this one replaces, on the same test
        set: adds a before/after section (per-class IoU and cones found by distance).
    :param name: what to call the checkpoint (default: its file name), e.g. the name it
        is shipped under.
    """
    ckpt = load_checkpoint(checkpoint)
    prov = ckpt.provenance
    cfg = (summary or {}).get('config', {})
    name = name or checkpoint.name
    lines = [f'# {name}', '']
    if note:
        lines += [note, '']
    lines += [
        f'- network: {ckpt.description} {ckpt.config.to_dict()}',
        f'- classes: {", ".join(ckpt.class_names)}',
        f'- input size (letterbox target): {ckpt.input_size[1]}x{ckpt.input_size[0]} (W x H)',
        f'- normalisation: mean {ckpt.mean}, std {ckpt.std} ({ckpt.color_order})',
        f'- code version: {prov.get("code_version", "?")}, written {prov.get("created", "?")}',
        f'- best epoch: {prov.get("epoch", "?")} (step {prov.get("global_step", "?")})',
        f'- training data: `{json.dumps(prov.get("data", {}).get("train"))}`',
        f'- validation data: `{json.dumps(prov.get("data", {}).get("val"))}`',
    ]
    if summary:
        lines.append(f'- epochs run: {summary.get("epochs_run")} of '
                     f'{summary.get("epochs_max")}; early stop: {summary.get("stopped_early")}')
        t = cfg.get('train', {})
        o = cfg.get('optim', {})
        lines.append(f'- recipe: Lion lr {o.get("lr")} (one-cycle), weight decay '
                     f'{o.get("weight_decay")}, batch {t.get("batch_size")}, seed '
                     f'{t.get("seed")}, device {t.get("device")}')
    lines += ['', 'Reproduce:', '', '```bash', command, '```', '']
    lines.append(f'Held-out evaluation ({metrics.get("images")} images, '
                 f'`{", ".join(str(d) for d in metrics.get("datasets", []))}`; '
                 f'{metrics.get("device", "")}):')
    lines += ['', markdown_table(metrics).rstrip(), '']
    by = metrics.get('by_distance')
    if by:
        lines += [f'Cones found by distance ({by.get("frames")} frames with scene files):', '',
                  markdown_distance_table(by).rstrip(), '']
    rule = label_rule(metrics, prov.get('data', {}).get('train'))
    if rule:
        lines += [rule, '']
    if before is not None:
        lines += ['## Before and after, on the same test set', '',
                  compare_markdown([before, metrics], [before_label, name]).rstrip(),
                  '']
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(description='Write a checkpoint provenance note (Markdown).')
    p.add_argument('--checkpoint', required=True)
    p.add_argument('--eval', required=True, help="training.evaluate's metrics.json")
    p.add_argument('--summary', help="training.train's summary.json")
    p.add_argument('--command', default='', help='the command that reproduces the checkpoint')
    p.add_argument('--note', default='', help='a paragraph at the top')
    p.add_argument('--before-eval', help='metrics.json of the checkpoint this one replaces, '
                   'on the same test set: adds a before/after section')
    p.add_argument('--before-label', default='before', help='its name in that section')
    p.add_argument('--name', default='', help='what to call the checkpoint (default: its '
                   'file name), e.g. the name it is shipped under')
    p.add_argument('--out', required=True)
    a = p.parse_args(argv)
    metrics = json.loads(Path(a.eval).read_text())
    summary = json.loads(Path(a.summary).read_text()) if a.summary else None
    before = json.loads(Path(a.before_eval).read_text()) if a.before_eval else None
    text = render(Path(a.checkpoint), metrics, summary, a.command, a.note, before,
                  a.before_label, a.name)
    atomic_write_bytes(a.out, text.encode())
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
