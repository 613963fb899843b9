# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
ONNX Runtime (CPU) as the engine's network runner, exported lazily from the checkpoint.

On the CPU, ONNX Runtime runs EUnet about three times faster than PyTorch eager
(docs/performance_history_cpu.md: its NCHWc kernels handle the depthwise and
dilated convolutions that oneDNN runs slowly in NCHW). The engine keeps doing all
pre- and post-processing in torch/numpy; only ``logits = net(batch)`` runs here.

The ONNX file is exported from the torch module the first time a given network is
used and kept in a cache folder, named by a hash of everything that decides the
graph (EUnet config, weights, network input size, export settings), so a changed
checkpoint or input size never reuses a stale file. Writes are atomic; a cache
file whose SHA-256 differs from the one written beside it (``<file>.sha256``:
corrupt, or changed by someone else) or that ONNX Runtime cannot load is exported
again, with a warning; a cache
folder that cannot be written is not an error (the model is then exported into
memory on every start).

Cache folder: ``$EUNET_ROS_CACHE_DIR/onnx`` if set, else
``$XDG_CACHE_HOME/eunet_ros/onnx`` (``~/.cache/eunet_ros/onnx``).
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import logging
import os
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union
import warnings

from eunet_ros.core.model import EUnet
from eunet_ros.fileio import atomic_write_bytes
import numpy as np
import torch
from torch import nn

__all__ = ['OrtNetwork', 'OrtError', 'onnxruntime_available', 'default_cache_dir',
           'network_fingerprint', 'export_onnx_bytes', 'EXPORT_VERSION', 'OPSET']

log = logging.getLogger('eunet_ros.core.ort_backend')

# Part of the cache key: bump when the export settings below change.
EXPORT_VERSION = 1
OPSET = 17


class OrtError(RuntimeError):
    """ONNX Runtime is missing, or the network cannot be exported or loaded into it."""


def onnxruntime_available() -> Tuple[bool, str]:
    """Return whether onnx and onnxruntime import (the export needs both), and why not."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except Exception as e:  # noqa: B902 - any import failure means "not available"
        return False, f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}'
    return True, f'onnxruntime {onnxruntime.__version__}'


def default_cache_dir() -> Path:
    """Return the ONNX cache folder (see the module docstring)."""
    env = os.environ.get('EUNET_ROS_CACHE_DIR')
    if env:
        return Path(env).expanduser() / 'onnx'
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return Path(base) / 'eunet_ros' / 'onnx'


def network_fingerprint(model: nn.Module, input_hw: Sequence[int]) -> Optional[str]:
    """
    Hash everything that decides the exported graph of an EUnet.

    :returns: a hex digest, or None when ``model`` is not an :class:`EUnet` (its
        graph is not determined by config and weights, so it is never cached).
    """
    if not isinstance(model, EUnet):
        return None
    h = hashlib.sha256()
    head = {'export_version': EXPORT_VERSION, 'opset': OPSET,
            'config': model.config.to_dict(), 'input_hw': [int(v) for v in input_hw]}
    h.update(json.dumps(head, sort_keys=True).encode())
    for name, t in model.state_dict().items():
        t = t.detach().to('cpu').contiguous()
        h.update(f'{name}|{t.dtype}|{tuple(t.shape)}|'.encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def export_onnx_bytes(model: nn.Module, input_hw: Sequence[int], *, dynamic_hw: bool = False,
                      opset: int = OPSET) -> bytes:
    """
    Export ``model`` (fp32, on the CPU, eval mode) as ONNX: ``image`` -> ``logits``.

    The batch is always dynamic. Without ``dynamic_hw`` the graph has the fixed
    H x W ``input_hw``: the engine gives the padded network input, so EUnet's own
    pad/crop branch is not part of the graph. With ``dynamic_hw`` H and W are
    dynamic too (training.export); then trace with an ``input_hw`` that is not a
    multiple of the network's, so the padding is computed from the input's shape.
    """
    h, w = (int(v) for v in input_hw)
    in_ch = int(getattr(getattr(model, 'config', None), 'in_channels', 3))
    buf = io.BytesIO()
    axes = {0: 'batch', 2: 'height', 3: 'width'} if dynamic_hw else {0: 'batch'}
    kwargs = {}
    if 'dynamo' in inspect.signature(torch.onnx.export).parameters:
        kwargs['dynamo'] = False   # the TorchScript exporter (newer torch defaults to dynamo)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # TracerWarnings about EUnet's pad/crop branch
        torch.onnx.export(
            model, (torch.zeros(1, in_ch, h, w),), buf, opset_version=int(opset),
            input_names=['image'], output_names=['logits'],
            dynamic_axes={'image': axes, 'logits': axes},
            do_constant_folding=True, **kwargs)
    return buf.getvalue()


def _hash_path(path: Path) -> Path:
    """Return the file beside a cached ONNX file that holds its SHA-256."""
    return path.with_name(path.name + '.sha256')


def _verified_bytes(path: Path) -> bytes:
    """
    Read a cached ONNX file and check it against the SHA-256 written beside it.

    The bytes that were checked are the bytes ONNX Runtime loads (never the file a
    second time), so a file changed after the check is never run.

    :raises OrtError: no hash beside it (a cache of an older version, or a write cut
        off between the two files) or the file does not match it (corrupt or changed).
    """
    data = path.read_bytes()
    try:
        want = _hash_path(path).read_text().strip()
    except OSError as e:
        raise OrtError(f'no SHA-256 beside it ({e.strerror or e})') from None
    got = hashlib.sha256(data).hexdigest()
    if got != want:
        raise OrtError(f'SHA-256 mismatch: the file is {got[:16]}..., it was written as '
                       f'{want[:16]}... (corrupt or changed since)')
    return data


class OrtNetwork:
    """
    Run a torch network in ONNX Runtime's CPU execution provider.

    :param model: the network (fp32, CPU); it is copied to the CPU for the export.
    :param input_hw: the (padded) network input size H, W the engine feeds.
    :param num_threads: ONNX Runtime intra-op threads (None: one per core).
    :param cache_dir: ONNX cache folder (None: :func:`default_cache_dir`; ``''``: no
        cache, export into memory).

    :ivar source: where the graph came from: ``'cache'``, ``'exported'`` (written
        to the cache), ``'rebuilt'`` (the cached file was unusable and was replaced)
        or ``'memory'`` (not cached).
    :ivar path: the cache file, or None.
    :ivar note: one line for logs: source, file and why it is not cached.
    """

    def __init__(self, model: nn.Module, input_hw: Sequence[int], *,
                 num_threads: Optional[int] = None,
                 cache_dir: Union[str, os.PathLike, None] = None) -> None:
        ok, why = onnxruntime_available()
        if not ok:
            raise OrtError(f'backend "onnxruntime" needs the onnx and onnxruntime packages '
                           f'({why}); pip install onnx onnxruntime, or use backend "torch".')
        import onnxruntime as ort
        self._ort = ort
        self.input_hw = (int(input_hw[0]), int(input_hw[1]))
        self.num_threads = int(num_threads) if num_threads else None
        self.path: Optional[Path] = None
        self.source = 'memory'
        model = model.float().to('cpu').eval()
        fingerprint = network_fingerprint(model, self.input_hw)
        note = ''
        if fingerprint is None:
            note = 'not an EUnet, not cached'
        elif cache_dir == '':
            note = 'cache disabled'
        else:
            folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
            h, w = self.input_hw
            self.path = folder / f'eunet_{fingerprint[:24]}_{h}x{w}.onnx'
        self._session = None
        if self.path is not None and self.path.exists():
            try:
                cached = _verified_bytes(self.path)
                self._session = self._open(cached)
                self.source = 'cache'
            except Exception as e:  # noqa: B902 - any load failure: export it again
                log.warning(f'ONNX cache file {self.path} cannot be loaded '
                            f'({type(e).__name__}: {str(e).splitlines()[0][:200]}); '
                            'exporting it again')
                self.source = 'rebuilt'
        if self._session is None:
            try:
                data = export_onnx_bytes(model, self.input_hw)
                self._session = self._open(data)
            except Exception as e:  # noqa: B902 - exporter / runtime errors of any kind
                raise OrtError(f'cannot run the network in ONNX Runtime: {type(e).__name__}: '
                               f'{str(e).splitlines()[0] if str(e) else ""}; use backend '
                               '"torch".') from e
            if self.path is not None:
                try:
                    atomic_write_bytes(self.path, data, durable=False)
                    atomic_write_bytes(_hash_path(self.path),
                                       (hashlib.sha256(data).hexdigest() + '\n').encode(),
                                       durable=False)
                    if self.source != 'rebuilt':
                        self.source = 'exported'
                except OSError as e:
                    note = f'cache folder not writable: {e}'
                    log.warning(f'ONNX cache {self.path} not written ({e}); the network is '
                                'exported again at every start')
                    self.path = None
                    self.source = 'memory'
        where = f' {self.path}' if self.path is not None else ''
        self.note = f'onnx {self.source}{where}' + (f' ({note})' if note else '')

    def _open(self, model: bytes):
        ort = self._ort
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.inter_op_num_threads = 1
        if self.num_threads:
            so.intra_op_num_threads = self.num_threads
        # Worker threads sleep instead of spinning between ops: on a CPU shared with
        # other processes (a car's perception stack) spinning doubled the latency
        # (docs/performance_history_cpu.md).
        so.add_session_config_entry('session.intra_op.allow_spinning', '0')
        so.log_severity_level = 3
        return ort.InferenceSession(model, so, providers=['CPUExecutionProvider'])

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        """Return the logits of a float32 N x C x H x W CPU batch (H x W = ``input_hw``)."""
        x = np.ascontiguousarray(batch.detach().to('cpu', torch.float32).numpy())
        (y,) = self._session.run(['logits'], {'image': x})
        return torch.from_numpy(y)
