"""Shared by the tests of several people live: two synthetic walkers seen exactly by four synthetic cameras,
a live pipeline with ``[tracking] people = "all"`` (no temporal filter: poses are the raw triangulations) and a
stream sink that keeps every StreamFrame it is sent."""
from __future__ import annotations

import threading

import numpy as np

from capture3d.config import FilterConfig, TrackingConfig
from capture3d.detect import create_detector
from capture3d.reconstruct.reconstructor import Reconstructor
from capture3d.runtime.pipeline import Pipeline
from capture3d.sources.synthetic import SyntheticSource
from capture3d.stream.hub import StreamHub
from capture3d.synth import ErrorModel
from capture3d.synth.crowd import crowd_motion

FPS = 30.0


class KeepFrames:
    """A stream sink that keeps the frames it is sent (thread-safe), labelled like a stream URL."""

    label = "keep://frames"

    def __init__(self) -> None:
        self.frames = []
        self._lock = threading.Lock()

    def open(self) -> None:
        pass

    def send(self, frame) -> None:
        with self._lock:
            self.frames.append(frame)

    def close(self) -> None:
        pass

    def since(self, index: int) -> list:
        with self._lock:
            return [f for f in self.frames if f.index >= index]


def two_walkers(frames: int = 90, seed: int = 1):
    """(crowd: xyz_world (2, T, J, 3), rig, Reconstructor with people = "all" and no filter, detector with the
    exact projections of both walkers)."""
    crowd = crowd_motion(2, frames, FPS, seed=seed)
    src = SyntheticSource(4, FPS, (640, 480), seed=seed, live=True, max_frames=frames, color=False)
    det = create_detector("synthetic", rig=src.rig, motion=crowd.xyz_world.transpose(1, 0, 2, 3),
                          error_model=ErrorModel(0.0, 0.0, 0.0, swaps=0.0), seed=seed)
    rec = Reconstructor(src.rig, crowd.keypoint_set, tracking=TrackingConfig(people="all"),
                        filtering=FilterConfig(enabled=False))
    return crowd, src, det, rec


def live_pipeline(frames: int = 90, seed: int = 1):
    """(pipeline not started, hub started with one KeepFrames sink, the sink, crowd truth) for two walkers."""
    crowd, src, det, rec = two_walkers(frames, seed)
    sink = KeepFrames()
    hub = StreamHub([sink], crowd.keypoint_set)
    hub.start()
    pipe = Pipeline(src, det, rec, mode="live", thumbnail_width=32, on_result=hub.offer)
    return pipe, hub, sink, crowd


def truth_of(crowd, frame_index: int, xyz_world: np.ndarray) -> np.ndarray:
    """The walker's true pose (J, 3) closest to ``xyz_world`` (J, 3) at that frame (median joint distance)."""
    truth = crowd.xyz_world[:, frame_index]
    d = np.nanmedian(np.linalg.norm(truth - xyz_world[None], axis=-1), axis=-1)
    return truth[int(np.argmin(d))]
