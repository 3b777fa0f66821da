"""Rolling rig refinement for live capture: the building block of the opt-in background refinement.

``RollingRefiner`` keeps the subject's 2D keypoints of the most recent frame sets; ``propose`` refines
the board-calibrated rig (always the prior) on half of the window's frames and accepts the result only
when it predicts the views of the *other* half, which it was not fitted on, better than the rig in use by
a margin. No threads here (the runtime calls ``propose`` from a worker and swaps the accepted rig in
between frame sets); not yet wired into the live pipeline or the viewer.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from capture3d.calib.refine import RefineResult, RefineSettings, refine_rig, rig_errors_px
from capture3d.geometry.camera import Rig


@dataclass(frozen=True)
class Proposal:
    """result: the refinement; held_out_current_px / held_out_new_px: median held-out-view error on the
    frames left out of the fit, with the rig in use and with the refined one; accepted: new < current."""

    result: RefineResult
    held_out_current_px: float
    held_out_new_px: float
    accepted: bool


class RollingRefiner:
    """push((V, J, 3)) per frame set; propose() -> Proposal or None (too few frames yet).

    board_rig: the prior. window: frame sets kept. min_frames: needed before proposing. min_gain: the
    held-out error must drop by this fraction for the refined rig to be accepted."""

    def __init__(self, board_rig: Rig, window: int = 300, min_frames: int = 100,
                 settings: RefineSettings = RefineSettings(), min_gain: float = 0.05):
        if not (2 <= min_frames <= window):
            raise ValueError(f"expected 2 <= min_frames <= window, found {min_frames} and {window}")
        if not 0 <= min_gain < 1:
            raise ValueError(f"min_gain must be in [0, 1), found {min_gain}")
        self.board_rig = board_rig
        self.rig = board_rig
        self.settings = settings
        self.min_frames = min_frames
        self.min_gain = min_gain
        self._frames: deque = deque(maxlen=window)

    def push(self, keypoints2d: np.ndarray) -> None:
        kp = np.asarray(keypoints2d, float)
        if kp.ndim != 3 or kp.shape[0] != len(self.board_rig) or kp.shape[2] != 3:
            raise ValueError(f"expected the subject's keypoints (V={len(self.board_rig)}, J, 3), got {kp.shape}")
        self._frames.append(kp.copy())

    @property
    def ready(self) -> bool:
        return len(self._frames) >= self.min_frames

    def propose(self) -> Proposal | None:
        """Refine on the even frames of the window, judge on the odd ones; the accepted rig becomes
        ``self.rig``. None while fewer than min_frames frame sets were pushed."""
        if not self.ready:
            return None
        kp = np.stack(list(self._frames), axis=1)  # (V, T, J, 3)
        fit, test = kp[:, 0::2], kp[:, 1::2]
        try:
            res = refine_rig(self.board_rig, fit, self.settings)
        except ValueError:
            return None
        current = rig_errors_px(self.rig, test, self.settings.min_score)[1]
        new = rig_errors_px(res.rig, test, self.settings.min_score)[1]
        accepted = bool(new < (1 - self.min_gain) * current)
        if accepted:
            self.rig = res.rig
        return Proposal(res, current, new, accepted)
