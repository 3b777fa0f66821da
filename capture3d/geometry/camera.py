"""Camera model and rig: projection with distortion, undistortion, projection matrices.

Conventions (see calibration/README.md): world in metres, right-handed, Z up; camera frame as OpenCV
(x right, y down, z forward); extrinsics world->camera ``x_cam = R @ x_world + t`` with R from the
Rodrigues vector ``rvec``; pixel (0, 0) is the centre of the top-left pixel.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from capture3d.geometry.lens import fit_inverse

# Batches of at least this many points per camera use the fitted inverse + Newton (capture3d.geometry.lens):
# ~3x faster than OpenCV's iteration there; smaller ones stay with OpenCV (fewer numpy calls).
_NEWTON_MIN_POINTS = 4096
# A fixed iteration count: OpenCV's EPS test reprojects every point at every iteration (3x slower);
# 8 fixed-point iterations leave < 1e-3 px over a 1080p image with k1 = -0.25.
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT, 8, 0.0)
VALID_DIST_LENGTHS = (4, 5, 8, 12, 14)


@dataclass(frozen=True)
class Camera:
    """One calibrated camera.

    name: label (usually the serial or the folder name).
    size_wh: (W, H) image size in px.
    K: (3, 3) intrinsic matrix, px.
    dist: (n,) OpenCV distortion coefficients, n in 4, 5, 8, 12, 14 (fisheye: exactly 4, k1..k4).
    rvec: (3,) Rodrigues rotation world->camera. tvec: (3,) translation world->camera, metres.
    fisheye: use OpenCV's fisheye (equidistant) model instead of the pinhole + Brown-Conrady one.
    """

    name: str
    size_wh: tuple[int, int]
    K: np.ndarray
    dist: np.ndarray = field(default_factory=lambda: np.zeros(5))
    rvec: np.ndarray = field(default_factory=lambda: np.zeros(3))
    tvec: np.ndarray = field(default_factory=lambda: np.zeros(3))
    fisheye: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "K", np.asarray(self.K, dtype=float).reshape(3, 3))
        object.__setattr__(self, "dist", np.asarray(self.dist, dtype=float).ravel())
        object.__setattr__(self, "rvec", np.asarray(self.rvec, dtype=float).reshape(3))
        object.__setattr__(self, "tvec", np.asarray(self.tvec, dtype=float).reshape(3))
        object.__setattr__(self, "size_wh", (int(self.size_wh[0]), int(self.size_wh[1])))
        R, _ = cv2.Rodrigues(self.rvec)
        object.__setattr__(self, "_R", R)
        object.__setattr__(self, "_pinhole_only", not self.fisheye and not self.dist.any())

    # -------------------------------------------------------------------------------- geometry
    @property
    def R(self) -> np.ndarray:
        """(3, 3) rotation world->camera."""
        return self._R  # type: ignore[attr-defined]

    @property
    def cam_from_world(self) -> np.ndarray:
        """(3, 4) [R | t]: the normalized projection matrix (maps world to undistorted xy_norm)."""
        return np.hstack([self.R, self.tvec[:, None]])

    @property
    def P_px(self) -> np.ndarray:
        """(3, 4) pinhole projection matrix K [R | t] (no distortion)."""
        return self.K @ self.cam_from_world

    @property
    def center_world(self) -> np.ndarray:
        """(3,) camera centre in world coordinates, metres."""
        return -self.R.T @ self.tvec

    def with_pose(self, rvec: np.ndarray, tvec: np.ndarray) -> "Camera":
        """A copy with other extrinsics."""
        return replace(self, rvec=np.asarray(rvec, float), tvec=np.asarray(tvec, float))

    def world_to_cam(self, xyz_world: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (..., 3) camera-frame points."""
        return np.asarray(xyz_world, float) @ self.R.T + self.tvec

    def project(self, xyz_world: np.ndarray) -> np.ndarray:
        """Project world points with distortion.

        xyz_world: (..., 3) metres. Returns xy_px: (..., 2). Points behind the camera (z <= 0) and
        non-finite inputs give NaN.
        """
        pts = np.asarray(xyz_world, dtype=float)
        shape = pts.shape[:-1]
        flat = pts.reshape(-1, 3)
        out = np.full((flat.shape[0], 2), np.nan)
        z = flat @ self.R[2] + self.tvec[2]
        ok = np.isfinite(flat).all(axis=1) & (z > 1e-9)
        if ok.any():
            obj = flat[ok].reshape(-1, 1, 3)
            if self.fisheye:
                img, _ = cv2.fisheye.projectPoints(obj, self.rvec.reshape(3, 1), self.tvec.reshape(3, 1),
                                                   self.K, self.dist[:4])
            else:
                img, _ = cv2.projectPoints(obj, self.rvec, self.tvec, self.K, self.dist)
            img = img.reshape(-1, 2)
            if self.K[0, 1]:  # OpenCV ignores the skew K[0, 1]: u = fx xd + skew yd + cx
                img[:, 0] += self.K[0, 1] * (img[:, 1] - self.K[1, 2]) / self.K[1, 1]
            out[ok] = img
        return out.reshape(shape + (2,))

    def undistort(self, xy_px: np.ndarray) -> np.ndarray:
        """Remove lens distortion: (..., 2) px -> (..., 2) normalized image coordinates (x/z, y/z).

        NaN in, NaN out.
        """
        pts = np.asarray(xy_px, dtype=float)
        shape = pts.shape[:-1]
        src = np.ascontiguousarray(pts.reshape(-1, 1, 2))
        if src.shape[0] == 0:
            return np.zeros(shape + (2,))
        if self.K[0, 1]:  # take the skew out first (OpenCV's undistortion ignores it, as project does)
            src = src.copy()
            src[..., 0] -= self.K[0, 1] * (src[..., 1] - self.K[1, 2]) / self.K[1, 1]
        if self.fisheye:
            und = cv2.fisheye.undistortPoints(src, self.K, self.dist[:4], criteria=_UNDISTORT_CRITERIA)
        elif self._pinhole_only:  # type: ignore[attr-defined]
            und = (src - self.K[:2, 2]) / np.diag(self.K)[:2]
        elif src.shape[0] >= _NEWTON_MIN_POINTS and self._inverse() is not None:
            und = self._undistort_newton(src.reshape(-1, 2))
        else:
            und = cv2.undistortPointsIter(src, self.K, self.dist, None, None, _UNDISTORT_CRITERIA)
        out = und.reshape(shape + (2,))
        if self.fisheye or self._pinhole_only:  # type: ignore[attr-defined]  # can return half a point
            bad = np.isnan(pts).any(axis=-1)
            out[bad] = np.nan
        return out

    def _inverse(self):
        """The fitted inverse distortion (capture3d.geometry.lens), made on first use; None: use OpenCV."""
        try:
            return self._inverse_lens  # type: ignore[attr-defined]
        except AttributeError:
            inv = fit_inverse(self.dist, self.size_wh, self.K)
            object.__setattr__(self, "_inverse_lens", inv)
            return inv

    def _undistort_newton(self, xy_px: np.ndarray) -> np.ndarray:
        """(M, 2) px (skew already taken out) -> (M, 2) normalized, by the fitted inverse; OpenCV for points
        outside its disc."""
        xd = (xy_px[:, 0] - self.K[0, 2]) / self.K[0, 0]
        yd = (xy_px[:, 1] - self.K[1, 2]) / self.K[1, 1]
        x, y, inside = self._inverse()(xd, yd)
        out = np.stack([x, y], axis=1)
        finite = np.isfinite(xd) & np.isfinite(yd)
        out[~finite] = np.nan
        outside = np.flatnonzero(~inside & finite)
        if outside.size:
            src = np.ascontiguousarray(xy_px[outside].reshape(-1, 1, 2))
            out[outside] = cv2.undistortPointsIter(src, self.K, self.dist, None, None,
                                                   _UNDISTORT_CRITERIA).reshape(-1, 2)
        return out

    def in_image(self, xy_px: np.ndarray, margin_px: float = 0.0) -> np.ndarray:
        """(..., 2) px -> (...,) bool: inside the image (pixel centres from -0.5 to W - 0.5)."""
        xy = np.asarray(xy_px, float)
        w, h = self.size_wh
        with np.errstate(invalid="ignore"):
            return ((xy[..., 0] >= -0.5 + margin_px) & (xy[..., 0] <= w - 0.5 - margin_px)
                    & (xy[..., 1] >= -0.5 + margin_px) & (xy[..., 1] <= h - 0.5 - margin_px))

    @property
    def focal_px(self) -> float:
        """Mean focal length in px (to convert normalized errors to pixels)."""
        return float(0.5 * (self.K[0, 0] + self.K[1, 1]))


@dataclass(frozen=True)
class Rig:
    """An ordered set of calibrated cameras sharing one world frame.

    metadata: free-form values saved with the rig (e.g. calibration RMS error in px).
    """

    cameras: tuple[Camera, ...]
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cameras", tuple(self.cameras))
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ValueError(f"camera names must be unique, got {names}")
        P = np.stack([c.cam_from_world for c in self.cameras]) if self.cameras else np.zeros((0, 3, 4))
        P.setflags(write=False)
        focal = np.array([c.focal_px for c in self.cameras])
        focal.setflags(write=False)
        object.__setattr__(self, "_P", P)
        object.__setattr__(self, "_focal", focal)

    def __len__(self) -> int:
        return len(self.cameras)

    def __iter__(self):
        return iter(self.cameras)

    def __getitem__(self, i: int) -> Camera:
        return self.cameras[i]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.cameras]

    def camera(self, name: str) -> Camera:
        for c in self.cameras:
            if c.name == name:
                return c
        raise KeyError(f"no camera named {name!r}; cameras: {', '.join(self.names)}")

    def cams_from_world(self) -> np.ndarray:
        """(V, 3, 4) normalized projection matrices [R | t] (read-only)."""
        return self._P  # type: ignore[attr-defined]

    def focal_px(self) -> np.ndarray:
        """(V,) mean focal length per camera, px (read-only)."""
        return self._focal  # type: ignore[attr-defined]

    def project(self, xyz_world: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (V, ..., 2) px in every camera (NaN behind a camera)."""
        return np.stack([c.project(xyz_world) for c in self.cameras])

    def undistort(self, xy_px: np.ndarray) -> np.ndarray:
        """(V, ..., 2) px -> (V, ..., 2) normalized image coordinates."""
        xy = np.asarray(xy_px, float)
        if xy.shape[0] != len(self):
            raise ValueError(f"expected {len(self)} views on axis 0, got shape {xy.shape}")
        out = np.empty(xy.shape)
        for v, cam in enumerate(self.cameras):
            out[v] = cam.undistort(xy[v])
        return out
