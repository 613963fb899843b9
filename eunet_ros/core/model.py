# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
EUnet: an efficient U-Net for real-time semantic segmentation.

Pure torch, no I/O. The building blocks follow the original EUnet:

* down block: SPD-Conv pooling (space-to-depth x2, then a 1x1 conv), an
  efficient conv block (two depthwise-separable 3x3 convolutions with
  BN + Hardswish and a residual), and an LKA attention layer;
* up block: the same body on the concatenated skip, then a ConvTranspose x2;
* a 1x1 head on the last concatenation.

Options beyond the original layout (:class:`EUnetConfig`; each one's default gives
the network of earlier versions, so every existing checkpoint loads unchanged):

* ``stem_block``: an efficient conv block right after the stem, so that the first
  stage does real work (with the ``spd4`` stem the first stage is 1/4 resolution,
  where small cones live; without the block it is a linear 1x1 conv);
* ``refine``: a block on the last concatenation before the head, so that the head
  is not linear in the stem's features;
* ``attention_stages``: the stages whose blocks get the LKA attention layer (stage
  0 is the stem's resolution, stage ``i`` that of the ``i``-th down block).

Channel counts are chosen so that every skip connection concatenates without
cropping; inputs of any size are padded to the network's multiple inside
:meth:`EUnet.forward` and the logits are cropped back to the input's H x W.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn
import torch.nn.functional as F

__all__ = [
    'EUnet',
    'EUnetConfig',
    'VARIANTS',
    'DEFAULT_VARIANT',
    'build_eunet',
    'config_for_variant',
    'count_parameters',
]

STEMS = ('full', 'spd2', 'spd4')
REFINES = ('none', 'block', 'reduce')


@dataclass(frozen=True)
class EUnetConfig:
    """
    Everything needed to rebuild an :class:`EUnet` (stored in checkpoints).

    :ivar widths: channels of each stage, shallowest first. ``len(widths) - 1`` is the
        number of SPD-Conv down blocks (the depth).
    :ivar num_classes: 1 gives a single logit (binary, sigmoid) as the original EUnet;
        2 or more give per-class logits for softmax.
    :ivar in_channels: channels of the input image.
    :ivar stem: ``'full'`` keeps a full-resolution first stage (the original layout);
        ``'spd2'`` / ``'spd4'`` start with space-to-depth by 2 / 4 so that every
        stage runs at a lower resolution, and the logits are upsampled
        bilinearly back to the input size (the camera-speed layout).
    :ivar attention: add the LKA attention layer to the blocks (the original does);
        False turns it off everywhere.
    :ivar stem_block: add an efficient conv block (with attention when stage 0 is in
        :attr:`attention_stages`) right after the stem, at the first stage's resolution.
    :ivar refine: what runs on the last concatenation (2 x ``widths[0]`` channels) before
        the 1x1 head: ``'none'`` (the head alone, the original), ``'block'`` (an
        efficient conv block, plus attention when stage 0 has it, on 2 x ``widths[0]``
        channels) or ``'reduce'`` (a 1x1 conv to ``widths[0]`` channels, then such a
        block).
    :ivar attention_stages: with ``attention``, the stages whose blocks get the LKA
        attention layer; stage 0 is the stem's resolution (its blocks: ``stem_block``
        and ``refine``), stage ``i`` the resolution of down block ``i`` (the down block
        and the up block that runs there). None: every stage (the original).

    New fields keep the earlier network at their defaults, and :meth:`to_dict` leaves
    them out there, so a checkpoint of an earlier layout is written as before.

    """

    widths: Tuple[int, ...] = (64, 128, 256, 512)
    num_classes: int = 1
    in_channels: int = 3
    stem: str = 'full'
    attention: bool = True
    stem_block: bool = False
    refine: str = 'none'
    attention_stages: Optional[Tuple[int, ...]] = None

    def __post_init__(self) -> None:
        widths = tuple(int(w) for w in self.widths)
        object.__setattr__(self, 'widths', widths)
        if len(widths) < 2:
            raise ValueError(f'EUnetConfig.widths needs at least 2 stages, got {widths}')
        if any(w <= 0 for w in widths):
            raise ValueError(f'EUnetConfig.widths must be positive, got {widths}')
        if int(self.num_classes) < 1:
            raise ValueError(f'EUnetConfig.num_classes must be >= 1, got {self.num_classes}')
        if int(self.in_channels) < 1:
            raise ValueError(f'EUnetConfig.in_channels must be >= 1, got {self.in_channels}')
        if self.stem not in STEMS:
            raise ValueError(f'EUnetConfig.stem must be one of {STEMS}, got {self.stem!r}')
        object.__setattr__(self, 'stem_block', bool(self.stem_block))
        if self.refine not in REFINES:
            raise ValueError(f'EUnetConfig.refine must be one of {REFINES}, got '
                             f'{self.refine!r}')
        if self.attention_stages is not None:
            stages = tuple(sorted({int(i) for i in self.attention_stages}))
            if any(i < 0 or i > len(widths) - 1 for i in stages):
                raise ValueError(f'EUnetConfig.attention_stages must be within 0..'
                                 f'{len(widths) - 1} (one per width), got '
                                 f'{self.attention_stages}')
            if stages and not self.attention:
                raise ValueError('EUnetConfig.attention_stages needs attention=True, got '
                                 f'attention=False with stages {stages}')
            object.__setattr__(self, 'attention_stages', stages)

    def has_attention(self, stage: int) -> bool:
        """Return whether the blocks of ``stage`` (0: the stem's resolution) get attention."""
        if not self.attention:
            return False
        return self.attention_stages is None or stage in self.attention_stages

    @property
    def depth(self) -> int:
        """Return the number of down blocks."""
        return len(self.widths) - 1

    @property
    def stem_factor(self) -> int:
        """Resolution reduction of the first stage (1, 2 or 4)."""
        return {'full': 1, 'spd2': 2, 'spd4': 4}[self.stem]

    @property
    def multiple(self) -> int:
        """Input sides are padded internally to a multiple of this."""
        return self.stem_factor * (2 ** self.depth)

    def to_dict(self) -> Dict[str, Any]:
        """
        Plain-python form (lists, ints, strings) for checkpoints.

        The options added after the first release are left out at their defaults, so
        the dict of an earlier layout is exactly what earlier versions wrote (and read).
        """
        d = asdict(self)
        d['widths'] = list(self.widths)
        for k, default in _LATER_DEFAULTS.items():
            if d[k] == default:
                del d[k]
        if d.get('attention_stages') is not None:
            d['attention_stages'] = list(d['attention_stages'])
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> 'EUnetConfig':
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(f'unknown EUnet config keys: {sorted(unknown)}')
        d = dict(d)
        if 'widths' in d:
            d['widths'] = tuple(d['widths'])
        if d.get('attention_stages') is not None:
            d['attention_stages'] = tuple(d['attention_stages'])
        return cls(**d)


# Fields added after the first checkpoints were written, with the defaults that
# reproduce the earlier network (EUnetConfig.to_dict omits them at these values).
_LATER_DEFAULTS: Dict[str, Any] = {'stem_block': False, 'refine': 'none',
                                   'attention_stages': None}


class DSConv(nn.Module):
    """Depthwise-separable 3x3 convolution: depthwise 3x3 then pointwise 1x1."""

    def __init__(self, in_ch: int, out_ch: int, bias: bool = False) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(in_ch, in_ch, 3, padding=1, groups=in_ch)
        self.pointwise = nn.Conv2d(in_ch, out_ch, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class LKA(nn.Module):
    """Large kernel attention: 5x5 dw, 7x7 dw dilation 3, 1x1; gates its input."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(ch, ch, 5, padding=2, groups=ch)
        self.dw_dilated = nn.Conv2d(ch, ch, 7, padding=9, dilation=3, groups=ch)
        self.pw = nn.Conv2d(ch, ch, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.pw(self.dw_dilated(self.dw(x)))


class Attention(nn.Module):
    """1x1 projection, GELU, LKA, 1x1 projection, with a residual."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.proj_in = nn.Conv2d(ch, ch, 1)
        self.act = nn.GELU()
        self.lka = LKA(ch)
        self.proj_out = nn.Conv2d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.proj_out(self.lka(self.act(self.proj_in(x))))


class EfficientConvBlock(nn.Module):
    """Two depthwise-separable convolutions with BN + Hardswish and a residual."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(ch),
            nn.Hardswish(),
            DSConv(ch, ch),
            nn.BatchNorm2d(ch),
            nn.Hardswish(),
            DSConv(ch, ch, bias=True),
        )
        self.act = nn.Hardswish()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class SPDConv(nn.Module):
    """Space-to-depth by ``factor`` followed by a 1x1 convolution (SPD-Conv pooling)."""

    def __init__(self, in_ch: int, out_ch: int, factor: int = 2) -> None:
        super().__init__()
        self.factor = factor
        self.conv = nn.Conv2d(in_ch * factor * factor, out_ch, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pixel_unshuffle(x, self.factor))


def _body(ch: int, attention: bool) -> nn.Sequential:
    layers: List[nn.Module] = [EfficientConvBlock(ch)]
    if attention:
        layers.append(Attention(ch))
    return nn.Sequential(*layers)


class DownBlock(nn.Module):
    """SPD-Conv pooling, efficient conv block, LKA attention."""

    def __init__(self, in_ch: int, out_ch: int, attention: bool = True) -> None:
        super().__init__()
        self.pool = SPDConv(in_ch, out_ch)
        self.body = _body(out_ch, attention)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.pool(x))


class UpBlock(nn.Module):
    """Efficient conv block and attention on the (concatenated) input, then ConvTranspose x2."""

    def __init__(self, in_ch: int, out_ch: int, attention: bool = True) -> None:
        super().__init__()
        self.body = _body(in_ch, attention)
        self.up = nn.ConvTranspose2d(in_ch, out_ch, 2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.body(x))


class EUnet(nn.Module):
    """
    The EUnet segmentation network; see the module docstring for the layout.

    ``forward`` takes a float tensor N x C x H x W of any H, W and returns logits
    N x num_classes x H x W. The optional modules (``stem_body``, ``refine``) exist
    only when their option is on, so the parameter names of the original layout
    never change.
    """

    def __init__(self, config: EUnetConfig) -> None:
        super().__init__()
        self.config = config
        w = config.widths
        att = config.has_attention
        if config.stem == 'full':
            self.stem = DSConv(config.in_channels, w[0])
        else:
            self.stem = SPDConv(config.in_channels, w[0], factor=config.stem_factor)
        if config.stem_block:
            self.stem_body = _body(w[0], att(0))
        # down block i produces stage i + 1
        self.downs = nn.ModuleList(
            DownBlock(w[i], w[i + 1], att(i + 1)) for i in range(config.depth))
        # The deepest up block sees only the bottleneck; every other one sees the
        # concatenation of the previous up block's output and the skip of the same
        # width, so its input is 2 x width and nothing is ever cropped. The up block
        # of stage i runs at stage i's resolution and hands stage i - 1 its output.
        ups = [UpBlock(w[-1], w[-2], att(config.depth))]
        for i in range(config.depth - 1, 0, -1):
            ups.append(UpBlock(2 * w[i], w[i - 1], att(i)))
        self.ups = nn.ModuleList(ups)
        head_in = 2 * w[0]
        if config.refine == 'block':
            self.refine = _body(head_in, att(0))
        elif config.refine == 'reduce':
            self.refine = nn.Sequential(nn.Conv2d(head_in, w[0], 1, bias=False),
                                        *_body(w[0], att(0)))
            head_in = w[0]
        self.head = nn.Conv2d(head_in, config.num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = self.config.multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
        s = self.stem(x)
        if self.config.stem_block:
            s = self.stem_body(s)
        skips = [s]
        for down in self.downs:
            skips.append(down(skips[-1]))
        y = self.ups[0](skips[-1])
        for i, up in enumerate(self.ups[1:]):
            y = up(torch.cat((y, skips[-2 - i]), dim=1))
        y = torch.cat((y, skips[0]), dim=1)
        if self.config.refine != 'none':
            y = self.refine(y)
        y = self.head(y)
        f = self.config.stem_factor
        if f > 1:
            y = F.interpolate(y, scale_factor=f, mode='bilinear', align_corners=False)
        if ph or pw:
            y = y[..., :h, :w]
        return y


@dataclass(frozen=True)
class Variant:
    """A named EUnet layout with its recommended network input size (H, W)."""

    widths: Tuple[int, ...]
    stem: str
    attention: bool = True
    input_size: Tuple[int, int] = (480, 640)
    description: str = ''
    stem_block: bool = False
    refine: str = 'none'
    attention_stages: Optional[Tuple[int, ...]] = None


VARIANTS: Dict[str, Variant] = {
    'seed': Variant(
        widths=(64, 128, 256, 512), stem='full', input_size=(480, 640),
        description='the original EUnet layout: full-resolution first stage, 64-128-256-512'),
    'fast': Variant(
        widths=(16, 32, 64, 128), stem='spd4', input_size=(384, 640),
        description='camera-speed default: space-to-depth x4 stem, 16-32-64-128'),
    'small': Variant(
        widths=(24, 48, 96, 192), stem='spd2', input_size=(384, 640),
        description='between fast and seed: space-to-depth x2 stem, 24-48-96-192'),
    # Candidates for 640x384 inputs, where the first stage (1/4 with spd4) is where
    # small cones live (docs/model_ablation.md). Stage 0 is the stem's resolution.
    'fast-stem': Variant(
        widths=(16, 32, 64, 128), stem='spd4', input_size=(384, 640), stem_block=True,
        attention_stages=(1, 2, 3),
        description='fast + an efficient conv block at 1/4 after the stem'),
    'fast-refine': Variant(
        widths=(16, 32, 64, 128), stem='spd4', input_size=(384, 640), refine='block',
        attention_stages=(1, 2, 3),
        description='fast + a refinement block at 1/4 on the last concatenation'),
    'fast-sr': Variant(
        widths=(16, 32, 64, 128), stem='spd4', input_size=(384, 640), stem_block=True,
        refine='block', attention_stages=(1, 2, 3),
        description='fast + stem block + refinement block, both at 1/4'),
    'fast-sr-a23': Variant(
        widths=(16, 32, 64, 128), stem='spd4', input_size=(384, 640), stem_block=True,
        refine='block', attention_stages=(2, 3),
        description='fast-sr with attention only at 1/16 and 1/32'),
    'fast24-sr-a23': Variant(
        widths=(24, 32, 64, 128), stem='spd4', input_size=(384, 640), stem_block=True,
        refine='reduce', attention_stages=(2, 3),
        description='fast-sr-a23 with a 24-wide first stage and a 1x1-reduce refinement'),
    'spd2-cheap': Variant(
        widths=(8, 16, 32, 64, 128), stem='spd2', input_size=(384, 640),
        attention_stages=(3, 4),
        description='space-to-depth x2 stem, a cheap 8-wide stage at 1/2, 16 wide at 1/4, '
                    'attention at 1/16 and 1/32'),
}

DEFAULT_VARIANT = 'fast'


def config_for_variant(variant: str, *, num_classes: int, in_channels: int = 3) -> EUnetConfig:
    """Return the :class:`EUnetConfig` of a named variant (see :data:`VARIANTS`)."""
    try:
        v = VARIANTS[variant]
    except KeyError:
        raise ValueError(
            f'unknown EUnet variant {variant!r}; known: {sorted(VARIANTS)}') from None
    return EUnetConfig(widths=v.widths, num_classes=num_classes, in_channels=in_channels,
                       stem=v.stem, attention=v.attention, stem_block=v.stem_block,
                       refine=v.refine, attention_stages=v.attention_stages)


def build_eunet(*, variant: Optional[str] = None, config: Optional[EUnetConfig] = None,
                num_classes: int = 7, in_channels: int = 3) -> EUnet:
    """
    Build an EUnet from a named variant or an explicit config (randomly initialised).

    :param variant: a key of :data:`VARIANTS` (default :data:`DEFAULT_VARIANT`).
    :param config: an explicit :class:`EUnetConfig`; mutually exclusive with ``variant``.
    :param num_classes: output classes when built from a variant.
    :param in_channels: input channels when built from a variant.

    Nothing is downloaded; load weights with :mod:`eunet_ros.core.checkpoint`.

    """
    if config is not None and variant is not None:
        raise ValueError('give either variant= or config=, not both')
    if config is None:
        config = config_for_variant(variant or DEFAULT_VARIANT, num_classes=num_classes,
                                    in_channels=in_channels)
    return EUnet(config)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Count the (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def stage_shapes(config: EUnetConfig, size: Sequence[int]) -> List[Tuple[int, int, int]]:
    """(channels, H, W) of every encoder stage for an input of ``size`` (H, W)."""
    m = config.multiple
    h = -(-int(size[0]) // m) * m // config.stem_factor
    w = -(-int(size[1]) // m) * m // config.stem_factor
    out = []
    for c in config.widths:
        out.append((c, h, w))
        h, w = h // 2, w // 2
    return out
