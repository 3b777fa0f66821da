"""Pure-numpy geometry for the viewer (no Qt): skeleton draw arrays, camera frustums, colours, and the
projection of world points to widget pixels through an OpenGL projection and view matrix.

Shapes: J joints, B bones, V cameras. Colours are RGBA floats in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capture3d.geometry.camera import Camera, Rig
from capture3d.body.keypoint_sets import WHOLEBODY_135, KeypointSet

#: Part codes of a joint (and of a bone, by its child joint).
BODY, HANDS, FACE = 0, 1, 2
#: Joint sprite diameter in screen pixels per part.
JOINT_SIZE_PX = {BODY: 10.0, HANDS: 5.0, FACE: 3.0}


@dataclass(frozen=True)
class SkeletonStyle:
    """Per-keypoint-set draw attributes, computed once.

    bones: (B, 2) int joint index pairs. part: (J,) int part code per joint (BODY, HANDS, FACE).
    joint_rgba: (J, 4) float. joint_size_px: (J,) float. bone_rgba: (B, 4) float (the child joint's colour,
    as OpenPose colours each limb). bone_part: (B,) int.
    """

    keypoint_set: KeypointSet
    bones: np.ndarray
    part: np.ndarray
    joint_rgba: np.ndarray
    joint_size_px: np.ndarray
    bone_rgba: np.ndarray
    bone_part: np.ndarray

    @classmethod
    def of(cls, kps: KeypointSet) -> "SkeletonStyle":
        J = kps.n_joints
        part = np.full(J, BODY, dtype=np.int64)
        if kps.name == WHOLEBODY_135.name:
            part[25:65] = HANDS
            part[65:] = FACE
        elif kps.name == "HAND_21":
            part[:] = HANDS
        elif kps.name == "FACE_70":
            part[:] = FACE
        rgba = np.concatenate([kps.colors().astype(float) / 255.0, np.ones((J, 1))], axis=1)
        bones = np.asarray(kps.bones, dtype=np.int64).reshape(-1, 2)
        size = np.array([JOINT_SIZE_PX[p] for p in part], dtype=float)
        bone_part = np.maximum(part[bones[:, 0]], part[bones[:, 1]]) if len(bones) else np.zeros(0, np.int64)
        return cls(kps, bones, part, rgba, size, rgba[bones[:, 1]] if len(bones) else np.zeros((0, 4)), bone_part)


@dataclass(frozen=True)
class SkeletonDraw:
    """What one frame draws. joint_xyz: (N, 3); joint_rgba: (N, 4); joint_size_px: (N,);
    joint_index: (N,) which joint of the set each drawn point is; line_xyz: (2M, 3) segment end points;
    line_rgba: (2M, 4); line_part: (2M,) part code of each segment end (BODY, HANDS, FACE).
    joint_person: (N,) which person (row of the people drawn) each point belongs to (0 for one pose)."""

    joint_xyz: np.ndarray
    joint_rgba: np.ndarray
    joint_size_px: np.ndarray
    joint_index: np.ndarray
    line_xyz: np.ndarray
    line_rgba: np.ndarray
    line_part: np.ndarray
    joint_person: np.ndarray | None = None


#: golden-ratio hue steps: consecutive ids get far-apart hues and no two ids below a few hundred get the same
_HUE_STEP = 0.6180339887498949
_HUE_ID1 = 0.08  # person 1: orange (not the frustums' light blue, not the floor grid's grey)
#: joints of the followed person (the one that goes out) are this much larger than everybody else's
FOLLOWED_SCALE = 1.5
LABEL_ABOVE_M = 0.15  # a person's id label: this high above the person's highest joint (metres)


def person_rgba(ids) -> np.ndarray:
    """A stable colour per person id: (K,) int -> (K, 4) RGBA floats in [0, 1]. The hue depends on the id
    alone (golden-ratio steps from orange for id 1), saturation 0.75, full value: bright on the dark
    background, and the same person keeps its colour for the whole take and in every window."""
    ids = np.asarray(ids, dtype=np.int64).ravel()
    h = (_HUE_ID1 + (ids - 1) * _HUE_STEP) % 1.0
    s, v = 0.75, 1.0
    k = (np.array([5.0, 3.0, 1.0])[None] + 6.0 * h[:, None]) % 6.0  # HSV -> RGB, vectorized
    rgb = v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return np.concatenate([rgb, np.ones((len(ids), 1))], axis=1)


def people_draw(style: SkeletonStyle, ids, xyz_world: np.ndarray, followed: int | None = None,
                show_hands: bool = True, show_face: bool = True) -> SkeletonDraw:
    """Every person of a frame in one draw: each person's joints and bones in its colour (``person_rgba``),
    the followed person's joints ``FOLLOWED_SCALE`` times larger. No loop over people or joints.

    ids: (K,) int. xyz_world: (K, J, 3) metres, NaN where missing. followed: the id of the person that goes
    out (None: nobody singled out). A bone is drawn when both of its ends are finite."""
    ids = np.asarray(ids, dtype=np.int64).ravel()
    xyz = np.asarray(xyz_world, dtype=float)
    J = style.keypoint_set.n_joints
    if xyz.shape != (len(ids), J, 3):
        raise ValueError(f"{len(ids)} people of {style.keypoint_set.name} must be ({len(ids)}, {J}, 3), got {xyz.shape}")
    enabled = np.ones(3, dtype=bool)
    enabled[HANDS], enabled[FACE] = show_hands, show_face
    ok = np.isfinite(xyz).all(axis=2) & enabled[style.part][None]  # (K, J)
    kk, jj = np.nonzero(ok)
    rgba = person_rgba(ids)
    size = style.joint_size_px[jj] * np.where(ids[kk] == followed, FOLLOWED_SCALE, 1.0)
    b = style.bones
    bone_ok = ok[:, b[:, 0]] & ok[:, b[:, 1]] if len(b) else np.zeros((len(ids), 0), bool)
    kb, bb = np.nonzero(bone_ok)
    line = xyz[kb[:, None], b[bb]].reshape(-1, 3)  # (M, 2, 3) -> (2M, 3)
    return SkeletonDraw(xyz[kk, jj], rgba[kk], size, jj, line, np.repeat(rgba[kb], 2, axis=0),
                        np.repeat(style.bone_part[bb], 2), kk)


def people_labels(ids, xyz_world: np.ndarray, followed: int | None = None, mark: str = " ●"
                  ) -> list[tuple[np.ndarray, str, tuple[int, int, int]]]:
    """An id label per person, ``LABEL_ABOVE_M`` above its highest joint, in its colour; the followed
    person's text ends with ``mark``. ids: (K,) int; xyz_world: (K, J, 3) metres. People with no finite joint
    get no label. Returns (position (3,), text, RGB 0-255) per label (the scene's label format)."""
    ids = np.asarray(ids, dtype=np.int64).ravel()
    xyz = np.asarray(xyz_world, dtype=float)
    if xyz.ndim != 3 or xyz.shape[0] != len(ids) or xyz.shape[2] != 3:
        raise ValueError(f"the poses of {len(ids)} people must be ({len(ids)}, J, 3), got {xyz.shape}")
    finite = np.isfinite(xyz).all(axis=2)
    seen = finite.any(axis=1)
    top = np.argmax(np.where(finite, xyz[..., 2], -np.inf), axis=1)  # (K,) highest finite joint
    pos = xyz[np.arange(len(ids)), top] + np.array([0.0, 0.0, LABEL_ABOVE_M])
    rgb = np.round(person_rgba(ids)[:, :3] * 255).astype(int)
    return [(pos[k], f"{ids[k]}{mark if ids[k] == followed else ''}", tuple(rgb[k].tolist()))
            for k in np.flatnonzero(seen)]


def skeleton_draw(style: SkeletonStyle, xyz_world: np.ndarray, show_hands: bool = True,
                  show_face: bool = True) -> SkeletonDraw:
    """Select the finite, enabled joints and bones of one pose.

    xyz_world: (J, 3) metres, NaN where missing. A bone is drawn when both of its ends are finite.
    """
    xyz = np.asarray(xyz_world, dtype=float)
    J = style.keypoint_set.n_joints
    if xyz.shape != (J, 3):
        raise ValueError(f"{style.keypoint_set.name} pose must be ({J}, 3), got {xyz.shape}")
    enabled = np.ones(3, dtype=bool)
    enabled[HANDS], enabled[FACE] = show_hands, show_face
    ok = np.isfinite(xyz).all(axis=1) & enabled[style.part]
    idx = np.flatnonzero(ok)
    b = style.bones
    bone_ok = ok[b[:, 0]] & ok[b[:, 1]] if len(b) else np.zeros(0, bool)
    bb = b[bone_ok]
    line = xyz[bb].reshape(-1, 3)
    line_rgba = np.repeat(style.bone_rgba[bone_ok], 2, axis=0)
    line_part = np.repeat(style.bone_part[bone_ok], 2)
    return SkeletonDraw(xyz[idx], style.joint_rgba[idx], style.joint_size_px[idx], idx, line, line_rgba, line_part)


def frustum_segments(camera: Camera, depth_m: float = 0.35) -> np.ndarray:
    """Line segments of a camera's viewing pyramid, (2S, 3) world metres (S = 9: 4 edges from the
    centre, the 4 sides of the image rectangle at ``depth_m``, and an 'up' tick on the image's top edge).

    Uses the pinhole model (distortion ignored: the drawing is a sketch of the field of view).
    """
    w, h = camera.size_wh
    corners_px = np.array([[-0.5, -0.5, 1], [w - 0.5, -0.5, 1], [w - 0.5, h - 0.5, 1], [-0.5, h - 0.5, 1]])
    rays = corners_px @ np.linalg.inv(camera.K).T
    rays = rays / rays[:, 2:3] * depth_m
    top_mid = 0.5 * (rays[0] + rays[1])
    tick = top_mid + np.array([0.0, -0.25 * np.linalg.norm(rays[0, :2] - rays[3, :2]), 0.0])
    pts_cam = np.vstack([rays, [top_mid, tick]])
    pts_world = (pts_cam - camera.tvec) @ camera.R  # R^T (p - t), row-wise
    c = camera.center_world
    seg = []
    for k in range(4):
        seg += [c, pts_world[k], pts_world[k], pts_world[(k + 1) % 4]]
    seg += [pts_world[4], pts_world[5]]
    return np.asarray(seg, dtype=float)


def rig_frustums(rig: Rig, depth_m: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """All frustums of a rig: segments (V * 18, 3) and the camera of each vertex (V * 18,) int."""
    if len(rig) == 0:
        return np.zeros((0, 3)), np.zeros(0, np.int64)
    segs = [frustum_segments(c, depth_m) for c in rig.cameras]
    owner = np.concatenate([np.full(len(s), i) for i, s in enumerate(segs)])
    return np.vstack(segs), owner


def error_rgba(err_px: np.ndarray, good_px: float = 1.0, bad_px: float = 5.0) -> np.ndarray:
    """Colour per value: green at <= good_px, yellow half-way, red at >= bad_px; grey when NaN.

    err_px: (V,) px. Returns (V, 4) RGBA floats.
    """
    e = np.asarray(err_px, dtype=float).ravel()
    a = np.clip((e - good_px) / max(bad_px - good_px, 1e-9), 0.0, 1.0)
    r = np.clip(2.0 * a, 0.0, 1.0)
    g = np.clip(2.0 * (1.0 - a), 0.0, 1.0)
    out = np.stack([r, g, np.zeros_like(a), np.ones_like(a)], axis=1)
    out[~np.isfinite(e)] = (0.6, 0.6, 0.6, 1.0)
    return out


def fit_view(points_world: np.ndarray, fov_deg: float = 60.0) -> tuple[np.ndarray, float]:
    """A view centre and distance that frame (N, 3) points (NaN ignored): (centre (3,), distance m)."""
    p = np.asarray(points_world, float).reshape(-1, 3)
    p = p[np.isfinite(p).all(axis=1)]
    if len(p) == 0:
        return np.array([0.0, 0.0, 1.0]), 6.0
    lo, hi = p.min(axis=0), p.max(axis=0)
    centre = 0.5 * (lo + hi)
    radius = max(0.5 * float(np.linalg.norm(hi - lo)), 1.0)
    return centre, 0.95 * radius / np.tan(np.radians(fov_deg) / 2)


def project_to_widget(xyz: np.ndarray, projection: np.ndarray, view: np.ndarray,
                      size_wh: tuple[int, int]) -> np.ndarray:
    """Project world points to widget pixel coordinates the way OpenGL rasterizes them.

    xyz: (N, 3). projection, view: (4, 4) matrices (row-major, acting on column vectors).
    size_wh: the viewport in px. Returns (N, 2) x, y px with (0, 0) at the top-left corner of the
    widget (pixel (i, j) covers [i, i + 1) x [j, j + 1)); NaN behind the eye.
    """
    p = np.asarray(xyz, float).reshape(-1, 3)
    hom = np.concatenate([p, np.ones((len(p), 1))], axis=1)
    clip = hom @ (np.asarray(projection, float) @ np.asarray(view, float)).T
    w_clip = clip[:, 3]
    with np.errstate(invalid="ignore", divide="ignore"):
        ndc = clip[:, :2] / w_clip[:, None]
    w, h = size_wh
    out = np.stack([(ndc[:, 0] + 1.0) * 0.5 * w, (1.0 - ndc[:, 1]) * 0.5 * h], axis=1)
    out[~(w_clip > 0)] = np.nan
    return out
