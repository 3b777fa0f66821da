"""The BVH joint hierarchy built from a keypoint set, and its rest pose.

Structure: one BVH joint per keypoint, named as the keypoint (MidHip is the root). A joint whose
keypoint has one child aims at that child. A keypoint with several children (MidHip, Neck, Nose,
the ankles, the wrists with hands) gets a *segment* joint whose rotation is the segment frame
(pelvis from the hips and spine, thorax from the shoulders, head from the eyes, foot from heel-toe,
palm from the hand), and one zero-offset *bone joint* ``<Parent>_<Child>`` per child (like CMU's
LHipJoint or a clavicle), which aims at that child. So every keypoint bone has its own rotation and
forward kinematics reproduces every joint position exactly when bone lengths are constant.

Rest pose: a clean T-pose (arms horizontal) or A-pose (arms 45 degrees down), standing, facing +Z
with Y up and the subject's left towards +X (the "canonical" frame; Blender/Maya/MotionBuilder
convention). Offsets are rest directions times robust per-subject bone lengths.

Shapes: K keypoints in the keypoint set, N BVH joints.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capture3d.errors import ExportError
from capture3d.body.keypoint_sets import HAND_21, KeypointSet

REST_POSES = ("t", "a")

#: keypoints without which no usable body skeleton can be built
CORE_JOINTS = ("MidHip", "Neck", "RHip", "LHip", "RKnee", "LKnee", "RAnkle", "LAnkle", "RShoulder",
               "LShoulder", "RElbow", "LElbow", "RWrist", "LWrist", "Nose")

#: segment frames of keypoints with several children: (aim from, aim to), (reference from, reference to)
SEGMENT_RULES = {
    "MidHip": (("RHip", "LHip"), ("MidHip", "Neck")),            # pelvis
    "Neck": (("RShoulder", "LShoulder"), ("MidHip", "Neck")),    # thorax
    "Nose": (("REye", "LEye"), ("Neck", "Nose")),                # head
    "RAnkle": (("RHeel", "RBigToe"), ("RAnkle", "RKnee")),       # feet
    "LAnkle": (("LHeel", "LBigToe"), ("LAnkle", "LKnee")),
    "RWrist": (("RWrist", "RHand_Middle1"), ("RHand_Pinky1", "RHand_Index1")),   # palms
    "LWrist": (("LWrist", "LHand_Middle1"), ("LHand_Pinky1", "LHand_Index1")),
}

#: twist references of single-child limb joints (the others keep the twist of their parent)
TWIST_RULES = {
    "RHip": ("RHip", "LHip"), "RKnee": ("RHip", "LHip"),
    "LHip": ("RHip", "LHip"), "LKnee": ("RHip", "LHip"),
    "RElbow": ("RHand_Pinky1", "RHand_Index1"), "LElbow": ("LHand_Pinky1", "LHand_Index1"),
}

# Rest directions of each keypoint's incoming bone, canonical frame (X: subject's left, Y up, Z forward).
_BODY_REST = {
    "Neck": (0, 1, 0), "RHip": (-1, 0, 0), "LHip": (1, 0, 0),
    "RKnee": (0, -1, 0), "LKnee": (0, -1, 0), "RAnkle": (0, -1, 0), "LAnkle": (0, -1, 0),
    "RBigToe": (0, -0.4, 0.92), "LBigToe": (0, -0.4, 0.92), "RHeel": (0, -0.8, -0.6), "LHeel": (0, -0.8, -0.6),
    "RSmallToe": (-0.9, 0, -0.45), "LSmallToe": (0.9, 0, -0.45),
    "Nose": (0, 0.8, 0.6), "REye": (-0.6, 0.6, -0.4), "LEye": (0.6, 0.6, -0.4),
    "REar": (-0.55, 0, -0.8), "LEar": (0.55, 0, -0.8),
    "RShoulder": (-1, 0, 0), "LShoulder": (1, 0, 0),
}
# Finger bases in the hand frame: (along the arm, towards the thumb side), unitless layout.
_FINGER_BASE = {"Thumb": (0.5, 0.8), "Index": (1.0, 0.22), "Middle": (1.0, 0.0), "Ring": (1.0, -0.18),
                "Pinky": (1.0, -0.36)}


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def rest_direction(name: str, rest_pose: str) -> np.ndarray | None:
    """Unit rest direction (3,) of the bone into keypoint ``name`` in the canonical frame, or None."""
    if name in _BODY_REST:
        return _unit(_BODY_REST[name])
    side = name[0]
    sgn = -1.0 if side == "R" else 1.0
    arm = _unit((sgn, 0, 0)) if rest_pose == "t" else _unit((sgn, -1.0, 0))
    if name in ("RElbow", "LElbow", "RWrist", "LWrist"):
        return arm
    if name[1:].startswith("Hand_"):
        finger = name.split("_", 1)[1]
        base, k = finger[:-1], int(finger[-1])
        thumb_side = np.array([0.0, 0.0, 1.0])      # palms down in the T-pose, thumbs forward
        if k == 1:
            a, t = _FINGER_BASE[base]
            return _unit(a * arm + t * thumb_side)
        return _unit(arm + 0.8 * thumb_side) if base == "Thumb" else arm
    return None


@dataclass(frozen=True)
class BVHJoint:
    """One joint of the BVH hierarchy.

    name: joint name in the file. parent: index of the parent joint (-1 for the root).
    keypoint: keypoint index at this joint's position (a bone joint sits at its parent's keypoint).
    child: keypoint index this joint aims at (-1 for segment and leaf joints).
    rule: "root-aim", "aim" (twist of the parent), "aim-ref" (twist from ref), "segment", "leaf".
    seg_aim, ref: keypoint index pairs (from, to) for the segment aim and the twist reference.
    """

    name: str
    parent: int
    keypoint: int
    child: int
    rule: str
    seg_aim: tuple[int, int] = (-1, -1)
    ref: tuple[int, int] = (-1, -1)


@dataclass(frozen=True)
class BVHSkeleton:
    """A BVH hierarchy over a keypoint set.

    joints: N joints in file (depth-first) order, parents before children.
    rest_dir_canonical: (K, 3) unit rest direction of each keypoint's incoming bone (NaN where unused).
    keypoint_joint: (K,) index of the joint named as each keypoint (-1 where not in the hierarchy).
    """

    keypoint_set: KeypointSet
    joints: tuple[BVHJoint, ...]
    rest_dir_canonical: np.ndarray
    keypoint_joint: np.ndarray
    rest_pose: str

    @property
    def n_joints(self) -> int:
        return len(self.joints)

    def is_bone_joint(self, j: int) -> bool:
        """True for the zero-offset joints ``<Parent>_<Child>`` that aim at one child of a segment."""
        p = self.joints[j].parent
        return p >= 0 and self.joints[p].keypoint == self.joints[j].keypoint

    def incoming_keypoint(self, j: int) -> int:
        """Keypoint whose incoming bone is this joint's offset (-1 for bone joints and the root)."""
        jt = self.joints[j]
        if jt.parent < 0 or self.joints[jt.parent].keypoint == jt.keypoint:
            return -1
        return jt.keypoint


def bvh_set_for(kps: KeypointSet) -> KeypointSet:
    """The keypoint set a BVH of ``kps`` data is built on: ``kps`` itself when it has the hierarchy's
    core joints (MidHip, Neck, limbs, Nose), else BODY_25 (WHOLEBODY_135 when ``kps`` has hands), to
    which the data is converted by joint name (the neck and hip centre from the shoulders and hips)."""
    from capture3d.body.keypoint_sets import BODY_25, WHOLEBODY_135  # noqa: PLC0415
    if all(n in kps.names for n in CORE_JOINTS):
        return kps
    return WHOLEBODY_135 if any(n.startswith("LHand_") for n in kps.names) else BODY_25


def _hand_names(side: str) -> list[str]:
    return [f"{side}Hand_{n}" for n in HAND_21.names[1:]]


def build_skeleton(kps: KeypointSet, include: np.ndarray, rest_pose: str = "t") -> BVHSkeleton:
    """Build the hierarchy over the keypoints where ``include`` (K,) bool is True.

    The root is MidHip. Raises ExportError when a core joint is not included (listing them) or the
    rest pose is unknown."""
    if rest_pose not in REST_POSES:
        raise ExportError(f"unknown rest pose {rest_pose!r}; rest poses: {', '.join(REST_POSES)} (T-pose, A-pose)")
    names = kps.names
    if "MidHip" not in names:
        raise ExportError(f"BVH export needs a BODY_25-style keypoint set with MidHip; {kps.name} has none")
    include = np.asarray(include, dtype=bool).copy()
    missing_core = [n for n in CORE_JOINTS if n not in names or not include[kps.index(n)]]
    if missing_core:
        raise ExportError("cannot build a BVH rest pose: these joints are missing or seen in too few frames "
                          f"to measure their bone: {', '.join(missing_core)}")
    # drop joints below a dropped joint, outside the tree of MidHip, or without a rest direction
    root = kps.index("MidHip")
    for k in range(len(names)):
        chain_ok, q = True, k
        while kps.parents[q] >= 0:
            q = kps.parents[q]
            chain_ok &= bool(include[q])
        if not chain_ok or q != root or (k != root and rest_direction(names[k], rest_pose) is None):
            include[k] = False
    kids: dict[int, list[int]] = {k: [] for k in range(len(names))}
    for k in range(len(names)):
        p = kps.parents[k]
        if p >= 0 and include[k]:
            kids[p].append(k)

    idx = {n: i for i, n in enumerate(names)}

    def pair(a: str, b: str) -> tuple[int, int] | None:
        if a in idx and b in idx and include[idx[a]] and include[idx[b]]:
            return idx[a], idx[b]
        return None

    joints: list[BVHJoint] = []
    keypoint_joint = np.full(len(names), -1, dtype=np.int64)

    def add(k: int, parent: int) -> None:
        ch = kids[k]
        me = len(joints)
        keypoint_joint[k] = me
        if len(ch) == 1:
            tw = TWIST_RULES.get(names[k])
            ref = pair(*tw) if tw else None
            rule = "aim-ref" if ref else ("root-aim" if parent < 0 else "aim")
            joints.append(BVHJoint(names[k], parent, k, ch[0], rule, ref=ref or (-1, -1)))
            add(ch[0], me)
        elif len(ch) >= 2:
            seg = SEGMENT_RULES.get(names[k])
            sa, sr = (pair(*seg[0]), pair(*seg[1])) if seg else (None, None)
            if sa is None or sr is None:
                sa, sr = (k, ch[0]), (k, ch[1])
            joints.append(BVHJoint(names[k], parent, k, -1, "segment", seg_aim=sa, ref=sr))
            for c in ch:
                b = len(joints)
                joints.append(BVHJoint(f"{names[k]}_{names[c]}", me, k, c, "aim"))
                add(c, b)
        else:
            joints.append(BVHJoint(names[k], parent, k, -1, "leaf"))

    add(kps.index("MidHip"), -1)
    rest = np.full((len(names), 3), np.nan)
    for k in range(len(names)):
        if include[k] and kps.parents[k] >= 0:
            rest[k] = rest_direction(names[k], rest_pose)
    return BVHSkeleton(kps, tuple(joints), rest, keypoint_joint, rest_pose)


def default_include(kps: KeypointSet, hands: bool) -> np.ndarray:
    """(K,) bool: BODY_25 joints, plus the hand joints of WHOLEBODY_135 when ``hands``."""
    body = set(_BODY_REST) | {"MidHip", "RElbow", "LElbow", "RWrist", "LWrist"}
    if hands:
        body |= set(_hand_names("L")) | set(_hand_names("R"))
    return np.array([n in body for n in kps.names])


@dataclass(frozen=True)
class BVHRest:
    """Rest pose of a skeleton in output units and axes.

    offsets: (N, 3) offset of every joint from its parent (root: its rest position).
    end_sites: (N, 3) End Site offsets of leaf joints (NaN for the others).
    rest_dir_out: (K, 3) unit rest bone directions in the output axes.
    bone_length: (K,) length of each keypoint's incoming bone, output units (NaN where unused).
    """

    offsets: np.ndarray
    end_sites: np.ndarray
    rest_dir_out: np.ndarray
    bone_length: np.ndarray


def make_rest(skel: BVHSkeleton, bone_length_m: np.ndarray, scale: float, out_from_canonical: np.ndarray) -> BVHRest:
    """Rest offsets from per-keypoint bone lengths (K,) metres (length of the bone into each keypoint).

    scale: output units per metre (100 for cm). out_from_canonical: (3, 3) axes change."""
    L = np.asarray(bone_length_m, dtype=float) * scale
    dirs = skel.rest_dir_canonical @ out_from_canonical.T
    N = skel.n_joints
    offsets = np.zeros((N, 3))
    ends = np.full((N, 3), np.nan)
    for j, jt in enumerate(skel.joints):
        k = skel.incoming_keypoint(j)
        if k >= 0:
            if not np.isfinite(L[k]):
                raise ExportError(f"no bone length for {skel.keypoint_set.names[k]}: it is missing or seen in too "
                                  "few frames to build a rest pose")
            offsets[j] = L[k] * dirs[k]
        if jt.rule == "leaf":
            k_in = jt.keypoint
            ends[j] = dirs[k_in] * max(0.3 * L[k_in], 0.02 * scale)
    # root: rest skeleton standing with its lowest joint at height 0 (root offsets are replaced by the
    # root position channels in the motion, so this only shapes the rest display)
    pos = np.zeros((N, 3))
    for j, jt in enumerate(skel.joints):
        if jt.parent >= 0:
            pos[j] = pos[jt.parent] + offsets[j]
    up = out_from_canonical @ np.array([0.0, 1.0, 0.0])
    offsets[0] = -np.min(pos @ up) * up
    return BVHRest(offsets, ends, dirs, L)
