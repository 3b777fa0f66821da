"""Several people in one take: {person id: Keypoints3D} written and read in every format.

CSV and JSON hold every person in one file (a ``person`` column after ``time_s``; ``person_id`` per JSON
entry). TRC, C3D and BVH describe one skeleton per file, so each person gets its own file,
``<name>_person<id>.<ext>`` beside the requested path, which OpenSim and Blender open as they do today.
"""
from __future__ import annotations

import dataclasses

import os
from pathlib import Path

from capture3d.errors import ExportError
from capture3d.export import FORMATS, format_of
from capture3d.export.csvfile import check_same_take, read_people_csv, write_people_csv
from capture3d.export.jsonfile import read_people_json, write_people_json
from capture3d.types import Keypoints3D

#: formats that hold every person in one file: name -> (writer, reader)
ONE_FILE = {"csv": (write_people_csv, read_people_csv), "json": (write_people_json, read_people_json)}


def person_path(path: str | os.PathLike, person_id: int) -> Path:
    """``<dir>/<stem>_person<id><suffix>``: the file of one person in a one-skeleton-per-file format."""
    p = Path(path)
    return p.with_name(f"{p.stem}_person{int(person_id)}{p.suffix}")


def write_people(path: str | os.PathLike, people: dict[int, Keypoints3D], fmt: str | None = None) -> list[Path]:
    """Write every person of a take in the format of the path's suffix (or ``fmt``). Atomic per file.

    people: {id: sequence}, the same frames and keypoint set. Returns the files written: one for CSV and
    JSON, one per person (``person_path``) for the others. ExportError for an empty or inconsistent take."""
    name = format_of(path, fmt)
    check_same_take(people, path)
    people = dict(sorted(people.items()))
    if name in ONE_FILE:  # one file for everybody: a person's own metadata key does not describe it
        people = {pid: dataclasses.replace(kp, metadata={k: v for k, v in kp.metadata.items() if k != "person"})
                  for pid, kp in people.items()}
        return [ONE_FILE[name][0](path, people)]
    return [FORMATS[name][1](person_path(path, pid), kp) for pid, kp in people.items()]


def read_people(path: str | os.PathLike, fmt: str | None = None) -> dict[int, Keypoints3D]:
    """Read every person of a CSV or JSON file ({id: sequence}; a one-person file gives {0: sequence})."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"3D keypoint file not found: {path}")
    name = format_of(path, fmt)
    if name not in ONE_FILE:
        raise ExportError(f"{path}: {name.upper()} holds one person per file; several people are read from "
                          f"CSV or JSON (the {name.upper()} files of a take are <name>_person<id>{path.suffix})")
    return ONE_FILE[name][1](path)


def select_person(people: dict[int, Keypoints3D], person_id: int, path: str | os.PathLike) -> Keypoints3D:
    """The sequence of one person; ExportError listing the ids when there is no such person."""
    if list(people) == [0]:
        raise ExportError(f"{path} holds one person (no 'person' column / person_id): leave out --person "
                          f"{person_id} to read it")
    if person_id not in people:
        raise ExportError(f"{path}: no person {person_id}; the file holds person ids "
                          f"{', '.join(map(str, sorted(people)))}")
    return people[person_id]


def read_person(path: str | os.PathLike, person_id: int | None = None, fmt: str | None = None) -> Keypoints3D:
    """One person's sequence: the file's only person (person_id None), or person ``person_id`` of a CSV or
    JSON that holds several (ExportError listing the ids when there is no such person)."""
    from capture3d.export import read_keypoints3d  # noqa: PLC0415

    if person_id is None:
        return read_keypoints3d(path, fmt)
    return select_person(read_people(path, fmt), int(person_id), path)
