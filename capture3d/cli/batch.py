"""``capture3d batch``: many sessions at once, on this machine (a process pool) or on a Ray cluster."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from capture3d.cli.numbers import NumberType, int_in

_EPILOG = """\
examples:
  capture3d batch Demo_Batch -o OUT                      every trial, on a pool of one process per core
  capture3d batch sessions/ more/s7 -o OUT --workers 2 --config configs/process.toml
  capture3d batch Demo_Batch -o OUT --engine ray                      a local Ray instance
  capture3d batch /mnt/data/sessions -o /mnt/data/out --engine ray --ray-address auto --gpus-per-task 0.25

Sessions: every capture3d recording (a folder with session.toml) and every trial of one video per camera
(a folder holding videos/, or the videos) with a calibration in a calibration/ folder of the trial or of
a folder above it, up to the folder given (Pose2Sim's Demo_Batch: calibration/Calib.qca.txt shared by
Trial_1/videos/ and Trial_2/videos/). Two sessions may not share a folder name.

OUT/<session folder name>/ receives exactly what 'capture3d process SESSION -o OUT/<name>' writes (the
3D files are byte-identical). Per session the plan has a 2D task (detection; its detections are kept in
OUT/_batch_cache) and a 3D task after it (triangulation, tracking, filters, exports).

Resuming: OUT/batch_manifest.json records each finished task with the hash of its inputs and of its
resolved config. Run the same command again and only what changed is redone: nothing when nothing
changed, only the 3D task when only [triangulation], [tracking], [filter], [export] or the keypoint set
changed. Ctrl-C stops the workers (exit 130); the next run resumes. A session that fails (a corrupt
video, a bad calibration) fails alone: the others complete, its error is in the summary, exit status 1.

Summary: a table per session (frames, reconstructed %, mean reprojection error, time, status) printed
and written to OUT/batch_summary.csv.

Ray: pip install 'capture3d[ray]'. Inputs and outputs must be on a file system every node mounts at the
paths (the tasks carry paths, not data); where the workers mount it elsewhere, give --path-map
HERE=THERE (e.g. --path-map /Volumes/lab=/mnt/lab) and each task's paths are rewritten on the worker.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "batch", help="many sessions -> 3D, on a local process pool or a Ray cluster (resumable)",
        description="Find every session under the inputs and process each one as 'capture3d process' would, "
                    "in parallel, resumably, one failing session never stopping the others.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", type=Path, nargs="+", metavar="ROOT_OR_SESSION",
                   help="a session, or a folder holding sessions (at any depth)")
    p.add_argument("-o", "--out", required=True, type=Path, metavar="OUT",
                   help="output folder: OUT/<session name>/, batch_manifest.json, batch_summary.csv")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: a process pool on this machine (default); ray: Ray tasks (capture3d[ray])")
    p.add_argument("--workers", type=int_in(1, 4096), default=None, metavar="N",
                   help="parallel sessions (local: processes, default: the CPU count; ray without "
                        "--ray-address: the local instance's CPUs)")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="Ray cluster to join (ray.init(address=ADDR), e.g. auto or ray://head:10001); "
                        "default: start a local Ray instance")
    p.add_argument("--gpus-per-task", type=NumberType(float, 0.0, 64.0), default=0.0, metavar="G",
                   help="GPUs each session's task asks Ray for (e.g. 0.25: four per GPU; default 0: CPU)")
    p.add_argument("--path-map", action="append", default=[], metavar="HERE=THERE",
                   help="workers see paths under HERE (this machine's mount of the shared file system) "
                        "under THERE; repeatable")
    p.add_argument("--config", default=None,
                   help="TOML config for every session (default: each session's config.toml, else defaults)")
    p.add_argument("--detector", default=None, help="2D detector (default: [pipeline] detector)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm  # noqa: PLC0415

    from capture3d.batch.runner import run_batch  # noqa: PLC0415
    from capture3d.batch.summary import summary_text  # noqa: PLC0415
    from capture3d.errors import ConfigError  # noqa: PLC0415

    path_map = []
    for item in args.path_map:
        here, sep, there = item.partition("=")
        if not sep or not here or not there:
            raise ConfigError(f"--path-map {item!r}: expected HERE=THERE, e.g. /mnt/data=/data")
        path_map.append((here, there))
    bar = None

    def plan(tasks, prog) -> None:
        nonlocal bar
        skipped = sum(t.step == "skip" for t in tasks)
        only3d = sum(t.step == "3d" for t in tasks)
        print(f"capture3d batch: {len(tasks)} sessions, {prog.total} tasks: {skipped} sessions done already, "
              f"{only3d} with only the 3D task to redo, engine {args.engine}")
        bar = tqdm(total=prog.total, initial=prog.done, unit="task", desc="batch", disable=args.no_progress)

    def progress(prog, result) -> None:
        bar.update(prog.done + prog.failed - bar.n)
        bar.set_postfix_str(f"sessions done {prog.sessions_done}, running {prog.sessions_running}, "
                            f"failed {prog.sessions_failed}, {prog.fps:.1f} frames/s")
        if result is not None:
            bar.write(f"capture3d batch: {result['id']} {result['status']}"
                      + (f": {result['error']}" if result["status"] == "failed" else
                         f" ({'+'.join(result['steps'])}, {result['frames']} frames, {result['seconds']:.1f} s)"))

    try:
        report = run_batch(args.inputs, args.out, engine=args.engine, workers=args.workers,
                           ray_address=args.ray_address, config=args.config, detector=args.detector,
                           gpus_per_task=args.gpus_per_task, path_map=path_map, on_plan=plan, on_progress=progress)
    except KeyboardInterrupt:
        print("capture3d batch: interrupted: the finished sessions are in the manifest; run the same command "
              "again to resume", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.close()
    print(summary_text(report.rows))
    print(f"capture3d batch: {len(report.rows) - len(report.failed)} of {len(report.rows)} sessions ok in "
          f"{report.seconds:.1f} s; summary: {report.summary_csv}")
    if report.failed:
        print(f"capture3d batch: {len(report.failed)} session(s) failed: "
              f"{', '.join(r['session'] for r in report.failed)}", file=sys.stderr)
        return 1
    return 0
