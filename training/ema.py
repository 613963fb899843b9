# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Exponential moving average (EMA) of a model's weights, for validation and shipping.

``ema = d * ema + (1 - d) * weights`` after every optimizer step, with the decay
warmed up as ``d_t = min(decay, (1 + t) / (10 + t))`` (t: updates so far), so the
average is not stuck on the random initialisation during a short run (without the
warm-up a decay of 0.999 would still weigh the initial weights by 0.74 after 300
steps).

BatchNorm buffers: the running mean and variance are *averaged* with the same decay
as the weights, integer buffers (``num_batches_tracked``) are copied. The running
statistics of the live model describe the features of the live weights of the last
few steps (BatchNorm's own momentum, 0.1); the EMA weights are an average over the
last ``1 / (1 - d)`` steps. For the first BatchNorm the mean of the features is
linear in the weights, so the average of the running means is the running mean of
the averaged weights; deeper down this holds approximately. Copying the live
statistics would pair the newest statistics with older (averaged) weights.
(timm's ``ModelEmaV2`` and YOLOv5's ``ModelEMA`` average them too.)

The EMA lives on the training device next to the model, in eval mode; its state
(weights, buffers, update count) goes into ``last.pt``, so a resumed run continues
the same average bit for bit.
"""

from __future__ import annotations

import copy
from typing import Any, Dict

import torch
from torch import nn

__all__ = ['ModelEMA']


class ModelEMA:
    """
    EMA copy of ``model`` (see module docstring).

    :param model: the plain module (not a DDP or compiled wrapper).
    :param decay: the target decay in (0, 1).

    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < float(decay) < 1.0:
            raise ValueError(f'EMA decay must be within (0, 1), got {decay}')
        self.decay = float(decay)
        self.updates = 0
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    def current_decay(self) -> float:
        """Return the decay the next update uses (warmed up, see module docstring)."""
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current weights (after an optimizer step)."""
        d = self.current_decay()
        self.updates += 1
        live = model.state_dict()
        for name, e in self.module.state_dict().items():
            v = live[name].detach()
            if e.dtype.is_floating_point:
                e.mul_(d).add_(v.to(e.dtype), alpha=1.0 - d)
            else:
                e.copy_(v)

    def state_dict(self) -> Dict[str, Any]:
        """Return what resuming needs: the averaged tensors and the update count."""
        return {'state_dict': {k: v.detach().clone() for k, v in
                               self.module.state_dict().items()},
                'updates': self.updates, 'decay': self.decay}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (the decay stays the one configured now)."""
        self.module.load_state_dict(state['state_dict'])
        self.updates = int(state['updates'])
