"""Live BVH: append frames while recording, so an interrupted recording still yields a valid file.

``BVHStreamWriter`` buffers the first ``rest_frames`` frames (or none when bone lengths are given) to
measure the subject's bone lengths (longer while a core joint has not been seen in 5 frames, e.g. the
subject has not entered yet, up to ``max_rest_frames``), then writes the hierarchy and the frames as they arrive, solved
and flushed ``batch_frames`` at a time (default 0.1 s of frames, which amortises numpy's per-call
cost; those are the only frames a crash can lose). The ``Frames:`` count is padded to a fixed width
and rewritten in place every ``sync_every`` frames and on ``close()``, so after a crash the file is
valid with at most the last ``sync_every`` frames unannounced; ``repair_bvh(path)`` recounts the complete frame lines, drops a
half-written last line and fixes the count.

Gaps: a missing joint keeps its last offset from its parent keypoint (hold), a joint never seen yet
keeps its parent's rotation; the file never contains NaN.
"""
from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from capture3d.errors import ExportError
from capture3d.io.atomic import atomic_write_text
from capture3d.body.keypoint_sets import KeypointSet
from capture3d.export.bvh_read import parse_hierarchy
from capture3d.export.bvh_write import (OUT_FROM_WORLD, UNITS, BVHOptions, fill_missing_frames, format_hierarchy, format_motion_rows,
                        keypoint_bone_lengths, motion_channels, plan_skeleton, solve_plan)
from capture3d.body.convert import convert_keypoints
from capture3d.export.bvh_skeleton import CORE_JOINTS, bvh_set_for, default_include

log = logging.getLogger(__name__)

_COUNT_WIDTH = 12


class BVHStreamWriter:
    """Write a BVH frame by frame.

    path: output file (created at once; the hierarchy is written when the rest pose is known).
    keypoint_set: the set of the frames appended (a set without BVH's core joints is converted by name
      to BODY_25 / WHOLEBODY_135, see bvh_set_for). fps: capture rate (Frame Time = 1 / fps).
    rest_frames: frames used to measure bone lengths when ``bone_lengths_m`` is not given.
    max_rest_frames: keep buffering up to this many frames while a core joint cannot be measured
      (default: 60 s); then ExportError names the joints.
    bone_lengths_m: (K,) length of the bone into each keypoint, metres (e.g. from a calibration pose).
    options: BVHOptions (units, axes, channel order, rest pose, hands; gaps are always held).
    sync_every: rewrite the Frames: count every this many frames (default: once per second).
    batch_frames: frames solved and written together (default: fps / 10).
    n_frames: frames written so far (buffered ones not yet). Not thread-safe: call from one thread.
    """

    def __init__(self, path: str | os.PathLike, keypoint_set: KeypointSet, fps: float, *, rest_frames: int = 30,
                 bone_lengths_m: np.ndarray | None = None, options: BVHOptions | None = None,
                 sync_every: int | None = None, batch_frames: int | None = None,
                 max_rest_frames: int | None = None) -> None:
        if not (np.isfinite(fps) and fps > 0):
            raise ExportError(f"BVH stream fps must be > 0, found {fps}")
        if rest_frames < 1:
            raise ExportError(f"rest_frames must be >= 1, found {rest_frames}")
        self.path = Path(path)
        self.input_set = keypoint_set
        self.keypoint_set = bvh_set_for(keypoint_set)
        self.fps = float(fps)
        self.options = replace(options or BVHOptions(), gaps="hold").validated()
        self.rest_frames = int(rest_frames)
        self.max_rest_frames = max(self.rest_frames, int(max_rest_frames or round(60 * fps)))
        self.sync_every = int(sync_every or max(1, round(fps)))
        self.batch_frames = int(batch_frames or max(1, round(fps / 10)))
        self._pending: list[np.ndarray] = []
        self._bone_lengths = None if bone_lengths_m is None else np.asarray(bone_lengths_m, dtype=float)
        self._buffer: list[np.ndarray] = []
        self._last = np.full((self.keypoint_set.n_joints, 3), np.nan)  # last filled positions, world
        self._prev_angles: np.ndarray | None = None
        self._skel = self._rest = None
        self._count_pos = 0
        self.n_frames = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "wb")  # noqa: SIM115  (closed in close())
        if self._bone_lengths is not None:
            try:
                self._start(self._bone_lengths)
            except ExportError:
                self._fh.close()
                self._fh = None
                raise

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "BVHStreamWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._fh is None

    def append(self, xyz_world: np.ndarray) -> None:
        """Add one frame: (K, 3) metres, world frame, NaN where missing."""
        if self._fh is None:
            raise ExportError(f"{self.path}: BVH stream is closed")
        xyz = np.asarray(xyz_world, dtype=float)
        if xyz.shape != (self.input_set.n_joints, 3):
            raise ExportError(f"expected a ({self.input_set.n_joints}, 3) frame for {self.input_set.name}, "
                              f"found {xyz.shape}")
        if self.input_set is not self.keypoint_set:
            xyz = convert_keypoints(xyz, self.input_set, self.keypoint_set, scored=False)
        if self._skel is None:
            self._buffer.append(xyz.copy())
            n = len(self._buffer)
            if n >= self.rest_frames and ((n - self.rest_frames) % self.rest_frames == 0 or n >= self.max_rest_frames):
                self._start_from_buffer(final=n >= self.max_rest_frames)
            return
        self._pending.append(xyz.copy())
        if len(self._pending) >= self.batch_frames:
            self._write_pending()

    def close(self) -> Path:
        """Write buffered frames, fix the Frames: count and close. Returns the path."""
        if self._fh is None:
            return self.path
        try:
            if self._skel is None and self._buffer:
                self._start_from_buffer()
            if self._skel is not None:
                self._write_pending()
                self._sync_count()
        finally:
            self._fh.close()
            self._fh = None
        if self._skel is None:
            raise ExportError(f"{self.path}: no frame was appended; the BVH has no hierarchy")
        log.info("closed %s: %d frames", self.path, self.n_frames)
        return self.path

    # ------------------------------------------------------------------ internals
    def _start_from_buffer(self, final: bool = True) -> None:
        """Measure the bone lengths on the buffer and start writing. Unless ``final``, wait for more
        frames (return without starting) while a core joint cannot be measured yet."""
        raw = np.stack(self._buffer)
        L = keypoint_bone_lengths(raw, self.keypoint_set, min_frames=min(5, len(raw)),
                                  only=default_include(self.keypoint_set, True))
        names = self.keypoint_set.names
        root_seen = "MidHip" in names and bool(np.isfinite(raw[:, names.index("MidHip")]).all(axis=-1).any())
        ready = root_seen and all(n in names and (n == "MidHip" or np.isfinite(L[names.index(n)]))
                                  for n in CORE_JOINTS)
        if not ready and not final:
            log.debug("BVH rest pose: core joints not measurable yet after %d frames; buffering", len(raw))
            return
        self._start(L, root_seen)
        # a joint missing in the first frames takes its first seen position (not the origin)
        buf = fill_missing_frames(raw, "hold")
        self._buffer = []
        self._write_frames(buf)

    def _start(self, bone_lengths_m: np.ndarray, root_seen: bool = True) -> None:
        self._skel, self._rest = plan_skeleton(self.keypoint_set, bone_lengths_m, self.options, root_seen)
        self._plan = solve_plan(self._skel, self._rest)
        head = format_hierarchy(self._skel, self._rest, self.options.channel_order) + "MOTION\nFrames: "
        self._fh.write(head.encode("ascii"))
        self._count_pos = self._fh.tell()
        self._fh.write(f"{0:<{_COUNT_WIDTH}d}\nFrame Time: {1.0 / self.fps:.8f}\n".encode("ascii"))
        self._fh.flush()

    def _write_pending(self) -> None:
        if self._pending:
            frames = np.stack(self._pending)
            self._pending = []
            self._write_frames(frames)

    def _fill(self, xyz: np.ndarray) -> np.ndarray:
        """Hold missing joints at their last offset from their parent keypoint (frames in order)."""
        out = np.array(xyz)
        for t in range(out.shape[0]):  # usually one frame; the rest buffer once
            self._last = hold_missing(out[t], self._last, self.keypoint_set.parents)
        return out

    def _write_frames(self, xyz_world: np.ndarray) -> None:
        xyz = self._fill(xyz_world)
        xyz_out = (xyz @ OUT_FROM_WORLD[self.options.axes].T) * UNITS[self.options.units]
        values = motion_channels(self._skel, self._rest, xyz_out, self.options.channel_order, plan=self._plan)
        ang = values[:, 3:]  # every rotation channel (a view: adjusted in place)
        if self._prev_angles is not None:  # continue the unwrapping from the previous frame
            ang += 360.0 * np.round((self._prev_angles - ang[:1]) / 360.0)
        self._prev_angles = ang[-1].copy()
        self._fh.write(format_motion_rows(values, self.options.decimals).encode("ascii"))
        self._fh.flush()
        before = self.n_frames
        self.n_frames += xyz.shape[0]
        if self.n_frames // self.sync_every != before // self.sync_every:
            self._sync_count()

    def _sync_count(self) -> None:
        end = self._fh.tell()
        self._fh.seek(self._count_pos)
        self._fh.write(f"{self.n_frames:<{_COUNT_WIDTH}d}".encode("ascii"))
        self._fh.seek(end)
        self._fh.flush()


def hold_missing(cur: np.ndarray, last: np.ndarray, parents) -> np.ndarray:
    """One frame's gaps held, in place: a missing keypoint of ``cur`` (K, 3) takes its offset from its parent
    keypoint in ``last`` (K, 3, the previous filled frame), or its last position when the parent is missing
    too. Returns the new ``last``. The live BVH and the VMC stream fill gaps with this."""
    miss = ~np.isfinite(cur).all(axis=1)
    for k in np.flatnonzero(miss & np.isfinite(last).all(axis=1)):
        p = parents[k]
        if p >= 0 and np.isfinite(cur[p]).all() and np.isfinite(last[p]).all():
            cur[k] = cur[p] + last[k] - last[p]
        else:
            cur[k] = last[k]
    return np.where(np.isfinite(cur), cur, last)


def repair_bvh(path: str | os.PathLike) -> int:
    """Fix a BVH cut short (crash, power loss): keep the complete frame lines, drop a partial last
    line, set ``Frames:`` to their number (atomic rewrite). Returns the number of frames."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path}: cannot read BVH: {exc}") from None
    head, sep, motion = text.partition("MOTION")
    if not sep:
        raise ExportError(f"{path}: no MOTION section; the hierarchy itself is incomplete and cannot be repaired")
    _, _, _, channels, _ = parse_hierarchy(head, str(path))
    C = sum(len(c) for c in channels)
    lines = motion.lstrip().split("\n")
    if len(lines) < 2 or not lines[1].startswith("Frame Time:"):
        raise ExportError(f"{path}: no 'Frame Time:' line after MOTION; cannot repair")
    rows = []
    for ln in lines[2:]:
        cells = ln.split()
        if not cells:
            continue
        if len(cells) != C:
            break
        try:
            vals = [float(c) for c in cells]
        except ValueError:
            break
        if not all(np.isfinite(vals)):
            break
        rows.append(ln.rstrip())
    atomic_write_text(path, head + "MOTION\n" + f"Frames: {len(rows)}\n" + lines[1].rstrip() + "\n"
                      + "".join(r + "\n" for r in rows))
    log.info("repaired %s: %d complete frames", path, len(rows))
    return len(rows)
