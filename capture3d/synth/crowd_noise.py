"""A multi-person 2D detector-error model: what a bottom-up detector makes of several people per view.

On top of the per-person model of ``observe`` (pixel noise, missed joints, gross outliers, left/right
swaps), per view and frame:
- occlusion: the joints of a person that fall inside the box of a person nearer to the camera are missed
  with probability ``occlusion`` (people hidden behind each other);
- merges: two overlapping people come out as one detection (the nearer person's joints, with whole limbs
  taken from the other one), the other detection is gone;
- splits: one person comes out as two detections (upper body and legs);
- person swaps: two overlapping people exchange their legs;
- false detections: a Poisson number of ghost people per view-frame (a real pose pasted at a random place
  with low scores);
- the detections of every view-frame come in random order, with empty slots (NaN, NaN, 0) at the end of
  the order as often as anywhere else.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from capture3d.body.keypoint_sets import KeypointSet
from capture3d.geometry.camera import Rig
from capture3d.nanstats import quiet_nan_warnings
from capture3d.synth.noise import ErrorModel, observe

_LEG_WORDS = ("Hip", "Knee", "Ankle", "Heel", "Toe")
_OVERLAP_IOU = 0.15  # boxes overlapping this much can be merged or swapped by the detector
_EXTRA_SLOTS = 3     # detection slots per view-frame beyond one per person (splits, false detections)


@dataclass(frozen=True)
class CrowdErrorModel:
    """Parameters of the multi-person detector-error model (probabilities per view-frame and person or pair).

    person: the per-person model (noise, missing joints, outliers, left/right swaps).
    occlusion: probability that a joint inside a nearer person's box is missed.
    merges / person_swaps: probability that an overlapping pair is merged / swaps legs.
    splits: probability that a person is split into two detections.
    false_per_view: mean number of false detections per view-frame.
    """

    person: ErrorModel = field(default_factory=ErrorModel)
    occlusion: float = 0.7
    merges: float = 0.05
    person_swaps: float = 0.05
    splits: float = 0.01
    false_per_view: float = 0.1

    def __post_init__(self) -> None:
        for name in ("occlusion", "merges", "person_swaps", "splits"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"CrowdErrorModel.{name} must be a probability in [0, 1], got {v}")
        if not self.false_per_view >= 0:
            raise ValueError(f"CrowdErrorModel.false_per_view must be >= 0, got {self.false_per_view}")


@dataclass(frozen=True)
class CrowdObservations:
    """Multi-person detections with their truth.

    keypoints2d: (V, T, S, J, 3) x px, y px, score per detection slot, in random order (empty: NaN, NaN, 0).
    identity: (V, T, S) int, the person a detection mostly is (-1: empty slot or false detection).
    kind: (V, T, S) str code: "" empty, "p" person, "m" merged, "s" split part, "x" legs swapped, "f" false.
    visible: (V, T, N, J) bool, the joint projects into the image.
    """

    keypoints2d: np.ndarray
    identity: np.ndarray
    kind: np.ndarray
    visible: np.ndarray

    def detections_of(self, person: int) -> np.ndarray:
        """(V, T) number of detections that are mostly ``person`` (2 where split)."""
        return (self.identity == person).sum(axis=-1)


def _boxes(xy: np.ndarray) -> np.ndarray:
    """(..., J, 2) px -> (..., 4) x0, y0, x1, y1 over the finite joints (NaN when none)."""
    with np.errstate(invalid="ignore"), quiet_nan_warnings():
        return np.concatenate([np.nanmin(xy, axis=-2), np.nanmax(xy, axis=-2)], axis=-1)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes (..., 4), broadcast; 0 where either is NaN."""
    w = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    h = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    return np.nan_to_num(inter / (area(a) + area(b) - inter))


def _occluded(true_px: np.ndarray, depth: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(V, T, N, J) bool: the joint lies inside the box of a person nearer to the camera.

    true_px (V, T, N, J, 2), depth (V, T, N) pelvis depth in each camera, boxes (V, T, N, 4)."""
    b = boxes[:, :, :, None, None]                        # (V, T, N_near, 1, 1, 4)
    x, y = true_px[:, :, None, ..., 0], true_px[:, :, None, ..., 1]  # (V, T, 1, N_far, J)
    with np.errstate(invalid="ignore"):
        inside = (x > b[..., 0]) & (x < b[..., 2]) & (y > b[..., 1]) & (y < b[..., 3])
        nearer = depth[:, :, :, None] < depth[:, :, None, :]  # (V, T, N_near, N_far)
    return (inside & nearer[..., None]).any(axis=2)


def observe_crowd(rig: Rig, people_xyz: np.ndarray, keypoint_set: KeypointSet,
                  model: CrowdErrorModel = CrowdErrorModel(), seed: int | np.random.Generator = 0
                  ) -> CrowdObservations:
    """Project every person (N, T, J, 3) through the rig and the multi-person error model."""
    rng = np.random.default_rng(seed)
    xyz = np.asarray(people_xyz, float)
    N, T, J, _ = xyz.shape
    V, S = len(rig), N + _EXTRA_SLOTS
    obs = [observe(rig, xyz[i], model.person, rng, keypoint_set) for i in range(N)]
    det = np.stack([o.keypoints_px for o in obs], axis=2)        # (V, T, N, J, 3)
    true = np.stack([o.true_px for o in obs], axis=2)            # (V, T, N, J, 2)
    visible = np.stack([o.visible for o in obs], axis=2)
    boxes = _boxes(true)
    mid = xyz.mean(axis=2)                                        # (N, T, 3)
    P = rig.cams_from_world()
    depth = np.einsum("vk,ntk->vtn", P[:, 2, :3], mid) + P[:, None, None, 2, 3]
    hide = _occluded(true, depth, boxes) & (rng.random((V, T, N, J)) < model.occlusion)
    det[hide] = (np.nan, np.nan, 0.0)

    out = np.zeros((V, T, S, J, 3))
    out[..., :2] = np.nan
    out[:, :, :N] = det
    ident = np.full((V, T, S), -1)
    ident[:, :, :N] = np.where((det[..., 2] > 0).any(-1), np.arange(N), -1)
    kind = np.full((V, T, S), "", dtype="<U1")
    kind[ident >= 0] = "p"
    legs = np.array([any(w in n for w in _LEG_WORDS) for n in keypoint_set.names])
    _pair_events(rng, model, out, ident, kind, boxes, depth, legs)
    _split_events(rng, model, out, ident, kind, legs, N)
    _false_detections(rng, model, out, kind, true, N, np.array([c.size_wh for c in rig.cameras], float))
    order = np.argsort(rng.random((V, T, S)), axis=-1)
    out = np.take_along_axis(out, order[..., None, None], axis=2)
    return CrowdObservations(out, np.take_along_axis(ident, order, axis=2), np.take_along_axis(kind, order, axis=2),
                             visible)


def _pair_events(rng, model, out, ident, kind, boxes, depth, legs) -> None:
    """Merges and leg swaps of overlapping pairs, in place on the person slots."""
    N = boxes.shape[2]
    if N < 2:
        return
    ia, ib = np.triu_indices(N, 1)
    overlap = _iou(boxes[:, :, ia], boxes[:, :, ib]) > _OVERLAP_IOU   # (V, T, pairs)
    u = rng.random(overlap.shape)
    merge = overlap & (u < model.merges)
    swap = overlap & ~merge & (u < model.merges + model.person_swaps)
    for v, t, k in zip(*np.nonzero(swap)):
        a, b = ia[k], ib[k]
        if kind[v, t, a] != "p" or kind[v, t, b] != "p":
            continue
        la, lb = out[v, t, a, legs].copy(), out[v, t, b, legs].copy()
        out[v, t, a, legs], out[v, t, b, legs] = lb, la
        kind[v, t, a] = kind[v, t, b] = "x"
    for v, t, k in zip(*np.nonzero(merge)):
        a, b = ia[k], ib[k]
        if kind[v, t, a] not in "px" or kind[v, t, b] not in "px" or not kind[v, t, a] or not kind[v, t, b]:
            continue
        near, far = (a, b) if depth[v, t, a] < depth[v, t, b] else (b, a)
        take = legs if rng.random() < 0.5 else ~legs  # a whole part of the far person replaces the near one's
        seen = out[v, t, far, :, 2] > 0
        out[v, t, near, take & seen] = out[v, t, far, take & seen]
        out[v, t, far] = (np.nan, np.nan, 0.0)
        ident[v, t, far], kind[v, t, far], kind[v, t, near] = -1, "", "m"


def _free_slot(kind: np.ndarray, v: int, t: int, start: int) -> int:
    free = np.flatnonzero(kind[v, t, start:] == "")
    return int(start + free[0]) if free.size else -1


def _split_events(rng, model, out, ident, kind, legs, N) -> None:
    """A person reported as two detections (upper body, legs), in place."""
    split = (kind[:, :, :N] != "") & (rng.random(kind[:, :, :N].shape) < model.splits)
    for v, t, i in zip(*np.nonzero(split)):
        s = _free_slot(kind, v, t, N)
        if s < 0:
            continue
        out[v, t, s] = (np.nan, np.nan, 0.0)
        out[v, t, s, legs] = out[v, t, i, legs]
        out[v, t, i, legs] = (np.nan, np.nan, 0.0)
        ident[v, t, s] = ident[v, t, i]
        kind[v, t, s] = kind[v, t, i] = "s"


def _false_detections(rng, model, out, kind, true, N, sizes_wh) -> None:
    """Ghost people: a real projected pose moved to a random place in the image, low scores; in place."""
    V, T = kind.shape[:2]
    n_false = rng.poisson(model.false_per_view, (V, T))
    for v, t in zip(*np.nonzero(n_false)):
        for _ in range(int(n_false[v, t])):
            s = _free_slot(kind, v, t, N)
            src = true[v, rng.integers(T), rng.integers(N)]
            if s < 0 or not np.isfinite(src).any():
                continue
            shift = rng.uniform([0, 0], sizes_wh[v]) - np.nanmean(src, axis=0)
            xy = src + shift + rng.normal(0, 3.0, src.shape)
            ok = np.isfinite(xy).all(-1) & (rng.random(len(xy)) > 0.3)
            out[v, t, s] = (np.nan, np.nan, 0.0)
            out[v, t, s, ok, :2] = xy[ok]
            out[v, t, s, ok, 2] = rng.uniform(0.2, 0.6, int(ok.sum()))
            kind[v, t, s] = "f"
