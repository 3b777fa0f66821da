"""The live constant-velocity Kalman filter per joint coordinate (see ConstantVelocityKalman)."""
from __future__ import annotations

import numpy as np

from capture3d.errors import ConfigError


class ConstantVelocityKalman:
    """Causal constant-velocity Kalman filter per joint coordinate, vectorized over joints, with outlier
    gating by the innovation. No lag on steady motion (the state carries the velocity).

    Model per coordinate: state (position, velocity), white acceleration noise of spectral density
    ``process_noise`` (m^2/s^3; higher follows accelerations faster, smooths less), measurement noise
    ``measurement_noise_m`` (standard deviation, metres). Samples are (J, 3) metres.

    Gating: a joint whose normalized innovation (sum over x, y, z of innovation^2 / its variance) exceeds
    ``gate_sigmas``^2 and that lies more than ``gate_min_m`` from its prediction is an outlier: the output is
    the prediction and the state is not updated; after ``max_rejects`` consecutive rejections the joint
    restarts from its measurement (it really moved). A joint missing for longer than ``reset_after_s``
    restarts from its next measurement. A missing (NaN) input gives a NaN output and leaves the state alone.

    When a joint comes back from rejections (accepted again, or restarted), its state moves at once but
    the output glides to it at ``catchup_mps`` (0: jumps): the filter itself output predictions for a
    while, and teleporting the output by the accumulated difference (often 0.2-0.4 m in one frame at a
    restart) is a motion no body makes.
    """

    def __init__(self, process_noise: float = 0.3, measurement_noise_m: float = 0.01, gate_sigmas: float = 4.0,
                 gate_min_m: float = 0.03, max_rejects: int = 6, reset_after_s: float = 0.25,
                 initial_speed_mps: float = 1.0, catchup_mps: float = 0.0):
        if not (process_noise > 0 and measurement_noise_m > 0 and gate_sigmas > 0 and gate_min_m >= 0
                and max_rejects >= 0 and reset_after_s > 0):
            raise ConfigError("Kalman filter needs process_noise > 0, measurement_noise_m > 0, gate_sigmas > 0, "
                              f"gate_min_m >= 0, max_rejects >= 0, reset_after_s > 0; found {process_noise}, "
                              f"{measurement_noise_m}, {gate_sigmas}, {gate_min_m}, {max_rejects}, {reset_after_s}")
        self.q = float(process_noise)
        self.r2 = float(measurement_noise_m) ** 2
        self.gate2 = float(gate_sigmas) ** 2
        self.gate_min_m = float(gate_min_m)
        self.max_rejects = int(max_rejects)
        self.reset_after_s = float(reset_after_s)
        self.v0_var = float(initial_speed_mps) ** 2
        self.catchup_mps = float(catchup_mps)
        self.reset()

    def reset(self) -> None:
        """Forget all state."""
        self._out = None      # (J, 3) last output, NaN where none
        self._out_t = None    # (J,) time of the last output
        self._gliding = None  # (J,) bool: the output is catching up with the state after a restart
        self._x = None   # (J, 3) position at the time of the joint's last update
        self._v = None   # (J, 3) velocity m/s
        self._p00 = self._p01 = self._p11 = None  # (J, 3) covariance entries
        self._t = None   # (J,) time of the last update (-inf: never)
        self._rejects = None  # (J,) consecutive gated measurements

    def __call__(self, xyz: np.ndarray, t_s: float) -> np.ndarray:
        """Filter one pose xyz (J, 3) at t_s seconds; returns the estimate (J, 3) (NaN where xyz is NaN)."""
        z = np.asarray(xyz, dtype=float)
        valid = np.isfinite(z).all(axis=-1)                      # (J,)
        if self._x is None or self._x.shape != z.shape:
            J = z.shape[0]
            self._x = np.zeros_like(z)
            self._v = np.zeros_like(z)
            self._p00 = np.zeros_like(z)
            self._p01 = np.zeros_like(z)
            self._p11 = np.zeros_like(z)
            self._t = np.full(J, -np.inf)
            self._rejects = np.zeros(J, np.int64)
            self._out = np.full_like(z, np.nan)
            self._out_t = np.full(J, -np.inf)
            self._gliding = np.zeros(J, bool)
        dt1 = t_s - self._t
        fresh = valid & ~(dt1 <= self.reset_after_s)             # never seen, or missing for too long
        dt = np.where(np.isfinite(dt1), dt1, 0.0)[:, None]       # (J, 1) per joint since its last update
        q = self.q
        # predict (x, v, P) from each joint's last update to t_s
        xp = self._x + self._v * dt
        p11 = self._p11 + q * dt
        p01 = self._p01 + dt * self._p11 + 0.5 * q * dt * dt
        p00 = self._p00 + dt * (2.0 * self._p01 + dt * self._p11) + q * dt * dt * dt / 3.0
        s = p00 + self.r2
        y = np.where(valid[:, None], z, xp) - xp                 # innovation, 0 where missing
        d2 = (y * y / s).sum(axis=-1)
        dist2 = (y * y).sum(axis=-1)
        gated = valid & ~fresh & (d2 > self.gate2) & (dist2 > self.gate_min_m ** 2)
        restart = gated & (self._rejects >= self.max_rejects)
        gated &= ~restart
        fresh |= restart
        upd = (valid & ~gated & ~fresh)[:, None]
        k0, k1 = p00 / s, p01 / s
        new_x = np.where(upd, xp + k0 * y, self._x)
        new_v = np.where(upd, self._v + k1 * y, self._v)
        new_p00 = np.where(upd, (1.0 - k0) * p00, self._p00)
        new_p01 = np.where(upd, (1.0 - k0) * p01, self._p01)
        new_p11 = np.where(upd, p11 - k1 * p01, self._p11)
        f3 = fresh[:, None]
        self._x = np.where(f3, np.where(valid[:, None], z, 0.0), new_x)
        self._v = np.where(f3, 0.0, new_v)
        self._p00 = np.where(f3, self.r2, new_p00)
        self._p01 = np.where(f3, 0.0, new_p01)
        self._p11 = np.where(f3, self.v0_var, new_p11)
        self._t = np.where(fresh | upd[:, 0], t_s, self._t)
        was_gated = self._rejects > 0
        self._rejects = np.where(gated, self._rejects + 1, 0)
        out = np.where(gated[:, None], xp, self._x)
        if self.catchup_mps > 0:  # back from the prediction to the measurements: glide, do not jump
            out = self._glide(out, valid, was_gated & ~gated & ~(dt1 > self.reset_after_s), t_s)
        return np.where(valid[:, None], out, np.nan)

    def _glide(self, target: np.ndarray, valid: np.ndarray, restarted: np.ndarray, t_s: float) -> np.ndarray:
        """(J, 3) output: ``target``, except that joints catching up after a restart move towards it by
        at most catchup_mps since their last output."""
        self._gliding = (self._gliding | restarted) & valid & np.isfinite(self._out).all(-1)
        step = self.catchup_mps * np.maximum(t_s - self._out_t, 0.0)           # (J,) metres allowed
        d = target - np.where(np.isfinite(self._out), self._out, target)
        n = np.linalg.norm(d, axis=-1)
        far = self._gliding & (n > step)
        out = target.copy()
        out[far] = self._out[far] + d[far] * (step[far] / n[far])[:, None]
        self._gliding = far
        self._out = np.where(valid[:, None], out, self._out)
        self._out_t = np.where(valid, t_s, self._out_t)
        return out
