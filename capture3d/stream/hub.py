"""The streams of one live run: ``open_streams(urls, keypoint_set, fps)`` opens a sink per URL, and
``StreamHub.offer`` (the pipeline's ``on_result`` hook, called in the processing thread) hands each
result to the streams' worker through a latest-value slot: O(1), never blocking, whatever the receivers do.
The worker sends each frame to the cheapest streams first (OSC, LSL, VMC, WebSocket).
"""
from __future__ import annotations

import logging
import time

import numpy as np

from capture3d.body.keypoint_sets import KeypointSet
from capture3d.stream.base import SinkWorker, StreamFrame
from capture3d.stream.urls import check_stream_urls, parse_stream_url

log = logging.getLogger(__name__)


#: the order the worker sends a frame in: cheapest encoding first (OSC: numbers into a template; LSL: one
#: buffer; VMC: the bone solve; WebSocket: JSON text, then its event loop's thread)
_ORDER = ("osc", "lsl", "vmc", "ws")


def _send_rank(sink) -> int:
    scheme = str(getattr(sink, "label", "")).split(":", 1)[0]
    return _ORDER.index(scheme) if scheme in _ORDER else len(_ORDER)


def make_sink(url: str, keypoint_set: KeypointSet, fps: float):
    """The (not yet opened) sink for one stream URL (see capture3d.stream.base.SCHEMES)."""
    target = parse_stream_url(url)
    if target.scheme == "vmc":
        from capture3d.stream.vmc import VMCSink  # noqa: PLC0415
        return VMCSink(target, keypoint_set, fps)
    if target.scheme == "osc":
        from capture3d.stream.osc import OSCSink  # noqa: PLC0415
        return OSCSink(target, keypoint_set, fps)
    if target.scheme == "lsl":
        from capture3d.stream.lsl import LSLSink  # noqa: PLC0415
        return LSLSink(target, keypoint_set, fps)
    from capture3d.stream.ws import WebSocketSink  # noqa: PLC0415
    return WebSocketSink(target, keypoint_set, fps)


class StreamHub:
    """Sinks fed from the pipeline. ``offer(snapshot)`` takes a LiveSnapshot (or ``offer_frame`` a
    StreamFrame); ``stats()`` gives per stream: sent, drops (frames replaced before the streams' thread took
    them: the encoders together were slower than capture; the same count for every stream), errors (failed
    sends); ``close()`` stops them. ``sinks`` (and ``stats()``) keep the order given; frames go out in ``_ORDER``."""

    def __init__(self, sinks, keypoint_set: KeypointSet) -> None:
        self.keypoint_set = keypoint_set
        self._sinks = list(sinks)
        self.worker = SinkWorker(sorted(self._sinks, key=_send_rank))
        self._missing = np.full((keypoint_set.n_joints, 3), np.nan)
        self._zeros = np.zeros(keypoint_set.n_joints)
        self._started = False
        self._closed = False

    @property
    def sinks(self) -> list:
        return list(self._sinks)

    def start(self) -> None:
        """Open every sink (StreamError on a bad address, a port in use, a missing package) and start
        the streams' thread; on an error the sinks already opened are closed again."""
        opened = []
        try:
            for s in self._sinks:
                s.open()
                opened.append(s)
        except BaseException:
            for s in opened:
                s.close()
            raise
        self.worker.start()
        self._started = True

    def offer(self, snapshot) -> None:
        """Hand a LiveSnapshot to every stream (never blocks). A snapshot without a pose is a frame with
        every joint missing; with every person (``snapshot.people``) the frame carries them all, and its
        single pose is the snapshot's (the picked person, else the lowest id in view)."""
        pose = snapshot.pose
        if pose is None:
            frame = StreamFrame(snapshot.index, snapshot.time_s, self._missing, self._zeros,
                                self._missing[:, 0], self._zeros.astype(int), time.perf_counter())
        else:
            people = getattr(snapshot, "people", None)
            every = {} if people is None else dict(people_ids=people.ids, people_xyz=people.xyz_world,
                                                   people_confidence=people.confidence,
                                                   person_id=getattr(snapshot, "person_id", None))
            frame = StreamFrame(snapshot.index, snapshot.time_s, pose.xyz_world, pose.confidence,
                                pose.reproj_err_px, pose.n_views, time.perf_counter(), **every)
        self.offer_frame(frame)

    def offer_frame(self, frame: StreamFrame) -> None:
        self.worker.offer(frame)

    def stats(self) -> dict[str, dict[str, int]]:
        drops = self.worker.drops
        by_sink = {id(st.sink): st for st in self.worker.stats}
        return {st.name: {"sent": st.sent, "drops": drops, "errors": st.errors}
                for st in (by_sink[id(s)] for s in self._sinks)}

    def close(self) -> None:
        """Stop every stream (idempotent); re-raises the first stream's failure after closing all."""
        if self._closed:
            return
        self._closed = True
        self.worker.close()

    def __enter__(self) -> "StreamHub":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_streams(urls, keypoint_set: KeypointSet, fps: float, *, start: bool = True) -> StreamHub:
    """A StreamHub with one sink per URL (parsed first: a bad URL fails before any socket is opened),
    started unless ``start`` is False."""
    urls = list(urls)
    check_stream_urls(urls)
    hub = StreamHub([make_sink(u, keypoint_set, fps) for u in urls], keypoint_set)
    if start:
        hub.start()
    log.info("streams: %s", ", ".join(urls) or "none")
    return hub
