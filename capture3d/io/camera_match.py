"""Which input is which camera of the rig: the ONE matching rule of ``triangulate`` (keypoint folders),
``process`` (videos), ``live`` and ``record`` (the source's cameras).

The rule, said in one line to the user either way (``CameraMatch.note``):

- **by name** when every input's name matches a rig camera's name once case, punctuation, leading zeros of
  numbers and a ``json`` suffix are ignored (``cam01.mp4``, ``kp/cam_1``, ``CAM-01`` and ``cam01_json`` all
  are camera ``cam01``): any order, and fewer inputs than cameras use those cameras only (the others are
  named as left out);
- **by order** only when no input name matches any camera: the i-th input is the rig's i-th camera, which
  needs as many inputs as cameras;
- an error when some names match and others do not (a misspelt or foreign input), when two inputs match
  the same camera, or when paired by order the counts differ.

And the one size rule (``adapt_camera_size``): an input whose images (a video, a live camera, the images
2D keypoints were detected on) are at most MAX_CROP_PX smaller than its camera's calibration (1080
instead of 1088 columns: encoders crop to a multiple of 16) uses the calibration as cropped at the right /
bottom edge (measured on the shared Pose2Sim sessions: the lowest reprojection error of the shifts
tried), with a note; any other size is an error (another resolution is another calibration).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Sequence

from capture3d.errors import RigError
from capture3d.geometry.camera import Camera

#: an image may be smaller than its calibration by at most this many pixels per side (an encoder crop)
MAX_CROP_PX = 16


def name_key(name: str) -> str:
    """The comparable form of a camera or input name: lower case, letters and digits only, no leading zeros
    in numbers, no trailing ``json`` (Pose2Sim's ``cam01_json`` folders): ``CAM_01`` -> ``cam1``."""
    key = re.sub(r"[^0-9a-z]", "", str(name).lower())
    if key.endswith("json") and len(key) > 4:
        key = key[:-4]
    return re.sub(r"(?<![0-9])0+(?=[0-9])", "", key)


@dataclass(frozen=True)
class CameraMatch:
    """The pairing of V inputs with rig cameras.

    pairs: ((input index, rig camera index), ...) for the cameras used, in rig order.
    by_name: paired by name (else by order). left_out: the rig camera names no input was given for.
    note: the one line that says how they were paired (and what was left out).
    """

    pairs: tuple[tuple[int, int], ...]
    by_name: bool
    left_out: tuple[str, ...]
    note: str

    @property
    def inputs(self) -> tuple[int, ...]:
        """The input index of each used camera, in rig order."""
        return tuple(i for i, _ in self.pairs)

    @property
    def cameras(self) -> tuple[int, ...]:
        """The rig camera indices used, in rig order."""
        return tuple(c for _, c in self.pairs)


def match_cameras(input_names: Sequence[str], rig_names: Sequence[str], what: str = "input",
                  error: type[Exception] = RigError, labels: Sequence[str] | None = None) -> CameraMatch:
    """Pair inputs (their names: video file stems, folder names, camera names) with the rig's cameras.

    what: how to call an input in messages ("video", "keypoint folder", "camera"); labels: how to show
    each input (default: its name); error: the exception raised (a Capture3DError subclass) when no
    pairing is possible. See the module's rule.
    """
    labels = [str(n) for n in (labels or input_names)]
    keys = [name_key(n) for n in input_names]
    rig_keys = [name_key(n) for n in rig_names]
    cams = ", ".join(rig_names)
    hit = [rig_keys.index(k) if k in rig_keys else None for k in keys]
    if not input_names:
        raise error(f"no {what}s given; expected one per rig camera ({cams})")
    if any(h is not None for h in hit):
        missing = [lab for lab, h in zip(labels, hit) if h is None]
        if missing:
            raise error(f"{what}s {', '.join(missing)} match no rig camera by name while "
                        f"{', '.join(lab for lab, h in zip(labels, hit) if h is not None)} do (rig cameras: "
                        f"{cams}); expected every {what} named after its camera, or none (then paired in order)")
        dup = sorted({rig_names[h] for h in hit if hit.count(h) > 1})
        if dup:
            raise error(f"several {what}s match rig camera {', '.join(dup)} by name "
                        f"({', '.join(labels)}); expected one {what} per camera")
        pairs = tuple(sorted(((i, h) for i, h in enumerate(hit)), key=lambda p: p[1]))
        left = tuple(n for c, n in enumerate(rig_names) if c not in hit)
        note = f"{what}s matched to the rig's cameras by name: " + ", ".join(
            f"{labels[i]} -> {rig_names[c]}" for i, c in pairs)
        if left:
            note += f"; camera{'s' if len(left) > 1 else ''} {', '.join(left)} left out (no {what} given)"
        return CameraMatch(pairs, True, left, note)
    if len(input_names) != len(rig_names):
        raise error(f"{len(input_names)} {what}s ({', '.join(labels)}) but the rig has {len(rig_names)} cameras "
                    f"({cams}), and no {what} name matches a camera name: expected one {what} per camera in rig "
                    f"order, or {what}s named after their cameras")
    pairs = tuple((i, i) for i in range(len(rig_names)))
    note = (f"{what} names match none of the rig's cameras: paired in order: "
            + ", ".join(f"{labels[i]} -> {rig_names[c]}" for i, c in pairs))
    return CameraMatch(pairs, False, (), note)


def adapt_camera_size(cam: Camera, size_wh: tuple[int, int], label: str) -> tuple[Camera, str | None]:
    """The size rule (see the module docstring): camera ``cam`` whose images are ``size_wh`` (W, H px).

    Returns (camera, note): the camera unchanged and note None when the sizes agree; the camera with the
    video's size and a note when the video is at most MAX_CROP_PX smaller (an encoder crop at the
    right / bottom edge); RigError naming both sizes otherwise (another resolution: another calibration).
    """
    (w, h), (cw, ch) = tuple(size_wh), cam.size_wh
    if (w, h) == (cw, ch):
        return cam, None
    if not (0 <= cw - w <= MAX_CROP_PX and 0 <= ch - h <= MAX_CROP_PX):
        hint = (" (a re-encode at another resolution: calibrate at that size, or use the original video)"
                if (w, h) != (cw, ch) and abs(w / cw - h / ch) < 0.01 else "")
        raise RigError(f"{label} is {w}x{h} px but camera {cam.name} was calibrated at {cw}x{ch} px: "
                       f"expected the same size (or a crop of at most {MAX_CROP_PX} px){hint}")
    note = (f"{label} is {w}x{h} px, camera {cam.name} was calibrated at {cw}x{ch}: the calibration is used "
            f"as cropped at the right/bottom edge (focal length and principal point kept)")
    return dataclasses.replace(cam, size_wh=(w, h)), note
