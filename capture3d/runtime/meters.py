"""Thread-safe meters for the pipeline's live figures: latency percentiles and event rates.

``LatencyMeter``: recent durations -> p50 / p95 in ms. ``RateMeter``: events per second over a sliding
window plus a total count. Both are cheap to update from a worker thread and to read from another.
"""
from __future__ import annotations

import collections
import threading
import time

import numpy as np


class LatencyMeter:
    """Recent durations (ms) -> p50 / p95 over the last ``window`` samples. Thread-safe."""

    def __init__(self, window: int = 2000) -> None:
        self._ms: collections.deque[float] = collections.deque(maxlen=window)
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self._ms.append(1000.0 * seconds)

    def percentiles(self) -> tuple[float, float]:
        with self._lock:
            ms = np.array(self._ms, dtype=float)
        if not len(ms):
            return float("nan"), float("nan")
        p50, p95 = np.percentile(ms, [50, 95])
        return float(p50), float(p95)


class RateMeter:
    """Events per second over the last ``window_s`` seconds, plus a total count. Thread-safe."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self.count = 0
        self._times: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def tick(self, now_s: float | None = None) -> None:
        now_s = time.monotonic() if now_s is None else now_s
        with self._lock:
            self.count += 1
            self._times.append(now_s)
            while self._times and self._times[0] < now_s - self.window_s:
                self._times.popleft()

    def rate(self, now_s: float | None = None) -> float:
        now_s = time.monotonic() if now_s is None else now_s
        with self._lock:
            times = list(self._times)
        recent = [t for t in times if t >= now_s - self.window_s]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-9)
