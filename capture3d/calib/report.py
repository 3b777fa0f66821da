"""Calibration report: ``report.json`` plus PNG figures (matplotlib, Agg backend).

Figures: ``reprojection_error.png`` (per-camera RMS and per-view RMS, the worst views named),
``coverage.png`` (board corners over each camera's image: used in blue, rejected views in red, with a
legend) and ``layout_3d.png`` (cameras, board poses, the world origin's axes and, with a floor frame,
the floor grid at z = 0). The JSON has the square side measured on triangulated corners and, when the
calibration was compared with a reference rig, the per-camera centre and rotation differences.
Per-camera uncertainty (centre mm, orientation deg) comes from a bootstrap over the frames when it was
run (calib/uncertainty.py; ``capture3d calibrate rig`` does by default). With two cameras or more, every
pair's baseline, relative rotation and epipolar error (calib/pairs.py) are in ``pairs``.

``build_report(rig, cal)`` returns the report as a dict; ``write_report`` writes the JSON and figures;
``summary_text`` is the few lines the CLI prints. A viewer can call ``build_report`` / ``layout_data``
to draw the same content interactively.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from capture3d.geometry.camera import Rig
from capture3d.io.atomic import atomic_write_text
from capture3d.calib.intrinsics import COVERAGE_GRID, coverage
from capture3d.calib.detect import ViewDetection
from capture3d.calib.pairs import pair_summary
from capture3d.calib.rig_calib import RigCalibration, view_rms


def _camera_coverage(cal: RigCalibration, c: int) -> tuple[float, list[str]]:
    m = cal.used & (cal.obs.cam == c)
    v = [ViewDetection(0, "", cal.obs.corner[m], cal.obs.xy_px[m])] if m.any() else []
    return coverage(v, tuple(cal.obs.sizes_wh[c]))


def std_from_metadata(rig: Rig, name: str) -> dict[str, float]:
    """{fx, fy, cx, cy (px), k1, k2, ... : standard deviation} of camera ``name`` from the rig file's
    [metadata] (see lens_terms.std_metadata); empty when the file has none for it."""
    meta = rig.metadata
    names = list(meta.get("intrinsics_std_cameras", []))
    if name not in names:
        return {}
    i = names.index(name)
    out = dict(zip(("fx", "fy", "cx", "cy"), map(float, meta["intrinsics_std_px"][i])))
    out.update(zip(("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6"), map(float, meta["distortion_std"][i])))
    return out


def build_report(rig: Rig, cal: RigCalibration | None = None) -> dict:
    """The report as a JSON-serializable dict (rig summary; per-view data when ``cal`` is given).

    Each camera's ``std`` holds the standard deviations of its intrinsics from the intrinsic calibration
    ({fx, fy, cx, cy: px, k1, ...: unitless}; absent for given intrinsics and fisheye lenses)."""
    cams = []
    for i, cam in enumerate(rig.cameras):
        entry = {"name": cam.name, "size_wh": list(cam.size_wh), "focal_px": [cam.K[0, 0], cam.K[1, 1]],
                 "principal_point_px": [cam.K[0, 2], cam.K[1, 2]], "distortion": cam.dist.tolist(),
                 "fisheye": cam.fisheye, "center_world_m": cam.center_world.tolist()}
        if cal is not None:
            m = cal.obs.cam == i
            used_views = np.unique(cal.obs.frame[m & cal.used])
            cov, empty = _camera_coverage(cal, i)
            entry.update({"rms_px": float(cal.cam_rms_px[i]), "views_used": int(used_views.size),
                          "views_rejected": sum(1 for r in cal.rejected if r["camera"] == cam.name),
                          "coverage": cov, "empty_image_corners": empty})
            if cam.name in cal.intrinsics_summary:
                entry["intrinsics"] = cal.intrinsics_summary[cam.name]
        elif "camera_rms_px" in rig.metadata:
            entry["rms_px"] = float(rig.metadata["camera_rms_px"][i])
        std = (entry.get("intrinsics") or {}).get("std") or std_from_metadata(rig, cam.name)
        if std:
            entry["std"] = std
        cams.append(entry)
    report = {"cameras": cams, "metadata": {k: v for k, v in rig.metadata.items() if not isinstance(v, dict)}}
    if len(rig) >= 2:
        report["pairs"] = pair_summary(list(rig.cameras), cal.obs if cal is not None else None,
                                       cal.used if cal is not None else None,
                                       cal.board.square_size if cal is not None else None)
    if cal is not None:
        vr = view_rms(cal.obs, cal.residual_px, cal.used)
        report.update({
            "rms_px": cal.rms_px, "board": cal.board.describe(), "world_frame": (
                f"floor board in frame {cal.floor_frame} (Z up)" if cal.floor_frame is not None
                else f"camera {rig.names[0]}"),
            "rejected_views": cal.rejected, "warnings": cal.warnings,
            "views": [{"camera": rig.names[c], "frame": f, "label": cal.obs.label(c, f), "rms_px": e}
                      for (c, f), e in sorted(vr.items())],
            "bundle_adjustment_seconds": cal.seconds_ba, "square_check": cal.square_check})
        if cal.reference is not None:
            report["reference"] = cal.reference
        if cal.uncertainty and cal.uncertainty["cameras"]:
            report["uncertainty"] = cal.uncertainty
            for entry, u in zip(cams, cal.uncertainty["cameras"]):
                entry.update({"center_uncertainty_mm": u["center_mm"], "rotation_uncertainty_deg": u["rotation_deg"]})
    return report


def layout_data(rig: Rig, cal: RigCalibration | None = None) -> dict:
    """3D layout for drawing: camera centres (V, 3), optical axes (V, 3), board corner outlines (B, 5, 3)."""
    centers = np.stack([c.center_world for c in rig.cameras])
    axes = np.stack([c.R[2] for c in rig.cameras])
    outlines = np.zeros((0, 5, 3))
    if cal is not None and cal.board_seen.any():
        w, h = cal.board.corners_board[:, :2].max(axis=0)
        rect = np.array([[0, 0, 0], [w, 0, 0], [w, h, 0], [0, h, 0], [0, 0, 0]])
        f = np.flatnonzero(cal.board_seen)
        outlines = np.einsum("fij,kj->fki", cal.R_board[f], rect) + cal.t_board[f][:, None, :]
    return {"centers": centers, "axes": axes, "names": rig.names, "boards": outlines}


def _figures(rig: Rig, cal: RigCalibration | None, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    V = len(rig)
    if cal is not None:
        vr = view_rms(cal.obs, cal.residual_px, cal.used)
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.5))
        a1.bar(range(V), cal.cam_rms_px, color="tab:blue")
        a1.set_xticks(range(V), rig.names, rotation=45, ha="right")
        a1.set_ylabel("RMS reprojection error (px)")
        a1.set_title(f"per camera (all: {cal.rms_px:.3f} px)")
        for c in range(V):
            e = [v for (cc, _), v in vr.items() if cc == c]
            a2.scatter(np.full(len(e), c) + np.random.default_rng(c).uniform(-0.25, 0.25, len(e)), e, s=6)
        _name_worst_views(a2, cal, vr)
        a2.set_xticks(range(V), rig.names, rotation=45, ha="right")
        a2.set_ylabel("per-view RMS (px)")
        a2.set_title(f"per view ({len(cal.rejected)} rejected)")
        fig.tight_layout()
        p = out / "reprojection_error.png"
        fig.savefig(p, dpi=100)
        plt.close(fig)
        paths.append(p)

        cols = min(4, V)
        rows = int(np.ceil(V / cols))
        fig, axs = plt.subplots(rows, cols, figsize=(4 * cols, 2.6 * rows), squeeze=False)
        for c in range(V):
            ax = axs[c // cols][c % cols]
            w, h = cal.obs.sizes_wh[c]
            m = cal.obs.cam == c
            ax.scatter(*cal.obs.xy_px[m & cal.used].T, s=1, c="tab:blue", label="used corners")
            ax.scatter(*cal.obs.xy_px[m & ~cal.used].T, s=1, c="tab:red", label="rejected / unused views")
            if c == 0:
                ax.legend(loc="upper right", fontsize=6, markerscale=4)
            for k in range(1, COVERAGE_GRID[0]):
                ax.axvline(k * w / COVERAGE_GRID[0], color="0.85", lw=0.5)
            for k in range(1, COVERAGE_GRID[1]):
                ax.axhline(k * h / COVERAGE_GRID[1], color="0.85", lw=0.5)
            cov, _ = _camera_coverage(cal, c)
            ax.set_xlim(-0.5, w - 0.5)
            ax.set_ylim(h - 0.5, -0.5)
            ax.set_aspect("equal")
            ax.set_title(f"{rig.names[c]}: coverage {100 * cov:.0f}%", fontsize=9)
            ax.tick_params(labelsize=7)
        for c in range(V, rows * cols):
            axs[c // cols][c % cols].axis("off")
        fig.tight_layout()
        p = out / "coverage.png"
        fig.savefig(p, dpi=100)
        plt.close(fig)
        paths.append(p)

    lay = layout_data(rig, cal)
    fig = plt.figure(figsize=(7, 6))
    ax = fig.add_subplot(projection="3d")
    for b in lay["boards"]:
        ax.plot(*b.T, color="0.6", lw=0.6)
    scale = 0.15 * max(float(np.ptp(lay["centers"], axis=0).max()), 1e-3)
    for c, a, name in zip(lay["centers"], lay["axes"], lay["names"]):
        ax.scatter(*c, color="tab:red", s=20)
        ax.plot(*np.stack([c, c + scale * a]).T, color="tab:red")
        ax.text(*c, name, fontsize=8)
    _world_frame(ax, lay, cal is not None and cal.floor_frame is not None, scale)
    pts = np.concatenate([lay["centers"], lay["boards"].reshape(-1, 3), np.zeros((1, 3))])
    mid, half = pts.mean(axis=0), 0.55 * max(float(np.ptp(pts, axis=0).max()), 1e-3)
    ax.set_xlim(mid[0] - half, mid[0] + half)
    ax.set_ylim(mid[1] - half, mid[1] + half)
    ax.set_zlim(mid[2] - half, mid[2] + half)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_zlabel("z (m)")
    ax.set_title("cameras (red, optical axis), board poses (grey), world origin (x, y, z axes)", fontsize=9)
    ax.legend(loc="upper left", fontsize=7)
    p = out / "layout_3d.png"
    fig.savefig(p, dpi=100)
    plt.close(fig)
    paths.append(p)
    return paths


def _name_worst_views(ax, cal: RigCalibration, vr: dict, n: int = 5) -> None:
    """Label the n views with the highest RMS in the per-view scatter (camera index on x, px on y)."""
    for (c, f), e in sorted(vr.items(), key=lambda kv: -kv[1])[:n]:
        label = cal.obs.label(c, f)
        ax.annotate(f"{label} {e:.2f} px", (c, e), fontsize=6, xytext=(4, 0), textcoords="offset points")


def _world_frame(ax, lay: dict, floor: bool, scale: float) -> None:
    """World origin's axes (x red, y green, z blue) and, on a floor, a grid at z = 0 under the cameras."""
    for k, colour in enumerate(("tab:red", "tab:green", "tab:blue")):
        tip = np.zeros(3)
        tip[k] = scale
        ax.plot(*np.stack([np.zeros(3), tip]).T, color=colour, lw=2, label=f"world {'xyz'[k]}")
    if not floor:
        return
    c = lay["centers"]
    lo, hi = np.minimum(c.min(axis=0), 0), np.maximum(c.max(axis=0), 0)
    for x in np.linspace(lo[0], hi[0], 6):
        ax.plot([x, x], [lo[1], hi[1]], [0, 0], color="0.8", lw=0.5)
    for y in np.linspace(lo[1], hi[1], 6):
        ax.plot([lo[0], hi[0]], [y, y], [0, 0], color="0.8", lw=0.5)
    ax.plot([], [], color="0.8", lw=0.5, label="floor (z = 0)")


def write_report(out_dir: str | os.PathLike, rig: Rig, cal: RigCalibration | None = None) -> list[Path]:
    """Write ``report.json`` and the PNG figures into out_dir. Returns the written paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = build_report(rig, cal)
    paths = [atomic_write_text(out / "report.json", json.dumps(report, indent=2, default=_json_default))]
    return paths + _figures(rig, cal, out)


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(f"cannot write {type(o).__name__} to JSON")


#: Camera pairs printed by summary_text (report.json has them all).
MAX_PAIR_LINES = 6


def summary_text(report: dict) -> str:
    """A few lines for the terminal: overall RMS, per-camera RMS / views / coverage, rejections, warnings."""
    lines = []
    if "rms_px" in report:
        lines.append(f"RMS reprojection error: {report['rms_px']:.3f} px   board: {report['board']}   "
                     f"world frame: {report['world_frame']}")
    for c in report["cameras"]:
        s = f"  {c['name']:>12}: f = {np.mean(c['focal_px']):8.1f} px"
        if c.get("std"):
            sd = c["std"]
            s += f" +-{max(sd['fx'], sd['fy']):.1f}, principal point +-{max(sd['cx'], sd['cy']):.1f} px"
        if "rms_px" in c:
            s += f"  RMS {c['rms_px']:.3f} px"
        if "views_used" in c:
            s += f"  views {c['views_used']} (+{c['views_rejected']} rejected)  coverage {100 * c['coverage']:.0f}%"
        if "center_uncertainty_mm" in c:
            s += f"  +- {c['center_uncertainty_mm']:.1f} mm, {c['rotation_uncertainty_deg']:.2f} deg"
        lines.append(s)
    for r in report.get("rejected_views", [])[:20]:
        lines.append(f"  rejected {r['camera']} {r['label']}: {r['reason']}")
    if len(report.get("rejected_views", [])) > 20:
        lines.append(f"  ... {len(report['rejected_views']) - 20} more rejected views (see report.json)")
    sq = report.get("square_check") or {}
    if sq.get("pairs"):
        lines.append(f"square side from triangulated corners: {1000 * sq['square_m']:.2f} mm "
                     f"({sq['error_pct']:+.2f}% of the board's, {sq['pairs']} neighbour pairs): checks that the "
                     f"cameras agree, not the board's true size (the rig's scale is the square_size given)")
    pairs = report.get("pairs", [])
    for p in pairs[:MAX_PAIR_LINES]:
        squares = f" ({p['baseline_squares']:.2f} squares)" if "baseline_squares" in p else ""
        epi = (f", epipolar error RMS {p['epipolar_rms_px']:.3f} px (max {p['epipolar_max_px']:.2f} px, "
               f"{p['epipolar_points']} corners)" if p.get("epipolar_points") else "")
        lines.append(f"  pair {p['cameras'][0]}-{p['cameras'][1]}: baseline {p['baseline_m']:.4g} m{squares}, "
                     f"relative rotation {p['rotation_deg']:.2f} deg{epi}")
    if len(pairs) > MAX_PAIR_LINES:
        lines.append(f"  ... {len(pairs) - MAX_PAIR_LINES} more camera pairs (see report.json)")
    ref = report.get("reference")
    if ref:
        lines.append(f"against {ref['source']} (similarity aligned, scale {ref['scale']:.4f}):")
        for c in ref["cameras"]:
            lines.append(f"  {c['name']:>12}: centre {c['center_mm']:6.1f} mm  rotation {c['rotation_deg']:5.2f} deg  "
                         f"focal {c['focal_pct']:+5.1f}%")
    for w in report.get("warnings", []):
        lines.append(f"warning: {w}")
    return "\n".join(lines)
