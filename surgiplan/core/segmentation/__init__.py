"""Segmentation: segments on a scan's grid, editing tools, presets, .seg.nrrd and DICOM SEG."""

from surgiplan.core.segmentation.patch import LabelPatch
from surgiplan.core.segmentation.segmentation import Segment, Segmentation, SegmentStats
from surgiplan.core.segmentation.segmentation_io import read_segmentation, write_segmentation

__all__ = [
    "LabelPatch",
    "Segment",
    "SegmentStats",
    "Segmentation",
    "read_segmentation",
    "write_segmentation",
]
