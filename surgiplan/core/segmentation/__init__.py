"""Segmentation: segments on a scan's grid, editing tools, presets, .seg.nrrd and DICOM SEG.

Tools live in small modules returning new boolean masks [k, j, i]:
``threshold``, ``islands``, ``morphology``, ``logical``, ``grow``, ``interpolate``,
``scissors``; ``brush.paint`` and ``Segmentation.set_mask`` return undoable
``LabelPatch`` commands.
"""

from surgiplan.core.segmentation.dicom_seg import export_dicom_seg
from surgiplan.core.segmentation.patch import LabelPatch
from surgiplan.core.segmentation.presets import PRESETS, apply_preset
from surgiplan.core.segmentation.segmentation import Segment, Segmentation, SegmentStats
from surgiplan.core.segmentation.segmentation_io import read_segmentation, write_segmentation

__all__ = [
    "PRESETS",
    "LabelPatch",
    "Segment",
    "SegmentStats",
    "Segmentation",
    "apply_preset",
    "export_dicom_seg",
    "read_segmentation",
    "write_segmentation",
]
