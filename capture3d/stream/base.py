"""What every stream shares: the frame handed to the senders, the sink interface, lazy imports
of the optional packages and a worker thread per sink fed through a latest-value slot.

A sink has ``open()`` (bind sockets, announce the stream; raises StreamError), ``send(frame)`` (one
StreamFrame; called from its own worker thread only) and ``close()``. ``send`` may raise OSError when the
receiver is gone (counted, the stream goes on); any other exception stops that stream and is re-raised by
``SinkWorker.close`` in the thread that closes it.
"""
from __future__ import annotations

import importlib
import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from capture3d.errors import StreamError
from capture3d.runtime.handoff import END, LatestSlot
from capture3d.stream.urls import EXTRA_HINT, SCHEMES, StreamTarget, parse_stream_url  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)

def need(module: str, what: str):
    """Import an optional package, or raise StreamError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise StreamError(f"{what} needs the Python package {module.split('.')[0]!r} ({exc}); install the "
                          f"streaming extra: {EXTRA_HINT}") from None


@dataclass(frozen=True)
class StreamFrame:
    """One processed frame set as the streams see it.

    index: frame-set counter. time_s: capture time (host monotonic clock, seconds). xyz_world: (J, 3) metres,
    world frame (Z up), NaN where missing. confidence, reproj_err_px: (J,). n_views: (J,) int.
    handed_s: when the pipeline handed it over (time.perf_counter(), for latency measurements).
    """

    index: int
    time_s: float
    xyz_world: np.ndarray
    confidence: np.ndarray
    reproj_err_px: np.ndarray
    n_views: np.ndarray
    handed_s: float = 0.0


class SinkWorker:
    """Runs one sink in its own thread: ``offer`` replaces an unsent frame (counted in ``drops``) and never
    blocks; the thread sends the newest frame. ``errors``: sends that failed with OSError (receiver gone)."""

    def __init__(self, sink) -> None:
        self.sink = sink
        self.name = getattr(sink, "label", type(sink).__name__)
        self._slot = LatestSlot()
        self.sent = 0
        self.errors = 0
        self.last_error = ""
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name=f"stream {self.name}", daemon=True)

    @property
    def drops(self) -> int:
        return self._slot.drops

    def start(self) -> None:
        self._thread.start()

    def offer(self, frame: StreamFrame) -> None:
        self._slot.put(frame)

    def _loop(self) -> None:
        while True:
            frame = self._slot.get(0.5)
            if frame is END:
                return
            if frame is None:
                continue
            try:
                self.sink.send(frame)
                self.sent += 1
            except OSError as exc:  # the receiver went away or the network is down: the stream goes on
                if not self.errors:
                    log.warning("stream %s: send failed (%s); still sending", self.name, exc)
                self.errors += 1
                self.last_error = str(exc)
            except BaseException as exc:  # noqa: BLE001 - stored and re-raised by close()
                log.error("stream %s failed: %r", self.name, exc)
                self._failure = exc
                return

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the thread, close the sink; re-raise the exception that stopped the stream, if any."""
        self._slot.put(END)
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        self.sink.close()
        if self._failure is not None:
            exc, self._failure = self._failure, None
            exc.add_note(f"(raised in stream thread {self.name!r})")
            raise exc


def monotonic_to(clock, samples: int = 5) -> float:
    """Offset to add to time.monotonic() seconds to get ``clock()`` seconds (best of a few paired reads)."""
    best = None
    for _ in range(samples):
        a = time.monotonic()
        c = clock()
        b = time.monotonic()
        if best is None or b - a < best[0]:
            best = (b - a, c - 0.5 * (a + b))
    return best[1]
