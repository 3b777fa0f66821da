"""Lab Streaming Layer (``lsl://NAME``): a ``MoCap`` stream that LabRecorder records in sync with EEG, EMG
or force plates.

One float32 sample per frame set, channels = joints x (X, Y, Z, Confidence) in the keypoint set's order;
metres in capture3d's world frame (Z up), NaN (and confidence 0) where a joint is missing. The stream's
metadata follows the XDF MoCap conventions: ``channels/channel`` with label (``<joint>_X`` ...), marker
(the joint), type (PositionX/Y/Z, Confidence) and unit (meters, normalized); ``acquisition`` (manufacturer,
model, keypoint set) and ``setup`` (coordinate frame). Nominal rate: the capture rate. Timestamps: each frame
set's capture (exposure) time mapped from the host's monotonic clock to the LSL clock, not the send time.

Several people (``[tracking] people = "all"``). An LSL outlet's channel count is fixed when it is created.
``lsl://NAME`` (people=1) sends the frame's single pose (the person picked in the viewer, else the lowest id
in view) in the layout above. ``lsl://NAME?people=N`` sends N blocks of 1 + 4 J channels: the person id
(label ``p<k>_id``, type PersonId, unit none), then J x (X, Y, Z, Confidence) labelled ``p<k>_<joint>_X`` ...
(marker ``p<k>_<joint>``), k = 1..N. Each person keeps its block while tracked (stable slots, as the VMC
ports: ``capture3d.stream.slots``); a block with nobody (or whose person is out of view) has id 0, NaN
positions and confidence 0. In single-subject mode the subject fills block 1 with id 0 (no person id).
"""
from __future__ import annotations

import logging

import numpy as np

from capture3d.body.keypoint_sets import KeypointSet
from capture3d.errors import StreamError
from capture3d.stream.base import StreamFrame, StreamTarget, monotonic_to, need
from capture3d.stream.slots import StreamSlots

log = logging.getLogger(__name__)

AXES = (("X", "PositionX", "meters"), ("Y", "PositionY", "meters"), ("Z", "PositionZ", "meters"),
        ("Confidence", "Confidence", "normalized"))


def channel_layout(keypoint_set: KeypointSet, people: int = 1) -> list[tuple[str, str, str, str]]:
    """(label, marker, type, unit) per channel: joints x AXES for people=1, else per block k = 1..people the
    person id then the joints x AXES, prefixed ``p<k>_``."""
    joints = [(f"{j}_{suffix}", j, kind, unit) for j in keypoint_set.names for suffix, kind, unit in AXES]
    if people == 1:
        return joints
    out = []
    for k in range(1, people + 1):
        out.append((f"p{k}_id", f"p{k}", "PersonId", "none"))
        out += [(f"p{k}_{label}", f"p{k}_{marker}", kind, unit) for label, marker, kind, unit in joints]
    return out


def people_sample(out: np.ndarray, rows: np.ndarray, ids: np.ndarray, xyz: np.ndarray, confidence: np.ndarray
                  ) -> np.ndarray:
    """Fill one multi-person sample in place and return it.

    out: (N, 1 + 4 J) float32, a block per slot. rows: (N,) int, the person (row of ids/xyz) of each slot,
    -1 for nobody. ids: (K,) int. xyz: (K, J, 3) metres. confidence: (K, J). A joint that is not finite, and
    every joint of an empty slot, is NaN with confidence 0; an empty slot's id is 0."""
    N = len(rows)
    blocks = out.reshape(N, -1)  # a view: out is C-contiguous
    J = (blocks.shape[1] - 1) // 4
    here = rows >= 0
    r = rows[here]
    joints = np.full((N, J, 4), np.nan, dtype=np.float32)
    joints[..., 3] = 0.0
    seen = np.isfinite(xyz[r]).all(axis=-1)
    joints[here, :, :3] = np.where(seen[..., None], xyz[r], np.nan)
    joints[here, :, 3] = np.where(seen, np.nan_to_num(confidence[r]), 0.0)
    blocks[:, 0] = 0.0
    blocks[here, 0] = ids[r]
    blocks[:, 1:] = joints.reshape(N, 4 * J)
    return out


def describe(info, keypoint_set: KeypointSet, people: int = 1) -> None:
    """Fill an LSL StreamInfo's description with the MoCap meta-data (``channel_layout``)."""
    desc = info.desc()
    channels = desc.append_child("channels")
    for label, marker, kind, unit in channel_layout(keypoint_set, people):
        ch = channels.append_child("channel")
        ch.append_child_value("label", label)
        ch.append_child_value("marker", marker)
        ch.append_child_value("type", kind)
        ch.append_child_value("unit", unit)
    acq = desc.append_child("acquisition")
    acq.append_child_value("manufacturer", "capture3d")
    acq.append_child_value("model", "markerless multi-camera 3D keypoints")
    settings = acq.append_child("settings")
    settings.append_child_value("keypoint_set", keypoint_set.name)
    settings.append_child_value("people", str(people))
    acq.append_child_value("compensated_lag", "0")
    setup = desc.append_child("setup")
    setup.append_child_value("name", "capture3d rig")
    setup.append_child_value("coordinate_system", "right-handed, Z up, metres, origin on the floor (rig calibration)")


class LSLSink:
    """A pylsl StreamOutlet named target.name (type MoCap, source_id ``capture3d-<name>``), with
    ``target.people`` person blocks when above 1 (see the module docstring).

    max_buffered_s: seconds of samples LSL keeps for a slow inlet (bounded memory; older ones are dropped).
    """

    def __init__(self, target: StreamTarget, keypoint_set: KeypointSet, fps: float, max_buffered_s: int = 2) -> None:
        self.label = target.url
        self.name = target.name
        self.keypoint_set = keypoint_set
        self.fps = float(fps)
        self.max_buffered_s = int(max_buffered_s)
        self.people = target.people
        self.slots = StreamSlots(self.people) if self.people > 1 else None
        self.n_channels = 4 * keypoint_set.n_joints if self.people == 1 else self.people * (1 + 4 * keypoint_set.n_joints)
        self._outlet = None
        self.clock_offset_s = 0.0  # LSL clock - host monotonic clock
        self._sample = np.zeros((1, self.n_channels), dtype=np.float32)  # one sample, C-contiguous

    def open(self) -> None:
        pylsl = need("pylsl", f"LSL stream {self.label}")
        try:
            info = pylsl.StreamInfo(self.name, "MoCap", self.n_channels, self.fps, pylsl.cf_float32,
                                    f"capture3d-{self.name}")
            describe(info, self.keypoint_set, self.people)
            self._outlet = pylsl.StreamOutlet(info, 1, self.max_buffered_s)
        except (RuntimeError, ValueError) as exc:  # liblsl errors come as RuntimeError
            raise StreamError(f"LSL stream {self.label}: cannot create the outlet ({exc})") from None
        self.clock_offset_s = monotonic_to(pylsl.local_clock)
        log.info("LSL outlet %r: %d channels (%d person block%s) at %g Hz (clock offset %.6f s)", self.name,
                 self.n_channels, self.people, "" if self.people == 1 else "s", self.fps, self.clock_offset_s)

    def lsl_time(self, time_s: float) -> float:
        """A host monotonic time (a frame set's capture time) on the LSL clock."""
        return time_s + self.clock_offset_s

    def fill(self, frame: StreamFrame) -> np.ndarray:
        """The frame's sample, (1, n_channels) float32 (the sink's own buffer, overwritten by the next)."""
        if self.slots is None:
            s = self._sample.reshape(-1, 4)
            s[:, :3] = frame.xyz_world
            s[:, 3] = np.where(np.isfinite(frame.xyz_world).all(axis=1), np.nan_to_num(frame.confidence), 0.0)
            return self._sample
        if frame.people_ids is None:  # single-subject mode: the subject in block 1, id 0
            ids, xyz, conf = np.zeros(1), frame.xyz_world[None], np.asarray(frame.confidence)[None]
            rows = np.full(self.people, -1)
            rows[0] = 0
        else:
            ids, xyz, conf = frame.people_ids, frame.people_xyz, frame.people_confidence
            rows = self.slots.assign(ids, frame.time_s, frame.person_id)
        return people_sample(self._sample, rows, np.asarray(ids), np.asarray(xyz), np.asarray(conf))

    def send(self, frame: StreamFrame) -> None:
        self.fill(frame)
        # a chunk of one sample: pylsl hands the float32 buffer to liblsl as it is (push_sample would build a
        # ctypes array value by value), and the time stamp of a chunk's last sample is this sample's
        self._outlet.push_chunk(self._sample, self.lsl_time(frame.time_s))

    def close(self) -> None:
        self._outlet = None  # pylsl destroys the outlet with the object
