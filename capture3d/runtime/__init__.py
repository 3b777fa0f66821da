"""Runtime: the threaded pipeline (capture threads, frame-set sync, processing, recording feed, hand-offs,
meters) and the application assembly that the CLI and the Python API both build.
"""
from capture3d.runtime.pipeline import Pipeline
from capture3d.runtime.signals import stop_on_signals

__all__ = ["Pipeline", "stop_on_signals"]
