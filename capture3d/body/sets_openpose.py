"""OpenPose's keypoint sets: BODY_25, BODY_25B, COCO_18, HAND_21, FACE_70, WHOLEBODY_135 and BODY_135.

WHOLEBODY_135 is capture3d's whole body: BODY_25 + left hand + right hand without their wrists (the
wrists are the body's) + FACE_70. BODY_135 is OpenPose's experimental whole-body model: BODY_25B +
the same hand and face blocks, with the same joint names.

Shapes: J joints; keypoint arrays are (..., J, 3) as x, y, score (2D) or x, y, z (3D).
"""
from __future__ import annotations

import numpy as np

from capture3d.body.keypoint_set import KeypointSet, bones_from_parents, make_set

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
    bones=bones_from_parents(_HAND_PARENTS),
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


# ------------------------------------------------------------------------------------- BODY_25B
# OpenPose's experimental BODY_25B: COCO order for the first 17 joints, then the neck's top, the head's
# top and the feet. No Neck (shoulder centre) and no MidHip: the tree is rooted at UpperNeck.
BODY_25B = make_set(
    "BODY_25B",
    ("Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder", "LElbow", "RElbow", "LWrist",
     "RWrist", "LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle", "UpperNeck", "HeadTop", "LBigToe",
     "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel"),
    {"Nose": "UpperNeck", "HeadTop": "UpperNeck", "LEye": "Nose", "REye": "Nose", "LEar": "LEye",
     "REar": "REye", "LShoulder": "UpperNeck", "RShoulder": "UpperNeck", "LElbow": "LShoulder",
     "RElbow": "RShoulder", "LWrist": "LElbow", "RWrist": "RElbow", "LHip": "LShoulder", "RHip": "RShoulder",
     "LKnee": "LHip", "RKnee": "RHip", "LAnkle": "LKnee", "RAnkle": "RKnee", "LBigToe": "LAnkle",
     "LSmallToe": "LBigToe", "LHeel": "LAnkle", "RBigToe": "RAnkle", "RSmallToe": "RBigToe", "RHeel": "RAnkle"},
    extra_bones=(("LHip", "RHip"),))


# ------------------------------------------------------------------------ WHOLEBODY_135 / BODY_135
def _with_hands_and_face(name: str, body: KeypointSet) -> KeypointSet:
    """body + left hand + right hand (HAND_21 without the wrist, hung on the body's wrists) + FACE_70."""
    names = list(body.names)
    parents = list(body.parents)
    colors = list(body.colors())
    lr = list(body.lr_pairs)
    starts = {}
    for side in ("L", "R"):
        wrist = body.index(f"{side}Wrist")
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
    n_body = body.n_joints
    bones = list(body.bones) + [(a, b) for b, a in enumerate(parents) if a >= 0 and n_body <= b < face0]
    bones += [(face0 + a, face0 + b) for a, b in FACE_70.bones]
    return KeypointSet(name, tuple(names), tuple(parents), tuple(bones), tuple(lr),
                       tuple(tuple(int(v) for v in c) for c in colors))


WHOLEBODY_135 = _with_hands_and_face("WHOLEBODY_135", BODY_25)
BODY_135 = _with_hands_and_face("BODY_135", BODY_25B)
#: First index of the left hand, right hand and face blocks inside WHOLEBODY_135 (and BODY_135).
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


