"""Synthetic calibration data with known truth: board poses, corner observations and rendered images.

Two paths:

- fast: ``rig_board_observations`` / ``intrinsic_views`` project the board corners through the true
  cameras and add Gaussian pixel noise (for bundle-adjustment tests and the benchmark);
- images: ``render_board_image`` draws the board through the true camera model (distortion,
  blur, noise, uneven lighting, partial views) so that detection is tested too.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from capture3d.geometry.camera import Camera, Rig
from capture3d.calib.boards import Board
from capture3d.calib.detect import ViewDetection
from capture3d.calib.observations import BoardObservations
from capture3d.geometry.rotations import rodrigues


@dataclass
class SyntheticBoardPoses:
    """True board poses in the world: R_world_board (F, 3, 3), t_world_board (F, 3) metres."""

    R: np.ndarray
    t: np.ndarray

    def corners_world(self, board: Board) -> np.ndarray:
        """(F, N, 3) corners in the world frame."""
        return np.einsum("fij,nj->fni", self.R, board.corners_board) + self.t[:, None, :]


def _frame_from_normal(z: np.ndarray, spin: float) -> np.ndarray:
    """Rotation whose third column is z (unit), with in-plane rotation ``spin`` radians."""
    z = z / np.linalg.norm(z)
    helper = np.array([0.0, 0.0, 1.0]) if abs(z[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    c, s = np.cos(spin), np.sin(spin)
    x, y = c * x + s * y, -s * x + c * y
    return np.stack([x, y, z], axis=1)


def random_board_poses(rig: Rig, board: Board, n_poses: int, rng: np.random.Generator,
                       center_world=(0.0, 0.0, 1.0), half_extent_m=(1.2, 1.2, 0.6),
                       max_tilt_deg: float = 35.0) -> SyntheticBoardPoses:
    """Board poses spread in a box around ``center_world``, each facing a random pair of neighbouring cameras.

    The board centre (not its first corner) is placed in the box; its front faces between a random
    camera and its nearest neighbour (so views link neighbours, as when walking a board around a rig),
    tilted by up to ``max_tilt_deg`` and spun freely in its plane.
    """
    centers = np.stack([c.center_world for c in rig.cameras])
    w, h = board.corners_board[:, :2].max(axis=0)
    mid_board = np.array([w / 2, h / 2, 0.0])
    Rs, ts = [], []
    for _ in range(n_poses):
        c = np.asarray(center_world) + rng.uniform(-1, 1, 3) * np.asarray(half_extent_m)
        i = int(rng.integers(len(centers)))
        near = np.linalg.norm(centers - centers[i], axis=1)
        near[i] = np.inf
        j = int(np.argmin(near))  # face between camera i and its nearest neighbour
        z = (c - centers[i]) / np.linalg.norm(c - centers[i]) + (c - centers[j]) / np.linalg.norm(c - centers[j])
        z /= np.linalg.norm(z)
        tilt_axis = np.cross(z, rng.normal(size=3))
        tilt_axis /= np.linalg.norm(tilt_axis)
        z = rodrigues(tilt_axis * np.radians(rng.uniform(0, max_tilt_deg))) @ z
        R = _frame_from_normal(z, rng.uniform(-np.pi, np.pi))
        Rs.append(R)
        ts.append(c - R @ mid_board)
    return SyntheticBoardPoses(np.array(Rs), np.array(ts))


def observe_corners(cam: Camera, xyz_world: np.ndarray, board: Board, margin_px: float = 4.0,
                    max_view_angle_deg: float = 70.0, partial: bool | None = None) -> np.ndarray:
    """Exact projections (N, 2) of one board pose's corners, NaN where not seen.

    Checkerboards are seen whole or not at all; ChArUco boards (or ``partial=True``) may be partial.
    A board seen more obliquely than ``max_view_angle_deg`` or from behind is not seen.
    """
    partial = board.kind == "charuco" if partial is None else partial
    xyz_cam = cam.world_to_cam(xyz_world)
    n = np.cross(xyz_world[1] - xyz_world[0], xyz_world[board.inner_corners[0]] - xyz_world[0])
    n_cam = cam.R @ (n / np.linalg.norm(n))  # board z (into the board) in camera coordinates
    view = xyz_cam.mean(axis=0)
    cos_view = float(n_cam @ view / np.linalg.norm(view))
    out = np.full((len(xyz_world), 2), np.nan)
    if cos_view < np.cos(np.radians(max_view_angle_deg)) or np.any(xyz_cam[:, 2] <= 0.05):
        return out
    xy = cam.project(xyz_world)
    inside = cam.in_image(xy, margin_px)
    if partial:
        out[inside] = xy[inside]
    elif inside.all():
        out = xy
    return out


def rig_board_observations(rig: Rig, board: Board, poses: SyntheticBoardPoses, noise_px: float,
                           rng: np.random.Generator, min_corners: int = 6) -> BoardObservations:
    """Noisy corner observations of the board poses by every camera of the rig (fast path, no images)."""
    xyz = poses.corners_world(board)
    cams, frames, corners, xys = [], [], [], []
    for ci, cam in enumerate(rig.cameras):
        for f in range(len(xyz)):
            xy = observe_corners(cam, xyz[f], board)
            ok = np.isfinite(xy[:, 0])
            if ok.sum() < min_corners:
                continue
            ids = np.flatnonzero(ok)
            cams.append(np.full(len(ids), ci))
            frames.append(np.full(len(ids), f))
            corners.append(ids)
            xys.append(xy[ids] + rng.normal(0, noise_px, (len(ids), 2)))
    return BoardObservations(np.concatenate(cams), np.concatenate(frames), np.concatenate(corners),
                             np.concatenate(xys), rig.names, [c.size_wh for c in rig.cameras],
                             [f"pose{f}" for f in range(len(xyz))])


def intrinsic_board_poses(cam: Camera, board: Board, n_views: int, rng: np.random.Generator,
                          fill: tuple[float, float] = (0.25, 0.55),
                          max_tilt_deg: float = 55.0) -> tuple[np.ndarray, np.ndarray]:
    """Close-up board poses in the camera frame, spread over the image with varied tilts.

    Returns R_cam_board (n, 3, 3), t_cam_board (n, 3). Only poses where the whole board is visible.
    """
    w, h = cam.size_wh
    bw, bh = board.corners_board[:, :2].max(axis=0)
    mid = np.array([bw / 2, bh / 2, 0.0])
    Rs, ts = [], []
    tries = 0
    while len(Rs) < n_views and tries < 200 * n_views:
        tries += 1
        frac = rng.uniform(*fill)
        dist = cam.focal_px * bw / (frac * w)
        target_px = rng.uniform([0.08 * w, 0.08 * h], [0.92 * w, 0.92 * h])
        ray = np.append((target_px - cam.K[:2, 2]) / np.diag(cam.K)[:2], 1.0)
        c = ray / np.linalg.norm(ray) * dist
        z = c / np.linalg.norm(c)
        axis = np.cross(z, rng.normal(size=3))
        axis /= np.linalg.norm(axis)
        z = rodrigues(axis * np.radians(rng.uniform(10, max_tilt_deg))) @ z
        R = _frame_from_normal(z, rng.uniform(-0.6, 0.6) + np.pi / 2 * 0)
        t = c - R @ mid
        pose_cam = cam.with_pose(np.zeros(3), np.zeros(3))
        xyz = board.corners_board @ R.T + t
        if np.isfinite(observe_corners(pose_cam, xyz, board, partial=False)).all():
            Rs.append(R)
            ts.append(t)
    return np.array(Rs), np.array(ts)


def intrinsic_views(cam: Camera, board: Board, n_views: int, noise_px: float, rng: np.random.Generator,
                    fill: tuple[float, float] = (0.25, 0.55), max_tilt_deg: float = 55.0) -> list[ViewDetection]:
    """Noisy close-up views of the board for intrinsic calibration of one camera (fast path).

    fill: range of the board width as a fraction of the image width; max_tilt_deg: largest tilt.
    """
    Rs, ts = intrinsic_board_poses(cam, board, n_views, rng, fill, max_tilt_deg)
    cam0 = cam.with_pose(np.zeros(3), np.zeros(3))
    views = []
    for i, (R, t) in enumerate(zip(Rs, ts)):
        xy = cam0.project(board.corners_board @ R.T + t)
        views.append(ViewDetection(i, f"view{i}", np.arange(board.n_corners),
                                   xy + rng.normal(0, noise_px, xy.shape)))
    return views


# ------------------------------------------------------------------------------------ images
def pixel_rays(cam: Camera, supersample: int) -> np.ndarray:
    """(H*s, W*s, 2) float32 undistorted normalized coordinates of the sub-pixel sample centres."""
    w, h = cam.size_wh
    s = supersample
    xs = (np.arange(w * s) + 0.5) / s - 0.5
    ys = (np.arange(h * s) + 0.5) / s - 0.5
    gx, gy = np.meshgrid(xs, ys)
    return cam.undistort(np.stack([gx, gy], axis=-1)).astype(np.float32)


def render_board_image(cam: Camera, board: Board, R_cam_board: np.ndarray, t_cam_board: np.ndarray,
                       rng: np.random.Generator, blur_px: float = 0.6, noise_level: float = 3.0,
                       lighting: float = 0.35, supersample: int = 2, rays: np.ndarray | None = None) -> np.ndarray:
    """Render the board seen by ``cam`` at pose (R, t) in the camera frame as an (H, W) uint8 image.

    The board (with a one-square white margin) is drawn through the true lens model, with a smooth
    uneven lighting gradient of relative amplitude ``lighting``, Gaussian blur of sigma ``blur_px`` and
    Gaussian noise of ``noise_level`` grey levels. ``rays`` (from a previous call, same camera) saves
    the undistortion of the pixel grid.
    """
    w, h = cam.size_wh
    if rays is None:
        rays = pixel_rays(cam, supersample)
    s = rays.shape[1] // w
    pps = 48
    tex = board.texture(pps)
    margin = pps
    tex = cv2.copyMakeBorder(tex, margin, margin, margin, margin, cv2.BORDER_CONSTANT,
                             value=0 if board.inverted else 255)  # an inverted print is black around
    H = np.column_stack([R_cam_board[:, 0], R_cam_board[:, 1], t_cam_board])
    Hinv = np.linalg.inv(H).astype(np.float32)
    x, y = rays[..., 0], rays[..., 1]
    q = [(Hinv[k, 0] * x + Hinv[k, 1] * y + Hinv[k, 2]) for k in range(3)]
    front = q[2] > 1e-12  # the ray meets the plane in front of the camera
    inv = np.where(front, np.float32(1.0) / np.where(front, q[2], np.float32(1.0)), np.float32(0.0))
    # board frame origin = first inner corner = one square from the texture's squares corner
    k = np.float32(pps / board.square_size)
    u = np.where(front, q[0] * inv * k + (pps + margin - 0.5), -1e4).astype(np.float32)
    v = np.where(front, q[1] * inv * k + (pps + margin - 0.5), -1e4).astype(np.float32)
    background = float(rng.uniform(60, 140))
    img = cv2.remap(tex.astype(np.float32), u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                    borderValue=background)
    if s > 1:
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    ang = rng.uniform(0, 2 * np.pi)
    ramp = (((np.arange(w, dtype=np.float32) - w / 2) * np.cos(ang))[None, :]
            + ((np.arange(h, dtype=np.float32) - h / 2) * np.sin(ang))[:, None]) / max(w, h)
    img = img * (1 - lighting / 2 + lighting * (ramp + 0.5)) * 0.9 + 10
    if blur_px > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur_px)
    img = img + rng.standard_normal(img.shape, dtype=np.float32) * noise_level
    return np.clip(img, 0, 255).astype(np.uint8)


def write_session_images(folder, rig: Rig, board: Board, poses: SyntheticBoardPoses, rng: np.random.Generator,
                         ext: str = ".png", **render_kw) -> dict[str, list]:
    """Render a synchronized session: ``folder/<camera>/frame_0000.png`` ... for every board pose.

    Every camera gets every frame (an empty background where the board is not visible), so frames pair
    up by name order. Returns {camera: [paths]}.
    """
    from pathlib import Path

    root = Path(folder)
    out: dict[str, list] = {}
    for cam in rig.cameras:
        d = root / cam.name
        d.mkdir(parents=True, exist_ok=True)
        rays = pixel_rays(cam, render_kw.get("supersample", 2))
        paths = []
        for f, (R, t) in enumerate(zip(poses.R, poses.t)):
            R_cb = cam.R @ R
            t_cb = cam.R @ t + cam.tvec
            img = render_board_image(cam, board, R_cb, t_cb, rng, rays=rays, **render_kw)
            p = d / f"frame_{f:04d}{ext}"
            cv2.imwrite(str(p), img)
            paths.append(p)
        out[cam.name] = paths
    return out


def write_intrinsic_images(folder, cam: Camera, board: Board, n_views: int, rng: np.random.Generator,
                           ext: str = ".png", **render_kw) -> list:
    """Render ``n_views`` close-up board images for one camera into ``folder``. Returns the paths."""
    from pathlib import Path

    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    Rs, ts = intrinsic_board_poses(cam, board, n_views, rng, fill=(0.35, 0.7))
    rays = pixel_rays(cam, render_kw.get("supersample", 2))
    cam0 = cam.with_pose(np.zeros(3), np.zeros(3))
    paths = []
    for i, (R, t) in enumerate(zip(Rs, ts)):
        img = render_board_image(cam0, board, R, t, rng, rays=rays, **render_kw)
        p = d / f"view_{i:03d}{ext}"
        cv2.imwrite(str(p), img)
        paths.append(p)
    return paths
