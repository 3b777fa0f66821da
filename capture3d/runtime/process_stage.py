"""The processing thread's work on one frame set: 2D detection (on crops around the subject when a
``capture3d.runtime.view_crops.ViewCropper`` is given), missing views masked, the 3D stage; with its timings
(detector and 3D stage durations, capture-to-result latency, result rate, busy fraction) and the viewer's
thumbnails. No threads here: the pipeline calls ``run`` from its processing thread.
"""
from __future__ import annotations

import time

import cv2
import numpy as np

from capture3d.detect.keyframes import KeyframeDetector
from capture3d.reconstruct.track import gather_people
from capture3d.runtime.meters import BusyMeter, LatencyMeter, RateMeter
from capture3d.runtime.person_pick import PersonPick
from capture3d.types import FrameSet, Pose3DFrame

_THUMBNAIL_PERIOD_S = 0.1  # thumbnails are refreshed at most this often


class ProcessStage:
    """detector: ``detect(images, frame_index) -> Detections`` (``.pose`` (V, P, J, 3)) or None (no 2D/3D).
    reconstructor: ``capture3d.reconstruct.Reconstructor`` or None. live: the source is live (the latency
    from capture to result is measured). thumbnail_width: px of the thumbnails (0: none). cropper: a
    ViewCropper (detect on crops around the subject) or None (whole images).
    """

    def __init__(self, detector, reconstructor, live: bool, thumbnail_width: int, latency_window: int,
                 cropper=None) -> None:
        self.detector = detector
        self.keyframes = detector if isinstance(detector, KeyframeDetector) else None
        self.cropper = cropper
        self.busy = BusyMeter()
        self.reconstructor = reconstructor
        self.live = live
        self.thumbnail_width = thumbnail_width
        self.done_rate = RateMeter()
        self._latency, self._latency_3d = LatencyMeter(latency_window), LatencyMeter(latency_window)
        self._detect_ms, self._reconstruct_ms = LatencyMeter(latency_window), LatencyMeter(latency_window)
        self._last_thumb_s = 0.0
        self.people = 0  # people detected in the latest frame set (the most in any view)
        self.posed = 0  # frame sets processed whose 3D result has at least one joint
        self.thumbnails: tuple[np.ndarray, ...] | None = None  # the latest, (H, W, 3) uint8 per view
        self.pick = PersonPick()  # [tracking] people = "all": whose pose goes out (the viewer's person picker)

    def run(self, fs: FrameSet) -> tuple[Pose3DFrame | None, np.ndarray | None, float]:
        """Detect and reconstruct one frame set.

        Returns the pose (None without a 3D stage or detections), the 2D keypoints used per view (V, J, 3)
        (the chosen person's, missing where none was chosen; person 0 without a 3D stage; None without a
        detector) and the monotonic time it finished.
        """
        t0 = time.perf_counter()
        kp = pose = None
        if self.detector is not None:
            first = next((f for f in fs.frames if f is not None), None)
            frame_index = first.metadata.get("frame_index", fs.index) if first is not None else fs.index
            if self.keyframes is not None:  # the CNN on keyframes (on crops with the cropper), tracking between
                det = self.keyframes.detect(fs.images, frame_index, time_s=fs.time_s)
            elif self.cropper is not None:
                det = self.cropper.detect(self.detector, fs.images, frame_index, fs.time_s)
            else:
                det = self.detector.detect(fs.images, frame_index=frame_index)
            # (V, P, J, 3) in the 3D stage's keypoint set (the detector's own without one)
            pose_2d = det.pose if self.reconstructor is None else det.keypoints_in(self.reconstructor.keypoint_set)
            kp = np.array(pose_2d, dtype=float)
            missing = ~fs.present
            kp[missing, :, :, :2] = np.nan
            kp[missing, :, :, 2] = 0.0
        t1 = time.perf_counter()
        if self.reconstructor is not None and kp is not None:
            self.pick.apply(self.reconstructor)
            pose = self.reconstructor.process(kp, fs.time_s)
            self.pick.settle(self.reconstructor)
            self.posed += bool(np.isfinite(pose.xyz_world).any())
            if self.cropper is not None:
                self.cropper.update(pose.xyz_world, fs.time_s)
            if self.keyframes is not None and self.reconstructor.keypoint_set.name == self.keyframes.keypoint_set:
                self.keyframes.check_drift(self.reconstructor.rig.project(pose.xyz_world), pose.person_per_view)
        t2 = time.perf_counter()
        self._detect_ms.add(t1 - t0)
        self._reconstruct_ms.add(t2 - t1)
        now = time.monotonic()
        self.busy.add(now - (t2 - t0), now)
        if self.live:
            self._latency.add(now - fs.time_s)
            self._latency_3d.add(now - fs.time_s - (t1 - t0))
        self.done_rate.tick(now)
        if self.thumbnail_width and now - self._last_thumb_s >= _THUMBNAIL_PERIOD_S:
            self._last_thumb_s = now
            self.thumbnails = tuple(self._thumb(img) for img in fs.images)
        kp_used = None
        if kp is not None:
            self.people = int(np.isfinite(kp[..., 0]).any(axis=-1).sum(axis=-1).max(initial=0))
            chosen = pose.person_per_view if pose is not None else np.zeros(kp.shape[0], int)
            kp_used = gather_people(kp, chosen)
        return pose, kp_used, now

    def followed(self) -> tuple[int | None, int | None]:
        """(whose pose the latest frame set gave: a person id or None, the last pick that ended because its
        person was retired or None); both None in single-subject mode."""
        return getattr(self.reconstructor, "person_id", None), self.pick.retired

    def figures(self, now: float) -> dict:
        """The stage's LiveStats fields: rate (Hz), count, people in the latest set, latency percentiles (ms):
        exposure -> 3D result (``latency_3d`` without the detector), the detector's and the 3D stage's
        median durations, the fraction of time busy, the crop counters (with a cropper) and the keyframe
        counters (with keyframes: interval, views detected / tracked / re-detected, keyframe rate per view,
        points dropped by the tracking and drift checks)."""
        p50, p95 = self._latency.percentiles()
        q50, q95 = self._latency_3d.percentiles()
        d50, _ = self._detect_ms.percentiles()
        r50, _ = self._reconstruct_ms.percentiles()
        unusable = getattr(self.detector, "unusable_views", None)
        crops = {}
        if self.cropper is not None:
            c = self.cropper.counts
            crops = {"views_cropped": c.cropped, "views_full": c.full, "crops_lost": c.lost}
        if self.keyframes is not None:
            k = self.keyframes.counts
            crops.update(keyframe_every=self.keyframes.every, views_detected=sum(k.detected),
                         views_tracked=sum(k.tracked), redetections=sum(k.redetected),
                         keyframe_rate=tuple(round(r, 3) for r in k.keyframe_rate()),
                         points_dropped=k.dropped_fb + k.dropped_drift)
        return {**crops, "process_busy": self.busy.fraction(now), "fps_3d": self.done_rate.rate(now),
                "processed": self.done_rate.count, "posed": self.posed, "people": self.people,
                "unusable_views": unusable.count if unusable is not None else 0,
                "latency_ms_p50": p50,
                "latency_ms_p95": p95, "latency_3d_ms_p50": q50, "latency_3d_ms_p95": q95, "detect_ms_p50": d50,
                "reconstruct_ms_p50": r50}

    def _thumb(self, image) -> np.ndarray:
        w = self.thumbnail_width
        if image is None:
            return np.zeros((w * 3 // 4, w, 3), np.uint8)
        h = max(1, round(image.shape[0] * w / image.shape[1]))
        small = cv2.resize(image, (w, h), interpolation=cv2.INTER_NEAREST)
        return small if small.ndim == 3 else cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)
