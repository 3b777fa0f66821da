"""A camera-like replay of video files decoded into memory first (``[source] preload = true``): frames come
paced at the clip's rate with frame ids, due timestamps and whole-set drops (``use_gate``), as a camera rig
delivers them, so a replay costs what a camera costs (no decoding during the run).

``preload_videos`` checks, before decoding anything, that the decoded clip fits in the memory available
(frames x W x H x 3 bytes per view) and refuses with the size needed when it does not.

``MemoryReplaySource``: per view a list of N (H, W, 3) uint8 frames (the same N for every view); frame k
shows images[v][k % N] when looping (else the replay ends after N frames), due at t0 + k / fps.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Sequence

import numpy as np

from capture3d.errors import CameraError
from capture3d.sources.base import CameraInfo, EndOfStream, Pacer, share_pacer
from capture3d.types import Frame

log = logging.getLogger(__name__)

#: the share of the available memory a preloaded clip may take
MEMORY_SHARE = 0.8


class _MemoryStream:
    def __init__(self, name: str, view: int, frames: list[np.ndarray], fps: float, loop: bool) -> None:
        h, w = frames[0].shape[:2]
        self.info = CameraInfo(name, (w, h), fps, model="memory replay")
        self.view, self.frames, self.fps, self.loop = view, frames, fps, loop
        self.pacer: Pacer | None = None
        self.gate = None
        self._count = 0

    def grab(self, timeout_s: float) -> Frame | None:
        t_end = time.monotonic() + timeout_s
        while True:
            k = self._count
            if not self.loop and k >= len(self.frames):
                raise EndOfStream(self.info.name)
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

    def __init__(self, images: Sequence[list[np.ndarray]], names: Sequence[str], fps: float, loop: bool = True) -> None:
        self.fps = float(fps)
        self._streams = [_MemoryStream(n, v, list(f), self.fps, loop) for v, (n, f) in enumerate(zip(names, images))]

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


def available_memory_bytes() -> int:
    """The memory the system can give without swapping (Linux MemAvailable; else the free pages)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def preload_videos(source, loop: bool, available_bytes: int | None = None) -> MemoryReplaySource:
    """Decode every frame of a file source's streams (an unpaced, non-looping ``OpenCVSource`` of video
    files, closed here) into a MemoryReplaySource at the source's fps, the same number of frames per view
    (the shortest video's). Raises CameraError, before decoding, when a stream is not a video file or the
    decoded clip needs more than MEMORY_SHARE of available_bytes (default: ``available_memory_bytes()``)."""
    try:
        streams = list(source.streams)
        not_files = [s.info.name for s in streams if getattr(s, "n_frames", 0) <= 0]
        if not_files:
            raise CameraError(f"[source] preload decodes video files into memory first; {', '.join(not_files)} "
                              "is not a video file with a known frame count (a webcam, a stream): set preload = false")
        n = min(s.n_frames for s in streams)
        need = sum(n * s.info.size_wh[0] * s.info.size_wh[1] * 3 for s in streams)
        avail = available_memory_bytes() if available_bytes is None else int(available_bytes)
        if need > MEMORY_SHARE * avail:
            raise CameraError(f"[source] preload: the clip needs {_gb(need)} of memory decoded ({len(streams)} views x "
                              f"{n} frames x {streams[0].info.size_wh[0]}x{streams[0].info.size_wh[1]} px x 3 bytes) "
                              f"but {_gb(avail)} is available (at most {MEMORY_SHARE:.0%} of it is used): set "
                              "preload = false (decode while replaying), or use a shorter clip")
        log.info("preloading %d frames of %d views (%s)", n, len(streams), _gb(need))
        images = []
        for s in streams:
            frames = []
            while len(frames) < n:
                try:
                    f = s.grab(10.0)
                except EndOfStream:
                    break
                if f is not None:
                    frames.append(f.image)
            images.append(frames)
        n = min(len(f) for f in images)
        if n == 0:
            raise CameraError("[source] preload: the videos gave no frames")
        return MemoryReplaySource([f[:n] for f in images], [s.info.name for s in streams], source.fps, loop)
    finally:
        source.stop()
