"""Exceptions raised at the boundaries (files, configs, CLI, camera SDK).

Every message says what was expected and what was found. The per-frame path never raises for
missing data: it uses NaN instead.
"""


class Capture3DError(Exception):
    """Base class of every error capture3d raises on purpose."""


class ConfigError(Capture3DError):
    """A configuration file or setting is invalid (unknown key, wrong type, out of range)."""


class RigError(Capture3DError):
    """A rig / camera calibration file is missing, malformed or physically invalid."""


class CalibrationError(Capture3DError):
    """Calibration could not produce a trustworthy result (no board found, too few views, ...)."""


class CameraError(Capture3DError):
    """A frame source failed: device missing, unplugged, unreadable video, SDK not installed."""


class KeypointFileError(Capture3DError):
    """A 2D or 3D keypoint file or folder is missing, malformed or inconsistent."""


class DetectorError(Capture3DError):
    """A 2D detector could not be created: unknown name, missing or corrupt weights."""


class ExportError(Capture3DError):
    """An export could not be written or read back."""


class StreamError(Capture3DError):
    """A live stream could not be opened: bad URL, port in use, its optional package missing."""
