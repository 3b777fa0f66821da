"""``capture3d rig``: show a rig and convert between rig formats."""
from __future__ import annotations

import argparse
from pathlib import Path

_EPILOG = """\
examples:
  capture3d rig show calibration/Calib.qca.txt
  capture3d rig convert calibration/Calib.qca.txt -o rig.toml          Qualisys -> capture3d / anipose TOML
  capture3d rig convert openpose_xml_folder/ -o rig.toml               OpenPose camera XML files -> TOML
  capture3d rig convert rig.toml -o openpose_xml/ --to openpose        TOML -> one OpenPose XML per camera

Readable: capture3d / anipose / aniposelib / Pose2Sim TOML (tables that are not cameras, such as
[capture_volume] or [charuco], are skipped), Qualisys .qca.txt (sensor units converted to px, the video
window's offset applied), OpenPose XML (a file or a folder of them). The TOML written has zero-padded camera
tables (cam_01 ... cam_12), so tools that sort names as text keep the order.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "rig", help="show a rig or convert it between formats (TOML, Qualisys, OpenPose XML)",
        description="Read a camera rig in any supported format; print it or write it in another.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="rig_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="print the cameras of a rig", epilog=_EPILOG,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    show.add_argument("rig", type=Path, metavar="RIG", help="rig file or folder")
    show.set_defaults(func=run_show)
    conv = sub.add_parser("convert", help="convert a rig to capture3d TOML or OpenPose XML", epilog=_EPILOG,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    conv.add_argument("rig", type=Path, metavar="IN", help="rig file or folder to read")
    conv.add_argument("-o", "--out", required=True, type=Path, metavar="OUT",
                      help="output: a .toml file, or a folder with --to openpose")
    conv.add_argument("--to", choices=("toml", "openpose"), default="toml", help="output format (default toml)")
    conv.add_argument("--force", action="store_true", help="replace an existing output")
    conv.set_defaults(func=run_convert)


def _describe(rig) -> list[str]:
    lines = []
    for cam in rig:
        c = cam.center_world
        lines.append(f"  {cam.name}: {cam.size_wh[0]}x{cam.size_wh[1]} px, f {cam.K[0, 0]:.1f}/{cam.K[1, 1]:.1f} px, "
                     f"c ({cam.K[0, 2]:.1f}, {cam.K[1, 2]:.1f}) px, {cam.dist.size} distortion coefficients"
                     f"{' (fisheye)' if cam.fisheye else ''}, centre ({c[0]:.3f}, {c[1]:.3f}, {c[2]:.3f}) m")
    return lines


def run_show(args: argparse.Namespace) -> int:
    from capture3d.io.rig_files import load_rig  # noqa: PLC0415
    rig = load_rig(args.rig)
    print(f"{args.rig}: {len(rig)} cameras")
    print("\n".join(_describe(rig)))
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from capture3d.errors import RigError  # noqa: PLC0415
    from capture3d.io.rig_files import load_rig, save_rig, write_openpose_xml  # noqa: PLC0415
    rig = load_rig(args.rig)
    out = args.out
    if out.resolve() == args.rig.resolve():
        raise RigError(f"{out}: the output is the input; choose another output (inputs are never modified)")
    if out.exists() and not args.force and (out.is_file() or any(out.iterdir())):
        raise RigError(f"{out} exists; use --force to replace it")
    if args.to == "openpose":
        out.mkdir(parents=True, exist_ok=True)
        written = write_openpose_xml(out, rig)
        print(f"capture3d rig: {len(rig)} cameras -> {len(written)} OpenPose XML files in {out}")
    else:
        if out.suffix.lower() != ".toml":
            raise RigError(f"{out}: expected a .toml output file (or --to openpose for a folder)")
        save_rig(out, rig, {"converted_from": str(args.rig)})
        print(f"capture3d rig: {len(rig)} cameras -> {out}")
    print("\n".join(_describe(rig)))
    return 0
