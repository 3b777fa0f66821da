"""MediaPipe Face Mesh (468 landmarks, 478 with iris refinement) -> FACE_70 (iBUG-68 + 2 pupils).

The table picks, for every iBUG-68 point, the Face Mesh vertex at the same anatomical place
(landmark numbering of MediaPipe's canonical face model; "right" is the subject's right, which is
the image left in a frontal view):

====================  =====  ==================================================================
iBUG chain            index  Face Mesh vertices
====================  =====  ==================================================================
jaw (right -> chin -> left)  0-16   127 234 93 132 58 172 136 149 152 378 365 397 288 361 323 454 356
right eyebrow (outer->inner) 17-21  70 63 105 66 107
left eyebrow (inner->outer)  22-26  336 296 334 293 300
nose bridge (top -> tip)     27-30  168 197 5 1  (1 = pronasale, the nose tip)
nose bottom (right -> left)  31-35  98 97 2 326 327
right eye (outer corner, upper lid x2, inner corner, lower lid x2)  36-41  33 160 158 133 153 144
left eye (inner corner, upper lid x2, outer corner, lower lid x2)   42-47  362 385 387 263 373 380
outer lips (right corner, upper, left corner, lower)               48-59  61 40 37 0 267 270 291 321 314 17 84 91
inner lips (right corner, upper, left corner, lower)               60-67  78 81 13 311 308 317 14 87
pupils (right, left)         68-69  iris centres 468, 473 (refine on), else the eye-contour centres
====================  =====  ==================================================================

The jaw takes 9 of the 17 vertices of the face-oval between the right temple (127) and the chin
(152) and their mirror images. Vertices 468-477 (iris) exist only with ``refine_face_landmarks``.
"""
from __future__ import annotations

import numpy as np

FACE70_FROM_MESH: tuple[int, ...] = (
    # jaw 0-16
    127, 234, 93, 132, 58, 172, 136, 149, 152, 378, 365, 397, 288, 361, 323, 454, 356,
    # eyebrows 17-26
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # nose 27-35
    168, 197, 5, 1, 98, 97, 2, 326, 327,
    # eyes 36-47
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    # lips 48-67
    61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91, 78, 81, 13, 311, 308, 317, 14, 87,
)
RIGHT_IRIS_CENTER, LEFT_IRIS_CENTER = 468, 473
_RIGHT_EYE = slice(36, 42)
_LEFT_EYE = slice(42, 48)


def mesh_to_face70(mesh_xy: np.ndarray) -> np.ndarray:
    """Face Mesh points (..., 468 or 478, 2) -> FACE_70 (..., 70, 2) in the same units.

    Pupils are the iris centres when the mesh has 478 points, else the mean of each eye's 6 contour
    points (the eye centre: a stand-in for the pupil when the gaze is straight).
    """
    mesh_xy = np.asarray(mesh_xy, dtype=float)
    n = mesh_xy.shape[-2]
    if n not in (468, 478):
        raise ValueError(f"expected (..., 468 or 478, 2) Face Mesh landmarks, got shape {mesh_xy.shape}")
    contour = mesh_xy[..., FACE70_FROM_MESH, :]  # (..., 68, 2)
    if n == 478:
        pupils = mesh_xy[..., [RIGHT_IRIS_CENTER, LEFT_IRIS_CENTER], :]
    else:
        pupils = np.stack([contour[..., _RIGHT_EYE, :].mean(axis=-2), contour[..., _LEFT_EYE, :].mean(axis=-2)], axis=-2)
    return np.concatenate([contour, pupils], axis=-2)
