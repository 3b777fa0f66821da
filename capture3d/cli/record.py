"""``capture3d record``: synchronized capture written to a session folder (videos, frame table, config, rig)."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from capture3d.cli.numbers import positive

_EPILOG = """\
examples:
  capture3d record --config configs/demo-live.toml --duration 5 -o SESSION
  capture3d record --config configs/live.toml --codec png -o sessions/take1     lossless PNG sequences
  capture3d process SESSION -o OUT                                              then 2D -> 3D -> exports

SESSION/ holds one video per camera (<camera>.avi MJPG, <camera>.mkv FFV1 or <camera>/ PNGs), frames.csv
(frame set, camera, device frame id, device and host timestamps; flushed every recording.flush_s),
session.toml, config.toml (resolved) and rig.toml (when known). Ctrl-C / SIGTERM finalize the files; a
recording killed abruptly stays readable up to its last flushed frames (mjpg, png). A full disk stops the
recording cleanly, keeping what was written.

record is capture only (no 2D/3D, the least load on the machine), so it writes no 3D files. For a BVH
written live while recording, use 'capture3d live --record SESSION --bvh'; for every [export] format
(CSV, JSON, TRC, BVH, C3D, with the zero-lag offline filters), run 'capture3d process SESSION -o OUT'.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "record", help="record synchronized cameras to a session folder",
        description="Capture synchronized frame sets from the [source] of a config and record them losslessly "
                    "(every frame set reaching the recorder is written) with per-frame ids and timestamps.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="TOML config (see configs/live.toml, configs/demo-live.toml)")
    p.add_argument("-o", "--out", required=True, type=Path, metavar="SESSION", help="new session folder")
    p.add_argument("--duration", type=positive(7 * 24 * 3600.0, "s"), default=None, metavar="SECONDS", help="stop after this many seconds")
    p.add_argument("--codec", choices=("mjpg", "ffv1", "png"), default=None,
                   help="override [recording] codec: mjpg (fast), ffv1 (lossless .mkv), png (lossless images)")
    p.add_argument("--rig", default=None, help="rig TOML saved with the session (overrides [pipeline] rig)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from capture3d.cli.live import StatsPrinter, exit_code, load_app_config, print_summary  # noqa: PLC0415
    from capture3d.runtime.app import build_record, thread_switch_interval  # noqa: PLC0415
    from capture3d.runtime.signals import stop_on_signals  # noqa: PLC0415

    cfg = load_app_config(args.config)
    if args.codec:
        cfg = dataclasses.replace(cfg, recording=dataclasses.replace(cfg.recording, codec=args.codec))
    app = build_record(cfg, args.out, rig_path=args.rig)
    pipe, writer = app.pipeline, app.recorder
    for note in app.notes:
        print(f"capture3d record: note: {note}")
    if "bvh" in cfg.export.formats:
        print("capture3d record: capture only, no live BVH (use 'capture3d live --record SESSION --bvh'); "
              "'capture3d process SESSION' writes every [export] format")
    with stop_on_signals(pipe), thread_switch_interval():
        pipe.run(args.duration, on_tick=StatsPrinter())
    print_summary(pipe, "record")
    print(f"  session: {args.out} ({writer.sets_written} frame sets, {sum(writer.frames_written)} frames, "
          f"codec {cfg.recording.codec})")
    return exit_code(pipe, "record", args.out)
