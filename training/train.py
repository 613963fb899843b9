# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Train EUnet: ``python -m training.train --config training/configs/<name>.yaml``.

The recipe of the original EUnet: Lion, one-cycle learning rate (max 1e-4),
weight decay 1e-2, batch 64, up to 1000 epochs, early stopping after 20 epochs
without a better validation mIoU. Mixed precision (``torch.amp``) on CUDA; several
GPUs or machines through ``torchrun`` (DDP: NCCL on GPUs, gloo on CPUs;
``batch_size`` is the global batch, split over the ranks).

:func:`main` runs the stages in order: :func:`prepare_output_dir`, :func:`build_data`,
:func:`build_model_and_optim` (which resumes), :func:`start_logging`, then per epoch
:func:`train_one_epoch` and :func:`end_epoch` (:func:`evaluate`, early stopping,
:func:`save_best` / :func:`save_last`, :func:`log_epoch`), and :func:`finish`.

Output folder (``--output-dir``):

* ``last.pt``: the newest state, everything needed to continue exactly (optimizer,
  scheduler, AMP scaler, epoch and step, early-stopping state, RNG states); written
  at every epoch end and every ``checkpoint_every`` steps;
* ``best.pt``: the weights with the best validation ``train.select_metric`` (mIoU,
  or the cone mIoU; no optimizer state; this is the file the node loads). With
  ``optim.ema_decay`` the weights validated and written are the EMA's;
* ``summary.json`` at the end, ``config.yaml`` (the resolved config), ``train.log``,
  ``tb/`` (TensorBoard).

Every file is written atomically, so a run killed at any moment continues with
``--resume <dir>/last.pt`` (or ``--resume auto``) and loses at most the steps since
the last checkpoint; the continued run matches an uninterrupted one.

For small objects (cones: well under 1 % of the pixels), every piece off by default
(``training/configs/synthetic_fs.yaml`` turns them on; docs/recipe_ablation.md has
the measurements):

* ``loss.region`` (``lovasz`` or ``dice``, ``region_weight``, ``region_classes``) adds
  a region loss on the cone classes, ``loss.ohem_fraction`` mines the hardest pixels
  of the cross-entropy (:class:`~training.losses.SegmentationLoss`);
* ``optim.ema_decay`` validates and ships an EMA of the weights
  (:class:`~training.ema.ModelEMA`), ``optim.no_decay_norm_bias`` exempts norms and
  biases from Lion's weight decay;
* ``augment.copy_paste`` pastes cones cut from the training set
  (:mod:`training.copy_paste`), ``augment.crop`` trains on crops at the inference
  scale (:class:`~training.transforms.TrainTransform`);
* ``train.select_metric: cone_miou`` stops early and picks best.pt on the cone mIoU.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
import math
import os
from pathlib import Path
import shutil
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from eunet_ros.core.checkpoint import (build_model, CheckpointError, default_palette,
                                       IMAGENET_MEAN, IMAGENET_STD, load_checkpoint, ModelConfig,
                                       save_checkpoint)
from eunet_ros.core.model import config_for_variant, VARIANTS
from eunet_ros.core.peers import PeerConfig, PEERS
from eunet_ros.fileio import atomic_write_bytes, atomic_write_json
import torch
from torch import nn
from torch.utils.data import DataLoader
from training.copy_paste import cone_class_ids, ConeBank, copy_paste_config, CopyPaste
from training.data import EpochSampler, loader_context, SegmentationDataset, ShardSampler
from training.data import worker_init
from training.datasets import build_source, DatasetError
from training.ema import ModelEMA
from training.losses import REGION_LOSSES, SegmentationLoss
from training.metrics import CONE_CLASSES, cone_miou, ConfusionMatrix, format_table, METRICS
from training.metrics import metric_value
from training.transforms import EvalTransform, Normalize, TrainTransform
from training.utils import (barrier, cleanup_distributed, close_log_file, ConfigError, deep_merge,
                            DistEnv, init_distributed, log, logging_to_stderr, rng_state,
                            set_by_path, set_rng_state, setup_logging)
import yaml

__all__ = ['get_args_parser', 'main', 'cli', 'load_config', 'load_matching_weights', 'validate',
           'make_optimizer', 'forward_batch', 'train_step', 'RunData', 'Trainer', 'Run',
           'prepare_output_dir', 'build_data', 'build_model_and_optim', 'start_logging',
           'train_one_epoch', 'evaluate', 'end_epoch', 'save_last', 'save_best', 'finish']

STATE_VERSION = 1

DEFAULTS: Dict[str, Any] = {
    'name': 'eunet',
    'output_dir': 'runs/eunet',
    'model': {'arch': 'eunet', 'variant': 'fast', 'widths': None, 'stem': None, 'attention': None,
              'input_size': None},
    'classes': None,
    'normalization': {'mean': list(IMAGENET_MEAN), 'std': list(IMAGENET_STD)},
    'data': {'train': [], 'val': []},
    'augment': {},
    'loss': {'class_weights': None, 'ohem_fraction': None, 'region': 'none',
             'region_weight': 1.0, 'region_classes': None, 'lovasz_max_pixels': None},
    'optim': {'lr': 1e-4, 'weight_decay': 1e-2, 'betas': [0.9, 0.99], 'pct_start': 0.1,
              'div_factor': 25.0, 'final_div_factor': 1e4, 'grad_clip': None,
              'ema_decay': 0.0, 'no_decay_norm_bias': False},
    'train': {'epochs': 1000, 'batch_size': 64, 'patience': 20, 'min_delta': 0.0,
              'select_metric': 'miou',
              'workers': 8, 'seed': 0, 'device': 'auto', 'amp': True, 'amp_dtype': 'fp16',
              'max_steps_per_epoch': None, 'checkpoint_every': 500, 'log_every': 20,
              'sync_bn': False, 'compile': False, 'init_from': None},
}


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    """Return the command-line parser (flags override the config file)."""
    p = argparse.ArgumentParser(description='Train EUnet (README.md, section Training; configs '
                                            'in training/configs/).',
                                add_help=add_help)
    p.add_argument('--config', required=True, help='YAML config, e.g. '
                   'training/configs/synthetic.yaml')
    p.add_argument('--output-dir', help='run folder (checkpoints, logs, summary)')
    p.add_argument('--epochs', type=int, help='maximum epochs')
    p.add_argument('--batch-size', type=int, help='global batch size (split over ranks)')
    p.add_argument('--device', help='auto, cpu, cuda or cuda:N (torchrun: cuda:LOCAL_RANK)')
    p.add_argument('--resume', help='continue from a last.pt (a file, a run folder, or '
                   '"auto": <output-dir>/last.pt when it exists)')
    p.add_argument('--init-from', help='start from the matching weights of this checkpoint '
                   '(the head is re-initialised when the classes differ)')
    p.add_argument('--workers', type=int, help='data-loader processes per rank (0: in-process)')
    p.add_argument('--lr', type=float, help='peak (one-cycle max) learning rate')
    p.add_argument('--input-size', type=int, nargs=2, metavar=('H', 'W'),
                   help='network input size')
    p.add_argument('--variant', choices=sorted(VARIANTS), help='EUnet variant')
    p.add_argument('--arch', choices=['eunet'] + list(PEERS),
                   help='network: eunet (default) or a torchvision peer trained with the same '
                   'recipe for comparison (needs torchvision)')
    p.add_argument('--max-steps-per-epoch', type=int, help='cap the steps of each epoch')
    p.add_argument('--patience', type=int, help='early-stopping patience in epochs')
    p.add_argument('--seed', type=int, help='run seed (weights init, shuffling, augmentation)')
    p.add_argument('--checkpoint-every', type=int, help='also write last.pt every N steps '
                   '(0: only at epoch ends)')
    p.add_argument('--amp', action=argparse.BooleanOptionalAction, default=None,
                   help='mixed precision on CUDA')
    p.add_argument('--set', action='append', default=[], metavar='KEY=VALUE',
                   help='override any config entry, e.g. --set data.train.0.root=/data/x '
                   '(repeatable; VALUE is YAML)')
    p.add_argument('--stop-after-steps', type=int, metavar='N',
                   help='leave after N steps of this process, with last.pt written (time-boxed '
                   'or preemptible jobs: run again with --resume auto to continue)')
    p.add_argument('--no-progress', action='store_true', help='no progress bars')
    return p


def load_config(args: argparse.Namespace) -> Dict[str, Any]:
    """Merge DEFAULTS, the config file, ``--set`` and the flags; validate."""
    path = Path(args.config)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f'config file {path} does not exist; the shipped ones are in '
                          'training/configs/.') from None
    except yaml.YAMLError as e:
        raise ConfigError(f'config file {path} is not valid YAML ({e})') from None
    if not isinstance(raw, dict):
        raise ConfigError(f'config file {path} must be a mapping')
    cfg = deep_merge(DEFAULTS, raw, strict=True)
    for s in args.set:
        set_by_path(cfg, s)
    t = cfg['train']
    flags = {'epochs': args.epochs, 'batch_size': args.batch_size, 'device': args.device,
             'workers': args.workers, 'max_steps_per_epoch': args.max_steps_per_epoch,
             'patience': args.patience, 'seed': args.seed, 'init_from': args.init_from,
             'checkpoint_every': args.checkpoint_every, 'amp': args.amp}
    t.update({k: v for k, v in flags.items() if v is not None})
    if args.output_dir:
        cfg['output_dir'] = args.output_dir
    if args.lr is not None:
        cfg['optim']['lr'] = args.lr
    if args.input_size:
        cfg['model']['input_size'] = list(args.input_size)
    if args.variant:
        cfg['model']['variant'] = args.variant
    if args.arch:
        cfg['model']['arch'] = args.arch
    _validate(cfg, path)
    return cfg


def _validate(cfg: Dict[str, Any], path: Path) -> None:
    t, lc, oc = cfg['train'], cfg['loss'], cfg['optim']
    crop = cfg['augment'].get('crop') if isinstance(cfg['augment'], dict) else None
    checks = [
        (int(t['epochs']) >= 1, 'train.epochs must be >= 1'),
        (t['select_metric'] in METRICS, f'train.select_metric must be one of {list(METRICS)}'),
        (lc['region'] in REGION_LOSSES, f'loss.region must be one of {list(REGION_LOSSES)}'),
        (float(lc['region_weight']) >= 0, 'loss.region_weight must be >= 0'),
        (lc['ohem_fraction'] is None or 0 < float(lc['ohem_fraction']) <= 1,
         'loss.ohem_fraction must be within (0, 1] or null'),
        (lc['lovasz_max_pixels'] is None or int(lc['lovasz_max_pixels']) >= 1,
         'loss.lovasz_max_pixels must be >= 1 or null'),
        (0 <= float(oc['ema_decay']) < 1, 'optim.ema_decay must be within [0, 1) (0: off)'),
        (isinstance(oc['no_decay_norm_bias'], bool), 'optim.no_decay_norm_bias must be a bool'),
        (crop is None or (isinstance(crop, (list, tuple)) and len(crop) == 2),
         'augment.crop must be [h, w] or null'),
        (int(t['batch_size']) >= 1, 'train.batch_size must be >= 1'),
        (int(t['patience']) >= 1, 'train.patience must be >= 1'),
        (int(t['workers']) >= 0, 'train.workers must be >= 0'),
        (t['max_steps_per_epoch'] is None or int(t['max_steps_per_epoch']) >= 1,
         'train.max_steps_per_epoch must be >= 1 or null'),
        (t['amp_dtype'] in ('fp16', 'bf16'), 'train.amp_dtype must be fp16 or bf16'),
        (float(cfg['optim']['lr']) > 0, 'optim.lr must be > 0'),
        (0 < float(cfg['optim']['pct_start']) < 1, 'optim.pct_start must be within (0, 1)'),
        (cfg['model']['variant'] in VARIANTS,
         f'model.variant must be one of {sorted(VARIANTS)}'),
        (cfg['model']['arch'] in ('eunet',) + PEERS,
         f'model.arch must be eunet or one of {list(PEERS)}'),
        (isinstance(cfg['data']['train'], list) and cfg['data']['train'],
         'data.train must be a non-empty list of dataset specs'),
        (isinstance(cfg['data']['val'], list) and cfg['data']['val'],
         'data.val must be a non-empty list of dataset specs (early stopping needs it)'),
    ]
    for ok, msg in checks:
        if not ok:
            raise ConfigError(f'{path}: {msg}')
    size = cfg['model']['input_size']
    if size is not None and (len(size) != 2 or min(int(s) for s in size) < 16):
        raise ConfigError(f'{path}: model.input_size must be [H, W] with sides >= 16')
    try:
        copy_paste_config(cfg['augment'].get('copy_paste'))
    except ValueError as e:
        raise ConfigError(f'{path}: {e}') from None


def model_config(cfg: Dict[str, Any],
                 num_classes: int) -> Tuple[ModelConfig, Tuple[int, int]]:
    """Return the model config (EUnet or peer) and the input size (H, W) a config asks for."""
    m = cfg['model']
    v = VARIANTS[m['variant']]
    if m['arch'] != 'eunet':
        size = m['input_size'] or v.input_size
        return PeerConfig(name=m['arch'], num_classes=num_classes), (int(size[0]), int(size[1]))
    # the variant's options (stem block, refinement, attention stages) and the overrides
    base = config_for_variant(m['variant'], num_classes=num_classes)
    attention = base.attention if m['attention'] is None else bool(m['attention'])
    config = replace(
        base, widths=tuple(m['widths'] or base.widths), stem=m['stem'] or base.stem,
        attention=attention, attention_stages=base.attention_stages if attention else None)
    size = m['input_size'] or v.input_size
    return config, (int(size[0]), int(size[1]))


def load_matching_weights(model: nn.Module, path: str, class_names: Sequence[str]) -> Dict:
    """
    Copy the weights of checkpoint ``path`` whose names and shapes match into ``model``.

    The head is re-initialised (not copied) when the checkpoint's classes differ.

    :returns: ``{'loaded': [...], 'skipped': {name: reason}}`` (also logged).
    """
    if not Path(path).is_file():
        raise ConfigError(f'--init-from {path} does not exist: give an eunet_ros checkpoint '
                          '(.pt) to start from, or leave --init-from out to start from scratch')
    ckpt = load_checkpoint(path)
    own = model.state_dict()
    same_classes = list(ckpt.class_names) == list(class_names)
    loaded, skipped = [], {}
    new = {}
    for k, v in ckpt.state_dict.items():
        if k not in own:
            skipped[k] = 'not in this model'
        elif k.startswith('head.') and not same_classes:
            skipped[k] = f'classes differ ({len(ckpt.class_names)} -> {len(class_names)}): ' \
                         're-initialised'
        elif tuple(v.shape) != tuple(own[k].shape):
            skipped[k] = f'shape {tuple(v.shape)} != {tuple(own[k].shape)}'
        else:
            new[k] = v
            loaded.append(k)
    model.load_state_dict(new, strict=False)
    fresh = sorted(set(own) - set(new))
    log.info('init-from %s: loaded %d of %d tensors; %d left as initialised%s', path,
             len(loaded), len(own), len(fresh),
             (': ' + ', '.join(fresh[:8]) + (' ...' if len(fresh) > 8 else '')) if fresh else '')
    for k, why in list(skipped.items())[:20]:
        log.info('init-from: skipped %s (%s)', k, why)
    return {'loaded': loaded, 'skipped': skipped}


def _loader(ds: SegmentationDataset, sampler, batch: int, workers: int, train: bool,
            device: torch.device) -> DataLoader:
    return DataLoader(ds, batch_size=batch, sampler=sampler, num_workers=workers,
                      pin_memory=device.type == 'cuda', drop_last=train,
                      worker_init_fn=worker_init if workers else None,
                      multiprocessing_context=loader_context() if workers else None,
                      persistent_workers=workers > 0, prefetch_factor=4 if workers else None)


NORM_LAYERS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def param_groups(model: nn.Module, weight_decay: float) -> List[Dict[str, Any]]:
    """
    Split the parameters into a decayed group and an undecayed one (norms and biases).

    Weight decay shrinks weights towards 0. That regularises the convolution kernels,
    whose scale BatchNorm undoes anyway, but a norm layer's scale and shift and any
    bias set the scale and offset of the features themselves: decaying them only
    pulls the network off its operating point (Lion's decay is decoupled and uses
    the step size, ``p *= 1 - lr * wd``, so it never stops pulling).
    """
    no_decay = set()
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if isinstance(module, NORM_LAYERS) or name.endswith('bias'):
                no_decay.add(id(p))
    decay = [p for p in model.parameters() if id(p) not in no_decay]
    rest = [p for p in model.parameters() if id(p) in no_decay]
    return [{'params': decay, 'weight_decay': weight_decay},
            {'params': rest, 'weight_decay': 0.0}]


def make_optimizer(model: nn.Module, oc: Dict[str, Any], total_steps: int) -> Tuple[
        torch.optim.Optimizer, torch.optim.lr_scheduler.OneCycleLR]:
    """
    Return the recipe's Lion optimizer and one-cycle schedule over ``total_steps``.

    ``oc['no_decay_norm_bias']``: no weight decay on norm layers and biases
    (:func:`param_groups`); else one group, everything decayed.
    """
    from lion_pytorch import Lion
    wd = float(oc['weight_decay'])
    params = param_groups(model, wd) if oc.get('no_decay_norm_bias') else model.parameters()
    optimizer = Lion(params, lr=float(oc['lr']), betas=tuple(oc['betas']), weight_decay=wd)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=float(oc['lr']), total_steps=total_steps,
        pct_start=float(oc['pct_start']), div_factor=float(oc['div_factor']),
        final_div_factor=float(oc['final_div_factor']), cycle_momentum=False)
    return optimizer, scheduler


def forward_batch(net: nn.Module, batch: Sequence[torch.Tensor], normalize: Normalize,
                  device: torch.device, amp: Optional[torch.dtype]) -> Tuple[torch.Tensor, ...]:
    """
    Move a loader batch to ``device``, normalise it and run ``net`` (under AMP if given).

    :returns: ``(logits, masks, labelled)`` on ``device``.
    """
    images, masks, labelled = batch
    x = normalize(images.to(device, non_blocking=True))
    masks = masks.to(device, non_blocking=True)
    labelled = labelled.to(device, non_blocking=True)
    if device.type == 'cuda':
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
        logits = net(x)
    return logits, masks, labelled


def train_step(net: nn.Module, model: nn.Module, batch: Sequence[torch.Tensor],
               normalize: Normalize, criterion: nn.Module,
               optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
               scheduler: torch.optim.lr_scheduler.OneCycleLR, device: torch.device,
               amp: Optional[torch.dtype], grad_clip: Optional[float]) -> torch.Tensor:
    """
    Run one optimisation step of the recipe on ``batch``; return the detached loss.

    The schedule stays at its final value past its end (a resumed run may be longer).

    :param net: what runs the forward pass (``model``, or its DDP / compiled wrapper).
    :param model: the plain module (gradient clipping).
    """
    logits, masks, labelled = forward_batch(net, batch, normalize, device, amp)
    loss = criterion(logits, masks, labelled)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if grad_clip:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), float(grad_clip))
    scaler.step(optimizer)
    scaler.update()
    if scheduler.last_epoch + 1 < scheduler.total_steps:
        scheduler.step()
    return loss.detach()


@torch.no_grad()
def validate(model: nn.Module, loader: DataLoader, normalize: Normalize,
             criterion: nn.Module, num_classes: int, env: DistEnv,
             amp: Optional[torch.dtype], progress: bool = False) -> Tuple[float, ConfusionMatrix]:
    """Run the validation loader; return the mean loss and the reduced confusion matrix."""
    from tqdm import tqdm
    model.eval()
    cm = ConfusionMatrix(num_classes, env.device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=env.device)
    batches = torch.zeros((), dtype=torch.float64, device=env.device)
    for batch in tqdm(loader, desc='  val', leave=False, dynamic_ncols=True,
                      disable=not progress):
        logits, masks, labelled = forward_batch(model, batch, normalize, env.device, amp)
        loss_sum += criterion(logits, masks, labelled).double()
        batches += 1
        cm.update(logits.argmax(1), masks, labelled)
    cm.reduce_from_all_processes()
    if env.distributed:
        both = torch.stack([loss_sum, batches])
        torch.distributed.all_reduce(both)
        loss_sum, batches = both[0], both[1]
    model.train()
    return float(loss_sum / batches.clamp_min(1)), cm


def _state_path(resume: Optional[str], out: Path) -> Optional[Path]:
    if not resume:
        return None
    if resume == 'auto':
        p = out / 'last.pt'
        return p if p.exists() else None
    p = Path(resume)
    return p / 'last.pt' if p.is_dir() else p


def _clean_stale_tmp(out: Path) -> None:
    for p in out.glob('.*.tmp'):
        try:
            p.unlink()
            log.info('removed %s left by an interrupted write', p.name)
        except OSError:
            pass


@dataclass
class RunData:
    """The datasets and loaders of a run, and what they fix about the model."""

    classes: List[str]
    scored: List[int]
    mcfg: ModelConfig
    input_size: Tuple[int, int]
    train_ds: SegmentationDataset
    val_ds: SegmentationDataset
    sampler: EpochSampler
    loader: DataLoader
    val_loader: DataLoader
    batch: int
    per_rank: int
    steps_per_epoch: int

    @property
    def num_classes(self) -> int:
        """Return the number of classes."""
        return len(self.classes)


@dataclass
class Trainer:
    """
    The model and everything that updates it.

    :ivar model: the plain module (checkpoints, validation, gradient clipping).
    :ivar net: what runs the training forward pass (``model``, or its DDP / compiled wrapper).
    :ivar resumed: whether the run continues from a ``last.pt``.
    :ivar ema: the EMA of the weights (``optim.ema_decay``), or None.
    """

    model: nn.Module
    net: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.OneCycleLR
    scaler: torch.amp.GradScaler
    amp: Optional[torch.dtype]
    normalize: Normalize
    criterion: nn.Module
    total_steps: int
    resumed: bool
    ema: Optional[ModelEMA] = None

    @property
    def eval_model(self) -> nn.Module:
        """Return the weights validated and written to best.pt: the EMA's when on."""
        return self.model if self.ema is None else self.ema.module


@dataclass
class Run:
    """What the stages of a training run share."""

    cfg: Dict[str, Any]
    env: DistEnv
    out: Path
    data: RunData
    trainer: Trainer
    show_bars: bool
    writer: Any  # a TensorBoard SummaryWriter, or None
    meta: Dict[str, Any]  # the checkpoint fields of every best.pt / last.pt


def prepare_output_dir(cfg: Dict[str, Any], env: DistEnv) -> Path:
    """Create the run folder, start logging to its train.log, drop stale temporary files."""
    out = Path(cfg['output_dir'])
    if env.is_main:
        out.mkdir(parents=True, exist_ok=True)
    setup_logging(env, out / 'train.log')
    if env.is_main:
        _clean_stale_tmp(out)
    barrier(env)
    return out


def _build_sources(cfg: Dict[str, Any], env: DistEnv, show_bars: bool) -> Tuple[
        List[Any], List[Any], List[str]]:
    """Return the train and validation sources, prepared, and their class names."""
    train_sources = [build_source(s) for s in cfg['data']['train']]
    val_sources = [build_source(s) for s in cfg['data']['val']]
    for is_turn in (env.is_main, not env.is_main):  # rank 0 builds caches, the others reuse
        if is_turn:
            for s in train_sources + val_sources:
                if hasattr(s, 'prepare'):
                    s.prepare(workers=int(cfg['train']['workers']), progress=show_bars)
        barrier(env)
    classes = list(train_sources[0].classes)
    if cfg['classes'] is not None and list(cfg['classes']) != classes:
        raise ConfigError(f'config classes {cfg["classes"]} differ from the data\'s {classes}')
    if len(classes) < 2:
        raise ConfigError(f'need at least 2 classes, the data has {classes}')
    return train_sources, val_sources, classes


def build_data(cfg: Dict[str, Any], env: DistEnv, show_bars: bool) -> RunData:
    """Build the datasets, the epoch sampler and the loaders of this rank."""
    tc = cfg['train']
    train_sources, val_sources, classes = _build_sources(cfg, env, show_bars)
    mcfg, input_size = model_config(cfg, len(classes))
    mean = cfg['normalization']['mean']
    seed = int(tc['seed'])
    if tc['select_metric'] == 'cone_miou' and not set(CONE_CLASSES) & set(classes):
        raise ConfigError(f'train.select_metric cone_miou: the classes {classes} have none of '
                          f'the cone classes {list(CONE_CLASSES)}')
    try:
        transform = TrainTransform(input_size, mean, cfg['augment'],
                                   _copy_paste(cfg, train_sources, classes))
    except ValueError as e:
        raise ConfigError(f'augment: {e}') from None
    train_ds = SegmentationDataset(train_sources, transform, seed=seed)
    val_ds = SegmentationDataset(val_sources, EvalTransform(input_size, mean), seed=seed)
    if val_ds.classes != classes:
        raise ConfigError(f'validation classes {val_ds.classes} differ from training {classes}')
    scored = val_ds.labelled_union()
    batch = int(tc['batch_size'])
    if batch % env.world_size:
        raise ConfigError(f'train.batch_size {batch} is the global batch and must be divisible '
                          f'by the number of processes ({env.world_size})')
    per_rank = batch // env.world_size
    sampler = EpochSampler(len(train_ds), num_replicas=env.world_size, rank=env.rank,
                           shuffle=True, seed=seed)
    full_steps = sampler.num_samples // per_rank
    if full_steps < 1:
        raise ConfigError(f'the training data has {len(train_ds)} samples, fewer than one '
                          f'batch per rank ({per_rank}); lower --batch-size')
    steps_per_epoch = min(full_steps, int(tc['max_steps_per_epoch'] or full_steps))
    workers = int(tc['workers'])
    loader = _loader(train_ds, sampler, per_rank, workers, True, env.device)
    val_loader = _loader(val_ds, ShardSampler(len(val_ds), num_replicas=env.world_size,
                                              rank=env.rank), per_rank, workers, False,
                         env.device)
    return RunData(classes=classes, scored=scored, mcfg=mcfg, input_size=input_size,
                   train_ds=train_ds, val_ds=val_ds, sampler=sampler, loader=loader,
                   val_loader=val_loader, batch=batch, per_rank=per_rank,
                   steps_per_epoch=steps_per_epoch)


def _copy_paste(cfg: Dict[str, Any], sources: Sequence[Any],
                classes: List[str]) -> Optional[CopyPaste]:
    """Cut the cone bank of ``augment.copy_paste`` from the training sources (None: off)."""
    augment = cfg['augment'] if isinstance(cfg['augment'], dict) else {}
    cp = copy_paste_config(augment.get('copy_paste'))
    if cp is None:
        return None
    ids = _cone_ids(classes, cp['classes'], 'augment.copy_paste.classes', 'augment.copy_paste')
    bank = ConeBank.from_sources(sources, ids, int(cp['min_source_px']), int(cp['bank_images']))
    if not len(bank):
        log.warning('copy-paste: no whole cone of at least %d px in the training data; '
                    'nothing will be pasted', int(cp['min_source_px']))
    return CopyPaste(cp, bank)


def _cone_ids(classes: Sequence[str], names: Any, key: str, what: str) -> List[int]:
    """Return the ids of the cone classes ``names`` (None: every *_cone); none is an error."""
    try:
        ids = cone_class_ids(classes, names)
    except ValueError as e:
        raise ConfigError(f'{key}: {e}') from None
    if not ids:
        raise ConfigError(f'{what}: no cone class (*_cone) in {list(classes)}; name them with '
                          f'{key}')
    return ids


def build_criterion(cfg: Dict[str, Any], classes: Sequence[str]) -> SegmentationLoss:
    """Return the loss of the ``loss:`` block (:class:`~training.losses.SegmentationLoss`)."""
    lc = cfg['loss']
    region_classes: List[int] = []
    if lc['region'] != 'none':
        region_classes = _cone_ids(classes, lc['region_classes'], 'loss.region_classes',
                                   f'loss.region {lc["region"]}')
    return SegmentationLoss(lc['class_weights'], ohem_fraction=lc['ohem_fraction'],
                            region=lc['region'], region_weight=float(lc['region_weight']),
                            region_classes=region_classes,
                            lovasz_max_pixels=lc['lovasz_max_pixels'])


def new_progress() -> Dict[str, Any]:
    """Return the progress of a run that has not started (saved in last.pt as is)."""
    return {'epoch': 0, 'step_in_epoch': 0, 'global_step': 0,
            'best_miou': None, 'best_score': None, 'best_epoch': None, 'bad_epochs': 0,
            'stopped_early': False, 'history': [], 'loss_sum': 0.0,
            'loss_steps': 0}


def _resume_checkpoint(resume: Optional[str], out: Path) -> Tuple[Any, Optional[Path]]:
    """Return the checkpoint ``--resume`` names (None when there is none yet) and its path."""
    state_file = _state_path(resume, out)
    if resume and resume != 'auto' and (state_file is None or not state_file.exists()):
        raise CheckpointError(f'--resume {resume}: no such checkpoint {state_file}')
    return (load_checkpoint(state_file) if state_file else None), state_file


def _init_weights(model: nn.Module, resume_ckpt: Any, state_file: Optional[Path],
                  data: RunData, init_from: Optional[str], cfg: Dict[str, Any]) -> None:
    """Load the weights of the run to resume, else the matching ones of ``init_from``."""
    if resume_ckpt is not None:
        _check_resumable(resume_ckpt, data.mcfg, data.classes, data.input_size, state_file)
        _check_same_config(resume_ckpt.training_state.get('config'), cfg, state_file)
        model.load_state_dict(resume_ckpt.state_dict)
        if init_from:
            log.info('resuming: --init-from %s is ignored', init_from)
    elif init_from:
        load_matching_weights(model, init_from, data.classes)


def resume_training_state(resume_ckpt: Any, state_file: Path, st: Dict[str, Any],
                          optimizer: torch.optim.Optimizer,
                          scheduler: torch.optim.lr_scheduler.OneCycleLR,
                          scaler: torch.amp.GradScaler, data: RunData, total_steps: int,
                          env: DistEnv, ema: Optional[ModelEMA] = None) -> None:
    """
    Restore optimizer, schedule, AMP scaler, progress ``st``, RNG states and EMA of a last.pt.

    A last.pt without EMA resumed with ``optim.ema_decay`` on starts the average from
    the resumed weights.
    """
    ts = resume_ckpt.training_state
    try:
        optimizer.load_state_dict(ts['optimizer'])
    except ValueError as e:
        raise CheckpointError(f'{state_file}: the optimizer state does not fit this run ({e}); '
                              'optim.no_decay_norm_bias changed? Resume with the setting of '
                              'the run, or start from its weights with --init-from.') from None
    scheduler.load_state_dict(ts['scheduler'])
    scaler.load_state_dict(ts['scaler'])
    st.update(ts['progress'])
    if 'best_score' not in ts['progress']:   # a run from before select_metric: mIoU
        st['best_score'] = st['best_miou']
    set_rng_state(ts['rng'])
    if ema is not None:
        if ts.get('ema') is not None:
            ema.load_state_dict(ts['ema'])
        else:
            log.warning('resume: %s has no EMA; the EMA starts from its weights', state_file)
    steps_per_epoch = data.steps_per_epoch
    if ts['total_steps'] != total_steps or ts['steps_per_epoch'] != steps_per_epoch:
        log.warning('resume: this run has %d steps per epoch, %d in all; the checkpoint '
                    'had %d and %d. The learning-rate schedule continues as it was '
                    'planned and stays at its final value past its end.', steps_per_epoch,
                    total_steps, ts['steps_per_epoch'], ts['total_steps'])
    if ts.get('world_size', 1) != env.world_size and st['step_in_epoch']:
        log.warning('resume: %d processes now, %d before; the rest of the interrupted '
                    'epoch sees a slightly different sample order', env.world_size,
                    ts.get('world_size', 1))
    log.info('resumed from %s: epoch %d, step %d of the epoch, global step %d',
             state_file, st['epoch'] + 1, st['step_in_epoch'], st['global_step'])


def _amp_dtype(tc: Dict[str, Any], device: torch.device) -> Optional[torch.dtype]:
    """Return the mixed-precision dtype (None: full precision; AMP runs on CUDA only)."""
    if tc['amp'] and device.type == 'cuda':
        return torch.bfloat16 if tc['amp_dtype'] == 'bf16' else torch.float16
    return None


def _wrap(model: nn.Module, env: DistEnv, compile_: bool) -> nn.Module:
    """Return what runs the training forward pass: ``model``, in DDP and compiled as asked."""
    net: nn.Module = model
    if env.distributed:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[env.device.index] if env.device.type == 'cuda' else None)
    if compile_:
        net = torch.compile(net)
    return net


def build_model_and_optim(cfg: Dict[str, Any], args: argparse.Namespace, env: DistEnv,
                          data: RunData, out: Path) -> Tuple[Trainer, Dict[str, Any]]:
    """
    Build the model, optimizer, schedule and AMP scaler; resume or ``--init-from`` as asked.

    :returns: the :class:`Trainer` and the progress of the run (:func:`new_progress`,
        or where the resumed run stopped).
    """
    tc = cfg['train']
    torch.manual_seed(int(tc['seed']))
    model: nn.Module = build_model(data.mcfg, where=f'model.arch {cfg["model"]["arch"]}')
    resume_ckpt, state_file = _resume_checkpoint(args.resume, out)
    _init_weights(model, resume_ckpt, state_file, data, tc['init_from'], cfg)
    model.to(env.device)
    if env.device.type == 'cuda':
        model = model.to(memory_format=torch.channels_last)
    if env.distributed and tc['sync_bn']:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    total_steps = int(tc['epochs']) * data.steps_per_epoch
    optimizer, scheduler = make_optimizer(model, cfg['optim'], total_steps)
    amp = _amp_dtype(tc, env.device)
    scaler = torch.amp.GradScaler('cuda', enabled=amp == torch.float16)
    st = new_progress()
    decay = float(cfg['optim']['ema_decay'])
    ema = ModelEMA(model, decay) if decay > 0 else None
    if resume_ckpt is not None:
        resume_training_state(resume_ckpt, state_file, st, optimizer, scheduler, scaler, data,
                              total_steps, env, ema)
    elif args.resume == 'auto':
        log.info('--resume auto: no %s yet, starting a new run', out / 'last.pt')
    net = _wrap(model, env, tc['compile'])
    mean, std = cfg['normalization']['mean'], cfg['normalization']['std']
    normalize = Normalize(mean, std).to(env.device)
    criterion = build_criterion(cfg, data.classes).to(env.device)
    return Trainer(model=model, net=net, optimizer=optimizer, scheduler=scheduler,
                   scaler=scaler, amp=amp, normalize=normalize, criterion=criterion,
                   total_steps=total_steps, resumed=resume_ckpt is not None, ema=ema), st


def start_logging(cfg: Dict[str, Any], env: DistEnv, out: Path, data: RunData,
                  trainer: Trainer, st: Dict[str, Any]) -> Any:
    """
    Write config.yaml (new runs), open TensorBoard and log what this run trains (rank 0).

    :returns: the TensorBoard ``SummaryWriter``, or None (other ranks, no TensorBoard).
    """
    if not env.is_main:
        return None
    if not trainer.resumed:
        atomic_write_bytes(out / 'config.yaml', yaml.safe_dump(cfg, sort_keys=False).encode())
    writer = None
    try:
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(str(out / 'tb'), purge_step=st['global_step'] or None)
    except ImportError as e:
        log.warning('TensorBoard logging is off (%s)', e)
    log.info('%s: %s, %d classes, input %dx%d, %d train / %d val samples, %d steps per '
             'epoch, batch %d (%d per rank x %d), device %s%s', cfg['name'],
             _describe(data.mcfg, cfg['model']['variant']),
             data.num_classes, data.input_size[1], data.input_size[0], len(data.train_ds),
             len(data.val_ds), data.steps_per_epoch, data.batch, data.per_rank, env.world_size,
             env.device, f', amp {cfg["train"]["amp_dtype"]}' if trainer.amp else '')
    return writer


def checkpoint_meta(cfg: Dict[str, Any], data: RunData) -> Dict[str, Any]:
    """Return the fields every best.pt and last.pt of the run carries besides the weights."""
    mean, std = cfg['normalization']['mean'], cfg['normalization']['std']
    variant = cfg['model']['variant'] if not any(
        cfg['model'][k] is not None for k in ('widths', 'stem', 'attention')) else 'custom'
    return {'class_names': data.classes, 'palette': default_palette(data.num_classes),
            'mean': mean, 'std': std, 'input_size': data.input_size,
            'variant': data.mcfg.name if isinstance(data.mcfg, PeerConfig) else variant}


def _provenance(run: Run, st: Dict[str, Any]) -> Dict[str, Any]:
    cfg = run.cfg
    return {'data': {'train': cfg['data']['train'], 'val': cfg['data']['val']},
            'config': cfg['name'], 'epoch': st['epoch'], 'global_step': st['global_step']}


def save_last(run: Run, st: Dict[str, Any]) -> None:
    """Write last.pt: the weights and everything needed to continue exactly (rank 0)."""
    if not run.env.is_main:
        return
    tr = run.trainer
    ts = {'version': STATE_VERSION, 'optimizer': tr.optimizer.state_dict(),
          'scheduler': tr.scheduler.state_dict(), 'scaler': tr.scaler.state_dict(),
          'progress': dict(st), 'rng': rng_state(), 'config': run.cfg,
          'steps_per_epoch': run.data.steps_per_epoch, 'total_steps': tr.total_steps,
          'world_size': run.env.world_size}
    if tr.ema is not None:
        ts['ema'] = tr.ema.state_dict()
    save_checkpoint(run.out / 'last.pt', model=tr.model, training_state=ts,
                    provenance=_provenance(run, st), **run.meta)


def save_best(run: Run, st: Dict[str, Any], summary: Dict[str, Any]) -> None:
    """Write best.pt: the weights just validated (EMA's when on) and their metrics (rank 0)."""
    if not run.env.is_main:
        return
    provenance = _provenance(run, st)
    provenance['metrics'] = {k: v for k, v in summary.items() if k != 'confusion'}
    provenance['metrics']['cone_miou'] = cone_miou(summary['iou'])
    provenance['select_metric'] = run.cfg['train']['select_metric']
    if run.trainer.ema is not None:
        provenance['ema'] = {'decay': run.trainer.ema.decay, 'updates': run.trainer.ema.updates}
    save_checkpoint(run.out / 'best.pt', model=run.trainer.eval_model, provenance=provenance,
                    **run.meta)


def _log_loss_window(run: Run, st: Dict[str, Any], window: torch.Tensor, n_window: int,
                     bar: Any) -> None:
    """Check and add up the loss of the last ``n_window`` steps; show it on the bar and TB."""
    w = float(window)
    if not math.isfinite(w):
        raise FloatingPointError(
            f'the training loss became {w} at step {st["global_step"]}; lower the '
            f'learning rate or check the data. {run.out / "last.pt"} holds the last '
            'good state.')
    st['loss_sum'] += w
    st['loss_steps'] += n_window
    lr = run.trainer.optimizer.param_groups[0]['lr']
    bar.set_postfix(loss=f'{w / n_window:.4f}', lr=f'{lr:.2e}')
    if run.writer is not None:
        run.writer.add_scalar('train/loss', w / n_window, st['global_step'])
        run.writer.add_scalar('train/lr', lr, st['global_step'])


def train_one_epoch(run: Run, st: Dict[str, Any], stop_after: int,
                    steps_before: int) -> Tuple[int, bool]:
    """
    Train the rest of epoch ``st['epoch']``, from step ``st['step_in_epoch']`` on.

    Writes last.pt every ``checkpoint_every`` steps, and leaves early (with last.pt
    written) once this process has run ``stop_after`` steps (0: no limit).

    :param steps_before: the steps this process ran in earlier epochs.
    :returns: the steps run, and whether the epoch was left for ``stop_after``.
    """
    from tqdm import tqdm
    tr, data, tc = run.trainer, run.data, run.cfg['train']
    every = int(tc['checkpoint_every'] or 0)
    log_every = max(1, int(tc['log_every']))
    steps_per_epoch = data.steps_per_epoch
    epoch = st['epoch']
    data.sampler.set_epoch(epoch, start=st['step_in_epoch'] * data.per_rank)
    bar = tqdm(total=steps_per_epoch, initial=st['step_in_epoch'], disable=not run.show_bars,
               desc=f'epoch {epoch + 1}/{int(tc["epochs"])}', dynamic_ncols=True, leave=False)
    window = torch.zeros((), dtype=torch.float64, device=run.env.device)
    n_window = 0
    steps = 0
    interrupted = False
    for batch in data.loader:
        if st['step_in_epoch'] >= steps_per_epoch:
            break
        loss = train_step(tr.net, tr.model, batch, tr.normalize, tr.criterion, tr.optimizer,
                          tr.scaler, tr.scheduler, run.env.device, tr.amp,
                          run.cfg['optim']['grad_clip'])
        if tr.ema is not None:
            tr.ema.update(tr.model)
        window += loss.double()
        n_window += 1
        st['step_in_epoch'] += 1
        st['global_step'] += 1
        bar.update(1)
        if n_window == log_every or st['step_in_epoch'] == steps_per_epoch:
            _log_loss_window(run, st, window, n_window, bar)
            window.zero_()
            n_window = 0
        steps += 1
        if (stop_after and steps_before + steps >= stop_after
                and st['step_in_epoch'] < steps_per_epoch):
            interrupted = True
            save_last(run, st)
            log.info('stopping after %d steps as asked (--stop-after-steps); continue with '
                     '--resume auto', steps_before + steps)
            break
        if every and st['global_step'] % every == 0 and st['step_in_epoch'] < steps_per_epoch:
            save_last(run, st)
    bar.close()
    if not interrupted and st['step_in_epoch'] < steps_per_epoch:
        raise RuntimeError(f'epoch {epoch + 1} ended after {st["step_in_epoch"]} of '
                           f'{steps_per_epoch} steps: the data loader ran dry')
    return steps, interrupted


def evaluate(run: Run) -> Tuple[float, Dict[str, Any]]:
    """
    Validate the model; return the mean loss and the metrics (``ConfusionMatrix.summary``).

    The EMA weights when ``optim.ema_decay`` is on.
    """
    tr, data = run.trainer, run.data
    # the plain module: ranks may hold different numbers of validation batches, and
    # DDP's forward would wait for the others
    val_loss, cm = validate(tr.eval_model, data.val_loader, tr.normalize, tr.criterion,
                            data.num_classes, run.env, tr.amp, run.show_bars)
    return val_loss, cm.summary(data.classes, data.scored)


def update_early_stopping(st: Dict[str, Any], score: float, miou: float,
                          tc: Dict[str, Any]) -> bool:
    """
    Add the epoch just validated to the early-stopping state; return whether it improved.

    :param score: its ``train.select_metric`` (0 where none could be measured).
    :param miou: its mIoU (0 where none could be measured), kept as ``best_miou``.
    """
    improved = st['best_score'] is None or score > st['best_score'] + float(tc['min_delta'])
    if improved:
        st['best_score'], st['best_miou'] = score, miou
        st['best_epoch'], st['bad_epochs'] = st['epoch'] + 1, 0
    else:
        st['bad_epochs'] += 1
    if st['bad_epochs'] >= int(tc['patience']):
        st['stopped_early'] = True
    return improved


def log_epoch(run: Run, st: Dict[str, Any], record: Dict[str, Any], miou: float,
              images_per_s: float, t_epoch: float) -> None:
    """
    Log the epoch just finished: one line, and its scalars to TensorBoard (rank 0).

    :param record: the epoch's entry of ``st['history']``.
    :param miou: its mIoU, 0 where none could be measured.
    """
    if not run.env.is_main:
        return
    epoch = record['epoch']
    log.info('epoch %d/%d  train loss %.4f  val loss %.4f  mIoU %s  cone mIoU %s  (best %s '
             '%.4f @ %d)  lr %.2e  %.0fs (%.0f img/s)', epoch, int(run.cfg['train']['epochs']),
             record['train_loss'], record['val_loss'],
             'n/a' if record['miou'] is None else f'{record["miou"]:.4f}',
             'n/a' if record['cone_miou'] is None else f'{record["cone_miou"]:.4f}',
             run.cfg['train']['select_metric'], st['best_score'], st['best_epoch'], record['lr'],
             time.time() - t_epoch, images_per_s)
    writer = run.writer
    if writer is not None:
        writer.add_scalar('epoch/train_loss', record['train_loss'], epoch)
        writer.add_scalar('epoch/val_loss', record['val_loss'], epoch)
        writer.add_scalar('epoch/mIoU', miou, epoch)
        if record['cone_miou'] is not None:
            writer.add_scalar('epoch/cone_mIoU', record['cone_miou'], epoch)
        writer.add_scalar('epoch/train_images_per_s', images_per_s, epoch)
        for name, v in record['iou'].items():
            if v is not None:
                writer.add_scalar(f'IoU/{name}', v, epoch)
        writer.flush()


def end_epoch(run: Run, st: Dict[str, Any], t_epoch: float, first_step: int) -> None:
    """
    Close the epoch just trained: validate, early stopping, history, checkpoints, log.

    :param t_epoch: when the epoch (or its resumed rest) started.
    :param first_step: the step of the epoch it started at.
    """
    env, data = run.env, run.data
    train_loss = _reduce_mean(st['loss_sum'], st['loss_steps'], env)
    if env.device.type == 'cuda':
        torch.cuda.synchronize(env.device)
    train_s = time.time() - t_epoch
    images_per_s = (data.steps_per_epoch - first_step) * data.batch / max(train_s, 1e-9)
    val_loss, summary = evaluate(run)
    miou = summary['miou'] if summary['miou'] is not None else 0.0
    score = metric_value(summary, run.cfg['train']['select_metric'])
    improved = update_early_stopping(st, 0.0 if score is None else score, miou,
                                     run.cfg['train'])
    record = {'epoch': st['epoch'] + 1, 'train_loss': train_loss, 'val_loss': val_loss,
              'miou': summary['miou'], 'cone_miou': cone_miou(summary['iou']),
              'pixel_accuracy': summary['pixel_accuracy'],
              'pixels': summary['pixels'], 'iou': summary['iou'],
              'lr': run.trainer.optimizer.param_groups[0]['lr'],
              'seconds': round(time.time() - t_epoch, 2),
              'train_images_per_s': round(images_per_s, 1)}
    vanished = data.train_ds.take_vanished() + data.val_ds.take_vanished()
    if vanished:
        # files deleted or moved after indexing: skipped (replaced by the next sample)
        record['samples_skipped_vanished'] = vanished
        log.warning('epoch %d: %d sample(s) skipped because their image or mask vanished after '
                    'the dataset was indexed (this rank); the run goes on', st['epoch'] + 1,
                    vanished)
    st['history'].append(record)
    st['epoch'] += 1
    st['step_in_epoch'] = 0
    st['loss_sum'], st['loss_steps'] = 0.0, 0
    if improved:
        save_best(run, st, summary)
    save_last(run, st)
    log_epoch(run, st, record, miou, images_per_s, t_epoch)


def finish(run: Run, st: Dict[str, Any], interrupted: bool, t_start: float) -> Dict[str, Any]:
    """Close TensorBoard, write summary.json and log the best epoch; return the summary."""
    if run.writer is not None:
        run.writer.close()
    result = _summary(run.cfg, st, run.out, t_start)
    result['finished'] = not interrupted
    if run.env.is_main:
        atomic_write_json(run.out / 'summary.json', result)
        best = st['history'][st['best_epoch'] - 1] if st['best_epoch'] else None
        if best is not None:
            log.info('%s', format_table({
                'iou': best['iou'], 'dice': dict.fromkeys(best['iou']),
                'miou': best['miou'], 'mean_dice': None,
                'pixel_accuracy': best['pixel_accuracy']},
                f'best epoch {st["best_epoch"]} (validation):'))
        log.info('done: %s (best.pt, last.pt, summary.json)', run.out)
    return result


def main(args: argparse.Namespace) -> Dict[str, Any]:
    """Train as ``args`` says; return the summary (also written to summary.json)."""
    cfg = load_config(args)
    env = init_distributed(str(cfg['train']['device']))
    try:
        return _run(cfg, args, env)
    finally:
        cleanup_distributed()


def _run(cfg: Dict[str, Any], args: argparse.Namespace, env: DistEnv) -> Dict[str, Any]:
    """Set the run up, train epoch by epoch until done, stopped early or --stop-after-steps."""
    t_start = time.time()
    new_folder = not Path(cfg['output_dir']).exists()
    out = prepare_output_dir(cfg, env)
    show_bars = env.is_main and not args.no_progress
    try:
        data = build_data(cfg, env, show_bars)
        trainer, st = build_model_and_optim(cfg, args, env, data, out)
    except (ConfigError, DatasetError, CheckpointError):
        if new_folder and env.is_main:
            _remove_unused_run_folder(out)
        raise
    writer = start_logging(cfg, env, out, data, trainer, st)
    run = Run(cfg=cfg, env=env, out=out, data=data, trainer=trainer, show_bars=show_bars,
              writer=writer, meta=checkpoint_meta(cfg, data))

    trainer.model.train()
    epochs = int(cfg['train']['epochs'])
    stop_after = int(args.stop_after_steps or 0)
    steps_here = 0
    interrupted = False
    while st['epoch'] < epochs and not st['stopped_early'] and not interrupted:
        t_epoch, first_step = time.time(), st['step_in_epoch']
        steps, interrupted = train_one_epoch(run, st, stop_after, steps_here)
        steps_here += steps
        if interrupted:
            break
        end_epoch(run, st, t_epoch, first_step)
        if stop_after and steps_here >= stop_after and st['epoch'] < epochs:
            interrupted = True
        if st['stopped_early']:
            log.info('early stopping: no better validation %s for %d epochs (best %.4f at '
                     'epoch %d)', cfg['train']['select_metric'], st['bad_epochs'],
                     st['best_score'], st['best_epoch'])
        barrier(env)
    return finish(run, st, interrupted, t_start)


def _remove_unused_run_folder(out: Path) -> None:
    """Remove a run folder this process created when setting the run up failed in it."""
    close_log_file(out / 'train.log')
    if {p.name for p in out.iterdir()} <= {'train.log'}:
        shutil.rmtree(out, ignore_errors=True)


def _reduce_mean(total: float, count: int, env: DistEnv) -> float:
    if env.distributed:
        t = torch.tensor([total, float(count)], dtype=torch.float64, device=env.device)
        torch.distributed.all_reduce(t)
        total, count = float(t[0]), int(t[1])
    return total / max(1, count)


def _describe(mcfg: ModelConfig, variant: str) -> str:
    if isinstance(mcfg, PeerConfig):
        return f'torchvision {mcfg.name} (peer)'
    return f'EUnet {variant} {list(mcfg.widths)} {mcfg.stem}'


def _check_resumable(ckpt, mcfg: ModelConfig, classes: List[str],
                     input_size: Tuple[int, int], path: Path) -> None:
    ts = ckpt.training_state
    if not isinstance(ts, dict) or ts.get('version') != STATE_VERSION:
        raise CheckpointError(f'checkpoint {path} has no training state to resume from (a '
                              'best.pt or an exported model?); resume from last.pt, or start '
                              'from its weights with --init-from.')
    problems = []
    if ckpt.config.to_dict() != mcfg.to_dict():
        problems.append(f'model {ckpt.config.to_dict()} vs {mcfg.to_dict()}')
    if list(ckpt.class_names) != list(classes):
        problems.append(f'classes {ckpt.class_names} vs {classes}')
    if tuple(ckpt.input_size) != tuple(input_size):
        problems.append(f'input size {list(ckpt.input_size)} vs {list(input_size)}')
    if problems:
        raise CheckpointError(f'checkpoint {path} belongs to another run ({"; ".join(problems)}).'
                              ' Use the same config, a new --output-dir, or --init-from.')


# Config entries a resumed run may change: where and how fast it runs, how often it
# writes and logs, and when it gives up; none of them changes the weights it reaches.
RESUME_MAY_CHANGE = frozenset({
    'name', 'output_dir', 'train.workers', 'train.device', 'train.checkpoint_every',
    'train.log_every', 'train.patience', 'train.min_delta', 'train.compile',
    'train.init_from'})


def _flatten(tree: Any, prefix: str = '') -> Dict[str, Any]:
    if isinstance(tree, dict):
        out: Dict[str, Any] = {}
        for k, v in tree.items():
            out.update(_flatten(v, f'{prefix}{k}.'))
        return out if out or not prefix else {prefix[:-1]: tree}
    return {prefix[:-1]: tree}


def config_differences(old: Dict[str, Any], new: Dict[str, Any]) -> List[str]:
    """
    Return ``key: old -> new`` for the entries that differ, except RESUME_MAY_CHANGE.

    An entry the old config lacks counts as its DEFAULTS value (a key added to the
    training code after the run started does not block resuming it).
    """
    a, b, d = _flatten(old), _flatten(new), _flatten(DEFAULTS)
    missing = object()
    diff = []
    for k in sorted(set(a) | set(b)):
        was, now = a.get(k, d.get(k, missing)), b.get(k, d.get(k, missing))
        if k not in RESUME_MAY_CHANGE and was != now:
            diff.append(f'{k}: {"(unset)" if was is missing else repr(was)} -> '
                        f'{"(unset)" if now is missing else repr(now)}')
    return diff


def _check_same_config(old: Optional[Dict[str, Any]], cfg: Dict[str, Any],
                       path: Optional[Path]) -> None:
    """Refuse to resume a last.pt whose run had another data, model, recipe or length."""
    if not isinstance(old, dict):
        return   # a last.pt written before the config was stored: the model check stands
    diff = config_differences(old, cfg)
    if diff:
        shown = '; '.join(diff[:6]) + (f'; and {len(diff) - 6} more' if len(diff) > 6 else '')
        raise CheckpointError(
            f'{path} belongs to a run with other settings ({shown}). Resuming it would train '
            'on with a schedule planned for the old ones. Run again with the settings it was '
            'started with, give a new --output-dir for a new run, or start a new run from '
            f'its weights with --init-from {path}.')


def _summary(cfg: Dict[str, Any], st: Dict[str, Any], out: Path, t0: float) -> Dict[str, Any]:
    best = st['history'][st['best_epoch'] - 1] if st['best_epoch'] else None
    return {
        'name': cfg['name'],
        'output_dir': str(out),
        'epochs_run': st['epoch'],
        'epochs_max': int(cfg['train']['epochs']),
        'global_step': st['global_step'],
        'stopped_early': st['stopped_early'],
        'best_epoch': st['best_epoch'],
        'best_miou': st['best_miou'],
        'select_metric': cfg['train']['select_metric'],
        'best_score': st['best_score'],
        'best_val': best,
        'best_checkpoint': str(out / 'best.pt'),
        'last_checkpoint': str(out / 'last.pt'),
        'history': st['history'],
        'samples_skipped_vanished': sum(r.get('samples_skipped_vanished', 0)
                                        for r in st['history']),
        'seconds_this_process': round(time.time() - t0, 1),
        'config': cfg,
    }


def cli(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point: run :func:`main`; known user errors print one clear line, exit 2."""
    args = get_args_parser().parse_args(argv)
    try:
        main(args)
    except (ConfigError, DatasetError, CheckpointError, FloatingPointError) as e:
        if logging_to_stderr():   # once: the console handler shows it (and train.log keeps it)
            log.error('%s', e)
        else:
            print(f'error: {e}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('interrupted; continue with --resume auto (or --resume <output-dir>/last.pt)',
              file=sys.stderr)
        return 130
    return 0


if __name__ == '__main__':
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    sys.exit(cli())
