"""Which keypoint set do 2D keypoints look like? A check of named data against a body template.

Each candidate set names the joints; the rigid core of a body (head, neck, shoulders, hips) has a
known shape. For each pose (one person in one view), the core joints as the candidate names them are
fitted by an affine camera (the projection of the 3D template, 8 parameters) and the fit's residual
is compared with the pose's size. The set under which the data fits the template best is the likely
one: BODY_25B read as BODY_25 puts the "neck" on an eye and the "right shoulder" on the other eye,
which no camera can produce from a body.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from capture3d.body.keypoint_set import KeypointSet
from capture3d.body.keypoint_sets import sets_with_joints

log = logging.getLogger(__name__)

#: Core joints of a standing adult, metres, body frame (x to the subject's left, y up, z forward).
TEMPLATE_M: dict[str, tuple[float, float, float]] = {
    "Nose": (0.0, 1.62, 0.10), "LEye": (0.032, 1.66, 0.075), "REye": (-0.032, 1.66, 0.075),
    "LEyeInner": (0.015, 1.66, 0.085), "REyeInner": (-0.015, 1.66, 0.085),
    "LEyeOuter": (0.048, 1.66, 0.07), "REyeOuter": (-0.048, 1.66, 0.07),
    "LEar": (0.075, 1.64, 0.0), "REar": (-0.075, 1.64, 0.0), "MouthL": (0.025, 1.57, 0.09),
    "MouthR": (-0.025, 1.57, 0.09), "HeadTop": (0.0, 1.79, 0.0), "UpperNeck": (0.0, 1.53, -0.01),
    "Neck": (0.0, 1.45, 0.0), "LShoulder": (0.19, 1.44, 0.0), "RShoulder": (-0.19, 1.44, 0.0),
    "MidHip": (0.0, 0.95, 0.0), "LHip": (0.10, 0.95, 0.0), "RHip": (-0.10, 0.95, 0.0),
}
_MIN_CORE = 7          # core joints a pose needs to be fitted (8 unknowns per image axis pair)
_MAX_POSES = 300       # poses sampled per check
_LIKELY_RATIO = 2.0    # the named set is doubted when another fits this many times better


@dataclass(frozen=True)
class SetFit:
    """How well data fits the template under one set's names: ``misfit`` is the median over poses
    of the affine fit's RMS residual divided by the pose's RMS spread (0 = perfect, ~1 = no
    relation); ``n_poses`` poses were fitted."""

    name: str
    misfit: float
    n_poses: int


def _pose_misfit(xy: np.ndarray, template: np.ndarray) -> float:
    """xy: (K, 2) px, template: (K, 3) m -> RMS residual / RMS spread of the affine fit."""
    A = np.hstack([template, np.ones((len(template), 1))])
    coef, *_ = np.linalg.lstsq(A, xy, rcond=None)
    resid = xy - A @ coef
    spread = np.sqrt(np.mean(np.sum((xy - xy.mean(axis=0)) ** 2, axis=1)))
    return float(np.sqrt(np.mean(np.sum(resid ** 2, axis=1))) / max(spread, 1e-9))


def fit_set(keypoints_2d: np.ndarray, kps: KeypointSet, min_score: float = 0.3) -> SetFit:
    """Fit (..., J, 3) x px, y px, score keypoints named by ``kps`` to the template."""
    kp = np.asarray(keypoints_2d, dtype=float)
    if kp.shape[-2:] != (kps.n_joints, 3):
        raise ValueError(f"expected (..., {kps.n_joints}, 3) {kps.name} keypoints, got {kp.shape}")
    core = [j for j, n in enumerate(kps.names) if n in TEMPLATE_M]
    template = np.array([TEMPLATE_M[kps.names[j]] for j in core]).reshape(-1, 3)
    poses = kp.reshape(-1, kps.n_joints, 3)[:, core]
    ok = np.isfinite(poses[..., :2]).all(-1) & (np.nan_to_num(poses[..., 2]) > min_score)
    usable = np.flatnonzero(ok.sum(axis=1) >= _MIN_CORE)
    if len(usable) > _MAX_POSES:
        usable = usable[np.linspace(0, len(usable) - 1, _MAX_POSES).astype(int)]
    misfits = [_pose_misfit(poses[i, ok[i], :2], template[ok[i]]) for i in usable]
    return SetFit(kps.name, float(np.median(misfits)) if misfits else float("nan"), len(misfits))


def likely_set(keypoints_2d: np.ndarray, candidates: tuple[KeypointSet, ...] | None = None) -> list[SetFit]:
    """Fits of every candidate (default: the body sets with the data's joint count), best first;
    sets that could not be fitted (too few core joints seen) come last."""
    J = np.asarray(keypoints_2d).shape[-2]
    fits = [fit_set(keypoints_2d, s) for s in (candidates or sets_with_joints(J))]
    return sorted(fits, key=lambda f: (not np.isfinite(f.misfit), f.misfit))


def doubt_about(keypoints_2d: np.ndarray, named: KeypointSet) -> str | None:
    """A sentence for the user when the data looks like another set than ``named``, else None."""
    fits = likely_set(keypoints_2d, (named,) + tuple(s for s in sets_with_joints(named.n_joints) if s != named))
    mine = next(f for f in fits if f.name == named.name)
    best = fits[0]
    if best.name == named.name or not np.isfinite(best.misfit) or not np.isfinite(mine.misfit):
        return None
    if mine.misfit < _LIKELY_RATIO * best.misfit:
        return None
    return (f"the keypoints are named {named.name} but look like {best.name}: a body fits them with "
            f"{100 * best.misfit:.0f}% residual as {best.name} against {100 * mine.misfit:.0f}% as {named.name} "
            f"(over {best.n_poses} poses); pass --keypoint-set {best.name} if that is what produced them")


def choose_set(keypoints_2d: np.ndarray, named: str | None, recorded: str | None = None) -> KeypointSet:
    """The set to read 2D data as: ``named`` (the user's), else ``recorded`` (the file's), else the
    only body set with the data's joint count, else the best fitting one of those with that count
    (logged). Warns when the data looks like another set than the one used. Raises ValueError when
    no set has the data's joint count."""
    from capture3d.body.keypoint_sets import BODY_SETS, get_keypoint_set  # noqa: PLC0415

    J = int(np.asarray(keypoints_2d).shape[-2])
    choice = named or recorded
    if choice:
        kps = get_keypoint_set(choice)
        if kps.n_joints != J:
            raise ValueError(f"{kps.name} has {kps.n_joints} joints but the data has {J} per person")
    else:
        same = sets_with_joints(J)
        if not same:
            counts = ", ".join(f"{n} ({get_keypoint_set(n).n_joints})" for n in BODY_SETS)
            raise ValueError(f"{J} keypoints per person match no known set; sets (joints): {counts}")
        kps = same[0] if len(same) == 1 else get_keypoint_set(likely_set(keypoints_2d, same)[0].name)
        if len(same) > 1:
            log.info("%d joints per person could be %s; the data fits %s best (name it with --keypoint-set)",
                     J, " or ".join(s.name for s in same), kps.name)
    doubt = doubt_about(keypoints_2d, kps)
    if doubt:
        log.warning("%s", doubt)
    return kps
