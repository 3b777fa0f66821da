"""Image-folder frame source: one folder of images per camera, frame n = the n-th file in natural order.

Folders of one capture are frame-aligned, so frames pair by frame number ("trigger" sync). An image that
cannot be decoded gives a frame without pixels (that view's detections become missing), not an error.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Sequence

import cv2

from capture3d.errors import CameraError
from capture3d.io.media import list_images
from capture3d.types import Frame
from capture3d.sources.base import CameraInfo, EndOfStream, Pacer, share_pacer

log = logging.getLogger(__name__)

class ImageFolderStream:
    """One camera's folder."""

    def __init__(self, folder: str | Path, name: str, view: int, fps: float, loop: bool = False) -> None:
        self.files = list_images(folder, CameraError)
        self.view = view
        self.fps = fps
        self.loop = loop
        self.pacer: Pacer | None = None
        first = cv2.imread(str(self.files[0]), cv2.IMREAD_UNCHANGED)
        size = (first.shape[1], first.shape[0]) if first is not None else (0, 0)
        self.info = CameraInfo(name, size, fps, model="image folder", serial=str(folder))
        self._k = 0

    def grab(self, timeout_s: float) -> Frame | None:
        k = self._k
        if k >= len(self.files) and not self.loop:
            raise EndOfStream(self.info.name)
        if self.pacer is not None and not self.pacer.wait(k, timeout_s):
            return None
        self._k = k + 1
        n = k % len(self.files)
        path = self.files[n]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            log.warning("camera %s: cannot decode %s; the view is missing for frame %d", self.info.name, path, k)
        host_s = time.monotonic()
        time_s = self.pacer.due(k) if self.pacer is not None else k / self.fps
        return Frame(self.info.name, self.view, k, k / self.fps, host_s, time_s, image, image is None,
                     {"frame_index": n, "path": str(path)})


class ImageFolderSource:
    """One image folder per camera; fps is the nominal rate used for timestamps (and pacing if realtime)."""

    kind = "images"
    sync = "trigger"
    rig = None

    def __init__(self, folders: Sequence[str | Path], names: Sequence[str] = (), fps: float = 0.0,
                 realtime: bool = False, loop: bool = False) -> None:
        if not folders:
            raise CameraError("images source: no folders given (expected one image folder per camera)")
        self.fps = float(fps) if fps > 0 else 30.0
        names = list(names) or [Path(f).name or f"cam{i + 1}" for i, f in enumerate(folders)]
        if len(set(names)) != len(names):
            names = [f"cam{i + 1}" for i in range(len(folders))]
        self._streams = [ImageFolderStream(f, n, i, self.fps, loop) for i, (f, n) in enumerate(zip(folders, names))]
        counts = {s.info.name: len(s.files) for s in self._streams}
        if len(set(counts.values())) > 1 and not loop:
            log.warning("image folders hold different numbers of images %s; the shorter ones end early "
                        "(their views become missing)", counts)
        self.live = realtime
        self.realtime = realtime

    @property
    def streams(self) -> Sequence[ImageFolderStream]:
        return self._streams

    def start(self) -> None:
        if self.realtime:
            share_pacer(self._streams, self.fps)

    def stop(self) -> None:
        """Nothing to release."""
