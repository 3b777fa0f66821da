"""The KeypointSet type: a named, ordered set of joints with a tree, bones and left/right pairs.

Joint names follow one vocabulary across every set (``LShoulder``, ``RBigToe``, ``LHand_Index2``,
``Face_Jaw3``, ...): converting between sets and checking which set data looks like work by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Default colours: left joints blue, right joints red, centre joints green (RGB).
_LEFT_RGB, _RIGHT_RGB, _CENTRE_RGB = (0, 140, 255), (255, 60, 40), (60, 220, 60)


def side_of(name: str) -> str:
    """'L', 'R' or '' for a joint name of the shared vocabulary (``LHip`` -> 'L', ``Neck`` -> '')."""
    if len(name) > 1 and name[0] in "LR" and name[1].isupper():
        return name[0]
    return ""


@dataclass(frozen=True)
class KeypointSet:
    """A named, ordered set of keypoints with a tree (parents) and the bones to draw.

    parents[j] is the parent joint index of j, or -1 for a root. bones are (a, b) index pairs to draw.
    lr_pairs are (left, right)-mirrored joint index pairs (order within a pair: as listed by the set).
    colors_rgb: (J, 3) uint8 colours per joint (OpenPose rendering colours where they exist).
    """

    name: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    bones: tuple[tuple[int, int], ...]
    lr_pairs: tuple[tuple[int, int], ...] = ()
    colors_rgb: tuple[tuple[int, int, int], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        n = len(self.names)
        if len(self.parents) != n:
            raise ValueError(f"{self.name}: {n} names but {len(self.parents)} parents")
        if len(set(self.names)) != n:
            raise ValueError(f"{self.name}: duplicate joint names")
        for a, b in self.bones:
            if not (0 <= a < n and 0 <= b < n):
                raise ValueError(f"{self.name}: bone ({a}, {b}) outside 0..{n - 1}")

    @property
    def n_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Index of a joint by name; KeyError lists the valid names."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"{self.name} has no joint {name!r}; joints: {', '.join(self.names)}") from None

    def swap_permutation(self) -> np.ndarray:
        """(J,) int index array that maps every joint to its mirrored twin (identity elsewhere)."""
        perm = np.arange(self.n_joints)
        for a, b in self.lr_pairs:
            perm[a], perm[b] = b, a
        return perm

    def colors(self) -> np.ndarray:
        """(J, 3) uint8 RGB colours: the set's own, else left blue, right red, centre green."""
        if len(self.colors_rgb) == self.n_joints:
            return np.asarray(self.colors_rgb, dtype=np.uint8)
        rgb = {"L": _LEFT_RGB, "R": _RIGHT_RGB, "": _CENTRE_RGB}
        return np.array([rgb[side_of(n)] for n in self.names], dtype=np.uint8)


def bones_from_parents(parents: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """(parent, child) pairs of every joint with a parent."""
    return tuple((p, j) for j, p in enumerate(parents) if p >= 0)


def mirror_pairs(names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """(left, right) index pairs of the names ``L<x>`` / ``R<x>`` present in ``names``."""
    idx = {n: i for i, n in enumerate(names)}
    return tuple((i, idx["R" + n[1:]]) for i, n in enumerate(names) if side_of(n) == "L" and "R" + n[1:] in idx)


def make_set(name: str, names: tuple[str, ...], parent_of: dict[str, str],
             extra_bones: tuple[tuple[str, str], ...] = (),
             extra_pairs: tuple[tuple[int, int], ...] = ()) -> KeypointSet:
    """Build a set from joint names and a {child: parent} name map (joints absent from it are roots).

    Bones are the tree's bones plus ``extra_bones`` (name pairs, drawn only); left/right pairs are the
    ``L<x>``/``R<x>`` name pairs plus ``extra_pairs`` (index pairs, e.g. face contour points)."""
    idx = {n: i for i, n in enumerate(names)}
    unknown = sorted((set(parent_of) | set(parent_of.values()) | {n for b in extra_bones for n in b}) - set(idx))
    if unknown:
        raise ValueError(f"{name}: joints {unknown} are not among its names")
    parents = tuple(idx[parent_of[n]] if n in parent_of else -1 for n in names)
    bones = bones_from_parents(parents) + tuple((idx[a], idx[b]) for a, b in extra_bones)
    return KeypointSet(name, names, parents, bones, mirror_pairs(names) + tuple(extra_pairs))
