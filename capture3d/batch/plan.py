"""The plan of a batch: per session a 2D task (detection over every camera) and a 3D task (triangulation,
tracking, filters and exports) that depends on it, each with a key (the hash of what it reads).

The 2D key covers the session's files, its calibration, the detector asked for and every config setting
except the 3D ones ([triangulation], [tracking], [filter], [export], [pipeline] keypoint_set); the 3D key
is the 2D key plus the whole resolved config. So a change of a 3D setting redoes only the 3D task (it
replays the cached detections), any other change redoes both.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from capture3d.batch.discovery import Session
from capture3d.batch.manifest import Manifest, hash_files, hash_text
from capture3d.config import AppConfig, config_to_toml

#: where the 2D task's detections are cached (under OUT, beside the session folders)
CACHE_DIR = "_batch_cache"


def detection_config_text(cfg: AppConfig) -> str:
    """The config as the 2D step sees it: the 3D sections at their defaults."""
    d = AppConfig()
    cfg2 = dataclasses.replace(cfg, triangulation=d.triangulation, tracking=d.tracking, filter=d.filter,
                               export=d.export,
                               pipeline=dataclasses.replace(cfg.pipeline, keypoint_set=d.pipeline.keypoint_set))
    return config_to_toml(cfg2)


@dataclass
class Task:
    """One session's work. step: "2d+3d" (detect, keep the detections, then 3D), "3d" (replay the cached
    detections), or "skip" (done, outputs in place). key_2d / key_3d: the manifest keys."""

    session: Session
    cfg: AppConfig
    out: Path
    cache: Path
    key_2d: str
    key_3d: str
    step: str
    detector: str | None = None
    path_map: tuple[tuple[str, str], ...] = ()  # (driver prefix, worker prefix): see work.map_path

    @property
    def id(self) -> str:
        return self.session.name

    @property
    def n_tasks(self) -> int:
        """Tasks of the plan this stands for (the 2D and the 3D task, or only the 3D one)."""
        return {"2d+3d": 2, "3d": 1, "skip": 0}[self.step]


def session_inputs_hash(session: Session) -> str:
    files = [session.path] if session.kind == "recording" else [session.path / "videos"
                                                                 if (session.path / "videos").is_dir()
                                                                 else session.path]
    if session.rig is not None:
        files.append(session.rig)
    return hash_files(files)


def plan_tasks(sessions, out: Path, manifest: Manifest, *, config=None, detector: str | None = None) -> list[Task]:
    """A Task per session, its step chosen from the manifest."""
    from capture3d.runtime.process_run import resolve_config  # noqa: PLC0415
    tasks = []
    for s in sessions:
        cfg = resolve_config([s.path], config)
        inputs = session_inputs_hash(s)
        key_2d = hash_text("2d", inputs, detector or "", detection_config_text(cfg))
        key_3d = hash_text("3d", key_2d, config_to_toml(cfg))
        cache = out / CACHE_DIR / s.name / f"detections-{key_2d[:16]}.pkl"
        session_out = out / s.name
        if manifest.done(f"{s.name}/3d", key_3d) and (session_out / "config.toml").is_file():
            step = "skip"
        elif manifest.done(f"{s.name}/2d", key_2d) and cache.is_file():
            step = "3d"
        else:
            step = "2d+3d"
        tasks.append(Task(s, cfg, session_out, cache, key_2d, key_3d, step, detector))
    return tasks
