"""The workflow battery's cases (used by test_workflows.py): the shapes real recordings have, not garbage.

A ``Case`` is a command run as a user runs it, on inputs of one shape: how many of the rig's 4 cameras
(1-4), their names (``match``: cam01.. against the rig's cam_01..; ``order``: the same names given in
another order; ``none``: names that match no camera, given in rig order), their lengths (``unequal``: the
last camera's input is 3 frames shorter), their frame rates (``mixed``: the last camera's at half the
rate) and sizes (the last camera's images ``crop``: 8 px smaller than its calibration, ``plus``: 8 px
larger, ``half``: half size). ``Case.expect()`` says what the command must do: exit 0 with the right
answer (checked against the plain case with the same cameras), or fail with a message naming the cause.

The cross product (5 commands x 4 x 3 x 2 x 2 x 4) is pruned to the cases that take distinct code paths:
every shape alone on 2 and 4 cameras, the pairing cases on 3, 1 camera plain and unnamed, and the
combinations where two rules meet (order with unequal lengths, unnamed with a crop, all three at once).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from capture3d.body.keypoint_sets import BODY_25
from capture3d.geometry.camera import Rig
from capture3d.io.openpose_json import write_openpose_folder
from capture3d.io.rig_files import save_rig
from capture3d.synth import ErrorModel, make_rig, observe, walking_motion

RIG_SIZE = (320, 240)
N_FRAMES = 12
SHORT = 9  # frames of the shorter input
FPS = 30.0
SIZES = {"equal": (0, 0), "crop": (-8, -8), "plus": (8, 8), "half": None}


@dataclass(frozen=True)
class Case:
    command: str
    n_cams: int
    names: str = "match"  # match | order | none
    lengths: str = "equal"  # equal | unequal
    fps: str = "same"  # same | mixed
    size: str = "equal"  # equal | crop | plus | half

    @property
    def id(self) -> str:
        parts = [self.command, f"{self.n_cams}cam", self.names, self.lengths, self.fps, self.size]
        return "-".join(parts)

    def reference(self) -> Case:
        """The plain case with the same cameras: its result is the right answer."""
        return Case(self.command, self.n_cams)

    def cams(self) -> list[int]:
        """The rig cameras used, in the order their inputs are given."""
        idx = list(range(self.n_cams))
        return idx[::-1] if self.names == "order" else idx

    def input_name(self, cam: int) -> str:
        return f"cam{cam + 1:02d}" if self.names != "none" else f"view_{'abcd'[cam]}"

    def odd(self, cam: int) -> bool:
        """The camera whose input is shorter, slower or resized: the last of the rig's used cameras."""
        return cam == self.n_cams - 1

    def n_frames(self, cam: int) -> int:
        return SHORT if self.lengths == "unequal" and self.odd(cam) else N_FRAMES

    def rate(self, cam: int) -> float:
        return FPS / 2 if self.fps == "mixed" and self.odd(cam) else FPS

    def size_wh(self, cam: int) -> tuple[int, int]:
        w, h = RIG_SIZE
        if not self.odd(cam) or self.size == "equal":
            return RIG_SIZE
        if self.size == "half":
            return w // 2, h // 2
        dw, dh = SIZES[self.size]
        return w + dw, h + dh

    def expect(self) -> tuple[str, object]:
        """("ok", frame sets expected) or ("error", text the message must hold)."""
        n_ok = SHORT if self.lengths == "unequal" else N_FRAMES
        unnamed_subset = self.names == "none" and self.n_cams != 4
        bad_size = self.size in ("plus", "half")
        what = {"triangulate": "keypoint folder", "process": "video"}.get(self.command, "camera")
        if self.command == "detect":
            return "ok", n_ok
        if self.command == "triangulate":
            for cond, needle in ((unnamed_subset, f"no {what} name matches a camera name"),
                                 (self.n_cams == 1, "3D needs at least 2"), (self.lengths == "unequal", "frames differ"),
                                 (self.fps == "mixed", "different frame rates"), (bad_size, "was calibrated at")):
                if cond:
                    return "error", needle
            return "ok", n_ok
        checks = [(self.fps == "mixed", "different frame rates"),
                  (unnamed_subset, f"no {what} name matches a camera name"), (bad_size, "was calibrated at")]
        if self.command != "record":
            checks.append((self.n_cams == 1, "3D needs at least 2"))
        for cond, needle in checks:
            if cond:
                return "error", needle
        return "ok", n_ok


def _cases() -> list[Case]:
    out = []
    for cmd in ("triangulate", "process", "live", "record"):
        out += [Case(cmd, 1), Case(cmd, 1, names="none")]
        out += [Case(cmd, 2), Case(cmd, 2, names="order"), Case(cmd, 2, names="none"),
                Case(cmd, 2, lengths="unequal"), Case(cmd, 2, fps="mixed"), Case(cmd, 2, size="crop"),
                Case(cmd, 2, size="half")]
        out += [Case(cmd, 3), Case(cmd, 3, names="order"), Case(cmd, 3, names="none"), Case(cmd, 3, lengths="unequal")]
        out += [Case(cmd, 4), Case(cmd, 4, names="order"), Case(cmd, 4, names="none"), Case(cmd, 4, lengths="unequal"),
                Case(cmd, 4, fps="mixed"), Case(cmd, 4, size="crop"), Case(cmd, 4, size="plus"),
                Case(cmd, 4, size="half"), Case(cmd, 4, names="order", lengths="unequal"),
                Case(cmd, 4, names="none", size="crop"),
                Case(cmd, 4, names="order", lengths="unequal", size="crop")]
    out += [Case("detect", 1), Case("detect", 2), Case("detect", 2, lengths="unequal"), Case("detect", 2, fps="mixed"),
            Case("detect", 4), Case("detect", 4, lengths="unequal", fps="mixed")]
    return out


CASES = _cases()


def make_workspace(root: Path) -> Path:
    """The rig (4 cameras cam_01..cam_04, 320x240) and the subject's 2D in every camera; returns the folder."""
    ws = root / "workspace"
    ws.mkdir(parents=True)
    rig = make_rig(4, size_wh=RIG_SIZE, radius_m=3.0, seed=11)
    rig = Rig(tuple(dataclasses.replace(c, name=f"cam_{i + 1:02d}") for i, c in enumerate(rig.cameras)), rig.metadata)
    save_rig(ws / "rig.toml", rig)
    obs = observe(rig, walking_motion(N_FRAMES, FPS).xyz_world, ErrorModel(noise_px=0.5, missing=0.0, outliers=0.0,
                                                                             swaps=0.0), 5, BODY_25)
    np.save(ws / "keypoints_px.npy", obs.keypoints_px)  # (4, T, J, 3)
    (ws / "config.toml").write_text("[filter]\nenabled = false\n[export]\nformats = [\"csv\"]\n"
                                    f"[synthetic]\nframes = {N_FRAMES}\nfps = {FPS}\nwidth = {RIG_SIZE[0]}\n"
                                    f"height = {RIG_SIZE[1]}\nnoise_px = 0.5\n")
    return ws


def _video(path: Path, n: int, fps: float, size_wh: tuple[int, int]) -> None:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size_wh)
    for k in range(n):
        w.write(np.full((size_wh[1], size_wh[0], 3), 8 * k + 20, np.uint8))
    w.release()


def build(case: Case, ws: Path, folder: Path) -> list[str]:
    """Write the case's inputs into folder; returns the command line (after ``capture3d``)."""
    folder.mkdir(parents=True)
    out = folder / "out"
    if case.command == "triangulate":
        kp = np.load(ws / "keypoints_px.npy")
        dirs = []
        for c in case.cams():
            xy = kp[c, : case.n_frames(c)].copy()
            size = case.size_wh(c)
            xy[..., :2] *= size[0] / RIG_SIZE[0] if case.size == "half" and case.odd(c) else 1.0
            d = folder / "kp" / case.input_name(c)
            write_openpose_folder(d, xy, keypoint_set="BODY_25", fps=case.rate(c), image_size_wh=size)
            dirs.append(str(d))
        return ["triangulate", "--rig", str(ws / "rig.toml"), "--keypoints2d", *dirs, "--config",
                str(ws / "config.toml"), "-o", str(out / "pose.csv")]
    videos = []
    for c in case.cams():
        p = folder / f"{case.input_name(c)}.avi"
        _video(p, case.n_frames(c), case.rate(c), case.size_wh(c))
        videos.append(str(p))
    if case.command == "process":
        return ["process", *videos, "--rig", str(ws / "rig.toml"), "--config", str(ws / "config.toml"),
                "--detector", "synthetic", "-o", str(out)]
    if case.command == "detect":
        return ["detect", *videos, "-o", str(out)]
    cfg = folder / "config.toml"
    cfg.write_text((ws / "config.toml").read_text() + f"\n[source]\nkind = \"opencv\"\ncameras = {json.dumps(videos)}\n"
                   + f"[pipeline]\nrig = \"{ws / 'rig.toml'}\"\ndetector = \"synthetic\"\n")
    if case.command == "live":
        return ["live", "--config", str(cfg), "--no-viewer", "--duration", "60", "--record", str(out / "session")]
    return ["record", "--config", str(cfg), "--duration", "60", "-o", str(out / "session")]
