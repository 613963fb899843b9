# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""Argument types shared by the command-line tools of eunet_ros and training/."""

from __future__ import annotations

import argparse
import math
from typing import Any, Callable

__all__ = ['at_least']


def at_least(minimum: float, kind: type = int,
             inclusive: bool = True) -> Callable[[str], Any]:
    """
    Return an argparse type: a finite ``kind`` (int or float) of at least ``minimum``.

    :param minimum: the bound.
    :param kind: ``int`` or ``float``.
    :param inclusive: False asks for more than ``minimum`` (e.g. a positive float).
    :returns: the parser; bad text is an ``argparse.ArgumentTypeError`` such as
        ``must be >= 1, got 0``.
    """
    noun = 'an integer' if kind is int else 'a number'
    op = '>=' if inclusive else '>'

    def parse(text: str) -> Any:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{text!r} is not {noun}') from None
        if not math.isfinite(v) or v < minimum or (not inclusive and v == minimum):
            raise argparse.ArgumentTypeError(f'must be {op} {minimum}, got {text}')
        return v
    return parse
