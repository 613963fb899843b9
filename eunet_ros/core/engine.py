# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
ROS-free inference: device, precision, pre/post-processing, batching, overlays.

numpy in, numpy out. Frames are uint8 H x W x 3 arrays in an explicit colour order
(``'bgr'`` or ``'rgb'``); each may have its own resolution. All frames given to one
:meth:`SegmentationEngine.infer` call go through the network as one batch:

1. upload to the inference device, reorder channels to what the network expects;
2. letterbox: resize keeping the aspect ratio so the frame fits the network input
   size, placed at the top-left, the rest padded with the normalised mean (zeros);
3. normalise, run the network;
4. crop the letterboxed region out of the logits, resize the logits to the frame's
   own H x W (bilinear, the exact inverse mapping of step 2), argmax.

So mask pixel (r, c) is the class of image pixel (r, c) at the camera's full
resolution. Steps 1-4 all run on the inference device; only the uint8 masks (and
overlays, when asked) come back to the host.

The network runs in PyTorch or, on the CPU, in ONNX Runtime (``backend``; ``auto``
picks ONNX Runtime for an EUnet on the CPU in fp32 when onnx and onnxruntime are
installed, PyTorch everywhere else, CUDA included): see :mod:`eunet_ros.core.ort_backend`.
On the CPU the resize of step 2 runs on the uint8 frame (the same antialiased
bilinear filter, rounded once to uint8) and step 4 upsamples only the logits of
pixels near a class boundary (:func:`upsample_argmax`), each several times faster
than the float path with the same masks (docs/performance_history_cpu.md).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
import functools
import logging
from pathlib import Path
import threading
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
from eunet_ros.core.checkpoint import Checkpoint, load_checkpoint
from eunet_ros.core.model import EUnet
from eunet_ros.core.options import BACKENDS, PRECISIONS, side_ok, SIZE_RANGE
from eunet_ros.core.ort_backend import onnxruntime_available, OrtError, OrtNetwork
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

__all__ = ['SegmentationEngine', 'Segmentation', 'EngineError', 'resolve_device',
           'resolve_precision', 'resolve_backend', 'letterbox_geometry', 'upsample_argmax',
           'max_probability',
           'PRECISIONS', 'BACKENDS']

DTYPES = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}
# CUDA graphs are kept per batch size (number of cameras in one call); beyond this many
# distinct sizes the network runs eagerly rather than holding more graph memory.
_MAX_GRAPHS = 8
_log = logging.getLogger(__name__)


class EngineError(ValueError):
    """Invalid engine settings or input frames; the message says which and why."""


@dataclass
class Segmentation:
    """
    Result for one frame: class-id mask (uint8 H x W), optional bgr8 overlay and probability.

    ``probability`` (with ``infer(..., confidence=True)``): float32, the softmax
    probability of the arg-max class per pixel at the network's output resolution
    (the frame's letterboxed region, h x w smaller than the mask, covering the same
    image); :meth:`confidence` resizes it to the mask's size.
    """

    mask: np.ndarray
    overlay: Optional[np.ndarray] = None
    probability: Optional[np.ndarray] = None

    def confidence(self) -> Optional[np.ndarray]:
        """Return ``probability`` resized (bilinear) to the mask's H x W, or None."""
        if self.probability is None:
            return None
        h, w = self.mask.shape
        if self.probability.shape == (h, w):
            return self.probability
        return cv2.resize(self.probability, (w, h), interpolation=cv2.INTER_LINEAR)


def max_probability(logits: np.ndarray) -> np.ndarray:
    """
    Return the softmax probability of the arg-max class of C x h x w logits (float32 h x w).

    ``1 / sum_c exp(l_c - max_c l)``, the classes summed one plane at a time; one
    logit plane (a binary network) gives ``sigmoid(|l|)``.
    """
    logits = np.asarray(logits, dtype=np.float32)
    if logits.shape[0] == 1:
        return (1.0 / (1.0 + np.exp(-np.abs(logits[0])))).astype(np.float32)
    best = logits.max(0)
    total = np.zeros_like(best)
    for c in range(logits.shape[0]):
        total += np.exp(logits[c] - best)
    return np.reciprocal(total, out=total)


def resolve_device(device: str) -> torch.device:
    """Map ``auto``/``cpu``/``cuda``/``cuda:N`` to a usable torch.device or raise EngineError."""
    d = str(device).strip().lower()
    if d == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if d == 'cpu':
        return torch.device('cpu')
    if d == 'cuda' or d.startswith('cuda:'):
        if not torch.cuda.is_available():
            raise EngineError(f'device {device!r} requested but CUDA is not available to '
                              f'this torch ({torch.__version__}); use device "cpu" or "auto".')
        dev = torch.device(d)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise EngineError(f'device {device!r}: only {torch.cuda.device_count()} CUDA '
                              'device(s) present.')
        return dev
    raise EngineError(f'device {device!r} is not one of auto, cpu, cuda, cuda:N')


def resolve_precision(precision: str, device: torch.device) -> str:
    """Map ``auto`` to fp16 on CUDA and fp32 on CPU; refuse fp16 on CPU."""
    p = str(precision).strip().lower()
    if p not in PRECISIONS:
        raise EngineError(f'precision {precision!r} is not one of {", ".join(PRECISIONS)}')
    if p == 'auto':
        return 'fp16' if device.type == 'cuda' else 'fp32'
    if p == 'fp16' and device.type == 'cpu':
        raise EngineError('precision "fp16" is not supported on the CPU; use fp32 or bf16.')
    return p


def resolve_backend(backend: str, device: torch.device, precision: str,
                    network: nn.Module) -> str:
    """
    Map ``auto`` to ``onnxruntime`` or ``torch``; refuse combinations that cannot run.

    ``auto`` is ``onnxruntime`` for an EUnet on the CPU in fp32 when onnx and
    onnxruntime import, else ``torch`` (so CUDA machines always run CUDA PyTorch).
    """
    b = str(backend).strip().lower()
    if b not in BACKENDS:
        raise EngineError(f'backend {backend!r} is not one of {", ".join(BACKENDS)}')
    if b == 'auto':
        if (device.type == 'cpu' and precision == 'fp32' and isinstance(network, EUnet)
                and onnxruntime_available()[0]):
            return 'onnxruntime'
        return 'torch'
    if b == 'onnxruntime':
        if device.type != 'cpu':
            raise EngineError(f'backend "onnxruntime" runs on the CPU only, but the device is '
                              f'{device}; use backend "torch" or "auto" (CUDA PyTorch).')
        if precision != 'fp32':
            raise EngineError(f'backend "onnxruntime" runs fp32 only, got precision '
                              f'{precision!r}; use precision "fp32" or "auto".')
        ok, why = onnxruntime_available()
        if not ok:
            raise EngineError(f'backend "onnxruntime" needs the onnx and onnxruntime packages '
                              f'({why}); pip install onnx onnxruntime, or use backend '
                              '"torch".')
    return b


def padded_size(size: Sequence[int], network: nn.Module) -> Tuple[int, int]:
    """Round (H, W) up to the multiple the network pads its input to (1 when it has none)."""
    multiple = int(getattr(getattr(network, 'config', None), 'multiple', 1))
    return (-(-int(size[0]) // multiple) * multiple, -(-int(size[1]) // multiple) * multiple)


def wants_channels_last(device: torch.device, backend: str, precision: str,
                        network: nn.Module) -> bool:
    """
    Return whether the network runs in channels_last memory format.

    cuDNN's fast layout on CUDA; on the CPU oneDNN runs EUnet's depthwise convolutions
    1.2-1.8x faster in it in fp32 (docs/performance_history_cpu.md).
    """
    return device.type == 'cuda' or (
        backend == 'torch' and precision == 'fp32' and isinstance(network, EUnet))


def capture_cuda_graph(model: nn.Module, x: torch.Tensor, warmup: int = 2) -> Tuple[
        'torch.cuda.CUDAGraph', torch.Tensor, torch.Tensor]:
    """
    Capture ``model(x)`` in a CUDA graph on ``x``'s device.

    :returns: ``(graph, static_x, static_y)``: copy a new input into ``static_x``,
        ``graph.replay()``, read ``static_y``.
    """
    with torch.cuda.device(x.device):
        static_x = x.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):  # cuDNN picks its algorithms outside the capture
                model(static_x)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_y = model(static_x)
    return graph, static_x, static_y


def letterbox_geometry(frame_hw: Tuple[int, int],
                       net_hw: Tuple[int, int]) -> Tuple[int, int]:
    """Size (h, w) a frame is resized to so it fits ``net_hw`` keeping its aspect ratio."""
    h, w = frame_hw
    nh, nw = net_hw
    s = min(nh / h, nw / w)
    return max(1, min(nh, int(round(h * s)))), max(1, min(nw, int(round(w * s))))


def channel_argmax(logits: torch.Tensor) -> torch.Tensor:
    """
    Return the uint8 argmax over dim 0 of C x H x W logits (first maximum wins).

    On the CPU a running maximum over the classes (:func:`argmax_np`) is several
    times faster than ``argmax(0)``, whose strided reduction is slow; CUDA uses
    ``argmax``.
    """
    if logits.device.type != 'cpu':
        return logits.argmax(0).to(torch.uint8)
    return torch.from_numpy(argmax_np(logits.float().numpy()))


def argmax_np(logits: np.ndarray) -> np.ndarray:
    """
    Return the uint8 argmax over axis 0 of C x ... float logits (first maximum wins).

    A running maximum over the classes in numpy: 1.5-2x faster than the same loop in
    torch ops on one CPU thread, and far faster than ``argmax(0)``.
    """
    best = logits[0].copy()
    idx = np.zeros(logits.shape[1:], np.uint8)
    for c in range(1, logits.shape[0]):
        np.putmask(idx, logits[c] > best, c)
        np.maximum(best, logits[c], out=best)
    return idx


@functools.lru_cache(maxsize=64)
def _bilinear_taps(n_in: int, n_out: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices i0, i1 and weights of i1 of torch's bilinear resize (align_corners=False)."""
    scale = np.float32(n_in / n_out)
    s = (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    s = np.maximum(s, np.float32(0.0))
    i0 = np.minimum(s.astype(np.intp), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = (s - i0.astype(np.float32)).astype(np.float32)
    for a in (i0, i1, lam):
        a.setflags(write=False)
    return i0, i1, lam


def _class_rows(logits: np.ndarray) -> Tuple[np.ndarray, int]:
    """
    Return a C x N view of C x h x w logits in which pixel (y, x) is at ``y * row + x``.

    No copy when each row is contiguous, as in the engine's crop of the padded
    network output (its planes keep the padded row count, so ``reshape`` would copy).
    """
    c, lh, lw = logits.shape
    item = logits.itemsize
    if logits.strides[2] != item or logits.strides[1] % item or logits.strides[0] % item:
        logits = np.ascontiguousarray(logits)
    row = logits.strides[1] // item
    flat = np.lib.stride_tricks.as_strided(logits, shape=(c, (lh - 1) * row + lw),
                                           strides=(logits.strides[0], item), writeable=False)
    return flat, row


# Above this fraction of output pixels near a class boundary, upsample_argmax
# resizes all classes densely instead (noise-like logits of an untrained network).
_SPARSE_LIMIT = 0.08


def upsample_argmax(logits: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """
    Return the argmax of C x h x w logits resized bilinearly to ``size`` (H, W), uint8.

    The same mask as ``F.interpolate(..., mode='bilinear', align_corners=False)``
    followed by the argmax, computed sparsely: bilinear interpolation mixes the same
    four source pixels with the same weights for every class, so where those four
    pixels share their argmax class c, c wins the interpolated logits too and the
    pixel takes c without interpolating. Only pixels whose four source pixels
    disagree (near class boundaries, a few percent of a real frame) are
    interpolated, class by class. Beyond :data:`_SPARSE_LIMIT` of such pixels it
    falls back to resizing every class plane (cv2, the same sampling as torch).
    """
    c, lh, lw = logits.shape
    h, w = int(size[0]), int(size[1])
    y0, y1, wy = _bilinear_taps(lh, h)
    x0, x1, wx = _bilinear_taps(lw, w)
    low = argmax_np(logits)
    if c < 255:
        # a cell (i, j) is uniform when its corners (i..i+1, j..j+1), clamped, agree
        p = np.pad(low, ((0, 1), (0, 1)), mode='edge')
        same = ((p[:-1, :-1] == p[1:, :-1]) & (p[:-1, :-1] == p[:-1, 1:])
                & (p[:-1, :-1] == p[1:, 1:]))
        cell = np.where(same, low, np.uint8(255))
        out = cell.take(y0, axis=0).take(x0, axis=1)
        # cv2.findNonZero lists them ~10x faster than np.nonzero (same raster order)
        pts = cv2.findNonZero(cv2.compare(out, 255, cv2.CMP_EQ))
        pts = np.empty((0, 2), np.int32) if pts is None else pts.reshape(-1, 2)
        ys, xs = pts[:, 1], pts[:, 0]
        if len(ys) <= _SPARSE_LIMIT * h * w:
            if len(ys):
                fy, fx = wy[ys], wx[xs]
                # flat indices and take(): 3x faster than logits[:, rows, cols]
                flat, row = _class_rows(logits)
                a, b, left, right = y0[ys] * row, y1[ys] * row, x0[xs], x1[xs]
                top = flat.take(a + left, axis=1) * (1 - fx) + flat.take(a + right, axis=1) * fx
                bottom = (flat.take(b + left, axis=1) * (1 - fx)
                          + flat.take(b + right, axis=1) * fx)
                out[ys, xs] = argmax_np(top * (1 - fy) + bottom * fy)
            return out
    planes = np.stack([cv2.resize(np.ascontiguousarray(logits[k], dtype=np.float32), (w, h),
                                  interpolation=cv2.INTER_LINEAR) for k in range(c)])
    return argmax_np(planes)


def palette_lut(palette_bgr: np.ndarray) -> np.ndarray:
    """Return a 256 x 1 x 3 uint8 lookup table (class id -> bgr colour) for cv2.LUT."""
    lut = np.zeros((256, 1, 3), np.uint8)
    lut[:len(palette_bgr), 0] = palette_bgr
    return lut


def blend_overlay(frame: np.ndarray, mask: np.ndarray, lut: np.ndarray, color_order: str,
                  alpha: float) -> np.ndarray:
    """
    Blend class colours over a uint8 frame on the host; background (class 0) stays as is.

    The CPU path of overlays, all in OpenCV's uint8 kernels (LUT, saturating blend,
    masked copy): about 2 ms at 1280x720 where the float torch arithmetic took 17 ms,
    with the same rounding.

    :param lut: see :func:`palette_lut`.
    :returns: bgr8 H x W x 3.
    """
    img = np.ascontiguousarray(frame if color_order == 'bgr' else frame[..., ::-1])
    colour = cv2.LUT(cv2.merge([mask, mask, mask]), lut)
    out = cv2.addWeighted(img, 1.0 - alpha, colour, alpha, 0.0)
    cv2.copyTo(img, (mask == 0).view(np.uint8), out)
    return out


def _resize_uint8(frame: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """
    Resize a uint8 H x W x 3 CPU frame to 1 x 3 x ``size`` uint8, as the float path does.

    The same bilinear filter (antialiased when shrinking) on the uint8 image, where
    torch has SIMD kernels for the channels-last layout a numpy frame already has:
    about 10x faster than converting the full frame to float first, with results
    that differ by the one rounding to uint8 (at most 1 grey level).
    """
    x = frame.permute(2, 0, 1).unsqueeze(0)
    h, w = frame.shape[:2]
    if (h, w) == tuple(size):
        return x
    try:
        return F.interpolate(x, size=size, mode='bilinear', align_corners=False,
                             antialias=size[0] < h or size[1] < w)
    except (RuntimeError, NotImplementedError):  # an old torch without the uint8 kernels
        y = F.interpolate(x.float(), size=size, mode='bilinear', align_corners=False,
                          antialias=size[0] < h or size[1] < w)
        return y.round_().clamp_(0, 255).to(torch.uint8)


@contextlib.contextmanager
def _torch_threads(n: Optional[int]):
    """
    Run the block with ``n`` torch threads (None: unchanged), then restore the count.

    The engine's own CPU tensor work (letterbox, normalisation) is small: with more
    than one OpenMP thread every op ends in a barrier that waits for the other
    thread to be scheduled, and on a CPU shared with other processes each such wait
    costs milliseconds (docs/performance_history_cpu.md: 55 ms vs 12 ms per frame).
    torch's thread count is process-wide, so other threads of the process running
    torch at the same time see the change too.
    """
    old = torch.get_num_threads()
    if n is None or n == old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


class SegmentationEngine:
    """
    EUnet inference on one device with a fixed precision.

    :param checkpoint: a path or a loaded :class:`~eunet_ros.core.checkpoint.Checkpoint`.
    :param device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    :param precision: ``auto`` (fp16 on CUDA, fp32 on CPU), ``fp32``, ``fp16``, ``bf16``.
    :param input_size: override the checkpoint's network input size (H, W).
    :param model: use this module instead of building the checkpoint's EUnet (tests,
        other architectures); it must map N x 3 x H x W to N x C x H x W logits.
    :param warmup: run the network once at construction so the first frame is not slow.
    :param num_threads: CPU threads for torch and ONNX Runtime (None: their default).
    :param cuda_graphs: on CUDA, capture the network in a CUDA graph per batch size and
        replay it. The letterbox fixes the input shape, so one capture serves every
        frame; replaying saves the launch cost of the network's many small kernels.
        If a capture fails the engine says why (``graphs_error``) and runs eagerly.
        Ignored on the CPU.
    :param backend: ``auto``, ``torch`` or ``onnxruntime`` (see :func:`resolve_backend`).
    :param cache_dir: ONNX cache folder of the ``onnxruntime`` backend (None: the
        default, see :mod:`eunet_ros.core.ort_backend`; ``''``: no cache).

    :ivar backend: the backend that runs the network (``torch`` or ``onnxruntime``).
    :ivar backend_note: how it was set up (ONNX cache file, why ``auto`` fell back).

    """

    def __init__(self, checkpoint: Union[str, Path, Checkpoint], *, device: str = 'auto',
                 precision: str = 'auto', input_size: Optional[Sequence[int]] = None,
                 model: Optional[nn.Module] = None, warmup: bool = True,
                 num_threads: Optional[int] = None, cuda_graphs: bool = True,
                 backend: str = 'auto', cache_dir: Union[str, Path, None] = None) -> None:
        if not isinstance(checkpoint, Checkpoint):
            checkpoint = load_checkpoint(checkpoint)
        self.checkpoint = checkpoint
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.dtype = DTYPES[self.precision]
        if num_threads:
            torch.set_num_threads(int(num_threads))
        size = input_size if input_size is not None else checkpoint.input_size
        if len(size) != 2 or not all(side_ok(int(v)) for v in size):
            raise EngineError(f'input_size must be (H, W) with {SIZE_RANGE}, got {size}')
        self.input_size = (int(size[0]), int(size[1]))
        net = model if model is not None else checkpoint.build_model()
        self.backend = resolve_backend(backend, self.device, self.precision, net)
        self.backend_note = ''
        self.model = net.eval().to(self.device)
        # Allocate the batch at the network's padded size so the model never pads.
        self._padded = padded_size(self.input_size, self.model)
        self._ort = None
        if self.backend == 'onnxruntime':
            try:
                self._ort = OrtNetwork(self.model, self._padded, num_threads=num_threads,
                                       cache_dir=cache_dir)
                self.backend_note = self._ort.note
            except OrtError as e:
                if str(backend).strip().lower() != 'auto':
                    raise EngineError(str(e)) from None
                self.backend = 'torch'
                self.backend_note = f'onnxruntime unusable, fell back to torch: {e}'
                _log.warning(self.backend_note)
        self._channels_last = wants_channels_last(self.device, self.backend, self.precision,
                                                  net)
        if self._channels_last:
            try:
                self.model = self.model.to(memory_format=torch.channels_last)
            except RuntimeError:  # a custom network with parameters that are not 4-D
                self._channels_last = False
        if self.precision != 'fp32':
            self.model = self.model.to(self.dtype)
        self.class_names = list(checkpoint.class_names)
        self.num_classes = len(self.class_names)
        self._binary = self.num_classes == 2 and getattr(
            getattr(self.model, 'config', None), 'num_classes', 2) == 1
        self._net_bgr = checkpoint.color_order == 'bgr'
        self._mean = torch.tensor(checkpoint.mean, device=self.device).view(1, -1, 1, 1) * 255.0
        self._inv_std = 1.0 / (torch.tensor(checkpoint.std, device=self.device)
                               .view(1, -1, 1, 1) * 255.0)
        pal = np.asarray(checkpoint.palette, dtype=np.uint8)
        self.palette_rgb = pal
        self._lut = palette_lut(pal[:, ::-1])
        self._palette_bgr = torch.from_numpy(pal[:, ::-1].copy()).to(self.device)
        self._lock = threading.Lock()
        # CPU: pre- and post-processing on one torch thread (see _torch_threads)
        self._prepost_threads: Optional[int] = 1 if self.device.type == 'cpu' else None
        self._use_graphs = bool(cuda_graphs) and self.device.type == 'cuda'
        self._graphs: Dict[int, Tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}
        self.graphs_error: Optional[str] = None
        if warmup:
            h, w = self.input_size
            self.infer([np.zeros((h, w, 3), np.uint8)], color_order='bgr')

    @property
    def description(self) -> str:
        """One line: checkpoint, device, backend, precision, input size."""
        dev = str(self.device)
        if self.device.type == 'cuda':
            dev += f' ({torch.cuda.get_device_name(self.device)})'
        return (f'{self.checkpoint.name} on {dev} ({self.backend}), {self.precision}, '
                f'input {self.input_size[1]}x{self.input_size[0]}'
                + (', CUDA graphs' if self._use_graphs else ''))

    @staticmethod
    def check_frame(frame: np.ndarray, what: str = 'frame') -> None:
        """Raise EngineError unless ``frame`` is a non-empty uint8 H x W x 3 array."""
        if not isinstance(frame, np.ndarray):
            raise EngineError(f'{what}: expected a numpy array, got {type(frame).__name__}')
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise EngineError(f'{what}: expected uint8 H x W x 3, got {frame.dtype} '
                              f'{tuple(frame.shape)}')
        if frame.shape[0] < 1 or frame.shape[1] < 1:
            raise EngineError(f'{what}: empty image {tuple(frame.shape)}')

    @torch.inference_mode()
    def infer(self, frames: Sequence[np.ndarray], *, color_order: str,
              overlay: Union[bool, Sequence[bool]] = False,
              alpha: float = 0.5,
              confidence: Union[bool, Sequence[bool]] = False) -> List[Segmentation]:
        """
        Segment ``frames`` (each uint8 H x W x 3 in ``color_order``) as one batch.

        :param frames: one frame per camera; resolutions may differ.
        :param color_order: ``'bgr'`` or ``'rgb'``: the channel order of ``frames``.
        :param overlay: compute a bgr8 overlay for all frames (bool) or per frame.
        :param alpha: overlay opacity of the class colours (0..1).
        :param confidence: also return ``probability`` (see :class:`Segmentation`) for all
            frames (bool) or per frame; computed at the network's resolution, so it
            costs a few exponentials per network output pixel, nothing when not asked.

        :returns: one :class:`Segmentation` per frame, masks at each frame's resolution.

        """
        if color_order not in ('bgr', 'rgb'):
            raise EngineError(f'color_order must be "bgr" or "rgb", got {color_order!r}')
        if not 0.0 <= float(alpha) <= 1.0:
            raise EngineError(f'alpha must be within 0..1, got {alpha}')
        if len(frames) == 0:
            return []
        for i, f in enumerate(frames):
            self.check_frame(f, f'frame {i}')
        want = [bool(overlay)] * len(frames) if isinstance(overlay, bool) else list(overlay)
        if len(want) != len(frames):
            raise EngineError('overlay flags must match the number of frames')
        probs = ([bool(confidence)] * len(frames) if isinstance(confidence, bool)
                 else [bool(c) for c in confidence])
        if len(probs) != len(frames):
            raise EngineError('confidence flags must match the number of frames')
        with self._lock:
            results = self._infer(frames, color_order, want, float(alpha), probs)
        return results

    def _infer(self, frames: Sequence[np.ndarray], color_order: str, want: List[bool],
               alpha: float, probs: Optional[List[bool]] = None) -> List[Segmentation]:
        serial = self._prepost_threads
        with _torch_threads(serial):
            batch, uploaded, geoms = self._preprocess(frames, color_order)
        if self._ort is not None:
            logits = self._ort(batch)
        else:
            if self._channels_last:
                batch = batch.contiguous(memory_format=torch.channels_last)
            logits = self._network(batch.to(self.dtype))
        with _torch_threads(serial):
            return self._postprocess(frames, uploaded, geoms, logits, color_order, want, alpha,
                                     probs or [False] * len(frames))

    def _preprocess(self, frames: Sequence[np.ndarray], color_order: str) -> Tuple[
            torch.Tensor, List[torch.Tensor], List[Tuple[int, int, int, int]]]:
        """Upload, letterbox and normalise the frames into one padded float batch."""
        dev = self.device
        nh, nw = self.input_size
        flip = (color_order == 'bgr') != self._net_bgr
        batch = torch.zeros((len(frames), 3) + self._padded, device=dev, dtype=torch.float32)
        uploaded = []
        geoms = []
        for i, f in enumerate(frames):
            t = torch.from_numpy(np.ascontiguousarray(f)).to(dev, non_blocking=True)
            uploaded.append(t)
            h, w = f.shape[:2]
            rh, rw = letterbox_geometry((h, w), (nh, nw))
            if dev.type == 'cpu':
                x = _resize_uint8(t, (rh, rw))
                x = (x.flip(1) if flip else x).float()
            else:
                x = (t.flip(-1) if flip else t).permute(2, 0, 1).unsqueeze(0).float()
                if (rh, rw) != (h, w):
                    x = F.interpolate(x, size=(rh, rw), mode='bilinear', align_corners=False,
                                      antialias=rh < h or rw < w)
            batch[i, :, :rh, :rw] = ((x - self._mean) * self._inv_std)[0]
            geoms.append((h, w, rh, rw))
        return batch, uploaded, geoms

    def _postprocess(self, frames: Sequence[np.ndarray], uploaded: List[torch.Tensor],
                     geoms: List[Tuple[int, int, int, int]], logits: torch.Tensor,
                     color_order: str, want: List[bool], alpha: float,
                     probs: List[bool]) -> List[Segmentation]:
        """Crop, resize and argmax each frame's logits; overlays and probabilities where asked."""
        dev = self.device
        results = []
        for i, (h, w, rh, rw) in enumerate(geoms):
            lg = logits[i:i + 1, :, :rh, :rw].float()
            if dev.type == 'cpu' and not self._binary:
                arr = lg[0].numpy()
                if arr.strides[0] < arr.strides[-1]:   # channels_last logits: class planes
                    arr = np.ascontiguousarray(arr)
                if (rh, rw) != (h, w):
                    mask_np = upsample_argmax(arr, (h, w))
                else:
                    mask_np = argmax_np(arr)
                mask = torch.from_numpy(mask_np)
            else:
                if (rh, rw) != (h, w):
                    lg = F.interpolate(lg, size=(h, w), mode='bilinear', align_corners=False)
                if self._binary:
                    mask = (lg[0, 0] > 0).to(torch.uint8)
                else:
                    mask = channel_argmax(lg[0])
                mask_np = mask.cpu().numpy()
            ov = None
            if want[i]:
                if dev.type == 'cpu':
                    ov = blend_overlay(frames[i], mask_np, self._lut, color_order,
                                       alpha)
                else:
                    ov = self._overlay(uploaded[i], mask, color_order, alpha).cpu().numpy()
            prob = None
            if probs[i]:
                low = logits[i, :, :rh, :rw].float()
                if dev.type == 'cpu':
                    prob = max_probability(low.numpy())
                elif low.shape[0] == 1:
                    prob = torch.sigmoid(low[0].abs()).cpu().numpy()
                else:
                    prob = torch.softmax(low, 0).amax(0).cpu().numpy()
            results.append(Segmentation(mask=mask_np, overlay=ov, probability=prob))
        return results

    def _network(self, x: torch.Tensor) -> torch.Tensor:
        """Run the network on the padded batch: a CUDA graph replay where possible."""
        if not self._use_graphs:
            return self.model(x)
        n = int(x.shape[0])
        entry = self._graphs.get(n)
        if entry is None:
            if len(self._graphs) >= _MAX_GRAPHS:
                return self.model(x)
            try:
                entry = capture_cuda_graph(self.model, x)
            except RuntimeError as e:
                self._use_graphs = False
                self._graphs.clear()
                self.graphs_error = f'{type(e).__name__}: {str(e).strip().splitlines()[0]}'
                _log.warning('CUDA graph capture failed (%s); running the network eagerly',
                             self.graphs_error)
                return self.model(x)
            self._graphs[n] = entry
        graph, static_x, static_y = entry
        static_x.copy_(x)
        graph.replay()
        return static_y

    def _overlay(self, frame: torch.Tensor, mask: torch.Tensor, color_order: str,
                 alpha: float) -> torch.Tensor:
        img = frame if color_order == 'bgr' else frame.flip(-1)
        colour = self._palette_bgr[mask.long()]
        blend = img.float() * (1.0 - alpha) + colour.float() * alpha
        keep = (mask == 0).unsqueeze(-1)
        return torch.where(keep, img, blend.round().clamp(0, 255).to(torch.uint8))

    def overlay(self, frame: np.ndarray, mask: np.ndarray, *, color_order: str,
                alpha: float = 0.5) -> np.ndarray:
        """Blend the class colours of ``mask`` over ``frame``; returns bgr8."""
        self.check_frame(frame)
        if mask.shape != frame.shape[:2]:
            raise EngineError(f'mask {mask.shape} does not match frame {frame.shape[:2]}')
        if self.device.type == 'cpu':
            return blend_overlay(frame, mask, self._lut, color_order, float(alpha))
        with torch.inference_mode():
            f = torch.from_numpy(np.ascontiguousarray(frame)).to(self.device)
            m = torch.from_numpy(np.ascontiguousarray(mask)).to(self.device)
            return self._overlay(f, m, color_order, float(alpha)).cpu().numpy()
