"""``capture3d process``: a recorded session -> 2D -> 3D -> exports (offline: every frame set)."""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from capture3d.cli.numbers import PEOPLE_HELP, apply_people, people_line, people_mode

log = logging.getLogger(__name__)

_EPILOG = """\
examples:
  capture3d process SESSION -o OUT
  capture3d process SESSION --rig calib/rig.toml --config configs/process.toml -o OUT
  capture3d process Trial_1/videos --rig calibration/Calib.qca.txt -o OUT       one video per camera
  capture3d process cam01.mp4 cam02.mp4 cam03.mp4 cam04.mp4 --rig rig.toml -o OUT
  capture3d process SESSION --detector mediapipe -o OUT
  capture3d process SESSION --people all -o OUT          every person, each with its id

INPUT is a session recorded by 'capture3d record', or videos, one per camera: a folder of them (or a trial
folder holding videos/), or the files. Videos are matched to the rig's cameras by name, ignoring case,
punctuation and leading zeros (cam1.mp4 is cam_01), in any order, and may be a subset of the rig's
cameras (the others are named as left out); only when no video name matches a camera are they paired in
natural order. The pairing is printed. The frame rate comes from the files (videos of different rates are
refused); videos of different lengths stop at the shortest, said. A video a few pixels smaller than its
calibration (1080 instead of 1088) uses the calibration as cropped at the right/bottom edge, with a printed
note; any other size is an error. Without --rig, a trial's calibration is found as 'batch' finds it (in
TRIAL/calibration/ or a calibration/ folder beside the trial). 3D needs at least 2 cameras.
docs/troubleshooting.md lists the messages and their fixes.

OUT/ receives keypoints3d.<fmt> for each [export] format (csv, json, trc, bvh, c3d), config.toml and rig.toml.
With [filter] causal = false (the default) the whole take goes through the zero-lag offline chain (Hampel,
gap filling, Butterworth, bone lengths from the whole take); causal = true gives exactly the live numbers.
The config is the session's own config.toml unless --config is given; the rig is the session's rig.toml
unless --rig is given (videos always need --rig). The detector is [pipeline] detector ("auto": MediaPipe
for real footage, the synthetic detector only for synthetic recordings) unless --detector is given.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "process", help="recorded session or videos -> 2D -> 3D -> CSV/JSON/TRC/BVH/C3D (offline)",
        description="Run a recorded session, or one video per camera with a calibration, through detection, "
                    "triangulation and tracking, processing every frame set, and write the 3D exports.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", type=Path, nargs="+", metavar="INPUT",
                   help="session folder written by capture3d record, or videos (a folder or the files)")
    p.add_argument("-o", "--out", required=True, type=Path, metavar="OUT", help="output folder")
    p.add_argument("--rig", default=None,
                   help="rig: TOML, Qualisys .qca.txt or OpenPose XML (default: SESSION/rig.toml, or the trial's "
                        "calibration/ folder)")
    p.add_argument("--config", default=None, help="TOML config (default: SESSION/config.toml)")
    p.add_argument("--detector", default=None, help="2D detector (default: [pipeline] detector)")
    p.add_argument("--keypoint-set", default=None, metavar="NAME",
                   help="keypoint set of the 3D result and every export (default: [pipeline] keypoint_set, "
                        "BODY_25); the detector's joints are mapped to it by name, see 'capture3d sets'")
    p.add_argument("--people", type=people_mode, default=None, metavar="all|one|ID", help=PEOPLE_HELP)
    p.add_argument("--offsets", default=None, metavar="FILE",
                   help="per-camera time offsets (frames, from 'capture3d sync'): the subject's 2D keypoints are "
                        "re-sampled at them (interpolated at sub-frame offsets) before the 3D take is solved")
    p.set_defaults(func=run)


def _missing_parts(kp) -> list[str]:
    """A line for each part of a whole-body set (hands, face) that reached 3D in no frame, so an empty part
    is never silent."""
    import numpy as np  # noqa: PLC0415
    names = kp.keypoint_set.names
    out = []
    for part, prefixes in (("hands", ("LHand_", "RHand_")), ("face", ("Face_",))):
        idx = [i for i, n in enumerate(names) if n.startswith(prefixes)]
        if idx and not np.asarray(kp.valid)[:, idx].any():
            out.append(f"no {part} joint reached 3D in any of the {kp.n_frames} frames: the detector found no "
                       f"{part} in 2 views of one frame (too small in the image, turned away, or a detector "
                       f"without {part}); run 'capture3d detect VIDEO --keypoint-set {kp.keypoint_set.name} "
                       f"--overlay' to see what it found")
    return out


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm  # noqa: PLC0415

    from capture3d.io.paths import check_output_outside, check_writable  # noqa: PLC0415
    from capture3d.runtime.process_run import process_session, resolve_config  # noqa: PLC0415

    check_output_outside(args.out, args.inputs)
    check_writable(args.out, is_dir=True)
    cfg = resolve_config(args.inputs, args.config, args.keypoint_set)
    if args.people is not None:
        cfg = dataclasses.replace(cfg, tracking=apply_people(cfg.tracking, args.people))
        cfg.tracking.validate()
    bar = None

    def start(app) -> None:
        nonlocal bar
        for note in app.notes:
            print(f"capture3d process: note: {note}")
        bar = tqdm(total=app.n_sets, unit="set", desc="process")

    def tick(p) -> None:
        bar.update(p.stats(brief=True).processed - bar.n)

    try:
        res = process_session(cfg, args.inputs, args.out, rig_path=args.rig, detector=args.detector,
                              on_start=start, on_tick=tick, offsets_path=args.offsets)
    finally:
        if bar is not None:
            bar.close()
    if res.kp is None:
        print(f"capture3d process: interrupted ({res.stop_reason}) before any frame set was processed; "
              "nothing written", file=sys.stderr)
        return 130
    kp = res.kp
    print(f"capture3d process: {kp.n_frames} of {res.n_sets} frame sets -> 3D ({res.valid_pct:.1f}% of "
          f"joints), mean reprojection {res.reproj_px:.2f} px; "
          f"incomplete sets {res.incomplete_sets}, drops {res.drops}")
    chain = {"offline": "offline, zero-lag ([filter] causal = false)", "causal": "live chain ([filter] causal = true)",
             "none": "none"}.get(kp.metadata.get("filter"), kp.metadata.get("filter"))
    print(f"  filter: {chain}")
    if "people" in res.extra:
        seen = res.extra["people"]
        print(f"  {len(seen)} {'person' if len(seen) == 1 else 'people'}: " + ", ".join(f"person {i} in {n} sets" for i, n in seen.items())
              + " (outputs per person: CSV 'person' column, JSON person_id, <name>_person<id>.trc/.c3d/.bvh)")
    elif "tracking" in res.extra:
        print(f"  {people_line(res.extra['tracking'], subject=res.extra.get('subject', (0, 0)))}")
    for line in _missing_parts(kp):
        print(f"capture3d process: note: {line}", file=sys.stderr)
    print(f"  outputs: {', '.join(str(p) for p in res.written)}")
    if res.interrupted:
        print(f"capture3d process: interrupted ({res.stop_reason}) after {kp.n_frames} of {res.n_sets} frame sets: "
              "the outputs hold the frame sets before the interruption (partial = true in their metadata)",
              file=sys.stderr)
        return 130
    return 0
