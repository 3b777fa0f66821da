"""A plausible synthetic human motion with exact ground truth.

The subject walks a figure-eight (or a straight line) through the capture volume: gait-driven legs and
feet, counter-rotating pelvis and shoulders, arm swing with periodic arm raises, head turns, and
optionally finger curls (HAND_21) and a face with a moving mouth (FACE_70). Every bone is a fixed-length
segment, so bone lengths are exactly constant over time. World frame: metres, Z up.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capture3d.body.keypoint_sets import BODY_25, WHOLEBODY_135, KeypointSet, compose_wholebody

# Segment lengths of a 1.75 m adult, metres.
_LEN = {"thigh": 0.44, "shank": 0.42, "hip_half": 0.10, "spine": 0.50, "shoulder_half": 0.18,
        "upper_arm": 0.29, "forearm": 0.25, "neck_nose": 0.21, "nose_eye": 0.04, "eye_ear": 0.09}
_STRIDE_M = 1.25  # distance of one full gait cycle
_Z = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class Motion:
    """Ground-truth 3D motion.

    xyz_world: (T, J, 3) metres, world frame (Z up). fps: frames per second.
    keypoint_set: BODY_25, or WHOLEBODY_135 when made with hands and face.
    """

    xyz_world: np.ndarray
    fps: float
    keypoint_set: KeypointSet

    @property
    def n_frames(self) -> int:
        return self.xyz_world.shape[0]

    @property
    def times_s(self) -> np.ndarray:
        """(T,) seconds from the first frame."""
        return np.arange(self.n_frames) / self.fps


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _rot_z(f: np.ndarray, l: np.ndarray, ang: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotate the horizontal frame (forward f, left l), (T, 3) each, by ang (T,) rad about Z."""
    c, s = np.cos(ang)[:, None], np.sin(ang)[:, None]
    return f * c + l * s, l * c - f * s


def _path(times_s: np.ndarray, path: str, center_xy, scale: float, start_xy, end_xy, speed_mps: float):
    """Pelvis ground track (T, 2) and its velocity (T, 2)."""
    t = times_s
    if path == "figure8":
        w = 2 * np.pi / 16.0
        a, b = 1.3 * scale, 0.7 * scale
        pos = np.stack([a * np.sin(w * t), b * np.sin(2 * w * t)], axis=1) + np.asarray(center_xy, float)
        vel = np.stack([a * w * np.cos(w * t), 2 * b * w * np.cos(2 * w * t)], axis=1)
        return pos, vel
    if path == "line":
        s, e = np.asarray(start_xy, float), np.asarray(end_xy, float)
        d = (e - s) / np.linalg.norm(e - s)
        pos = s + d * (speed_mps * t)[:, None]
        return pos, np.broadcast_to(d * speed_mps, pos.shape).copy()
    raise ValueError(f"unknown path {path!r}; paths: figure8, line")


def walking_motion(n_frames: int = 300, fps: float = 30.0, *, whole_body: bool = False, path: str = "figure8",
                   center_xy=(0.0, 0.0), path_scale: float = 1.0, start_xy=(-3.0, -1.0), end_xy=(3.0, 1.0),
                   speed_mps: float = 1.2, body_scale: float = 1.0, time_offset_s: float = 0.0) -> Motion:
    """Generate a walking motion.

    path "figure8": a figure-eight of about 2.6 x 1.4 m (times path_scale) around center_xy, turning
    continuously. path "line": a straight walk from start_xy towards end_xy at speed_mps (bystanders).
    body_scale scales every segment (1.0 = 1.75 m tall). Returns Motion with (T, 25, 3) or, with
    whole_body, (T, 135, 3) keypoints.
    """
    t = np.arange(n_frames) / fps + time_offset_s
    pos, vel = _path(t, path, center_xy, path_scale, start_xy, end_xy, speed_mps)
    L = {k: v * body_scale for k, v in _LEN.items()}
    f = _unit(np.concatenate([vel, np.zeros((n_frames, 1))], axis=1))
    l = np.cross(_Z, f)
    step = np.linalg.norm(vel, axis=1) / fps
    phi = 2 * np.pi * np.cumsum(step) / (_STRIDE_M * body_scale)

    J = {}
    J["MidHip"] = np.concatenate([pos, (0.93 * body_scale + 0.02 * np.cos(2 * phi))[:, None]], axis=1)
    fp, lp = _rot_z(f, l, 0.1 * np.sin(phi))
    for side, sgn, ph in (("R", -1.0, phi), ("L", 1.0, phi + np.pi)):
        hip = J["MidHip"] + sgn * L["hip_half"] * lp
        swing = 0.4 * np.sin(ph)
        knee_flex = 0.1 + 0.6 * np.maximum(0.0, np.cos(ph)) ** 2
        knee = hip + L["thigh"] * (-_Z * np.cos(swing)[:, None] + f * np.sin(swing)[:, None])
        shank = swing - knee_flex
        ankle = knee + L["shank"] * (-_Z * np.cos(shank)[:, None] + f * np.sin(shank)[:, None])
        J[f"{side}Hip"], J[f"{side}Knee"], J[f"{side}Ankle"] = hip, knee, ankle
        drop = -0.07 * body_scale * _Z
        J[f"{side}Heel"] = ankle - 0.05 * body_scale * f + drop
        J[f"{side}BigToe"] = ankle + 0.16 * body_scale * f - sgn * 0.02 * body_scale * l + drop
        J[f"{side}SmallToe"] = ankle + 0.13 * body_scale * f + sgn * 0.04 * body_scale * l + drop

    up = _unit(_Z * np.cos(0.08) + f * np.sin(0.08))
    J["Neck"] = J["MidHip"] + L["spine"] * up
    fs, ls = _rot_z(f, l, -0.12 * np.sin(phi))
    raise_ = 0.12 + 1.2 * np.maximum(0.0, np.sin(2 * np.pi * t / 9.0)) ** 2
    arm = {}
    for side, sgn, swing in (("R", -1.0, -0.35 * np.sin(phi)), ("L", 1.0, 0.35 * np.sin(phi))):
        sh = J["Neck"] + sgn * L["shoulder_half"] * ls
        cb, sb = np.cos(raise_)[:, None], np.sin(raise_)[:, None]
        d = -_Z * (np.cos(swing)[:, None] * cb) + fs * (np.sin(swing)[:, None] * cb) + sgn * ls * sb
        elbow = sh + L["upper_arm"] * d
        flex = (0.35 + 0.25 * (1 + sgn * np.sin(phi)) / 2)[:, None]
        n = _unit(fs - np.sum(fs * d, axis=1, keepdims=True) * d)
        fa = d * np.cos(flex) + n * np.sin(flex)
        J[f"{side}Shoulder"], J[f"{side}Elbow"] = sh, elbow
        J[f"{side}Wrist"] = elbow + L["forearm"] * fa
        arm[side] = (d, fa, sgn)

    fh, lh = _rot_z(f, l, 0.35 * np.sin(2 * np.pi * t / 5.0))
    J["Nose"] = J["Neck"] + L["neck_nose"] * _unit(0.85 * _Z + 0.5 * fh)
    for side, sgn in (("R", -1.0), ("L", 1.0)):
        J[f"{side}Eye"] = J["Nose"] + L["nose_eye"] * _unit(0.6 * _Z + sgn * 0.6 * lh - 0.4 * fh)
        J[f"{side}Ear"] = J[f"{side}Eye"] + L["eye_ear"] * _unit(-0.8 * fh + sgn * 0.55 * lh)

    body = np.stack([J[n] for n in BODY_25.names], axis=1)
    if not whole_body:
        return Motion(body, fps, BODY_25)
    hands = {s: _hand(J[f"{s}Wrist"], *arm[s], t, body_scale) for s in ("L", "R")}
    face = _face(J["Nose"], fh, lh, t, body_scale)
    return Motion(compose_wholebody(body, hands["L"], hands["R"], face), fps, WHOLEBODY_135)


# Hand layout in the hand frame (a: distal, t: thumb side, p: palm normal), metres.
_FINGER_BASE = np.array([[0.03, 0.025], [0.09, 0.022], [0.09, 0.003], [0.085, -0.015], [0.078, -0.031]])
_PHALANX = np.array([[0.035, 0.030, 0.025], [0.045, 0.025, 0.022], [0.050, 0.030, 0.023],
                     [0.047, 0.028, 0.022], [0.036, 0.020, 0.019]])


def _hand(wrist, upper_dir, fore_dir, sgn, t, scale) -> np.ndarray:
    """(T, 21, 3) HAND_21 keypoints with curling fingers."""
    a = fore_dir
    tt = _unit(np.cross(upper_dir, fore_dir)) * (-sgn)
    p = np.cross(a, tt)
    curl = (0.15 + 0.45 * (0.5 + 0.5 * np.sin(2 * np.pi * t / 3.0)))[:, None]
    pts = [wrist]
    for k in range(5):
        base = wrist + scale * (_FINGER_BASE[k, 0] * a + _FINGER_BASE[k, 1] * tt)
        d0 = _unit(a + 0.8 * tt) if k == 0 else a
        pts.append(base)
        cur = base
        for j in range(3):
            ang = curl * (j + 1)
            cur = cur + scale * _PHALANX[k, j] * (d0 * np.cos(ang) - p * np.sin(ang))
            pts.append(cur)
    return np.stack(pts, axis=1)


def _face_template() -> np.ndarray:
    """(70, 3) face points in (u: subject's left, v: up, w: forward) metres, nose tip near the origin."""
    pts = np.zeros((70, 3))
    th = np.linspace(np.pi, 2 * np.pi, 17)
    pts[0:17] = np.stack([0.07 * np.cos(th), 0.02 + 0.11 * np.sin(th), -0.06 * np.cos(th) ** 2 - 0.02], axis=1)
    for a, u0 in ((17, -0.055), (22, 0.015)):
        u = np.linspace(u0, u0 + 0.04, 5)
        pts[a:a + 5] = np.stack([u, 0.045 + 0.006 * np.sin(np.linspace(0, np.pi, 5)), np.full(5, 0.0)], axis=1)
    pts[27:31] = np.stack([np.zeros(4), np.linspace(0.03, -0.005, 4), np.linspace(0.005, 0.025, 4)], axis=1)
    pts[31:36] = np.stack([np.linspace(-0.015, 0.015, 5), np.full(5, -0.015),
                           0.01 + 0.005 * np.sin(np.linspace(0, np.pi, 5))], axis=1)
    eye_th = np.array([np.pi, 2 * np.pi / 3, np.pi / 3, 0.0, -np.pi / 3, -2 * np.pi / 3])
    for a, cu in ((36, -0.032), (42, 0.032)):
        pts[a:a + 6] = np.stack([cu + 0.013 * np.cos(eye_th), 0.025 + 0.005 * np.sin(eye_th), np.zeros(6)], axis=1)
    lip_th = np.pi - np.arange(12) * (2 * np.pi / 12)
    pts[48:60] = np.stack([0.025 * np.cos(lip_th), -0.045 + 0.012 * np.sin(lip_th), np.full(12, 0.005)], axis=1)
    pts[68] = [-0.032, 0.025, 0.003]
    pts[69] = [0.032, 0.025, 0.003]
    return pts


_FACE = _face_template()
_INNER_LIP_TH = np.pi - np.arange(8) * (2 * np.pi / 8)


def _face(nose, fh, lh, t, scale) -> np.ndarray:
    """(T, 70, 3) FACE_70 keypoints on the head, with the mouth opening and closing."""
    T = t.shape[0]
    uvw = np.broadcast_to(_FACE, (T, 70, 3)).copy()
    opening = 0.002 + 0.006 * (0.5 + 0.5 * np.sin(2 * np.pi * t / 2.0))
    uvw[:, 60:68, 0] = 0.018 * np.cos(_INNER_LIP_TH)
    uvw[:, 60:68, 1] = -0.045 + opening[:, None] * np.sin(_INNER_LIP_TH)
    uvw[:, 60:68, 2] = 0.004
    origin = nose - 0.025 * scale * fh + 0.005 * scale * _Z
    uvw *= scale
    return (origin[:, None] + uvw[..., 0:1] * lh[:, None] + uvw[..., 1:2] * _Z + uvw[..., 2:3] * fh[:, None])
