"""A simulated Spinnaker SDK: a stand-in for the subset of the PySpin API the spinnaker backend uses.

``SimulatedPySpin(devices)`` behaves like the ``PySpin`` module for ``capture3d.sources.spinnaker``
(``SpinnakerSource(..., pyspin=sim)``): ``System.GetInstance``, camera lists (``GetSize``, ``GetByIndex``,
``GetBySerial``, ``Clear``), cameras (``Init``, ``DeInit``, ``IsValid``, node maps, ``BeginAcquisition``,
``EndAcquisition``, ``GetNextImage``), GenICam nodes through ``CEnumerationPtr``/``CFloatPtr``/... with
``IsAvailable``/``IsReadable``/``IsWritable``, and images with frame ids, timestamps and chunk data.

Frames follow the trigger wiring: the camera whose line output is set (the primary) exposes at its
frame rate once acquiring and pulses its strobe; cameras with ``TriggerSource = Line*`` expose on each
pulse **only while acquiring** (start them first, or they miss triggers); ``TriggerSource = Software``
exposes on ``TriggerSoftware``; with ``TriggerMode = Off`` a camera free-runs. The simulation runs on the
host monotonic clock plus a skew that ``SimulatedPySpin.advance(seconds)`` moves forward: the simulated world
jumps ahead at once (the exposures in between happen together), so a test can make a consumer "late" or a
camera start late without sleeping. Injectable faults per device (``SimDevice``): ``drop`` (frames lost, the frame id
still advances), ``incomplete`` (partial images), ``unplug_after`` (frames, then the device is gone) and
``drift_ppm`` / ``clock_offset_s`` (the device clock against the host's).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from capture3d.testing.spinnaker_nodes import Image, Node, NodeMap, SpinnakerException

SPINNAKER_ERR_TIMEOUT = -1011
SPINNAKER_ERR_IO = -1010


@dataclass
class SimDevice:
    """One simulated camera and its faults (probabilities per frame; unplug_after in delivered frames)."""

    serial: str
    model: str = "Blackfly S BFS-U3-13Y3M"
    width: int = 320
    height: int = 240
    drop: float = 0.0
    incomplete: float = 0.0
    unplug_after: int | None = None
    drift_ppm: float = 0.0
    clock_offset_s: float = 100.0
    seed: int = 0
    nodes: dict = field(default_factory=dict)


class _SimCamera:
    """One simulated device (the object GetByIndex / GetBySerial return)."""

    def __init__(self, world: "SimulatedPySpin", dev: SimDevice) -> None:
        self.world, self.dev = world, dev
        self.rng = np.random.default_rng(dev.seed)
        self.initialized = False
        self.streaming = False
        self.unplugged = False
        self.frame_id = 0
        self.delivered = 0
        self.queue: list[tuple[float, int]] = []  # (exposure host time, frame id) waiting in device buffers
        self.next_k = 0  # next free-running exposure number
        self.soft_triggers: list[float] = []
        self.last_trigger_seen = -1
        self.dropped_by_buffer = 0
        N = Node
        enum = "enum"
        nodes = {
            "PixelFormat": N(self, "PixelFormat", "Mono8", enum, ("Mono8", "BayerRG8", "BGR8")),
            "Width": N(self, "Width", dev.width, "int"), "Height": N(self, "Height", dev.height, "int"),
            "OffsetX": N(self, "OffsetX", 0, "int"), "OffsetY": N(self, "OffsetY", 0, "int"),
            "ExposureAuto": N(self, "ExposureAuto", "Continuous", enum, ("Off", "Once", "Continuous")),
            "ExposureTime": N(self, "ExposureTime", 5000.0, "float"),
            "GainAuto": N(self, "GainAuto", "Continuous", enum, ("Off", "Once", "Continuous")),
            "Gain": N(self, "Gain", 0.0, "float"),
            "AcquisitionMode": N(self, "AcquisitionMode", "Continuous", enum, ("Continuous", "SingleFrame")),
            "AcquisitionFrameRateEnable": N(self, "AcquisitionFrameRateEnable", False, "bool"),
            "AcquisitionFrameRate": N(self, "AcquisitionFrameRate", 30.0, "float"),
            "TriggerMode": N(self, "TriggerMode", "Off", enum, ("Off", "On")),
            "TriggerSelector": N(self, "TriggerSelector", "FrameStart", enum, ("FrameStart",)),
            "TriggerSource": N(self, "TriggerSource", "Software", enum, ("Software", "Line0", "Line2", "Line3")),
            "TriggerActivation": N(self, "TriggerActivation", "RisingEdge", enum, ("RisingEdge", "FallingEdge")),
            "TriggerSoftware": N(self, "TriggerSoftware", None, "command"),
            "LineSelector": N(self, "LineSelector", "Line0", enum, ("Line0", "Line1", "Line2", "Line3")),
            "LineMode": N(self, "LineMode", "Input", enum, ("Input", "Output")),
            "LineSource": N(self, "LineSource", "Off", enum, ("Off", "ExposureActive")),
            "V3_3Enable": N(self, "V3_3Enable", False, "bool"),
            "ChunkModeActive": N(self, "ChunkModeActive", False, "bool"),
            "ChunkSelector": N(self, "ChunkSelector", "FrameID", enum, ("FrameID", "Timestamp", "Image")),
            "ChunkEnable": N(self, "ChunkEnable", False, "bool"),
            "TimestampLatch": N(self, "TimestampLatch", None, "command"),
            "TimestampLatchValue": N(self, "TimestampLatchValue", 0, "int", writable=False),
            "DeviceModelName": N(self, "DeviceModelName", dev.model, "str", writable=False),
        }
        self.nodes = NodeMap(nodes)
        self.tl_nodes = NodeMap({"DeviceSerialNumber": N(self, "DeviceSerialNumber", dev.serial, "str",
                                                          writable=False),
                                  "DeviceModelName": N(self, "DeviceModelName", dev.model, "str", writable=False)})
        self.stream_nodes = NodeMap({
            "StreamBufferHandlingMode": N(self, "StreamBufferHandlingMode", "OldestFirst", enum,
                                          ("OldestFirst", "OldestFirstOverwrite", "NewestOnly", "NewestFirst")),
            "StreamBufferCountMode": N(self, "StreamBufferCountMode", "Auto", enum, ("Auto", "Manual")),
            "StreamBufferCountManual": N(self, "StreamBufferCountManual", 10, "int")})
        self.line_output = False

    # -------------------------------------------------------------- node side effects
    def on_set(self, name: str, value) -> None:
        n = self.nodes.nodes
        if name in ("LineMode", "LineSource", "LineSelector"):
            self.line_output = (n["LineMode"].value == "Output" and n["LineSource"].value == "ExposureActive")
        if name in ("Width", "Height") and self.streaming:
            raise SpinnakerException(f"{name} cannot change while streaming", -1006)

    def on_command(self, name: str) -> None:
        if self.unplugged:
            raise SpinnakerException(f"camera {self.dev.serial} removed", SPINNAKER_ERR_IO)
        if name == "TimestampLatch":
            self.nodes.nodes["TimestampLatchValue"].value = self.device_ns(self.world.now())
        elif name == "TriggerSoftware":
            if self.streaming:
                with self.world.lock:
                    self.soft_triggers.append(self.world.now())

    def device_ns(self, host_s: float) -> int:
        d = self.dev
        return int(round((host_s - self.world.epoch_s + d.clock_offset_s) * (1 + d.drift_ppm * 1e-6) * 1e9))

    def _v(self, name: str):
        return self.nodes.nodes[name].value

    # -------------------------------------------------------------- PySpin camera API
    def Init(self) -> None:
        if self.unplugged:
            raise SpinnakerException(f"camera {self.dev.serial} not found", SPINNAKER_ERR_IO)
        self.initialized = True

    def DeInit(self) -> None:
        self.initialized = False

    def IsInitialized(self) -> bool:
        return self.initialized

    def IsValid(self) -> bool:
        return not self.unplugged

    def IsStreaming(self) -> bool:
        return self.streaming

    def GetNodeMap(self):
        self._check_init()
        return self.nodes

    def GetTLDeviceNodeMap(self):
        return self.tl_nodes

    def GetTLStreamNodeMap(self):
        return self.stream_nodes

    def _check_init(self) -> None:
        if not self.initialized:
            raise SpinnakerException(f"camera {self.dev.serial} is not initialized (call Init)", -1002)

    def BeginAcquisition(self) -> None:
        self._check_init()
        self.streaming = True
        self.frame_id = 0
        self.queue.clear()
        self.soft_triggers.clear()
        self.start_s = self.world.now()
        self.next_k = 0
        self.last_trigger_seen = self.world.trigger_count()
        if self.line_output:
            self.world.start_primary(self)

    def EndAcquisition(self) -> None:
        self.streaming = False
        if self.world.primary is self:
            self.world.primary = None

    def _exposures_until(self, now_s: float) -> list[float]:
        """Exposure host times since the last call, following the trigger wiring."""
        mode, src = self._v("TriggerMode"), self._v("TriggerSource")
        if mode == "Off" or self.line_output:
            fps = self._v("AcquisitionFrameRate")
            k1 = int(np.floor((now_s - self.start_s) * fps))
            out = [self.start_s + k / fps for k in range(self.next_k, k1 + 1)]
            self.next_k = max(self.next_k, k1 + 1)
            return out
        if src == "Software":
            with self.world.lock:
                out, self.soft_triggers = list(self.soft_triggers), []
            return out
        n = self.world.pulse_count(now_s)
        out = [self.world.pulse_time(k) for k in range(self.last_trigger_seen + 1, n)]
        self.last_trigger_seen = max(self.last_trigger_seen, n - 1)
        return out

    def _collect(self, now_s: float) -> None:
        nbuf = int(self.stream_nodes.nodes["StreamBufferCountManual"].value)
        newest = self.stream_nodes.nodes["StreamBufferHandlingMode"].value in ("NewestOnly", "NewestFirst")
        for t in self._exposures_until(now_s):
            fid = self.frame_id
            self.frame_id += 1
            if self.rng.random() < self.dev.drop:
                continue
            self.queue.append((t, fid))
            if len(self.queue) > nbuf:
                self.dropped_by_buffer += 1
                if newest:
                    self.queue.pop(0)  # the oldest buffer is overwritten
                else:
                    self.queue.pop()  # no free buffer: the new frame is lost
        if newest and len(self.queue) > 1:
            self.dropped_by_buffer += len(self.queue) - 1
            self.queue = self.queue[-1:]

    def GetNextImage(self, timeout_ms: int = 1000) -> Image:
        if not self.streaming:
            raise SpinnakerException("camera is not streaming (BeginAcquisition)", -1002)
        deadline = self.world.now() + timeout_ms / 1000.0
        while True:
            if self.unplugged:
                raise SpinnakerException(f"camera {self.dev.serial} removed", SPINNAKER_ERR_IO)
            now = self.world.now()
            self._collect(now)
            if self.queue:
                t, fid = self.queue.pop(0)
                return self._image(t, fid)
            if now >= deadline:
                raise SpinnakerException("Failed waiting for EventData on NEW_BUFFER_DATA event.",
                                         SPINNAKER_ERR_TIMEOUT)
            time.sleep(min(0.002, max(deadline - now, 0.0)))

    def _image(self, t: float, fid: int) -> Image:
        d = self.dev
        if d.unplug_after is not None and self.delivered >= d.unplug_after:
            self.unplugged = True
            raise SpinnakerException(f"camera {d.serial} removed", SPINNAKER_ERR_IO)
        self.delivered += 1
        w, h = int(self._v("Width")), int(self._v("Height"))
        pf = self._v("PixelFormat")
        shape = (h, w, 3) if pf == "BGR8" else (h, w)
        img = np.full(shape, (fid * 7) % 256, np.uint8)
        incomplete = self.rng.random() < d.incomplete
        if incomplete:
            img[h // 2:] = 0
        return Image(img, fid, self.device_ns(t), incomplete, pf)


class _CameraList:
    def __init__(self, cams: list[_SimCamera]) -> None:
        self._cams = list(cams)

    def GetSize(self) -> int:
        return len(self._cams)

    def GetByIndex(self, i: int) -> _SimCamera:
        return self._cams[i]

    def GetBySerial(self, serial: str):
        for c in self._cams:
            if c.dev.serial == serial:
                return c
        return None

    def Clear(self) -> None:
        self._cams = []

    def __iter__(self):
        return iter(self._cams)

    def __len__(self) -> int:
        return len(self._cams)


class SimulatedPySpin:
    """The module stand-in. devices: the simulated cameras; ``cameras[serial]`` gives their state."""

    SpinnakerException = SpinnakerException

    def __init__(self, devices: list[SimDevice]) -> None:
        self.skew_s = 0.0  # how far advance() moved the simulated world ahead of the host clock
        self.epoch_s = self.now()
        self.lock = threading.Lock()
        self.cameras = {d.serial: _SimCamera(self, d) for d in devices}
        self.primary: _SimCamera | None = None
        self._primary_start_s = 0.0
        self._primary_fps = 0.0
        self.instances = 0
        world = self

        class System:
            @staticmethod
            def GetInstance():
                world.instances += 1
                return world._system

        self.System = System
        self._system = _System(self)

    def now(self) -> float:
        """The simulated world's time, s: the host monotonic clock plus the skew advance() added."""
        return time.monotonic() + self.skew_s

    def advance(self, seconds: float) -> None:
        """Move the simulated world ``seconds`` ahead at once (no sleeping): the exposures of that span
        happen on the next collection, as if the consumer had been away that long."""
        with self.lock:
            self.skew_s += seconds

    # nodes are used directly (the wrappers of real PySpin just cast)
    @staticmethod
    def CEnumerationPtr(node):
        return node

    CFloatPtr = CIntegerPtr = CBooleanPtr = CCommandPtr = CStringPtr = CEnumEntryPtr = CEnumerationPtr

    @staticmethod
    def IsAvailable(node) -> bool:
        return node is not None

    @staticmethod
    def IsReadable(node) -> bool:
        return node is not None

    @staticmethod
    def IsWritable(node) -> bool:
        return node is not None and node.writable and not (node.cam.streaming and node.name in ("Width", "Height"))

    def start_primary(self, cam: _SimCamera) -> None:
        self.primary = cam
        self._primary_start_s = cam.start_s
        self._primary_fps = cam._v("AcquisitionFrameRate")

    def trigger_count(self) -> int:
        """Index of the last strobe pulse so far (-1: none)."""
        return self.pulse_count(self.now()) - 1

    def pulse_count(self, now_s: float) -> int:
        """Strobe pulses of the primary up to now (pulse k at primary start + k / fps)."""
        if self.primary is None or not self.primary.streaming:
            return 0
        return max(int(np.floor((now_s - self._primary_start_s) * self._primary_fps)) + 1, 0)

    def pulse_time(self, k: int) -> float:
        return self._primary_start_s + k / self._primary_fps

    def unplug(self, serial: str) -> None:
        self.cameras[serial].unplugged = True


class _System:
    def __init__(self, world: SimulatedPySpin) -> None:
        self.world = world
        self.released = False

    def GetCameras(self) -> _CameraList:
        return _CameraList([c for c in self.world.cameras.values() if not c.unplugged])

    def GetLibraryVersion(self):
        return type("Version", (), {"major": 4, "minor": 0, "type": 0, "build": 0})()

    def ReleaseInstance(self) -> None:
        self.released = True
