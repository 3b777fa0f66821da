"""``capture3d export``: convert a 3D result (CSV, JSON, TRC, BVH, C3D) to another format, BVH with
its skeleton options."""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from capture3d.cli.numbers import int_in, person_id

_EPILOG = """\
examples:
  capture3d export demo_out/keypoints3d.csv --to bvh -o walk.bvh
  capture3d export demo_out --to c3d -o walk.c3d          a result folder: its keypoints3d.* file
  capture3d export take1.json -o take1.bvh --units m --axes z-up --channel-order XYZ --rest-pose a
  capture3d export take1.csv --to bvh -o take1.bvh --no-hands --gaps hold
  capture3d export recording/pose3d.bvh --repair          fix the frame count of a BVH cut by a crash
  capture3d export take.csv --person 2 -o person2.bvh      one person of a --people all result

BVH: one joint per keypoint (named as in BODY_25 / WHOLEBODY_135), plus <Parent>_<Child> bone joints
where a keypoint has several children; Y up by default, centimetres, frame time 1/fps.
C3D: float points in mm, world axes (Z up), labels = joint names. TRC: metres, Y up.
"""

RESULT_STEM = "keypoints3d"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "export", help="convert 3D keypoints between CSV, JSON, TRC, BVH (skeleton animation) and C3D",
        description="Read a 3D keypoint result written by capture3d (CSV, JSON, TRC, BVH or C3D) and write it "
                    "in another format. BVH gets a joint hierarchy with rotations solved from the positions.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="INPUT", help="a 3D keypoint file, or a result folder with keypoints3d.*")
    p.add_argument("-o", "--out", type=Path, help="output file (its suffix gives the format unless --to is given)")
    p.add_argument("--to", metavar="FORMAT", help="output format: csv, json, trc, bvh or c3d")
    p.add_argument("--from", dest="from_fmt", metavar="FORMAT", help="input format when the suffix does not say")
    p.add_argument("--person", type=person_id, default=None, metavar="ID",
                   help="the person to export from a CSV/JSON of several people (--people all)")
    g = p.add_argument_group("BVH options")
    g.add_argument("--units", default="cm", help="cm (default) or m")
    g.add_argument("--axes", default="y-up", help="y-up (default, animation tools) or z-up (capture3d world)")
    g.add_argument("--channel-order", default="ZXY", help="rotation channel order, a permutation of XYZ (default ZXY)")
    g.add_argument("--rest-pose", default="t", help="t (T-pose, default) or a (A-pose)")
    hands = g.add_mutually_exclusive_group()
    hands.add_argument("--hands", dest="hands", action="store_true", default=None,
                       help="export the finger joints (needs WHOLEBODY_135 input; default: when present)")
    hands.add_argument("--no-hands", dest="hands", action="store_false", help="body only")
    g.add_argument("--gaps", default="interpolate", help="missing joints: interpolate (default) or hold")
    g.add_argument("--decimals", type=int_in(0, 12), default=None, help="digits after the point (default 4 in cm, 6 in m)")
    g.add_argument("--repair", action="store_true",
                   help="first fix the Frames: count of a BVH INPUT cut short by a crash (in place)")
    p.set_defaults(func=run)


def find_input(path: Path) -> Path:
    """The 3D keypoint file of a path: the file itself, or keypoints3d.<fmt> inside a result folder."""
    from capture3d.errors import ExportError  # noqa: PLC0415
    from capture3d.export import FORMATS  # noqa: PLC0415

    if path.is_dir():
        for suffix, _, _ in FORMATS.values():
            cand = path / f"{RESULT_STEM}{suffix}"
            if cand.is_file():
                return cand
        raise ExportError(f"{path}: no {RESULT_STEM}.* file in this folder; expected one of "
                          f"{', '.join(RESULT_STEM + s for s, _, _ in FORMATS.values())}")
    if not path.is_file():
        raise ExportError(f"{path}: no such file or folder")
    return path


def run(args) -> int:
    from capture3d.errors import ExportError  # noqa: PLC0415
    from capture3d.export import FORMATS, format_of  # noqa: PLC0415
    from capture3d.export.bvh import BVHOptions, repair_bvh, write_bvh  # noqa: PLC0415
    from capture3d.export.people import read_person  # noqa: PLC0415

    src = find_input(Path(args.input))
    if args.repair:
        if format_of(src, args.from_fmt) != "bvh":
            raise ExportError(f"--repair applies to a BVH input, found {src}")
        n = repair_bvh(src)
        print(f"repaired {src}: {n} complete frames")
        if args.out is None:
            return 0
    if args.out is None:
        raise ExportError("expected an output file: -o OUT (e.g. -o take.bvh)")
    fmt = format_of(args.out, args.to)
    out = args.out if args.out.suffix else args.out.with_suffix(FORMATS[fmt][0])
    if out.resolve() == src.resolve():
        raise ExportError(f"-o {out} is the input file: the export would overwrite what it reads "
                          "(choose another output name)")
    t0 = time.perf_counter()
    kp = read_person(src, args.person, args.from_fmt)
    t1 = time.perf_counter()
    if fmt == "bvh":
        options = BVHOptions(units=args.units, axes=args.axes, channel_order=args.channel_order,
                             rest_pose=args.rest_pose, hands=args.hands, gaps=args.gaps, decimals=args.decimals)
        write_bvh(out, kp, options)
    else:
        FORMATS[fmt][1](out, kp)
    t2 = time.perf_counter()
    print(f"{src} -> {out} ({fmt}): {kp.n_frames} frames, {kp.keypoint_set.name} ({kp.keypoint_set.n_joints} joints), "
          f"{kp.fps:g} Hz; read {t1 - t0:.2f} s, write {t2 - t1:.2f} s")
    return 0
