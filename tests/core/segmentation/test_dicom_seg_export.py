"""DICOM SEG export through highdicom, read back and compared voxel by voxel; bad source refused."""

from __future__ import annotations

import warnings

import highdicom as hd
import numpy as np
import pytest

from surgiplan.core.errors import GeometryError
from surgiplan.core.imaging import Volume
from surgiplan.core.segmentation import Segmentation, islands
from surgiplan.core.segmentation.dicom_seg import export_dicom_seg
from surgiplan.core.segmentation.scan_source import load_scan
from surgiplan.core.segmentation.threshold import threshold
from tests.conftest import require_shared


def test_skull_as_dicom_seg(tmp_path):
    folder = require_shared("ct", "ct_head_phantom_bone_1mm")
    v = load_scan(folder)
    seg = Segmentation.from_volume(v)
    skull = islands.keep_largest(threshold(v, 300, None))
    seg.add_segment("skull", skull)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # highdicom: the phantom's one-word patient name
        out = export_dicom_seg(seg, folder, tmp_path / "skull.seg.dcm")
        back = hd.seg.segread(out)
    assert back.number_of_segments == 1 and back.get_segment_description(1).segment_label == "skull"
    ref = {s.ReferencedSOPInstanceUID for s in back.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert len(ref) == 140
    vol = back.get_volume()
    arr = vol.array[..., 0] > 0
    # map every SEG frame to our slice through its LPS position (highdicom indexes (slice, row, column))
    ks = [int(round(v.world_to_index((vol.affine @ [n, 0, 0, 1])[:3])[2])) for n in range(arr.shape[0])]
    for n, k in enumerate(ks):
        assert np.array_equal(arr[n], skull[k]), f"frame {n} (our slice {k})"
    assert skull.sum() == arr.sum()  # the omitted frames are empty

    other = Segmentation.from_volume(Volume(v.array, (0.9, 0.9, 2.0), v.origin, v.direction))
    other.add_segment("skull", skull)
    with pytest.raises(GeometryError, match="not a slice of the segmentation grid"):
        export_dicom_seg(other, folder, tmp_path / "bad.dcm")
    assert not (tmp_path / "bad.dcm").exists()
