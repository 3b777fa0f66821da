"""``capture3d cameras``: list the FLIR / Point Grey (PySpin) and OpenCV cameras with serials and modes."""
from __future__ import annotations

import argparse
from capture3d.cli.numbers import int_in

_EPILOG = """\
examples:
  capture3d cameras
  capture3d cameras --max-index 4          probe OpenCV device indices 0..3 only
  capture3d cameras --no-opencv            only Spinnaker cameras

Put the serials printed here in [source] cameras of your config (kind = "spinnaker"), or the OpenCV
indices (kind = "opencv").
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "cameras", help="list PySpin (FLIR) and OpenCV cameras with serials and modes",
        description="Enumerate the cameras this machine can capture from: FLIR / Point Grey cameras through "
                    "the Spinnaker SDK (PySpin) with serial, model, resolution, pixel formats and frame rate, "
                    "and OpenCV devices by index.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--max-index", type=int_in(0, 255), default=8, help="OpenCV device indices to probe (default 8)")
    p.add_argument("--no-opencv", action="store_true", help="skip the OpenCV probe")
    p.add_argument("--no-spinnaker", action="store_true", help="skip the Spinnaker probe")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from capture3d.errors import CameraError  # noqa: PLC0415

    if not args.no_spinnaker:
        from capture3d.sources.spinnaker import list_spinnaker_cameras  # noqa: PLC0415
        try:
            cams = list_spinnaker_cameras()
        except CameraError as exc:
            print(f"Spinnaker (PySpin): unavailable: {exc}")
        else:
            print(f"Spinnaker (PySpin): {len(cams)} camera(s)")
            for c in cams:
                formats = ", ".join(c.get("pixel_formats", [])) or "?"
                print(f"  serial {c['serial']}  {c.get('model', '?')}  {c.get('width', '?')}x{c.get('height', '?')} "
                      f"@ {c.get('fps', float('nan')):.1f} fps  formats: {formats}")
    if not args.no_opencv:
        from capture3d.sources.opencv import list_opencv_devices  # noqa: PLC0415
        devs = list_opencv_devices(args.max_index)
        if not devs:
            print(f"OpenCV: no cameras found (tried device indices 0..{args.max_index - 1}; on Linux, "
                  "/dev/video0.. must exist and be readable)")
        else:
            print(f"OpenCV: {len(devs)} device(s) among indices 0..{args.max_index - 1}")
        for d in devs:
            w, h = d["size_wh"]
            print(f"  index {d['index']}  {w}x{h} @ {d['fps']:.1f} fps  ({d['backend']})")
    return 0
