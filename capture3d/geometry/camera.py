"""Camera model and rig: projection with distortion, undistortion, projection matrices.

Conventions (see calibration/README.md): world in metres, right-handed, Z up; camera frame as OpenCV
(x right, y down, z forward); extrinsics world->camera ``x_cam = R @ x_world + t`` with R from the
Rodrigues vector ``rvec``; pixel (0, 0) is the centre of the top-left pixel.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from capture3d.geometry import lens

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
        object.__setattr__(self, "_lens", lens.Lens.of(self.dist, self.fisheye)
                           if lens.supports(self.dist, self.fisheye) else None)

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
        """Project world points with distortion (``capture3d.geometry.lens``).

        xyz_world: (..., 3) metres. Returns xy_px: (..., 2). Points behind the camera (z <= 0) and
        non-finite inputs give NaN.
        """
        pts = np.asarray(xyz_world, dtype=float)
        shape = pts.shape[:-1]
        flat = pts.reshape(-1, 3)
        out = np.full((flat.shape[0], 2), np.nan)
        xyz_cam = flat @ self.R.T + self.tvec
        with np.errstate(invalid="ignore"):
            ok = xyz_cam[:, 2] > 1e-9  # False for NaN too
        if self._lens is not None and ok.all():  # type: ignore[attr-defined]  # the common case: no indexing
            return self._lens.project_cam(xyz_cam, self.K).reshape(shape + (2,))  # type: ignore[attr-defined]
        ok &= np.isfinite(xyz_cam).all(axis=1)
        if ok.any():
            if self._lens is not None:  # type: ignore[attr-defined]
                out[ok] = self._lens.project_cam(xyz_cam[ok], self.K)  # type: ignore[attr-defined]
            else:  # thin-prism / tilt terms: OpenCV's model, the skew added by the lens module's rule
                img, _ = cv2.projectPoints(flat[ok].reshape(-1, 1, 3), self.rvec, self.tvec, self.K, self.dist)
                out[ok] = lens.add_skew(img.reshape(-1, 2), self.K)
        return out.reshape(shape + (2,))

    def undistort(self, xy_px: np.ndarray) -> np.ndarray:
        """Remove lens distortion: (..., 2) px -> (..., 2) normalized image coordinates (x/z, y/z).

        NaN in, NaN out.
        """
        pts = np.asarray(xy_px, dtype=float)
        shape = pts.shape[:-1]
        flat = pts.reshape(-1, 2)
        if flat.shape[0] == 0:
            return np.zeros(shape + (2,))
        if self._pinhole_only:  # type: ignore[attr-defined]
            und = lens.from_pixels(flat, self.K)
        elif not self.fisheye and flat.shape[0] >= _NEWTON_MIN_POINTS and self.inverse_distortion is not None:
            und = self._undistort_newton(flat)
        else:
            und = self._undistort_opencv(flat)
        out = und.reshape(shape + (2,))
        if self.fisheye or self._pinhole_only:  # type: ignore[attr-defined]  # OpenCV can return half a point
            out[np.isnan(pts).any(axis=-1)] = np.nan
        return out

    def _undistort_opencv(self, xy_px: np.ndarray) -> np.ndarray:
        """(M, 2) px -> (M, 2) normalized by OpenCV's iteration (its model has no skew: taken out first)."""
        src = np.ascontiguousarray(lens.drop_skew(xy_px, self.K).reshape(-1, 1, 2))
        if self.fisheye:
            und = cv2.fisheye.undistortPoints(src, self.K, self.dist[:4], criteria=_UNDISTORT_CRITERIA)
        else:
            und = cv2.undistortPointsIter(src, self.K, self.dist, None, None, _UNDISTORT_CRITERIA)
        return und.reshape(-1, 2)

    @property
    def inverse_distortion(self):
        """The fitted inverse of this lens (``capture3d.geometry.lens.InverseDistortion``), made on first use,
        or None when the lens is left to OpenCV (fisheye, thin prism, folding over inside the image)."""
        try:
            return self._inverse_lens  # type: ignore[attr-defined]
        except AttributeError:
            inv = None if self.fisheye else lens.fit_inverse(self.dist, self.size_wh, self.K)
            object.__setattr__(self, "_inverse_lens", inv)
            return inv

    def _undistort_newton(self, xy_px: np.ndarray) -> np.ndarray:
        """(M, 2) px -> (M, 2) normalized, by the fitted inverse; OpenCV for points outside its disc."""
        xyd = lens.from_pixels(xy_px, self.K)
        xd, yd = xyd[:, 0], xyd[:, 1]
        x, y, inside = self.inverse_distortion(xd, yd)
        out = np.stack([x, y], axis=1)
        finite = np.isfinite(xd) & np.isfinite(yd)
        out[~finite] = np.nan
        outside = np.flatnonzero(~inside & finite)
        if outside.size:
            out[outside] = self._undistort_opencv(xy_px[outside])
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
        coeffs = [None if c.fisheye else lens.lens_coefficients(c.dist) for c in self.cameras]
        batch = None
        if self.cameras and all(k is not None for k in coeffs):  # pinhole lenses: project all at once
            batch = (np.stack(coeffs), np.stack([c.K for c in self.cameras]))
        object.__setattr__(self, "_batch", batch)

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

    def world_camera(self) -> str | None:
        """The name of the camera whose frame is the world (rotation identity, centre at the origin: a
        rig calibrated without a floor), else None. Such a world's Z is that camera's optical axis, not up."""
        for c in self.cameras:
            if np.allclose(c.R, np.eye(3), atol=1e-6) and np.allclose(c.tvec, 0.0, atol=1e-6):
                return c.name
        return None

    def cams_from_world(self) -> np.ndarray:
        """(V, 3, 4) normalized projection matrices [R | t] (read-only)."""
        return self._P  # type: ignore[attr-defined]

    def focal_px(self) -> np.ndarray:
        """(V,) mean focal length per camera, px (read-only)."""
        return self._focal  # type: ignore[attr-defined]

    def project(self, xyz_world: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (V, ..., 2) px in every camera (NaN behind a camera)."""
        return np.stack([c.project(xyz_world) for c in self.cameras])

    def project_all(self, xyz_world: np.ndarray) -> np.ndarray:
        """``project`` of every camera in one batch of array operations (the live multi-person path projects
        a few poses into every view per frame set; the per-camera calls cost more than the arithmetic).
        (..., 3) -> (V, ..., 2) px, NaN behind a camera; the same numbers as ``project`` (to rounding).
        Rigs with a fisheye or thin-prism / tilt lens use ``project``."""
        if self._batch is None:  # type: ignore[attr-defined]
            return self.project(xyz_world)
        k, K = self._batch  # type: ignore[attr-defined]
        pts = np.asarray(xyz_world, dtype=float)
        shape = pts.shape[:-1]
        P = self._P  # type: ignore[attr-defined]
        cam = np.einsum("vij,nj->vni", P[:, :, :3], pts.reshape(-1, 3)) + P[:, None, :, 3]   # (V, N, 3)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(cam[..., 2] > 1e-9, cam[..., 2], np.nan)
            xd, yd = lens.distort_many(cam[..., 0] / z, cam[..., 1] / z, k)
        u = K[:, 0, 0, None] * xd + K[:, 0, 1, None] * yd + K[:, 0, 2, None]
        v = K[:, 1, 1, None] * yd + K[:, 1, 2, None]
        return np.stack([u, v], axis=-1).reshape((len(self),) + shape + (2,))

    def undistort(self, xy_px: np.ndarray) -> np.ndarray:
        """(V, ..., 2) px -> (V, ..., 2) normalized image coordinates."""
        xy = np.asarray(xy_px, float)
        if xy.shape[0] != len(self):
            raise ValueError(f"expected {len(self)} views on axis 0, got shape {xy.shape}")
        out = np.empty(xy.shape)
        for v, cam in enumerate(self.cameras):
            out[v] = cam.undistort(xy[v])
        return out
