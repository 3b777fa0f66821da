"""Files: rig files and their converters, OpenPose JSON, recordings, media listing, TOML values and
atomic writes. Everything read from disk is validated here with a message naming the file.
"""
from capture3d.io.atomic import atomic_open, atomic_write_text
from capture3d.io.rig_files import load_rig, save_rig

__all__ = ["atomic_open", "atomic_write_text", "load_rig", "save_rig"]
