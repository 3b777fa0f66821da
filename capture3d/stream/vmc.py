"""VMC protocol (``vmc://HOST:PORT``, default port 39539): OSC over UDP as Virtual Motion Capture defines it,
for VSeeFace, Warudo, VNyan, VMC4B (Blender) and VMC4UE (Unreal). One bundle per frame set and performer:

- ``/VMC/Ext/Root/Pos`` "root" p.x p.y p.z q.x q.y q.z q.w: the avatar root, at the rig's origin, unrotated;
- ``/VMC/Ext/Bone/Pos`` name p.x p.y p.z q.x q.y q.z q.w per Unity humanoid bone (Hips, Spine, Chest, Neck,
  Head, Left/Right UpperLeg, LowerLeg, Foot, Toes, Shoulder, UpperArm, LowerArm, Hand, and the finger bones
  when hands are tracked): local rotation (from ``capture3d.stream.humanoid``: the BVH export's solver) and
  local position (Hips: the subject's hip centre in the room; the others: the subject's rest offsets), metres,
  Unity's left-handed Y-up frame;
- ``/VMC/Ext/OK`` loaded calibration-state calibration-mode tracking-status (1 3 0 1 while a pose is sent);
- ``/VMC/Ext/T`` seconds since the stream's first frame.

Until the performer's bone lengths are measured (the first ``rest_frames`` frames with a pose) and while the
hip centre is not seen, only ``/VMC/Ext/OK 1 0 0 0`` and ``/VMC/Ext/T`` are sent.

Several people (``[tracking] people = "all"``). VMC has no performer id inside a stream: receivers take one
performer per UDP port. ``vmc://HOST:PORT`` (people=1) sends the frame's single pose: the person picked in
the viewer, else the lowest id in view. ``vmc://HOST:PORT?people=N`` sends up to N people, one per port
PORT, PORT+1, ... PORT+N-1, each person on a stable slot (``capture3d.stream.slots.StreamSlots``: a person
keeps its port while tracked, a freed port is reused; the picked person, else the lowest id, is served
first when there are more people than ports). Each port has its own solver, a new one when the port changes
owner (the new person's bone lengths are measured on its first frames). A port with nobody, or whose person
is out of view, sends ``/VMC/Ext/OK 1 0 0 0``. In single-subject mode the subject goes to PORT and the other
ports send ``OK 1 0 0 0``. With people=1 the single performer also solves each person followed with that
person's own bone lengths (the last few people's solvers are kept, so switching back is immediate).
"""
from __future__ import annotations

import numpy as np

from capture3d.body.keypoint_sets import KeypointSet
from capture3d.stream.base import StreamFrame, StreamTarget
from capture3d.stream.humanoid import HumanoidSolver
from capture3d.stream.osc_wire import BundleTemplate, UDPSender
from capture3d.stream.slots import StreamSlots

_POSE = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)


_KEEP_SOLVERS = 8  # a performer keeps the solvers (measured bone lengths) of this many recent people


class VMCPerformer:
    """One performer on one UDP port: the humanoid solver of the person it shows (``follow``) and its bundle
    templates. person_id: whom it shows (None: the single subject, or nobody yet)."""

    def __init__(self, host: str, port: int, what: str, keypoint_set: KeypointSet, rest_frames: int) -> None:
        self.keypoint_set, self.rest_frames = keypoint_set, rest_frames
        self.port = port
        self.udp = UDPSender(host, port, what)
        self._waiting = BundleTemplate([("/VMC/Ext/OK", "iiii", (1, 0, 0, 0)), ("/VMC/Ext/T", "f", (0.0,))])
        self._solvers: dict[int | None, HumanoidSolver] = {}
        self.person_id: int | None = None
        self.solver = self._solver_of(None)
        self._tmpl: BundleTemplate | None = None

    def _solver_of(self, person_id: int | None) -> HumanoidSolver:
        solver = self._solvers.pop(person_id, None) or HumanoidSolver(self.keypoint_set, rest_frames=self.rest_frames)
        self._solvers[person_id] = solver  # most recent last
        while len(self._solvers) > _KEEP_SOLVERS:
            del self._solvers[next(iter(self._solvers))]
        return solver

    def follow(self, person_id: int | None) -> None:
        """Show ``person_id`` from now on: its own solver (a person not seen by this performer before has its
        bone lengths measured on its first frames; one seen recently keeps the lengths measured then)."""
        if person_id == self.person_id:
            return
        self.solver, self.person_id, self._tmpl = self._solver_of(person_id), person_id, None

    def _build(self) -> None:
        msgs = [("/VMC/Ext/Root/Pos", "sfffffff", ("root",) + _POSE)]
        msgs += [("/VMC/Ext/Bone/Pos", "sfffffff", (b,) + _POSE) for b in self.solver.bones]
        msgs += [("/VMC/Ext/OK", "iiii", (1, 3, 0, 1)), ("/VMC/Ext/T", "f", (0.0,))]
        self._tmpl = BundleTemplate(msgs)
        self._bone_words = np.array(self._tmpl.slots[1:-2], dtype=np.int64)  # (B, 7)
        self._t_word = self._tmpl.slots[-1][0]
        self._values = np.zeros((len(self.solver.bones), 7), dtype=np.float32)
        self._values[:, :3] = self.solver.rest_positions

    def encode(self, xyz_world: np.ndarray, t_s: float) -> bytes:
        """The bundle of one pose (J, 3) metres (NaN where missing) at t_s seconds since the stream's start."""
        solved = self.solver.update(xyz_world)
        if solved is None:
            self._waiting.floats[self._waiting.slots[1][0]] = t_s
            return self._waiting.packet()
        if self._tmpl is None:
            self._build()
        hips, quats = solved
        v = self._values
        v[0, :3] = hips
        v[:, 3:] = quats
        self._tmpl.floats[self._bone_words] = v
        self._tmpl.floats[self._t_word] = t_s
        return self._tmpl.packet()


class VMCSink:
    """VMC bundles to target.host: one performer on target.port, or ``target.people`` performers on
    consecutive ports (see the module docstring)."""

    def __init__(self, target: StreamTarget, keypoint_set: KeypointSet, fps: float, rest_frames: int = 10) -> None:
        self.label = target.url
        self.performers = [VMCPerformer(target.host, port, f"VMC stream {target.url} (port {port})", keypoint_set,
                                        rest_frames) for port in target.ports()]
        self.slots = StreamSlots(len(self.performers)) if len(self.performers) > 1 else None
        self._nobody = np.full((keypoint_set.n_joints, 3), np.nan)
        self.t0_s: float | None = None  # capture time of the first frame (/VMC/Ext/T counts from it)

    @property
    def solver(self) -> HumanoidSolver:
        """The first performer's solver."""
        return self.performers[0].solver

    @property
    def bones(self) -> list[str]:
        return self.solver.bones

    def open(self) -> None:
        opened = []
        try:
            for p in self.performers:
                p.udp.open()
                opened.append(p)
        except BaseException:
            for p in opened:
                p.udp.close()
            raise

    def poses(self, frame: StreamFrame) -> list[np.ndarray]:
        """The pose (J, 3) metres each performer sends for this frame (all NaN: nobody)."""
        if self.slots is None:
            if frame.person_id is not None:  # every person tracked: the one followed now, with its own solver
                self.performers[0].follow(int(frame.person_id))
            return [frame.xyz_world]
        if frame.people_ids is None:  # single-subject mode: the subject on the first port
            return [frame.xyz_world] + [self._nobody] * (len(self.performers) - 1)
        rows = self.slots.assign(frame.people_ids, frame.time_s, frame.person_id)
        for p in np.flatnonzero(self.slots.changed):
            owner = int(self.slots.owner[p])
            self.performers[p].follow(owner if owner else None)
        return [frame.people_xyz[r] if r >= 0 else self._nobody for r in rows]

    def encode_all(self, frame: StreamFrame) -> list[bytes]:
        """The frame's bundle per performer (port order)."""
        if self.t0_s is None:
            self.t0_s = frame.time_s
        t = frame.time_s - self.t0_s
        return [p.encode(xyz, t) for p, xyz in zip(self.performers, self.poses(frame))]

    def encode(self, frame: StreamFrame) -> bytes:
        """The first performer's bundle (the only one with people=1)."""
        return self.encode_all(frame)[0]

    def send(self, frame: StreamFrame) -> None:
        """Send every performer's bundle; a failed send (OSError: no receiver on that port) does not stop the
        others, the first is raised after all were tried."""
        failed = None
        for p, packet in zip(self.performers, self.encode_all(frame)):
            try:
                p.udp.send(packet)
            except OSError as exc:
                failed = failed or exc
        if failed is not None:
            raise failed

    def close(self) -> None:
        for p in self.performers:
            p.udp.close()
