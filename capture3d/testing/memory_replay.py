"""A paced replay of frames held in memory: what a camera rig delivers (no decoding cost), for benchmarks
that separate the live path's own limits from a video replay's decoding. Same interface as a paced
``OpenCVSource`` (``capture3d.sources.base``), including ``use_gate`` (whole-set drops).

    images: per view, a list of N (H, W, 3) uint8 frames (the same N for every view); frame k shows
    images[v][k % N] (looping), due at t0 + k / fps.
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from capture3d.sources.base import CameraInfo, Pacer, share_pacer
from capture3d.types import Frame


class _MemoryStream:
    def __init__(self, name: str, view: int, frames: list[np.ndarray], fps: float) -> None:
        h, w = frames[0].shape[:2]
        self.info = CameraInfo(name, (w, h), fps, model="memory replay")
        self.view, self.frames, self.fps = view, frames, fps
        self.pacer: Pacer | None = None
        self.gate = None
        self._count = 0

    def grab(self, timeout_s: float) -> Frame | None:
        t_end = time.monotonic() + timeout_s
        while True:
            k = self._count
            if not self.pacer.wait(k, max(t_end - time.monotonic(), 0.0)):
                return None
            self._count = k + 1
            due = self.pacer.due(k)
            if self.gate is not None and not self.gate.admit(k, due):
                continue
            return Frame(self.info.name, self.view, k, k / self.fps, time.monotonic(), due,
                         self.frames[k % len(self.frames)], False, {"frame_index": k})


class MemoryReplaySource:
    """V views of frames in memory replayed at fps (see the module docstring)."""

    kind = "memory"
    sync = "trigger"
    live = True
    rig = None

    def __init__(self, images: Sequence[list[np.ndarray]], names: Sequence[str], fps: float) -> None:
        self.fps = float(fps)
        self._streams = [_MemoryStream(n, v, list(f), self.fps) for v, (n, f) in enumerate(zip(names, images))]

    @property
    def streams(self):
        return self._streams

    def use_gate(self, gate) -> bool:
        for s in self._streams:
            s.gate = gate
        return True

    def start(self) -> None:
        share_pacer(self._streams, self.fps)

    def stop(self) -> None:
        pass
