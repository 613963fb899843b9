# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

r"""
Evaluate a checkpoint: ``python -m training.evaluate --checkpoint X --dataset ...``.

Inference runs through :class:`eunet_ros.core.engine.SegmentationEngine`, the code the
node runs: full-resolution frames, letterboxed to the checkpoint's input size,
logits mapped back to every frame's own resolution. So the numbers are the node's
numbers. Scores come from one confusion matrix (:mod:`training.metrics`): per-class
IoU and Dice, mIoU (nanmean), pixel accuracy; IGNORE (255) pixels are not scored,
UNLABELLED (254) ones as described there.

``--dataset`` takes ``folder:PATH``, ``fsoco:PATH`` (its val split),
``coco:ROOT`` (val2017; binary or categories from the checkpoint's classes) or
a YAML mapping such as ``"{type: fsoco, root: data/fsoco, split: all}"``;
repeat it to pool several. ``--config`` takes a training config's validation data
instead.

Writes to ``--output-dir``: ``metrics.json``, ``confusion.png`` (rows: truth,
normalised per row), ``overlays/*.png`` (image | ground truth | prediction) and,
with ``--markdown``, the table as Markdown.

Cones found by distance: a folder dataset with ``scene/<stem>.json`` and
``instances/<stem>.png`` beside its masks (``training.synthetic`` writes them) gets a
second table, per cone class and distance bin (``--distance-bins``, default
0 10 20 35 m): cones, cones found (at least half of a cone's pixels get its class)
and the share found; cones too small to label (``ignored``) are reported as
skipped. It goes into ``metrics.json`` (``by_distance``), the printed output and the
Markdown file; see :mod:`training.cone_distance`. Every scene file is read before
inference starts; a missing or broken scene or instance file stops the evaluation
with a DatasetError that names it (a frame whose image cannot be decoded is still
skipped with a warning, as before).

Before/after: repeat ``--checkpoint`` (and optionally ``--label``) to evaluate
several checkpoints on the same data in one command; each gets a subfolder of
``--output-dir`` named by its label, and the tables are printed side by side and
written to ``comparison.json`` / ``comparison.md`` (and ``--markdown``); see
:mod:`training.compare`::

    python -m training.evaluate --checkpoint runs/a/best.pt --checkpoint runs/b/best.pt \
        --label before --label after --dataset folder:data/synthetic/test
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
import re
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

import cv2
from eunet_ros.argtypes import at_least
from eunet_ros.core.checkpoint import CheckpointError, load_checkpoint
from eunet_ros.core.engine import EngineError, SegmentationEngine
from eunet_ros.fileio import atomic_write_bytes, atomic_write_json
import numpy as np
import torch
from training.compare import compare_markdown, compare_text, default_labels
from training.cone_distance import ALL, ALL_CONES, ConeDetection, DEFAULT_BINS, DistanceBins
from training.cone_distance import folder_scenes
from training.cone_distance import format_distance_table, markdown_distance_table
from training.cone_distance import read_instances, Scene
from training.datasets import build_source, DatasetError, IGNORE, UNLABELLED
from training.datasets.base import SegmentationSource
from training.datasets.files import atomic_write_png
from training.datasets.folder import FolderSource
from training.metrics import ConfusionMatrix, format_table
from training.utils import ConfigError
import yaml

log = logging.getLogger('training.evaluate')

__all__ = ['get_args_parser', 'main', 'parse_dataset', 'confusion_image', 'markdown_table']


def parse_dataset(text: str, class_names: Sequence[str]) -> Dict[str, Any]:
    """Turn ``TYPE:PATH`` or a YAML mapping into a dataset spec (see module docstring)."""
    t = text.strip()
    if t.startswith('{'):
        try:
            spec = yaml.safe_load(t)
        except yaml.YAMLError as e:
            raise ConfigError(f'--dataset {text!r} is not a valid YAML mapping ({e})') from None
        if not isinstance(spec, dict):
            raise ConfigError(f'--dataset {text!r} must be a mapping')
        return spec
    kind, sep, path = t.partition(':')
    if not sep or not path:
        raise ConfigError(f'--dataset {text!r}: use TYPE:PATH (folder, fsoco, coco) or a YAML '
                          'mapping like "{type: folder, root: data/x}"')
    if kind == 'folder':
        return {'type': 'folder', 'root': path}
    if kind == 'fsoco':
        return {'type': 'fsoco', 'root': path, 'split': 'val'}
    if kind == 'coco':
        mode = 'binary' if list(class_names) == ['background', 'object'] else 'categories'
        return {'type': 'coco', 'root': path, 'split': 'val2017', 'mode': mode}
    raise ConfigError(f'--dataset {text!r}: unknown type {kind!r} (folder, fsoco, coco)')


def confusion_image(summary: Dict[str, Any], cell: int = 56) -> np.ndarray:
    """Draw the (row-normalised) confusion matrix as a BGR image with labels and counts."""
    mat = np.asarray(summary['confusion'], np.float64)
    rows = list(summary['confusion_rows'])
    if mat[-1].sum() == 0:  # no unlabelled pixels: plain C x C
        mat, rows = mat[:-1, :-1], rows[:-1]
        cols = rows
    else:  # last column: an unlabelled pixel predicted as a class its data does not label
        cols = rows[:-1] + ['(consistent)']
    n_r, n_c = mat.shape
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.38
    left = 12 + max(cv2.getTextSize(r, font, scale, 1)[0][0] for r in rows)
    top = 12 + max(cv2.getTextSize(c, font, scale, 1)[0][0] for c in cols)
    img = np.full((top + n_r * cell + 30, left + n_c * cell + 10, 3), 255, np.uint8)
    norm = mat / np.maximum(mat.sum(1, keepdims=True), 1)
    for i in range(n_r):
        for j in range(n_c):
            v = norm[i, j]
            colour = cv2.applyColorMap(np.uint8([[int(v * 255)]]), cv2.COLORMAP_VIRIDIS)[0, 0]
            y0, x0 = top + i * cell, left + j * cell
            cv2.rectangle(img, (x0, y0), (x0 + cell - 1, y0 + cell - 1),
                          tuple(int(c) for c in colour), -1)
            txt = (0, 0, 0) if v > 0.6 else (255, 255, 255)
            cv2.putText(img, f'{100 * v:.1f}', (x0 + 4, y0 + cell // 2), font, scale, txt, 1,
                        cv2.LINE_AA)
            cnt = int(mat[i, j])
            if cnt >= 1e6:
                label = f'{cnt / 1e6:.1f}M'
            else:
                label = f'{cnt / 1e3:.0f}k' if cnt >= 1e4 else str(cnt)
            cv2.putText(img, label, (x0 + 4, y0 + cell // 2 + 14), font, 0.3, txt, 1,
                        cv2.LINE_AA)
    for i, r in enumerate(rows):
        cv2.putText(img, r, (4, top + i * cell + cell // 2 + 4), font, scale, (0, 0, 0), 1,
                    cv2.LINE_AA)
    # column labels, written vertically
    for j, c in enumerate(cols):
        (tw, th), _ = cv2.getTextSize(c, font, scale, 1)
        patch = np.full((th + 6, tw + 4, 3), 255, np.uint8)
        cv2.putText(patch, c, (2, th + 2), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
        patch = cv2.rotate(patch, cv2.ROTATE_90_COUNTERCLOCKWISE)
        x0 = left + j * cell + (cell - patch.shape[1]) // 2
        y0 = top - patch.shape[0] - 4
        img[y0:y0 + patch.shape[0], x0:x0 + patch.shape[1]] = patch
    cv2.putText(img, 'rows: ground truth, columns: prediction, % of the row',
                (4, img.shape[0] - 10), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def _colour_truth(mask: np.ndarray, palette_bgr: np.ndarray) -> np.ndarray:
    out = palette_bgr[np.clip(mask, 0, len(palette_bgr) - 1)]
    out[mask == IGNORE] = (255, 255, 255)
    out[mask == UNLABELLED] = (96, 96, 96)
    return out


def markdown_table(summary: Dict[str, Any], title: str = '') -> str:
    """Render the per-class IoU/Dice as a Markdown table."""
    def pct(v: Optional[float]) -> str:
        return '–' if v is None else f'{100 * v:.1f}'

    lines = [title, ''] if title else []
    lines += ['| class | IoU % | Dice % |', '|---|---:|---:|']
    for n in summary['iou']:
        lines.append(f'| {n} | {pct(summary["iou"][n])} | {pct(summary["dice"][n])} |')
    lines.append(f'| **mean** | **{pct(summary["miou"])}** | **{pct(summary["mean_dice"])}** |')
    lines.append(f'| pixel accuracy | {pct(summary["pixel_accuracy"])} | |')
    return '\n'.join(lines) + '\n'


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    """Return the command-line parser."""
    p = argparse.ArgumentParser(description='Evaluate an eunet_ros checkpoint the way the '
                                'node runs it.', add_help=add_help)
    p.add_argument('--checkpoint', required=True, action='append',
                   help='the .pt checkpoint; repeat it to compare several on the same data')
    p.add_argument('--label', action='append',
                   help='with several --checkpoint: a name for each, in order (default: the '
                   'shortest tail of each path that tells them apart)')
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument('--dataset', action='append', help='folder:PATH, fsoco:PATH, coco:ROOT '
                     'or a YAML spec (repeatable)')
    src.add_argument('--config', help='a training config: evaluate on its data.val')
    p.add_argument('--output-dir', help='where results go (default runs/eval/<checkpoint>, '
                   'with several runs/eval/compare_<labels>)')
    p.add_argument('--device', default='auto', help='auto, cpu, cuda, cuda:N')
    p.add_argument('--precision', default='auto', help='auto, fp32, fp16, bf16')
    p.add_argument('--batch-size', type=at_least(1), default=8, help='frames per engine call')
    p.add_argument('--overlays', type=at_least(0), default=6,
                   help='prediction overlays to write')
    p.add_argument('--limit', type=at_least(1),
                   help='evaluate only the first N images of each source')
    p.add_argument('--markdown', help='also write the table(s) as Markdown to this file')
    p.add_argument('--title', default='', help='title line of the table')
    p.add_argument('--distance-bins', type=float, nargs='+', default=list(DEFAULT_BINS),
                   metavar='M', help='bin edges in metres of the cones-found-by-distance table '
                   '(datasets with scene/ and instances/); default 0 10 20 35, a column '
                   'above the last edge is added when such cones exist')
    return p


def _sources(args: argparse.Namespace, class_names: Sequence[str]) -> List[SegmentationSource]:
    if args.config:
        try:
            cfg = yaml.safe_load(Path(args.config).read_text())
            specs = cfg['data']['val']
        except (OSError, yaml.YAMLError, KeyError, TypeError) as e:
            raise ConfigError(f'--config {args.config}: cannot read its data.val ({e})') from None
    else:
        specs = [parse_dataset(d, class_names) for d in args.dataset]
    out = []
    for spec in specs:
        spec = dict(spec)
        if args.limit:
            spec['limit'] = int(args.limit)
        s = build_source(spec)
        if list(s.classes) != list(class_names):
            raise ConfigError(f'dataset {spec} has classes {list(s.classes)}, the checkpoint '
                              f'{list(class_names)}; evaluate on data with the same classes.')
        if hasattr(s, 'prepare'):
            s.prepare(progress=True)
        out.append(s)
    return out


def _scenes(source: SegmentationSource,
            class_names: Sequence[str]) -> Optional[Dict[str, Scene]]:
    """Return the scenes of a folder source that has scene/ + instances/, else None."""
    if not isinstance(source, FolderSource):
        return None
    return folder_scenes(source.root, [source.name(i) for i in range(len(source))],
                         class_names)


def _safe_name(label: str) -> str:
    return re.sub(r'[^\w.-]+', '_', label).strip('_.') or 'checkpoint'


def main(args: argparse.Namespace,
         engines: Optional[Sequence[Optional[SegmentationEngine]]] = None) -> Dict[str, Any]:
    """
    Evaluate; print the table(s); write the files; return the metrics dict.

    :param engines: optional engines already built, one per ``--checkpoint`` (None: load
        that file); an engine's own checkpoint supplies the classes and palette.
    :returns: the metrics of the checkpoint; with several checkpoints ``{"labels",
        "checkpoints", "results"}`` (one metrics dict each).
    """
    paths = [args.checkpoint] if isinstance(args.checkpoint, (str, os.PathLike)) \
        else list(args.checkpoint)
    engines = list(engines) if engines is not None else [None] * len(paths)
    if len(engines) != len(paths):
        raise ConfigError(f'{len(engines)} engines for {len(paths)} checkpoints')
    labels = list(getattr(args, 'label', None) or [])
    if labels and len(labels) != len(paths):
        raise ConfigError(f'{len(labels)} --label for {len(paths)} --checkpoint; give one '
                          'label per checkpoint, in the same order.')
    try:
        edges = DistanceBins(getattr(args, 'distance_bins', None) or DEFAULT_BINS).edges
    except ValueError as e:
        raise ConfigError(f'--distance-bins: {e}') from None
    ckpts = [e.checkpoint if e is not None else load_checkpoint(p)
             for p, e in zip(paths, engines)]
    names = list(ckpts[0].class_names)
    for p, ck in zip(paths[1:], ckpts[1:]):
        if list(ck.class_names) != names:
            raise ConfigError(f'{p} has classes {list(ck.class_names)}, {paths[0]} {names}; '
                              'compare checkpoints with the same classes.')
    sources = _sources(args, names)
    scenes = [_scenes(s, names) for s in sources]
    if len(paths) == 1:
        out = Path(args.output_dir or Path('runs') / 'eval' / Path(paths[0]).stem)
        return _evaluate(args, paths[0], ckpts[0], engines[0], sources, scenes, edges, out,
                         args.title or '', args.markdown, label=labels[0] if labels else '')
    labels = labels or default_labels([str(p) for p in paths])
    folders = [_safe_name(lab) for lab in labels]
    if len(set(folders)) != len(folders):
        raise ConfigError(f'labels {labels} give the same folder name twice; use --label '
                          'with distinct names.')
    base = Path(args.output_dir or Path('runs') / 'eval' / ('compare_' + '_vs_'.join(folders)))
    results = []
    for p, ck, engine, lab, folder in zip(paths, ckpts, engines, labels, folders):
        print(f'== {lab}: {p}')
        results.append(_evaluate(args, p, ck, engine, sources, scenes, edges, base / folder,
                                 '', None, label=lab))
    title = args.title or f'{" vs ".join(labels)} on {results[0]["images"]} images'
    print()
    print(compare_text(results, labels, title))
    md = compare_markdown(results, labels, title).encode()
    atomic_write_bytes(base / 'comparison.md', md)
    if args.markdown:
        atomic_write_bytes(args.markdown, md)
    comparison = {'labels': labels, 'checkpoints': [str(p) for p in paths], 'results': results}
    atomic_write_json(base / 'comparison.json', comparison)
    print(f'wrote {base}/comparison.json, comparison.md and {", ".join(folders)}/')
    return comparison


def _evaluate(args: argparse.Namespace, path: Any, ckpt: Any,
              engine: Optional[SegmentationEngine], sources: Sequence[SegmentationSource],
              scenes: Sequence[Optional[Dict[str, Scene]]], edges: Sequence[float], out: Path,
              title: str, markdown: Optional[str], label: str = '') -> Dict[str, Any]:
    """Evaluate one checkpoint on ``sources``; print its tables; write its files."""
    out.mkdir(parents=True, exist_ok=True)
    if engine is None:
        engine = SegmentationEngine(ckpt, device=args.device, precision=args.precision,
                                    warmup=False)
    names = list(ckpt.class_names)
    c = len(names)
    cm = ConfusionMatrix(c, engine.device)
    det = ConeDetection(names, edges) if any(sc is not None for sc in scenes) else None
    total = sum(len(s) for s in sources)
    n_over = args.overlays
    pick = set(np.linspace(0, total - 1, n_over).round().astype(int).tolist()) if n_over else set()
    palette_bgr = np.asarray(ckpt.palette, np.uint8)[:, ::-1]
    done, skipped, gidx = 0, [], 0
    t0 = time.time()
    from tqdm import tqdm
    bar = tqdm(total=total, desc='evaluate', unit='img', dynamic_ncols=True)
    try:  # close the bar before an error is printed
        for s, scene_of in zip(sources, scenes):
            lab = torch.zeros(c, dtype=torch.bool)
            lab[s.labelled_ids()] = True
            batch: List[Any] = []

            def flush() -> None:
                if not batch:
                    return
                results = engine.infer([b[1] for b in batch], color_order='rgb')
                for (k, image, mask, name), r in zip(batch, results):
                    pred = torch.from_numpy(r.mask)
                    cm.update(pred.unsqueeze(0), torch.from_numpy(mask).unsqueeze(0),
                              lab.unsqueeze(0))
                    if scene_of is not None:
                        scene = scene_of[name]
                        inst = read_instances(s.root / 'instances' / f'{name}.png', scene,
                                              mask.shape)
                        det.update(r.mask, mask, inst, scene)
                    if k in pick:
                        ov = engine.overlay(image, r.mask, color_order='rgb')
                        panel = np.concatenate([cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                                                _colour_truth(mask, palette_bgr), ov], axis=1)
                        atomic_write_png(out / 'overlays' / f'{k:05d}_{name}.png', panel)
                batch.clear()

            for i in range(len(s)):
                try:
                    image, mask = s.load(i)
                except DatasetError as e:
                    log.warning('skipped: %s', e)
                    skipped.append(str(e))
                    gidx += 1
                    bar.update(1)
                    continue
                batch.append((gidx, image, mask, s.name(i)))
                gidx += 1
                done += 1
                bar.update(1)
                if len(batch) >= args.batch_size:
                    flush()
            flush()
    finally:
        bar.close()
    scored = sorted({i for s in sources for i in s.labelled_ids()})
    summary = cm.summary(names, scored)
    title = title or f'{label or Path(path).name} on {done} images'
    print(format_table(summary, title))
    result = {'checkpoint': str(path), 'images': done, 'skipped': skipped,
              'device': engine.description, 'seconds': round(time.time() - t0, 2),
              'datasets': args.dataset or [f'{args.config}: data.val'], **summary}
    if det is not None:
        by = result['by_distance'] = det.summary()
        print()
        print(format_distance_table(by))
        truth = by['ground_truth'][ALL_CONES][ALL]['share']
        if truth is not None and truth < 1.0:
            log.warning('the ground-truth masks themselves give only %.1f%% of the cones their '
                        'class on half their pixels: masks and instances/ disagree (a '
                        'renderer bug?)', 100 * truth)
    atomic_write_json(out / 'metrics.json', result)
    atomic_write_png(out / 'confusion.png', confusion_image(summary))
    if markdown:
        text = markdown_table(summary, args.title)
        if det is not None:
            text += '\n' + markdown_distance_table(result['by_distance'])
        atomic_write_bytes(markdown, text.encode())
    print(f'wrote {out}/metrics.json, confusion.png, overlays/ ({len(pick)} images)')
    return result


def cli(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; user errors print one clear line and exit 2."""
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    args = get_args_parser().parse_args(argv)
    try:
        main(args)
    except (ConfigError, DatasetError, CheckpointError, EngineError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(cli())
