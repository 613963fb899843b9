# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Cross-entropy with ignored pixels and the marginal loss for partial labels.

For a pixel with a class label ``t`` the loss is the usual ``-log p_t``. For an
UNLABELLED pixel (254) of a sample whose labelled classes are ``L`` the label says
only "one of the classes not in L" (FSOCO: a non-cone pixel is background *or*
track), so the loss is the negative log of their summed probability::

    -log sum_{c not in L} p_c  =  logsumexp(z) - logsumexp_{c not in L}(z)

It is zero whenever the network puts all its mass on any class outside ``L``, so
fine-tuning on FSOCO never pushes the track towards background. Plain CE with the
unlabelled pixels mapped to background would. Pixels of value 255 are ignored.

For small objects (:class:`SegmentationLoss`, the ``loss:`` block of a training config):

* hard-pixel mining (``ohem_fraction``): the mean is taken over the hardest fraction
  of the counted pixels only, so the millions of easy sky and grass pixels stop
  drowning the few hundred cone pixels of a frame;
* a region loss on chosen classes (the cones), added to the cross-entropy:
  :func:`lovasz_softmax` (Berman et al., CVPR 2018, a convex surrogate of 1 - IoU)
  or :func:`soft_dice`. Both score a class by its overlap, whatever its pixel count,
  so a 20-pixel cone weighs as much as the track. They are computed in float32 over
  the labelled pixels (255 and 254 excluded), on the classes present in the batch.
  On partially labelled data (FSOCO: everything but the cones is 254) the region loss
  therefore sees cone pixels only, no background: there it rewards recall, and only
  the marginal cross-entropy penalises cones predicted on 254 pixels. (A 254 pixel of
  a sample that labels class c is a known non-c pixel and could count as a negative
  of c; not done, to keep 254 out as the recipe asks.)
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import torch
from training.datasets.base import UNLABELLED

__all__ = ['MarginalCrossEntropy', 'marginal_cross_entropy', 'lovasz_softmax', 'soft_dice',
           'region_loss', 'SegmentationLoss', 'REGION_LOSSES']

REGION_LOSSES = ('none', 'lovasz', 'dice')


def marginal_cross_entropy(logits: torch.Tensor, target: torch.Tensor,
                           labelled: Optional[torch.Tensor] = None,
                           weight: Optional[torch.Tensor] = None,
                           reduction: str = 'mean') -> torch.Tensor:
    """
    Cross-entropy over labelled pixels plus the marginal loss over UNLABELLED ones.

    :param logits: N x C x H x W (any float dtype; computed in float32).
    :param target: N x H x W integer class ids, 255 ignored, 254 unlabelled.
    :param labelled: N x C bool, the classes each sample labels (None: all, so 254
        pixels are ignored).
    :param weight: optional per-class weights (C,) for labelled pixels; unlabelled
        pixels weigh 1.
    :param reduction: ``'mean'`` over the counted pixels (weighted), ``'sum'`` or
        ``'none'`` (N x H x W, zeros where ignored).
    :returns: the loss; the ``'mean'`` of no counted pixel is 0 (with a gradient).

    IGNORE (255), and every other id >= C except 254 with ``labelled``, counts nothing.
    """
    loss, wt = _marginal_terms(logits, target, labelled, weight)
    loss = loss * wt
    if reduction == 'none':
        return loss
    if reduction == 'sum':
        return loss.sum()
    if reduction != 'mean':
        raise ValueError(f'reduction must be mean, sum or none, got {reduction!r}')
    return loss.sum() / wt.sum().clamp_min(1e-6)


def _marginal_terms(logits: torch.Tensor, target: torch.Tensor,
                    labelled: Optional[torch.Tensor],
                    weight: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Return the unweighted per-pixel loss and the per-pixel weight (0: not counted)."""
    if logits.dim() != 4 or target.shape != (logits.shape[0],) + logits.shape[2:]:
        raise ValueError(f'logits N x C x H x W and target N x H x W expected, got '
                         f'{tuple(logits.shape)} and {tuple(target.shape)}')
    n, c = logits.shape[:2]
    z = logits.float()
    target = target.long()
    lse_all = torch.logsumexp(z, dim=1)
    is_class = target < c
    t = torch.where(is_class, target, torch.zeros_like(target))
    loss = torch.where(is_class, lse_all - z.gather(1, t.unsqueeze(1)).squeeze(1),
                       torch.zeros_like(lse_all))
    wt = is_class.float()
    if weight is not None:
        wt = wt * weight.to(z.device, torch.float32)[t]
    if labelled is not None:
        if labelled.shape != (n, c):
            raise ValueError(f'labelled must be N x C = {(n, c)}, got {tuple(labelled.shape)}')
        closed = labelled.to(z.device, torch.bool)  # classes the label rules out
        has_open = ~closed.all(dim=1)
        # Samples that label every class keep their logits (no -inf rows, no NaN grads);
        # their 254 pixels are ignored.
        drop = (closed & has_open.view(n, 1)).view(n, c, 1, 1)
        lse_open = torch.logsumexp(z.masked_fill(drop, float('-inf')), dim=1)
        unl = (target == UNLABELLED) & has_open.view(n, 1, 1)
        loss = torch.where(unl, lse_all - lse_open, loss)
        wt = torch.where(unl, torch.ones_like(wt), wt)
    return loss, wt


class MarginalCrossEntropy(torch.nn.Module):
    """
    Module form of :func:`marginal_cross_entropy`.

    :param weight: optional per-class weights for labelled pixels.

    """

    def __init__(self, weight: Optional[Sequence[float]] = None) -> None:
        super().__init__()
        self.register_buffer('weight', None if weight is None else
                             torch.tensor([float(x) for x in weight]), persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor,
                labelled: Optional[torch.Tensor] = None) -> torch.Tensor:
        return marginal_cross_entropy(logits, target, labelled, self.weight)


def _lovasz_grad(gt_sorted: torch.Tensor,
                 gts: Optional[torch.Tensor] = None) -> torch.Tensor:
    """
    Gradient of the Lovasz extension of the Jaccard loss w.r.t. sorted errors (K x P).

    Row k holds the ground truth (0/1) of class k's pixels sorted by decreasing error;
    entry i is J(first i + 1 pixels) - J(first i pixels), J the Jaccard loss of
    mispredicting that set (Berman et al. 2018, Alg. 1). ``gts``: the class's pixel
    count (K x 1) when ``gt_sorted`` is only a prefix of the sorted pixels.
    """
    if gts is None:
        gts = gt_sorted.sum(1, keepdim=True)
    intersection = gts - gt_sorted.cumsum(1)
    union = gts + (1.0 - gt_sorted).cumsum(1)
    jaccard = 1.0 - intersection / union
    return torch.cat((jaccard[:, :1], jaccard[:, 1:] - jaccard[:, :-1]), dim=1)


Rows = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _class_rows(probs: torch.Tensor, target: torch.Tensor, valid: Optional[torch.Tensor],
                classes: Sequence[int]) -> Optional[Rows]:
    """
    Return (probabilities, ground truth, valid) as K x P rows of the present classes.

    None when no class of ``classes`` has a valid pixel.
    """
    c = probs.shape[1]
    cls = [int(k) for k in classes if 0 <= int(k) < c]
    if not cls or probs.numel() == 0:
        return None
    if probs.dim() == 2:   # P x C
        p = probs[:, cls].t()
    else:                  # N x C x H x W
        p = probs[:, cls].transpose(0, 1).reshape(len(cls), -1)
    t = target.reshape(1, -1)
    v = torch.ones_like(t, dtype=torch.bool) if valid is None else valid.reshape(1, -1)
    fg = (t == torch.as_tensor(cls, device=t.device).view(-1, 1)) & v
    present = fg.any(1)
    if not bool(present.any()):
        return None
    if not bool(present.all()):
        p, fg = p[present], fg[present]
    return p.float(), fg.float(), v.expand_as(fg)


def lovasz_softmax(probs: torch.Tensor, target: torch.Tensor, classes: Sequence[int],
                   valid: Optional[torch.Tensor] = None,
                   max_pixels: Optional[int] = None) -> torch.Tensor:
    """
    Lovasz-softmax loss (Berman et al., CVPR 2018) over the pixels of a batch.

    For each class ``c`` of ``classes`` present in ``target`` the pixel errors
    ``|[y = c] - p_c|`` are sorted in decreasing order and dotted with the gradient
    of the Lovasz extension of the Jaccard loss; the result is averaged over those
    classes (the paper's ``classes='present'`` over the given subset). For a hard
    prediction (probabilities 0 or 1) it equals the mean of 1 - IoU; for a perfect one
    it is 0. A batch without any pixel of ``classes`` returns 0 (with a gradient).

    :param probs: float probabilities (softmax output), P x C or N x C x H x W.
    :param target: integer class ids, P or N x H x W.
    :param classes: the class ids scored.
    :param valid: bool mask of the pixels that take part (None: all).
    :param max_pixels: None sorts all pixels (exact). Else only the ``max_pixels``
        largest errors of each class are sorted (``topk``, far cheaper on a CPU than
        sorting millions). The Lovasz gradient of a pixel depends only on the pixels
        sorted before it, so the kept prefix is exact; the dropped tail adds at most
        its largest error to the loss of its class (its gradient weights are >= 0
        and sum to at most 1). Well-classified sky and grass pixels have errors near 0.
    """
    rows = _class_rows(probs, target, valid, classes)
    if rows is None:
        return probs.sum() * 0.0
    p, fg, v = rows
    # invalid pixels get error -1: sorted behind every valid one, zeroed below
    errors = torch.where(v, (fg - p).abs(), torch.full_like(p, -1.0))
    if max_pixels is not None and int(max_pixels) < errors.shape[1]:
        errors_sorted, perm = torch.topk(errors, int(max_pixels), dim=1, sorted=True)
        fg_sorted = torch.gather(fg, 1, perm)
        gts = fg.sum(1, keepdim=True)
    else:
        errors_sorted, perm = torch.sort(errors, dim=1, descending=True)
        fg_sorted = torch.gather(fg, 1, perm)
        gts = None
    grad = _lovasz_grad(fg_sorted, gts)
    return (errors_sorted.clamp_min(0.0) * grad).sum(1).mean()


def soft_dice(probs: torch.Tensor, target: torch.Tensor, classes: Sequence[int],
              valid: Optional[torch.Tensor] = None, smooth: float = 1.0) -> torch.Tensor:
    """
    Soft Dice loss ``1 - (2 sum p g + s) / (sum p + sum g + s)`` over the pixels of a batch.

    Averaged over the classes of ``classes`` present in ``target`` (0 with a gradient
    when none is). Arguments as :func:`lovasz_softmax`; ``smooth`` is ``s``, which
    keeps the ratio defined and is small against a class's pixel count.
    """
    rows = _class_rows(probs, target, valid, classes)
    if rows is None:
        return probs.sum() * 0.0
    p, fg, v = rows
    p = p * v
    inter = (p * fg).sum(1)
    dice = (2.0 * inter + smooth) / (p.sum(1) + fg.sum(1) + smooth)
    return (1.0 - dice).mean()


def region_loss(kind: str, logits: torch.Tensor, target: torch.Tensor,
                classes: Sequence[int], max_pixels: Optional[int] = None) -> torch.Tensor:
    """
    Return the region loss ``kind`` (lovasz or dice) of N x C x H x W ``logits``.

    Softmax in float32 over all classes; only pixels with a class label (< C) take
    part, IGNORE (255) and UNLABELLED (254) ones are left out. ``max_pixels``: see
    :func:`lovasz_softmax`.
    """
    probs = logits.float().softmax(1)
    valid = target.long() < logits.shape[1]
    if kind == 'lovasz':
        return lovasz_softmax(probs, target, classes, valid, max_pixels)
    if kind == 'dice':
        return soft_dice(probs, target, classes, valid)
    raise ValueError(f'region loss must be one of {REGION_LOSSES[1:]}, got {kind!r}')


class SegmentationLoss(torch.nn.Module):
    """
    The training loss: marginal cross-entropy, optionally mined, plus a region loss.

    With the defaults it is exactly :class:`MarginalCrossEntropy`.

    :param weight: optional per-class weights of the cross-entropy's labelled pixels.
    :param ohem_fraction: None (all pixels) or a fraction in (0, 1]: the cross-entropy
        is the (weighted) mean over the ``ceil(fraction * counted)`` counted pixels of
        highest loss.
    :param region: ``'none'``, ``'lovasz'`` or ``'dice'``.
    :param region_weight: factor of the region loss.
    :param region_classes: the class ids the region loss scores.
    :param lovasz_max_pixels: see :func:`lovasz_softmax` (None: exact).

    """

    def __init__(self, weight: Optional[Sequence[float]] = None,
                 ohem_fraction: Optional[float] = None, region: str = 'none',
                 region_weight: float = 1.0, region_classes: Sequence[int] = (),
                 lovasz_max_pixels: Optional[int] = None) -> None:
        super().__init__()
        if region not in REGION_LOSSES:
            raise ValueError(f'region must be one of {REGION_LOSSES}, got {region!r}')
        if ohem_fraction is not None and not 0.0 < float(ohem_fraction) <= 1.0:
            raise ValueError(f'ohem_fraction must be in (0, 1] or None, got {ohem_fraction}')
        if region != 'none' and not len(region_classes):
            raise ValueError('a region loss needs at least one class')
        self.register_buffer('weight', None if weight is None else
                             torch.tensor([float(x) for x in weight]), persistent=False)
        self.ohem_fraction = None if ohem_fraction is None else float(ohem_fraction)
        self.region = region
        self.region_weight = float(region_weight)
        self.region_classes = [int(c) for c in region_classes]
        self.lovasz_max_pixels = None if lovasz_max_pixels is None else int(lovasz_max_pixels)

    def cross_entropy(self, logits: torch.Tensor, target: torch.Tensor,
                      labelled: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Return the (mined) marginal cross-entropy."""
        if self.ohem_fraction is None:
            return marginal_cross_entropy(logits, target, labelled, self.weight)
        loss, wt = _marginal_terms(logits, target, labelled, self.weight)
        counted = (wt > 0).flatten()
        n = int(counted.sum())
        k = max(1, math.ceil(self.ohem_fraction * n))
        if n == 0 or k >= n:
            return (loss * wt).sum() / wt.sum().clamp_min(1e-6)
        # rank by the unweighted loss: the class weights scale, they do not select
        ranked = loss.flatten().masked_fill(~counted, float('-inf'))
        idx = torch.topk(ranked, k, sorted=False).indices
        w = wt.flatten()[idx]
        return (loss.flatten()[idx] * w).sum() / w.sum().clamp_min(1e-6)

    def forward(self, logits: torch.Tensor, target: torch.Tensor,
                labelled: Optional[torch.Tensor] = None) -> torch.Tensor:
        loss = self.cross_entropy(logits, target, labelled)
        if self.region != 'none' and self.region_weight:
            loss = loss + self.region_weight * region_loss(
                self.region, logits, target, self.region_classes, self.lovasz_max_pixels)
        return loss
