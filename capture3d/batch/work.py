"""What a worker runs for one Task: ``process`` on the session (the same library call as the command,
so the 3D files are byte for byte the command's), the 2D step keeping every frame set's detections,
or the 3D step replaying them. Returns a plain dict (picklable for the pool and Ray); a failure is a
result with its message, never an exception that would stop the other sessions."""
from __future__ import annotations

import logging
import os
import pickle
import time
import traceback
from pathlib import Path

from capture3d.batch.plan import Task
from capture3d.errors import Capture3DError
from capture3d.io.atomic import atomic_open

log = logging.getLogger(__name__)


class RecordingDetector:
    """Runs ``inner`` and keeps what it returned for every call, in order."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.calls = inner, inner.name, []

    def detect(self, images, frame_index=None):
        det = self.inner.detect(images, frame_index=frame_index)
        self.calls.append((frame_index, det))
        return det

    def close(self) -> None:
        self.inner.close()


class ReplayDetector:
    """Returns the recorded detections in the order they were made (the offline pipeline processes
    every frame set in order), checking the frame index of each."""

    def __init__(self, name: str, calls) -> None:
        self.name, self.calls, self._next = name, list(calls), 0

    def detect(self, images, frame_index=None):
        if self._next >= len(self.calls):
            raise Capture3DError(f"the cached detections hold {len(self.calls)} frame sets; the input has more")
        idx, det = self.calls[self._next]
        if idx != frame_index:
            raise Capture3DError(f"cached detections are for frame {idx}, the input's frame set is {frame_index}")
        self._next += 1
        return det

    def close(self) -> None:
        pass


def map_path(path, path_map):
    """``path`` with the first matching prefix of ``path_map`` ((driver prefix, worker prefix), ...)
    replaced: the shared file system as this worker mounts it."""
    if path is None:
        return None
    text = str(path)
    for src, dst in path_map:
        src = src.rstrip("/")
        if text == src or text.startswith(src + "/"):
            return Path(dst.rstrip("/") + text[len(src):])
    return Path(text)


def people_cell(extra: dict) -> str:
    """Who a session's 3D followed, for the summary: "N" people tracked with an id ([tracking] people =
    "all"), "1 of N" (one subject chosen among up to N people found at once), "" when not known."""
    if "people" in extra:
        return str(len(extra["people"]))
    seen, choices = extra.get("subject", (0, 0))
    return f"1 of {seen}" if choices else ""


def run_task(task: Task) -> dict:
    """Do ``task`` (step "2d+3d" or "3d"). Returns {id, status ("done" / "failed" / "interrupted"), error,
    steps (the steps done), frames, n_sets, valid_pct, reproj_px, people (``people_cell``), seconds}."""
    from capture3d.runtime.process_run import process_session  # noqa: PLC0415
    t0 = time.perf_counter()
    out = {"id": task.id, "status": "failed", "error": "", "steps": [], "frames": 0, "n_sets": 0,
           "valid_pct": float("nan"), "reproj_px": float("nan"), "seconds": 0.0, "pid": os.getpid()}
    rec: RecordingDetector | None = None
    pm = task.path_map
    session, rig, task_out, cache = (map_path(p, pm) for p in (task.session.path, task.session.rig, task.out,
                                                               task.cache))
    try:
        if task.step == "3d":
            with open(cache, "rb") as fh:
                cached = pickle.load(fh)

            def wrap(det):
                det.close()
                return ReplayDetector(cached["detector"], cached["calls"])
        else:
            def wrap(det):
                nonlocal rec
                rec = RecordingDetector(det)
                return rec
        res = process_session(task.cfg, [session], task_out, rig_path=rig,
                              detector=task.detector, handle_signals=False, wrap_detector=wrap,
                              label=str(task.session.path))
        if rec is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            with atomic_open(cache, "wb") as fh:
                pickle.dump({"detector": rec.name, "calls": rec.calls}, fh, protocol=pickle.HIGHEST_PROTOCOL)
            out["steps"].append("2d")
        out["steps"].append("3d")
        out |= {"status": "done", "frames": res.n_frames, "n_sets": res.n_sets, "valid_pct": res.valid_pct,
                "reproj_px": res.reproj_px, "people": people_cell(res.extra)}
    except Capture3DError as exc:
        out["error"] = str(exc)
    except OSError as exc:
        out["error"] = f"cannot use {exc.filename}: {exc.strerror or exc}" if exc.filename else str(exc)
    except Exception as exc:  # noqa: BLE001 - one session's bug must not stop the others; its traceback is kept
        log.debug("session %s failed:\n%s", task.id, traceback.format_exc())
        out["error"] = f"{type(exc).__name__}: {exc}"
    out["seconds"] = time.perf_counter() - t0
    return out
