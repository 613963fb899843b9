# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Write the provenance note of a shipped checkpoint (``models/<name>.md``).

``python -m training.model_card --checkpoint models/x.pt --eval runs/r/eval_test/metrics.json
--summary runs/r/summary.json --command "make train-synthetic" --out models/x.md``

It states what the model is, what it was trained on, how (the exact command and
the resolved config), when it was best, and its per-class IoU on held-out data.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import Any, Dict, Optional, Sequence

from eunet_ros.core.checkpoint import load_checkpoint
from training.datasets.files import atomic_write_bytes
from training.evaluate import markdown_table

__all__ = ['render', 'main']


def render(checkpoint: Path, metrics: Dict[str, Any], summary: Optional[Dict[str, Any]],
           command: str, note: str = '') -> str:
    """Return the Markdown text of the model card."""
    ckpt = load_checkpoint(checkpoint)
    prov = ckpt.provenance
    cfg = (summary or {}).get('config', {})
    lines = [f'# {checkpoint.name}', '']
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
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(description='Write a checkpoint provenance note (Markdown).')
    p.add_argument('--checkpoint', required=True)
    p.add_argument('--eval', required=True, help="training.evaluate's metrics.json")
    p.add_argument('--summary', help="training.train's summary.json")
    p.add_argument('--command', default='', help='the command that reproduces the checkpoint')
    p.add_argument('--note', default='', help='a paragraph at the top')
    p.add_argument('--out', required=True)
    a = p.parse_args(argv)
    metrics = json.loads(Path(a.eval).read_text())
    summary = json.loads(Path(a.summary).read_text()) if a.summary else None
    text = render(Path(a.checkpoint), metrics, summary, a.command, a.note)
    atomic_write_bytes(a.out, text.encode())
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
