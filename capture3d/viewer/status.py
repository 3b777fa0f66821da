"""Live figures: the text of the status area (pure) and a GUI-thread heartbeat that measures stalls.

A stall is the time by which a 10 ms QTimer fires late: if the GUI thread is busy (painting, decoding,
waiting) for 60 ms, the next heartbeat comes about 50 ms late.
"""
from __future__ import annotations

import time
from collections import deque

from PyQt6 import QtCore

from capture3d.runtime.pipeline_stats import KEYFRAME_FIELDS, keyframes_text

_STAGE_NAMES = {"capture": "capture", "sync": "sync", "detect": "2D detect", "track": "track", "3d": "3D",
                "filter": "filter", "record": "record"}


def format_stats(stats: dict, viewer: dict | None = None) -> str:
    """Human-readable live figures, one per line.

    stats: figures by name: ``LiveStats.shown()`` of a live snapshot (fps_<stage>, latency_ms_p50/p95,
    drops, reproj_err_px, people, recording, ...) or a replay's per-frame figures; other keys are shown as
    they are. viewer: the viewer's own figures
    (redraw_fps, max_stall_ms).
    """
    lines = []
    fps = [(k[4:], v) for k, v in stats.items() if k.startswith("fps_")]
    if fps:
        lines.append("frame sets/s:")
        lines += [f"  {_STAGE_NAMES.get(k, k):<10}{float(v):7.1f}" for k, v in fps]
    if "latency_ms_p50" in stats:
        p95 = stats.get("latency_ms_p95")
        lat = f"{float(stats['latency_ms_p50']):.1f} ms"
        lines.append("capture→3D:  " + lat + (f" (p95 {float(p95):.1f})" if p95 is not None else ""))
    if "drops" in stats:
        lines.append(f"drops:       {int(stats['drops'])}")
    if "reproj_err_px" in stats:
        lines.append(f"reproj err:  {float(stats['reproj_err_px']):.2f} px")
    if "people" in stats:
        lines.append(f"people:      {int(stats['people'])}")
    if stats.get("recording"):
        lines.append("● recording")
    if "rig_refine" in stats:  # live rig refinement: the last swap, or what it is doing
        swaps = int(stats.get("rig_swaps") or 0)
        lines.append(("rig: REFINED " if swaps else "rig: ") + str(stats["rig_refine"]))
    if "keyframe_every" in stats:  # keyframes + tracking (capture3d.detect.keyframes)
        lines.append(keyframes_text(stats))
    known = {"latency_ms_p50", "latency_ms_p95", "drops", "reproj_err_px", "people", "recording", "rig_refine",
             "rig_swaps", *KEYFRAME_FIELDS}
    for k, v in stats.items():
        if k not in known and not k.startswith("fps_"):
            lines.append(f"{k}: {v:.3g}" if isinstance(v, float) else f"{k}: {v}")
    if viewer:
        lines.append("viewer:")
        if "redraw_fps" in viewer:
            lines.append(f"  redraw    {viewer['redraw_fps']:7.1f} fps")
        if "max_stall_ms" in viewer:
            lines.append(f"  GUI stall {viewer['max_stall_ms']:7.1f} ms max")
    return "\n".join(lines)


class StallMonitor(QtCore.QObject):
    """Heartbeat QTimer on the GUI thread; records how late each beat fires.

    max_stall_ms: the largest lateness since start (or reset); recent_max_stall_ms(): over the last
    ``window_s`` seconds.
    """

    def __init__(self, interval_ms: int = 10, window_s: float = 2.0, parent=None) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self.window_s = window_s
        self._timer = QtCore.QTimer(self)
        self._timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._beat)
        self._last = None
        self._recent: deque[tuple[float, float]] = deque()
        self.max_stall_ms = 0.0
        self.beats = 0

    def start(self) -> None:
        self.reset()
        self._timer.start(self.interval_ms)

    def stop(self) -> None:
        self._timer.stop()

    def reset(self) -> None:
        self._last = time.perf_counter()
        self._recent.clear()
        self.max_stall_ms = 0.0
        self.beats = 0

    def _beat(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            stall = max(0.0, (now - self._last) * 1e3 - self.interval_ms)
            self.max_stall_ms = max(self.max_stall_ms, stall)
            self._recent.append((now, stall))
        while self._recent and now - self._recent[0][0] > self.window_s:
            self._recent.popleft()
        self._last = now
        self.beats += 1

    def recent_max_stall_ms(self) -> float:
        return max((s for _, s in self._recent), default=0.0)


class RateMeter:
    """Events per second over a sliding window (e.g. redraws)."""

    def __init__(self, window_s: float = 1.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()

    def tick(self, now: float | None = None) -> None:
        now = time.perf_counter() if now is None else now
        self._times.append(now)
        while now - self._times[0] > self.window_s:
            self._times.popleft()

    def rate(self, now: float | None = None) -> float:
        now = time.perf_counter() if now is None else now
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()
        if len(self._times) < 2:
            return 0.0
        return (len(self._times) - 1) / max(self._times[-1] - self._times[0], 1e-9)
