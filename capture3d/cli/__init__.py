"""``capture3d <command>``: the command-line entry point.

Each command lives in its own module of this package and exposes ``register(subparsers)``, which adds
its sub-parser and sets ``func`` (called with the parsed args, returns the exit code). Command modules
import heavy dependencies (torch, Qt, PySpin) inside ``func`` only, so ``--help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from capture3d.errors import Capture3DError

#: Command modules, in the order ``capture3d --help`` lists them.
COMMAND_MODULES = (
    "demo",
    "triangulate",
    "detect",
    "cameras",
    "record",
    "live",
    "process",
    "batch",
    "calibrate",
    "selfcal",
    "rig",
    "board",
    "view",
    "export",
    "sets",
    "models",
)

_EPILOG = """\
examples:
  capture3d demo                                   synthetic rig -> 2D -> 3D -> exports (+ viewer)
  capture3d demo --cameras 8 --frames 600 --no-viewer --out demo_out
  capture3d triangulate --rig rig.toml --keypoints2d cam1/ cam2/ cam3/ -o pose3d.csv

Run 'capture3d COMMAND --help' for the options and an example of each command.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="capture3d",
        description="Multi-camera markerless 3D human motion capture: calibrate a rig, capture live, "
                    "triangulate 2D keypoints to 3D, track, filter and export.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-v: info, -vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except Capture3DError as exc:
        print(f"capture3d {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader of our output went away (capture3d rig show | head): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own final flush must not fail again
        return 0
    except OSError as exc:  # read-only folder or file system, disk full, a path that is a folder, ...
        if exc.filename is None:
            raise
        where = exc.filename if exc.filename2 is None else f"{exc.filename} -> {exc.filename2}"
        print(f"capture3d {args.command}: error: cannot use {where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"capture3d {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
