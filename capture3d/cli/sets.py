"""``capture3d sets``: list the keypoint sets, or show one set's joints."""
from __future__ import annotations

import argparse

_EPILOG = """\
examples:
  capture3d sets                 every set: joints, what it is
  capture3d sets HALPE_26        its joints: index, name, parent, left/right twin

Sets convert into one another by joint name (the neck as the shoulders' centre, the hip centre as the
hips' centre when a set lacks them); a joint the source does not have is missing, never invented.
"""

_ABOUT = {
    "BODY_25": "OpenPose body + feet (its default model)",
    "BODY_25B": "OpenPose experimental body: COCO order + upper neck, head top, feet",
    "COCO_18": "OpenPose COCO body (with a neck)",
    "COCO_17": "COCO keypoints (RTMPose, MMPose, YOLO, detectron2 ...)",
    "HALPE_26": "COCO_17 + head top, neck, hip centre, feet (RTMPose body with feet, Pose2Sim)",
    "COCO_WHOLEBODY_133": "COCO_17 + feet + 68 face + 2 x 21 hand points (RTMW, DWPose)",
    "MEDIAPIPE_33": "MediaPipe Pose / BlazePose landmarks",
    "BODY_135": "OpenPose experimental whole body: BODY_25B + hands + face",
    "WHOLEBODY_135": "capture3d whole body: BODY_25 + hands (wrists shared) + FACE_70",
    "HAND_21": "one hand (OpenPose / MediaPipe order)",
    "FACE_70": "face: iBUG-68 + 2 pupils (OpenPose)",
}


def register(subparsers) -> None:
    p = subparsers.add_parser("sets", help="list the keypoint sets (or one set's joints)",
                              description="List the keypoint sets capture3d reads, triangulates and exports.",
                              epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", help="a set to show joint by joint")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from capture3d.body.keypoint_sets import KEYPOINT_SETS, get_keypoint_set  # noqa: PLC0415
    from capture3d.errors import ConfigError  # noqa: PLC0415

    if args.name is None:
        for name, kps in KEYPOINT_SETS.items():
            print(f"{name:<20} {kps.n_joints:>4} joints  {_ABOUT.get(name, '')}")
        return 0
    try:
        kps = get_keypoint_set(args.name)
    except KeyError as exc:
        raise ConfigError(exc.args[0]) from None
    twin = dict(kps.lr_pairs) | {b: a for a, b in kps.lr_pairs}
    print(f"{kps.name}: {kps.n_joints} joints  {_ABOUT.get(kps.name, '')}")
    for j, n in enumerate(kps.names):
        parent = kps.names[kps.parents[j]] if kps.parents[j] >= 0 else "-"
        print(f"{j:>4}  {n:<22} parent {parent:<22} twin {kps.names[twin[j]] if j in twin else '-'}")
    return 0
