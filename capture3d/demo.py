"""The built-in demo: synthetic rig -> 2D detector-error model -> robust triangulation -> exports.

Everything has ground truth, so the demo reports real accuracy (MPJPE in mm) next to throughput.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from capture3d.geometry.camera import Rig
from capture3d.config import AppConfig, config_to_toml
from capture3d.export import FORMATS, write_keypoints3d
from capture3d.io.atomic import atomic_write_text
from capture3d.reconstruct.reconstructor import Reconstructor
from capture3d.io.rig_files import save_rig
from capture3d.synth import ErrorModel, Motion, make_rig, observe, walking_motion
from capture3d.types import Keypoints3D

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoResult:
    """What run_demo produced: the rig, truth, 3D result, the report dict and the files written."""

    rig: Rig
    truth: Motion
    keypoints3d: Keypoints3D
    report: dict
    files: tuple[Path, ...]


def accuracy_mm(estimate_xyz: np.ndarray, truth_xyz: np.ndarray) -> dict:
    """Per-joint position error vs ground truth over all reconstructed joints: median, p95, mean (mm)."""
    err = np.linalg.norm(estimate_xyz - truth_xyz, axis=-1) * 1000.0
    ok = np.isfinite(err)
    if not ok.any():
        return {"median": float("nan"), "p95": float("nan"), "mean": float("nan")}
    e = err[ok]
    return {"median": float(np.median(e)), "p95": float(np.percentile(e, 95)), "mean": float(e.mean())}


#: joint-name prefixes of the parts a whole-body result is reported by
_PARTS = {"hands": ("LHand_", "RHand_"), "face": ("Face_",)}


def accuracy_by_part_mm(estimate_xyz: np.ndarray, truth_xyz: np.ndarray, names) -> dict:
    """``accuracy_mm`` per part of the body: "body" and, when the set has them, "hands" and "face"
    (joints named LHand_*/RHand_* and Face_*). estimate_xyz, truth_xyz: (T, J, 3) m; names: J joint names.
    A part whose joints were never reconstructed reports NaN (and is listed, so a lost part is visible)."""
    part = np.array(["body"] * len(names), dtype=object)
    for name, prefixes in _PARTS.items():
        part[[n.startswith(prefixes) for n in names]] = name
    return {p: accuracy_mm(estimate_xyz[:, part == p], truth_xyz[:, part == p])
            for p in ("body", *_PARTS) if (part == p).any()}


def run_demo(config: AppConfig = AppConfig(), out_dir: str | os.PathLike | None = None) -> DemoResult:
    """Run the synthetic demo. With out_dir, write rig.toml, keypoints3d.<format> for every configured
    export format, report.json and the resolved config.toml there."""
    syn = config.synthetic
    rig = make_rig(syn.cameras, (syn.width, syn.height), seed=syn.seed)
    truth = walking_motion(syn.frames, syn.fps, whole_body=syn.whole_body)
    model = ErrorModel(noise_px=syn.noise_px, missing=syn.missing, outliers=syn.outliers, swaps=syn.swaps)
    obs = observe(rig, truth.xyz_world, model, seed=syn.seed + 1, keypoint_set=truth.keypoint_set)

    recon = Reconstructor(rig, truth.keypoint_set, config.triangulation, tracking=config.tracking,
                          filtering=config.filter)
    t0 = time.perf_counter()
    kp3d = recon.process_sequence(obs.keypoints_px, truth.times_s, syn.fps)
    dt = time.perf_counter() - t0

    valid = kp3d.valid
    report = {
        "frames": kp3d.n_frames, "cameras": len(rig), "joints": kp3d.keypoint_set.n_joints,
        "keypoint_set": kp3d.keypoint_set.name,
        "stage_3d_seconds": dt, "stage_3d_frames_per_s": kp3d.n_frames / dt if dt > 0 else float("inf"),
        "mpjpe_mm": accuracy_mm(kp3d.xyz_world, truth.xyz_world),
        "mpjpe_mm_by_part": accuracy_by_part_mm(kp3d.xyz_world, truth.xyz_world, kp3d.keypoint_set.names),
        "reproj_err_px_mean": float(np.nanmean(kp3d.reproj_err_px)) if valid.any() else float("nan"),
        "reconstructed_fraction": float(valid.mean()),
        "input_2d": {"noise_px": syn.noise_px, "missing": syn.missing, "outliers": syn.outliers, "swaps": syn.swaps,
                     "outlier_fraction_observed": float(obs.outlier.sum() / max(1, np.isfinite(obs.keypoints_px[..., 0]).sum()))},
    }
    files: list[Path] = []
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files.append(save_rig(out / "rig.toml", rig))
        for fmt in config.export.formats:
            files.append(write_keypoints3d(out / f"keypoints3d{FORMATS[fmt][0]}", kp3d, fmt))
        files.append(atomic_write_text(out / "config.toml", config_to_toml(config)))
        report["outputs"] = [p.name for p in files] + ["report.json"]
        files.append(atomic_write_text(out / "report.json", json.dumps(report, indent=2)))
        log.info("demo outputs written to %s", out)
    return DemoResult(rig, truth, kp3d, report, tuple(files))
