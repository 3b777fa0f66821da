"""Shared by the calibration tests: run ``capture3d calibrate ...`` in-process (errors raise, as in the library)."""
from __future__ import annotations

import argparse

from capture3d.cli import calibrate as calibrate_cli


def run_calibrate(argv: list[str]) -> int:
    """Parse argv with the calibrate command's own parser and run it; returns its exit code."""
    parser = argparse.ArgumentParser()
    calibrate_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)
