"""The real-time pipeline: sources -> sync -> detect -> 3D -> viewer / recorder / results.

Threads (algorithms know nothing of them; this module wires them):

- one grab thread per camera (``capture3d.runtime.capture``): ``stream.grab`` -> the frame-set assembler
  (``capture3d.runtime.sync``, under a lock) -> ready frame sets are handed on;
- one processing thread (``capture3d.runtime.process_stage``): detect (``capture3d.detect``) ->
  ``Reconstructor.process`` -> latest snapshot (``latest()``, polled by displays) and, when ``collect`` is
  set, the list of results;
- one recorder thread when a ``SessionWriter`` is given (``capture3d.runtime.record_feed``);
  ``pause_recording`` / ``resume_recording`` leave frame sets out of the recording while capture and
  processing go on (the recorder receives the recorded sets renumbered from 0 without gaps, so its videos,
  frames.csv and a live BVH stay frame-aligned);
- one export thread when a ``pose_sink`` is given (e.g. ``capture3d.io.recording.LiveBVH``): it receives, in
  order and losslessly, every processed frame set's pose;
- one rig-refinement thread with a ``refiner`` (``capture3d.runtime.refine_stage``): a rig it accepts is
  swapped into the 3D stage by the processing thread itself, between two frame sets (never half a rig).

Live mode hands frame sets to processing through a latest-value slot (an older set not yet taken is
dropped and counted: latency stays low); a paced file replay (a source with ``use_gate``, no recorder)
shares a ``capture3d.runtime.replay_gate.ReplayGate`` between its readers instead: a set is read in every
view only when processing is free, else skipped whole (``dropped_sets``), and waits for every view, so no
set has a missing view; offline mode and the recorder use bounded lossless queues (producers wait:
nothing is dropped). The main thread runs ``wait`` (or ``run``): it expires frame sets whose views never
came, ends the run when every stream ended, and re-raises, with its traceback, the first exception of any
worker thread (which stops the pipeline). A camera failing mid-session (CameraError) is reported and the
other cameras go on (its views become missing).
"""
from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from typing import Callable


from capture3d.runtime.capture import Capture
from capture3d.runtime.handoff import END, LatestSlot, put_lossless, until_end
from capture3d.runtime.meters import RateMeter
from capture3d.runtime.pipeline_stats import pipeline_stats
from capture3d.runtime.process_stage import ProcessStage
from capture3d.runtime.record_feed import RecordFeed
from capture3d.runtime.refine_stage import save_refined_rig
from capture3d.runtime.replay_gate import ReplayGate
from capture3d.sources.base import FrameSource
from capture3d.runtime.sync import FrameSetAssembler, mispaired
from capture3d.types import FrameSet, LiveSnapshot, LiveStats, Pose3DFrame

log = logging.getLogger(__name__)

class Pipeline:
    """Wire a FrameSource to detection, the 3D stage and an optional recorder.

    detector: an object with ``detect(images, frame_index) -> Detections`` (``.pose`` (V, P, J, 3)), or
      None (no 2D/3D: capture and record only). reconstructor: ``capture3d.reconstruct.Reconstructor`` (or
      None). recorder: a ``capture3d.io.recording.SessionWriter`` or None. mode: "live" or "offline".
    collect: keep every Pose3DFrame (with its frame-set index) in ``results`` (offline processing).
    on_result: called from the processing thread with each LiveSnapshot (keep it quick).
    on_frame_set: called with each assembled FrameSet as it is handed on (from the thread that completed
      it, in set order, before the pause check; keep it quick): to watch sync, or to pause at a given set.
    pose_sink: an object with ``append(index, xyz_world)`` (frame-set index, (J, 3) metres or None when the
      set gave no pose) and ``close()``, fed every processed frame set by its own thread through a bounded
      lossless queue and closed by ``stop``; it must not raise for its own I/O errors (LiveBVH does not).
      With a recorder, index is the set's index in the recording and sets left out of the recording
      (``pause_recording``) are not given to the sink.
    refiner: a ``LiveRigRefiner`` (needs a reconstructor) or None: live rig refinement from the people in view.
    cropper: a ``capture3d.runtime.view_crops.ViewCropper`` (detect on crops around the subject) or None.
    replay_gate: share a ReplayGate between the readers of a paced file replay in live mode without a
      recorder (False: the older way, sets expire with missing views when the readers fall behind).
    """

    def __init__(self, source: FrameSource, detector=None, reconstructor=None, *, mode: str = "live",
                 recorder=None, sync: str | None = None, max_delay_frames: int = 3, queue_size: int = 64,
                 thumbnail_width: int = 160, latency_window: int = 2000, collect: bool = False,
                 on_result: Callable[[LiveSnapshot], None] | None = None,
                 on_frame_set: Callable[[FrameSet], None] | None = None,
                 pose_sink=None, refiner=None, cropper=None, replay_gate: bool = True) -> None:
        if mode not in ("live", "offline"):
            raise ValueError(f"mode must be 'live' or 'offline', got {mode!r}")
        self.source = source
        self._stage = ProcessStage(detector, reconstructor, source.live, thumbnail_width, latency_window, cropper)
        self.mode = mode
        self.recorder = recorder
        self.collect = collect
        self.on_result = on_result
        self.on_frame_set = on_frame_set
        self.pose_sink = pose_sink
        if refiner is not None and reconstructor is None:
            raise ValueError("a rig refiner needs a reconstructor (a rig)")
        self.refiner = refiner
        self.refined_rig_path = None  # SESSION/rig_refined.toml once a refined rig was swapped in
        self.names = [s.info.name for s in source.streams]
        self.gate: ReplayGate | None = None
        if replay_gate and mode == "live" and recorder is None and detector is not None and hasattr(source, "use_gate"):
            gate = ReplayGate(len(self.names))
            self.gate = gate if source.use_gate(gate) else None
        self._expire = source.live and self.gate is None  # sets of a gated replay wait for every view
        self._want_set = True  # the processing thread is free for the next set of a gated replay
        self.assembler = FrameSetAssembler(self.names, source.fps, sync or source.sync, max_delay_frames,
                                           data_expiry=self._expire)
        self._lock = threading.Lock()
        self._err_lock = threading.Lock()
        self._sink_done = threading.Event()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self.paused_sets = 0  # frame sets not processed while paused
        self._feed = None if recorder is None else RecordFeed(recorder, queue_size, self._stop, self.request_stop,
                                                              track_index=pose_sink is not None)
        self._capture = Capture(source, self.assembler, self._lock, self._dispatch, self._stop,
                                max(queue_size, 2 * max_delay_frames), self._end_input)
        self._finished = threading.Event()
        self._slot = LatestSlot()
        self._work: queue.Queue = queue.Queue(maxsize=queue_size)
        self._sink_queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._threads: list[threading.Thread] = []
        self._grab_threads: list[threading.Thread] = []
        self._input_done = False
        self._error: BaseException | None = None
        self._error_thread = ""
        self.stop_reason = ""
        #: frame sets still being assembled when a stop was requested: recorded, not processed
        self.unprocessed_at_stop = 0
        self.results: list[tuple[int, Pose3DFrame]] = []
        self._latest: LiveSnapshot | None = None
        self._set_rate = RateMeter()
        self.mispaired = 0
        self._brief_at_s, self._brief = 0.0, None
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
        self._t_start = time.monotonic()
        self._grab_threads = self._capture.threads(self._guard)
        self._threads = list(self._grab_threads)
        for name, target, wanted in (("process", self._process_loop, True),
                                     ("recorder", self._feed and self._feed.loop, self.recorder is not None),
                                     ("export", self._sink_loop, self.pose_sink is not None),
                                     ("refine", self.refiner and self.refiner.loop, self.refiner is not None)):
            if wanted:
                self._threads.append(threading.Thread(target=self._guard, args=(target,), name=name, daemon=True))
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
            if self.mode == "live" and self._expire:
                with self._lock:
                    self._dispatch(self.assembler.expire(now))
            if on_tick is not None:
                on_tick(self)
            self._finished.wait(tick_s)
        self._raise_error()

    def poll(self) -> LiveSnapshot | None:
        """One tick of the main-thread duties without blocking, then ``latest()``: for a GUI timer that
        replaces ``wait`` (errors are re-raised later by ``stop``)."""
        if self.mode == "live" and self._expire and not self._stop.is_set():
            with self._lock:
                self._dispatch(self.assembler.expire(time.monotonic()))
        return self._latest

    def pause(self) -> None:
        """Pause the 2D/3D processing (the viewer's "Stop live"): frame sets completed from now on are still
        captured and recorded but not processed (counted in ``paused_sets``; a pose sink holds the last pose
        over them)."""
        self._paused.set()

    def resume(self) -> None:
        """Resume processing after ``pause`` (the viewer's "Start live")."""
        self._paused.clear()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def pick_person(self, person_id: int | None) -> None:
        """With ``[tracking] people = "all"``: the person whose pose goes out from the next frame set on
        (snapshots' ``pose``, the streams' single pose, the live BVH); None: the lowest id in view. Safe from
        any thread (the viewer's person picker). See ``capture3d.runtime.person_pick``."""
        self._stage.pick.request(person_id)

    def pause_recording(self) -> None:
        """Leave the next frame sets out of the recording (counted in ``record_paused_sets``) while capture
        and processing go on; no effect without a recorder. Safe from any thread, also before ``start``."""
        if self._feed is not None:
            self._feed.pause()

    def resume_recording(self) -> None:
        """Record frame sets again after ``pause_recording`` (the recording starts unpaused)."""
        if self._feed is not None:
            self._feed.resume()

    @property
    def recording(self) -> bool:
        """Frame sets are being recorded now: a recorder, not closed, recording not paused."""
        return self._feed is not None and self._feed.recording

    @property
    def record_paused_sets(self) -> int:
        """Frame sets left out of the recording while it was paused."""
        return 0 if self._feed is None else self._feed.paused_sets

    @property
    def record_waits(self) -> int:
        """Times a frame set waited for room in the recorder's queue (the recorder fell behind)."""
        return 0 if self._feed is None else self._feed.waits

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
        if self.refiner is not None:
            self.refiner.stop()
        for t in self._threads:
            if t.name == "export":  # after the process thread (its producer) has ended
                put_lossless(self._sink_queue, END, self._stop, consumer_done=self._sink_done)
            t.join(None if t.name in ("recorder", "export") else timeout_s)
        if self.recorder is not None:
            self.recorder.close()
        if self.pose_sink is not None:
            self.pose_sink.close()
        self.source.stop()
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
            self._slot.put(END)
            if threading.current_thread().name == "process":
                self._finished.set()
            if threading.current_thread().name == "recorder":
                self._feed.done.set()
            if threading.current_thread().name == "export":
                self._sink_done.set()

    def _raise_error(self) -> None:
        with self._err_lock:
            exc, self._error = self._error, None
        if exc is not None:
            exc.add_note(f"(raised in pipeline thread {self._error_thread!r})")
            raise exc

    @property
    def detector(self):
        return self._stage.detector

    @property
    def reconstructor(self):
        return self._stage.reconstructor

    # ------------------------------------------------------------------ capture -> processing, recording
    @property
    def failed_cameras(self) -> dict[str, str]:
        """Cameras that failed mid-session: name -> error message."""
        return self._capture.failed_cameras

    @property
    def incomplete_images(self) -> int:
        """Images the cameras delivered incomplete."""
        return self._capture.incomplete_images

    def _end_input(self) -> None:
        with self._lock:
            if self._input_done:
                return
            self._input_done = True
            # after a stop request the sets still being assembled are incomplete (their missing views were
            # cut by the stop, not lost by the cameras): record them, do not process them; a gated replay
            # (no recorder) skips them whole
            if self.gate is not None and self._stop.is_set():
                self.gate.dropped += self.assembler.discard()
            self._dispatch(self.assembler.flush(), process=not self._stop.is_set())
        if self.mode == "offline":
            put_lossless(self._work, END, self._stop, consumer_done=self._finished)
        else:
            self._slot.put(END)
        if self._feed is not None:
            self._feed.end()

    def _dispatch(self, sets: list[FrameSet], process: bool = True) -> None:
        """Called with the lock held: hand ready frame sets to processing (unless ``process`` is False)
        and recording."""
        for fs in sets:
            self._set_rate.tick()
            if mispaired(fs):
                self.mispaired += 1
                log.error("frame set %d pairs frames of different instants", fs.index)
            if self.on_frame_set is not None:
                self.on_frame_set(fs)
            if self._feed is not None:
                self._feed.offer(fs)
            if not process or (self._stop.is_set() and not fs.present.all()):
                # cut by the stop (cameras stop reading at different moments): recorded, not processed
                self.unprocessed_at_stop += 1
                self._regate()
                continue
            if self._paused.is_set():  # captured (and recorded) while processing is paused
                self.paused_sets += 1
                self._regate()
                continue
            if self.mode == "live":
                self._slot.put(fs)
            else:
                put_lossless(self._work, fs, self._stop)

    def _regate(self) -> None:
        """A gated replay's set will not be processed: let the readers keep the next one."""
        if self.gate is not None:
            self.gate.request()

    def _sink_index(self, set_index: int) -> int | None:
        """Processing thread: frame set set_index's index for the pose sink (its index in the recording, or
        None when it was not recorded); with no recorder, set_index itself."""
        return set_index if self._feed is None else self._feed.sink_index(set_index)

    # ------------------------------------------------------------------ processing
    def _next_set(self):
        if self.mode == "live":
            if self.gate is not None and self._want_set:
                self._want_set = False
                self.gate.request()  # free: the readers keep the next frame set they reach
            return self._slot.get(0.1)
        try:
            return self._work.get(timeout=0.1)
        except queue.Empty:
            return None

    def _process_loop(self) -> None:
        while True:
            fs = self._next_set()
            if fs is END:
                break
            if fs is None:
                if self._stop.is_set():
                    break
                continue
            self._process(fs)
            self._want_set = True
        self._finished.set()

    def _process(self, fs: FrameSet) -> None:
        sink_index = self._sink_index(fs.index) if self.pose_sink is not None else None
        if self.refiner is not None:
            swap = self.refiner.swap_into(self._stage.reconstructor, fs.index)  # the only thread triangulating
            if swap is not None and self._stage.cropper is not None:  # crops follow the swapped rig
                self._stage.cropper.rig = self._stage.reconstructor.rig
            if swap is not None and self.recorder is not None:
                self.refined_rig_path = save_refined_rig(self.recorder.folder, swap, len(self.refiner.swaps),
                                                         sink_index, self._feed.recorded_sets)
        pose, kp_used, now = self._stage.run(fs)
        if self.refiner is not None:
            self.refiner.offer(fs.index, kp_used if pose is not None else None)
        if self.collect and pose is not None:
            self.results.append((fs.index, pose))
        if sink_index is not None:  # (None without a pose_sink)
            put_lossless(self._sink_queue, (sink_index, None if pose is None else pose.xyz_world), self._stop,
                         consumer_done=self._sink_done)
        if self._brief is None or now - self._brief_at_s >= 0.2:
            self._brief_at_s, self._brief = now, self.stats(brief=True)
        brief = self._brief if self.recorder is None else dataclasses.replace(self._brief, recording=self.recording)
        recon = self._stage.reconstructor
        rig = None if recon is None else recon.rig
        people = None if recon is None or pose is None else recon.latest_people
        self._latest = LiveSnapshot(fs.index, fs.time_s, pose, kp_used, self._stage.thumbnails, brief, rig, people,
                                    *(self._stage.followed() if people is not None else (None, None)))
        if self.on_result is not None:
            self.on_result(self._latest)

    # ------------------------------------------------------------------ exports
    def _sink_loop(self) -> None:
        for item in until_end(self._sink_queue):
            self.pose_sink.append(*item)
        self._sink_done.set()

    # ------------------------------------------------------------------ stats
    def stats(self, brief: bool = False) -> LiveStats:
        """The live figures now (see ``LiveStats``). brief: without the per-camera breakdown."""
        return pipeline_stats(self, brief)

