"""A synthetic live source of LiveSnapshot objects (no Qt): drives the live viewer in tests, benchmarks
and demos until a real pipeline is attached.

A worker thread plays a walking motion (BODY_25 or WHOLEBODY_135) seen by a synthetic rig through the
2D detector-error model at ``rate_hz`` frame sets per second and publishes each result into a
latest-value slot; ``latest()`` never blocks and counts the snapshots that were overwritten unread.
"""
from __future__ import annotations

import logging
import threading
import time

import numpy as np

from capture3d.geometry.camera import Rig
from capture3d.runtime.handoff import LatestSlot
from capture3d.synth import ErrorModel, make_rig, observe, walking_motion
from capture3d.types import LiveSnapshot, LiveStats, Pose3DFrame
from capture3d.viewer.controls import LiveControls

log = logging.getLogger(__name__)


def _thumbnail_backgrounds(rig: Rig, width_px: int) -> list[np.ndarray]:
    """One dark BGR image per camera, (H, W, 3) uint8 at the camera's aspect ratio, with a floor-like
    gradient so that the thumbnails look like images rather than empty panels."""
    out = []
    for i, cam in enumerate(rig.cameras):
        w, h = cam.size_wh
        th = max(1, round(width_px * h / w))
        ramp = np.linspace(0.0, 1.0, th)[:, None, None]
        base = np.array([40 + 6 * (i % 3), 38, 34], float)
        img = base + ramp * np.array([30.0, 34.0, 40.0])
        out.append(np.ascontiguousarray(np.broadcast_to(img, (th, width_px, 3)).astype(np.uint8)))
    return out


class SyntheticLiveStream:
    """Synthetic frame sets at ``rate_hz``: rig ``make_rig(n_cameras)``, ``walking_motion`` with
    ``whole_body``, ``observe`` errors. The 3D pose is the ground truth plus 5 mm noise.

    Use ``start()``/``stop()`` (also as a context manager); ``latest()`` is the viewer's poll function.
    ``controls()`` gives LiveControls bound to this stream (pause/resume, fake recording). ``publish_next()``
    produces one snapshot in the caller's thread (tests count snapshots without a clock).
    """

    def __init__(self, n_cameras: int = 8, whole_body: bool = True, rate_hz: float = 60.0, n_frames: int = 240,
                 thumb_width_px: int = 192, seed: int = 0) -> None:
        self.rate_hz = float(rate_hz)
        self.rig = make_rig(n_cameras, seed=seed)
        motion = walking_motion(n_frames, fps=rate_hz, whole_body=whole_body)
        self.keypoint_set = motion.keypoint_set
        obs = observe(self.rig, motion.xyz_world, ErrorModel(), seed=seed, keypoint_set=motion.keypoint_set)
        rng = np.random.default_rng(seed)
        self.xyz_world = motion.xyz_world + rng.normal(0.0, 0.005, motion.xyz_world.shape)  # (T, J, 3)
        self.keypoints2d = np.ascontiguousarray(obs.keypoints_px.transpose(1, 0, 2, 3))  # (T, V, J, 3)
        err = np.linalg.norm(obs.keypoints_px[..., :2] - obs.true_px, axis=-1)  # (V, T, J)
        inl = obs.inlier
        err = np.where(inl, err, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.reproj_err_px = np.where(inl.any(axis=0), err.sum(axis=0) / inl.sum(axis=0), np.nan)  # (T, J)
            self.reproj_mean_px = err.sum(axis=(0, 2)) / np.maximum(inl.sum(axis=(0, 2)), 1)  # (T,)
        self.n_views = obs.inlier.sum(axis=0).astype(np.int64)  # (T, J)
        self.thumbnails = tuple(_thumbnail_backgrounds(self.rig, thumb_width_px))
        self._slot = LatestSlot()
        self._stop = threading.Event()
        self._running = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.produced = 0
        self.recording = False
        self._lat_ms: list[float] = []
        self._recent: list[float] = []
        self._t0 = time.perf_counter()

    # ------------------------------------------------------------------------------- lifecycle
    def start(self) -> "SyntheticLiveStream":
        self._running.set()
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run_guarded, name="synthetic-live", daemon=True)
            self._thread.start()
        return self

    def pause(self) -> None:
        self._running.clear()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self.error is not None:
            raise RuntimeError("synthetic live stream failed") from self.error

    def __enter__(self) -> "SyntheticLiveStream":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def controls(self) -> LiveControls:
        def start_rec():
            self.recording = True
            return "(synthetic: nothing written)"

        def stop_rec():
            self.recording = False

        return LiveControls(start=self.start, stop=self.pause, start_recording=start_rec,
                            stop_recording=stop_rec)

    # ------------------------------------------------------------------------------- slot
    @property
    def drops(self) -> int:
        """Snapshots overwritten before anyone read them."""
        return self._slot.drops

    def latest(self) -> LiveSnapshot | None:
        """The newest snapshot, or None when nothing new since the last call. Never blocks."""
        return self._slot.get(0.0)

    def publish_next(self) -> LiveSnapshot:
        """Make the next frame set's snapshot now and put it in the slot; returns it."""
        i = self.produced
        k = i % self.xyz_world.shape[0]
        t_capture = time.perf_counter()
        pose = Pose3DFrame(self.xyz_world[k], np.isfinite(self.xyz_world[k, :, 0]).astype(float),
                           self.reproj_err_px[k], self.n_views[k], np.zeros(len(self.rig), np.int64),
                           t_capture - self._t0)
        self._recent = [t for t in self._recent if t_capture - t < 1.0] + [t_capture]
        span = self._recent[-1] - self._recent[0]
        fps = (len(self._recent) - 1) / span if len(self._recent) > 1 and span > 0 else 0.0
        self._lat_ms = (self._lat_ms + [(time.perf_counter() - t_capture) * 1e3])[-120:]
        stats = LiveStats(fps_capture=fps, fps_3d=fps, latency_ms_p50=float(np.percentile(self._lat_ms, 50)),
                          latency_ms_p95=float(np.percentile(self._lat_ms, 95)), drops=self.drops,
                          processed=i + 1, people=1, reproj_err_px=float(self.reproj_mean_px[k]),
                          recording=self.recording)
        snap = LiveSnapshot(i, t_capture - self._t0, pose, self.keypoints2d[k], self.thumbnails, stats)
        self._slot.put(snap)
        self.produced += 1
        return snap

    # ------------------------------------------------------------------------------- worker
    def _run_guarded(self) -> None:
        try:
            self._run()
        except Exception as exc:  # stored and re-raised by stop() in the owning thread
            log.exception("synthetic live stream failed")
            self.error = exc

    def _run(self) -> None:
        period = 1.0 / self.rate_hz
        next_t = time.perf_counter()
        while not self._stop.is_set():
            self._running.wait()
            if self._stop.is_set():
                break
            now = time.perf_counter()
            if now < next_t:
                time.sleep(next_t - now)
            next_t = max(next_t + period, time.perf_counter() - period)
            self.publish_next()
