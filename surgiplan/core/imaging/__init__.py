"""Imaging: DICOM discovery and loading, the Volume, volume files, de-identification.

The names are imported on first use (PEP 562): reading a NRRD/NIfTI volume
(``surgiplan segment``, ``surgiplan model``) does not load pydicom and the DICOM
decoders (about 1 s per process).
"""

from __future__ import annotations

import importlib

#: public name -> module of this package that defines it
_LAZY = {
    "Discovery": "dicom_discovery",
    "SeriesInfo": "dicom_discovery",
    "SkippedFile": "dicom_discovery",
    "discover": "dicom_discovery",
    "load_dicom": "dicom_loader",
    "load_series": "dicom_loader",
    "Volume": "volume",
    "orientation_labels": "volume",
    "read_volume": "volume_io",
    "write_volume": "volume_io",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"surgiplan.core.imaging.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "Discovery",
    "SeriesInfo",
    "SkippedFile",
    "Volume",
    "discover",
    "load_dicom",
    "load_series",
    "orientation_labels",
    "read_volume",
    "write_volume",
]
