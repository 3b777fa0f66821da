"""Offline inputs of the ``detect`` command: one image folder, image file or video per camera.

A small reader, enough for running a detector over recorded material; live cameras are
``capture3d.sources``. Images are delivered as BGR uint8 (H, W, 3) (OpenCV), or None for an
unreadable image file (the detector then reports that view missing).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from capture3d.errors import CameraError
from capture3d.io.rig_files import natural_key

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


@dataclass
class MediaInput:
    """One camera's input. kind: "images" (folder or single file) or "video"."""

    path: Path
    kind: str
    files: tuple[Path, ...] = ()
    n_frames: int = 0
    fps: float = 30.0

    @property
    def name(self) -> str:
        return self.path.stem if self.path.is_file() else self.path.name

    def frames(self) -> Iterator[np.ndarray | None]:
        """Yield the frames in order: BGR uint8 images (None for an image file that cannot be read)."""
        if self.kind == "images":
            for f in self.files:
                img = cv2.imread(str(f), cv2.IMREAD_COLOR)
                if img is None:
                    log.warning("cannot read image %s; this view is missing for that frame", f)
                yield img
            return
        cap = cv2.VideoCapture(str(self.path))
        try:
            while True:
                ok, img = cap.read()
                if not ok:
                    return
                yield img
        finally:
            cap.release()


def open_input(path: str | os.PathLike) -> MediaInput:
    """Inspect an input path: a folder of images, an image file or a video file. CameraError if unusable."""
    path = Path(path)
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=lambda p: natural_key(p.name))
        if not files:
            raise CameraError(f"{path}: no image files (expected {', '.join(IMAGE_SUFFIXES)})")
        return MediaInput(path, "images", tuple(files), len(files))
    if not path.is_file():
        raise CameraError(f"input not found: {path} (expected an image folder, an image file or a video)")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return MediaInput(path, "images", (path,), 1)
    if suffix in VIDEO_SUFFIXES:
        cap = cv2.VideoCapture(str(path))
        try:
            if not cap.isOpened():
                raise CameraError(f"{path}: cannot open the video (unsupported codec or corrupt file)")
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            fps = float(cap.get(cv2.CAP_PROP_FPS)) or 30.0
        finally:
            cap.release()
        return MediaInput(path, "video", (), max(n, 0), fps)
    raise CameraError(f"{path}: unknown file type {suffix!r} (images: {', '.join(IMAGE_SUFFIXES)}; "
                      f"videos: {', '.join(VIDEO_SUFFIXES)})")
