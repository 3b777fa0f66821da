"""The real-time pipeline: sources -> sync -> detect -> 3D -> viewer / recorder / results.

Threads (algorithms know nothing of them; this module wires them):

- one grab thread per camera: ``stream.grab`` -> the frame-set assembler (``capture3d.sync``, under a
  lock) -> ready frame sets are handed on;
- one processing thread: detect (``capture3d.detect``) -> ``Reconstructor.process`` -> latest snapshot
  (``latest()``, polled by displays) and, when ``collect`` is set, the list of results;
- one recorder thread when a ``SessionWriter`` is given; ``pause_recording`` / ``resume_recording`` leave
  frame sets out of the recording while capture and processing go on (the recorder receives the recorded
  sets renumbered from 0 without gaps, so its videos, frames.csv and a live BVH stay frame-aligned);
- one export thread when a ``pose_sink`` is given (e.g. ``capture3d.recording.LiveBVH``): it receives, in
  order and losslessly, every processed frame set's pose.

Live mode hands frame sets to processing through a latest-value slot (an older set not yet taken is
dropped and counted: latency stays low); offline mode and the recorder use bounded lossless queues
(producers wait: nothing is dropped). The main thread runs ``wait`` (or ``run``): it expires frame sets
whose views never came, ends the run when every stream ended, and re-raises, with its traceback, the first
exception of any worker thread (which stops the pipeline). A camera failing mid-session (CameraError)
is reported and the other cameras go on (its views become missing).
"""
from __future__ import annotations

import collections
import dataclasses
import errno
import logging
import queue
import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import cv2
import numpy as np

from .errors import CameraError
from .meters import LatencyMeter, RateMeter
from .sources.base import EndOfStream, FrameSource
from .sync import FrameSetAssembler, mispaired
from .types import FrameSet, LiveSnapshot, Pose3DFrame

log = logging.getLogger(__name__)

_END = object()  # end-of-input marker in queues and slots


class LatestSlot:
    """A one-item mailbox: ``put`` replaces an unread item (counted in ``drops``); ``get`` waits."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item = None
        self._has = False
        self.drops = 0

    def put(self, item) -> None:
        with self._cond:
            if self._has and self._item is not _END:
                self.drops += 1
            if not (self._has and self._item is _END):
                self._item, self._has = item, True
            self._cond.notify()

    def get(self, timeout_s: float):
        """The newest item, or None after timeout_s."""
        with self._cond:
            if not self._has:
                self._cond.wait(timeout_s)
            if not self._has:
                return None
            item, self._item, self._has = self._item, None, False
            return item


class Pipeline:
    """Wire a FrameSource to detection, the 3D stage and an optional recorder.

    detector: an object with ``detect(images, frame_index) -> Detections`` (``.pose`` (V, P, J, 3)), or
      None (no 2D/3D: capture and record only). reconstructor: ``capture3d.reconstruct.Reconstructor`` (or
      None). recorder: a ``capture3d.recording.SessionWriter`` or None. mode: "live" or "offline".
    collect: keep every Pose3DFrame (with its frame-set index) in ``results`` (offline processing).
    on_result: called from the processing thread with each LiveSnapshot (keep it quick).
    pose_sink: an object with ``append(index, xyz_world)`` (frame-set index, (J, 3) metres or None when the
      set gave no pose) and ``close()``, fed every processed frame set by its own thread through a bounded
      lossless queue and closed by ``stop``; it must not raise for its own I/O errors (LiveBVH does not).
      With a recorder, index is the set's index in the recording and sets left out of the recording
      (``pause_recording``) are not given to the sink.
    switch_interval_s: the interpreter's thread switch interval while running (``sys.setswitchinterval``;
      Python's 5 ms default lets V busy grab threads delay the 3D stage by several ms; None: leave it).
    """

    def __init__(self, source: FrameSource, detector=None, reconstructor=None, *, mode: str = "live",
                 recorder=None, sync: str | None = None, max_delay_frames: int = 3, queue_size: int = 64,
                 thumbnail_width: int = 160, latency_window: int = 2000, collect: bool = False,
                 on_result: Callable[[LiveSnapshot], None] | None = None,
                 switch_interval_s: float | None = 0.001, pose_sink=None) -> None:
        if mode not in ("live", "offline"):
            raise ValueError(f"mode must be 'live' or 'offline', got {mode!r}")
        self.source = source
        self.detector = detector
        self.reconstructor = reconstructor
        self.mode = mode
        self.recorder = recorder
        self.thumbnail_width = thumbnail_width
        self.collect = collect
        self.on_result = on_result
        self.pose_sink = pose_sink
        self.switch_interval_s = switch_interval_s
        self._saved_switch_interval: float | None = None
        self.names = [s.info.name for s in source.streams]
        self.assembler = FrameSetAssembler(self.names, source.fps, sync or source.sync, max_delay_frames,
                                           data_expiry=source.live)
        self._lock = threading.Lock()
        self._ahead = threading.Condition(self._lock)  # file replay: a reader waits for the slowest one
        self._max_ahead = max(queue_size, 2 * max_delay_frames)
        self._err_lock = threading.Lock()
        self._rec_done = threading.Event()
        self._sink_done = threading.Event()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self.paused_sets = 0  # frame sets not processed while paused
        self._record_paused = threading.Event()
        self.record_paused_sets = 0  # frame sets left out of the recording while it was paused
        self._record_next = 0  # index in the recording of the next recorded frame set
        self._record_index: collections.deque = collections.deque()  # (set index, index in the recording)
        self._finished = threading.Event()
        self._slot = LatestSlot()
        self._work: queue.Queue = queue.Queue(maxsize=queue_size)
        self._rec_queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._sink_queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._threads: list[threading.Thread] = []
        self._grab_threads: list[threading.Thread] = []
        self._ended = [False] * len(self.names)
        self._last_id = [-1] * len(self.names)  # file sources number frames from 0
        self._input_done = False
        self._error: BaseException | None = None
        self._error_thread = ""
        self.stop_reason = ""
        self.failed_cameras: dict[str, str] = {}
        self.results: list[tuple[int, Pose3DFrame]] = []
        self._latest: LiveSnapshot | None = None
        self._grab_rates = [RateMeter() for _ in self.names]
        self._set_rate, self._done_rate = RateMeter(), RateMeter()
        self._latency, self._latency_3d = LatencyMeter(latency_window), LatencyMeter(latency_window)
        self._detect_ms, self._reconstruct_ms = LatencyMeter(latency_window), LatencyMeter(latency_window)
        self.mispaired = 0
        self.record_waits = 0
        self.incomplete_images = 0
        self._last_thumb_s = 0.0
        self._thumbnails = None
        self._brief_at_s, self._brief = 0.0, {}
        self._t_start = 0.0
        self._started = False

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        """Open the devices and start the threads."""
        if self._started:
            raise RuntimeError("pipeline already started")
        self._started = True
        try:
            self.source.start()
        except BaseException:
            self.source.stop()
            raise
        if self.switch_interval_s:
            self._saved_switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(self.switch_interval_s)
        self._t_start = time.monotonic()
        for v, stream in enumerate(self.source.streams):
            t = threading.Thread(target=self._guard, args=(self._grab_loop, v, stream), name=f"grab-{stream.info.name}",
                                 daemon=True)
            self._grab_threads.append(t)
        self._threads = list(self._grab_threads)
        self._threads.append(threading.Thread(target=self._guard, args=(self._process_loop,), name="process",
                                              daemon=True))
        if self.recorder is not None:
            self._threads.append(threading.Thread(target=self._guard, args=(self._record_loop,), name="recorder",
                                                  daemon=True))
        if self.pose_sink is not None:
            self._threads.append(threading.Thread(target=self._guard, args=(self._sink_loop,), name="export",
                                                  daemon=True))
        for t in self._threads:
            t.start()

    def request_stop(self, reason: str = "stop requested") -> None:
        """Ask every thread to stop (safe from any thread or a signal handler)."""
        if not self.stop_reason:
            self.stop_reason = reason
        self._stop.set()

    def wait(self, duration_s: float | None = None, tick_s: float = 0.02,
             on_tick: Callable[["Pipeline"], None] | None = None) -> None:
        """Run the main-thread duties until the input ends, duration_s passes or a stop is requested.

        Re-raises the first worker exception. on_tick(pipeline) is called every tick (e.g. printing stats).
        """
        t_end = None if duration_s is None else time.monotonic() + duration_s
        while not self._stop.is_set() and not self._finished.is_set():
            now = time.monotonic()
            if t_end is not None and now >= t_end:
                self.request_stop("duration reached")
                break
            if self.mode == "live" and self.source.live:
                with self._lock:
                    self._dispatch(self.assembler.expire(now))
            if on_tick is not None:
                on_tick(self)
            self._finished.wait(tick_s)
        self._raise_error()

    def poll(self) -> LiveSnapshot | None:
        """One tick of the main-thread duties without blocking, then ``latest()``: for a GUI timer that
        replaces ``wait`` (errors are re-raised later by ``stop``)."""
        if self.mode == "live" and self.source.live and not self._stop.is_set():
            with self._lock:
                self._dispatch(self.assembler.expire(time.monotonic()))
        return self._latest

    def pause(self) -> None:
        """Pause the 2D/3D processing (the viewer's "Stop live"): frame sets are still captured and recorded
        but not processed (counted in ``paused_sets``; a pose sink holds the last pose over them)."""
        self._paused.set()

    def resume(self) -> None:
        """Resume processing after ``pause`` (the viewer's "Start live")."""
        self._paused.clear()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def pause_recording(self) -> None:
        """Leave the next frame sets out of the recording (counted in ``record_paused_sets``) while capture
        and processing go on; no effect without a recorder. Safe from any thread, also before ``start``."""
        self._record_paused.set()

    def resume_recording(self) -> None:
        """Record frame sets again after ``pause_recording`` (the recording starts unpaused)."""
        self._record_paused.clear()

    @property
    def recording(self) -> bool:
        """Frame sets are being recorded now: a recorder, not closed, recording not paused."""
        return self.recorder is not None and not self.recorder.closed and not self._record_paused.is_set()

    def end_reason(self) -> str:
        """Why a started pipeline no longer runs ("" while it runs or before start): the stop reason, a
        worker thread's error, or the end of the input."""
        if not self._started or self.running:
            return ""
        with self._err_lock:
            if self._error is not None:
                return f"{type(self._error).__name__} in thread {self._error_thread!r}: {self._error}"
        return self.stop_reason or "input ended"

    @property
    def running(self) -> bool:
        """Started and neither stopped nor finished."""
        return self._started and not self._stop.is_set() and not self._finished.is_set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop and join every thread, drain the recorder and the pose sink, finalize files and close the
        source (idempotent)."""
        self._stop.set()
        for t in self._grab_threads:
            t.join(timeout_s)
        self._end_input()
        for t in self._threads:
            if t.name == "export":  # after the process thread (its producer) has ended
                self._put_lossless(self._sink_queue, _END, consumer_done=self._sink_done)
            t.join(None if t.name in ("recorder", "export") else timeout_s)
        if self.recorder is not None:
            self.recorder.close()
        if self.pose_sink is not None:
            self.pose_sink.close()
        self.source.stop()
        if self._saved_switch_interval is not None:
            sys.setswitchinterval(self._saved_switch_interval)
            self._saved_switch_interval = None
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("threads still running after stop: %s", ", ".join(alive))
        self._raise_error()

    def run(self, duration_s: float | None = None, on_tick=None) -> None:
        """start + wait + stop, stopping cleanly on any error or KeyboardInterrupt."""
        self.start()
        try:
            self.wait(duration_s, on_tick=on_tick)
        finally:
            self.stop()

    def latest(self) -> LiveSnapshot | None:
        """The newest processed frame set for displays (never blocks)."""
        return self._latest

    # ------------------------------------------------------------------ errors
    def _guard(self, target, *args) -> None:
        try:
            target(*args)
        except BaseException as exc:  # noqa: BLE001 - stored and re-raised in the main thread
            self._stop.set()
            with self._err_lock:
                if self._error is None:
                    self._error, self._error_thread = exc, threading.current_thread().name
            log.error("pipeline thread %s failed: %r", threading.current_thread().name, exc)
            self._slot.put(_END)
            if threading.current_thread().name == "process":
                self._finished.set()
            if threading.current_thread().name == "recorder":
                self._rec_done.set()
            if threading.current_thread().name == "export":
                self._sink_done.set()

    def _raise_error(self) -> None:
        with self._err_lock:
            exc, self._error = self._error, None
        if exc is not None:
            exc.add_note(f"(raised in pipeline thread {self._error_thread!r})")
            raise exc

    # ------------------------------------------------------------------ capture + sync
    def _grab_loop(self, view: int, stream) -> None:
        name = stream.info.name
        while not self._stop.is_set():
            try:
                frame = stream.grab(0.1)
            except EndOfStream:
                break
            except CameraError as exc:
                log.error("camera %s failed: %s; going on without it", name, exc)
                with self._lock:
                    self.failed_cameras[name] = str(exc)
                    self._dispatch(self.assembler.mark_dead(view))
                break
            if frame is None:
                continue
            self._grab_rates[view].tick(frame.host_time_s)
            with self._lock:
                self.incomplete_images += frame.incomplete
                if not self.source.live:
                    self._wait_for_slowest(view, frame.frame_id)
                self._last_id[view] = frame.frame_id
                self._ahead.notify_all()
                self._dispatch(self.assembler.add(frame))
        with self._lock:
            self._ended[view] = True
            self._ahead.notify_all()
            all_ended = all(self._ended)
            if not all_ended:  # stop waiting for this view's frames
                self._dispatch(self.assembler.mark_dead(view))
        if all_ended and not self._stop.is_set():
            self._end_input()

    def _wait_for_slowest(self, view: int, frame_id: int) -> None:
        """Lock held. File replay: wait while this reader is more than _max_ahead frames ahead of the slowest
        reader still running (bounds the frames waiting in the assembler)."""
        while not self._stop.is_set():
            others = [self._last_id[u] for u in range(len(self._last_id)) if u != view and not self._ended[u]
                      and self.assembler.alive[u]]
            if not others or frame_id - min(others) <= self._max_ahead:
                return
            self._ahead.wait(0.1)

    def _end_input(self) -> None:
        with self._lock:
            if self._input_done:
                return
            self._input_done = True
            self._dispatch(self.assembler.flush())
        if self.mode == "offline":
            self._put_lossless(self._work, _END, consumer_done=self._finished)
        else:
            self._slot.put(_END)
        if self.recorder is not None:
            self._put_lossless(self._rec_queue, _END, consumer_done=self._rec_done)

    def _put_lossless(self, q: queue.Queue, item, consumer_done: threading.Event | None = None) -> None:
        """Blocking put. A frame set is given up only once the pipeline stops; the end marker (with
        consumer_done) waits for room until its consumer has ended."""
        while True:
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                if q is self._rec_queue and item is not _END:
                    self.record_waits += 1
                if consumer_done is None and self._stop.is_set():
                    return
                if consumer_done is not None and consumer_done.is_set():
                    return

    def _dispatch(self, sets: list[FrameSet]) -> None:
        """Called with the lock held: hand ready frame sets to processing and recording."""
        for fs in sets:
            self._set_rate.tick()
            if mispaired(fs):
                self.mispaired += 1
                log.error("frame set %d pairs frames of different instants", fs.index)
            if self.recorder is not None:
                self._record(fs)
            if self.mode == "live":
                self._slot.put(fs)
            else:
                self._put_lossless(self._work, fs)

    def _record(self, fs: FrameSet) -> None:
        """Lock held: hand fs to the recorder, renumbered by its place in the recording, unless paused."""
        if self._record_paused.is_set():
            self.record_paused_sets += 1
            return
        if self.pose_sink is not None:
            self._record_index.append((fs.index, self._record_next))
        self._put_lossless(self._rec_queue, dataclasses.replace(fs, index=self._record_next))
        self._record_next += 1

    def _sink_index(self, set_index: int) -> int | None:
        """Processing thread: frame set set_index's index for the pose sink (its index in the recording, or
        None when it was not recorded); with no recorder, set_index itself."""
        if self.recorder is None:
            return set_index
        q = self._record_index
        while q and q[0][0] < set_index:  # sets dropped or not processed
            q.popleft()
        if q and q[0][0] == set_index:
            return q.popleft()[1]
        return None

    # ------------------------------------------------------------------ processing
    def _next_set(self):
        if self.mode == "live":
            return self._slot.get(0.1)
        try:
            return self._work.get(timeout=0.1)
        except queue.Empty:
            return None

    def _process_loop(self) -> None:
        while True:
            fs = self._next_set()
            if fs is _END:
                break
            if fs is None:
                if self._stop.is_set():
                    break
                continue
            if self._paused.is_set():
                self.paused_sets += 1
                if self.pose_sink is not None:
                    self._sink_index(fs.index)  # forget its place in the recording
                continue
            self._process(fs)
        self._finished.set()

    def _process(self, fs: FrameSet) -> None:
        t0 = time.perf_counter()
        kp = None
        pose = None
        if self.detector is not None:
            first = next((f for f in fs.frames if f is not None), None)
            frame_index = first.metadata.get("frame_index", fs.index) if first is not None else fs.index
            det = self.detector.detect(fs.images, frame_index=frame_index)
            kp = np.array(det.pose, dtype=float)  # (V, P, J, 3)
            missing = ~fs.present
            kp[missing, :, :, :2] = np.nan
            kp[missing, :, :, 2] = 0.0
        t1 = time.perf_counter()
        if self.reconstructor is not None and kp is not None:
            pose = self.reconstructor.process(kp, fs.time_s)
        t2 = time.perf_counter()
        self._detect_ms.add(t1 - t0)
        self._reconstruct_ms.add(t2 - t1)
        now = time.monotonic()
        if self.source.live:
            self._latency.add(now - fs.time_s)
            self._latency_3d.add(now - fs.time_s - (t1 - t0))
        self._done_rate.tick(now)
        if self.collect and pose is not None:
            self.results.append((fs.index, pose))
        if self.pose_sink is not None:
            sink_index = self._sink_index(fs.index)
            if sink_index is not None:
                self._put_lossless(self._sink_queue, (sink_index, None if pose is None else pose.xyz_world),
                                   consumer_done=self._sink_done)
        if self.thumbnail_width and now - self._last_thumb_s >= 0.1:
            self._last_thumb_s = now
            self._thumbnails = tuple(self._thumb(img) for img in fs.images)
        kp_used = None
        if kp is not None:
            chosen = pose.person_per_view if pose is not None else np.zeros(kp.shape[0], int)
            kp_used = kp[np.arange(kp.shape[0]), np.clip(chosen, 0, kp.shape[1] - 1)]
        if now - self._brief_at_s >= 0.2:
            self._brief_at_s, self._brief = now, self.stats(brief=True)
        brief = self._brief if self.recorder is None else {**self._brief, "recording": self.recording}
        self._latest = LiveSnapshot(fs.index, fs.time_s, pose, kp_used, self._thumbnails, brief)
        if self.on_result is not None:
            self.on_result(self._latest)

    def _thumb(self, image) -> np.ndarray:
        w = self.thumbnail_width
        if image is None:
            return np.zeros((w * 3 // 4, w, 3), np.uint8)
        h = max(1, round(image.shape[0] * w / image.shape[1]))
        small = cv2.resize(image, (w, h), interpolation=cv2.INTER_NEAREST)
        return small if small.ndim == 3 else cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)

    # ------------------------------------------------------------------ recording
    def _record_loop(self) -> None:
        while True:
            try:
                fs = self._rec_queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if fs is _END:
                break
            try:
                self.recorder.write(fs)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                self.request_stop(f"disk full: recording stopped after {self.recorder.sets_written} frame sets "
                                  f"({exc.strerror})")
                self._drain(self._rec_queue)
                break
        self._rec_done.set()

    def _sink_loop(self) -> None:
        while True:
            try:
                item = self._sink_queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _END:
                break
            self.pose_sink.append(*item)
        self._sink_done.set()

    @staticmethod
    def _drain(q: queue.Queue) -> None:
        while True:
            try:
                q.get_nowait()
            except queue.Empty:
                return

    # ------------------------------------------------------------------ stats
    def stats(self, brief: bool = False) -> dict:
        """Live figures: rates (Hz), latency percentiles (ms, exposure -> 3D result; ``latency_3d`` excludes
        the detector), drops, sync counters, failures. brief: without the per-camera breakdown."""
        now = time.monotonic()
        sync = self.assembler.stats.as_dict()
        p50, p95 = self._latency.percentiles()
        q50, q95 = self._latency_3d.percentiles()
        d50, _ = self._detect_ms.percentiles()
        r50, _ = self._reconstruct_ms.percentiles()
        out = {"elapsed_s": now - self._t_start if self._t_start else 0.0,
               "fps_capture": float(np.mean([r.rate(now) for r in self._grab_rates])),
               "fps_sets": self._set_rate.rate(now), "fps_3d": self._done_rate.rate(now),
               "frames": sum(r.count for r in self._grab_rates), "sets": sync["sets"],
               "processed": self._done_rate.count, "latency_ms_p50": p50, "latency_ms_p95": p95,
               "latency_3d_ms_p50": q50, "latency_3d_ms_p95": q95, "detect_ms_p50": d50,
               "reconstruct_ms_p50": r50, "drops": self._slot.drops, "incomplete_sets": sync["incomplete"],
               "missing_views": sync["missing"], "late": sync["late"], "mismatched": sync["mismatched"],
               "mispaired": self.mispaired, "incomplete_images": self.incomplete_images,
               "cameras_failed": sorted(self.failed_cameras)}
        if self.paused_sets or self.paused:
            out["paused_sets"] = self.paused_sets
        if self.recorder is not None:
            out["recording"] = self.recording
            out["recorded_sets"] = self.recorder.sets_written
            out["record_paused_sets"] = self.record_paused_sets
            out["record_queue"] = self._rec_queue.qsize()
        latest = self._latest
        if latest is not None and latest.pose is not None:
            err = latest.pose.reproj_err_px
            out["reproj_err_px"] = float(np.nanmean(err)) if np.isfinite(err).any() else float("nan")
        if not brief:
            out["per_camera"] = sync["per_camera"]
            for name, r, stream in zip(self.names, self._grab_rates, self.source.streams):
                out["per_camera"][name]["fps"] = r.rate(now)
                out["per_camera"][name]["grabbed"] = r.count
                if hasattr(stream, "stats"):  # device counters (drops on the device, incomplete images, drift)
                    out["per_camera"][name].update(stream.stats())
        return out


@contextmanager
def stop_on_signals(pipeline: Pipeline) -> Iterator[None]:
    """While inside: SIGINT (Ctrl-C) and SIGTERM ask the pipeline to stop cleanly (main thread only)."""
    def handler(signum, _frame):
        pipeline.request_stop(signal.Signals(signum).name)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
