# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
A node that spins in a background thread: the listening side of tools, demo and tests.

The node benchmark's mask probe, the demo's recorder and the tests' probe all
need the same thing: an rclpy node whose subscriptions are served while the main
thread starts processes, publishes or waits. :class:`SpinningNode` creates the
node and an executor (on a given context, or the global one), spins it in a daemon
thread and stops it cleanly; subclasses add their subscriptions after
``super().__init__``.
"""

from __future__ import annotations

import threading
from typing import Any, List, Optional

__all__ = ['SpinningNode']


class SpinningNode:
    """
    An rclpy node spinning in a daemon thread until :meth:`close`.

    :param name: the node's name.
    :param context: the rclpy context (initialised by the caller); None: the global one.
    :param num_threads: 1 for a single-threaded executor, more for a multi-threaded one
        (callbacks of several nodes, or a service call from a callback).
    :ivar node: the node; create subscriptions and clients on it.
    """

    def __init__(self, name: str, *, context: Any = None, num_threads: int = 1) -> None:
        import rclpy
        from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
        self.context = context
        self.node = rclpy.create_node(name, context=context)
        if num_threads > 1:
            self.executor = MultiThreadedExecutor(num_threads=num_threads, context=context)
        else:
            self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.added: List[Any] = []  # nodes given to add()
        self._closed = False
        self._thread = threading.Thread(target=self._spin, name=f'{name}_spin', daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # noqa: B902 - the context was shut down while spinning
            pass

    def add(self, node: Any) -> Any:
        """Spin ``node`` too; it is destroyed by :meth:`close`. Returns ``node``."""
        self.added.append(node)
        self.executor.add_node(node)
        return node

    def close(self, timeout: Optional[float] = 5.0) -> None:
        """Stop spinning and destroy the nodes (a second call does nothing)."""
        if self._closed:
            return
        self._closed = True
        for n in self.added + [self.node]:
            self.executor.remove_node(n)
        self.executor.shutdown(timeout_sec=timeout)
        for n in self.added + [self.node]:
            n.destroy_node()
        self._thread.join(timeout)
