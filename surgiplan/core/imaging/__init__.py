"""Imaging: DICOM discovery and loading, the Volume, volume files, de-identification."""

from surgiplan.core.imaging.volume import Volume, orientation_labels
from surgiplan.core.imaging.volume_io import read_volume, write_volume

__all__ = ["Volume", "orientation_labels", "read_volume", "write_volume"]
