"""Engines that run a batch's tasks: ``local`` (a process pool on this machine, no extra dependency) and
``ray`` (``pip install capture3d[ray]``; a Ray cluster at ``address``, or a local Ray instance).

Both call ``on_result(result)`` in the calling thread as each session finishes and ``on_start(task)`` as
each is handed out. Ctrl-C (KeyboardInterrupt) stops the workers and is re-raised: what finished is in the
manifest already, the next run resumes. Workers ignore SIGINT themselves (the engine stops them), so a
session is never written half by a Ctrl-C.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import signal

from capture3d.batch.work import run_task
from capture3d.errors import ConfigError

log = logging.getLogger(__name__)

ENGINES = ("local", "ray")
RAY_MISSING = ("the ray engine needs Ray: pip install 'capture3d[ray]' (or pip install ray), "
               "or use --engine local")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_local(tasks, workers: int, on_start, on_result) -> None:
    """The tasks on a pool of ``workers`` processes (spawned: MediaPipe and OpenCV threads do not survive
    a fork), one session per process at a time."""
    todo = list(tasks)
    if not todo:
        return
    done: queue.Queue = queue.Queue()
    ctx = mp.get_context("spawn")
    pool = ctx.Pool(min(workers, len(todo)), initializer=_ignore_sigint)
    try:
        for t in todo:
            pool.apply_async(run_task, (t,), callback=done.put,
                             error_callback=lambda exc, t=t: done.put(_crashed(t, exc)))
        running = min(workers, len(todo))
        for t in todo[:running]:
            on_start(t)
        for i in range(len(todo)):
            on_result(_get(done))
            if running < len(todo):
                on_start(todo[running])
                running += 1
        pool.close()
        pool.join()
    except BaseException:
        pool.terminate()
        pool.join()
        raise


def _get(q: queue.Queue):
    while True:  # a timeout keeps the main thread responsive to Ctrl-C
        try:
            return q.get(timeout=0.5)
        except queue.Empty:
            continue


def _crashed(task, exc) -> dict:
    return {"id": task.id, "status": "failed", "error": f"worker crashed: {type(exc).__name__}: {exc}",
            "steps": [], "frames": 0, "n_sets": 0, "valid_pct": float("nan"), "reproj_px": float("nan"),
            "seconds": 0.0}


def import_ray():
    """The ray module, or ConfigError saying how to install it."""
    try:
        import ray  # noqa: PLC0415
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    return ray


def run_ray(tasks, address: str | None, workers: int | None, on_start, on_result, *, gpus_per_task: float = 0.0
            ) -> None:
    """The tasks as Ray tasks: ``ray.init(address)`` (None: a local instance with ``workers`` CPUs). Each
    session's task asks for 1 CPU and ``gpus_per_task`` GPUs (> 0 places detection on GPU nodes).
    Inputs and outputs must be on a file system every node mounts at the same paths (see docs/batch.md)."""
    ray = import_ray()
    todo = list(tasks)
    if not todo:
        return
    started_here = not ray.is_initialized()
    if started_here:
        kw = {"address": address} if address else {"num_cpus": workers, "include_dashboard": False}
        ray.init(log_to_driver=False, **kw)
    remote = ray.remote(num_cpus=1, num_gpus=gpus_per_task, max_retries=0)(run_task)
    refs = {}
    try:
        for t in todo:
            refs[remote.remote(t)] = t
            on_start(t)
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            for r in ready:
                try:
                    on_result(ray.get(r))
                except ray.exceptions.RayError as exc:
                    on_result(_crashed(refs[r], exc))
    except BaseException:
        for r in refs:
            ray.cancel(r, force=True)
        raise
    finally:
        if started_here:
            ray.shutdown()
