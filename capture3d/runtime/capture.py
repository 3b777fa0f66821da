"""Capture: one grab thread per camera, feeding the frame-set assembler (``capture3d.runtime.sync``).

Ready frame sets go to a ``dispatch`` callback, always called with ``lock`` held: the assembler and what
the callback touches share that lock (the pipeline's main thread also expires and flushes the assembler
under it). A camera failing mid-session (CameraError) is reported and the other cameras go on (its views
become missing). When replaying files, a reader more than ``max_ahead`` frames ahead of the slowest one
waits, which bounds the frames held in the assembler.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

from capture3d.errors import CameraError
from capture3d.runtime.meters import RateMeter
from capture3d.sources.base import EndOfStream, FrameSource
from capture3d.runtime.sync import FrameSetAssembler
from capture3d.types import FrameSet

log = logging.getLogger(__name__)


class Capture:
    """The grab threads of a FrameSource.

    dispatch(sets): hands ready frame sets on (lock held). stop: the pipeline's stop event.
    on_input_end(): called (lock not held) by the last grab thread to end when no stop was requested.
    """

    def __init__(self, source: FrameSource, assembler: FrameSetAssembler, lock: threading.Lock,
                 dispatch: Callable[[list[FrameSet]], None], stop: threading.Event, max_ahead: int,
                 on_input_end: Callable[[], None]) -> None:
        self.source = source
        self.assembler = assembler
        self.lock = lock
        self._ahead = threading.Condition(lock)  # file replay: a reader waits for the slowest one
        self._dispatch = dispatch
        self._stop = stop
        self._max_ahead = max_ahead
        self._on_input_end = on_input_end
        n = len(source.streams)
        self._ended = [False] * n
        self._last_id = [-1] * n  # file sources number frames from 0
        self.failed_cameras: dict[str, str] = {}
        self.incomplete_images = 0
        self.grab_rates = [RateMeter() for _ in range(n)]

    def threads(self, guard: Callable) -> list[threading.Thread]:
        """One (not started) grab thread per stream, each running ``guard(grab_loop, view, stream)``."""
        return [threading.Thread(target=guard, args=(self._grab_loop, v, stream), name=f"grab-{stream.info.name}",
                                 daemon=True) for v, stream in enumerate(self.source.streams)]

    def _grab_loop(self, view: int, stream) -> None:
        name = stream.info.name
        while not self._stop.is_set():
            try:
                frame = stream.grab(0.1)
            except EndOfStream:
                break
            except CameraError as exc:
                log.error("camera %s failed: %s; going on without it", name, exc)
                with self.lock:
                    self.failed_cameras[name] = str(exc)
                    self._dispatch(self.assembler.mark_dead(view))
                break
            if frame is None:
                continue
            self.grab_rates[view].tick(frame.host_time_s)
            with self.lock:
                self.incomplete_images += frame.incomplete
                if not self.source.live:
                    self._wait_for_slowest(view, frame.frame_id)
                self._last_id[view] = frame.frame_id
                self._ahead.notify_all()
                self._dispatch(self.assembler.add(frame))
        gate = getattr(stream, "gate", None)
        if gate is not None:  # a paced replay's shared gate: decisions no longer wait for this view
            gate.view_ended()
        with self.lock:
            self._ended[view] = True
            self._ahead.notify_all()
            all_ended = all(self._ended)
            # stop waiting for this view's frames (a gated replay that was stopped: its unfinished set is
            # discarded whole by the pipeline instead)
            if not all_ended and not (gate is not None and self._stop.is_set()):
                self._dispatch(self.assembler.mark_dead(view))
        if all_ended and not self._stop.is_set():
            self._on_input_end()

    def _wait_for_slowest(self, view: int, frame_id: int) -> None:
        """Lock held. Wait while this reader is more than max_ahead frames ahead of the slowest reader still
        running."""
        while not self._stop.is_set():
            others = [self._last_id[u] for u in range(len(self._last_id)) if u != view and not self._ended[u]
                      and self.assembler.alive[u]]
            if not others or frame_id - min(others) <= self._max_ahead:
                return
            self._ahead.wait(0.1)
