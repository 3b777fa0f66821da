"""VMC protocol (``vmc://HOST:PORT``, default port 39539): OSC over UDP as Virtual Motion Capture defines it,
for VSeeFace, Warudo, VNyan, VMC4B (Blender) and VMC4UE (Unreal). One bundle per frame set:

- ``/VMC/Ext/Root/Pos`` "root" p.x p.y p.z q.x q.y q.z q.w: the avatar root, at the rig's origin, unrotated;
- ``/VMC/Ext/Bone/Pos`` name p.x p.y p.z q.x q.y q.z q.w per Unity humanoid bone (Hips, Spine, Chest, Neck,
  Head, Left/Right UpperLeg, LowerLeg, Foot, Toes, Shoulder, UpperArm, LowerArm, Hand, and the finger bones
  when hands are tracked): local rotation (from ``capture3d.stream.humanoid``: the BVH export's solver) and
  local position (Hips: the subject's hip centre in the room; the others: the subject's rest offsets), metres,
  Unity's left-handed Y-up frame;
- ``/VMC/Ext/OK`` loaded calibration-state calibration-mode tracking-status (1 3 0 1 while a pose is sent);
- ``/VMC/Ext/T`` seconds since the stream's first frame.

Until the subject's bone lengths are measured (the first ``rest_frames`` frames with a pose) and while the hip
centre is not seen, only ``/VMC/Ext/OK 1 0 0 0`` and ``/VMC/Ext/T`` are sent.
"""
from __future__ import annotations

import numpy as np

from capture3d.body.keypoint_sets import KeypointSet
from capture3d.stream.base import StreamFrame, StreamTarget
from capture3d.stream.humanoid import HumanoidSolver
from capture3d.stream.osc_wire import BundleTemplate, UDPSender

_POSE = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)


class VMCSink:
    """One VMC bundle per frame to target.host:target.port (see the module docstring)."""

    def __init__(self, target: StreamTarget, keypoint_set: KeypointSet, fps: float, rest_frames: int = 10) -> None:
        self.label = target.url
        self.solver = HumanoidSolver(keypoint_set, rest_frames=rest_frames)
        self._udp = UDPSender(target.host, target.port, f"VMC stream {target.url}")
        self._waiting = BundleTemplate([("/VMC/Ext/OK", "iiii", (1, 0, 0, 0)), ("/VMC/Ext/T", "f", (0.0,))])
        self._tmpl: BundleTemplate | None = None
        self.t0_s: float | None = None  # capture time of the first frame (/VMC/Ext/T counts from it)

    @property
    def bones(self) -> list[str]:
        return self.solver.bones

    def open(self) -> None:
        self._udp.open()

    def _build(self) -> None:
        msgs = [("/VMC/Ext/Root/Pos", "sfffffff", ("root",) + _POSE)]
        msgs += [("/VMC/Ext/Bone/Pos", "sfffffff", (b,) + _POSE) for b in self.solver.bones]
        msgs += [("/VMC/Ext/OK", "iiii", (1, 3, 0, 1)), ("/VMC/Ext/T", "f", (0.0,))]
        self._tmpl = BundleTemplate(msgs)
        self._bone_words = np.array(self._tmpl.slots[1:-2], dtype=np.int64)  # (B, 7)
        self._t_word = self._tmpl.slots[-1][0]
        self._values = np.zeros((len(self.solver.bones), 7), dtype=np.float32)
        self._values[:, :3] = self.solver.rest_positions

    def encode(self, frame: StreamFrame) -> bytes:
        """The frame's VMC bundle."""
        if self.t0_s is None:
            self.t0_s = frame.time_s
        t = frame.time_s - self.t0_s
        solved = self.solver.update(frame.xyz_world)
        if solved is None:
            self._waiting.floats[self._waiting.slots[1][0]] = t
            return self._waiting.packet()
        if self._tmpl is None:
            self._build()
        hips, quats = solved
        v = self._values
        v[0, :3] = hips
        v[:, 3:] = quats
        self._tmpl.floats[self._bone_words] = v
        self._tmpl.floats[self._t_word] = t
        return self._tmpl.packet()

    def send(self, frame: StreamFrame) -> None:
        self._udp.send(self.encode(frame))

    def close(self) -> None:
        self._udp.close()
