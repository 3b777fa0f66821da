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


class BusyMeter:
    """The fraction of wall-clock time a stage spent working over the last ``window_s`` seconds. Thread-safe.

    ``add(t_start, t_end)``: one busy interval (seconds on one monotonic clock); ``fraction(now)``: 0..1.
    """

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._spans: collections.deque[tuple[float, float]] = collections.deque()
        self._lock = threading.Lock()

    def add(self, t_start: float, t_end: float) -> None:
        with self._lock:
            self._spans.append((t_start, t_end))
            while self._spans and self._spans[0][1] < t_end - self.window_s:
                self._spans.popleft()

    def fraction(self, now_s: float | None = None) -> float:
        now_s = time.monotonic() if now_s is None else now_s
        t0 = now_s - self.window_s
        with self._lock:
            spans = list(self._spans)
        if not spans:
            return 0.0
        t0 = max(t0, spans[0][0])  # a stage started less than window_s ago: over its own time
        busy = sum(max(0.0, min(b, now_s) - max(a, t0)) for a, b in spans)
        return min(1.0, busy / max(now_s - t0, 1e-9))


def limiting_stage(rate_hz: float, source_fps: float, detect_ms: float, reconstruct_ms: float,
                   lag_s: float | None) -> str:
    """Which stage limits the rate of 3D results: "decode" (a paced replay's slowest reader is more than
    three frame periods behind the frames' due times: decoding does not keep up), "detect" or "3D" (results
    come at under 90% of the source's frame rate: the processing stage cannot take every set; the larger of
    its two parts), else "source" (every frame set is processed). rate_hz: 3D results per second;
    source_fps: the source's frame rate; detect_ms, reconstruct_ms: median stage durations; lag_s: the
    replay's lag, s (None: not a paced replay)."""
    if lag_s is not None and lag_s > 3.0 / source_fps:
        return "decode"
    if rate_hz < 0.9 * source_fps:
        return "3D" if reconstruct_ms > detect_ms else "detect"
    return "source"
