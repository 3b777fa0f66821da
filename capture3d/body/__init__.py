"""Body models: named keypoint sets (joints, bones, parents, left/right pairs) and bone lengths.

A keypoint set is always named, never guessed from a joint count.
"""
from capture3d.body.keypoint_sets import (BODY_25, COCO_18, FACE_70, HAND_21, WHOLEBODY_135, KeypointSet,
                                          get_keypoint_set)

__all__ = ["BODY_25", "COCO_18", "FACE_70", "HAND_21", "KeypointSet", "WHOLEBODY_135", "get_keypoint_set"]
