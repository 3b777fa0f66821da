"""The 3D stage: 2D detections of synchronized views -> one subject's 3D pose.

``Reconstructor`` is shared by the live pipeline (``process`` per frame set) and offline runs
(``process_sequence`` over a whole recording), so both give the same numbers.
Steps: choose the subject's detection in each view (``capture3d.reconstruct.track``: cross-view consistency,
continuity, left/right repair) -> robust triangulation -> temporal filtering (``capture3d.reconstruct.filters``:
live chain in ``process`` and for ``causal`` replays, zero-lag offline chain otherwise).
"""
from __future__ import annotations

import logging

import numpy as np

from capture3d.body.bones import reprojection_information, tree_bones
from capture3d.geometry.camera import Rig
from capture3d.errors import RigError
from capture3d.config import FilterConfig, TrackingConfig, TriangulationConfig
from capture3d.reconstruct.filters import CausalPoseFilter, fill_gaps, offline_pose_filter
from capture3d.body.keypoint_sets import KeypointSet
from capture3d.reconstruct.people import PeopleResult, PeopleTracker, person_of
from capture3d.reconstruct.associate import frame_set_detections
from capture3d.reconstruct.track import SubjectTracker, TrackResult, gather_people, missing_result
from capture3d.geometry.triangulate import Triangulated, triangulate
from capture3d.types import Keypoints3D, PeopleFrame, Pose3DFrame

log = logging.getLogger(__name__)


def select_by_score(keypoints2d: np.ndarray) -> np.ndarray:
    """Per view, the detection with the highest summed score. (V, ..., P, J, 3) -> (V, ...) int (-1: none).
    The baseline selection (used when tracking is disabled)."""
    score = np.nan_to_num(keypoints2d[..., 2]).sum(axis=-1)  # (V, ..., P)
    if score.shape[-1] == 0:
        return np.full(score.shape[:-1], -1)
    best = np.argmax(score, axis=-1)
    return np.where(score.max(axis=-1) > 0, best, -1)


def confidence_of(keypoints2d: np.ndarray, tri: Triangulated) -> np.ndarray:
    """Mean 2D score of the views each 3D joint used. (V, ..., J, 3), inliers (V, ..., J) -> (..., J)."""
    score = np.nan_to_num(keypoints2d[..., 2]) * tri.inliers
    return score.sum(axis=0) / np.maximum(tri.n_views, 1)


def check_rig_for_3d(rig: Rig, where: str = "the rig") -> None:
    """RigError unless ``rig`` has the 2 cameras 3D needs (said before any frame is read or detected)."""
    if len(rig) < 2:
        raise RigError(f"{where}: {len(rig)} camera{'' if len(rig) == 1 else 's'} "
                       f"({', '.join(rig.names) or 'none'}), but 3D needs at least 2 calibrated cameras that see the "
                       f"subject. Give the videos / keypoints of 2 or more of the rig's cameras; for 2D only, use "
                       f"'capture3d detect' (or 'live' / 'record' without a rig)")


class Reconstructor:
    """2D (V, P, J, 3) per frame set -> Pose3DFrame. Holds per-subject state between calls.

    tracking: subject selection (``TrackingConfig.enabled = false``: the highest-score detection per view,
    no left/right repair; ``policy`` a person id: that person of the multi-person tracker).
    filtering: temporal filters (``FilterConfig.enabled = false``: raw triangulation).
    Every person: ``process_people`` (one frame set -> PeopleFrame) and ``process_sequence_people``
    (a recording -> {id: Keypoints3D}), each person with its own filters.
    """

    def __init__(self, rig: Rig, keypoint_set: KeypointSet, config: TriangulationConfig = TriangulationConfig(),
                 tracking: TrackingConfig | None = None, filtering: FilterConfig | None = None):
        check_rig_for_3d(rig)
        self.rig = rig
        self.keypoint_set = keypoint_set
        self.config = config
        self.tracking = tracking if tracking is not None else TrackingConfig()
        self.filtering = filtering if filtering is not None else FilterConfig()
        self.tracking.validate()
        self.filtering.validate()
        self.bones = tree_bones(keypoint_set)
        self.tracker = SubjectTracker(rig, keypoint_set, self.tracking, config)
        self.people = PeopleTracker(rig, keypoint_set, self.tracking, config)
        self.live_filter = CausalPoseFilter(self.filtering, self.bones)
        self._people_filters: dict[int, CausalPoseFilter] = {}
        self._cams = rig.cams_from_world()
        self._focal = rig.focal_px()
        self._take: list | None = None
        self._last_time: float | None = None
        self.people_born = 0  # people the multi-person tracker gave an id in the last sequence (ids 1..n)
        self.subject_choice = (0, 0)  # single-person mode, the last take: (most people found at once when the
        # subject was chosen, times the policy chose one); see ``subject_counts``
        self.latest_people: PeopleFrame | None = None  # every person of the latest frame set (people = "all")
        self._people_take: list | None = None
        #: people = "all": the person ``process`` returns (None: the lowest id in view); set between frame sets
        self.pick: int | None = None
        self.person_id: int | None = None  # people = "all": whose pose ``process`` returned last (None: nobody)
        self.pick_retired: int | None = None  # the pick, when the last ``process`` found it retired (else None)

    def set_rig(self, rig: Rig) -> None:
        """Triangulate with ``rig`` from the next frame set on: the same cameras (names, image sizes) with
        refined poses or lenses (the live rig refinement swaps one in). Everything derived from the rig is
        computed first and assigned together; call it from the thread that calls ``process`` (between two
        frame sets), so a frame set is always solved with one whole rig. The subject and the filters are kept
        (the refined rig stays in the board calibration's frame). RigError for other cameras."""
        from capture3d.errors import RigError  # noqa: PLC0415
        if [(c.name, tuple(c.size_wh)) for c in rig.cameras] != [(c.name, tuple(c.size_wh)) for c in self.rig.cameras]:
            raise RigError(f"the new rig's cameras {rig.names} differ from the rig in use {self.rig.names}")
        cams, focal = rig.cams_from_world(), rig.focal_px()
        self.tracker.set_rig(rig)
        self.people.set_rig(rig)
        self.rig, self._cams, self._focal = rig, cams, focal

    def reset(self) -> None:
        """Forget the subject and the filter state (start of a new recording)."""
        self.tracker.reset()
        self.people.reset()
        self.live_filter.reset()
        self._people_filters = {}
        self.latest_people = None
        self._last_time = None

    def _triangulate(self, kp: np.ndarray) -> Triangulated:
        c = self.config
        return triangulate(self.rig, kp, robust=c.robust, threshold_px=c.threshold_px, min_views=c.min_views,
                           min_score=c.min_score, refine_iterations=c.refine_iterations)

    def _information(self, xyz: np.ndarray, views: np.ndarray, tri: Triangulated) -> np.ndarray:
        """Reprojection information (..., J, 3, 3) of the inlier views at positions xyz (..., J, 3)."""
        w = np.nan_to_num(views[..., 2]) * tri.inliers
        return reprojection_information(xyz, self._cams, self._focal, w)

    def _select(self, kp: np.ndarray, time_s: float) -> TrackResult:
        """The subject's detections of one frame set (V, P, J, 3) and their triangulation."""
        if self.tracking.enabled and self.tracking.person_id is not None:
            return self._person_as_subject(self.people.update(kp, time_s), self.tracking.person_id)
        if self.tracking.enabled:
            return self.tracker.update(kp, time_s)
        chosen = select_by_score(kp)
        views = gather_people(kp, chosen)
        return TrackResult(chosen, views, np.zeros(len(chosen), np.int64), self._triangulate(views), "score")

    def _person_as_subject(self, res: PeopleResult, person_id: int) -> TrackResult:
        """The person ``person_id`` of a multi-person result as the single subject (missing when absent)."""
        V, J = len(self.rig), self.keypoint_set.n_joints
        k = np.flatnonzero(res.ids == person_id)
        if not k.size:
            return missing_result(V, J)
        k = int(k[0])
        return TrackResult(res.person_per_view[k], res.keypoints2d[:, k], np.zeros(V, np.int64), person_of(res.tri, k),
                           "tracking")

    def _check_time(self, time_s: float) -> None:
        if self._last_time is not None and not float(time_s) >= self._last_time:
            log.info("time went back from %.3f to %.3f s: tracking and filters restart", self._last_time,
                     float(time_s))
            self.reset()
        self._last_time = float(time_s)

    def process_people(self, keypoints2d: np.ndarray, time_s: float) -> PeopleFrame:
        """One frame set, every person: keypoints2d (V, P, J, 3) -> PeopleFrame (ids, (K, J, 3), ...).

        Each person has its own live filter chain (dropped when the person is retired). Never raises for
        missing data: nobody seen gives K = 0."""
        kp = frame_set_detections(keypoints2d, len(self.rig))
        self._check_time(time_s)
        return self._people_frame(kp, float(time_s))

    def _people_frame(self, kp: np.ndarray, time_s: float) -> PeopleFrame:
        res = self.people.update(kp, float(time_s))
        xyz = res.tri.xyz_world.copy()
        if self.filtering.enabled:
            alive = {tr.id for tr in self.people.tracks}
            self._people_filters = {i: f for i, f in self._people_filters.items() if i in alive}
            for k, pid in enumerate(res.ids):
                f = self._people_filters.setdefault(int(pid), CausalPoseFilter(self.filtering, self.bones))
                xyz[k] = f(xyz[k], float(time_s))
        ok = np.isfinite(xyz).all(axis=-1)
        conf = np.stack([confidence_of(res.keypoints2d[:, k], person_of(res.tri, k)) for k in range(len(res.ids))]) \
            if len(res.ids) else np.zeros((0, self.keypoint_set.n_joints))
        return PeopleFrame(res.ids, xyz, np.where(ok, conf, 0.0), np.where(ok, res.tri.reproj_err_px, np.nan),
                           np.where(ok, res.tri.n_views, 0), res.person_per_view, float(time_s))

    def process_sequence_people(self, keypoints2d: np.ndarray, times_s: np.ndarray, fps: float
                                ) -> dict[int, Keypoints3D]:
        """A whole recording, every person: keypoints2d (V, T, P, J, 3) -> {person id: Keypoints3D over all T
        frames (NaN where the person is not seen)}, ids in order. Filters as ``process_sequence``, per person:
        the live chain with ``filtering.causal``, the offline chain otherwise."""
        kp, times = self._sequence_input(keypoints2d, times_s, fps)
        V, J = len(self.rig), self.keypoint_set.n_joints
        self.reset()
        T = kp.shape[1]
        causal = self.filtering.enabled and self.filtering.causal
        frames = [self.process_people(kp[:, t], times[t]) if causal else self.people.update(kp[:, t], times[t])
                  for t in range(T)]
        self.people_born = self.people.n_born
        early = self.people.born_early  # offline: each person from its first frame set, not from its birth
        self.reset()
        ids = sorted({int(i) for f in frames for i in f.ids})
        out = {}
        for pid in ids:
            rows = [(t, int(np.flatnonzero(f.ids == pid)[0])) for t, f in enumerate(frames) if pid in f.ids]
            if causal:
                out[pid] = _causal_person(frames, rows, times, fps, self.keypoint_set)
                continue
            views = np.full((V, T, J, 3), np.nan)
            views[..., 2] = 0.0
            xyz, err = np.full((T, J, 3), np.nan), np.full((T, J), np.nan)
            nv, inl = np.zeros((T, J), np.int64), np.zeros((V, T, J), bool)
            for t, k in rows:
                r = frames[t]
                views[:, t], xyz[t], err[t] = r.keypoints2d[:, k], r.tri.xyz_world[k], r.tri.reproj_err_px[k]
                nv[t], inl[:, t] = r.tri.n_views[k], r.tri.inliers[:, k]
            for time_s, _, kp2d, tri in early.get(pid, []):
                t = int(np.searchsorted(times, time_s))
                views[:, t], xyz[t], err[t] = kp2d, tri.xyz_world, tri.reproj_err_px
                nv[t], inl[:, t] = tri.n_views, tri.inliers
            out[pid] = self._finish_sequence(views, Triangulated(xyz, err, nv, inl), times, fps)
        return out

    def process(self, keypoints2d: np.ndarray, time_s: float) -> Pose3DFrame:
        """One frame set. keypoints2d: (V, P, J, 3) (P may be 1 or 0) or (V, J, 3). Never raises for missing
        data: nobody seen, all views missing or the subject lost give a NaN pose; tracking resumes."""
        kp = frame_set_detections(keypoints2d, len(self.rig))
        self._check_time(time_s)
        if self.tracking.enabled and self.tracking.people == "all":
            return self._process_all(kp, float(time_s))
        res = self._select(kp, float(time_s))
        tri = res.tri
        xyz = tri.xyz_world
        if self.filtering.enabled:
            xyz = self.live_filter(xyz, float(time_s))
        ok = np.isfinite(xyz).all(axis=-1)
        frame = Pose3DFrame(xyz, np.where(ok, confidence_of(res.keypoints2d, tri), 0.0),
                            np.where(ok, tri.reproj_err_px, np.nan), np.where(ok, tri.n_views, 0),
                            res.person_per_view, float(time_s))
        if self._take is not None:
            self._take.append((float(time_s), res, frame))
        return frame

    def _process_all(self, kp: np.ndarray, time_s: float) -> Pose3DFrame:
        """``process`` with ``tracking.people = "all"``: every person is reconstructed (``latest_people``, and
        the take keeps the 2D for ``end_take_people``); the returned pose is the picked person's (``pick``)
        or, with no pick, the lowest id's (NaN: nobody in view, or the picked person tracked but not seen
        this frame set). A pick no longer tracked (retired, or never born) is reported in ``pick_retired``
        and the lowest id's pose is returned. ``person_id``: whose pose it is (None: nobody's)."""
        pf = self._people_frame(kp, time_s)
        self.latest_people = pf
        if self._people_take is not None:
            self._people_take.append((time_s, kp, pf))
        pick, self.pick_retired = self.pick, None
        if pick is not None and all(tr.id != pick for tr in self.people.tracks):
            self.pick_retired, pick = pick, None
        if pick is None and len(pf.ids):
            pick = int(pf.ids[0])
        self.person_id = pick if pick is not None and (pf.ids == pick).any() else None
        if self.person_id is not None:
            return pf.person(self.person_id)
        V, J = len(self.rig), self.keypoint_set.n_joints
        return Pose3DFrame(np.full((J, 3), np.nan), np.zeros(J), np.full(J, np.nan), np.zeros(J, np.int64),
                           np.full(V, -1), time_s)

    def end_take_people(self, fps: float) -> dict[int, Keypoints3D]:
        """Finish a take processed with ``tracking.people = "all"``: {person id: Keypoints3D over the take},
        the live outputs when ``filtering.causal``, else the offline chain per person (as
        ``process_sequence_people``)."""
        take = self._people_take or []
        self._take = self._people_take = None
        if not take:
            return {}
        times = np.array([t for t, _, _ in take])
        if self.filtering.enabled and self.filtering.causal:
            frames = [f for _, _, f in take]
            ids = sorted({int(i) for f in frames for i in f.ids})
            return {pid: _causal_person(frames, [(t, int(np.flatnonzero(f.ids == pid)[0]))
                                                 for t, f in enumerate(frames) if pid in f.ids],
                                        times, fps, self.keypoint_set) for pid in ids}
        P = max(k.shape[1] for _, k, _ in take)
        kp = np.full((len(self.rig), len(take), P) + take[0][1].shape[2:], np.nan)
        kp[..., 2] = 0.0
        for t, (_, k, _) in enumerate(take):
            kp[:, t, :k.shape[1]] = k
        return self.process_sequence_people(kp, times, fps)

    def start_take(self) -> None:
        """Start collecting a take: from now on ``process`` also keeps each frame's raw result, and
        ``end_take`` returns the whole take as ``process_sequence`` would (offline chain unless causal)."""
        self.reset()
        self._take = []
        self._people_take = [] if self.tracking.enabled and self.tracking.people == "all" else None

    def take_keypoints2d(self) -> tuple[np.ndarray, np.ndarray]:
        """The take collected so far (``start_take``): times (T,) and the subject's 2D per view (V, T, J, 3),
        e.g. to re-run it offline with per-camera time offsets (``capture3d.reconstruct.offsets``)."""
        take = self._take or []
        V, J = len(self.rig), self.keypoint_set.n_joints
        if not take:
            return np.zeros(0), np.zeros((V, 0, J, 3))
        return np.array([t for t, _, _ in take]), np.stack([r.keypoints2d for _, r, _ in take], axis=1)

    def subject_counts(self) -> tuple[int, int]:
        """Single-person mode: (most people found at once when the subject was chosen, times the [tracking]
        policy chose a subject) in the take so far, else in the last finished take or sequence."""
        now = (self.tracker.people_seen, self.tracker.choices)
        return now if now[1] else self.subject_choice

    def end_take(self, fps: float) -> Keypoints3D:
        """Finish the take started by ``start_take``: the frames processed since, with the offline filter
        chain applied when ``filtering.causal`` is false (the live outputs when it is true)."""
        self.subject_choice = self.subject_counts()
        take = self._take or []
        self._take = None
        if not take:
            J = self.keypoint_set.n_joints
            return Keypoints3D(np.zeros((0, J, 3)), np.zeros((0, J)), np.zeros((0, J)), np.zeros((0, J), np.int64),
                               np.zeros(0), fps, self.keypoint_set, {"filter": "none"})
        times = np.array([t for t, _, _ in take])
        if self.filtering.enabled and self.filtering.causal:
            frames = [f for _, _, f in take]
            return Keypoints3D(np.stack([f.xyz_world for f in frames]), np.stack([f.confidence for f in frames]),
                               np.stack([f.reproj_err_px for f in frames]), np.stack([f.n_views for f in frames]),
                               times, fps, self.keypoint_set, {"filter": "causal"})
        return self._offline([r for _, r, _ in take], times, fps)

    def _offline(self, results: list[TrackResult], times: np.ndarray, fps: float) -> Keypoints3D:
        """Per-frame selections (T) -> Keypoints3D with the offline filter chain (when enabled)."""
        views = np.stack([r.keypoints2d for r in results], axis=1)
        tri = Triangulated(np.stack([r.tri.xyz_world for r in results]),
                           np.stack([r.tri.reproj_err_px for r in results]),
                           np.stack([r.tri.n_views for r in results]), np.stack([r.tri.inliers for r in results], 1))
        return self._finish_sequence(views, tri, times, fps)

    def _finish_sequence(self, views: np.ndarray, tri: Triangulated, times: np.ndarray, fps: float) -> Keypoints3D:
        xyz = tri.xyz_world
        meta = {"filter": "none"}
        if self.filtering.enabled and xyz.shape[0]:
            self.filtering.check_rate(fps)
            info = self._information(xyz, views, tri) if self.filtering.bone_lengths else None
            xyz = offline_pose_filter(xyz, fps, self.filtering, self.bones, info)
            meta["filter"] = "offline"
        ok = np.isfinite(xyz).all(axis=-1)
        # joints filled in by gap filling have no views: n_views 0, the confidence interpolated from the
        # frames around the gap and, as for positions of unknown origin (Keypoints3D.from_positions), a
        # reprojection error of 0
        seen = tri.n_views > 0
        conf = np.where(seen, confidence_of(views, tri), np.nan)
        if (ok & ~seen).any():
            conf = fill_gaps(conf, xyz.shape[0], "linear")
        err = np.where(ok, np.where(seen, tri.reproj_err_px, 0.0), np.nan)
        return Keypoints3D(xyz, np.where(ok, np.nan_to_num(conf), 0.0), err, np.where(ok, tri.n_views, 0), times,
                           fps, self.keypoint_set, meta)

    def _sequence_input(self, keypoints2d, times_s, fps: float) -> tuple[np.ndarray, np.ndarray]:
        """A recording's 2D (V, T, [P,] J, 3) and times (T,) checked -> ((V, T, P, J, 3), (T,)); ValueError
        for other shapes, ConfigError for a filter setting impossible at ``fps``."""
        kp = np.asarray(keypoints2d, dtype=float)
        times = np.asarray(times_s, dtype=float)
        V = len(self.rig)
        if kp.ndim == 4:
            kp = kp[:, :, None]
        if kp.ndim != 5 or kp.shape[0] != V or kp.shape[-1] != 3 or kp.shape[1] != times.shape[0]:
            raise ValueError(f"expected keypoints2d (V={V}, T={times.shape[0]}, [P,] J, 3), got "
                             f"{np.shape(keypoints2d)}")
        if self.filtering.enabled and not self.filtering.causal:
            self.filtering.check_rate(fps)
        return kp, times

    def process_sequence(self, keypoints2d: np.ndarray, times_s: np.ndarray, fps: float) -> Keypoints3D:
        """A whole recording. keypoints2d: (V, T, J, 3) (one detection per view) or (V, T, P, J, 3).

        Starts from a fresh state (reset). With ``filtering.causal`` the frames go through ``process`` one by
        one (identical to the live output); otherwise the subject is tracked frame by frame and the offline
        chain (Hampel, gap filling, zero-lag Butterworth, bone lengths) runs over the whole sequence.
        ConfigError when a filter setting is impossible at ``fps`` (cutoff at or above Nyquist).
        """
        kp, times = self._sequence_input(keypoints2d, times_s, fps)
        V = len(self.rig)
        T = kp.shape[1]
        if self.filtering.enabled and self.filtering.causal:
            self.start_take()
            for t in range(T):
                self.process(kp[:, t], times[t])
            out = self.end_take(fps)
        elif not self.tracking.enabled:  # baseline selection: triangulate all frames at once
            chosen = select_by_score(kp)  # (V, T)
            views = np.stack([gather_people(kp[:, t], chosen[:, t]) for t in range(T)], axis=1) if T else \
                np.zeros((V, 0) + kp.shape[3:])
            out = self._finish_sequence(views, self._triangulate(views), times, fps)
        else:
            self.reset()
            results = [self._select(kp[:, t], times[t]) for t in range(T)]
            out = self._offline(results, times, fps) if T else self.end_take(fps)
        self.people_born = self.people.n_born
        self.subject_choice = self.subject_counts()
        self.reset()
        return out


def _causal_person(frames: list[PeopleFrame], rows: list[tuple[int, int]], times: np.ndarray, fps: float,
                   kps: KeypointSet) -> Keypoints3D:
    """One person's live outputs (frame index, row) of a take as a Keypoints3D over every frame."""
    T, J = len(frames), kps.n_joints
    xyz, conf, err, nv = np.full((T, J, 3), np.nan), np.zeros((T, J)), np.full((T, J), np.nan), np.zeros((T, J), np.int64)
    for t, k in rows:
        f = frames[t]
        xyz[t], conf[t], err[t], nv[t] = f.xyz_world[k], f.confidence[k], f.reproj_err_px[k], f.n_views[k]
    return Keypoints3D(xyz, conf, err, nv, times, fps, kps, {"filter": "causal"})
