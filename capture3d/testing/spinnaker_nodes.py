"""GenICam-like nodes, node maps and images of the simulated Spinnaker SDK (``spinnaker_sim``).

The subset of PySpin's node API (``GetValue``/``SetValue``, enumeration entries, ``Execute``, min/max) and
image API (frame id, timestamp, chunk data, ``GetNDArray``, ``Release``) the spinnaker backend calls.
"""
from __future__ import annotations

import numpy as np


class SpinnakerException(Exception):
    """Like PySpin.SpinnakerException: a message and an error code."""

    def __init__(self, message: str, errorcode: int = -1001) -> None:
        super().__init__(message)
        self.errorcode = errorcode
        self.message = message


class Node:
    def __init__(self, cam, name: str, value, kind: str, entries=(), writable: bool = True) -> None:
        """cam: the simulated camera whose on_set / on_command hooks react to writes and commands."""
        self.cam, self.name, self.value, self.kind = cam, name, value, kind
        self.entries = list(entries)
        self.writable = writable

    # generic accessors used through the C*Ptr wrappers
    def GetValue(self):
        if self.name == "TimestampLatchValue":
            return self.value
        return self.value

    def SetValue(self, v) -> None:
        if not self.writable:
            raise SpinnakerException(f"node {self.name} is not writable", -1006)
        if self.kind == "enum" and v not in self.entries:
            raise SpinnakerException(f"{self.name}: no entry {v}", -1006)
        self.value = v
        self.cam.on_set(self.name, v)

    def GetEntryByName(self, name: str):
        return Entry(name) if name in self.entries else None

    def SetIntValue(self, entry_value) -> None:
        self.SetValue(entry_value)

    def GetIntValue(self):
        return self.value

    def GetCurrentEntry(self):
        return Entry(self.value)

    def GetEntries(self):
        return [Entry(e) for e in self.entries]

    def GetMin(self):
        return 0.0

    def GetMax(self):
        return 1e9

    def Execute(self) -> None:
        self.cam.on_command(self.name)


class Entry:
    def __init__(self, name: str) -> None:
        self.name = name

    def GetValue(self):
        return self.name

    def GetSymbolic(self):
        return self.name

    def GetName(self):
        return f"EnumEntry_{self.name}"


class NodeMap:
    def __init__(self, nodes: dict[str, Node]) -> None:
        self.nodes = nodes

    def GetNode(self, name: str):
        return self.nodes.get(name)


class ChunkData:
    def __init__(self, frame_id: int, timestamp_ns: int) -> None:
        self._id, self._ts = frame_id, timestamp_ns

    def GetFrameID(self) -> int:
        return self._id

    def GetTimestamp(self) -> int:
        return self._ts


class Image:
    def __init__(self, array: np.ndarray, frame_id: int, timestamp_ns: int, incomplete: bool, pixel_format: str):
        self._a, self._id, self._ts, self._inc, self._pf = array, frame_id, timestamp_ns, incomplete, pixel_format
        self.released = False

    def IsIncomplete(self) -> bool:
        return self._inc

    def GetImageStatus(self) -> int:
        return 7 if self._inc else 0

    def GetNDArray(self) -> np.ndarray:
        if self.released:
            raise SpinnakerException("image already released", -1002)
        return self._a

    def GetFrameID(self) -> int:
        return self._id

    def GetTimeStamp(self) -> int:
        return self._ts

    def GetChunkData(self) -> ChunkData:
        return ChunkData(self._id, self._ts)

    def GetWidth(self) -> int:
        return self._a.shape[1]

    def GetHeight(self) -> int:
        return self._a.shape[0]

    def GetPixelFormatName(self) -> str:
        return self._pf

    def Release(self) -> None:
        self.released = True
