# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Latest-frame-per-camera slots: never a queue.

Each camera has one slot. A frame that arrives while the slot is full replaces the
waiting one (the caller counts that as a dropped frame). The inference thread
takes the frames of all cameras that wait at that moment, up to a batch size, so
frames from several cameras go through the network together. Cameras are served
in the order they started waiting, so a fast camera never starves a slow one.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any, Dict, Iterable, List, Optional, Tuple

__all__ = ['LatestFrameSlots']


class LatestFrameSlots:
    """
    One waiting item per name; the newest wins.

    :param names: the slot names (cameras); items for other names are refused.

    """

    def __init__(self, names: Iterable[str]) -> None:
        self._names = tuple(names)
        if len(set(self._names)) != len(self._names):
            raise ValueError(f'slot names must be unique, got {list(self._names)}')
        self._items: Dict[str, Any] = {}
        self._since: Dict[str, int] = {}  # when the slot became full (sequence number)
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._closed = False

    def put(self, name: str, item: Any) -> bool:
        """
        Store ``item`` as the newest of ``name``.

        :returns: True when it replaced an item that was still waiting (a dropped frame).
        :raises KeyError: ``name`` is not a slot.
        """
        if name not in self._names:
            raise KeyError(f'no slot named {name!r}; slots: {list(self._names)}')
        with self._cond:
            replaced = name in self._items
            self._items[name] = item
            if not replaced:
                self._since[name] = next(self._seq)
            self._cond.notify()
            return replaced

    def take(self, max_items: int, timeout: Optional[float] = None) -> List[Tuple[str, Any]]:
        """
        Wait until at least one slot is full, then empty up to ``max_items`` slots.

        :param max_items: the batch size limit (>= 1).
        :param timeout: seconds to wait; None waits until an item comes or :meth:`close`.
        :returns: ``[(name, item), ...]`` in the order the slots started waiting;
            empty on timeout or once closed.
        """
        if max_items < 1:
            raise ValueError(f'max_items must be >= 1, got {max_items}')
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._items and not self._closed:
                if deadline is None:
                    self._cond.wait()
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return []
                    self._cond.wait(left)
            if self._closed:
                return []
            order = sorted(self._items, key=self._since.__getitem__)[:max_items]
            out = [(n, self._items.pop(n)) for n in order]
            for n in order:
                del self._since[n]
            return out

    def pending(self) -> int:
        """Return how many slots hold a waiting item."""
        with self._cond:
            return len(self._items)

    def clear(self) -> List[Tuple[str, Any]]:
        """Empty every slot; return what was waiting."""
        with self._cond:
            out = list(self._items.items())
            self._items.clear()
            self._since.clear()
            return out

    def close(self) -> None:
        """Wake every waiter; :meth:`take` returns empty from now on."""
        with self._cond:
            self._closed = True
            self._items.clear()
            self._since.clear()
            self._cond.notify_all()
