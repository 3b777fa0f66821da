"""Scoring multi-person 3D tracks against the synthetic truth: identity switches, accuracy, false people.

Used by the tests and ``tools/bench/bench_people.py``. A track pose is matched, per frame, to the true
person with the lowest median joint error when that error is below ``match_m`` (the median, so that a
pose of the right person with a few wrong joints is that person; its wrong joints count in the MPJPE).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capture3d.nanstats import quiet_nan_warnings


@dataclass(frozen=True)
class PeopleScore:
    """Figures of a multi-person take.

    id_switches: times a true person's track id changed from one matched frame to the next, plus times one
      track id moved from one true person to another.
    mpjpe_m: mean joint error over every matched (track, frame), metres.
    false_sets: fraction of frame sets with at least one track that matches nobody (or a person already matched).
    coverage: fraction of (person, frame) where the person is visible in >= 2 views and has a matched track.
    ids_per_person: (N,) number of distinct track ids each true person had.
    gross_joints: fraction of the matched joints more than 0.1 m from the truth.
    """

    id_switches: int
    mpjpe_m: float
    false_sets: float
    coverage: float
    ids_per_person: np.ndarray
    gross_joints: float = 0.0


def score_people(ids: list[np.ndarray], xyz: list[np.ndarray], truth_xyz: np.ndarray,
                 seen: np.ndarray | None = None, match_m: float = 0.2) -> PeopleScore:
    """ids: per frame (K_t,) track ids; xyz: per frame (K_t, J, 3); truth_xyz: (N, T, J, 3);
    seen: (N, T) bool, the person can be reconstructed (>= 2 views), default all."""
    N, T = truth_xyz.shape[:2]
    seen = np.ones((N, T), bool) if seen is None else seen
    owner = np.full((N, T), -1)          # track id matched to each person
    errs, false = [], np.zeros(T, bool)
    for t in range(T):
        if len(ids[t]) == 0:
            continue
        with np.errstate(invalid="ignore"):
            e = np.linalg.norm(xyz[t][:, None] - truth_xyz[None, :, t], axis=-1)   # (K, N, J)
        with quiet_nan_warnings():
            m = np.nanmedian(e, axis=-1)                                                     # (K, N)
        m = np.where(np.isfinite(m), m, np.inf)
        used = set()
        for k in np.argsort(m.min(axis=1)):
            p = int(np.argmin(m[k]))
            if m[k, p] < match_m and p not in used:
                used.add(p)
                owner[p, t] = ids[t][k]
                errs.append(e[k, p][np.isfinite(e[k, p])])
            else:
                false[t] = True
    switches = 0
    for p in range(N):
        o = owner[p][owner[p] >= 0]
        switches += int((o[1:] != o[:-1]).sum())
    holder: dict[int, set] = {}
    for p in range(N):
        for i in np.unique(owner[p][owner[p] >= 0]):
            holder.setdefault(int(i), set()).add(p)
    switches += sum(len(s) - 1 for s in holder.values())
    allerr = np.concatenate(errs) if errs else np.zeros(0)
    mpjpe = float(allerr.mean()) if errs else float("nan")
    cov = float(((owner >= 0) & seen).sum() / max(seen.sum(), 1))
    ids_pp = np.array([len(np.unique(owner[p][owner[p] >= 0])) for p in range(N)])
    return PeopleScore(switches, mpjpe, float(false.mean()), cov, ids_pp,
                       float((allerr > 0.1).mean()) if allerr.size else 0.0)


def single_person_mpjpe_m(rig, truth_xyz: np.ndarray, keypoints2d: np.ndarray, identity: np.ndarray,
                          fps: float, keypoint_set) -> float:
    """The reference accuracy: each person reconstructed alone, from its own detections only, by the
    single-person tracker (raw triangulation). truth_xyz (N, T, J, 3); keypoints2d (V, T, S, J, 3);
    identity (V, T, S). Mean joint error, metres."""
    from capture3d.reconstruct.track import SubjectTracker  # noqa: PLC0415  (scoring only)

    errs = []
    for p in range(truth_xyz.shape[0]):
        own = np.where((identity == p)[..., None, None], keypoints2d, np.nan)
        own[..., 2] = np.nan_to_num(own[..., 2])
        tr = SubjectTracker(rig, keypoint_set)
        for t in range(keypoints2d.shape[1]):
            e = np.linalg.norm(tr.update(own[:, t], t / fps).tri.xyz_world - truth_xyz[p, t], axis=-1)
            errs.append(e[np.isfinite(e)])
    return float(np.concatenate(errs).mean())
