"""The torch device of a detector: "auto" / None (CUDA when available, else the CPU), "cpu", "cuda[:N]"."""
from __future__ import annotations

import torch

from capture3d.errors import DetectorError


def pick_device(device: str | None, who: str) -> torch.device:
    """device: None or "auto", "cpu", "cuda", "cuda:N" -> a torch device; an invalid name or CUDA asked for
    where there is none is a DetectorError naming ``who`` (the detector)."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise DetectorError(f"{who}: invalid device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DetectorError(f"{who}: device {device!r} asked for but CUDA is not available; use device='cpu'")
    return dev
