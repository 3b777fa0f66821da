"""Keypoint sets of the COCO family and MediaPipe: COCO_17, HALPE_26, COCO_WHOLEBODY_133, MEDIAPIPE_33.

- COCO_17: the COCO keypoint challenge order (no neck, no hip centre).
- HALPE_26: COCO_17 + head top, neck, hip centre and the feet (RTMPose "body with feet", Pose2Sim's
  default).
- COCO_WHOLEBODY_133: COCO_17 + 6 foot points + the 68 iBUG face points + two 21-point hands (each
  with its own wrist).
- MEDIAPIPE_33: MediaPipe Pose landmarks, named in capture3d's vocabulary (``left_foot_index`` is
  ``LFootIndex``).

Sets without a hip centre are rooted at the left shoulder (the hips hang from the shoulders): the tree
gives the bone lengths the filters and the tracker use; it is not an animation hierarchy.
"""
from __future__ import annotations

from capture3d.body.keypoint_set import KeypointSet, make_set
from capture3d.body.sets_openpose import FACE_70, HAND_21

_COCO_17_NAMES = ("Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder", "LElbow", "RElbow",
                  "LWrist", "RWrist", "LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle")
_LIMBS = {"LElbow": "LShoulder", "RElbow": "RShoulder", "LWrist": "LElbow", "RWrist": "RElbow",
          "LKnee": "LHip", "RKnee": "RHip", "LAnkle": "LKnee", "RAnkle": "RKnee"}
_FACE_ON_NOSE = {"LEye": "Nose", "REye": "Nose", "LEar": "LEye", "REar": "REye"}
#: No hip centre: shoulders and hips chained from the left shoulder.
_TORSO_FROM_SHOULDER = {"RShoulder": "LShoulder", "Nose": "LShoulder", "LHip": "LShoulder", "RHip": "RShoulder"}
_FEET = {"LBigToe": "LAnkle", "LSmallToe": "LBigToe", "LHeel": "LAnkle",
         "RBigToe": "RAnkle", "RSmallToe": "RBigToe", "RHeel": "RAnkle"}
_COCO_DRAW = (("LShoulder", "RShoulder"), ("LHip", "RHip"), ("Nose", "RShoulder"))

COCO_17 = make_set("COCO_17", _COCO_17_NAMES, {**_LIMBS, **_FACE_ON_NOSE, **_TORSO_FROM_SHOULDER},
                   extra_bones=_COCO_DRAW)

HALPE_26 = make_set(
    "HALPE_26",
    _COCO_17_NAMES + ("HeadTop", "Neck", "MidHip", "LBigToe", "RBigToe", "LSmallToe", "RSmallToe", "LHeel",
                      "RHeel"),
    {**_LIMBS, **_FACE_ON_NOSE, **_FEET, "Neck": "MidHip", "LHip": "MidHip", "RHip": "MidHip",
     "LShoulder": "Neck", "RShoulder": "Neck", "Nose": "Neck", "HeadTop": "Neck"})


def _coco_wholebody() -> KeypointSet:
    names = _COCO_17_NAMES + ("LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")
    names += tuple(f"Face_{n}" for n in FACE_70.names[:68])
    names += tuple(f"{side}Hand_{n}" for side in "LR" for n in HAND_21.names)
    parent_of = {**_LIMBS, **_FACE_ON_NOSE, **_TORSO_FROM_SHOULDER, **_FEET}
    for j in range(68):
        p = FACE_70.parents[j]
        if p >= 0:
            parent_of[f"Face_{FACE_70.names[j]}"] = f"Face_{FACE_70.names[p]}"
    for side in "LR":
        parent_of[f"{side}Hand_Wrist"] = f"{side}Wrist"
        for j in range(1, 21):
            parent_of[f"{side}Hand_{HAND_21.names[j]}"] = f"{side}Hand_{HAND_21.names[HAND_21.parents[j]]}"
    face0 = 23
    closing = tuple((f"Face_{FACE_70.names[b]}", f"Face_{FACE_70.names[a]}")
                    for a, b in FACE_70.bones if b < a and a < 68)
    face_pairs = tuple((face0 + a, face0 + b) for a, b in FACE_70.lr_pairs if a < 68 and b < 68)
    return make_set("COCO_WHOLEBODY_133", names, parent_of, extra_bones=_COCO_DRAW + closing,
                    extra_pairs=face_pairs)


COCO_WHOLEBODY_133 = _coco_wholebody()

MEDIAPIPE_33 = make_set(
    "MEDIAPIPE_33",
    ("Nose", "LEyeInner", "LEye", "LEyeOuter", "REyeInner", "REye", "REyeOuter", "LEar", "REar", "MouthL",
     "MouthR", "LShoulder", "RShoulder", "LElbow", "RElbow", "LWrist", "RWrist", "LPinky", "RPinky", "LIndex",
     "RIndex", "LThumb", "RThumb", "LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle", "LHeel", "RHeel",
     "LFootIndex", "RFootIndex"),
    {**_LIMBS, **_TORSO_FROM_SHOULDER, "LEyeInner": "Nose", "LEye": "LEyeInner", "LEyeOuter": "LEye",
     "REyeInner": "Nose", "REye": "REyeInner", "REyeOuter": "REye", "LEar": "LEyeOuter", "REar": "REyeOuter",
     "MouthL": "Nose", "MouthR": "Nose", "LPinky": "LWrist", "RPinky": "RWrist", "LIndex": "LWrist",
     "RIndex": "RWrist", "LThumb": "LWrist", "RThumb": "RWrist", "LHeel": "LAnkle", "RHeel": "RAnkle",
     "LFootIndex": "LAnkle", "RFootIndex": "RAnkle"},
    extra_bones=_COCO_DRAW + (("MouthL", "MouthR"), ("LPinky", "LIndex"), ("RPinky", "RIndex"),
                              ("LHeel", "LFootIndex"), ("RHeel", "RFootIndex")))
