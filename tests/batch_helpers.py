"""Synthetic recordings for the batch tests and the batch benchmark."""
from __future__ import annotations

from pathlib import Path

from capture3d.config import AppConfig, RecordingConfig
from capture3d.io.recording import SessionWriter
from capture3d.runtime.pipeline import Pipeline
from capture3d.sources.synthetic import SyntheticSource


def make_recording(folder: Path, *, seed: int = 0, frames: int = 24, cameras: int = 3,
                   size_wh: tuple[int, int] = (160, 120)) -> Path:
    """A capture3d recording of the synthetic subject (offline: every frame set), ``frames`` long."""
    src = SyntheticSource(cameras, 30.0, size_wh, n_frames=frames, seed=seed, live=False, max_frames=frames)
    writer = SessionWriter(folder, [s.info.name for s in src.streams], src.fps, RecordingConfig(codec="mjpg"),
                           app_config=AppConfig(), rig=src.rig, source_kind="synthetic")
    Pipeline(src, None, None, mode="offline", recorder=writer, queue_size=4).run(duration_s=120)
    return folder
