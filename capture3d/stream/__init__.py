"""Live streams out: the 3D results of ``capture3d live`` sent to VMC receivers (VSeeFace, Warudo, VMC4B),
plain OSC (TouchDesigner, Max, Pure Data), Lab Streaming Layer (LabRecorder) and WebSocket clients
(+ a browser page), each fed through its own latest-value hand-off so a slow receiver never stalls capture.
"""
from capture3d.stream.base import StreamFrame
from capture3d.stream.urls import SCHEMES, StreamTarget, parse_stream_url
from capture3d.stream.hub import StreamHub, open_streams

__all__ = ["SCHEMES", "StreamFrame", "StreamHub", "StreamTarget", "open_streams", "parse_stream_url"]
