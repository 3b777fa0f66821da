"""Plain OSC (``osc://HOST:PORT``) for TouchDesigner, Max, Pure Data: one UDP datagram per frame set, an
OSC bundle of

- ``/capture3d/frame`` index (int32), t (float32, seconds since the stream's first frame), capture time
  (float64, seconds on the capturing host's monotonic clock);
- per joint ``/capture3d/<joint>`` x y z confidence (float32; metres, capture3d's world frame: Z up, the
  rig's floor origin). A missing joint is sent as 0 0 0 with confidence 0.
"""
from __future__ import annotations

import numpy as np

from capture3d.body.keypoint_sets import KeypointSet
from capture3d.stream.base import StreamFrame, StreamTarget
from capture3d.stream.osc_wire import BundleTemplate, UDPSender

PREFIX = "/capture3d"


class OSCSink:
    """One bundle per frame to target.host:target.port (see the module docstring)."""

    def __init__(self, target: StreamTarget, keypoint_set: KeypointSet, fps: float) -> None:
        self.label = target.url
        self.keypoint_set = keypoint_set
        messages = [(f"{PREFIX}/frame", "ifd", (0, 0.0, 0.0))]
        messages += [(f"{PREFIX}/{name}", "ffff", (0.0, 0.0, 0.0, 0.0)) for name in keypoint_set.names]
        self._tmpl = BundleTemplate(messages)
        self._index_word, self._t_word, self._time_at = self._tmpl.slots[0]
        self._joint_words = np.array(self._tmpl.slots[1:], dtype=np.int64)  # (J, 4)
        self._udp = UDPSender(target.host, target.port, f"OSC stream {target.url}")
        self._t0: float | None = None

    def open(self) -> None:
        self._udp.open()

    def encode(self, frame: StreamFrame) -> bytes:
        """The frame's OSC bundle."""
        if self._t0 is None:
            self._t0 = frame.time_s
        xyz = np.asarray(frame.xyz_world, dtype=np.float32)
        conf = np.asarray(frame.confidence, dtype=np.float32)
        seen = np.isfinite(xyz).all(axis=1)
        values = np.zeros((len(xyz), 4), dtype=np.float32)
        values[seen, :3] = xyz[seen]
        values[seen, 3] = np.nan_to_num(conf[seen])
        t = self._tmpl
        t.floats[self._joint_words] = values
        t.ints[self._index_word] = frame.index
        t.set_double(self._time_at, frame.time_s)
        t.floats[self._t_word] = frame.time_s - self._t0
        return t.packet()

    def send(self, frame: StreamFrame) -> None:
        self._udp.send(self.encode(frame))

    def close(self) -> None:
        self._udp.close()
