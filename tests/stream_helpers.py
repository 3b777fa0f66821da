"""Shared by the stream tests: a live run of the real pipeline (synthetic cameras paced in real time, the
synthetic detector) with its 3D results fed to capture3d.stream sinks."""
from dataclasses import dataclass

from capture3d.detect import create_detector
from capture3d.reconstruct.reconstructor import Reconstructor
from capture3d.runtime.pipeline import Pipeline
from capture3d.sources.synthetic import SyntheticSource
from capture3d.stream import open_streams
from capture3d.synth import ErrorModel, walking_motion


@dataclass
class LiveRun:
    pipeline: Pipeline
    hub: object
    keypoint_set: object


def live_run(urls, frames=90, whole_body=True, fps=60.0, on_start=None) -> LiveRun:
    """Run ``frames`` frame sets at ``fps`` through the live pipeline into streams ``urls`` (results
    collected); on_start(run) is called once the pipeline runs. The streams are closed on return."""
    motion = walking_motion(frames, fps, whole_body=whole_body)
    src = SyntheticSource(3, fps, (320, 240), seed=1, live=True, max_frames=frames, motion=motion, color=False)
    det = create_detector("synthetic", rig=src.rig, motion=motion, error_model=ErrorModel(1.0, 0.02, 0.0, swaps=0.0), hands=whole_body,
                          seed=1)
    hub = open_streams(urls, motion.keypoint_set, fps)
    pipe = Pipeline(src, det, Reconstructor(src.rig, motion.keypoint_set), mode="live", collect=True,
                    thumbnail_width=0, on_result=hub.offer)
    run = LiveRun(pipe, hub, motion.keypoint_set)
    try:
        pipe.start()
        if on_start is not None:
            on_start(run)
        pipe.wait()
        pipe.stop()
    finally:
        pipe.stop()
        hub.close()
    return run
