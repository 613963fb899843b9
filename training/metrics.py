# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Segmentation metrics from one bincount confusion matrix, reduced across ranks.

The matrix has C + 1 rows and columns. Rows are ground truth, columns predictions;
row C collects UNLABELLED pixels (254, partial labels):

* an UNLABELLED pixel predicted as a class its sample *labels* is a sure error
  (a cone there would have been labelled): row C, that column, so it counts as a
  false positive of that class;
* predicted as any class the sample does not label, it is consistent: row C,
  column C (correct for pixel accuracy, no class's IoU).

IGNORE (255) pixels count nowhere. IoU = TP / (TP + FP + FN) and Dice =
2 TP / (2 TP + FP + FN) per class, NaN where undefined or where the class is not
scored (e.g. background and track on FSOCO, which labels cones only); mIoU and
mean Dice are ``nanmean`` over classes. :func:`cone_miou` is the nanmean IoU over
the Formula Student cone classes (:data:`CONE_CLASSES`): what a driverless car
steers by, and what the track and the sky, large and easy, hide in the mIoU.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch
import torch.distributed as dist
from training.datasets.base import UNLABELLED

__all__ = ['ConfusionMatrix', 'format_table', 'CONE_CLASSES', 'cone_miou', 'METRICS',
           'metric_value']

# The FS cone classes of cone mIoU: the four the rules define (unknown_cone is not one).
CONE_CLASSES = ('blue_cone', 'yellow_cone', 'orange_cone', 'large_orange_cone')
# What early stopping and best.pt can select on (train.select_metric).
METRICS = ('miou', 'cone_miou')


class ConfusionMatrix:
    """
    Accumulate a (C+1) x (C+1) confusion matrix of int64 counts.

    :param num_classes: C.
    :param device: where the counts live (the predictions' device).

    """

    def __init__(self, num_classes: int, device: Any = 'cpu') -> None:
        self.num_classes = int(num_classes)
        k = self.num_classes + 1
        self.mat = torch.zeros((k, k), dtype=torch.int64, device=device)

    def reset(self) -> None:
        """Zero the counts."""
        self.mat.zero_()

    @torch.no_grad()
    def update(self, pred: torch.Tensor, target: torch.Tensor,
               labelled: Optional[torch.Tensor] = None) -> None:
        """
        Count one batch.

        :param pred: N x H x W predicted class ids.
        :param target: N x H x W ground truth (255 ignored, 254 unlabelled).
        :param labelled: N x C bool labelled classes per sample; None: all classes
            (then 254 pixels are not counted).
        """
        c = self.num_classes
        k = c + 1
        pred = pred.to(self.mat.device).long()
        target = target.to(self.mat.device).long()
        if pred.shape != target.shape:
            raise ValueError(f'pred {tuple(pred.shape)} and target {tuple(target.shape)} differ')
        valid = target < c
        idx = target[valid] * k + pred[valid].clamp(0, c - 1)
        if labelled is not None:
            lab = labelled.to(self.mat.device).bool()
            unl = (target == UNLABELLED) & ~lab.all(dim=1).view(-1, *([1] * (target.dim() - 1)))
            if bool(unl.any()):
                n_idx = torch.arange(target.shape[0], device=target.device).view(
                    -1, *([1] * (target.dim() - 1))).expand_as(target)[unl]
                p = pred[unl].clamp(0, c - 1)
                wrong = lab[n_idx, p]
                col = torch.where(wrong, p, torch.full_like(p, c))
                idx = torch.cat((idx, c * k + col))
        self.mat += torch.bincount(idx, minlength=k * k).view(k, k)

    def reduce_from_all_processes(self) -> None:
        """Sum the counts over all ranks (no-op unless torch.distributed is initialised)."""
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(self.mat)

    def compute(self, scored: Optional[Sequence[int]] = None) -> Dict[str, torch.Tensor]:
        """
        Derive the metrics.

        :param scored: class ids that are scored (default all); others get NaN IoU/Dice.
        :returns: ``iou``, ``dice`` (per class, float64), ``miou``, ``mean_dice``,
            ``pixel_accuracy`` (0-dim), ``pixels`` (counted pixels).
        """
        c = self.num_classes
        m = self.mat.double().cpu()
        tp = torch.diagonal(m)[:c]
        gt = m[:c].sum(1)
        pr = m[:, :c].sum(0)
        union = gt + pr - tp
        nan = torch.full_like(tp, float('nan'))
        iou = torch.where(union > 0, tp / union.clamp_min(1), nan)
        dice = torch.where(gt + pr > 0, 2 * tp / (gt + pr).clamp_min(1), nan)
        if scored is not None:
            keep = torch.zeros(c, dtype=torch.bool)
            keep[list(scored)] = True
            iou = torch.where(keep, iou, nan)
            dice = torch.where(keep, dice, nan)
        total = m.sum()
        acc = torch.diagonal(m).sum() / total if total > 0 else torch.tensor(float('nan'))
        return {'iou': iou, 'dice': dice, 'miou': _nanmean(iou), 'mean_dice': _nanmean(dice),
                'pixel_accuracy': acc, 'pixels': total}

    def summary(self, class_names: Sequence[str],
                scored: Optional[Sequence[int]] = None) -> Dict[str, Any]:
        """JSON-friendly metrics: floats (None for NaN), per-class dicts, the matrix."""
        r = self.compute(scored)
        return {
            'miou': _num(r['miou']),
            'mean_dice': _num(r['mean_dice']),
            'pixel_accuracy': _num(r['pixel_accuracy']),
            'pixels': int(r['pixels']),
            'iou': {n: _num(v) for n, v in zip(class_names, r['iou'])},
            'dice': {n: _num(v) for n, v in zip(class_names, r['dice'])},
            'confusion': self.mat.cpu().tolist(),
            'confusion_rows': list(class_names) + ['(unlabelled)'],
        }


def cone_miou(iou: Mapping[str, Optional[float]]) -> Optional[float]:
    """
    Return the mean IoU over the FS cone classes that have one (None: none has).

    :param iou: per-class IoU by class name (``summary['iou']``; None where undefined).
    """
    vals = [float(iou[n]) for n in CONE_CLASSES if iou.get(n) is not None]
    return sum(vals) / len(vals) if vals else None


def metric_value(summary: Mapping[str, Any], metric: str) -> Optional[float]:
    """Return ``metric`` (one of :data:`METRICS`) of a :meth:`ConfusionMatrix.summary`."""
    if metric == 'miou':
        return summary['miou']
    if metric == 'cone_miou':
        return cone_miou(summary['iou'])
    raise ValueError(f'metric must be one of {METRICS}, got {metric!r}')


def _nanmean(x: torch.Tensor) -> torch.Tensor:
    ok = ~torch.isnan(x)
    return x[ok].mean() if bool(ok.any()) else torch.tensor(float('nan'), dtype=x.dtype)


def _num(v: Any) -> Optional[float]:
    f = float(v)
    return None if math.isnan(f) else f


def format_table(summary: Dict[str, Any], title: str = '') -> str:
    """Render :meth:`ConfusionMatrix.summary` as a fixed-width text table."""
    def pct(v: Optional[float]) -> str:
        return '     -' if v is None else f'{100 * v:6.2f}'

    names: List[str] = list(summary['iou'])
    width = max([len(n) for n in names] + [len('pixel accuracy')])
    lines = [title] if title else []
    lines.append(f'{"class":<{width}}   IoU %  Dice %')
    for n in names:
        lines.append(f'{n:<{width}}  {pct(summary["iou"][n])}  {pct(summary["dice"][n])}')
    lines.append(f'{"mean":<{width}}  {pct(summary["miou"])}  {pct(summary["mean_dice"])}')
    lines.append(f'{"pixel accuracy":<{width}}  {pct(summary["pixel_accuracy"])}')
    return '\n'.join(lines)
