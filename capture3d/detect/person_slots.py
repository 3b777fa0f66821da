"""People of one view, frame after frame, kept in slots: a top-down detector runs one tracker per slot.

A top-down detector (a landmark model that follows one person, such as MediaPipe Pose in video mode) needs
the same person in the same tracker from one frame to the next. ``PersonSlots`` gives each person box of a
frame the slot whose last box overlaps it most (intersection over union, best pairs first), a free slot to a
new person, and frees a slot after ``max_idle`` frames without its person. Pure numpy, no state but the
slots' last boxes.

Boxes are (x_min, y_min, x_max, y_max) px in the full image.
"""
from __future__ import annotations

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box of a (N, 4) with every box of b (M, 4) -> (N, M)."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0.0, None), axis=-1)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0.0, None), axis=-1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0.0, None), axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


class PersonSlots:
    """Slot assignment of one view's person boxes (module docstring).

    n_slots: at most this many people are followed (boxes beyond get slot -1). min_iou: a box continues a
    slot only when they overlap at least this much. max_idle: frames a slot waits for its person.
    """

    def __init__(self, n_slots: int = 6, min_iou: float = 0.2, max_idle: int = 10) -> None:
        self.boxes = np.full((n_slots, 4), np.nan)
        self.idle = np.full(n_slots, max_idle)
        self.min_iou = float(min_iou)
        self.max_idle = int(max_idle)

    def assign(self, boxes: np.ndarray) -> np.ndarray:
        """boxes (N, 4) of this frame -> (N,) slot per box (-1: no slot free). Slots whose box found no
        match wait; after max_idle frames they are free for a new person."""
        boxes = np.asarray(boxes, float).reshape(-1, 4)
        out = np.full(len(boxes), -1)
        live = self.idle < self.max_idle
        iou = box_iou(boxes, self.boxes)
        iou[:, ~live] = -1.0
        taken = np.zeros(len(self.boxes), bool)
        for flat in np.argsort(-iou, axis=None):
            i, s = np.unravel_index(flat, iou.shape)
            if iou[i, s] < self.min_iou:
                break
            if out[i] < 0 and not taken[s]:
                out[i], taken[s] = s, True
        for i in np.flatnonzero(out < 0):
            free = np.flatnonzero(~taken & (self.idle >= self.max_idle))
            if len(free):
                out[i], taken[free[0]] = free[0], True
        self.idle += 1
        kept = out >= 0
        self.boxes[out[kept]] = boxes[kept]
        self.idle[out[kept]] = 0
        return out
