# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""Distributed set-up, logging, RNG states, config merging and option types for the CLIs."""

from __future__ import annotations

import copy
from dataclasses import dataclass
import datetime
import logging
import os
from pathlib import Path
import random
import sys
from typing import Any, Dict, List, Mapping, Optional

from eunet_ros.core.engine import EngineError, resolve_device
from eunet_ros.core.options import ConfigError
import numpy as np
import torch
import torch.distributed as dist
import yaml

log = logging.getLogger('training')


@dataclass
class DistEnv:
    """Where this process stands in a (possibly single-process) run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device('cpu')

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> DistEnv:
    """
    Initialise torch.distributed from the ``torchrun`` environment when present.

    Backend: NCCL on CUDA, gloo on the CPU. Each rank gets ``cuda:LOCAL_RANK``.
    Without ``WORLD_SIZE`` > 1 nothing is initialised (single process).
    """
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    local = int(os.environ.get('LOCAL_RANK', '0'))
    try:
        dev = resolve_device(device)
    except EngineError as e:
        raise ConfigError(str(e)) from None
    if dev.type == 'cuda':
        if world > 1 or dev.index is None:
            idx = local if world > 1 else (dev.index or 0)
            if idx >= torch.cuda.device_count():
                raise ConfigError(f'LOCAL_RANK {local} but only {torch.cuda.device_count()} '
                                  'CUDA devices: start at most that many processes per node.')
            dev = torch.device('cuda', idx)
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        backend = 'nccl' if dev.type == 'cuda' else 'gloo'
        # rank 0 may spend a long time building a dataset cache (COCO masks) while the
        # others wait at a barrier: allow an hour before a collective times out
        dist.init_process_group(backend=backend, init_method='env://',
                                timeout=datetime.timedelta(minutes=60))
        if dev.type == 'cpu':
            local_world = int(os.environ.get('LOCAL_WORLD_SIZE', world))
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    return DistEnv(rank=rank, world_size=world, local_rank=local, device=dev)


def barrier(env: DistEnv) -> None:
    """Wait for every rank (no-op in a single process)."""
    if env.distributed and dist.is_initialized():
        dist.barrier()


def cleanup_distributed() -> None:
    """Tear the process group down if one was initialised."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


_HANDLER_TAG = '_eunet_training_handler'


def setup_logging(env: DistEnv, log_file: Optional[Path] = None) -> None:
    """Log INFO on rank 0 (and to ``log_file``), only warnings elsewhere; idempotent."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, _HANDLER_TAG, False):
            root.removeHandler(h)
            h.close()
    fmt = logging.Formatter(
        '%(asctime)s %(levelname)s ' + (f'[rank {env.rank}] ' if env.distributed else '')
        + '%(message)s', '%H:%M:%S')
    handlers: List[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None and env.is_main:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file))
    for h in handlers:
        h.setFormatter(fmt)
        setattr(h, _HANDLER_TAG, True)
        root.addHandler(h)
    root.setLevel(logging.INFO if env.is_main else logging.WARNING)


def logging_to_stderr() -> bool:
    """Whether :func:`setup_logging` has put a console handler on the root logger."""
    return any(getattr(h, _HANDLER_TAG, False) and not isinstance(h, logging.FileHandler)
               for h in logging.getLogger().handlers)


def close_log_file(path: Path) -> None:
    """Detach and close the handler of :func:`setup_logging` that writes ``path``."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if (getattr(h, _HANDLER_TAG, False) and isinstance(h, logging.FileHandler)
                and Path(h.baseFilename) == Path(path).resolve()):
            root.removeHandler(h)
            h.close()


def rng_state() -> Dict[str, Any]:
    """Capture the torch, CUDA, numpy and python RNGs as plain containers and tensors."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    out: Dict[str, Any] = {
        'torch': torch.get_rng_state(),
        'numpy': {'name': str(np_state[0]), 'keys': torch.from_numpy(
            np_state[1].astype(np.int64)), 'pos': int(np_state[2]),
            'has_gauss': int(np_state[3]), 'cached_gaussian': float(np_state[4])},
        'python': [int(py_state[0]), [int(x) for x in py_state[1]], py_state[2]],
    }
    if torch.cuda.is_available():
        out['cuda'] = torch.cuda.get_rng_state_all()
    return out


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` captured (CUDA only when the device count matches)."""
    torch.set_rng_state(state['torch'].cpu())
    n = state['numpy']
    np.random.set_state((n['name'], n['keys'].numpy().astype(np.uint32), n['pos'],
                         n['has_gauss'], n['cached_gaussian']))
    p = state['python']
    random.setstate((p[0], tuple(p[1]), p[2]))
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([t.cpu() for t in cuda])


def deep_merge(base: Dict[str, Any], override: Mapping[str, Any], where: str = '',
               strict: bool = True) -> Dict[str, Any]:
    """
    Return ``base`` updated recursively with ``override``.

    With ``strict``, keys of ``override`` unknown to ``base`` are a ConfigError
    (typos in config files fail loudly) except below free-form mappings (None).
    """
    out = copy.deepcopy(base)
    for k, v in override.items():
        path = f'{where}.{k}' if where else str(k)
        if strict and k not in out:
            raise ConfigError(f'unknown config key {path!r}; known here: {sorted(out)}')
        if isinstance(out.get(k), dict) and isinstance(v, Mapping) and out[k]:
            out[k] = deep_merge(out[k], v, path, strict)
        else:
            out[k] = copy.deepcopy(v)
    return out


def set_by_path(cfg: Dict[str, Any], assignment: str) -> None:
    """
    Apply ``a.b.0.c=VALUE`` to ``cfg`` (VALUE parsed as YAML; list indices allowed).

    :raises ConfigError: malformed assignment or a path that does not exist.
    """
    if '=' not in assignment:
        raise ConfigError(f'--set expects KEY=VALUE, got {assignment!r}')
    key, raw = assignment.split('=', 1)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise ConfigError(f'--set {key}: value {raw!r} is not valid YAML ({e})') from None
    parts = key.strip().split('.')
    node: Any = cfg
    for i, p in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            try:
                idx = int(p)
                node[idx]
            except (ValueError, IndexError):
                raise ConfigError(f'--set {key}: {p!r} is not an index of a list of '
                                  f'{len(node)}') from None
            if last:
                node[idx] = value
            else:
                node = node[idx]
        elif isinstance(node, dict):
            if last:
                node[p] = value
            else:
                if p not in node:
                    raise ConfigError(f'--set {key}: no key {p!r} (known: {sorted(node)})')
                node = node[p]
        else:
            raise ConfigError(f'--set {key}: {".".join(parts[:i])} is not a mapping or list')
