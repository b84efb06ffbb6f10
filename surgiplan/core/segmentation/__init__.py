"""Segmentation: segments on a scan's grid, editing tools, presets, .seg.nrrd and DICOM SEG.

Tools live in small modules returning new boolean masks [k, j, i]:
``threshold``, ``islands``, ``morphology``, ``logical``, ``grow``, ``interpolate``,
``scissors``; ``brush.paint`` and ``Segmentation.set_mask`` return undoable
``LabelPatch`` commands.
"""

from surgiplan.core.segmentation.patch import LabelPatch
from surgiplan.core.segmentation.segmentation import Segment, Segmentation, SegmentStats
from surgiplan.core.segmentation.segmentation_io import read_segmentation, write_segmentation

#: imported on first use (PEP 562): ``surgiplan model`` reads a segmentation without loading the
#: presets (SimpleITK, the vessel tracker) or DICOM SEG (highdicom)
_LAZY = {"PRESETS": "presets", "apply_preset": "presets", "export_dicom_seg": "dicom_seg"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"surgiplan.core.segmentation.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
