"""OpenCV frame source: webcams by index, video files and RTSP/HTTP streams (cv2.VideoCapture).

Video files recorded together are frame-aligned, so a source made only of files pairs frames by frame
number ("trigger" sync); webcams and network streams have no common trigger and are paired by host
arrival time ("timestamp" sync).
"""
from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from capture3d.errors import CameraError
from capture3d.io.media import unequal_lengths_note
from capture3d.types import Frame
from capture3d.sources.base import CameraInfo, EndOfStream, Pacer, common_fps, share_pacer

log = logging.getLogger(__name__)

_URL_PREFIXES = ("rtsp://", "rtmp://", "http://", "https://", "udp://", "tcp://")


def spec_kind(spec: str) -> str:
    """"device" (an integer index), "url" or "file"."""
    s = str(spec).strip()
    if s.isdigit():
        return "device"
    if s.lower().startswith(_URL_PREFIXES):
        return "url"
    return "file"


def open_capture(spec: str, threads: int = 0) -> cv2.VideoCapture:
    """Open a webcam index, URL or video file; CameraError saying what was expected when it fails.

    threads: decoder threads of a video file (0: FFmpeg's choice). A paced replay reads every camera's file
    in its own thread, so one decoder thread each spends the least CPU per frame."""
    kind = spec_kind(spec)
    if kind == "file" and not Path(spec).is_file():
        raise CameraError(f"video file not found: {spec} (expected a webcam index such as 0, a video file or "
                          "an rtsp:// URL)")
    if kind == "file" and threads > 0:
        cap = cv2.VideoCapture(str(spec), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, int(threads)])
    else:
        cap = cv2.VideoCapture(int(spec) if kind == "device" else str(spec))
    if not cap.isOpened():
        cap.release()
        what = {"device": "webcam index", "url": "stream URL", "file": "video file"}[kind]
        raise CameraError(f"cannot open {what} {spec!r} with OpenCV (is it connected / a video OpenCV can "
                          "decode, e.g. .avi MJPG or .mp4?)")
    return cap


class OpenCVStream:
    """One cv2.VideoCapture. frame_id: frame number in the file, or a counter for live devices."""

    def __init__(self, spec: str, name: str, view: int, *, realtime: bool = False, loop: bool = False) -> None:
        self.spec = str(spec)
        self.kind = spec_kind(self.spec)
        self.view = view
        self.realtime = realtime
        self.loop = loop
        self._cap = open_capture(self.spec, threads=1 if realtime else 0)
        w = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.info = CameraInfo(name, (w, h), fps if np.isfinite(fps) and 0 < fps < 1000 else 0.0,
                               model=f"opencv {self.kind}", serial=self.spec)
        self.n_frames = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)) if self.kind == "file" else 0
        self.fps = self.info.fps
        self.pacer: Pacer | None = None
        self.gate = None  # a capture3d.runtime.replay_gate.ReplayGate shared by the views (paced file replay)
        self.decode_s = 0.0
        self.skipped = 0
        self._count = 0
        self._loops = 0
        self.length = 0  # frames played before the end (or the rewind, looping); 0: the file's own end
        self._pos = 0  # frames read since the start or the last rewind

    def grab(self, timeout_s: float) -> Frame | None:
        if self._cap is None:
            raise EndOfStream(self.info.name)
        t_end = time.monotonic() + timeout_s
        while True:
            k = self._count
            if self.pacer is not None and not self.pacer.wait(k, max(t_end - time.monotonic(), 0.0)):
                return None
            t0 = time.perf_counter()
            at_length = bool(self.length) and self._pos >= self.length
            if self.gate is None:
                ok, image = (False, None) if at_length else self._cap.read()
                if not ok:
                    ok, image = self._restart()
            else:  # decode always (frames depend on each other); convert and deliver only kept frames
                ok = (not at_length and self._cap.grab()) or self._restart()[0]
                due = self.pacer.due(k) if self.pacer is not None else time.monotonic()
                if ok and not self.gate.admit(k, due):
                    self.decode_s += time.perf_counter() - t0
                    self._pos += 1
                    self._count = k + 1
                    self.skipped += 1
                    if time.monotonic() >= t_end:
                        return None
                    continue
                if ok:
                    ok, image = self._cap.retrieve()
            self.decode_s += time.perf_counter() - t0
            self._pos += bool(ok)
            host_s = time.monotonic()
            if not ok:
                if self.kind == "file":
                    raise EndOfStream(self.info.name)
                raise CameraError(f"camera {self.info.name} ({self.spec}) stopped delivering frames")
            self._count = k + 1
            if self.kind == "file":
                fps = self.fps or 30.0
                device_s = k / fps
                time_s = self.pacer.due(k) if self.pacer is not None else device_s
            else:
                device_s = float("nan")
                time_s = host_s
            return Frame(self.info.name, self.view, k, device_s, host_s, time_s, image, False,
                         {"frame_index": k})

    def _restart(self) -> tuple[bool, np.ndarray | None]:
        """End of a looping file: back to its first frame, read (or, with a gate, decode) it."""
        if self.kind != "file" or not self.loop or self._count == 0:
            return False, None
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        self._loops += 1
        self._pos = 0
        if self.gate is not None:
            return self._cap.grab(), None
        return self._cap.read()

    def stats(self) -> dict:
        """Replay counters: seconds spent decoding (``decode_s``) and frames decoded but not delivered
        (``skipped``: whole frame sets dropped by the replay gate)."""
        return {"decode_s": self.decode_s, "skipped": self.skipped}

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def check_file_rates(streams: Sequence[OpenCVStream], rel_tol: float = 0.01) -> None:
    """CameraError when video files were filmed at different frame rates: their frames pair up by number,
    so they cannot be combined (no setting resamples a file; a requested [source] fps only paces replay)."""
    known = [(Path(s.spec).name, s.info.fps) for s in streams if s.info.fps > 0]
    rates = [f for _, f in known]
    if rates and max(rates) - min(rates) > rel_tol * max(rates):
        raise CameraError("the videos were filmed at different frame rates ("
                          + ", ".join(f"{n}: {f:g} fps" for n, f in known) + "); frame sets pair frames by "
                          "number, so expected one rate: resample them to one rate first (e.g. ffmpeg -i IN "
                          "-r 30 OUT.mp4)")


def common_length(streams: Sequence[OpenCVStream]) -> int:
    """Make video files of different lengths end (or, looping, rewind) together, at the shortest, with a
    warning naming it: a frame set needs every view, and views rewinding at their own ends would pair
    different instants. Returns the common length (0 when a length is unknown)."""
    counts = [s.n_frames for s in streams]
    if not counts or min(counts) <= 0:
        return 0
    note = unequal_lengths_note([Path(s.spec).name for s in streams], counts)
    if note:
        log.warning("%s%s", note, " (looping, every view rewinds there together)" if streams[0].loop else "")
        for s in streams:
            s.length = min(counts)
    return min(counts)


class OpenCVSource:
    """Several cv2.VideoCapture inputs (see the module docstring). specs: index, file or URL per camera."""

    kind = "opencv"
    rig = None

    def __init__(self, specs: Sequence[str], names: Sequence[str] = (), fps: float = 0.0, sync: str = "auto",
                 realtime: bool = False, loop: bool = False) -> None:
        if not specs:
            raise CameraError("opencv source: no cameras given (expected webcam indices, video files or URLs)")
        names = list(names) or [Path(s).stem if spec_kind(s) == "file" else f"cam{i + 1}"
                                for i, s in enumerate(specs)]
        if len(set(names)) != len(names):
            names = [f"cam{i + 1}" for i in range(len(specs))]
        self._streams: list[OpenCVStream] = []
        try:
            for i, (spec, name) in enumerate(zip(specs, names)):
                self._streams.append(OpenCVStream(spec, name, i, realtime=realtime, loop=loop))
        except CameraError:
            self.stop()
            raise
        files_only = all(s.kind == "file" for s in self._streams)
        self.live = not files_only or realtime
        self.sync = ("trigger" if files_only else "timestamp") if sync == "auto" else \
            ("trigger" if sync == "hardware" else "timestamp")
        try:
            if files_only:
                check_file_rates(self._streams)
            self.fps = common_fps([s.info for s in self._streams], fps) or 30.0
        except CameraError:
            self.stop()
            raise
        if files_only:
            common_length(self._streams)
        for s in self._streams:
            s.fps = s.fps or self.fps
        self.realtime = realtime

    @property
    def streams(self) -> Sequence[OpenCVStream]:
        return self._streams

    def start(self) -> None:
        if self.realtime:
            share_pacer([s for s in self._streams if s.kind == "file"], self.fps)

    def use_gate(self, gate) -> bool:
        """Share a ``ReplayGate`` between the views of a paced file replay (``realtime`` files only): frame
        sets are then dropped whole when processing is busy. Returns False (gate unused) for other sources."""
        if not self.realtime or not all(s.kind == "file" for s in self._streams):
            return False
        for s in self._streams:
            s.gate = gate
        return True

    def stop(self) -> None:
        for s in self._streams:
            s.close()


def list_opencv_devices(max_index: int = 8) -> list[dict]:
    """Webcams OpenCV can open among indices 0..max_index-1: [{index, size_wh, fps, backend}].

    OpenCV's own log is silenced during the probe (an absent index is not a warning here), and on Linux
    an index without its /dev/videoN device node is not opened at all."""
    found = []
    level = cv2.getLogLevel() if hasattr(cv2, "getLogLevel") else None
    if level is not None:
        cv2.setLogLevel(0)  # silent
    try:
        for i in range(max_index):
            if sys.platform.startswith("linux") and not os.path.exists(f"/dev/video{i}"):
                continue
            cap = cv2.VideoCapture(i)
            try:
                if cap.isOpened():
                    found.append({"index": i, "size_wh": (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                                                          int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))),
                                  "fps": float(cap.get(cv2.CAP_PROP_FPS) or 0.0), "backend": cap.getBackendName()})
            finally:
                cap.release()
    finally:
        if level is not None:
            cv2.setLogLevel(level)
    return found
