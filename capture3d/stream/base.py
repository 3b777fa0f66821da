"""What every stream shares: the frame handed to the senders, the sink interface, lazy imports
of the optional packages and the one worker thread that feeds the sinks from a latest-value slot.

A sink has ``open()`` (bind sockets, announce the stream; raises StreamError), ``send(frame)`` (one
StreamFrame; called from the streams' worker thread only; must not wait for a receiver) and ``close()``.
``send`` may raise OSError when the receiver is gone (counted, the stream goes on); any other exception stops
that stream and is re-raised by ``SinkWorker.close`` in the thread that closes it.
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
    people_ids: (K,) int, people_xyz: (K, J, 3) metres and people_confidence: (K, J), every person in view
    in the frame set with ``[tracking] people = "all"``, by id; None in single-subject mode. person_id: with
    people, whose pose xyz_world is (the person picked in the viewer, else the lowest id in view; None:
    nobody's, xyz_world all NaN).
    """

    index: int
    time_s: float
    xyz_world: np.ndarray
    confidence: np.ndarray
    reproj_err_px: np.ndarray
    n_views: np.ndarray
    handed_s: float = 0.0
    people_ids: np.ndarray | None = None
    people_xyz: np.ndarray | None = None
    people_confidence: np.ndarray | None = None
    person_id: int | None = None


class SinkStats:
    """One sink's counters: ``sent`` frames, ``errors`` (sends that failed with OSError: receiver gone)."""

    def __init__(self, sink) -> None:
        self.sink = sink
        self.name = getattr(sink, "label", type(sink).__name__)
        self.sent = 0
        self.errors = 0
        self.last_error = ""
        self.failure: BaseException | None = None


class SinkWorker:
    """Runs the sinks of a live run in one thread fed through a latest-value slot: ``offer`` replaces an
    unsent frame (counted in ``drops``) and never blocks; the thread takes the newest frame and hands it to
    every sink in turn (their ``send`` never waits for a receiver: UDP sends that would block drop the
    datagram, LSL buffers, WebSocket posts to its own event loop). One thread, not one per sink, so a frame
    wakes one thread and the sinks do not take turns at the interpreter lock (each wake-up of a thread that
    waits for it can cost a switch interval); put the cheapest sinks first: they go out first.

    A sink whose ``send`` raises OSError is counted (``stats[i].errors``) and goes on; any other exception
    stops that sink (the others go on) and is re-raised by ``close`` in the thread that closes it.
    """

    def __init__(self, sinks) -> None:
        self.stats = [SinkStats(s) for s in sinks]
        self._slot = LatestSlot()
        self._thread = threading.Thread(target=self._loop, name="streams", daemon=True)

    @property
    def drops(self) -> int:
        return self._slot.drops

    def start(self) -> None:
        self._thread.start()

    def offer(self, frame: StreamFrame) -> None:
        self._slot.put(frame)

    def _loop(self) -> None:
        live = list(self.stats)
        while live:
            frame = self._slot.get(0.5)
            if frame is END:
                return
            if frame is None:
                continue
            for st in live:
                try:
                    st.sink.send(frame)
                    st.sent += 1
                except OSError as exc:  # the receiver went away or the network is down: the stream goes on
                    if not st.errors:
                        log.warning("stream %s: send failed (%s); still sending", st.name, exc)
                    st.errors += 1
                    st.last_error = str(exc)
                except BaseException as exc:  # noqa: BLE001 - stored and re-raised by close()
                    log.error("stream %s failed: %r", st.name, exc)
                    st.failure = exc
            if any(st.failure is not None for st in live):
                live = [st for st in live if st.failure is None]

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the thread, close every sink; re-raise the first exception that stopped a sink, if any."""
        self._slot.put(END)
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        first = None
        for st in self.stats:
            try:
                st.sink.close()
            except Exception as exc:  # noqa: BLE001 - every sink is closed, then the first failure is raised
                first = first or exc
            if st.failure is not None:
                exc, st.failure = st.failure, None
                exc.add_note(f"(raised in stream thread for {st.name!r})")
                first = first or exc
        if first is not None:
            raise first


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
