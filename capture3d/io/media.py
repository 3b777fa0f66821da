"""Recorded media, one input per camera: an image folder, an image file or a video. The one place that
knows which suffixes are images and which are videos, and in which order the files of a folder come.

Used by the ``detect`` command (``open_input``), calibration (``capture3d.calib.frames`` and
``capture3d.calib.session``) and the image-folder source (``capture3d.sources.images``); live cameras are
``capture3d.sources``. Folders are read in natural order of file names (frame2 before frame10). Images
are delivered as BGR uint8 (H, W, 3) (OpenCV), or None for an unreadable image file.

Each caller raises its own error class (``error=``: CameraError for detect and sources, CalibrationError
for calibration); the messages name the path, what was expected and what was found.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from capture3d.errors import CameraError, Capture3DError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")

ErrorClass = type[Capture3DError]


def natural_key(text: str) -> list:
    """Sort key that orders embedded numbers numerically: cam_2 < cam_10, frame2 < frame10."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


def is_image(path: str | os.PathLike) -> bool:
    """True when the file name ends in one of IMAGE_SUFFIXES (any case)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def is_video(path: str | os.PathLike) -> bool:
    """True when the file name ends in one of VIDEO_SUFFIXES (any case)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def _files(folder: Path, keep) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_file() and keep(p)), key=lambda p: natural_key(p.name))


def _found(folder: Path) -> str:
    names = sorted((p.name for p in folder.iterdir()), key=natural_key)
    if not names:
        return "the folder is empty"
    return f"found {len(names)} other entr{'y' if len(names) == 1 else 'ies'}: " + ", ".join(names[:5]) + \
        (", ..." if len(names) > 5 else "")


def list_images(folder: str | os.PathLike, error: ErrorClass = CameraError) -> list[Path]:
    """The image files of a folder in natural order. ``error`` when the folder is missing or holds none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise error(f"image folder not found: {folder} (expected a folder of images)")
    files = _files(folder, is_image)
    if not files:
        raise error(f"{folder}: no images (expected files ending in {', '.join(IMAGE_SUFFIXES)}; {_found(folder)})")
    return files


def list_videos(folder: str | os.PathLike) -> list[Path]:
    """The video files of a folder in natural order (possibly none)."""
    return _files(Path(folder), is_video)


def video_info(path: str | os.PathLike, error: ErrorClass = CameraError) -> tuple[int, float]:
    """(frame count, frames per second) from the video's header; fps 30 when the header has none, count 0
    when unknown. ``error`` when OpenCV cannot open the file."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise error(f"cannot open video {path} (expected a video file OpenCV can decode: unsupported codec "
                        f"or corrupt file)")
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or 30.0
    finally:
        cap.release()
    return max(n, 0), fps


@dataclass
class MediaInput:
    """One camera's input. kind: "images" (folder or single file, ``files`` in order) or "video"."""

    path: Path
    kind: str
    files: tuple[Path, ...] = ()
    n_frames: int = 0
    fps: float = 30.0

    @property
    def name(self) -> str:
        return self.path.stem if self.path.is_file() else self.path.name

    def frames(self) -> Iterator[np.ndarray | None]:
        """Yield the frames in order: BGR uint8 (H, W, 3) images (None for an image file that cannot be read)."""
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


def open_input(path: str | os.PathLike, error: ErrorClass = CameraError) -> MediaInput:
    """Inspect one camera's input: a folder of images, an image file or a video file. ``error`` if unusable."""
    path = Path(path)
    if path.is_dir():
        files = list_images(path, error)
        return MediaInput(path, "images", tuple(files), len(files))
    if not path.is_file():
        raise error(f"input not found: {path} (expected an image folder, an image file or a video)")
    if is_image(path):
        return MediaInput(path, "images", (path,), 1)
    if is_video(path):
        n, fps = video_info(path, error)
        return MediaInput(path, "video", (), n, fps)
    raise error(f"{path}: unknown input type {path.suffix!r} (expected an image: {', '.join(IMAGE_SUFFIXES)}; "
                f"or a video: {', '.join(VIDEO_SUFFIXES)})")


def camera_inputs(root: str | os.PathLike, error: ErrorClass = CameraError) -> dict[str, Path]:
    """The inputs of a session folder, one per camera: {camera name: image folder or video} in natural
    order of the names. ``root/cam1/`` (a folder holding images or videos) names camera ``cam1``, and so does
    ``root/cam1.mp4``; hidden entries and other files are skipped. ``error`` when root is missing or one
    camera appears twice."""
    root = Path(root)
    if not root.is_dir():
        raise error(f"session folder not found: {root} (expected one video or image folder per camera)")
    out: dict[str, Path] = {}
    for p in sorted(root.iterdir(), key=lambda q: natural_key(q.name)):
        if p.name.startswith("."):
            continue
        if p.is_dir() and any(is_image(f) or is_video(f) for f in p.iterdir()):
            name = p.name
        elif p.is_file() and is_video(p):
            name = p.stem
        else:
            continue
        if name in out:
            raise error(f"{root}: camera {name!r} appears twice ({out[name].name} and {p.name}); keep one "
                        f"video or one image folder per camera")
        out[name] = p
    return out


def unequal_lengths_note(names: Sequence[str], counts: Sequence[int]) -> str | None:
    """The line that says inputs of different lengths stop at the shortest: ``cam02.mp4 ended after 30
    frames (cam01.mp4: 40)``; None when the lengths agree."""
    if len(set(counts)) <= 1:
        return None
    n = min(counts)
    short = names[list(counts).index(n)]
    others = ", ".join(f"{m}: {c}" for m, c in zip(names, counts) if c != n)
    return f"{short} ended after {n} frames ({others}): frame sets stop at the shortest, {n}"
