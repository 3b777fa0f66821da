"""OSC 1.0 encoding for frames of fixed layout, and the UDP socket both OSC streams send through.

Every part of an OSC packet is a multiple of 4 bytes (strings NUL-terminated and padded, int32 / float32
big-endian, bundle elements prefixed by their int32 size). A frame's bundle has the same layout every
time (same addresses, type tags and strings), so ``BundleTemplate`` builds it once and a frame only writes
its numbers into the template's words (one numpy assignment per frame, no per-message Python work).
"""
from __future__ import annotations

import errno
import socket
import struct

import numpy as np

from capture3d.errors import StreamError

MAX_DATAGRAM = 65507  # largest UDP payload over IPv4


def osc_string(s: str) -> bytes:
    """An OSC string: ASCII, NUL-terminated, padded with NULs to a multiple of 4 bytes."""
    b = s.encode("ascii") + b"\0"
    return b + b"\0" * (-len(b) % 4)


class BundleTemplate:
    """An OSC bundle (timetag "immediately") of fixed messages whose numbers change per frame.

    messages: (address, type tags without the comma, args) with tags of "s" (fixed string), "f" (float32),
    "i" (int32), "d" (float64); string args are part of the layout, numeric args are initial values.
    ``slots[m]``: per numeric arg of message m, its 4-byte word index (float32/int32) or, for "d", its byte
    offset. Write with ``floats[...] = ...`` / ``ints[...] = ...`` / ``set_double``; ``packet()`` is the bytes.
    """

    def __init__(self, messages) -> None:
        parts = [b"#bundle\0", struct.pack(">Q", 1)]
        offset = 16
        self.slots: list[list[int]] = []
        for address, tags, args in messages:
            if len(tags) != len(args):
                raise ValueError(f"OSC {address}: {len(tags)} type tags for {len(args)} arguments")
            body = bytearray(osc_string(address) + osc_string("," + tags))
            slots = []
            for t, a in zip(tags, args):
                at = offset + 4 + len(body)
                if t == "s":
                    body += osc_string(str(a))
                    continue
                fmt = {"f": ">f", "i": ">i", "d": ">d"}[t]
                slots.append(at if t == "d" else at // 4)
                body += struct.pack(fmt, a)
            parts += [struct.pack(">i", len(body)), bytes(body)]
            offset += 4 + len(body)
            self.slots.append(slots)
        self._buf = bytearray(b"".join(parts))
        if len(self._buf) > MAX_DATAGRAM:
            raise StreamError(f"an OSC frame of {len(self._buf)} bytes does not fit one UDP datagram "
                              f"({MAX_DATAGRAM}); stream fewer joints")
        self.floats = np.frombuffer(self._buf, dtype=">f4")
        self.ints = np.frombuffer(self._buf, dtype=">i4")

    def set_double(self, byte_offset: int, value: float) -> None:
        struct.pack_into(">d", self._buf, byte_offset, value)

    def packet(self) -> bytes:
        return bytes(self._buf)

    def __len__(self) -> int:
        return len(self._buf)


class UDPSender:
    """A connected UDP socket to host:port. ``send`` raises OSError (e.g. ConnectionRefused after an ICMP
    port-unreachable while no receiver listens); the stream counts it and goes on."""

    def __init__(self, host: str, port: int, what: str) -> None:
        self.host, self.port, self.what = host, port, what
        self._sock: socket.socket | None = None

    def open(self) -> None:
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
        except socket.gaierror as exc:
            raise StreamError(f"{self.what}: cannot resolve host {self.host!r} ({exc})") from None
        family, _, _, _, addr = infos[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)  # a full send buffer drops the datagram (EAGAIN) instead of waiting
        if self.host in ("255.255.255.255",) or self.host.endswith(".255"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        try:
            sock.connect(addr)
        except OSError as exc:
            sock.close()
            raise StreamError(f"{self.what}: cannot send to {self.host}:{self.port} ({exc})") from None
        self._sock = sock

    def send(self, data: bytes) -> None:
        try:
            self._sock.send(data)
        except BlockingIOError:
            raise OSError(errno.EAGAIN, "UDP send buffer full: datagram dropped") from None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
