"""Whole-rig calibration: intrinsics where missing, initial rig from the camera graph, robust bundle
adjustment with view rejection, and the world frame (camera 1, or a board lying on the floor).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from capture3d.geometry.camera import Camera, Rig
from capture3d.errors import CalibrationError
from capture3d.calib.boards import Board
from capture3d.calib.bundle import bundle_adjust
from capture3d.calib.detect import ViewDetection
from capture3d.calib.extrinsics import (board_poses_per_view, cameras_with_poses, floor_frame, initial_board_poses,
                         initial_camera_poses, transform_world)
from capture3d.calib.intrinsics import IntrinsicsResult, calibrate_intrinsics
from capture3d.calib.lens_terms import std_metadata
from capture3d.calib.observations import BoardObservations, with_extra_views
from capture3d.calib.reference import scale_warnings, square_size_check

log = logging.getLogger(__name__)

#: Final RMS above which the rig is refused (px), and above which a warning is given.
FAIL_RMS_PX = 10.0
WARN_RMS_PX = 2.0


@dataclass
class RigCalibration:
    """Everything a rig calibration produced (the report is built from it).

    rig: the calibrated rig. obs: all observations (session frames, then any extra single-camera views).
    used: (M,) bool, observations kept in the final adjustment. residual_px: (M, 2) final residuals of
    all observations (projected - observed). R_board (F, 3, 3), t_board (F, 3): board->world per frame.
    board_seen: (F,) frame has a board pose. cam_rms_px: (V,) final RMS per camera over used views.
    rejected: list of {camera, frame, label, reason}. intrinsics: results for cameras calibrated here.
    square_check: the square side measured on triangulated corners (reference.square_size_check).
    reference: comparison with a reference rig (reference.compare_with_reference), when one was given.
    solve: the bundle adjustment settings used ({"refine_intrinsics", "loss", "f_scale_px"}), for reruns.
    uncertainty: per-camera spread over bootstrap resamples (uncertainty.bootstrap_uncertainty), when run.
    """

    rig: Rig
    board: Board
    obs: BoardObservations
    used: np.ndarray
    residual_px: np.ndarray
    R_board: np.ndarray
    t_board: np.ndarray
    board_seen: np.ndarray
    cam_rms_px: np.ndarray
    rms_px: float
    rejected: list[dict] = field(default_factory=list)
    intrinsics: dict[str, IntrinsicsResult] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    floor_frame: int | None = None
    seconds_ba: float = 0.0
    intrinsics_summary: dict = field(default_factory=dict)
    square_check: dict = field(default_factory=dict)
    reference: dict | None = None
    solve: dict = field(default_factory=dict)
    uncertainty: dict | None = None

    def __post_init__(self) -> None:
        if not self.intrinsics_summary and self.intrinsics:
            self.intrinsics_summary = {k: {"rms_px": r.rms_px, "coverage": r.coverage, "empty_corners": r.empty_corners,
                                           "rejected": r.rejected, "std": r.std, "terms": r.terms,
                                           "held_out_rms_px": r.held_out_rms_px} for k, r in self.intrinsics.items()}


def view_rms(obs: BoardObservations, residual_px: np.ndarray, mask: np.ndarray | None = None
             ) -> dict[tuple[int, int], float]:
    """RMS residual norm (px) per (camera, frame) view, over the masked observations."""
    mask = np.ones(len(obs), bool) if mask is None else mask
    keys = obs.view_keys()[mask]
    e2 = np.sum(residual_px[mask] ** 2, axis=1)
    uk, inv = np.unique(keys, return_inverse=True)
    s = np.bincount(inv, weights=e2)
    n = np.bincount(inv)
    nf = max(obs.n_frames, 1)
    return {(int(k // nf), int(k % nf)): float(np.sqrt(a / b)) for k, a, b in zip(uk, s, n)}


def calibrate_rig(obs: BoardObservations, board: Board, intrinsics: dict[str, Camera] | None = None,
                  refine_intrinsics: bool | None = None, model: str = "standard", floor: int | None = None,
                  extra_views: dict[str, list[ViewDetection]] | None = None, loss: str = "huber",
                  f_scale_px: float = 1.5, reject_factor: float = 3.0, reject_min_px: float = 2.0,
                  max_rounds: int = 3) -> RigCalibration:
    """Calibrate a rig of one or more cameras from synchronized board observations (one camera: its
    intrinsics and the board poses, the camera being the world frame).

    obs: session observations (frame f of every camera was taken at the same time).
    intrinsics: known cameras by name (e.g. from ``capture3d calibrate intrinsics``); the others are
    calibrated from their session views (+ extra_views) with ``model``.
    refine_intrinsics: refine K and distortion in the bundle adjustment (default: only when some
    camera had no given intrinsics, or extra views are given).
    floor: frame index whose board lies on the floor: world origin at its first corner, Z up; None keeps
    camera 1 as the world frame. extra_views: close-up single-camera views by camera name.

    Steps: inputs checked (``_check_inputs``) -> intrinsics (``_intrinsics``) -> initial rig from the board
    poses (``_initial_rig``) -> bundle adjustment rounds rejecting bad views (``_ba_rounds``) -> checks of
    the result (``_check_result``) -> world on the floor board (``_floor``).
    """
    intrinsics = dict(intrinsics or {})
    extra_views = dict(extra_views or {})
    warnings = _check_inputs(obs, board, extra_views)
    full = obs
    for ci, name in enumerate(obs.camera_names):
        if name in extra_views:
            full = with_extra_views(full, ci, extra_views[name], prefix=f"{name}:")
    cams, intr_results = _intrinsics(obs, full, board, intrinsics, model, warnings)
    if refine_intrinsics is None:
        refine_intrinsics = len(intr_results) > 0 or bool(extra_views)
    init = _initial_rig(full, cams, board, refine_intrinsics)
    cams, R_b, t_b, seconds = _ba_rounds(full, board, init, refine_intrinsics, loss, f_scale_px, reject_factor,
                                         reject_min_px, max_rounds)
    warnings += _intrinsics_moved(init.cameras, cams)
    residual = _all_residuals(cams, R_b, t_b, full, board)
    cam_rms, rms = _check_result(obs, full, init.used, residual, warnings)
    floor_used = None
    if floor is not None:
        cams, R_b, t_b = _floor(obs, cams, R_b, t_b, floor, init.seen_by, warnings)
        floor_used = floor
    warnings += scale_warnings(Rig(tuple(cams)), board.square_size)
    for w in warnings:
        log.info(w)
    keys = full.view_keys()
    meta = {"calibration_rms_px": rms, "camera_rms_px": [float(x) for x in cam_rms],
            "board": board.describe(), "views_used": int(len(np.unique(keys[init.used]))),
            "views_rejected": len(init.rejected),
            "world_frame": "floor board (Z up)" if floor_used is not None else f"camera {obs.camera_names[0]}",
            **std_metadata({n: r.std for n, r in intr_results.items()}, {n: r.terms for n, r in intr_results.items()})}
    rig = Rig(tuple(cams), meta)
    cal = RigCalibration(rig, board, full, init.used, residual, R_b, t_b, init.seen & init.useful, cam_rms, rms,
                         init.rejected, intr_results, warnings, floor_used, seconds)
    cal.square_check = square_size_check(cal)
    cal.solve = {"refine_intrinsics": bool(refine_intrinsics), "loss": loss, "f_scale_px": f_scale_px}
    return cal


def _check_inputs(obs: BoardObservations, board: Board, extra_views: dict) -> list[str]:
    """CalibrationError for unusable inputs; the warnings they deserve."""
    if obs.n_cams < 1:
        raise CalibrationError("a rig needs at least 1 camera, found none")
    unknown = set(extra_views) - set(obs.camera_names)
    if unknown:
        raise CalibrationError(f"extra views given for unknown camera(s) {sorted(unknown)}; "
                               f"cameras: {obs.camera_names}")
    warnings = []
    if board.symmetric:
        warnings.append(f"board {board.describe()} looks the same rotated by 180 degrees, so cameras may number its "
                        f"corners in opposite orders; use a board with an odd + even inner-corner count (e.g. 9x6) "
                        f"or a ChArUco board")
    return warnings


def _intrinsics(obs, full, board, intrinsics: dict, model: str, warnings: list[str]):
    """Every camera's intrinsics: given ones checked against the session's image size, the others
    calibrated from their views. Returns (cameras without pose, {name: IntrinsicsResult})."""
    cams: list[Camera] = []
    results: dict[str, IntrinsicsResult] = {}
    for ci, name in enumerate(obs.camera_names):
        size = tuple(obs.sizes_wh[ci])
        if name in intrinsics:
            cam = intrinsics[name]
            if tuple(cam.size_wh) != size:
                raise CalibrationError(f"camera {name}: intrinsics are for {cam.size_wh[0]}x{cam.size_wh[1]} images "
                                       f"but the session images are {size[0]}x{size[1]}; calibrate the intrinsics at "
                                       f"the capture resolution")
            cams.append(Camera(name, size, cam.K, cam.dist, fisheye=cam.fisheye))
            continue
        sel = full.cam == ci
        views = []
        for f in np.unique(full.frame[sel]):
            m = sel & (full.frame == f)
            views.append(ViewDetection(int(f), full.label(ci, int(f)),
                                       full.corner[m], full.xy_px[m]))
        res = calibrate_intrinsics(views, board, size, name, model)
        results[name] = res
        warnings += res.warnings
        cams.append(res.camera)
    return cams, results


@dataclass
class _InitialRig:
    """The rig before bundle adjustment: posed cameras, board poses, which observations are used, the
    rejected views, and per frame how many cameras see the board and whether it constrains the rig."""

    cameras: list[Camera]
    R_b: np.ndarray
    t_b: np.ndarray
    used: np.ndarray
    rejected: list[dict]
    seen: np.ndarray
    seen_by: np.ndarray
    useful: np.ndarray


def _initial_rig(full: BoardObservations, cams: list[Camera], board: Board, refine_intrinsics: bool) -> _InitialRig:
    """Board pose per view (PnP), views with a bad fit rejected, camera graph -> camera and board poses."""
    poses = board_poses_per_view(full, cams, board.corners_board)
    rejected: list[dict] = []
    used = np.ones(len(full), bool)
    nf = max(full.n_frames, 1)
    keys = full.view_keys()
    if poses:
        med = float(np.median([p.rms_px for p in poses.values()]))
        lim = max(5 * med, 5.0)
        for (c, f), p in list(poses.items()):
            if p.rms_px > lim:
                rejected.append(_rejection(full, c, f, f"board pose fit RMS {p.rms_px:.1f} px > {lim:.1f} px"))
                used &= keys != c * nf + f
                del poses[(c, f)]
    R_cam, t_cam = initial_camera_poses(full, poses)
    cams = cameras_with_poses(cams, R_cam, t_cam)
    R_b, t_b, seen = initial_board_poses(full, poses, R_cam, t_cam)
    seen_by = np.zeros(full.n_frames, int)
    for (c, f) in poses:
        seen_by[f] += 1
    # frames seen by one camera only constrain intrinsics (and, in a one-camera rig, are all there is)
    useful = seen_by >= (1 if refine_intrinsics or full.n_cams == 1 else 2)
    used &= useful[full.frame] & seen[full.frame]
    return _InitialRig(cams, R_b, t_b, used, rejected, seen, seen_by, useful)


def _ba_rounds(full: BoardObservations, board: Board, init: _InitialRig, refine_intrinsics: bool, loss: str,
               f_scale_px: float, reject_factor: float, reject_min_px: float, max_rounds: int):
    """Bundle adjustment, then views far above the median RMS rejected (into init.used / init.rejected) and
    again, up to max_rounds times. Returns (cameras, R_b, t_b, seconds spent in the solver)."""
    cams, R_b, t_b = init.cameras, init.R_b, init.t_b
    nf = max(full.n_frames, 1)
    keys = full.view_keys()
    seconds = 0.0
    for rnd in range(max_rounds + 1):
        sub = full.subset(init.used)
        ba = bundle_adjust(cams, R_b, t_b, sub, board.corners_board, refine_intrinsics=refine_intrinsics,
                           loss=loss, f_scale_px=f_scale_px)
        seconds += ba.seconds
        cams, R_b, t_b = ba.cameras, ba.R_board, ba.t_board
        if rnd == max_rounds:
            break
        vr = view_rms(sub, ba.residual_px)
        med = float(np.median(list(vr.values())))
        lim = max(reject_factor * med, reject_min_px)
        bad = [(cf, e) for cf, e in vr.items() if e > lim]
        if not bad:
            break
        for (c, f), e in bad:
            init.rejected.append(_rejection(full, c, f, f"RMS {e:.2f} px > {lim:.2f} px after bundle adjustment"))
            init.used &= keys != c * nf + f
        log.info("round %d: rejected %d view(s) above %.2f px", rnd + 1, len(bad), lim)
    return cams, R_b, t_b, seconds


def _intrinsics_moved(before: list[Camera], after: list[Camera]) -> list[str]:
    """Warnings for cameras whose focal length or principal point the bundle adjustment moved far."""
    out = []
    for c0, cam in zip(before, after):
        w, h = cam.size_wh
        df = cam.focal_px / c0.focal_px - 1
        dpp = float(np.linalg.norm(cam.K[:2, 2] - c0.K[:2, 2]))
        if abs(df) > 0.05 or dpp > 0.03 * max(w, h):
            out.append(f"camera {cam.name}: the bundle adjustment moved the intrinsics far from their start "
                       f"(focal {100 * df:+.1f}%, principal point {dpp:.0f} px): the session views constrain "
                       f"this lens poorly; calibrate its intrinsics from close-up views and pass --intrinsics")
    return out


def _check_result(obs, full, used, residual, warnings: list[str]) -> tuple[np.ndarray, float]:
    """Per-camera RMS (V,) and the RMS (px) of the used observations; CalibrationError when a camera lost
    every view or the RMS is beyond FAIL_RMS_PX, a warning above WARN_RMS_PX."""
    V = obs.n_cams
    e = np.linalg.norm(residual, axis=1)
    cam_rms = np.array([np.sqrt(np.mean(e[used & (full.cam == c)] ** 2)) if np.any(used & (full.cam == c))
                        else np.nan for c in range(V)])
    lost = [obs.camera_names[c] for c in range(V) if not np.isfinite(cam_rms[c])]
    if lost:
        raise CalibrationError(f"camera(s) {', '.join(lost)}: every board view was rejected; check that these cameras "
                               f"see the board sharply and that their intrinsics are right")
    rms = float(np.sqrt(np.mean(e[used] ** 2)))
    if not np.isfinite(rms) or rms > FAIL_RMS_PX:
        raise CalibrationError(f"rig calibration failed: RMS reprojection error {rms:.1f} px (expected < "
                               f"{WARN_RMS_PX} px); check the board definition (square size, corner counts), that "
                               f"the videos are synchronized, and the intrinsics")
    if rms > WARN_RMS_PX:
        warnings.append(f"rig RMS reprojection error {rms:.2f} px is high (expected < {WARN_RMS_PX} px): check the "
                        f"synchronization of the cameras and the flatness of the board")
    return cam_rms, rms


def _floor(obs, cams, R_b, t_b, floor: int, seen_by: np.ndarray, warnings: list[str]):
    """Move the world onto the board of frame ``floor`` (origin at its first corner, Z up)."""
    if not (0 <= floor < obs.n_frames) or seen_by[floor] == 0:
        best = int(seen_by.max(initial=0))
        frames = np.flatnonzero(seen_by == best)[:12].tolist() if best else []
        where = (f"frames where {'every camera sees' if best == len(cams) else f'the most cameras ({best}) see'} the "
                 f"board: {frames}{' ...' if np.count_nonzero(seen_by == best) > 12 else ''}" if best
                 else "no frame shows the board")
        raise CalibrationError(f"floor frame {floor}: no camera sees the board in that frame (session has "
                               f"{obs.n_frames} frames); pass the index of a frame with the board lying on the "
                               f"floor ({where})")
    if seen_by[floor] < 2:
        warnings.append(f"floor frame {floor} is seen by one camera only; the floor orientation is less accurate")
    Q, origin = floor_frame(R_b[floor], t_b[floor], np.stack([c.center_world for c in cams]))
    cams, R_b, t_b = transform_world(cams, R_b, t_b, Q, origin)
    below = [f"{c.name} (z = {c.center_world[2]:+.2f} m)" for c in cams if c.center_world[2] < 0]
    if below:
        label = obs.frame_labels[floor] if obs.frame_labels else str(floor)  # the frame set, whichever camera
        warnings.append(f"floor frame {floor} ({label}): camera(s) {', '.join(below)} are below the floor plane; "
                        f"expected every camera above the floor: the board was probably not lying on the floor in "
                        f"that frame; pass --floor with a frame where it lies flat on the floor")
    return cams, R_b, t_b


def _rejection(obs: BoardObservations, c: int, f: int, reason: str) -> dict:
    return {"camera": obs.camera_names[c], "frame": int(f), "label": obs.label(c, f), "reason": reason}


def _all_residuals(cams: list[Camera], R_b: np.ndarray, t_b: np.ndarray, obs: BoardObservations,
                   board: Board) -> np.ndarray:
    xyz = np.einsum("mij,mj->mi", R_b[obs.frame], board.corners_board[obs.corner]) + t_b[obs.frame]
    out = np.full((len(obs), 2), np.nan)
    for c, cam in enumerate(cams):
        m = obs.cam == c
        out[m] = cam.project(xyz[m]) - obs.xy_px[m]
    return out
