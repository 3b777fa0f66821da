"""Calibration inputs: image files, folders of images and videos, read as numbered frames.

A ``FrameRef`` names one frame: an image file, or frame ``index`` of a video. ``iter_frames`` reads
them in order (videos sequentially, skipping the frames between strides with ``grab``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from capture3d.errors import CalibrationError
from capture3d.io.rig_files import natural_key

#: With an automatic stride, each video is sampled to about this many frames (plenty for view selection).
AUTO_FRAMES_PER_VIDEO = 400
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".ppm", ".webp"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".webm", ".wmv"}


@dataclass(frozen=True)
class FrameRef:
    """One input frame: ``path`` (image or video) and, for a video, the frame ``index``."""

    path: Path
    index: int | None = None

    @property
    def label(self) -> str:
        return self.path.name if self.index is None else f"{self.path.name}#{self.index}"


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTS


def video_frame_count(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise CalibrationError(f"cannot open video {path} (expected a video file OpenCV can decode)")
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return max(n, 0)


def auto_stride(n_frames: int) -> int:
    """Stride that samples a video of n_frames to about AUTO_FRAMES_PER_VIDEO frames."""
    return max(1, -(-n_frames // AUTO_FRAMES_PER_VIDEO))


def list_frames(inputs: Iterable[str | os.PathLike], stride: int | None = 1) -> list[FrameRef]:
    """Expand inputs (image files, folders of images, videos) into frames, in order.

    Folders are read in natural order of file names (img2 before img10). Videos give every
    ``stride``-th frame; stride None picks one per video (auto_stride). Raises CalibrationError for a
    missing path or a folder without images.
    """
    if stride is not None and stride < 1:
        raise CalibrationError(f"frame stride must be >= 1, found {stride}")
    refs: list[FrameRef] = []
    for item in inputs:
        p = Path(item)
        if not p.exists():
            raise CalibrationError(f"input not found: {p} (expected an image, a folder of images or a video)")
        if p.is_dir():
            files = sorted((f for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTS),
                           key=lambda f: natural_key(f.name))
            if not files:
                vids = sorted((f for f in p.iterdir() if is_video(f)), key=lambda f: natural_key(f.name))
                if not vids:
                    raise CalibrationError(f"{p}: folder holds no images ({', '.join(sorted(IMAGE_EXTS))}) "
                                           f"and no videos")
                refs += list_frames(vids, stride)
                continue
            refs += [FrameRef(f) for f in files]
        elif is_video(p):
            n = video_frame_count(p)
            if n <= 0:
                raise CalibrationError(f"{p}: video has no frames (or its frame count is unknown)")
            refs += [FrameRef(p, i) for i in range(0, n, stride or auto_stride(n))]
        elif p.suffix.lower() in IMAGE_EXTS:
            refs.append(FrameRef(p))
        else:
            raise CalibrationError(f"{p}: unknown input type '{p.suffix}'; expected an image "
                                   f"({', '.join(sorted(IMAGE_EXTS))}) or a video ({', '.join(sorted(VIDEO_EXTS))})")
    return refs


def iter_frames(refs: list[FrameRef]) -> Iterator[tuple[int, FrameRef, np.ndarray | None]]:
    """Yield ``(position, ref, gray image)`` for each ref, in order. Unreadable frames give None.

    Consecutive frames of one video are read with a single VideoCapture (grab to skip).
    """
    cap = None
    cap_path: Path | None = None
    next_index = 0
    try:
        for pos, ref in enumerate(refs):
            if ref.index is None:
                img = cv2.imread(str(ref.path), cv2.IMREAD_GRAYSCALE)
                yield pos, ref, img
                continue
            if cap is None or cap_path != ref.path or ref.index < next_index:
                if cap is not None:
                    cap.release()
                cap = cv2.VideoCapture(str(ref.path))
                cap_path, next_index = ref.path, 0
                if not cap.isOpened():
                    raise CalibrationError(f"cannot open video {ref.path}")
            while next_index < ref.index:
                if not cap.grab():
                    break
                next_index += 1
            ok, frame = cap.read()
            next_index += 1
            if not ok:
                yield pos, ref, None
                continue
            gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            yield pos, ref, gray
    finally:
        if cap is not None:
            cap.release()
