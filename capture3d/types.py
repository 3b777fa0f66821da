"""Core data types shared by the stages.

Shape glossary: V views (cameras), P people, J joints, T frames.
- 2D keypoints: (..., J, 3) x px, y px, score; a missing joint is x = y = NaN, score = 0.
- 3D keypoints: (..., J, 3) x, y, z metres in the world frame (Z up); NaN when missing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from capture3d.body.convert import conversion_weights, convert_keypoints
from capture3d.body.keypoint_sets import KeypointSet


@dataclass(frozen=True)
class Keypoints3D:
    """A sequence of 3D poses of one subject, with per-joint quality.

    xyz_world: (T, J, 3) metres, NaN when missing (a joint with any coordinate missing is missing whole).
    confidence: (T, J) in [0, 1] (mean 2D score of the views used; 0 when missing).
    reproj_err_px: (T, J) mean reprojection error of the views used, px (NaN when missing).
    n_views: (T, J) int, number of camera views used (0 when missing).
    times_s: (T,) seconds.
    fps: nominal frame rate, Hz.
    keypoint_set: the joint names and tree.
    metadata: free-form provenance (source, rig, config) carried by the exporters that can.
    """

    xyz_world: np.ndarray
    confidence: np.ndarray
    reproj_err_px: np.ndarray
    n_views: np.ndarray
    times_s: np.ndarray
    fps: float
    keypoint_set: KeypointSet
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        xyz = np.asarray(self.xyz_world, dtype=float)
        if xyz.ndim != 3 or xyz.shape[2] != 3:
            raise ValueError(f"xyz_world must be (T, J, 3), got {xyz.shape}")
        T, J, _ = xyz.shape
        if J != self.keypoint_set.n_joints:
            raise ValueError(f"{self.keypoint_set.name} has {self.keypoint_set.n_joints} joints, data has {J}")
        half = ~np.isfinite(xyz).all(axis=-1) & np.isfinite(xyz).any(axis=-1)
        if half.any():  # a joint is whole or missing, never half
            xyz = xyz.copy()
            xyz[half] = np.nan
        object.__setattr__(self, "xyz_world", xyz)
        for name, dtype in (("confidence", float), ("reproj_err_px", float), ("n_views", np.int64)):
            arr = np.asarray(getattr(self, name), dtype=dtype)
            if arr.shape != (T, J):
                raise ValueError(f"{name} must be (T={T}, J={J}), got {arr.shape}")
            object.__setattr__(self, name, arr)
        times = np.asarray(self.times_s, dtype=float)
        if times.shape != (T,):
            raise ValueError(f"times_s must be (T={T},), got {times.shape}")
        object.__setattr__(self, "times_s", times)
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps must be a positive number, got {self.fps}")

    @property
    def n_frames(self) -> int:
        return self.xyz_world.shape[0]

    @property
    def valid(self) -> np.ndarray:
        """(T, J) bool: the joint has a 3D position."""
        return np.isfinite(self.xyz_world).all(axis=-1)

    @classmethod
    def from_positions(cls, xyz_world: np.ndarray, fps: float, keypoint_set: KeypointSet,
                       times_s: np.ndarray | None = None, metadata: dict | None = None) -> "Keypoints3D":
        """Wrap bare positions (T, J, 3): confidence 1 and views unknown (0) where finite."""
        xyz = np.asarray(xyz_world, dtype=float)
        ok = np.isfinite(xyz).all(axis=-1)
        T = xyz.shape[0]
        times = np.arange(T) / fps if times_s is None else times_s
        return cls(xyz, ok.astype(float), np.where(ok, 0.0, np.nan), np.zeros(ok.shape, np.int64), times, fps,
                   keypoint_set, dict(metadata or {}))

    def with_positions(self, xyz_world: np.ndarray) -> "Keypoints3D":
        """A copy with other positions (e.g. filtered); quality arrays follow the new missing mask."""
        xyz = np.asarray(xyz_world, dtype=float)
        ok = np.isfinite(xyz).all(axis=-1)
        return Keypoints3D(xyz, np.where(ok, self.confidence, 0.0), np.where(ok, self.reproj_err_px, np.nan),
                           np.where(ok, self.n_views, 0), self.times_s, self.fps, self.keypoint_set,
                           dict(self.metadata))

    def in_set(self, kps: KeypointSet) -> "Keypoints3D":
        """The sequence in another keypoint set, converted by joint name (capture3d.body.convert).

        A composite joint (the neck from the shoulders) takes the mean position, the lowest confidence,
        the largest reprojection error and the fewest views of its sources."""
        if kps.name == self.keypoint_set.name:
            return self
        w = conversion_weights(self.keypoint_set, kps)
        xyz = convert_keypoints(self.xyz_world, self.keypoint_set, kps, scored=False)
        ok = np.isfinite(xyz).all(axis=-1)
        T = self.n_frames
        conf, err, views = np.zeros((T, kps.n_joints)), np.full((T, kps.n_joints), np.nan), \
            np.zeros((T, kps.n_joints), np.int64)
        for j in np.flatnonzero(w.any(axis=1)):
            src = np.flatnonzero(w[j])
            conf[:, j] = self.confidence[:, src].min(axis=1)
            err[:, j] = self.reproj_err_px[:, src].max(axis=1)
            views[:, j] = self.n_views[:, src].min(axis=1)
        meta = dict(self.metadata) | {"keypoint_set": kps.name, "converted_from": self.keypoint_set.name}
        return Keypoints3D(xyz, np.where(ok, conf, 0.0), np.where(ok, err, np.nan), np.where(ok, views, 0),
                           self.times_s, self.fps, kps, meta)


@dataclass(frozen=True)
class Pose3DFrame:
    """The 3D result of one frame set.

    xyz_world: (J, 3) metres, NaN when missing. confidence: (J,). reproj_err_px: (J,). n_views: (J,) int.
    person_per_view: (V,) int, which 2D detection of each view was used (-1: none).
    time_s: the frame set's timestamp, seconds.
    """

    xyz_world: np.ndarray
    confidence: np.ndarray
    reproj_err_px: np.ndarray
    n_views: np.ndarray
    person_per_view: np.ndarray
    time_s: float


@dataclass(frozen=True)
class PeopleFrame:
    """Every tracked person in one frame set (``Reconstructor.process_people``), sorted by id.

    ids: (K,) int person ids (stable over a take, from 1). xyz_world: (K, J, 3) metres, NaN when missing.
    confidence: (K, J). reproj_err_px: (K, J). n_views: (K, J) int.
    person_per_view: (K, V) int, which 2D detection of each view each person used (-1: none).
    time_s: the frame set's timestamp, seconds.
    """

    ids: np.ndarray
    xyz_world: np.ndarray
    confidence: np.ndarray
    reproj_err_px: np.ndarray
    n_views: np.ndarray
    person_per_view: np.ndarray
    time_s: float

    def person(self, person_id: int) -> Pose3DFrame | None:
        """The one person with that id as a Pose3DFrame, or None when not in this frame set."""
        k = np.flatnonzero(self.ids == person_id)
        if not k.size:
            return None
        k = int(k[0])
        return Pose3DFrame(self.xyz_world[k], self.confidence[k], self.reproj_err_px[k], self.n_views[k],
                           self.person_per_view[k], self.time_s)


@dataclass(frozen=True)
class LiveStats:
    """The pipeline's live figures at one moment (``Pipeline.stats()``; a snapshot's ``stats``).

    Rates in frame sets (or frames) per second, latencies in ms from exposure to the 3D result
    (``latency_3d_*`` without the detector's time), NaN until measured; counters since start.
    elapsed_s: seconds since start. fps_capture: mean grab rate per camera. fps_sets: frame sets assembled.
    fps_3d: frame sets processed. frames, sets, processed: counts; posed: processed sets whose 3D result has a
    joint. detect_ms_p50 / reconstruct_ms_p50:
    median stage durations. drops: frame sets replaced unprocessed in the live slot. incomplete_sets,
    missing_views, late, mismatched: sync counters. mispaired: sets pairing frames of different instants.
    incomplete_images: images the cameras delivered incomplete. cameras_failed: names of failed cameras.
    people: people detected in the latest processed frame set (the most in any view; 0 without a detector).
    unusable_views: views the detector could not use (no image, a failure), counted after the first warning.
    reproj_err_px: mean reprojection error of the latest 3D pose (NaN without one).
    paused_sets: frame sets not processed while paused (None: never paused). rig_swaps / rig_refine: with
    live rig refinement (None without): refined rigs swapped into the 3D stage, and one line on it. recording: whether frame sets
    are recorded now, recorded_sets / record_paused_sets / record_queue: the recorder's counters (all None
    without a recorder). per_camera: {name: {frames, missing, late, mismatched, fps, grabbed, device
    counters}} (None in brief stats).
    dropped_sets: frame sets a paced replay skipped whole (all views) because processing was busy.
    replay_lag_ms: how far behind the frames' due times a paced replay's readers are (NaN: not one).
    process_busy: fraction (0..1) of the last seconds the processing stage was working.
    limited_by: the stage that limits the rate of 3D results ("decode", "detect", "3D", "source"; see
    ``capture3d.runtime.meters.limiting_stage``; "" before the first result).
    views_cropped / views_full / crops_lost: views detected on a crop around the subject, on the whole
    frame, and crops that lost the person (None without cropping).
    keyframe_every / views_detected / views_tracked / redetections / keyframe_rate / points_dropped: with
    keyframes (``capture3d.detect.keyframes``; None without): the keyframe interval in use (frame sets),
    views the detector ran on and views tracked, views re-detected at once because their tracking lost too
    many points, per view the fraction of its sets detected, tracked points dropped by the checks.
    """

    elapsed_s: float = 0.0
    fps_capture: float = 0.0
    fps_sets: float = 0.0
    fps_3d: float = 0.0
    frames: int = 0
    sets: int = 0
    processed: int = 0
    posed: int = 0
    latency_ms_p50: float = float("nan")
    latency_ms_p95: float = float("nan")
    latency_3d_ms_p50: float = float("nan")
    latency_3d_ms_p95: float = float("nan")
    detect_ms_p50: float = float("nan")
    reconstruct_ms_p50: float = float("nan")
    drops: int = 0
    incomplete_sets: int = 0
    missing_views: int = 0
    late: int = 0
    mismatched: int = 0
    mispaired: int = 0
    incomplete_images: int = 0
    cameras_failed: tuple[str, ...] = ()
    people: int = 0
    unusable_views: int = 0
    reproj_err_px: float = float("nan")
    paused_sets: int | None = None
    recording: bool | None = None
    recorded_sets: int | None = None
    record_paused_sets: int | None = None
    record_queue: int | None = None
    rig_swaps: int | None = None
    rig_refine: str | None = None
    dropped_sets: int = 0
    replay_lag_ms: float = float("nan")
    process_busy: float = 0.0
    limited_by: str = ""
    views_cropped: int | None = None
    views_full: int | None = None
    crops_lost: int | None = None
    keyframe_every: int | None = None
    views_detected: int | None = None
    views_tracked: int | None = None
    redetections: int | None = None
    keyframe_rate: tuple[float, ...] | None = None
    points_dropped: int | None = None
    per_camera: dict | None = None

    def shown(self) -> dict:
        """The figures a display lists: every field except per_camera, without the None ones."""
        return {k: v for k, v in self.__dict__.items() if v is not None and k != "per_camera"}


@dataclass(frozen=True)
class LiveSnapshot:
    """What a live display needs of the latest processed frame set (produced by the pipeline, polled by
    the viewer; never mutated after creation).

    index: frame-set counter. time_s: capture timestamp, seconds.
    pose: the 3D result (or None before the first one).
    keypoints2d: (V, J, 3) the 2D detections used per view (x px, y px, score), or None.
    thumbnails: V small BGR images (H, W, 3) uint8, or None when not produced.
    stats: the live figures (refreshed every 0.2 s, so they may be a little older than the frame set).
    rig: the ``Rig`` the 3D stage solved this frame set with (a new object after a live refinement swap),
    or None without a 3D stage.
    people: every person of this frame set with ``[tracking] people = "all"``, else None; ``pose`` is then
    the person picked (``Pipeline.pick_person``, the viewer's person picker) or, with no pick, the lowest id's.
    person_id: whose pose ``pose`` is with people (None: nobody in view, or the picked person not seen in
    this frame set). pick_retired: the last picked person whose pick ended because the tracker retired them
    (the lowest id goes out again), None since the latest pick.
    """

    index: int
    time_s: float
    pose: Pose3DFrame | None
    keypoints2d: np.ndarray | None = None
    thumbnails: tuple[np.ndarray, ...] | None = None
    stats: LiveStats = field(default_factory=LiveStats)
    rig: object | None = None
    people: PeopleFrame | None = None
    person_id: int | None = None
    pick_retired: int | None = None


@dataclass(frozen=True)
class Frame:
    """One image of one camera, as a frame source delivers it.

    camera: the camera's serial or name (unique within a source). view: its index in the source (0..V-1).
    frame_id: the device frame counter (trigger count for hardware-synchronized cameras).
    device_time_s: the camera's own timestamp of the exposure, seconds on the device clock (NaN if none).
    host_time_s: when the host received the frame, seconds on the host monotonic clock (time.monotonic()).
    time_s: the exposure time on the host monotonic clock (device_time_s mapped through the camera's clock
      offset; the arrival time for devices without a clock). Software sync and latency use it.
    image: (H, W, 3) BGR or (H, W) mono uint8, owned by the frame (copied out of any device buffer); None
      when the device delivered no usable pixels.
    incomplete: the device reported a partial image (pixels may be garbage; the frame still counts).
    metadata: extras, e.g. synthetic ground truth {"frame_index": t, "xy_px": (J, 2), "xyz_world": (J, 3)}.
    """

    camera: str
    view: int
    frame_id: int
    device_time_s: float
    host_time_s: float
    time_s: float
    image: np.ndarray | None
    incomplete: bool = False
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FrameSet:
    """The frames of the same instant from the V cameras of a source (None where a view is missing).

    index: frame-set counter from 0, in capture order. frame_id: the trigger id (hardware sync) or the
    reference frame's id (software sync). time_s: the mean exposure time of the present frames (host
    clock, seconds). frames: V entries in view order.
    """

    index: int
    frame_id: int
    time_s: float
    frames: tuple[Frame | None, ...]

    @property
    def n_views(self) -> int:
        return len(self.frames)

    @property
    def present(self) -> np.ndarray:
        """(V,) bool: the view has a frame."""
        return np.array([f is not None for f in self.frames], bool)

    @property
    def complete(self) -> bool:
        return all(f is not None for f in self.frames)

    @property
    def images(self) -> list[np.ndarray | None]:
        """V images (None for missing views or frames without pixels)."""
        return [None if f is None else f.image for f in self.frames]
