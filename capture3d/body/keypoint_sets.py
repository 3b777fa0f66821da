"""Every keypoint set capture3d knows, by name.

BODY_25, BODY_25B, COCO_18, BODY_135, HAND_21, FACE_70 (OpenPose, see sets_openpose), WHOLEBODY_135
(capture3d's whole body: BODY_25 + hands + face), COCO_17, HALPE_26, COCO_WHOLEBODY_133, MEDIAPIPE_33
(see sets_coco). Sets are always named by the user or by the file that carries them, never guessed
from a joint count; ``capture3d.body.set_check`` warns when data looks like a different set.
"""
from __future__ import annotations

from capture3d.body.keypoint_set import KeypointSet
from capture3d.body.sets_coco import COCO_17, COCO_WHOLEBODY_133, HALPE_26, MEDIAPIPE_33
from capture3d.body.sets_openpose import (BODY_25, BODY_25B, BODY_135, COCO_18, FACE_70, HAND_21, WHOLEBODY_135,
                                          WHOLEBODY_FACE0, WHOLEBODY_LHAND0, WHOLEBODY_RHAND0, compose_wholebody,
                                          split_wholebody)

KEYPOINT_SETS: dict[str, KeypointSet] = {s.name: s for s in (
    BODY_25, BODY_25B, COCO_18, COCO_17, HALPE_26, COCO_WHOLEBODY_133, MEDIAPIPE_33, BODY_135, WHOLEBODY_135,
    HAND_21, FACE_70)}
#: Sets a body detector or a 2D file can be in (HAND_21 and FACE_70 are parts).
BODY_SETS = tuple(n for n in KEYPOINT_SETS if n not in ("HAND_21", "FACE_70"))

__all__ = ["BODY_25", "BODY_25B", "BODY_135", "BODY_SETS", "COCO_17", "COCO_18", "COCO_WHOLEBODY_133", "FACE_70",
           "HALPE_26", "HAND_21", "KEYPOINT_SETS", "KeypointSet", "MEDIAPIPE_33", "WHOLEBODY_135", "WHOLEBODY_FACE0",
           "WHOLEBODY_LHAND0", "WHOLEBODY_RHAND0", "compose_wholebody", "get_keypoint_set", "sets_with_joints",
           "split_wholebody"]


def get_keypoint_set(name: str) -> KeypointSet:
    """Look up a keypoint set by name (case-insensitive, '-' for '_'); the error lists the known ones."""
    key = str(name).upper().replace("-", "_")
    if key in KEYPOINT_SETS:
        return KEYPOINT_SETS[key]
    raise KeyError(f"unknown keypoint set {name!r}; known: {', '.join(KEYPOINT_SETS)}")


def sets_with_joints(n_joints: int) -> tuple[KeypointSet, ...]:
    """The body sets with ``n_joints`` joints (25 -> BODY_25 and BODY_25B)."""
    return tuple(KEYPOINT_SETS[n] for n in BODY_SETS if KEYPOINT_SETS[n].n_joints == n_joints)


#: other tools' joint names -> ours (Pose2Sim's TRC markers: "Hip" is the mid-hip, "Head" the top of the head)
NAME_ALIASES = {"Hip": "MidHip", "Head": "HeadTop"}


def set_for_names(names) -> tuple[KeypointSet, list[int]] | None:
    """The keypoint set that holds every one of ``names`` (joint or marker names, in any order, a subset
    allowed; NAME_ALIASES applied), the smallest such set, and each name's joint index in it; None if no
    set holds them all. A file with exactly a set's names in its order gets that set."""
    names = [NAME_ALIASES.get(n, n) for n in names]
    if len(set(names)) != len(names):
        return None
    exact = next((k for k in KEYPOINT_SETS.values() if list(k.names) == names), None)
    if exact is not None:
        return exact, list(range(len(names)))
    fits = [k for k in KEYPOINT_SETS.values() if set(names) <= set(k.names)]
    if not fits:
        return None
    best = min(fits, key=lambda k: k.n_joints)
    return best, [best.names.index(n) for n in names]

