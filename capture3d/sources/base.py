"""The frame-source interface: a source owns V camera streams; the pipeline runs one grab thread per stream.

A ``FrameSource`` opens its devices in ``start()`` (for hardware sync: the trigger-following cameras
before the primary), exposes ``streams`` (one ``CameraStream`` per camera, in view order) and closes
everything in ``stop()``. Each stream's ``grab(timeout_s)`` is called from that camera's own thread:

- returns a ``capture3d.types.Frame`` (image copied out of any device buffer),
- returns None when no frame arrived within timeout_s,
- raises ``EndOfStream`` when a file source is exhausted,
- raises ``capture3d.errors.CameraError`` when the camera failed (unplugged, unreadable): the pipeline
  reports it and goes on with the other cameras (that view becomes missing).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

from capture3d.errors import CameraError
from capture3d.types import Frame


class EndOfStream(Exception):
    """A file-backed stream has no more frames (not an error)."""


@dataclass(frozen=True)
class CameraInfo:
    """What a source knows of one camera before the first frame.

    name: unique label (serial for FLIR cameras). size_wh: (W, H) px (0, 0 when unknown until the first
    frame). fps: nominal frame rate, Hz (0 when unknown). model, serial: device strings ("" if none).
    """

    name: str
    size_wh: tuple[int, int] = (0, 0)
    fps: float = 0.0
    model: str = ""
    serial: str = ""


@runtime_checkable
class CameraStream(Protocol):
    """One camera: ``grab`` is called repeatedly from a single grab thread."""

    info: CameraInfo

    def grab(self, timeout_s: float) -> Frame | None:
        ...


@runtime_checkable
class FrameSource(Protocol):
    """V synchronized (or synchronizable) cameras.

    kind: the backend name. sync: "trigger" (frames of one instant share frame_id) or "timestamp"
    (pair by nearest time_s). fps: the common frame rate, Hz. live: a device producing frames in real time
    (True) or a file replay (False). rig: the source's own calibrated rig (synthetic, session) or None.
    """

    kind: str
    sync: str
    fps: float
    live: bool
    rig: object | None

    @property
    def streams(self) -> Sequence[CameraStream]:
        ...

    def start(self) -> None:
        ...

    def stop(self) -> None:
        ...


def common_fps(infos: Sequence[CameraInfo], requested_fps: float = 0.0, rel_tol: float = 0.01) -> float:
    """The frame rate shared by all cameras (or requested_fps when given).

    Raises CameraError naming each camera's rate when they differ by more than rel_tol; cameras with an
    unknown rate (0) are ignored. Returns 0 when no rate is known.
    """
    known = [(i.name, i.fps) for i in infos if i.fps > 0]
    if requested_fps > 0:
        return float(requested_fps)
    if not known:
        return 0.0
    rates = [f for _, f in known]
    if max(rates) - min(rates) > rel_tol * max(rates):
        listing = ", ".join(f"{n}: {f:g} fps" for n, f in known)
        raise CameraError(f"cameras run at different frame rates ({listing}); expected one common rate: set "
                          "the same frame rate on every camera or set [source] fps to resample")
    return float(sum(rates) / len(rates))


class Pacer:
    """Sleeps until frame k's due time t0 + k / fps (host monotonic clock) for real-time replay."""

    def __init__(self, fps: float, t0_s: float | None = None) -> None:
        self.period_s = 1.0 / fps if fps > 0 else 0.0
        self.t0_s = time.monotonic() if t0_s is None else t0_s

    def due(self, k: int) -> float:
        return self.t0_s + k * self.period_s

    def wait(self, k: int, timeout_s: float) -> bool:
        """Sleep until frame k is due; False (without waiting it out) when that is beyond timeout_s."""
        delay = self.due(k) - time.monotonic()
        if delay > timeout_s:
            time.sleep(max(timeout_s, 0.0))
            return False
        if delay > 0:
            time.sleep(delay)
        return True


def share_pacer(streams, fps: float, start_delay_s: float = 0.05) -> None:
    """Give every stream one Pacer so that replayed views emit their frames together at fps, the first
    frame start_delay_s from now. streams: objects with a ``pacer`` attribute."""
    pacer = Pacer(fps, time.monotonic() + start_delay_s)
    for s in streams:
        s.pacer = pacer
