"""Keyframe detection + 2D keypoint tracking per view: the CNN runs on keyframes and every person's keypoints
are tracked between them with pyramidal Lucas-Kanade, so a weak CPU keeps up with the cameras.

Per view: one small grey image per frame (halved until its long side is at most ``track_long_side_px``; LK builds its pyramid, ``levels``
deep, shared by all the points of the view: every person's body, hands and face in one
``cv2.calcOpticalFlowPyrLK`` call; OpenCV's Python binding takes no pre-built pyramid), forward then backward; a point whose backward track misses its start by more than ``fb_max_px`` (tracking-image px), or
whose patch no longer looks like its start (``max_patch_err``), is dropped (missing until the next keyframe). A view that lost more than ``max_lost_fraction`` of the points of
its keyframe is re-detected at once (in the same frame set). ``check_drift`` drops tracked points that
drift from the reprojection of the current 3D pose.

Keyframes: every view is detected on the first set, then every ``detect_every`` sets, the views staggered
(view v's keyframes come v * N / V sets after view 0's) so that each set pays a share of the detector.
``detect_every = "auto"`` picks N from the CPU time left and the subject's speed (``AutoInterval``).

Scores: a tracked point keeps the score its keyframe gave it. Output shapes are the inner detector's:
(V, P, J, 3) per part, x px, y px, score, full-image pixels.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from capture3d.detect.base import Detections, Detector, StageTimer, as_image_list, check_image, stack_people
from capture3d.config import detect_every_value

log = logging.getLogger(__name__)


@dataclass
class KeyframeCounts:
    """Per view (lists of V ints): views detected (keyframes, re-detections included) and tracked;
    re-detections (a view that lost too many points, detected at once); points dropped by the
    tracking checks (forward-backward, patch error) and by the 3D drift check (totals)."""

    detected: list[int] = field(default_factory=list)
    tracked: list[int] = field(default_factory=list)
    redetected: list[int] = field(default_factory=list)
    dropped_fb: int = 0
    dropped_drift: int = 0

    def grow(self, n_views: int) -> None:
        for arr in (self.detected, self.tracked, self.redetected):
            arr.extend([0] * (n_views - len(arr)))

    def keyframe_rate(self) -> list[float]:
        """Per view, the fraction of its frame sets that were detected (1.0: every set)."""
        return [d / max(d + t, 1) for d, t in zip(self.detected, self.tracked)]


class AutoInterval:
    """``detect_every = "auto"``: N = max(N_cpu, min(N_speed, max_every)).

    N_cpu: the fewest sets between keyframes that keep the detector within ``budget_share`` of a frame
    period once tracking is paid: ceil(V * detect_ms_per_view / (budget_share * period_ms - track_ms)).
    N_speed: sets until the subject moves ``shift_px`` (full-image px) at its current 2D speed, so a fast
    subject gets keyframes more often when the CPU allows it. Times are exponential moving averages.
    """

    def __init__(self, fps: float, budget_share: float = 0.5, shift_px: float = 40.0, max_every: int = 30) -> None:
        self.period_ms = 1000.0 / fps if fps > 0 else 1000.0 / 30.0
        self.budget_share, self.shift_px, self.max_every = budget_share, shift_px, max_every
        self.detect_ms_per_view = float("nan")
        self.track_ms = float("nan")
        self.speed_px = float("nan")  # median tracked-point displacement per set, full px

    @staticmethod
    def _ema(old: float, new: float, a: float = 0.2) -> float:
        return new if math.isnan(old) else (1 - a) * old + a * new

    def observe(self, detect_ms: float, n_detected: int, track_ms: float, speed_px: float | None) -> None:
        if n_detected:
            self.detect_ms_per_view = self._ema(self.detect_ms_per_view, detect_ms / n_detected)
        self.track_ms = self._ema(self.track_ms, track_ms)
        if speed_px is not None:
            self.speed_px = self._ema(self.speed_px, speed_px)

    def every(self, n_views: int) -> int:
        if math.isnan(self.detect_ms_per_view):
            return 1
        room_ms = max(self.budget_share * self.period_ms - np.nan_to_num(self.track_ms), 1.0)
        n_cpu = math.ceil(n_views * self.detect_ms_per_view / room_ms)
        n_speed = self.max_every if not self.speed_px > 0 else max(1, int(self.shift_px / self.speed_px))
        return int(min(max(n_cpu, min(n_speed, self.max_every)), self.max_every))


@dataclass
class _ViewState:
    parts: dict[str, np.ndarray]  # part -> (P, J, 3) full px, the current keypoints
    pyramid: np.ndarray  # the previous frame's small grey image (h, w) uint8
    scale: float  # tracking image px per full-image px
    size_wh: tuple[int, int]
    n_at_key: int  # valid points at the keyframe
    next_key: int = 0  # the set index of its next scheduled keyframe
    fresh: bool = True  # detected on this set (not tracked yet)


class KeyframeDetector(Detector):
    """inner: the image detector run on keyframes (its ``detect_views`` for some views of a set).
    detect_every: "auto" or N >= 1 (see the module docstring). fps: the camera rate (the auto budget).
    cropper: an object with ``detect(detector, images, frame_index, time_s, views=...) -> Detections`` (the
    runtime's ViewCropper) used for keyframes, or None (whole images). track_long_side_px: the tracking
    images' long side. win_px, levels: LK window and pyramid levels. fb_max_px: forward-backward limit in
    tracking-image px. max_patch_err: a point whose patch differs from its start by more (mean absolute
    grey-level difference, LK's error) is dropped too (a patch that now shows something else can pass the
    forward-backward check by chance). max_lost_fraction: a view losing more of its keyframe's points is re-detected.
    drift_max_px: ``check_drift``'s limit in full-image px.
    """

    accepts_crops = False

    def __init__(self, inner: Detector, detect_every: int | str = "auto", *, fps: float = 0.0, cropper=None,
                 track_long_side_px: int = 640, win_px: int = 21, levels: int = 3, fb_max_px: float = 1.5,
                 max_patch_err: float = 25.0, max_lost_fraction: float = 0.5, drift_max_px: float = 100.0, auto: AutoInterval | None = None) -> None:
        self.inner = inner
        self.detect_every = detect_every_value(detect_every)
        self.name = f"{inner.name}+tracking"
        self.keypoint_set = inner.keypoint_set
        self.cropper = cropper
        self.track_long_side_px = int(track_long_side_px)
        self.win = (int(win_px), int(win_px))
        self.levels = int(levels)
        self.fb_max_px = float(fb_max_px)
        self.max_lost_fraction = float(max_lost_fraction)
        self.max_patch_err = float(max_patch_err)
        self.drift_max_px = float(drift_max_px)
        self.auto = auto or AutoInterval(fps)
        self.counts = KeyframeCounts()
        self.unusable_views = getattr(inner, "unusable_views", None)
        self._views: list[_ViewState | None] = []
        self._set_count = 0  # frame sets seen (the keyframe schedule's clock)
        self._criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03)

    @property
    def every(self) -> int:
        """The keyframe interval in use now (frame sets)."""
        return self.auto.every(max(len(self._views), 1)) if self.detect_every == "auto" else int(self.detect_every)

    def close(self) -> None:
        self.inner.close()

    # ------------------------------------------------------------------ per set
    def detect(self, images, frame_index: int | None = None, time_s: float | None = None) -> Detections:
        """images: V images -> Detections (V, P, J, 3) per part, detected on this set's keyframe views and
        tracked in the others. time_s: the set's time (the cropper's prediction)."""
        timer = StageTimer()
        views = as_image_list(images)
        V = len(views)
        if len(self._views) != V:
            self._views = [None] * V
        self.counts.grow(V)
        every = self.every
        t0 = time.perf_counter()
        pyramids, scales, due, shifts = [None] * V, [1.0] * V, [], []
        for v, image in enumerate(views):
            if check_image(image, v) is not None:
                self._views[v] = None
                due.append(v)  # the inner detector reports the bad image
                continue
            pyramids[v], scales[v] = self._pyramid(image)
            st = self._views[v]
            size = (image.shape[1], image.shape[0])
            if st is None or st.size_wh != size or self._set_count >= st.next_key:
                due.append(v)
                continue
            lost, shift = self._track(st, pyramids[v])
            shifts.extend(shift)
            if lost:
                self.counts.redetected[v] += 1
                due.append(v)
            else:
                self.counts.tracked[v] += 1
        track_ms = 1000.0 * (time.perf_counter() - t0)
        timer.add("track", track_ms / 1000.0)
        t1 = time.perf_counter()
        det = self._detect_views(views, due, frame_index, time_s) if due else None
        detect_ms = 1000.0 * (time.perf_counter() - t1)
        timer.add("detect", detect_ms / 1000.0)
        self.auto.observe(detect_ms, len(due), track_ms, float(np.median(shifts)) if shifts else None)
        every = self.every
        for v in due:
            self.counts.detected[v] += 1
            new = self._views[v] is None
            if pyramids[v] is None:
                continue
            parts = self._keep_people(det, v)
            n_key = int(sum(np.isfinite(a[..., 0]).sum() for a in parts.values()))
            # a view's first keyframe sets its phase: view v's keyframes come v * N / V sets after view 0's,
            # so each set pays a share of the detector; later keyframes keep the phase (N sets apart)
            phase = round(v * every / V) if new else 0
            self._views[v] = _ViewState(parts, pyramids[v], scales[v], (views[v].shape[1], views[v].shape[0]),
                                        n_key, self._set_count + every + phase)
        self._set_count += 1
        return self._assemble(views, det, timer)

    def _keep_people(self, det: Detections, v: int) -> dict[str, np.ndarray]:
        """View v's people that have a joint in any part: {part: (P_v, J, 3)}."""
        parts = det.parts()
        seen = np.zeros(det.n_people, bool)
        for arr in parts.values():
            seen |= np.isfinite(arr[v][..., 0]).any(axis=-1)
        return {name: np.array(arr[v][seen], float) for name, arr in parts.items()}

    def _detect_views(self, views: list, due: list[int], frame_index, time_s) -> Detections:
        """The inner detector on views ``due``: Detections with all V views (the others missing)."""
        if self.cropper is not None:
            return self.cropper.detect(self.inner, views, frame_index, time_s, views=due)
        det = self.inner.detect_views([views[v] for v in due], due, frame_index)
        out = {}
        for name, arr in det.parts().items():
            full = np.full((len(views),) + arr.shape[1:], np.nan)
            full[..., 2] = 0.0
            full[due] = arr
            out[name] = full
        return Detections(pose=out["pose"], hand_left=out.get("hand_left"), hand_right=out.get("hand_right"),
                          face=out.get("face"), timings_s=det.timings_s, keypoint_set=det.keypoint_set)

    def _assemble(self, views: list, det: Detections | None, timer: StageTimer) -> Detections:
        names = list(det.parts()) if det is not None else next(
            (list(st.parts) for st in self._views if st is not None), ["pose"])
        joints = {}
        for st in self._views:
            if st is not None:
                joints.update({n: a.shape[-2] for n, a in st.parts.items()})
        if det is not None:
            joints.update({n: a.shape[-2] for n, a in det.parts().items()})
        parts = {}
        for name in names:
            J = joints.get(name, 25)
            per_view = [st.parts[name] if st is not None and name in st.parts else np.zeros((0, J, 3))
                        for st in self._views]
            parts[name] = stack_people(per_view, J)
        sizes = np.array([(im.shape[1], im.shape[0]) if check_image(im, v) is None else (0, 0)
                          for v, im in enumerate(views)], int)
        return Detections(pose=parts["pose"], hand_left=parts.get("hand_left"), hand_right=parts.get("hand_right"),
                          face=parts.get("face"), image_size_wh=sizes, timings_s=timer.result(),
                          keypoint_set=self.keypoint_set)

    # ------------------------------------------------------------------ tracking
    def _pyramid(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """image (H, W[, C]) uint8 -> (the grey image halved by ``cv2.pyrDown`` until its long side is at most
        track_long_side_px, (h, w) uint8; its scale, tracking px per full-image px). pyrDown (Gaussian, then
        every other pixel) costs a tenth of an area resize of the colour image."""
        if image.ndim == 3 and image.shape[2] >= 3:
            grey = cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2GRAY)
        else:
            grey = np.ascontiguousarray(image.reshape(image.shape[0], image.shape[1]))
        scale = 1.0
        while max(grey.shape) > self.track_long_side_px:
            grey = cv2.pyrDown(grey)
            scale *= 0.5
        return grey, scale

    def _track(self, st: _ViewState, pyramid: np.ndarray) -> tuple[bool, list[float]]:
        """Track view state st into the new pyramid (in place). Returns (lost too many points, the tracked
        points' displacements in full px)."""
        flat = np.concatenate([a.reshape(-1, 3) for a in st.parts.values()]) if st.parts else np.zeros((0, 3))
        ok = np.isfinite(flat[:, 0])
        shifts: list[float] = []
        if ok.any():
            p0 = (flat[ok, :2] * st.scale).astype(np.float32).reshape(-1, 1, 2)
            lk = dict(winSize=self.win, maxLevel=self.levels, criteria=self._criteria)
            p1, s1, err = cv2.calcOpticalFlowPyrLK(st.pyramid, pyramid, p0, None, **lk)
            p0r, s2, _ = cv2.calcOpticalFlowPyrLK(pyramid, st.pyramid, p1, None, **lk)
            fb = np.linalg.norm((p0r - p0).reshape(-1, 2), axis=1)
            good = (s1.ravel() == 1) & (s2.ravel() == 1) & (fb < self.fb_max_px) & (err.ravel() < self.max_patch_err)
            h, w = pyramid.shape[:2]
            xy = p1.reshape(-1, 2)
            good &= (xy[:, 0] >= -0.5) & (xy[:, 0] <= w - 0.5) & (xy[:, 1] >= -0.5) & (xy[:, 1] <= h - 0.5)
            self.counts.dropped_fb += int((~good).sum())
            idx = np.flatnonzero(ok)
            new_xy = xy / st.scale
            shifts = list(np.linalg.norm(new_xy[good] - flat[idx[good], :2], axis=1))
            flat[idx[good], :2] = new_xy[good]
            flat[idx[~good]] = (np.nan, np.nan, 0.0)
        i = 0
        for name, a in st.parts.items():
            n = a.shape[0] * a.shape[1]
            st.parts[name] = flat[i:i + n].reshape(a.shape)
            i += n
        st.pyramid = pyramid
        st.fresh = False
        n_now = int(np.isfinite(flat[:, 0]).sum())
        return n_now < (1.0 - self.max_lost_fraction) * st.n_at_key, shifts

    def check_drift(self, expected_xy_px: np.ndarray, person_per_view: np.ndarray) -> int:
        """Drop tracked body points farther than drift_max_px from where the current 3D pose projects.

        expected_xy_px: (V, J, 2) px, the 3D pose reprojected (NaN where unknown), in the body keypoint set.
        person_per_view: (V,) int, which person of each view the 3D pose used (-1: none). Views on their
        keyframe are left alone. Returns the points dropped.
        """
        dropped = 0
        for v, st in enumerate(self._views):
            p = int(person_per_view[v]) if v < len(person_per_view) else -1
            if st is None or p < 0 or st.fresh or p >= st.parts["pose"].shape[0]:
                continue
            body = st.parts["pose"][p]
            if body.shape[0] != expected_xy_px.shape[1]:
                continue
            with np.errstate(invalid="ignore"):
                far = np.linalg.norm(body[:, :2] - expected_xy_px[v], axis=1) > self.drift_max_px
            body[far] = (np.nan, np.nan, 0.0)
            dropped += int(far.sum())
        self.counts.dropped_drift += dropped
        return dropped
