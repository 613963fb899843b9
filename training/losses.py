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
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from training.datasets.base import UNLABELLED

__all__ = ['MarginalCrossEntropy', 'marginal_cross_entropy']


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
    loss = loss * wt
    if reduction == 'none':
        return loss
    if reduction == 'sum':
        return loss.sum()
    if reduction != 'mean':
        raise ValueError(f'reduction must be mean, sum or none, got {reduction!r}')
    return loss.sum() / wt.sum().clamp_min(1e-6)


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
