"""Imaging: DICOM discovery and loading, the Volume, volume files, de-identification."""

from surgiplan.core.imaging.dicom_discovery import Discovery, SeriesInfo, SkippedFile, discover
from surgiplan.core.imaging.dicom_loader import load_dicom, load_series
from surgiplan.core.imaging.volume import Volume, orientation_labels
from surgiplan.core.imaging.volume_io import read_volume, write_volume

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
