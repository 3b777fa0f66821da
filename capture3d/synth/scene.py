"""Synthetic multi-person scenes: the subject plus bystanders walking through, with occlusions.

The subject walks the figure-eight of ``walking_motion``; each bystander walks a straight line across the
volume (a different body size, entering at a different time, never closer than ``min_clearance_m`` to
the subject). Every person is projected through the rig with the 2D error model (``observe``), the
subject can be fully occluded (missing in every view) for time windows, and the order of the detections
is shuffled in every view-frame, as a multi-person detector would return them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capture3d.geometry.camera import Rig
from capture3d.synth.motion import walking_motion
from capture3d.synth.noise import ErrorModel, observe


@dataclass(frozen=True)
class Scene:
    """A multi-person synthetic recording with ground truth.

    keypoints2d: (V, T, P, J, 3) detections per view-frame in shuffled order (empty slots NaN, NaN, 0).
    identity: (V, T, P) int, which person each detection is (0 subject, 1.. bystanders, -1 empty slot).
    xyz_world: (N, T, J, 3) ground truth of every person (index 0 = subject), metres.
    subject_visible: (T,) bool, False inside the occlusion windows.
    swapped: (V, T, N) bool, the detector swapped left and right for that person.
    fps: frames per second.
    """

    keypoints2d: np.ndarray
    identity: np.ndarray
    xyz_world: np.ndarray
    subject_visible: np.ndarray
    swapped: np.ndarray
    fps: float

    @property
    def times_s(self) -> np.ndarray:
        return np.arange(self.keypoints2d.shape[1]) / self.fps

    def subject_detections(self) -> np.ndarray:
        """(V, T, J, 3) the subject's own detection per view-frame (an oracle selection)."""
        V, T, P, J, _ = self.keypoints2d.shape
        out = np.zeros((V, T, J, 3))
        out[..., :2] = np.nan
        v, t, p = np.nonzero(self.identity == 0)
        out[v, t] = self.keypoints2d[v, t, p]
        return out


def _bystander_paths(rng: np.random.Generator, n: int, subject_xy: np.ndarray, n_frames: int, fps: float,
                     min_clearance_m: float, speed_mps: float):
    """Random straight walks across the volume that keep their distance from the subject."""
    paths = []
    for k in range(n):
        for _attempt in range(200):
            ang = rng.uniform(0, 2 * np.pi)
            offset = rng.uniform(-1.8, 1.8)
            d = np.array([np.cos(ang), np.sin(ang)])
            nrm = np.array([-d[1], d[0]])
            start = -4.0 * d + offset * nrm
            end = 4.0 * d + offset * nrm
            # enter at a random time within the recording
            t_enter = rng.uniform(0, max(n_frames / fps - 8.0 / speed_mps, 0.1))
            t = np.arange(n_frames) / fps - t_enter
            pos = start + d * (speed_mps * t)[:, None]
            if np.linalg.norm(pos - subject_xy, axis=1).min() >= min_clearance_m:
                paths.append((start, end, -t_enter))
                break
        else:
            raise ValueError(f"could not place bystander {k + 1} at least {min_clearance_m} m from the subject")
    return paths


def make_scene(rig: Rig, n_frames: int = 600, fps: float = 30.0, n_bystanders: int = 2,
               model: ErrorModel = ErrorModel(), occlusions_s: tuple[tuple[float, float], ...] = (),
               seed: int = 0, min_clearance_m: float = 0.8, speed_mps: float = 1.2,
               bystander_scales: tuple[float, ...] = (0.9, 1.1, 0.95)) -> Scene:
    """Subject + ``n_bystanders`` (0-3) through the rig's 2D error model.

    occlusions_s: (start, stop) seconds where the subject is missing in every view.
    Returns a Scene with P = 1 + n_bystanders detection slots per view-frame.
    """
    if not 0 <= n_bystanders <= len(bystander_scales):
        raise ValueError(f"n_bystanders must be 0..{len(bystander_scales)}, got {n_bystanders}")
    rng = np.random.default_rng(seed)
    subject = walking_motion(n_frames, fps)
    kps = subject.keypoint_set
    people = [subject.xyz_world]
    for k, (start, end, t0) in enumerate(_bystander_paths(rng, n_bystanders, subject.xyz_world[:, 8, :2],
                                                          n_frames, fps, min_clearance_m, speed_mps)):
        m = walking_motion(n_frames, fps, path="line", start_xy=start, end_xy=end, time_offset_s=t0,
                           speed_mps=speed_mps, body_scale=bystander_scales[k])
        people.append(m.xyz_world)
    xyz = np.stack(people)  # (N, T, J, 3)
    N, T, J, _ = xyz.shape
    V = len(rig)
    det = np.zeros((V, T, N, J, 3))
    swapped = np.zeros((V, T, N), bool)
    for i in range(N):
        obs = observe(rig, xyz[i], model, rng, kps)
        det[:, :, i] = obs.keypoints_px
        swapped[:, :, i] = obs.swapped
    times = np.arange(T) / fps
    visible = np.ones(T, bool)
    for a, b in occlusions_s:
        visible &= ~((times >= a) & (times < b))
    det[:, ~visible, 0] = (np.nan, np.nan, 0.0)
    ident = np.broadcast_to(np.arange(N), (V, T, N)).copy()
    empty = ~(det[..., 2] > 0).any(-1)
    ident[empty] = -1
    order = np.argsort(rng.random((V, T, N)), axis=-1)
    det = np.take_along_axis(det, order[..., None, None], axis=2)
    ident = np.take_along_axis(ident, order, axis=2)
    return Scene(det, ident, xyz, visible, swapped, fps)


def identity_of_pose(xyz: np.ndarray, people_xyz: np.ndarray, max_mpjpe_m: float = 0.3) -> np.ndarray:
    """Which ground-truth person each estimated pose is: (T, J, 3), (N, T, J, 3) -> (T,) int.

    The person with the lowest mean joint error (if below max_mpjpe_m); -1 for no pose or no match.
    """
    with np.errstate(invalid="ignore"):
        err = np.linalg.norm(people_xyz - xyz[None], axis=-1)  # (N, T, J)
    n = np.isfinite(err).sum(-1)
    mean = np.where(n > 0, np.nansum(err, -1) / np.maximum(n, 1), np.inf)
    best = np.argmin(mean, axis=0)
    return np.where(mean[best, np.arange(xyz.shape[0])] < max_mpjpe_m, best, -1)
