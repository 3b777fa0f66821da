"""Keypoint sets: names, parents, bones, left/right pairs and colours.

Sets: BODY_25 (OpenPose order), COCO_18, HAND_21 (OpenPose order), FACE_70 (OpenPose / iBUG-68 +
2 pupils), WHOLEBODY_135 (BODY_25 + left hand + right hand without their wrists + FACE_70, the wrists
being shared with the body) and MEDIAPIPE_33 with its mapping to BODY_25.

Shapes: J joints; keypoint arrays are (..., J, 3) as x, y, score (2D) or (..., J, 3) x, y, z (3D).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class KeypointSet:
    """A named, ordered set of keypoints with a tree (parents) and the bones to draw.

    parents[j] is the parent joint index of j, or -1 for a root. bones are (a, b) index pairs to draw.
    lr_pairs are (left, right)-mirrored joint index pairs (order within a pair: as listed by the set).
    colors_rgb: (J, 3) uint8 colours per joint (OpenPose rendering colours where they exist).
    """

    name: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    bones: tuple[tuple[int, int], ...]
    lr_pairs: tuple[tuple[int, int], ...] = ()
    colors_rgb: tuple[tuple[int, int, int], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        n = len(self.names)
        if len(self.parents) != n:
            raise ValueError(f"{self.name}: {n} names but {len(self.parents)} parents")
        if len(set(self.names)) != n:
            raise ValueError(f"{self.name}: duplicate joint names")
        for a, b in self.bones:
            if not (0 <= a < n and 0 <= b < n):
                raise ValueError(f"{self.name}: bone ({a}, {b}) outside 0..{n - 1}")

    @property
    def n_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of a joint by name; KeyError lists the valid names."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"{self.name} has no joint {name!r}; joints: {', '.join(self.names)}") from None

    def swap_permutation(self) -> np.ndarray:
        """(J,) int index array that maps every joint to its mirrored twin (identity elsewhere)."""
        perm = np.arange(self.n_joints)
        for a, b in self.lr_pairs:
            perm[a], perm[b] = b, a
        return perm

    def colors(self) -> np.ndarray:
        """(J, 3) uint8 RGB colours; grey where the set defines none."""
        if len(self.colors_rgb) == self.n_joints:
            return np.asarray(self.colors_rgb, dtype=np.uint8)
        return np.full((self.n_joints, 3), 200, dtype=np.uint8)


def _bones_from_parents(parents: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    return tuple((p, j) for j, p in enumerate(parents) if p >= 0)


# ----------------------------------------------------------------------------------------- BODY_25
BODY_25 = KeypointSet(
    name="BODY_25",
    names=("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
           "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar",
           "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel"),
    # Tree rooted at MidHip (8), the order a BVH hierarchy uses.
    parents=(1, 8, 1, 2, 3, 1, 5, 6, -1, 8, 9, 10, 8, 12, 13, 0, 0, 15, 16, 14, 19, 14, 11, 22, 11),
    # OpenPose's BODY_25 drawing order.
    bones=((1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11),
           (8, 12), (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19),
           (19, 20), (14, 21), (11, 22), (22, 23), (11, 24)),
    lr_pairs=((5, 2), (6, 3), (7, 4), (12, 9), (13, 10), (14, 11), (16, 15), (18, 17), (19, 22),
              (20, 23), (21, 24)),
    colors_rgb=((255, 0, 85), (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0),
                (85, 255, 0), (0, 255, 0), (255, 0, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255),
                (0, 170, 255), (0, 85, 255), (0, 0, 255), (255, 0, 170), (170, 0, 255), (255, 0, 255),
                (85, 0, 255), (0, 0, 255), (0, 0, 255), (0, 0, 255), (0, 255, 255), (0, 255, 255),
                (0, 255, 255)),
)

# ----------------------------------------------------------------------------------------- COCO_18
COCO_18 = KeypointSet(
    name="COCO_18",
    names=("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "RHip",
           "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar"),
    parents=(1, -1, 1, 2, 3, 1, 5, 6, 1, 8, 9, 1, 11, 12, 0, 0, 14, 15),
    bones=((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12),
           (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17)),
    lr_pairs=((5, 2), (6, 3), (7, 4), (11, 8), (12, 9), (13, 10), (15, 14), (17, 16)),
    colors_rgb=((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
                (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
                (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85)),
)

# ----------------------------------------------------------------------------------------- HAND_21
_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Pinky")
_HAND_NAMES = ("Wrist",) + tuple(f"{f}{k}" for f in _FINGERS for k in range(1, 5))
_HAND_PARENTS = (-1,) + tuple(0 if k == 0 else 1 + 4 * f + k - 1 for f in range(5) for k in range(4))
_FINGER_COLORS = ((255, 0, 0), (255, 255, 0), (0, 255, 0), (0, 255, 255), (0, 0, 255))
HAND_21 = KeypointSet(
    name="HAND_21",
    names=_HAND_NAMES,
    parents=_HAND_PARENTS,
    bones=_bones_from_parents(_HAND_PARENTS),
    colors_rgb=((255, 255, 255),) + tuple(c for c in _FINGER_COLORS for _ in range(4)),
)

# ----------------------------------------------------------------------------------------- FACE_70
# iBUG-68 contours + 2 pupils, as OpenPose's face model: (start, end) index ranges of each chain.
_FACE_CHAINS = {"Jaw": (0, 16), "REyebrow": (17, 21), "LEyebrow": (22, 26), "NoseBridge": (27, 30),
                "NoseBottom": (31, 35), "REye": (36, 41), "LEye": (42, 47), "LipsOuter": (48, 59),
                "LipsInner": (60, 67)}
_FACE_CLOSED = ("REye", "LEye", "LipsOuter", "LipsInner")


def _face_set() -> KeypointSet:
    names: list[str] = [""] * 70
    parents = [-1] * 70
    bones: list[tuple[int, int]] = []
    for chain, (a, b) in _FACE_CHAINS.items():
        for k, j in enumerate(range(a, b + 1)):
            names[j] = f"{chain}{k}"
            if j > a:
                parents[j] = j - 1
                bones.append((j - 1, j))
        if chain in _FACE_CLOSED:
            bones.append((b, a))
    names[68], names[69] = "RPupil", "LPupil"
    # left/right mirror of the iBUG-68 layout
    mirror = [(i, 16 - i) for i in range(8)] + [(17 + i, 26 - i) for i in range(5)]
    mirror += [(31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    mirror += [(48, 54), (49, 53), (50, 52), (59, 55), (58, 56), (60, 64), (61, 63), (67, 65), (68, 69)]
    return KeypointSet("FACE_70", tuple(names), tuple(parents), tuple(bones), tuple(mirror),
                       tuple((255, 255, 255) for _ in range(70)))


FACE_70 = _face_set()


# ----------------------------------------------------------------------------------- WHOLEBODY_135
def _wholebody_set() -> KeypointSet:
    names = list(BODY_25.names)
    parents = list(BODY_25.parents)
    colors = list(BODY_25.colors_rgb)
    lr = list(BODY_25.lr_pairs)
    starts = {}
    for side, wrist in (("L", BODY_25.index("LWrist")), ("R", BODY_25.index("RWrist"))):
        starts[side] = len(names)
        for j in range(1, 21):
            names.append(f"{side}Hand_{HAND_21.names[j]}")
            p = HAND_21.parents[j]
            parents.append(wrist if p == 0 else starts[side] + p - 1)
            colors.append(HAND_21.colors_rgb[j])
    lr += [(starts["L"] + k, starts["R"] + k) for k in range(20)]
    face0 = len(names)
    names += [f"Face_{n}" for n in FACE_70.names]
    parents += [-1 if p < 0 else face0 + p for p in FACE_70.parents]
    colors += list(FACE_70.colors_rgb)
    lr += [(face0 + a, face0 + b) for a, b in FACE_70.lr_pairs]
    bones = list(BODY_25.bones) + [(a, b) for b, a in enumerate(parents) if a >= 0 and b >= 25 and b < face0]
    bones += [(face0 + a, face0 + b) for a, b in FACE_70.bones]
    return KeypointSet("WHOLEBODY_135", tuple(names), tuple(parents), tuple(bones), tuple(lr), tuple(colors))


WHOLEBODY_135 = _wholebody_set()
#: First index of the left hand, right hand and face blocks inside WHOLEBODY_135.
WHOLEBODY_LHAND0, WHOLEBODY_RHAND0, WHOLEBODY_FACE0 = 25, 45, 65


def compose_wholebody(body: np.ndarray, lhand: np.ndarray, rhand: np.ndarray, face: np.ndarray) -> np.ndarray:
    """Join parts into WHOLEBODY_135.

    body: (..., 25, C), lhand/rhand: (..., 21, C), face: (..., 70, C) with the same leading shape and C.
    Returns (..., 135, C). A hand's wrist is dropped (the body's wrist is kept).
    """
    return np.concatenate([body, lhand[..., 1:, :], rhand[..., 1:, :], face], axis=-2)


def split_wholebody(whole: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of compose_wholebody: (..., 135, C) -> body (25), lhand (21), rhand (21), face (70).

    The hands' wrists are copied from the body's wrists.
    """
    body = whole[..., :25, :]
    lw = body[..., BODY_25.index("LWrist"):BODY_25.index("LWrist") + 1, :]
    rw = body[..., BODY_25.index("RWrist"):BODY_25.index("RWrist") + 1, :]
    lhand = np.concatenate([lw, whole[..., 25:45, :]], axis=-2)
    rhand = np.concatenate([rw, whole[..., 45:65, :]], axis=-2)
    return body, lhand, rhand, whole[..., 65:135, :]


# ------------------------------------------------------------------------------------ MEDIAPIPE_33
MEDIAPIPE_33_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index")

#: BODY_25 joint -> the MediaPipe landmarks averaged to make it. A joint absent here (small toes)
#: cannot be supplied by MediaPipe and is left missing, never invented.
MEDIAPIPE_TO_BODY25: dict[str, tuple[str, ...]] = {
    "Nose": ("nose",), "Neck": ("left_shoulder", "right_shoulder"),
    "RShoulder": ("right_shoulder",), "RElbow": ("right_elbow",), "RWrist": ("right_wrist",),
    "LShoulder": ("left_shoulder",), "LElbow": ("left_elbow",), "LWrist": ("left_wrist",),
    "MidHip": ("left_hip", "right_hip"), "RHip": ("right_hip",), "RKnee": ("right_knee",),
    "RAnkle": ("right_ankle",), "LHip": ("left_hip",), "LKnee": ("left_knee",),
    "LAnkle": ("left_ankle",), "REye": ("right_eye",), "LEye": ("left_eye",), "REar": ("right_ear",),
    "LEar": ("left_ear",), "LBigToe": ("left_foot_index",), "LHeel": ("left_heel",),
    "RBigToe": ("right_foot_index",), "RHeel": ("right_heel",),
}


def _mediapipe_matrix() -> np.ndarray:
    w = np.zeros((BODY_25.n_joints, len(MEDIAPIPE_33_NAMES)))
    for joint, sources in MEDIAPIPE_TO_BODY25.items():
        for s in sources:
            w[BODY_25.index(joint), MEDIAPIPE_33_NAMES.index(s)] = 1.0 / len(sources)
    return w


_MP_TO_B25 = _mediapipe_matrix()


def mediapipe33_to_body25(landmarks: np.ndarray) -> np.ndarray:
    """Map MediaPipe Pose landmarks to BODY_25.

    landmarks: (..., 33, 3) x, y, score (or x, y, z). Returns (..., 25, 3): x/y averaged from the
    source landmarks; the score of a composite joint is the minimum of its sources' scores. Joints
    MediaPipe cannot supply (LSmallToe, RSmallToe) are NaN with score 0.
    """
    lm = np.asarray(landmarks, dtype=float)
    if lm.shape[-2:] != (33, 3):
        raise ValueError(f"expected (..., 33, 3) MediaPipe landmarks, got shape {lm.shape}")
    nan_src = np.isnan(lm[..., :2]).any(axis=-1)  # (..., 33)
    xy = np.einsum("jk,...kc->...jc", _MP_TO_B25, np.where(nan_src[..., None], 0.0, lm[..., :2]))
    score = np.where(_MP_TO_B25 > 0, np.nan_to_num(lm[..., None, :, 2]), np.inf).min(axis=-1)
    out = np.concatenate([xy, score[..., None]], axis=-1)
    # a joint is missing when MediaPipe cannot supply it or when any of its sources is missing
    missing = (_MP_TO_B25.sum(axis=1) == 0) | ((nan_src[..., None, :] & (_MP_TO_B25 > 0)).any(axis=-1))
    out[missing, :2] = np.nan  # broadcasts over the leading axes
    out[..., 2] = np.where(missing, 0.0, out[..., 2])
    return out


KEYPOINT_SETS: dict[str, KeypointSet] = {s.name: s for s in (BODY_25, COCO_18, HAND_21, FACE_70, WHOLEBODY_135)}


def get_keypoint_set(name: str) -> KeypointSet:
    """Look up a keypoint set by name (case-insensitive); the error lists the known ones."""
    for key, kps in KEYPOINT_SETS.items():
        if key.lower() == name.lower():
            return kps
    raise KeyError(f"unknown keypoint set {name!r}; known: {', '.join(KEYPOINT_SETS)}")
