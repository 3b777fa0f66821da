"""``capture3d rig``: show a rig and convert between rig formats."""
from __future__ import annotations

import argparse
from pathlib import Path

_EPILOG = """\
examples:
  capture3d rig show calibration/Calib.qca.txt
  capture3d rig convert Calib.qca.txt -o rig.toml                      Qualisys -> capture3d / anipose TOML
  capture3d rig convert caliscope_project/camera_array.toml -o rig.toml   Caliscope -> TOML
  capture3d rig convert rig.toml -o camera_array.toml                  TOML -> Caliscope
  capture3d rig convert rig.toml -o easymocap_rig/ --format easymocap  TOML -> intri.yml + extri.yml
  capture3d rig convert easymocap_rig/ -o rig.toml                     EasyMocap (folder or either .yml) -> TOML
  capture3d rig convert rig.toml -o openpose_xml/ --format openpose    TOML -> one OpenPose XML per camera
  capture3d rig convert stereo_calib.yml -o rig.toml                   OpenCV stereo YAML -> TOML (2 cameras)
  capture3d rig convert rig2.toml -o stereo.yml                        a 2-camera rig -> OpenCV stereo YAML

formats (--from / --format NAME; how IN is recognized; read / write):
%s

The input format comes from IN's name and, where the name does not tell, its content (--from overrides).
The output format comes from OUT's name: camera_array.toml or config.toml -> caliscope, other .toml -> toml,
intri.yml / extri.yml -> easymocap (both files are written beside each other), other .yml / .yaml -> stereo,
a folder -> openpose (--format overrides, e.g. --format easymocap or --format caliscope for a folder).
All formats use OpenCV's camera model and world -> camera extrinsics (x_cam = R @ x_world + t), metres.
Camera tables are written zero-padded (cam_01 ... cam_12, Caliscope's ports cameras.00 ... cameras.11),
so tools that sort names as text keep the order with 10 or more cameras. The stereo YAML puts camera 1 at the
origin (the rig's world frame is not kept). Inputs are never modified; an existing OUT needs --force.
"""


def _epilog() -> str:
    from capture3d.io.rig_formats import formats_help  # noqa: PLC0415
    return _EPILOG % formats_help()


def register(subparsers) -> None:
    from capture3d.io.rig_formats import FORMAT_NAMES, WRITABLE  # noqa: PLC0415
    epilog = _epilog()
    p = subparsers.add_parser(
        "rig", help="show a rig or convert it between formats (TOML, Caliscope, EasyMocap, OpenPose XML, "
                    "OpenCV stereo YAML, Qualisys)",
        description="Read a camera rig in any supported format; print it or write it in another.",
        epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="rig_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="print the cameras of a rig", epilog=epilog,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    show.add_argument("rig", type=Path, metavar="RIG", help="rig file or folder")
    show.add_argument("--from", dest="from_format", choices=FORMAT_NAMES, help="input format (default: detected)")
    show.set_defaults(func=run_show)
    conv = sub.add_parser("convert", help="convert a rig between formats (see the format list below)",
                          description="Read the rig IN (format detected from its name and content) and write it "
                                      "to OUT (format from OUT's name, or --format).",
                          epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    conv.add_argument("rig", type=Path, metavar="IN", help="rig file or folder to read")
    conv.add_argument("-o", "--out", required=True, type=Path, metavar="OUT",
                      help="output file or folder; its name picks the format (see below)")
    conv.add_argument("--format", "--to", dest="format", choices=WRITABLE,
                      help="output format (default: from OUT's name)")
    conv.add_argument("--from", dest="from_format", choices=FORMAT_NAMES, help="input format (default: detected)")
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
    from capture3d.io.rig_formats import detect_format  # noqa: PLC0415
    fmt = args.from_format or detect_format(args.rig)
    rig = load_rig(args.rig, fmt)
    print(f"{args.rig}: {len(rig)} cameras ({fmt})")
    print("\n".join(_describe(rig)))
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from capture3d.errors import RigError  # noqa: PLC0415
    from capture3d.io.rig_files import load_rig  # noqa: PLC0415
    from capture3d.io.rig_files import write_rig  # noqa: PLC0415
    from capture3d.io.rig_formats import detect_format, input_files, output_files, output_format  # noqa: PLC0415
    src = args.from_format or detect_format(args.rig)
    rig = load_rig(args.rig, src)
    out = args.out
    fmt = output_format(out, args.format)
    inputs = {p.resolve() for p in input_files(args.rig, src)} | {args.rig.resolve()}
    clash = [p for p in output_files(out, rig, fmt) if p.resolve() in inputs] + ([out] if out.resolve() in inputs else [])
    if clash:
        raise RigError(f"{clash[0]}: the output would overwrite the input; choose another output "
                       f"(inputs are never modified)")
    if out.exists() and not args.force and (out.is_file() or any(out.iterdir())):
        raise RigError(f"{out} exists; use --force to replace it")
    written = write_rig(out, rig, fmt, {"converted_from": str(args.rig)})
    files = ", ".join(str(p) for p in written) if len(written) <= 3 else f"{len(written)} files in {out}"
    print(f"capture3d rig: {len(rig)} cameras, {src} -> {fmt}: {files}")
    print("\n".join(_describe(rig)))
    return 0
