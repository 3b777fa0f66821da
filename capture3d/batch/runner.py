"""A whole batch: discover the sessions, plan against the manifest, run the tasks on an engine, record
each finished task in the manifest, and write the summary. ``run_batch`` is what ``capture3d batch``
calls; it reports through callbacks (the CLI draws the progress bar) and never prints."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from capture3d.batch.discovery import find_sessions
from capture3d.batch.engines import ENGINES, import_ray, run_local, run_ray
from capture3d.batch.manifest import Manifest
from capture3d.batch.plan import Task, plan_tasks
from capture3d.batch.summary import summary_rows, write_summary_csv
from capture3d.errors import ConfigError

log = logging.getLogger(__name__)

SUMMARY_CSV = "batch_summary.csv"


@dataclass
class Progress:
    """Counts over the plan's tasks (2D and 3D tasks; skipped ones count as done), for a progress bar."""

    total: int = 0
    done: int = 0
    running: int = 0
    failed: int = 0
    frames: int = 0
    sessions_done: int = 0
    sessions_failed: int = 0
    sessions_running: int = 0
    t0: float = field(default_factory=time.perf_counter)

    @property
    def fps(self) -> float:
        dt = time.perf_counter() - self.t0
        return self.frames / dt if dt > 0 else 0.0


@dataclass
class BatchReport:
    tasks: list[Task]
    results: list[dict]
    rows: list[dict]
    summary_csv: Path
    seconds: float

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.rows if r["status"] == "failed"]


def check_paths(inputs, out: Path) -> None:
    from capture3d.io.paths import check_output_outside, check_writable  # noqa: PLC0415
    check_output_outside(out, inputs)
    check_writable(out, is_dir=True)


def run_batch(inputs, out, *, engine: str = "local", workers: int | None = None, ray_address: str | None = None,
              config=None, detector: str | None = None, gpus_per_task: float = 0.0, path_map=(),
              on_plan: Callable | None = None, on_progress: Callable | None = None) -> BatchReport:
    """Process every session under ``inputs`` into ``out/<session name>`` (as ``capture3d process``
    would, byte for byte). on_plan(tasks, progress) once planned; on_progress(progress, result or None)
    on every change. path_map: ((driver prefix, worker prefix), ...) where workers mount the shared file
    system elsewhere (the outputs' "source" still names the driver's path). Ctrl-C (KeyboardInterrupt) propagates once the workers are stopped."""
    if engine not in ENGINES:
        raise ConfigError(f"--engine {engine!r}: expected one of {', '.join(ENGINES)}")
    if engine == "ray":
        import_ray()  # the missing dependency is said before any work
    out = Path(out)
    sessions = find_sessions(inputs)
    check_paths([s.path for s in sessions] + [Path(p) for p in inputs], out)
    manifest = Manifest(out)
    tasks = plan_tasks(sessions, out, manifest, config=config, detector=detector)
    for t in tasks:
        t.path_map = tuple(path_map)
    t0 = time.perf_counter()
    prog = Progress(total=2 * len(tasks), done=sum(2 - t.n_tasks for t in tasks))
    results: dict[str, dict] = {}
    for t in tasks:
        if t.step == "skip":
            entry = manifest.entry(f"{t.id}/3d") or {}
            results[t.id] = {**entry.get("summary", {}), "id": t.id, "status": "skipped", "steps": [],
                             "seconds": 0.0, "error": ""}
            prog.sessions_done += 1
    if on_plan:
        on_plan(tasks, prog)
    by_id = {t.id: t for t in tasks}
    emit = on_progress or (lambda p, r: None)

    def started(t: Task) -> None:
        prog.running += t.n_tasks
        prog.sessions_running += 1
        emit(prog, None)

    def finished(r: dict) -> None:
        t = by_id[r["id"]]
        prog.running -= t.n_tasks
        prog.sessions_running -= 1
        results[t.id] = r
        if r["status"] == "done":
            summary = {k: r[k] for k in ("frames", "n_sets", "valid_pct", "reproj_px")}
            if "2d" in r["steps"]:
                manifest.record(f"{t.id}/2d", t.key_2d, cache=str(t.cache.relative_to(out)))
            manifest.record(f"{t.id}/3d", t.key_3d, seconds=round(r["seconds"], 3), summary=summary)
            prog.done += t.n_tasks
            prog.frames += r["frames"]
            prog.sessions_done += 1
        else:
            manifest.forget(f"{t.id}/3d")  # its outputs may be incomplete now
            prog.failed += t.n_tasks
            prog.sessions_failed += 1
        emit(prog, r)

    todo = [t for t in tasks if t.step != "skip"]
    n = workers or os.cpu_count() or 1
    if engine == "local":
        run_local(todo, n, started, finished)
    else:
        run_ray(todo, ray_address, workers, started, finished, gpus_per_task=gpus_per_task)
    rows = summary_rows(results[t.id] for t in tasks)
    csv_path = write_summary_csv(out / SUMMARY_CSV, rows)
    return BatchReport(tasks, list(results.values()), rows, csv_path, time.perf_counter() - t0)
