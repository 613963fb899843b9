# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
The package's vocabularies and bounds, defined once; torch-free and ROS-free.

The engine, the node's parameters, the benchmarks, the renderer and the training
CLIs all check against these, so a new precision or backend, or a different size
bound, is one edit here. :class:`ConfigError` is the one error type for a value a
user gave (a node parameter, a command-line flag, a config file key).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

__all__ = ['PRECISIONS', 'BACKENDS', 'MIN_SIDE', 'MAX_SIDE', 'SIZE_RANGE', 'MAX_FRAME_SIDE',
           'ConfigError',
           'side_ok', 'check_choice']

# Network precision: auto picks fp32 on the CPU and fp16 on CUDA.
PRECISIONS = ('auto', 'fp32', 'fp16', 'bf16')
# What runs the network: auto picks ONNX Runtime for an EUnet on the CPU when installed.
BACKENDS = ('auto', 'torch', 'onnxruntime')
# Bounds of an image or network-input side, in pixels.
MIN_SIDE = 16
MAX_SIDE = 8192
SIZE_RANGE = f'{MIN_SIDE} <= H, W <= {MAX_SIDE}'
# An incoming camera frame with a larger side is refused as absurd (a corrupt header).
MAX_FRAME_SIDE = 16384


class ConfigError(ValueError):
    """
    A value a user gave is invalid; the message names it and says what is allowed.

    ``ConfigError(message)`` for a flag or config key whose name the message already
    carries, ``ConfigError(param, message)`` for a node parameter: the message then
    starts with ``parameter "<param>":``.

    :ivar param: the parameter's name, or None.
    """

    def __init__(self, param_or_message: str, message: Optional[str] = None) -> None:
        if message is None:
            self.param: Optional[str] = None
            super().__init__(param_or_message)
        else:
            self.param = param_or_message
            super().__init__(f'parameter "{param_or_message}": {message}')


def side_ok(v: Any) -> bool:
    """Return whether ``v`` is an integer image side within ``MIN_SIDE .. MAX_SIDE``."""
    return isinstance(v, int) and not isinstance(v, bool) and MIN_SIDE <= v <= MAX_SIDE


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """
    Return ``value`` stripped if it is one of ``choices``, else raise :class:`ConfigError`.

    :param name: the parameter, named in the message.
    """
    v = str(value).strip()
    if v not in choices:
        raise ConfigError(name, f'{value!r} is not allowed; use one of {", ".join(choices)}.')
    return v
