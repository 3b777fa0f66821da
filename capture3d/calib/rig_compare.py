"""Compare two rigs of the same cameras: per-camera rotation and centre differences, raw or after the
similarity (scale, rotation, translation) that best maps one rig's camera centres onto the other's.

A rig calibrated from people (or any data without a metric reference) is only defined up to such a
similarity (the gauge), so ``aligned=True`` is the fair comparison with a reference calibration.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capture3d.calib.metrics import camera_similarity
from capture3d.geometry.camera import Rig
from capture3d.geometry.rotations import rotation_angle_deg


@dataclass(frozen=True)
class RigDifference:
    """names: camera names; rotation_deg, center_m: (V,) per camera; scale: the similarity's scale (1 raw)."""

    names: tuple[str, ...]
    rotation_deg: np.ndarray
    center_m: np.ndarray
    scale: float


def compare_rigs(rig: Rig, reference: Rig, aligned: bool = True) -> RigDifference:
    """Per-camera differences of ``rig`` to ``reference`` (cameras matched by name). aligned: first map
    ``rig`` onto ``reference`` by the similarity of the cameras (metrics.camera_similarity: the
    centres, and for two cameras their orientations too)."""
    missing = [n for n in rig.names if n not in reference.names]
    if missing:
        raise ValueError(f"cameras {missing} are not in the reference rig ({', '.join(reference.names)})")
    ref = [reference.camera(n) for n in rig.names]
    c = np.stack([cam.center_world for cam in rig.cameras])
    c_ref = np.stack([cam.center_world for cam in ref])
    R = np.stack([cam.R for cam in rig.cameras])
    R_ref = np.stack([cam.R for cam in ref])
    s = 1.0
    if aligned:
        s, Q, p = camera_similarity(rig.cameras, ref)
        c = c @ (s * Q).T + p
        R = R @ Q.T  # x_cam = R x = R Q^T (Q x): the camera's rotation in the reference's frame
    return RigDifference(tuple(rig.names), rotation_angle_deg(R, R_ref), np.linalg.norm(c - c_ref, axis=1), s)


def perturb_rig(rig: Rig, rotation_deg: float, center_m: float, seed: int = 0) -> Rig:
    """Every camera turned by ``rotation_deg`` about a random axis and its centre moved by ``center_m`` in a
    random direction (seeded): what a bumped rig looks like, for tests and benchmarks."""
    from capture3d.geometry.rotations import rodrigues, rotvec

    rng = np.random.default_rng(seed)
    cams = []
    for cam in rig.cameras:
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        move = rng.normal(size=3)
        move /= np.linalg.norm(move)
        R = rodrigues(axis * np.radians(rotation_deg)) @ cam.R
        c = cam.center_world + center_m * move
        cams.append(cam.with_pose(rotvec(R), -R @ c))
    return Rig(tuple(cams), dict(rig.metadata))
