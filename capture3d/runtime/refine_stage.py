"""Live rig refinement from the people in view: a background thread refining the rig on a window of recent
frame sets, and the hand-over of an accepted rig to the 3D stage (opt-in: ``[selfcal] live = true`` or
``capture3d live --refine-rig``).

The processing thread calls ``offer(index, keypoints2d)`` after each frame set (the subject's 2D per view
is pushed into the window of ``capture3d.calib.refine_live.RollingRefiner``; every ``every`` frame sets a
snapshot of the window is handed to the worker) and ``take(index)`` before each frame set: a rig the worker
accepted (it predicts the held-out views of the window's frames it was not fitted on better than the rig in
use, by ``min_gain``) comes back as one whole ``Rig`` object, which the pipeline gives the Reconstructor
(``Reconstructor.set_rig``) in that same thread, between two frame sets: a frame set is always solved with
one complete rig. The refinement always starts from the board-calibrated rig (the prior), so nothing drifts.

``wait = True`` (offline runs, tests): ``take`` waits for an attempt in flight, so the swaps happen at the
same frame sets on every run; live, the processing thread never waits (the swap comes with the first frame
set after the attempt ends). No sleeps anywhere: the worker waits on a condition.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np

from capture3d.calib.refine import CameraChange, RefineSettings
from capture3d.calib.refine_live import RollingRefiner
from capture3d.config import SelfcalConfig
from capture3d.geometry.camera import Rig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RigSwap:
    """One rig swapped into the 3D stage. index: the first frame set solved with it. fitted_on: the first
    and last frame-set index of the window it was refined on. held_out_before_px / held_out_after_px:
    median held-out-view error on the window's frames not fitted on, with the rig then in use and the new
    one. changes: per camera, against the board-calibrated rig. rig: the new rig."""

    index: int
    fitted_on: tuple[int, int]
    held_out_before_px: float
    held_out_after_px: float
    changes: tuple[CameraChange, ...]
    rig: Rig

    def text(self) -> str:
        moved = max(self.changes, key=lambda c: c.rotation_deg)
        return (f"rig refined at set {self.index}: held-out {self.held_out_before_px:.1f} -> "
                f"{self.held_out_after_px:.1f} px ({moved.name} {moved.rotation_deg:.2f} deg, "
                f"{100 * moved.center_m:.1f} cm from the board rig)")


class LiveRigRefiner:
    """board_rig: the prior (and the rig in use at the start). config: [selfcal]. wait: see the module
    docstring. settings: the refinement's (``RefineSettings``)."""

    def __init__(self, board_rig: Rig, config: SelfcalConfig = SelfcalConfig(), *, wait: bool = False,
                 settings: RefineSettings = RefineSettings()) -> None:
        config.validate()
        self.config = config
        self.wait = wait
        self.board_rig = board_rig
        self._roll = RollingRefiner(board_rig, config.window, config.min_frames, settings, config.min_gain)
        self._cond = threading.Condition()
        self._job: tuple[np.ndarray, tuple[int, int]] | None = None  # window handed to the worker
        self._busy = False           # an attempt is queued or running
        self._pending: RigSwap | None = None
        self._stopping = False
        self._indices: list[int] = []  # frame-set index of each frame in the window
        self._since = 0               # frame sets offered since the last attempt
        self.submitted = 0            # windows handed to the worker
        self.attempts = 0             # refinements finished
        self.rejected = 0             # ... whose rig was not better
        self.swaps: list[RigSwap] = []  # swapped in, in order
        self.last_attempt = ""        # one line on the last attempt

    # ------------------------------------------------------------------ processing thread
    def offer(self, index: int, keypoints2d: np.ndarray | None) -> None:
        """After frame set ``index``: its subject's 2D (V, J, 3) (None or nobody seen: not kept)."""
        if keypoints2d is None:
            return
        kp = np.asarray(keypoints2d, float)
        seen = (kp[..., 2] > 0) & np.isfinite(kp[..., :2]).all(axis=-1)
        if (seen.sum(axis=0) >= 2).sum() < 4:  # too little of the subject in two views to help
            return
        self._roll.push(kp)
        self._indices.append(index)
        del self._indices[:-self.config.window]
        self._since += 1
        if not self._roll.ready or (self.submitted and self._since < self.config.every):
            return
        with self._cond:
            if self._busy:  # the previous attempt is still running: try again at the next frame set
                return
            self._busy = True
            self._since = 0
            self.submitted += 1
            self._job = (self._roll.snapshot(), (self._indices[0], self._indices[-1]))
            self._cond.notify_all()

    def take(self, index: int) -> RigSwap | None:
        """Before frame set ``index``: the accepted rig to use from this frame set on (once), else None.
        With ``wait``, first waits for an attempt in flight."""
        with self._cond:
            if self.wait:
                while self._busy and not self._stopping:
                    self._cond.wait(0.5)
            swap, self._pending = self._pending, None
        if swap is None:
            return None
        swap = RigSwap(index, swap.fitted_on, swap.held_out_before_px, swap.held_out_after_px, swap.changes, swap.rig)
        self.swaps.append(swap)
        log.info("%s", swap.text())
        return swap

    def swap_into(self, reconstructor, index: int) -> RigSwap | None:
        """Before frame set ``index``, in the thread that calls ``reconstructor.process``: an accepted rig
        (``take``) is given to it whole (``Reconstructor.set_rig``). Returns the swap, or None."""
        swap = self.take(index)
        if swap is not None:
            reconstructor.set_rig(swap.rig)
        return swap

    # ------------------------------------------------------------------ worker thread
    def loop(self) -> None:
        """The worker: one refinement per window handed over, until ``stop``."""
        while True:
            with self._cond:
                while self._job is None and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    self._busy = False
                    self._cond.notify_all()
                    return
                window, fitted_on = self._job
                self._job = None
            try:
                prop = self._roll.propose(window)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
            with self._cond:
                self.attempts += 1
                if prop is None:
                    self.rejected += 1
                    self.last_attempt = f"sets {fitted_on[0]}-{fitted_on[1]}: too little of the subject seen"
                elif prop.accepted:
                    self._pending = RigSwap(-1, fitted_on, prop.held_out_current_px, prop.held_out_new_px,
                                            prop.result.changes, self._roll.rig)
                    self.last_attempt = (f"sets {fitted_on[0]}-{fitted_on[1]}: held-out {prop.held_out_current_px:.1f}"
                                         f" -> {prop.held_out_new_px:.1f} px, swapped in")
                else:
                    self.rejected += 1
                    self.last_attempt = (f"sets {fitted_on[0]}-{fitted_on[1]}: held-out {prop.held_out_current_px:.1f}"
                                         f" px, refined {prop.held_out_new_px:.1f} px: rig kept")
                log.info("live rig refinement, %s", self.last_attempt)

    def stop(self) -> None:
        """End the worker after the attempt it is running (and release a waiting ``take``)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    # ------------------------------------------------------------------ figures
    def figures(self) -> dict:
        """The LiveStats fields: rig_swaps, rig_refine (``status``)."""
        return {"rig_swaps": len(self.swaps), "rig_refine": self.status()}

    def status(self) -> str:
        """One line for the live figures and the viewer."""
        if self.swaps:
            return self.swaps[-1].text() + (f" ({len(self.swaps)} swaps)" if len(self.swaps) > 1 else "")
        if self.attempts:
            return f"rig kept ({self.attempts} refinements, none better; last {self.last_attempt})"
        if self._busy:
            return "refining the rig from the people in view"
        return f"collecting the subject for rig refinement: {len(self._roll)}/{self.config.min_frames} frame sets"


def save_refined_rig(folder, swap: RigSwap, n_swaps: int, recorded: int | None, recorded_sets: int):
    """A recording's ``rig_refined.toml``: the rig now in use, beside the session's board ``rig.toml``,
    rewritten atomically at each swap. Its [metadata] says when: swapped_at_set (the live run's frame-set
    index), swapped_at_recorded_set (that set's index in the recording's frames.csv when known (a pose sink
    tracks it), else -1), recorded_sets_at_swap (frame sets handed to the recorder by then), the window it
    was fitted on and the held-out errors. Returns the path."""
    from pathlib import Path  # noqa: PLC0415

    from capture3d.io.rig_files import save_rig  # noqa: PLC0415
    meta = {"refined_live": True, "live_swaps": n_swaps, "swapped_at_set": swap.index,
            "swapped_at_recorded_set": -1 if recorded is None else recorded, "recorded_sets_at_swap": recorded_sets,
            "fitted_on_sets": list(swap.fitted_on), "held_out_before_px": round(swap.held_out_before_px, 3),
            "held_out_after_px": round(swap.held_out_after_px, 3)}
    return save_rig(Path(folder) / "rig_refined.toml", swap.rig, meta)
