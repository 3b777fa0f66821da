"""FLIR / Point Grey cameras through the Spinnaker SDK (PySpin). The only module that imports PySpin.

Hardware sync (``sync = "hardware"``): the primary camera free-runs at ``fps`` and drives its strobe line
(``strobe_line``, LineSource = ExposureActive); every other camera triggers on a rising edge of its
``trigger_line``. The secondaries begin acquisition before the primary, so all see the first pulse and
their frame ids (chunk FrameID, reset at acquisition start) count the same triggers. Software sync
(``sync = "software"``, no trigger cable): every camera is software-triggered by one thread at ``fps``
and frames are paired by timestamp.

Each frame carries the chunk FrameID and Timestamp. The device clock is mapped to the host monotonic
clock by latching the camera timestamp (``TimestampLatch``) between two host readings, again every
``resync_s`` to follow drift (the drift in ppm is reported); without a latch node the offset is the lower
envelope of (host arrival - device timestamp). Live capture keeps only the newest buffer
(``StreamBufferHandlingMode = NewestOnly``); recording uses ``OldestFirst`` (lossless while the host keeps up).
Gaps in FrameID (frames lost on the device or the link), incomplete images and a vanished camera are
detected and counted per camera (``stream.stats()``).

PySpin is not on PyPI: it comes as a wheel with FLIR's Spinnaker SDK (see ``INSTALL_HINT``).
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Sequence

import cv2
import numpy as np

from capture3d.config import SourceConfig
from capture3d.errors import CameraError
from capture3d.types import Frame
from capture3d.sources.base import CameraInfo

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "PySpin (FLIR's Spinnaker SDK for Python) is not installed. It is not on PyPI: download the Spinnaker SDK "
    "and the matching Python wheel (spinnaker_python-<version>-cp3XX-<platform>.whl, for this Python "
    "version) from https://www.teledynevisionsolutions.com/products/spinnaker-sdk/ , install the SDK, then "
    "'pip install spinnaker_python-<version>-....whl' into this environment. Do not 'pip install PySpin': "
    "that PyPI package is an unrelated project.")
_TIMEOUT_CODE = -1011
_DEMOSAIC = {"BayerRG8": cv2.COLOR_BayerRG2BGR, "BayerBG8": cv2.COLOR_BayerBG2BGR,
             "BayerGB8": cv2.COLOR_BayerGB2BGR, "BayerGR8": cv2.COLOR_BayerGR2BGR}


def load_pyspin():
    """Import PySpin, or CameraError saying how to install it."""
    try:
        import PySpin  # noqa: PLC0415
    except ImportError:
        raise CameraError(INSTALL_HINT) from None
    if not hasattr(PySpin, "System"):
        raise CameraError("the installed module 'PySpin' is not FLIR's Spinnaker binding (it has no System); "
                          "uninstall it ('pip uninstall PySpin'). " + INSTALL_HINT)
    return PySpin


class _Nodes:
    """GenICam node access with availability checks; errors name the camera, the node and the value."""

    def __init__(self, ps, nodemap, serial: str) -> None:
        self.ps, self.nodemap, self.serial = ps, nodemap, serial

    def _node(self, name: str, cast, write: bool):
        node = cast(self.nodemap.GetNode(name)) if self.nodemap.GetNode(name) is not None else None
        ok = node is not None and self.ps.IsAvailable(node) and (
            self.ps.IsWritable(node) if write else self.ps.IsReadable(node))
        return node if ok else None

    def has(self, name: str) -> bool:
        return self.nodemap.GetNode(name) is not None and self.ps.IsAvailable(self.nodemap.GetNode(name))

    def get(self, name: str, default=None):
        node = self._node(name, self.ps.CStringPtr, False)
        return node.GetValue() if node is not None else default

    def set_enum(self, name: str, entry: str, required: bool = True) -> bool:
        node = self._node(name, self.ps.CEnumerationPtr, True)
        item = node.GetEntryByName(entry) if node is not None else None
        if item is None or not (self.ps.IsAvailable(item) and self.ps.IsReadable(item)):
            if required:
                raise CameraError(f"camera {self.serial}: cannot set {name} = {entry} (node missing, read-only or "
                                  "no such entry); check the camera model's supported values")
            return False
        node.SetIntValue(item.GetValue())
        return True

    def set_value(self, name: str, value, cast_name: str, required: bool = True) -> bool:
        node = self._node(name, getattr(self.ps, cast_name), True)
        if node is None:
            if required:
                raise CameraError(f"camera {self.serial}: cannot set {name} = {value} (node missing or read-only)")
            return False
        node.SetValue(value)
        return True

    def execute(self, name: str) -> bool:
        node = self._node(name, self.ps.CCommandPtr, True)
        if node is None:
            return False
        node.Execute()
        return True

    def read(self, name: str, cast_name: str = "CIntegerPtr"):
        node = self._node(name, getattr(self.ps, cast_name), False)
        return node.GetValue() if node is not None else None


def _serial_of(ps, cam) -> str:
    return str(_Nodes(ps, cam.GetTLDeviceNodeMap(), "?").get("DeviceSerialNumber", ""))


def list_spinnaker_cameras(pyspin=None) -> list[dict]:
    """[{serial, model, width, height, fps, pixel_formats}] of the connected cameras (CameraError without PySpin)."""
    ps = pyspin if pyspin is not None else load_pyspin()
    system = ps.System.GetInstance()
    cam_list = system.GetCameras()
    out = []
    try:
        for i in range(cam_list.GetSize()):
            cam = cam_list.GetByIndex(i)
            tl = _Nodes(ps, cam.GetTLDeviceNodeMap(), "?")
            info = {"serial": str(tl.get("DeviceSerialNumber", "")), "model": str(tl.get("DeviceModelName", ""))}
            try:
                cam.Init()
                nodes = _Nodes(ps, cam.GetNodeMap(), info["serial"])
                info["width"], info["height"] = nodes.read("Width"), nodes.read("Height")
                info["fps"] = float(nodes.read("AcquisitionFrameRate", "CFloatPtr") or float("nan"))
                pf = ps.CEnumerationPtr(cam.GetNodeMap().GetNode("PixelFormat"))
                entry_ptr = getattr(ps, "CEnumEntryPtr", lambda e: e)
                info["pixel_formats"] = ([entry_ptr(e).GetSymbolic() for e in pf.GetEntries()
                                          if ps.IsAvailable(e)] if pf is not None else [])
                cam.DeInit()
            except ps.SpinnakerException as exc:
                info["error"] = str(exc)
            out.append(info)
            del cam
    finally:
        cam_list.Clear()
        system.ReleaseInstance()
    return out


class SpinnakerStream:
    """One camera's acquisition (``grab`` from its grab thread). ``stats()``: per-camera fault counters."""

    def __init__(self, source: "SpinnakerSource", cam, serial: str, name: str, view: int) -> None:
        self.source, self.cam, self.serial, self.view = source, cam, serial, view
        self.ps = source.ps
        self.nodes = _Nodes(self.ps, cam.GetNodeMap(), serial)
        self.stream_nodes = _Nodes(self.ps, cam.GetTLStreamNodeMap(), serial)
        self.info = CameraInfo(name, (0, 0), source.fps, model=str(_Nodes(self.ps, cam.GetTLDeviceNodeMap(), serial)
                                                                    .get("DeviceModelName", "")), serial=serial)
        self.offset_s = 0.0  # host monotonic = device seconds + offset_s
        self._clock: list[tuple[float, float]] = []  # (host time, offset) of each latch
        self._envelope: collections.deque[float] = collections.deque(maxlen=200)
        self._last_sync_s = 0.0
        self._last_id: int | None = None
        self._errors = 0
        self.counters = {"device_drops": 0, "incomplete": 0, "resyncs": 0, "drift_ppm": 0.0}

    # ------------------------------------------------------------ setup
    def configure(self, role: str) -> None:
        """role: "primary" (free-run + strobe), "secondary" (line trigger), "software" (software trigger)."""
        s, n = self.source, self.nodes
        if s.pixel_format:
            n.set_enum("PixelFormat", s.pixel_format)
        x, y, w, h = s.roi
        if w and h:
            n.set_value("Width", int(w), "CIntegerPtr")
            n.set_value("Height", int(h), "CIntegerPtr")
            n.set_value("OffsetX", int(x), "CIntegerPtr")
            n.set_value("OffsetY", int(y), "CIntegerPtr")
        if s.exposure_us > 0:
            n.set_enum("ExposureAuto", "Off")
            n.set_value("ExposureTime", float(s.exposure_us), "CFloatPtr")
        if s.gain_db >= 0:
            n.set_enum("GainAuto", "Off")
            n.set_value("Gain", float(s.gain_db), "CFloatPtr")
        n.set_enum("AcquisitionMode", "Continuous")
        for chunk in ("FrameID", "Timestamp"):
            n.set_value("ChunkModeActive", True, "CBooleanPtr", required=False)
            if n.set_enum("ChunkSelector", chunk, required=False):
                n.set_value("ChunkEnable", True, "CBooleanPtr", required=False)
        n.set_enum("TriggerMode", "Off")  # TriggerSource can only change with the trigger off
        if role == "primary":
            n.set_value("AcquisitionFrameRateEnable", True, "CBooleanPtr", required=False)
            n.set_value("AcquisitionFrameRate", float(s.fps), "CFloatPtr")
            n.set_enum("LineSelector", s.strobe_line)
            n.set_enum("LineMode", "Output")
            n.set_enum("LineSource", "ExposureActive")
        elif role in ("secondary", "software"):
            n.set_enum("TriggerSelector", "FrameStart", required=False)
            n.set_enum("TriggerSource", s.trigger_line if role == "secondary" else "Software")
            n.set_enum("TriggerActivation", "RisingEdge", required=False)
            n.set_enum("TriggerMode", "On")
        sn = self.stream_nodes
        sn.set_enum("StreamBufferHandlingMode", "OldestFirst" if s.lossless else "NewestOnly", required=False)
        if sn.set_enum("StreamBufferCountMode", "Manual", required=False):
            sn.set_value("StreamBufferCountManual", int(s.buffer_count), "CIntegerPtr", required=False)
        w = self.nodes.read("Width")
        h = self.nodes.read("Height")
        self.info = CameraInfo(self.info.name, (int(w or 0), int(h or 0)), s.fps, self.info.model, self.serial)

    def sync_clock(self) -> bool:
        """Latch the device clock between two host readings -> offset_s; tracks drift. False without a latch."""
        t0 = time.monotonic()
        if not (self.nodes.execute("TimestampLatch") or self.nodes.execute("GevTimestampControlLatch")):
            return False
        t1 = time.monotonic()
        ns = self.nodes.read("TimestampLatchValue")
        if ns is None:
            ns = self.nodes.read("GevTimestampValue")
        if ns is None:
            return False
        host = 0.5 * (t0 + t1)
        offset = host - ns * 1e-9
        self._clock.append((host, offset))
        self._clock = self._clock[-50:]
        self.offset_s = offset
        self._last_sync_s = host
        if len(self._clock) >= 2 and self._clock[-1][0] - self._clock[0][0] > 0.5:
            (ha, oa), (hb, ob) = self._clock[0], self._clock[-1]
            drift = -1e6 * (ob - oa) / (hb - ha)
            if abs(drift) > 50 and abs(self.counters["drift_ppm"]) <= 50:
                log.warning("camera %s: clock drifts %.0f ppm against the host; re-synchronizing every %.1f s",
                            self.serial, drift, self.source.resync_s)
            self.counters["drift_ppm"] = drift
        self.counters["resyncs"] += 1
        return True

    # ------------------------------------------------------------ acquisition
    def grab(self, timeout_s: float) -> Frame | None:
        ps = self.ps
        try:
            image = self.cam.GetNextImage(max(1, int(timeout_s * 1000)))
        except ps.SpinnakerException as exc:
            if getattr(exc, "errorcode", None) == _TIMEOUT_CODE or "timeout" in str(exc).lower() or \
                    "EventData" in str(exc):
                return None
            self._errors += 1
            if self._errors >= 3 or not self.cam.IsValid():
                raise CameraError(f"camera {self.serial} stopped delivering frames (unplugged?): {exc}") from None
            log.warning("camera %s: %s", self.serial, exc)
            return None
        host_s = time.monotonic()
        self._errors = 0
        try:
            incomplete = bool(image.IsIncomplete())
            try:
                chunk = image.GetChunkData()
                frame_id, ts_ns = int(chunk.GetFrameID()), int(chunk.GetTimestamp())
            except ps.SpinnakerException:
                frame_id, ts_ns = int(image.GetFrameID()), int(image.GetTimeStamp())
            pixels = None
            if not incomplete:
                pixels = np.array(image.GetNDArray(), copy=True)  # own the pixels before Release
        finally:
            image.Release()
        if self._last_id is not None and frame_id > self._last_id + 1:
            self.counters["device_drops"] += frame_id - self._last_id - 1
        self._last_id = frame_id
        if incomplete:
            self.counters["incomplete"] += 1
        elif pixels is not None and pixels.ndim == 2 and self.source.pixel_format in _DEMOSAIC:
            pixels = cv2.cvtColor(pixels, _DEMOSAIC[self.source.pixel_format])
        device_s = ts_ns * 1e-9
        if self._clock:
            if host_s - self._last_sync_s >= self.source.resync_s:
                self.sync_clock()
        else:
            self._envelope.append(host_s - device_s)
            self.offset_s = min(self._envelope)
        return Frame(self.info.name, self.view, frame_id, device_s, host_s, device_s + self.offset_s, pixels,
                     incomplete, {"frame_index": frame_id, "serial": self.serial})

    def stats(self) -> dict:
        return dict(self.counters)


class SpinnakerSource:
    """Several Spinnaker cameras by serial (see the module docstring).

    sync: "hardware" or "software". primary: serial of the strobe-driving camera ("" = first). lossless:
    OldestFirst buffers (recording) instead of NewestOnly (live). pyspin: a PySpin-like module (tests inject
    ``capture3d.testing.spinnaker_sim.SimulatedPySpin``); default: import PySpin.
    """

    kind = "spinnaker"
    live = True
    rig = None

    def __init__(self, serials: Sequence[str], names: Sequence[str] = (), fps: float = 30.0, sync: str = "hardware",
                 primary: str = "", pixel_format: str = "", roi=(0, 0, 0, 0), exposure_us: float = 0.0,
                 gain_db: float = -1.0, trigger_line: str = "Line3", strobe_line: str = "Line2",
                 buffer_count: int = 10, lossless: bool = False, resync_s: float = 1.0, pyspin=None) -> None:
        if not serials:
            raise CameraError("spinnaker source: no camera serials given (list them with 'capture3d cameras')")
        if sync not in ("hardware", "software"):
            raise CameraError(f"spinnaker sync must be 'hardware' or 'software', found {sync!r}")
        self.ps = pyspin if pyspin is not None else load_pyspin()
        self.fps = float(fps) if fps > 0 else 30.0
        self.sync = "trigger" if sync == "hardware" else "timestamp"
        self.hardware = sync == "hardware"
        self.pixel_format, self.roi = pixel_format, tuple(roi)
        self.exposure_us, self.gain_db = exposure_us, gain_db
        self.trigger_line, self.strobe_line = trigger_line, strobe_line
        self.buffer_count, self.lossless, self.resync_s = buffer_count, lossless, resync_s
        serials = [str(s) for s in serials]
        names = list(names) or serials
        self.primary = str(primary) if primary else serials[0]
        if self.primary not in serials:
            raise CameraError(f"primary camera {self.primary} is not among the cameras {', '.join(serials)}")
        self._system = self.ps.System.GetInstance()
        self._cam_list = self._system.GetCameras()
        self._streams: list[SpinnakerStream] = []
        self._trigger_thread: threading.Thread | None = None
        self._trigger_stop = threading.Event()
        self._acquiring: list[SpinnakerStream] = []
        try:
            found = [_serial_of(self.ps, self._cam_list.GetByIndex(i)) for i in range(self._cam_list.GetSize())]
            unknown = [s for s in serials if s not in found]
            if unknown:
                raise CameraError(f"camera serial(s) {', '.join(unknown)} not found; cameras found: "
                                  f"{', '.join(found) if found else 'none'}")
            for view, (serial, name) in enumerate(zip(serials, names)):
                cam = self._cam_list.GetBySerial(serial)
                cam.Init()
                self._streams.append(SpinnakerStream(self, cam, serial, name, view))
            for st in self._streams:
                role = ("primary" if st.serial == self.primary else "secondary") if self.hardware else "software"
                st.configure(role)
        except (CameraError, self.ps.SpinnakerException) as exc:
            self.stop()
            if isinstance(exc, CameraError):
                raise
            raise CameraError(f"spinnaker setup failed: {exc}") from None

    @classmethod
    def from_config(cls, cfg: SourceConfig, lossless: bool = False, pyspin=None) -> "SpinnakerSource":
        sync = "hardware" if cfg.sync in ("auto", "hardware") else "software"
        return cls(cfg.cameras, cfg.names, cfg.fps, sync, cfg.primary, cfg.pixel_format, cfg.roi, cfg.exposure_us,
                   cfg.gain_db, cfg.trigger_line, cfg.strobe_line, cfg.buffer_count, lossless, pyspin=pyspin)

    @property
    def streams(self) -> Sequence[SpinnakerStream]:
        return self._streams

    def start(self) -> None:
        """Clock offsets, then acquisition: the trigger-following cameras before the primary."""
        for st in self._streams:
            st.sync_clock()
        order = sorted(self._streams, key=lambda st: st.serial == self.primary)  # primary last
        for st in order:
            st.cam.BeginAcquisition()
            self._acquiring.append(st)
        if not self.hardware:
            self._trigger_thread = threading.Thread(target=self._software_trigger, name="spinnaker-trigger",
                                                    daemon=True)
            self._trigger_thread.start()

    def _software_trigger(self) -> None:
        """Fire TriggerSoftware on every camera at fps (fallback without a trigger cable)."""
        period, k, t0 = 1.0 / self.fps, 0, time.monotonic()
        while not self._trigger_stop.is_set():
            for st in self._streams:
                try:
                    st.nodes.execute("TriggerSoftware")
                except self.ps.SpinnakerException as exc:
                    log.debug("software trigger of %s failed: %s", st.serial, exc)
            k += 1
            self._trigger_stop.wait(max(0.0, t0 + k * period - time.monotonic()))

    def stop(self) -> None:
        """End acquisition (primary first), de-initialize and release the system (idempotent)."""
        self._trigger_stop.set()
        if self._trigger_thread is not None:
            self._trigger_thread.join(2.0)
        for st in sorted(self._acquiring, key=lambda s: s.serial != self.primary):
            try:
                st.cam.EndAcquisition()
            except self.ps.SpinnakerException as exc:
                log.warning("camera %s: EndAcquisition failed: %s", st.serial, exc)
        self._acquiring = []
        for st in self._streams:
            try:
                st.cam.DeInit()
            except self.ps.SpinnakerException as exc:
                log.warning("camera %s: DeInit failed: %s", st.serial, exc)
            st.cam = st.nodes = st.stream_nodes = None  # no reference may outlive the camera list
        if self._cam_list is not None:
            self._cam_list.Clear()
            self._cam_list = None
        if self._system is not None:
            self._system.ReleaseInstance()
            self._system = None
