# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Per-camera counters, rates and latency percentiles for diagnostics; ROS-free.

All times are seconds; latencies are stored in seconds and reported in
milliseconds. Every class here is thread-safe: the subscription callbacks, the
inference thread and the diagnostics timer touch the same counters.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from typing import Deque, Dict, Hashable, Optional, Tuple

import numpy as np

__all__ = ['LatencyWindow', 'CameraStats', 'LogThrottle', 'percentiles']


def percentiles(values, qs=(50.0, 99.0)) -> Tuple[float, ...]:
    """Return the given percentiles of ``values`` (NaN for each when empty)."""
    if len(values) == 0:
        return tuple(math.nan for _ in qs)
    return tuple(float(v) for v in np.percentile(np.asarray(values, dtype=np.float64), qs))


class LatencyWindow:
    """
    Latency samples of the last ``window_s`` seconds (at most ``max_samples``).

    :param window_s: how far back samples count.
    :param max_samples: memory bound; the oldest samples go first.

    """

    def __init__(self, window_s: float = 10.0, max_samples: int = 2000) -> None:
        self.window_s = float(window_s)
        self._samples: Deque[Tuple[float, float]] = collections.deque(maxlen=int(max_samples))
        self._lock = threading.Lock()

    def add(self, value_s: float, now: Optional[float] = None) -> None:
        """Record one latency (seconds) observed at monotonic time ``now``."""
        if not math.isfinite(value_s):
            return
        t = time.monotonic() if now is None else now
        with self._lock:
            self._samples.append((t, float(value_s)))

    def _recent(self, now: float):
        cut = now - self.window_s
        while self._samples and self._samples[0][0] < cut:
            self._samples.popleft()
        return [v for _, v in self._samples]

    def summary_ms(self, now: Optional[float] = None) -> Tuple[float, float, int]:
        """Return ``(p50_ms, p99_ms, n)`` over the window (NaN when empty)."""
        t = time.monotonic() if now is None else now
        with self._lock:
            vals = self._recent(t)
        p50, p99 = percentiles(vals)
        return p50 * 1e3, p99 * 1e3, len(vals)


_COUNTERS = ('received', 'processed', 'dropped', 'rejected', 'failed', 'paused')


class CameraStats:
    """
    Counters, rates and latencies of one camera.

    Counters (totals since start): ``received`` frames that arrived, ``processed``
    frames whose mask was published, ``dropped`` frames replaced by a newer one
    before inference, ``rejected`` invalid frames, ``failed`` frames lost to an
    inference error, ``paused`` frames that arrived while inference was disabled.

    """

    def __init__(self, window_s: float = 10.0) -> None:
        self._lock = threading.Lock()
        self._totals: Dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self._last_totals = dict(self._totals)
        self._last_t = time.monotonic()
        self.stamp_latency = LatencyWindow(window_s)
        self.arrival_latency = LatencyWindow(window_s)
        self.last_error = ''
        self.last_frame = ''  # e.g. "640x480 bgr8"

    def count(self, what: str, n: int = 1) -> None:
        """Add ``n`` to counter ``what`` (one of received, processed, dropped, ...)."""
        with self._lock:
            self._totals[what] += n

    def error(self, message: str) -> None:
        """Remember the latest problem (shown in diagnostics)."""
        with self._lock:
            self.last_error = message

    def totals(self) -> Dict[str, int]:
        """Return a copy of the counters."""
        with self._lock:
            return dict(self._totals)

    def snapshot(self, now: Optional[float] = None) -> Dict[str, float]:
        """
        Return totals, per-period deltas and rates since the previous snapshot, latencies.

        Keys: every counter (total), ``<counter>_period`` (since the last snapshot),
        ``input_rate_hz``, ``output_rate_hz``, ``period_s``, ``stamp_p50_ms``,
        ``stamp_p99_ms``, ``arrival_p50_ms``, ``arrival_p99_ms``, ``latency_samples``.
        """
        t = time.monotonic() if now is None else now
        with self._lock:
            totals = dict(self._totals)
            period = max(t - self._last_t, 1e-9)
            deltas = {k: totals[k] - self._last_totals[k] for k in _COUNTERS}
            self._last_totals = totals
            self._last_t = t
        out: Dict[str, float] = dict(totals)
        out.update({f'{k}_period': v for k, v in deltas.items()})
        out['period_s'] = period
        out['input_rate_hz'] = deltas['received'] / period
        out['output_rate_hz'] = deltas['processed'] / period
        s50, s99, _ = self.stamp_latency.summary_ms(t)
        a50, a99, n = self.arrival_latency.summary_ms(t)
        out.update(stamp_p50_ms=s50, stamp_p99_ms=s99, arrival_p50_ms=a50,
                   arrival_p99_ms=a99, latency_samples=n)
        return out


class LogThrottle:
    """
    At most one log line per key and period; counts what it held back.

    :param period_s: minimum seconds between two lines with the same key.

    """

    def __init__(self, period_s: float = 5.0) -> None:
        self.period_s = float(period_s)
        self._last: Dict[Hashable, float] = {}
        self._held: Dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def allow(self, key: Hashable, now: Optional[float] = None) -> Optional[int]:
        """
        Decide whether to log now.

        :returns: None to stay quiet, else the number of lines held back since the
            last one that was allowed (0 the first time).
        """
        t = time.monotonic() if now is None else now
        with self._lock:
            last = self._last.get(key)
            if last is not None and t - last < self.period_s:
                self._held[key] = self._held.get(key, 0) + 1
                return None
            self._last[key] = t
            return self._held.pop(key, 0)
