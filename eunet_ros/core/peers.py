# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
torchvision's real-time segmentation networks, as peers of EUnet.

They exist so that EUnet is compared with them on equal terms: timed in the same
benchmark run (eunet_ros.tools.benchmark) and trained with the same recipe
(``training.train --arch lraspp_mobilenet_v3_large``). A checkpoint of a peer uses
the same file format as EUnet's (``model.arch = 'torchvision'``), so the engine,
the evaluator and even the node can run it. torchvision is optional: it is imported
only when a peer is built, and its absence is reported as a clear error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, Tuple

import torch
from torch import nn

__all__ = ['PEERS', 'PeerConfig', 'PeerModel', 'build_peer', 'torchvision_available']

PEERS = ('lraspp_mobilenet_v3_large', 'deeplabv3_mobilenet_v3_large')


@dataclass(frozen=True)
class PeerConfig:
    """
    Everything needed to rebuild a torchvision peer (stored in checkpoints).

    :ivar name: the torchvision builder in ``torchvision.models.segmentation``.
    :ivar num_classes: output classes.
    :ivar in_channels: always 3 (the torchvision backbones take RGB).

    """

    name: str
    num_classes: int
    in_channels: int = 3

    def __post_init__(self) -> None:
        if self.name not in PEERS:
            raise ValueError(f'unknown peer {self.name!r}; known: {list(PEERS)}')
        if int(self.num_classes) < 1:
            raise ValueError(f'num_classes must be >= 1, got {self.num_classes}')
        if self.in_channels != 3:
            raise ValueError(f'torchvision peers take 3 input channels, not {self.in_channels}')

    @property
    def multiple(self) -> int:
        """Return 1: the peers resize their logits to any input size themselves."""
        return 1

    def to_dict(self) -> Dict[str, Any]:
        """Return a plain dict (checkpoint ``model.config``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> 'PeerConfig':
        """Rebuild from :meth:`to_dict` output."""
        return cls(name=str(d['name']), num_classes=int(d['num_classes']),
                   in_channels=int(d.get('in_channels', 3)))


class PeerModel(nn.Module):
    """A torchvision segmentation model that returns plain logits, with its config."""

    def __init__(self, config: PeerConfig) -> None:
        super().__init__()
        from torchvision.models import segmentation as seg
        self.config = config
        kwargs: Dict[str, Any] = {'weights': None, 'weights_backbone': None,
                                  'num_classes': int(config.num_classes)}
        if config.name.startswith('deeplabv3'):
            kwargs['aux_loss'] = False
        self.model = getattr(seg, config.name)(**kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)['out']


def build_peer(name: str, num_classes: int) -> PeerModel:
    """Build a torchvision peer with random weights (nothing is downloaded)."""
    return PeerModel(PeerConfig(name=name, num_classes=num_classes))


def torchvision_available() -> Tuple[bool, str]:
    """Return whether torchvision's segmentation models import, and the version or why not."""
    try:
        import torchvision
        from torchvision.models import segmentation  # noqa: F401
        return True, torchvision.__version__
    except Exception as e:  # noqa: B902 - any import failure means "no peers"
        return False, f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}'
