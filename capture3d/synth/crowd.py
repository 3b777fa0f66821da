"""Several people walking through the capture volume at once, crossing and passing behind each other.

Each walker follows its own figure-eight of ``walking_motion`` (random size, orientation, centre, phase and
body size), so the paths cross many times. The walkers are placed one after the other, rejecting placements
that come closer than ``min_clearance_m`` (pelvis to pelvis) to anybody already placed at any frame: people
pass close to and behind each other but never walk through each other.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capture3d.body.keypoint_sets import KeypointSet
from capture3d.synth.motion import walking_motion

_PLACEMENT_TRIES = 200
_RESTARTS = 20


@dataclass(frozen=True)
class Crowd:
    """Ground truth of several walkers.

    xyz_world: (N, T, J, 3) metres, world frame (Z up), every person at every frame.
    body_scales: (N,) segment scale of each person (1.0 = 1.75 m tall). fps: frames per second.
    """

    xyz_world: np.ndarray
    body_scales: np.ndarray
    fps: float
    keypoint_set: KeypointSet

    @property
    def n_people(self) -> int:
        return self.xyz_world.shape[0]

    @property
    def n_frames(self) -> int:
        return self.xyz_world.shape[1]

    def pelvis_distances_m(self) -> np.ndarray:
        """(N, N, T) horizontal pelvis-to-pelvis distance of every pair (inf on the diagonal)."""
        mid = self.keypoint_set.index("MidHip")
        xy = self.xyz_world[:, :, mid, :2]
        d = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
        d[np.arange(self.n_people), np.arange(self.n_people)] = np.inf
        return d

    def close_passes(self, within_m: float = 1.0) -> int:
        """How many times two people come within ``within_m`` of each other (entries into that distance)."""
        close = self.pelvis_distances_m() < within_m
        iu = np.triu_indices(self.n_people, 1)
        c = close[iu]  # (pairs, T)
        return int(c[:, 0].sum() + (c[:, 1:] & ~c[:, :-1]).sum())


def _rotate_about(xyz: np.ndarray, angle_rad: float, centre_xy: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    out = xyz.copy()
    x, y = xyz[..., 0] - centre_xy[0], xyz[..., 1] - centre_xy[1]
    out[..., 0] = centre_xy[0] + c * x - s * y
    out[..., 1] = centre_xy[1] + s * x + c * y
    return out


def crowd_motion(n_people: int = 4, n_frames: int = 600, fps: float = 30.0, *, seed: int = 0,
                 min_clearance_m: float = 0.5, area_m: float = 1.2,
                 scale_range: tuple[float, float] = (0.85, 1.1)) -> Crowd:
    """``n_people`` (1-8) walkers on crossing figure-eights, never closer than ``min_clearance_m``.

    area_m: the centres of the figure-eights lie within +-area_m of the volume's centre (their paths
    span about +-1.3 m around it). ValueError when the walkers cannot be placed (too many for the
    clearance).
    """
    if not 1 <= n_people <= 8:
        raise ValueError(f"n_people must be 1..8, got {n_people}")
    if min_clearance_m < 0:
        raise ValueError(f"min_clearance_m must be >= 0, got {min_clearance_m}")
    rng = np.random.default_rng(seed)
    for _restart in range(_RESTARTS):
        placed = _place(rng, n_people, n_frames, fps, min_clearance_m, area_m, scale_range)
        if placed is not None:
            people, scales, kps = placed
            return Crowd(np.stack(people), np.array(scales), fps, kps)
    raise ValueError(f"could not place {n_people} walkers at least {min_clearance_m} m apart in {_RESTARTS} "
                     f"attempts: fewer people, a smaller clearance or a larger area_m")


def _place(rng, n_people, n_frames, fps, min_clearance_m, area_m, scale_range):
    """One attempt at placing every walker: (list of (T, J, 3), scales, keypoint set), or None."""
    people, scales, kps = [], [], None
    for k in range(n_people):
        for _try in range(_PLACEMENT_TRIES):
            centre = rng.uniform(-area_m, area_m, 2) if k else np.zeros(2)
            scale = float(rng.uniform(*scale_range))
            m = walking_motion(n_frames, fps, center_xy=(0.0, 0.0), path_scale=rng.uniform(0.6, 1.0),
                               time_offset_s=rng.uniform(0.0, 16.0), body_scale=scale)
            xyz = _rotate_about(m.xyz_world, rng.uniform(0, 2 * np.pi), np.zeros(2))
            xyz[..., :2] += centre
            mid = m.keypoint_set.index("MidHip")
            if all(np.linalg.norm(xyz[:, mid, :2] - p[:, mid, :2], axis=1).min() >= min_clearance_m
                   for p in people):
                people.append(xyz)
                scales.append(scale)
                kps = m.keypoint_set
                break
        else:
            return None
    return people, scales, kps
