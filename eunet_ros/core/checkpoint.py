# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
The one checkpoint format of eunet_ros: save, load, validate.

A checkpoint is a single ``torch.save`` file holding plain Python containers and
tensors only, so it loads with ``torch.load(weights_only=True)``::

    {
      'format': 'eunet_ros.checkpoint',
      'format_version': 1,
      'model': {'arch': 'eunet', 'variant': 'fast', 'config': {...EUnetConfig...}},
                                                 # or {'arch': 'torchvision', 'variant':
                                                 # 'lraspp_mobilenet_v3_large', 'config':
                                                 # {...PeerConfig...}} (a peer, see peers.py)
      'state_dict': {...},                       # weights of the unwrapped module
      'classes': {'names': [...], 'palette': [[r, g, b], ...]},
      'normalization': {'mean': [...], 'std': [...], 'color_order': 'rgb'},
      'input_size': [H, W],                      # network input (letterbox target)
      'provenance': {...},                       # data, epoch, metrics, code version
      'training_state': {...} | absent,          # optimizer etc., for resuming
    }

Files are written atomically (temporary file in the same folder, fsync, rename),
so a reader never sees a half-written checkpoint and a crash never destroys the
previous one.
"""

from __future__ import annotations

import datetime
from pathlib import Path
import pickle
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union
import warnings
import zipfile

from eunet_ros import __version__
from eunet_ros.core.model import EUnet, EUnetConfig
from eunet_ros.core.options import side_ok
from eunet_ros.core.peers import PeerConfig, PeerModel
from eunet_ros.fileio import atomic_write, PathLike
import torch
from torch import nn

__all__ = [
    'CheckpointError',
    'Checkpoint',
    'FORMAT',
    'FORMAT_VERSION',
    'DEFAULT_CLASSES',
    'DEFAULT_PALETTE',
    'IMAGENET_MEAN',
    'IMAGENET_STD',
    'save_checkpoint',
    'load_checkpoint',
    'atomic_torch_save',
    'build_model',
]

FORMAT = 'eunet_ros.checkpoint'
ModelConfig = Union[EUnetConfig, PeerConfig]
FORMAT_VERSION = 1

# The class table of the Formula Student task (ids are list indices).
DEFAULT_CLASSES: Tuple[str, ...] = (
    'background', 'track', 'blue_cone', 'yellow_cone', 'orange_cone', 'large_orange_cone',
    'unknown_cone')
# RGB colours for overlays, one per class.
DEFAULT_PALETTE: Tuple[Tuple[int, int, int], ...] = (
    (0, 0, 0), (128, 64, 128), (30, 80, 255), (255, 220, 0), (255, 120, 0), (255, 40, 0),
    (200, 200, 200))
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class CheckpointError(RuntimeError):
    """
    A checkpoint file is missing, unreadable, not a checkpoint, or inconsistent.

    The message always names the file and says what is wrong and what to do.
    """


class Checkpoint:
    """
    A validated checkpoint in memory.

    :ivar path: where it was loaded from (None when built in memory).
    :ivar config: the :class:`EUnetConfig` (or, for a torchvision peer, the
        :class:`~eunet_ros.core.peers.PeerConfig`) that rebuilds the network.
    :ivar variant: the variant name it was built from (informational).
    :ivar state_dict: the weights.
    :ivar class_names: names of the output classes; index = class id.
    :ivar palette: RGB colour per class.
    :ivar mean, std: input normalisation (0..1 scale), in ``color_order``.
    :ivar color_order: 'rgb' or 'bgr': the channel order the network expects.
    :ivar input_size: (H, W) network input (frames are letterboxed to it).
    :ivar provenance: free-form dict (data, epoch, metrics, code version, ...).
    :ivar training_state: optional dict for resuming training.

    """

    def __init__(self, *, config: ModelConfig, state_dict: Mapping[str, torch.Tensor],
                 class_names: Sequence[str], palette: Sequence[Sequence[int]],
                 mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 color_order: str = 'rgb', input_size: Sequence[int] = (384, 640),
                 variant: str = '', provenance: Optional[Dict[str, Any]] = None,
                 training_state: Optional[Dict[str, Any]] = None,
                 path: Optional[Path] = None) -> None:
        self.config = config
        self.state_dict = dict(state_dict)
        self.class_names = [str(n) for n in class_names]
        self.palette = [tuple(int(c) for c in p) for p in palette]
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]
        self.color_order = color_order
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.variant = variant
        self.provenance = dict(provenance or {})
        self.training_state = training_state
        self.path = path

    @property
    def name(self) -> str:
        """Return a short name: the file name, or the variant for in-memory checkpoints."""
        return self.path.name if self.path is not None else (self.variant or 'in-memory')

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def arch(self) -> str:
        """Return 'eunet' or 'torchvision' (a peer network)."""
        return 'torchvision' if isinstance(self.config, PeerConfig) else 'eunet'

    @property
    def description(self) -> str:
        """Return a short description of the network, e.g. ``EUnet fast``."""
        if isinstance(self.config, PeerConfig):
            return f'torchvision {self.config.name}'
        return f'EUnet {self.variant or "custom"}'

    def build_model(self) -> nn.Module:
        """Rebuild the network from the stored config and load the weights (strict)."""
        model = build_model(self.config, where=self._where())
        try:
            model.load_state_dict(self.state_dict, strict=True)
        except RuntimeError as e:
            raise CheckpointError(
                f'{self._where()}: the weights do not match the stored model config '
                f'({_first_line(e)}); the file was written by incompatible code or edited. '
                'Re-export it with training/ of this version.') from None
        return model

    def _where(self) -> str:
        return f'checkpoint {self.path}' if self.path is not None else 'checkpoint'

    def to_dict(self) -> Dict[str, Any]:
        """Return the on-disk dictionary (see module docstring)."""
        d: Dict[str, Any] = {
            'format': FORMAT,
            'format_version': FORMAT_VERSION,
            'model': {'arch': self.arch, 'variant': self.variant,
                      'config': self.config.to_dict()},
            'state_dict': {k: v.detach().cpu() for k, v in self.state_dict.items()},
            'classes': {'names': list(self.class_names),
                        'palette': [list(p) for p in self.palette]},
            'normalization': {'mean': list(self.mean), 'std': list(self.std),
                              'color_order': self.color_order},
            'input_size': list(self.input_size),
            'provenance': dict(self.provenance),
        }
        if self.training_state is not None:
            d['training_state'] = self.training_state
        return d


def _first_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0] if s else type(e).__name__


def build_model(config: ModelConfig, *, where: str = 'checkpoint') -> nn.Module:
    """Build an untrained network from an EUnet or peer config."""
    if isinstance(config, EUnetConfig):
        return EUnet(config)
    try:
        return PeerModel(config)
    except ImportError as e:
        raise CheckpointError(
            f'{where} holds the torchvision network {config.name}, and torchvision does not '
            f'import here ({_first_line(e)}). Install torchvision, or use an EUnet '
            'checkpoint.') from None


def atomic_torch_save(obj: Any, path: PathLike) -> Path:
    """``torch.save`` to a temporary file beside ``path``, fsync, then rename over it."""
    return atomic_write(path, lambda f: torch.save(obj, f))


def save_checkpoint(path: PathLike, *, model: nn.Module,
                    class_names: Sequence[str] = DEFAULT_CLASSES,
                    palette: Optional[Sequence[Sequence[int]]] = None,
                    mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                    color_order: str = 'rgb', input_size: Sequence[int] = (384, 640),
                    variant: str = '', provenance: Optional[Dict[str, Any]] = None,
                    training_state: Optional[Dict[str, Any]] = None) -> Path:
    """
    Write ``model`` (an :class:`EUnet` or a peer, possibly DDP-wrapped/compiled) atomically.

    The unwrapped module's config and weights are stored, so the file rebuilds the
    network alone. Provenance gets ``code_version`` and ``created`` added.
    """
    model = unwrap_model(model)
    if not isinstance(model, (EUnet, PeerModel)):
        raise TypeError(f'save_checkpoint expects an EUnet or a PeerModel, got '
                        f'{type(model).__name__}')
    if palette is None:
        palette = default_palette(len(class_names))
    prov = {'code_version': __version__,
            'created': datetime.datetime.now(datetime.timezone.utc).isoformat()}
    prov.update(provenance or {})
    ckpt = Checkpoint(config=model.config, state_dict=model.state_dict(),
                      class_names=class_names, palette=palette, mean=mean, std=std,
                      color_order=color_order, input_size=input_size, variant=variant,
                      provenance=prov, training_state=training_state)
    _validate(ckpt, where=f'checkpoint {path}')
    return atomic_torch_save(ckpt.to_dict(), path)


def unwrap_model(model: nn.Module) -> nn.Module:
    """Strip DistributedDataParallel / DataParallel and torch.compile wrappers."""
    while True:
        if hasattr(model, '_orig_mod'):
            model = model._orig_mod  # torch.compile
        elif isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        else:
            return model


def default_palette(n: int) -> List[Tuple[int, int, int]]:
    """DEFAULT_PALETTE for the first classes, then distinct generated colours."""
    out = list(DEFAULT_PALETTE[:n])
    i = 0
    while len(out) < n:
        i += 1
        out.append(((i * 97) % 256, (i * 57 + 80) % 256, (i * 151 + 40) % 256))
    return out


# What to give instead of a file that is not a checkpoint.
GIVE = ('Give an eunet_ros checkpoint: a .pt file written by training/ (runs/<name>/best.pt) or '
        'by eunet_ros.core.checkpoint.save_checkpoint, e.g. the packaged '
        'models/eunet_fs_synthetic.pt.')

_TEXT_KINDS = {'.md': 'a Markdown text file', '.txt': 'a text file', '.yaml': 'a YAML file',
               '.yml': 'a YAML file', '.json': 'a JSON file', '.py': 'a Python source file',
               '.csv': 'a CSV file', '.xml': 'an XML file'}


def _what_file(p: Path, head: bytes) -> Optional[str]:
    """
    Say what a file is when its first bytes show it is no torch file; else None.

    torch files are zip archives (``PK``) or, written by old torch, pickles (first byte
    0x80); those are left to ``torch.load``, which tells a checkpoint from other pickles.
    """
    if head.startswith(b'PK\x03\x04') or head.startswith(b'\x80'):
        return None
    if p.suffix.lower() == '.onnx' or (head[:1] == b'\x08' and b'\x12' in head[:4]
                                       and (b'pytorch' in head[:64] or b'onnx' in head[:64])):
        return ('an ONNX model (the format training.export writes for other runtimes); the '
                'node and the engine load the eunet_ros .pt checkpoint it was exported from')
    if head.startswith(b'\x93NUMPY'):
        return 'a NumPy array file'
    if head.startswith(b'\x89PNG') or head.startswith(b'\xff\xd8\xff'):
        return 'an image'
    if head[4:8] == b'ftyp' or head.startswith(b'\x1aE\xdf\xa3') or head.startswith(b'RIFF'):
        return 'a video or media file'
    if b'\0' not in head:
        try:
            text = head.decode('utf-8')
        except UnicodeDecodeError as e:
            if e.start < len(head) - 3:  # not just a character cut at the end
                return None
            text = head[:e.start].decode('utf-8')
        kind = _TEXT_KINDS.get(p.suffix.lower(), 'a text file')
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), '')
        return f'{kind}, starting {first[:60]!r}' if first else kind
    return 'a binary file that is neither a zip archive (what torch.save writes) nor a pickle'


def _torch_load_problem(e: BaseException) -> str:
    """
    Say why ``torch.load(weights_only=True)`` refused a file, without torch's advice.

    torch's message recommends re-running with ``weights_only=False``, which would run
    code from the file; eunet_ros checkpoints never need it, so that advice is dropped
    and only the class that was refused, if any, is named.
    """
    text = str(e)
    refused = re.search(r'Unsupported global: GLOBAL ([\w.]+)', text)
    if refused:
        return (f'it holds pickled Python objects ({refused.group(1)}), e.g. a whole model '
                'saved with torch.save(model); eunet_ros loads checkpoints with '
                'weights_only=True, so no code from a file ever runs')
    if isinstance(e, pickle.UnpicklingError) or 'weights_only' in text.lower():
        return ('it is a pickle that torch.load(weights_only=True) cannot read as tensors and '
                'plain containers (not a file written by torch.save)')
    return (f'torch.load cannot read it: it is damaged, or a pickle that torch did not write '
            f'({type(e).__name__})')


def load_checkpoint(path: PathLike, *, map_location: Union[str, torch.device] = 'cpu',
                    expect_num_classes: Optional[int] = None) -> Checkpoint:
    """
    Load and validate a checkpoint; raise :class:`CheckpointError` naming the file.

    A file that is no torch file at all (text such as a README or a model card, an
    ONNX model, an image, ...) is named for what it is, with what to give instead;
    torch's advice to load with ``weights_only=False`` is never passed on.

    :param path: the ``.pt`` file.
    :param map_location: where tensors are loaded (weights only; the model is built later).
    :param expect_num_classes: if given, a checkpoint with another class count is an error.

    """
    p = Path(path).expanduser()
    where = f'checkpoint {p}'
    if not p.exists():
        raise CheckpointError(
            f'{where} does not exist. Give an existing file (parameter/flag "checkpoint"); '
            'the packaged model lives in share/eunet_ros/models/.')
    if p.is_dir():
        raise CheckpointError(f'{where} is a directory, not a checkpoint file.')
    if p.stat().st_size == 0:
        raise CheckpointError(f'{where} is empty (0 bytes): it was not written completely. '
                              'Restore it or train/export it again.')
    with open(p, 'rb') as f:
        head = f.read(4096)
    kind = _what_file(p, head)
    if kind is not None:
        beside = p.with_suffix('.pt')
        hint = f' The checkpoint beside it is {beside}.' if beside != p and beside.is_file() \
            else ''
        raise CheckpointError(f'{where} is {kind}, not a torch checkpoint. {GIVE}{hint}')
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of a
            warnings.simplefilter('ignore', UserWarning)  # non-torch pickle: refused below
            raw = torch.load(p, map_location=map_location, weights_only=True)
    except (zipfile.BadZipFile, EOFError, RuntimeError) as e:
        msg = _first_line(e)
        if 'weights_only' in str(e):
            raise CheckpointError(f'{where} is not an eunet_ros checkpoint: '
                                  f'{_torch_load_problem(e)}. {GIVE}') from None
        if 'zip' in msg.lower() or 'central directory' in msg.lower() or isinstance(
                e, (zipfile.BadZipFile, EOFError)):
            raise CheckpointError(
                f'{where} is truncated or not a torch file ({msg}). Restore it or train/export '
                'it again.') from None
        raise CheckpointError(f'{where} could not be read ({msg}).') from None
    except Exception as e:  # noqa: B902 - pickle errors, weights_only refusals, KeyError ...
        raise CheckpointError(f'{where} is not an eunet_ros checkpoint: '
                              f'{_torch_load_problem(e)}. {GIVE}') from None
    ckpt = from_dict(raw, where=where)
    ckpt.path = p
    if expect_num_classes is not None and ckpt.num_classes != expect_num_classes:
        raise CheckpointError(
            f'{where} has {ckpt.num_classes} classes {ckpt.class_names}, but '
            f'{expect_num_classes} were expected.')
    return ckpt


def from_dict(raw: Any, *, where: str = 'checkpoint') -> Checkpoint:
    """Validate an on-disk dictionary and return a :class:`Checkpoint`."""
    if not isinstance(raw, dict) or raw.get('format') != FORMAT:
        hint = ''
        if isinstance(raw, dict) and all(isinstance(v, torch.Tensor) for v in raw.values()):
            hint = ' It looks like a bare state_dict; wrap it with eunet_ros.core.checkpoint.' \
                   'save_checkpoint so the node knows the model config and classes.'
        raise CheckpointError(f'{where} is not an eunet_ros checkpoint (no "format": '
                              f'"{FORMAT}" entry).{hint}')
    version = raw.get('format_version')
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise CheckpointError(
            f'{where} has format_version {version!r}; this eunet_ros reads versions 1..'
            f'{FORMAT_VERSION}. Update eunet_ros or re-export the checkpoint.')
    try:
        model = raw['model']
        arch = model.get('arch')
        if arch == 'eunet':
            config: ModelConfig = EUnetConfig.from_dict(model['config'])
        elif arch == 'torchvision':
            config = PeerConfig.from_dict(model['config'])
        else:
            raise CheckpointError(f'{where}: unknown architecture {arch!r} (this eunet_ros '
                                  'reads "eunet" and "torchvision")')
        classes = raw['classes']
        norm = raw['normalization']
        ckpt = Checkpoint(
            config=config, state_dict=raw['state_dict'], class_names=classes['names'],
            palette=classes['palette'], mean=norm['mean'], std=norm['std'],
            color_order=norm.get('color_order', 'rgb'), input_size=raw['input_size'],
            variant=str(model.get('variant', '')), provenance=raw.get('provenance', {}),
            training_state=raw.get('training_state'))
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise CheckpointError(f'{where} is malformed: {type(e).__name__}: {_first_line(e)}. '
                              'Re-export it with training/.') from None
    _validate(ckpt, where=where)
    return ckpt


def _validate(ckpt: Checkpoint, *, where: str) -> None:
    cfg = ckpt.config
    n = ckpt.num_classes
    expected = 1 if n == 2 and cfg.num_classes == 1 else n
    if cfg.num_classes != expected:
        raise CheckpointError(
            f'{where}: the model has {cfg.num_classes} output(s) but the class table has {n} '
            f'classes {ckpt.class_names}. The classes and the head must agree.')
    if len(ckpt.palette) != n or any(len(p) != 3 or not all(0 <= c <= 255 for c in p)
                                     for p in ckpt.palette):
        raise CheckpointError(f'{where}: the palette needs one RGB triple (0..255) per class '
                              f'({n}), got {ckpt.palette}.')
    if len(ckpt.mean) != cfg.in_channels or len(ckpt.std) != cfg.in_channels or any(
            s <= 0 for s in ckpt.std):
        raise CheckpointError(f'{where}: normalization mean/std must have {cfg.in_channels} '
                              f'entries with std > 0, got mean={ckpt.mean} std={ckpt.std}.')
    if ckpt.color_order not in ('rgb', 'bgr'):
        raise CheckpointError(f'{where}: color_order must be "rgb" or "bgr", got '
                              f'{ckpt.color_order!r}.')
    h, w = ckpt.input_size
    if not (side_ok(h) and side_ok(w)):
        raise CheckpointError(f'{where}: input_size {ckpt.input_size} is out of range.')
    bad = [k for k, v in ckpt.state_dict.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f'{where}: state_dict entries that are not tensors: {bad[:5]}')
    # Shapes are checked against the config by building the model (strict load).
    ref = build_model(cfg, where=where).state_dict()
    missing = sorted(set(ref) - set(ckpt.state_dict))
    unexpected = sorted(set(ckpt.state_dict) - set(ref))
    mismatched = [k for k in ref if k in ckpt.state_dict
                  and tuple(ref[k].shape) != tuple(ckpt.state_dict[k].shape)]
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f'{len(missing)} missing (e.g. {missing[0]})')
        if unexpected:
            parts.append(f'{len(unexpected)} unexpected (e.g. {unexpected[0]})')
        if mismatched:
            k = mismatched[0]
            parts.append(f'{len(mismatched)} with wrong shape (e.g. {k}: file '
                         f'{tuple(ckpt.state_dict[k].shape)} vs config {tuple(ref[k].shape)})')
        raise CheckpointError(f'{where}: weights do not match the stored model config: '
                              + '; '.join(parts) + '. Re-export it with training/.')
