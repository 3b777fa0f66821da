"""Calibration inputs: image files, folders of images and videos, read as numbered frames.

A ``FrameRef`` names one frame: an image file, or frame ``index`` of a video. ``iter_frames`` reads
them in order (videos sequentially, skipping the frames between strides with ``grab``).
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from capture3d.errors import CalibrationError
from capture3d.io.media import is_image, list_videos, open_input

log = logging.getLogger(__name__)

#: With an automatic stride, each video is sampled to about this many frames (plenty for view selection).
AUTO_FRAMES_PER_VIDEO = 400


@dataclass(frozen=True)
class FrameRef:
    """One input frame: ``path`` (image or video) and, for a video, the frame ``index``."""

    path: Path
    index: int | None = None

    @property
    def label(self) -> str:
        return self.path.name if self.index is None else f"{self.path.name}#{self.index}"


def frame_number(ref: FrameRef) -> int | None:
    """The frame number an image's name says: the last run of digits in its stem (``left05.jpg`` -> 5,
    ``cam_0_frame_100.jpg`` -> 100); None for a video frame or a name without digits."""
    if ref.index is not None:
        return None
    found = re.findall(r"\d+", ref.path.stem)
    return int(found[-1]) if found else None


def auto_stride(n_frames: int) -> int:
    """Stride that samples a video of n_frames to about AUTO_FRAMES_PER_VIDEO frames."""
    return max(1, -(-n_frames // AUTO_FRAMES_PER_VIDEO))


def list_frames(inputs: Iterable[str | os.PathLike], stride: int | None = 1) -> list[FrameRef]:
    """Expand inputs (image files, folders of images, videos, folders of videos) into frames, in order.

    Inputs are read by ``capture3d.io.media`` (its image and video suffixes; folders in natural order of
    file names, img2 before img10); a folder without images gives the frames of its videos. Videos give
    every ``stride``-th frame; stride None picks one per video (auto_stride). Raises CalibrationError for a
    missing path, an unknown file type, a folder without images or videos, or a video without frames.
    """
    if stride is not None and stride < 1:
        raise CalibrationError(f"frame stride must be >= 1, found {stride}")
    refs: list[FrameRef] = []
    for item in inputs:
        p = Path(item)
        videos = list_videos(p) if p.is_dir() and not any(is_image(f) for f in p.iterdir()) else []
        if videos:
            refs += list_frames(videos, stride)
            continue
        media = open_input(p, CalibrationError)
        if media.kind == "images":
            refs += [FrameRef(f) for f in media.files]
            continue
        if media.n_frames <= 0:
            raise CalibrationError(f"{p}: video has no frames (or its frame count is unknown)")
        refs += [FrameRef(p, i) for i in range(0, media.n_frames, stride or auto_stride(media.n_frames))]
    return refs


def _warn_truncated(path: Path, header: int, decoded: int) -> None:
    log.warning("video %s: its header says %d frames but only %d could be decoded (truncated or damaged file); "
                "frames %d to %d are skipped", path, header, decoded, decoded, header - 1)


def iter_frames(refs: list[FrameRef]) -> Iterator[tuple[int, FrameRef, np.ndarray | None]]:
    """Yield ``(position, ref, gray image)`` for each ref, in order. Unreadable frames give None.

    Consecutive frames of one video are read with a single VideoCapture (grab to skip). A video that ends
    before the frame count in its header (a truncated file) is warned about once, with both counts; its
    later frames give None without further decoding.
    """
    cap = None
    cap_path: Path | None = None
    next_index = 0
    ended: dict[Path, int] = {}  # video -> frames it really holds (decoding stopped there)
    try:
        for pos, ref in enumerate(refs):
            if ref.index is None:
                img = cv2.imread(str(ref.path), cv2.IMREAD_GRAYSCALE)
                yield pos, ref, img
                continue
            if ref.path in ended and ref.index >= ended[ref.path]:
                yield pos, ref, None
                continue
            if cap is None or cap_path != ref.path or ref.index < next_index:
                if cap is not None:
                    cap.release()
                cap = cv2.VideoCapture(str(ref.path))
                cap_path, next_index = ref.path, 0
                if not cap.isOpened():
                    raise CalibrationError(f"cannot open video {ref.path}")
            ok = True
            while ok and next_index < ref.index:
                ok = cap.grab()
                next_index += ok
            frame = None
            if ok:
                ok, frame = cap.read()
                next_index += ok
            if not ok:
                if ref.path not in ended:
                    ended[ref.path] = next_index
                    header = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
                    if header > next_index:
                        _warn_truncated(ref.path, header, next_index)
                yield pos, ref, None
                continue
            gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            yield pos, ref, gray
    finally:
        if cap is not None:
            cap.release()
