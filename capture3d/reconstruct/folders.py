"""Triangulate OpenPose JSON folders (one per camera, in rig order) into a 3D sequence."""
from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import numpy as np

from capture3d.geometry.camera import Rig
from capture3d.config import FilterConfig, TrackingConfig, TriangulationConfig
from capture3d.errors import ConfigError, KeypointFileError
from capture3d.io.openpose_json import list_frame_files, read_openpose_folder, recorded_capture
from capture3d.io.paths import check_distinct
from capture3d.io.camera_match import adapt_camera_size, match_cameras
from capture3d.reconstruct.reconstructor import Reconstructor, check_rig_for_3d
from capture3d.body.keypoint_set import KeypointSet
from capture3d.body.set_check import choose_set
from capture3d.types import Keypoints3D

log = logging.getLogger(__name__)


def load_views(folders: list[str | os.PathLike], n_cameras: int, keypoint_set: str | None = None,
               unsynced: bool = False) -> tuple[np.ndarray, np.ndarray, KeypointSet]:
    """Read one OpenPose JSON folder per camera and check they agree.

    keypoint_set: the set the files are in (None: the set the files record, else the one set with
    their joint count, else the one their geometry fits; see capture3d.body.set_check, which also
    warns when the data looks like another set than the one used).
    unsynced: cameras without a common trigger (``sync``, ``--offsets``): each folder's i-th file is its
    own i-th frame, whatever its number, and folders of different lengths are padded with missing frames
    to the longest (the offsets then align them); else every folder must hold the same frame numbers.
    Returns keypoints (V, T, P, J, 3), frame_ids (T,) and the keypoint set. Errors name the folder and
    the frames that are missing when the cameras disagree.
    """
    if len(folders) != n_cameras:
        raise KeypointFileError(f"the rig has {n_cameras} cameras but {len(folders)} keypoint folders were given "
                                f"(expected one folder per camera)")
    check_distinct(folders, "keypoint folder", KeypointFileError)
    views = [read_openpose_folder(f) for f in folders]
    ids0 = views[0].frame_ids
    if unsynced:
        longest = max(len(v.frame_ids) for v in views)
        ids0 = np.arange(longest, dtype=np.int64) + (int(ids0[0]) if len(ids0) else 0)
        lengths = {str(f): len(v.frame_ids) for f, v in zip(folders, views)}
        if len(set(lengths.values())) > 1:
            log.warning("keypoint folders of different lengths (%s): each is read from its own first frame, the "
                        "shorter padded with missing frames", ", ".join(f"{Path(f).name} {n}" for f, n in lengths.items()))
    for f, v in zip(folders, views):
        if not unsynced and not np.array_equal(v.frame_ids, ids0):
            missing = sorted(set(ids0.tolist()) - set(v.frame_ids.tolist()))
            extra = sorted(set(v.frame_ids.tolist()) - set(ids0.tolist()))
            raise KeypointFileError(
                f"{f}: frames differ from {folders[0]} ({len(v.frame_ids)} vs {len(ids0)} files); "
                f"missing frames {missing[:10]}{'...' if len(missing) > 10 else ''}, "
                f"extra frames {extra[:10]}{'...' if len(extra) > 10 else ''}")
    joints = {v.keypoints.shape[2] for v in views if v.keypoints.shape[2]}
    if not joints:
        raise KeypointFileError(f"nobody was detected in any frame of {', '.join(map(str, folders))} "
                                f"({len(ids0)} frames): every file's 'people' list is empty, so there is "
                                f"nothing to triangulate (check the detector's output, e.g. with 'capture3d "
                                f"detect --overlay')")
    if len(joints) != 1:
        raise KeypointFileError(f"keypoint folders disagree on the number of joints: {sorted(joints)} "
                                f"(expected one keypoint set for all cameras)")
    J = joints.pop()
    recorded = {v.keypoint_set for v in views if v.keypoint_set}
    if len(recorded) > 1:
        raise KeypointFileError(f"keypoint folders record different keypoint sets: {sorted(recorded)}")
    P = max(v.keypoints.shape[1] for v in views)
    T = len(ids0)
    kp = np.full((len(views), T, P, J, 3), np.nan)
    kp[..., 2] = 0.0
    for i, v in enumerate(views):
        if v.keypoints.shape[2]:
            kp[i, : len(v.keypoints), : v.keypoints.shape[1]] = v.keypoints
    try:
        kps = choose_set(kp, keypoint_set, recorded.pop() if recorded else None)
    except (KeyError, ValueError) as exc:
        raise KeypointFileError(f"{folders[0]}...: {exc.args[0]}") from None
    return kp, ids0, kps


#: the frame rate assumed when neither the files nor the user give one
DEFAULT_FPS = 30.0


def frame_rate(folders: list[str | os.PathLike], recorded: list[float | None], fps: float | None = None) -> float:
    """The frame rate of V keypoint folders whose files record ``recorded`` (V,) rates (None: none): ``fps``
    when given (a warning when the files record another), else the one the files record
    (KeypointFileError when they record different ones: the views were not filmed at one rate), else
    DEFAULT_FPS with a warning saying it is assumed."""
    known = sorted({round(r, 3) for r in recorded if r})
    if fps is not None:
        other = [r for r in known if abs(r - fps) > 1e-3]
        if other:
            log.warning("--fps %g is used, but the keypoint files record %s Hz", fps, ", ".join(map(str, other)))
        return float(fps)
    if len(known) > 1:
        rates = ", ".join(f"{Path(f).name} {r:g} Hz" for f, r in zip(folders, recorded) if r)
        raise KeypointFileError(f"the keypoint folders record different frame rates ({rates}): frames of "
                                f"different rates cannot be paired by number. Detect on videos of one rate "
                                f"(resample with ffmpeg -r), or give --fps to treat them as one rate")
    if known:
        return float(known[0])
    log.warning("the keypoint files record no frame rate: assuming %g fps (give --fps for the real rate)",
                DEFAULT_FPS)
    return DEFAULT_FPS


def triangulate_folders(rig: Rig, folders: list[str | os.PathLike], fps: float | None = None,
                        config: TriangulationConfig = TriangulationConfig(),
                        tracking: TrackingConfig | None = None, filtering: FilterConfig | None = None,
                        keypoint_set: str | None = None, offsets: np.ndarray | None = None) -> Keypoints3D:
    """OpenPose JSON folders (one per camera) -> Keypoints3D (times from frame ids / fps).

    Folders are paired with the rig's cameras by ``capture3d.io.camera_match`` (by name, else in order; a
    subset by name uses those cameras only). fps: None is the rate the files record (see ``frame_rate``).

    keypoint_set: the set the files are in (see load_views); the result is in that set.
    offsets: (V,) per-camera time offsets in frames (capture3d.reconstruct.offsets), applied to the 2D first."""
    job = _prepare(rig, folders, fps, config, keypoint_set, offsets)
    recon = Reconstructor(job.rig, job.kps, config, tracking=tracking, filtering=filtering)
    out = recon.process_sequence(job.kp, job.times_s, job.fps)
    pid = recon.tracking.person_id if recon.tracking.enabled else None
    if pid is not None and not out.valid.any() and recon.people_born:
        raise ConfigError(f"no person {pid} in this take: the people found have ids 1..{recon.people_born} "
                          f"(policy / --people {pid})")
    if len(out.times_s) and not out.valid.any() and (job.kp[..., 2] > 0).any():
        raise KeypointFileError(_nothing_reconstructed(job.rig, job.kp, job.folders))
    seen, choices = recon.subject_counts()
    return job.with_meta(out, {"people_seen": seen, "subject_choices": choices} if choices else {})


def triangulate_folders_people(rig: Rig, folders: list[str | os.PathLike], fps: float | None = None,
                               config: TriangulationConfig = TriangulationConfig(),
                               tracking: TrackingConfig | None = None, filtering: FilterConfig | None = None,
                               keypoint_set: str | None = None, offsets: np.ndarray | None = None
                               ) -> dict[int, Keypoints3D]:
    """As ``triangulate_folders``, every person: {person id: Keypoints3D over every frame}, ids in order
    (empty when nobody was seen in >= 2 views long enough to be born)."""
    job = _prepare(rig, folders, fps, config, keypoint_set, offsets)
    recon = Reconstructor(job.rig, job.kps, config, tracking=tracking, filtering=filtering)
    people = recon.process_sequence_people(job.kp, job.times_s, job.fps)
    if not people and (job.kp[..., 2] > 0).any() and not recon.process_sequence(job.kp, job.times_s, job.fps).valid.any():
        raise KeypointFileError(_nothing_reconstructed(job.rig, job.kp, job.folders))
    return {i: job.with_meta(p) for i, p in people.items()}


@dataclasses.dataclass(frozen=True)
class _Job:
    """Folders read, matched to the rig's cameras and checked: rig and folders in pairing order, keypoints
    kp (V, T, P, J, 3) with the offsets applied, times_s (T,), the frame rate, the keypoint set."""

    rig: Rig
    folders: list
    kp: np.ndarray
    times_s: np.ndarray
    fps: float
    kps: KeypointSet
    offsets: np.ndarray | None
    cameras_note: str

    def with_meta(self, out: Keypoints3D, extra: dict | None = None) -> Keypoints3D:
        """out with the job's metadata (source folders, keypoint set, camera pairing, offsets) and extra."""
        meta = {"source": [str(Path(f)) for f in self.folders], "keypoint_set": self.kps.name,
                "cameras": self.cameras_note, **(extra or {})}
        if self.offsets is not None:
            meta["offsets_frames"] = [round(float(o), 3) for o in self.offsets]
        return Keypoints3D(out.xyz_world, out.confidence, out.reproj_err_px, out.n_views, out.times_s, self.fps,
                           self.kps, meta)


def _prepare(rig: Rig, folders, fps: float | None, config: TriangulationConfig, keypoint_set: str | None,
             offsets) -> _Job:
    """Read the folders, pair them with the rig's cameras (one rule), check them (see ``_Job``)."""
    match = match_cameras([Path(f).name for f in folders], rig.names, "keypoint folder", KeypointFileError)
    (log.info if match.by_name and not match.left_out else log.warning)("%s", match.note)
    folders = [folders[i] for i in match.inputs]
    if offsets is not None and len(offsets) == len(rig):
        offsets = np.asarray(offsets)[list(match.cameras)]
    rig = Rig(tuple(rig.cameras[c] for c in match.cameras), rig.metadata)
    check_rig_for_3d(rig, f"keypoint folders {', '.join(Path(f).name for f in folders)}")
    kp, ids, kps = load_views(folders, len(rig), keypoint_set, unsynced=offsets is not None)
    captured = [recorded_capture(list_frame_files(f)[0]) for f in folders]
    fps = frame_rate(folders, [c[0] for c in captured], fps)
    rig = _sized_rig(rig, folders, [c[1] for c in captured])
    if config.min_views > len(rig):
        raise KeypointFileError(f"min_views = {config.min_views} is more than the rig's {len(rig)} cameras: no joint "
                                f"could ever be triangulated")
    if offsets is not None:
        from capture3d.reconstruct.offsets import apply_offsets

        kp = apply_offsets(kp, offsets)
    for cam, f in zip(rig.cameras, folders):
        xy = kp[rig.names.index(cam.name)][..., :2]
        w, h = cam.size_wh
        with np.errstate(invalid="ignore"):
            outside = (xy[..., 0] > 2 * w) | (xy[..., 1] > 2 * h)
        if outside.any():
            log.warning("%s: %d keypoints lie far outside camera %s's %dx%d image: is the folder order right?",
                        f, int(outside.sum()), cam.name, w, h)
    return _Job(rig, folders, kp, (ids - ids[0]) / fps, fps, kps, offsets, match.note)


def _sized_rig(rig: Rig, folders, sizes_wh: list[tuple[int, int] | None]) -> Rig:
    """The rig adapted to the image sizes the keypoint files record, by the one size rule
    (``capture3d.io.camera_match.adapt_camera_size``: an encoder crop is noted, another size is an error)."""
    cams = []
    for cam, f, size in zip(rig.cameras, folders, sizes_wh):
        if size is not None:
            cam, note = adapt_camera_size(cam, size, f"{Path(f).name} (the images its keypoints were detected on)")
            if note:
                log.warning(note)
        cams.append(cam)
    return Rig(tuple(cams), rig.metadata)


def _nothing_reconstructed(rig: Rig, kp: np.ndarray, folders) -> str:
    """Why no joint triangulated, with the likely cause: the keypoints' extent against each camera's image."""
    parts = []
    for cam, f, v in zip(rig.cameras, folders, kp):
        xy = v[..., :2][v[..., 2] > 0]
        if xy.size:
            parts.append(f"{Path(f).name}: keypoints up to {xy[:, 0].max():.0f} x {xy[:, 1].max():.0f} px, camera "
                         f"{cam.name} calibrated at {cam.size_wh[0]} x {cam.size_wh[1]} px")
    return ("no joint could be triangulated in any frame: the keypoints do not agree with the rig. Likely causes: a "
            "rig for another image size or another recording, or the folders in another camera order. "
            + "; ".join(parts))
