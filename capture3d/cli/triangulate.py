"""``capture3d triangulate``: OpenPose JSON folders (one per camera) + rig -> 3D file."""
from __future__ import annotations

import argparse
import dataclasses
from capture3d.cli.numbers import PEOPLE_HELP, apply_people, int_in, people_line, people_mode, positive

_EXAMPLE = """\
example:
  capture3d triangulate --rig rig.toml --keypoints2d out/cam1 out/cam2 out/cam3 out/cam4 -o pose3d.csv
  capture3d triangulate --rig calib/ --keypoints2d json/17012332 json/17012333 -o pose3d.trc --fps 60

  capture3d triangulate --rig rig.toml --keypoints2d rtm/cam* --keypoint-set HALPE_26 -o pose3d.c3d

The folders hold OpenPose-format *_keypoints.json files (pose_keypoints_2d), one folder per camera; frames
pair up by the frame number in the file names. Folders are matched to the rig's cameras by name, ignoring
case, punctuation and leading zeros (kp/cam1 is camera cam_01), in any order, and a subset of the cameras
may be given; only when no folder name matches a camera are they paired in the order given. The pairing
is printed. The frame rate is --fps, else the one the files record ('capture3d detect' writes it), else
30 fps with a warning. The joints' keypoint set is
--keypoint-set, else the one the files record (capture3d writes it), else the only set with that many
joints, else (25 joints: BODY_25 or BODY_25B) the one the data's geometry fits; a warning says when the
data looks like another set than the one used. 'capture3d sets' lists the sets. The output format
follows the suffix: .csv, .json, .trc, .bvh, .c3d; every output records the keypoint set.

Several people in view: by default one subject is followed ([tracking] policy: central, largest,
consistent). --people all reconstructs every person with a stable id: the CSV gets a 'person' column
after time_s (one row per frame and person), the JSON a person_id per entry, and TRC, C3D and BVH one
file per person, <name>_person<id>.<ext>. --people 2 follows person 2 of that multi-person tracking.
  capture3d triangulate --rig rig.toml --keypoints2d json/cam* -o take.csv --people all
"""


def register(sub) -> None:
    p = sub.add_parser("triangulate", help="triangulate OpenPose JSON folders (one per camera) to 3D",
                       description="Robustly triangulate 2D keypoints from OpenPose JSON folders with a "
                                   "calibrated rig and write a 3D file.",
                       epilog=_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rig", required=True, help="rig TOML file, or a folder / file of OpenPose camera XML")
    p.add_argument("--keypoints2d", nargs="+", required=True, metavar="DIR", help="one JSON folder per camera")
    p.add_argument("-o", "--output", required=True, help="output file: .csv, .json, .trc, ...")
    p.add_argument("--fps", type=positive(10000.0, "Hz"), default=None,
                   help="frame rate of the input (default: the one the files record, else 30 with a warning)")
    p.add_argument("--config", help="TOML config file whose [triangulation], [tracking] and [filter] sections are used")
    p.add_argument("--threshold-px", type=positive(10000.0, "px"), help="reprojection error above which a view is an outlier")
    p.add_argument("--min-views", type=int_in(2, 64), help="views that must agree for a 3D point (default 2)")
    p.add_argument("--keypoint-set", default=None, metavar="NAME",
                   help="keypoint set of the JSON files (BODY_25, BODY_25B, COCO_17, HALPE_26, ...)")
    p.add_argument("--people", type=people_mode, default=None, metavar="all|one|ID", help=PEOPLE_HELP)
    p.add_argument("--offsets", default=None, metavar="FILE",
                   help="per-camera time offsets (frames, from 'capture3d sync'): views are re-sampled at them, "
                        "interpolating the 2D keypoints at sub-frame offsets")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from capture3d.config import AppConfig, load_config
    from capture3d.errors import ConfigError
    from capture3d.export import write_keypoints3d
    from capture3d.io.paths import check_writable
    from capture3d.io.rig_files import load_rig
    from capture3d.reconstruct.folders import triangulate_folders

    if args.fps is not None and not args.fps > 0:
        raise ConfigError(f"--fps must be > 0, found {args.fps}")
    cfg = load_config(args.config) if args.config else AppConfig()
    tri = cfg.triangulation
    if args.threshold_px is not None:
        tri = dataclasses.replace(tri, threshold_px=args.threshold_px)
    if args.min_views is not None:
        tri = dataclasses.replace(tri, min_views=args.min_views)
    tri.validate()
    check_writable(args.output)
    rig = load_rig(args.rig)
    if tri.min_views > len(rig):
        raise ConfigError(f"--min-views {tri.min_views} is more than the rig's {len(rig)} cameras ({args.rig})")
    offsets = None
    if args.offsets:
        from capture3d.reconstruct.offsets import read_offsets

        offsets = read_offsets(args.offsets, rig.names)[0]
    tracking = apply_people(cfg.tracking, args.people)
    tracking.validate()
    if tracking.people == "all":
        return _run_people(args, rig, tri, tracking, cfg.filter, offsets)
    kp3d = triangulate_folders(rig, args.keypoints2d, args.fps, tri, tracking=tracking, filtering=cfg.filter,
                               keypoint_set=args.keypoint_set, offsets=offsets)
    path = write_keypoints3d(args.output, kp3d)
    valid = kp3d.valid
    err = float(np.nanmean(kp3d.reproj_err_px)) if valid.any() else float("nan")
    print(f"capture3d triangulate: {kp3d.n_frames} frames x {kp3d.keypoint_set.n_joints} joints "
          f"({kp3d.keypoint_set.name}) from {len(kp3d.metadata['source'])} cameras at {kp3d.fps:g} fps")
    print(f"  {kp3d.metadata['cameras']}")
    print(f"  reconstructed {100 * valid.mean():.1f}% of joints, mean reprojection error {err:.2f} px")
    people = people_line(tracking, subject=(kp3d.metadata.get("people_seen", 0), kp3d.metadata.get("subject_choices", 0)))
    if people:
        print(f"  {people}")
    print(f"  wrote {path}")
    return 0


def _run_people(args, rig, tri, tracking, filtering, offsets) -> int:
    """--people all: every person, written per person (see the epilog)."""
    import numpy as np

    from capture3d.export.people import write_people
    from capture3d.reconstruct.folders import triangulate_folders_people

    people = triangulate_folders_people(rig, args.keypoints2d, args.fps, tri, tracking=tracking, filtering=filtering,
                                        keypoint_set=args.keypoint_set, offsets=offsets)
    if not people:
        print(f"capture3d triangulate: nobody was seen in >= {tri.min_views} views for {tracking.birth_frames} "
              f"frames in a row: no person to write")
        return 1
    first = next(iter(people.values()))
    print(f"capture3d triangulate: {first.n_frames} frames x {first.keypoint_set.n_joints} joints "
          f"({first.keypoint_set.name}) from {len(rig)} cameras; {len(people)} {'person' if len(people) == 1 else 'people'}")
    for pid, kp in people.items():
        seen = kp.valid.any(axis=1)
        err = float(np.nanmean(kp.reproj_err_px)) if kp.valid.any() else float("nan")
        print(f"  person {pid}: in {int(seen.sum())} frames ({first.times_s[seen.argmax()]:.2f}-"
              f"{first.times_s[len(seen) - 1 - seen[::-1].argmax()]:.2f} s), mean reprojection error {err:.2f} px")
    for path in write_people(args.output, people):
        print(f"  wrote {path}")
    return 0
