"""A synchronized calibration session: one video or image folder per camera, named after the camera.

``SESSION_DIR/cam1/`` (images) or ``SESSION_DIR/cam1.mp4`` (video) gives camera ``cam1``. Images pair
up across cameras by their order in sorted file names; video frames by their index.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

from capture3d.errors import CalibrationError
from capture3d.io.media import camera_inputs, video_info
from capture3d.calib.boards import Board
from capture3d.calib.detect import CameraDetections, detect_camera
from capture3d.calib.frames import auto_stride, list_frames

log = logging.getLogger(__name__)


def session_inputs(session_dir: str | os.PathLike) -> dict[str, Path]:
    """{camera name: folder or video} in natural order of the names (capture3d.io.media.camera_inputs);
    CalibrationError unless there are at least 2 cameras."""
    root = Path(session_dir)
    out = camera_inputs(root, CalibrationError)
    if len(out) < 2:
        raise CalibrationError(f"{root}: found {len(out)} camera input(s) ({', '.join(out) or 'none'}); a rig session "
                               f"needs one image folder or video per camera, at least 2")
    return out


def detect_session(session_dir: str | os.PathLike, board: Board, stride: int | None = 1, workers: int | None = None,
                   progress: Callable[[str, int, int], None] | None = None,
                   thorough: bool | None = None) -> list[CameraDetections]:
    """Detect the board in every camera of a session. progress(camera, done, total).

    stride: use every stride-th video frame; None picks one stride for all videos (auto_stride of the
    longest). Image folders always use every image.
    """
    inputs = session_inputs(session_dir)
    if stride is None:  # one stride for all cameras, so that frame i stays synchronized
        longest = max((video_info(p, CalibrationError)[0] for p in inputs.values() if p.is_file()), default=0)
        stride = auto_stride(longest)
    dets = []
    counts = {}
    for name, path in inputs.items():
        refs = list_frames([path], stride)
        counts[name] = len(refs)
        cb = (lambda d, t, n=name: progress(n, d, t)) if progress else None
        dets.append(detect_camera(refs, board, name, workers, cb, thorough))
    if len(set(counts.values())) > 1:
        log.warning("cameras have different frame counts %s: frames are paired by their order, check that the "
                    "recordings are synchronized and complete", counts)
    return dets
