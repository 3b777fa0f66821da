"""Benchmark: ``capture3d batch`` (local pool and Ray) against running ``capture3d process`` serially.

Side by side in one run, on the same sessions: (1) ``capture3d process SESSION -o OUT/serial/NAME`` for
each session, one after the other (what a shell loop does), (2) ``capture3d batch --engine local``,
(3) ``capture3d batch --engine ray`` (a local Ray instance with --workers CPUs; skipped when Ray is not
installed). Each is a fresh subprocess, timed wall clock; the batch outputs are checked byte-identical
to the serial ones. Targets: both engines under 0.6x the serial time; Ray under 1.15x the local pool.

Sessions: ``--sessions N`` synthetic recordings (``--frames``, ``--cameras``, ``--size``) written once
under ``--work``; or ``--real DEMO_BATCH``: its trials, each linked ``--copies`` times (MediaPipe).

Run (from the repository root)::

    PYTHONPATH=. python tools/bench/bench_batch.py --sessions 8 --workers 2
    PYTHONPATH=. python tools/bench/bench_batch.py --real ../shared/data/pose2sim/Demo_Batch --copies 4
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))


def _cli(*argv: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "capture3d", *argv], env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"capture3d {' '.join(argv)} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return dt


def _synthetic(work: Path, n: int, frames: int, cameras: int, size) -> tuple[Path, list[Path], str | None]:
    from batch_helpers import make_recording
    root = work / f"synthetic_{n}x{frames}f_{cameras}c_{size[0]}x{size[1]}"
    if not root.is_dir():
        tmp = root.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        for i in range(n):
            make_recording(tmp / f"rec{i:02d}", seed=i, frames=frames, cameras=cameras, size_wh=size)
        tmp.rename(root)
    return root, sorted(root.iterdir()), None


def _real(work: Path, demo: Path, copies: int) -> tuple[Path, list[Path], str]:
    root = work / f"real_{demo.name}_x{copies}"
    shutil.rmtree(root, ignore_errors=True)
    (root / "calibration").mkdir(parents=True)
    rig = next((demo / "calibration").iterdir())
    os.symlink(rig, root / "calibration" / rig.name)
    trials = sorted(p for p in demo.iterdir() if (p / "videos").is_dir())
    for k in range(copies):
        for t in trials:
            (root / f"{t.name}_{k}").mkdir()
            os.symlink(t / "videos", root / f"{t.name}_{k}" / "videos")
    return root, sorted(p for p in root.iterdir() if p.name != "calibration"), str(root / "calibration" / rig.name)


def _identical(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--size", type=int, nargs=2, default=(320, 240))
    ap.add_argument("--real", type=Path, default=None, help="a Pose2Sim Demo_Batch folder")
    ap.add_argument("--copies", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("/tmp/capture3d_bench_batch"))
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    root, sessions, rig = (_real(a.work, a.real, a.copies) if a.real else
                           _synthetic(a.work, a.sessions, a.frames, a.cameras, tuple(a.size)))
    out = a.work / "out"
    shutil.rmtree(out, ignore_errors=True)
    serial = 0.0
    for s in sessions:
        serial += _cli("process", str(s), *(["--rig", rig] if rig else []), "-o", str(out / "serial" / s.name))
    rows = {"serial process": serial}
    try:
        import ray  # noqa: F401
        engines = ("local", "ray")
    except ImportError:
        engines = ("local",)
        print("bench_batch: ray is not installed (pip install 'capture3d[ray]'): the ray engine is skipped")
    same = {}
    for engine in engines:
        eo = out / engine
        rows[f"batch --engine {engine}"] = _cli("batch", str(root), "-o", str(eo), "--engine", engine,
                                                "--workers", str(a.workers), "--no-progress")
        same[engine] = all(_identical(out / "serial" / s.name, eo / s.name) for s in sessions)
        t_rerun = _cli("batch", str(root), "-o", str(eo), "--engine", engine, "--workers", str(a.workers),
                       "--no-progress")
        rows[f"batch --engine {engine}, second run (nothing to do)"] = t_rerun
    print(f"bench_batch: {len(sessions)} sessions ({'real: ' + str(a.real) if a.real else 'synthetic: '}"
          f"{'' if a.real else f'{a.frames} frames, {a.cameras} cameras, {a.size[0]}x{a.size[1]}'}), "
          f"{a.workers} workers, {os.cpu_count()} CPUs")
    print(f"{'run':<48} {'wall s':>8} {'x serial':>9}")
    for k, v in rows.items():
        print(f"{k:<48} {v:8.1f} {v / serial:9.2f}")
    for engine in engines:
        print(f"  {engine}: outputs byte-identical to serial process: {same[engine]}")
    if "ray" in engines:
        over = rows["batch --engine ray"] / rows["batch --engine local"] - 1
        print(f"  ray overhead against the local pool: {100 * over:+.1f}% (target < 15%)")
    if a.json:
        a.json.write_text(json.dumps({"rows": rows, "identical": same, "sessions": len(sessions)}, indent=1))


if __name__ == "__main__":
    main()
