"""Lab Streaming Layer (``lsl://NAME``): a ``MoCap`` stream that LabRecorder records in sync with EEG, EMG
or force plates.

One float32 sample per frame set, channels = joints x (X, Y, Z, Confidence) in the keypoint set's order;
metres in capture3d's world frame (Z up), NaN (and confidence 0) where a joint is missing. The stream's
metadata follows the XDF MoCap conventions: ``channels/channel`` with label (``<joint>_X`` ...), marker
(the joint), type (PositionX/Y/Z, Confidence) and unit (meters, normalized); ``acquisition`` (manufacturer,
model, keypoint set) and ``setup`` (coordinate frame). Nominal rate: the capture rate. Timestamps: each frame
set's capture (exposure) time mapped from the host's monotonic clock to the LSL clock, not the send time.
"""
from __future__ import annotations

import logging

import numpy as np

from capture3d.body.keypoint_sets import KeypointSet
from capture3d.errors import StreamError
from capture3d.stream.base import StreamFrame, StreamTarget, monotonic_to, need

log = logging.getLogger(__name__)

AXES = (("X", "PositionX", "meters"), ("Y", "PositionY", "meters"), ("Z", "PositionZ", "meters"),
        ("Confidence", "Confidence", "normalized"))


def describe(info, keypoint_set: KeypointSet) -> None:
    """Fill an LSL StreamInfo's description with the MoCap meta-data."""
    desc = info.desc()
    channels = desc.append_child("channels")
    for joint in keypoint_set.names:
        for suffix, kind, unit in AXES:
            ch = channels.append_child("channel")
            ch.append_child_value("label", f"{joint}_{suffix}")
            ch.append_child_value("marker", joint)
            ch.append_child_value("type", kind)
            ch.append_child_value("unit", unit)
    acq = desc.append_child("acquisition")
    acq.append_child_value("manufacturer", "capture3d")
    acq.append_child_value("model", "markerless multi-camera 3D keypoints")
    acq.append_child("settings").append_child_value("keypoint_set", keypoint_set.name)
    acq.append_child_value("compensated_lag", "0")
    setup = desc.append_child("setup")
    setup.append_child_value("name", "capture3d rig")
    setup.append_child_value("coordinate_system", "right-handed, Z up, metres, origin on the floor (rig calibration)")


class LSLSink:
    """A pylsl StreamOutlet named target.name (type MoCap, source_id ``capture3d-<name>``).

    max_buffered_s: seconds of samples LSL keeps for a slow inlet (bounded memory; older ones are dropped).
    """

    def __init__(self, target: StreamTarget, keypoint_set: KeypointSet, fps: float, max_buffered_s: int = 2) -> None:
        self.label = target.url
        self.name = target.name
        self.keypoint_set = keypoint_set
        self.fps = float(fps)
        self.max_buffered_s = int(max_buffered_s)
        self._outlet = None
        self.clock_offset_s = 0.0  # LSL clock - host monotonic clock
        self._sample = np.zeros((1, 4 * keypoint_set.n_joints), dtype=np.float32)  # one sample, C-contiguous

    def open(self) -> None:
        pylsl = need("pylsl", f"LSL stream {self.label}")
        try:
            info = pylsl.StreamInfo(self.name, "MoCap", 4 * self.keypoint_set.n_joints, self.fps,
                                    pylsl.cf_float32, f"capture3d-{self.name}")
            describe(info, self.keypoint_set)
            self._outlet = pylsl.StreamOutlet(info, 1, self.max_buffered_s)
        except (RuntimeError, ValueError) as exc:  # liblsl errors come as RuntimeError
            raise StreamError(f"LSL stream {self.label}: cannot create the outlet ({exc})") from None
        self.clock_offset_s = monotonic_to(pylsl.local_clock)
        log.info("LSL outlet %r: %d channels at %g Hz (clock offset %.6f s)", self.name,
                 4 * self.keypoint_set.n_joints, self.fps, self.clock_offset_s)

    def lsl_time(self, time_s: float) -> float:
        """A host monotonic time (a frame set's capture time) on the LSL clock."""
        return time_s + self.clock_offset_s

    def send(self, frame: StreamFrame) -> None:
        s = self._sample.reshape(-1, 4)
        s[:, :3] = frame.xyz_world
        s[:, 3] = np.where(np.isfinite(frame.xyz_world).all(axis=1), np.nan_to_num(frame.confidence), 0.0)
        # a chunk of one sample: pylsl hands the float32 buffer to liblsl as it is (push_sample would build a
        # ctypes array value by value), and the time stamp of a chunk's last sample is this sample's
        self._outlet.push_chunk(self._sample, self.lsl_time(frame.time_s))

    def close(self) -> None:
        self._outlet = None  # pylsl destroys the outlet with the object
