"""Synthetic frame source: the synthetic rig filming the synthetic walker, with known ground truth.

Each camera renders its projected skeleton with cv2 on a plain background (cheap: one buffer copy and a
few lines per frame) and carries the truth in ``Frame.metadata``: ``frame_index`` (index into the
motion), ``xy_px`` (J, 2) exact projection (NaN where not visible) and ``xyz_world`` (J, 3) metres, so the
``synthetic`` detector (``capture3d.detect``) can replay it, and ``truth_index`` (the frame number k,
identical in every view of one instant: ``capture3d.runtime.sync.mispaired`` checks it). Frames of one instant
share ``frame_id``, like hardware-triggered cameras.

Faults for tests and benchmarks: ``drop`` (probability that a camera loses a frame), ``fail_at``
({view: frame number} where that camera raises CameraError as if unplugged) and ``jitter_s``.
"""
from __future__ import annotations

import logging
import time
from typing import Sequence

import cv2
import numpy as np

from capture3d.geometry.camera import Rig
from capture3d.config import SyntheticConfig
from capture3d.errors import CameraError
from capture3d.body.keypoint_sets import BODY_25
from capture3d.synth import Motion, make_rig, walking_motion
from capture3d.types import Frame
from capture3d.sources.base import CameraInfo, EndOfStream, Pacer

log = logging.getLogger(__name__)

_BACKGROUND_GRAY = 48
_BONE_BGR = (60, 200, 255)


class SyntheticStream:
    """One synthetic camera (see SyntheticSource)."""

    def __init__(self, source: "SyntheticSource", view: int) -> None:
        self.source = source
        self.view = view
        cam = source.rig.cameras[view]
        self.info = CameraInfo(cam.name, cam.size_wh, source.fps, model="synthetic", serial=cam.name)
        w, h = cam.size_wh
        shape = (h, w, 3) if source.color else (h, w)
        self._background = np.full(shape, _BACKGROUND_GRAY, np.uint8)
        self._rng = np.random.default_rng(source.seed * 1000 + view + 1)
        self._next = 0

    def render(self, t: int) -> np.ndarray:
        """(H, W, 3) BGR or (H, W) mono uint8: the skeleton of motion frame t seen by this camera."""
        img = self._background.copy()
        xy = self.source.xy_px[self.view, t]
        color = _BONE_BGR if self.source.color else 220
        for a, b in BODY_25.bones:
            pa, pb = xy[a], xy[b]
            if np.isfinite(pa).all() and np.isfinite(pb).all():
                cv2.line(img, (int(pa[0]), int(pa[1])), (int(pb[0]), int(pb[1])), color, 3, cv2.LINE_8)
        return img

    def grab(self, timeout_s: float) -> Frame | None:
        src = self.source
        k = self._next
        if src.max_frames is not None and k >= src.max_frames:
            raise EndOfStream(self.info.name)
        if src.fail_at.get(self.view, -1) == k:
            raise CameraError(f"camera {self.info.name}: device lost at frame {k} (simulated unplug)")
        if src.live and not src.pacer.wait(k, timeout_s):
            return None
        self._next = k + 1
        if src.drop > 0 and self._rng.random() < src.drop:
            return None
        t = k % src.motion.n_frames
        jitter_s = float(self._rng.uniform(-src.jitter_s, src.jitter_s)) if src.jitter_s else 0.0
        device_s = k / src.fps + jitter_s
        exposure_s = (src.pacer.due(k) if src.live else k / src.fps) + jitter_s
        image = self.render(t)
        meta = {"frame_index": t, "truth_index": k, "xy_px": src.xy_px[self.view, t],
                "xyz_world": src.motion.xyz_world[t]}
        return Frame(self.info.name, self.view, k, device_s, time.monotonic(), exposure_s,
                     image, False, meta)


class SyntheticSource:
    """V synthetic cameras at ``fps``.

    live: frames are produced in real time (frame k is exposed at start + k / fps); otherwise as fast as
    they are grabbed (offline). max_frames: EndOfStream after this many frames (None: endless, the
    motion loops). color: BGR images, else mono.
    """

    kind = "synthetic"
    sync = "trigger"

    def __init__(self, n_cameras: int = 4, fps: float = 30.0, size_wh: tuple[int, int] = (640, 480),
                 n_frames: int = 600, seed: int = 0, *, live: bool = True, max_frames: int | None = None,
                 color: bool = True, rig: Rig | None = None, motion: Motion | None = None, drop: float = 0.0,
                 fail_at: dict[int, int] | None = None, jitter_s: float = 0.0) -> None:
        if fps <= 0:
            raise CameraError(f"synthetic source: fps must be > 0, found {fps}")
        self.fps = float(fps)
        self.seed = seed
        self.rig = rig if rig is not None else make_rig(n_cameras, tuple(size_wh), seed=seed)
        self.motion = motion if motion is not None else walking_motion(n_frames, self.fps)
        self.live = live
        self.max_frames = max_frames
        self.color = color
        self.drop = float(drop)
        self.fail_at = dict(fail_at or {})
        self.jitter_s = float(jitter_s)
        xy = self.rig.project(self.motion.xyz_world)  # (V, T, J, 2)
        visible = np.stack([c.in_image(x) for c, x in zip(self.rig.cameras, xy)])
        #: (V, T, J, 2) exact projections, NaN where not visible
        self.xy_px = np.where(visible[..., None], xy, np.nan)
        self.pacer = Pacer(self.fps)
        self._streams = [SyntheticStream(self, v) for v in range(len(self.rig))]

    @classmethod
    def from_config(cls, cfg: SyntheticConfig, *, live: bool = True, color: bool = True,
                    max_frames: int | None = None, fps: float = 0.0) -> "SyntheticSource":
        """The [synthetic] section: cameras, width x height, fps, frames (motion length), seed, whole_body
        (the subject carries hands and face: WHOLEBODY_135 truth)."""
        fps = fps or cfg.fps
        return cls(cfg.cameras, fps, (cfg.width, cfg.height), cfg.frames, cfg.seed, live=live,
                   max_frames=max_frames, color=color,
                   motion=walking_motion(cfg.frames, fps, whole_body=cfg.whole_body))

    @property
    def streams(self) -> Sequence[SyntheticStream]:
        return self._streams

    def start(self) -> None:
        """Frame 0 is exposed one period from now (so every grab thread is waiting for it)."""
        self.pacer = Pacer(self.fps, time.monotonic() + 1.0 / self.fps)

    def stop(self) -> None:
        """Nothing to release."""
