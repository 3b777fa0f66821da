"""Unity humanoid bone rotations from 3D keypoints, solved by the BVH export's solver (one source of truth).

``HumanoidSolver`` measures the subject's bone lengths on the first frames (as the live BVH does), builds the
BVH hierarchy (``capture3d.export.bvh_write.plan_skeleton``, T-pose, metres, Y up) and per frame solves the
BVH joints' rotations (``solve_rotations``); each humanoid bone takes the global rotation of one BVH joint,
and its local rotation is its parent bone's global rotation inverted times its own.

Frames: the BVH's Y-up output axes (X = world x, Y = world z, Z = -world y; right-handed, rest pose facing
+Z with the subject's left at +X) mirrored in X give Unity's left-handed frame (X right, Y up, Z forward:
the avatar faces +Z, its left hand at -X). A rotation matrix R becomes S R S with S = diag(-1, 1, 1).

Rest pose (every local rotation identity): the T-pose of ``capture3d.export.bvh_skeleton`` standing on
the floor facing +Z (Unity): legs straight down, arms horizontal along -X (left) / +X (right), palms down,
fingers along the arms, thumbs forward-out, spine and neck up. Bones without a tracked joint (Toes;
fingers without hands) carry their parent's rotation (local identity) or are left out (fingers).
"""
from __future__ import annotations

import logging

import numpy as np

from capture3d.body.convert import convert_keypoints
from capture3d.body.keypoint_sets import KeypointSet
from capture3d.errors import ExportError
from capture3d.export.bvh_skeleton import bvh_set_for, default_include
from capture3d.export.bvh_stream import hold_missing
from capture3d.export.bvh_write import (OUT_FROM_WORLD, BVHOptions, keypoint_bone_lengths, plan_skeleton,
                                        rest_keypoint_positions, solve_plan, solve_rotations)

log = logging.getLogger(__name__)

#: Unity (left-handed) <- BVH Y-up output axes (right-handed): mirror X
UNITY_FROM_OUT = np.diag([-1.0, 1.0, 1.0])
UNITY_FROM_WORLD = UNITY_FROM_OUT @ OUT_FROM_WORLD["y-up"]
_OUT_T = OUT_FROM_WORLD["y-up"].T
#: UNITY_FROM_OUT @ R @ UNITY_FROM_OUT as an elementwise sign mask (exact)
_MIRROR = np.outer(np.diag(UNITY_FROM_OUT), np.diag(UNITY_FROM_OUT))
_FINGERS = (("Thumb", "Thumb"), ("Index", "Index"), ("Middle", "Middle"), ("Ring", "Ring"), ("Little", "Pinky"))
_PHALANGES = ("Proximal", "Intermediate", "Distal")


def humanoid_table() -> list[tuple[str, str | None, str | None]]:
    """(Unity humanoid bone, its parent bone, the BVH joint whose rotation it takes or None), parents first."""
    rows: list[tuple[str, str | None, str | None]] = [
        ("Hips", None, "MidHip"), ("Spine", "Hips", "MidHip_Neck"), ("Chest", "Spine", "Neck"),
        ("Neck", "Chest", "Neck_Nose"), ("Head", "Neck", "Nose")]
    for s, side in (("L", "Left"), ("R", "Right")):
        rows += [(f"{side}UpperLeg", "Hips", f"{s}Hip"), (f"{side}LowerLeg", f"{side}UpperLeg", f"{s}Knee"),
                 (f"{side}Foot", f"{side}LowerLeg", f"{s}Ankle"), (f"{side}Toes", f"{side}Foot", None),
                 (f"{side}Shoulder", "Chest", f"Neck_{s}Shoulder"), (f"{side}UpperArm", f"{side}Shoulder", f"{s}Shoulder"),
                 (f"{side}LowerArm", f"{side}UpperArm", f"{s}Elbow"), (f"{side}Hand", f"{side}LowerArm", f"{s}Wrist")]
    for s, side in (("L", "Left"), ("R", "Right")):
        for finger, ours in _FINGERS:
            parent = f"{side}Hand"
            for k, part in enumerate(_PHALANGES, 1):
                rows.append((f"{side}{finger}{part}", parent, f"{s}Hand_{ours}{k}"))
                parent = f"{side}{finger}{part}"
    return rows


def _shepperd_map() -> tuple[np.ndarray, np.ndarray]:
    """(9, 16) A and (16,) b with M = R.ravel() @ A + b the symmetric 4x4 matrix whose row i is 4 q_i q
    (q = x, y, z, w): diagonal 1 + r00 - r11 - r22, 1 - r00 + r11 - r22, 1 - r00 - r11 + r22, 1 + trace;
    off-diagonal the sums (x, y, z rows) and differences (w row) of opposite matrix entries."""
    A, b = np.zeros((3, 3, 4, 4)), np.zeros((4, 4))
    b[range(4), range(4)] = 1.0
    for i in range(3):
        A[i, i, 3, 3] = 1.0
        for k in range(3):
            A[k, k, i, i] = 1.0 if k == i else -1.0
    for i, j in ((0, 1), (0, 2), (1, 2)):
        A[i, j, i, j] = A[j, i, i, j] = A[i, j, j, i] = A[j, i, j, i] = 1.0
    for k, (i, j) in enumerate(((2, 1), (0, 2), (1, 0))):  # w row: r21 - r12, r02 - r20, r10 - r01
        A[i, j, 3, k] = A[i, j, k, 3] = 1.0
        A[j, i, 3, k] = A[j, i, k, 3] = -1.0
    return A.reshape(9, 16), b.ravel()


_SHEPPERD_A, _SHEPPERD_B = _shepperd_map()


def matrices_to_quaternions(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (x, y, z, w), w >= 0.

    Shepperd's method, vectorized (as scipy's ``Rotation.from_matrix``): of the four rows 4 q_i q of the
    matrix's symmetric 4x4 form, the one with the largest q_i^2 is read and normalized, so no component
    comes from dividing by a small number."""
    R = np.asarray(R, dtype=float)
    shape = R.shape[:-2]
    M = (R.reshape(-1, 9) @ _SHEPPERD_A + _SHEPPERD_B).reshape(-1, 4, 4)
    n = np.arange(len(M))
    q = M[n, np.argmax(M[:, _DIAG, _DIAG], axis=1)]  # (n, 4)
    q /= np.sqrt(np.einsum("ni,ni->n", q, q))[:, None]
    q *= np.where(q[:, 3:] < 0, -1.0, 1.0)
    return q.reshape(*shape, 4)


_DIAG = np.arange(4)


class HumanoidSolver:
    """keypoint_set: the streamed poses' set (converted by name to the BVH's, see bvh_set_for).
    rest_frames: frames (with every core joint) used to measure bone lengths before the first solve.

    ``update(xyz_world)`` with one (J, 3) frame returns None while the rest pose is being measured, then
    ``(hips_position_unity (3,), local quaternions (B, 4) x y z w in Unity's frame)`` for ``bones``.
    ``rest_positions``: (B, 3) each bone's rest position relative to its parent bone, metres, Unity frame.
    """

    def __init__(self, keypoint_set: KeypointSet, rest_frames: int = 10, max_buffer: int = 600) -> None:
        self.input_set = keypoint_set
        self.keypoint_set = bvh_set_for(keypoint_set)
        self.rest_frames = int(rest_frames)
        self.max_buffer = int(max_buffer)
        self.options = BVHOptions(units="m", axes="y-up", rest_pose="t")
        self._buffer: list[np.ndarray] = []
        self._last = np.full((self.keypoint_set.n_joints, 3), np.nan)
        self.skeleton = self.rest = None
        self.bones: list[str] = []
        self.parents = np.zeros(0, dtype=np.int64)
        self.rest_positions = np.zeros((0, 3))

    @property
    def ready(self) -> bool:
        return self.skeleton is not None

    def _to_set(self, xyz_world: np.ndarray) -> np.ndarray:
        xyz = np.array(xyz_world, dtype=float)
        if self.input_set is not self.keypoint_set:
            xyz = convert_keypoints(xyz, self.input_set, self.keypoint_set, scored=False)
        return xyz

    def _try_start(self) -> None:
        raw = np.stack(self._buffer)
        kps = self.keypoint_set
        L = keypoint_bone_lengths(raw, kps, min_frames=min(5, len(raw)), only=default_include(kps, True))
        root_seen = bool(np.isfinite(raw[:, kps.index("MidHip")]).all(axis=-1).any())
        try:
            skel, rest = plan_skeleton(kps, L, self.options, root_seen)
        except ExportError as exc:
            log.debug("VMC rest pose not measurable yet (%s); buffering", exc)
            return
        self._plan(skel, rest)
        self._buffer = []

    def _plan(self, skel, rest) -> None:
        names = [j.name for j in skel.joints]
        table = [row for row in humanoid_table() if row[2] is None or row[2] in names]
        present = {b for b, _, _ in table}
        table = [row for row in table if row[1] is None or row[1] in present]
        self.bones = [b for b, _, _ in table]
        self.parents = np.array([-1 if p is None else self.bones.index(p) for _, p, _ in table], dtype=np.int64)
        joint = []
        for b, p, j in table:  # a bone without its own BVH joint takes its parent bone's
            joint.append(names.index(j) if j is not None else joint[self.bones.index(p)])
        self._joint = np.array(joint, dtype=np.int64)
        self._parent_or_0 = np.maximum(self.parents, 0)
        self._roots = np.flatnonzero(self.parents < 0)
        kp_pos = rest_keypoint_positions(skel, rest)  # (K, 3) metres, output axes
        head = np.array([kp_pos[skel.joints[j].keypoint] for j in self._joint])
        rel = head - np.where(self.parents[:, None] >= 0, head[np.maximum(self.parents, 0)], 0.0)
        self.rest_positions = rel @ UNITY_FROM_OUT.T
        self._root_kp = skel.joints[0].keypoint
        self.skeleton, self.rest = skel, rest
        self._plan_solve = solve_plan(skel, rest)
        log.info("VMC: %d humanoid bones from a %d-joint BVH hierarchy", len(self.bones), skel.n_joints)

    def update(self, xyz_world: np.ndarray):
        xyz = self._to_set(xyz_world)
        if self.skeleton is None:
            if np.isfinite(xyz).all(axis=1).sum() >= 3:
                self._buffer.append(xyz)
                self._buffer = self._buffer[-self.max_buffer:]
            if len(self._buffer) >= self.rest_frames and len(self._buffer) % self.rest_frames == 0:
                self._try_start()
            if self.skeleton is None:
                return None
        self._last = hold_missing(xyz, self._last, self.keypoint_set.parents)
        if not np.isfinite(xyz[self._root_kp]).all():
            return None
        xyz_out = xyz @ _OUT_T
        _, G = solve_rotations(self.skeleton, self.rest, xyz_out[None], self._plan_solve, with_global=True)
        Gb = G[self._joint, 0]  # (B, 3, 3) global rotation of each bone's BVH joint
        local = Gb[self._parent_or_0].swapaxes(-1, -2) @ Gb
        local[self._roots] = Gb[self._roots]
        local *= _MIRROR  # S R S, S = UNITY_FROM_OUT: Unity's left-handed frame
        return UNITY_FROM_OUT @ xyz_out[self._root_kp], matrices_to_quaternions(local)
