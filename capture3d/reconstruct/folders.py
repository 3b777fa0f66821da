"""Triangulate OpenPose JSON folders (one per camera, in rig order) into a 3D sequence."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from capture3d.geometry.camera import Rig
from capture3d.config import FilterConfig, TrackingConfig, TriangulationConfig
from capture3d.errors import ConfigError, KeypointFileError
from capture3d.io.openpose_json import read_openpose_folder
from capture3d.io.paths import check_distinct
from capture3d.reconstruct.reconstructor import Reconstructor
from capture3d.body.keypoint_set import KeypointSet
from capture3d.body.set_check import choose_set
from capture3d.types import Keypoints3D

log = logging.getLogger(__name__)


def load_views(folders: list[str | os.PathLike], n_cameras: int,
               keypoint_set: str | None = None) -> tuple[np.ndarray, np.ndarray, KeypointSet]:
    """Read one OpenPose JSON folder per camera and check they agree.

    keypoint_set: the set the files are in (None: the set the files record, else the one set with
    their joint count, else the one their geometry fits; see capture3d.body.set_check, which also
    warns when the data looks like another set than the one used).
    Returns keypoints (V, T, P, J, 3), frame_ids (T,) and the keypoint set. Errors name the folder and
    the frames that are missing when the cameras disagree.
    """
    if len(folders) != n_cameras:
        raise KeypointFileError(f"the rig has {n_cameras} cameras but {len(folders)} keypoint folders were given "
                                f"(expected one folder per camera, in rig order)")
    check_distinct(folders, "keypoint folder", KeypointFileError)
    views = [read_openpose_folder(f) for f in folders]
    ids0 = views[0].frame_ids
    for f, v in zip(folders, views):
        if not np.array_equal(v.frame_ids, ids0):
            missing = sorted(set(ids0.tolist()) - set(v.frame_ids.tolist()))
            extra = sorted(set(v.frame_ids.tolist()) - set(ids0.tolist()))
            raise KeypointFileError(
                f"{f}: frames differ from {folders[0]} ({len(v.frame_ids)} vs {len(ids0)} files); "
                f"missing frames {missing[:10]}{'...' if len(missing) > 10 else ''}, "
                f"extra frames {extra[:10]}{'...' if len(extra) > 10 else ''}")
    joints = {v.keypoints.shape[2] for v in views if v.keypoints.shape[2]}
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
            kp[i, :, : v.keypoints.shape[1]] = v.keypoints
    try:
        kps = choose_set(kp, keypoint_set, recorded.pop() if recorded else None)
    except (KeyError, ValueError) as exc:
        raise KeypointFileError(f"{folders[0]}...: {exc.args[0]}") from None
    return kp, ids0, kps


def triangulate_folders(rig: Rig, folders: list[str | os.PathLike], fps: float = 30.0,
                        config: TriangulationConfig = TriangulationConfig(),
                        tracking: TrackingConfig | None = None, filtering: FilterConfig | None = None,
                        keypoint_set: str | None = None, offsets: np.ndarray | None = None) -> Keypoints3D:
    """OpenPose JSON folders (one per camera, rig order) -> Keypoints3D (times from frame ids / fps).

    keypoint_set: the set the files are in (see load_views); the result is in that set.
    offsets: (V,) per-camera time offsets in frames (capture3d.reconstruct.offsets), applied to the 2D first."""
    kp, ids, kps = _prepare(rig, folders, config, keypoint_set, offsets)
    recon = Reconstructor(rig, kps, config, tracking=tracking, filtering=filtering)
    out = recon.process_sequence(kp, (ids - ids[0]) / fps, fps)
    pid = recon.tracking.person_id if recon.tracking.enabled else None
    if pid is not None and not out.valid.any() and recon.people_born:
        raise ConfigError(f"no person {pid} in this take: the people found have ids 1..{recon.people_born} "
                          f"(policy / --people {pid})")
    if len(out.times_s) and not out.valid.any() and (kp[..., 2] > 0).any():
        raise KeypointFileError(_nothing_reconstructed(rig, kp, folders))
    return _with_meta(out, fps, kps, folders, offsets)


def triangulate_folders_people(rig: Rig, folders: list[str | os.PathLike], fps: float = 30.0,
                               config: TriangulationConfig = TriangulationConfig(),
                               tracking: TrackingConfig | None = None, filtering: FilterConfig | None = None,
                               keypoint_set: str | None = None, offsets: np.ndarray | None = None
                               ) -> dict[int, Keypoints3D]:
    """As ``triangulate_folders``, every person: {person id: Keypoints3D over every frame}, ids in order
    (empty when nobody was seen in >= 2 views long enough to be born)."""
    kp, ids, kps = _prepare(rig, folders, config, keypoint_set, offsets)
    recon = Reconstructor(rig, kps, config, tracking=tracking, filtering=filtering)
    people = recon.process_sequence_people(kp, (ids - ids[0]) / fps, fps)
    if not people and (kp[..., 2] > 0).any() and not recon.process_sequence(kp, (ids - ids[0]) / fps, fps).valid.any():
        raise KeypointFileError(_nothing_reconstructed(rig, kp, folders))
    return {i: _with_meta(p, fps, kps, folders, offsets) for i, p in people.items()}


def _with_meta(out: Keypoints3D, fps: float, kps: KeypointSet, folders, offsets) -> Keypoints3D:
    meta = {"source": [str(Path(f)) for f in folders], "keypoint_set": kps.name}
    if offsets is not None:
        meta["offsets_frames"] = [round(float(o), 3) for o in offsets]
    return Keypoints3D(out.xyz_world, out.confidence, out.reproj_err_px, out.n_views, out.times_s, fps, kps, meta)


def _prepare(rig: Rig, folders, config: TriangulationConfig, keypoint_set: str | None, offsets):
    """Read and check the folders: keypoints (V, T, P, J, 3), frame ids (T,), keypoint set."""
    kp, ids, kps = load_views(folders, len(rig), keypoint_set)
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
    return kp, ids, kps


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
