"""BodyPartExamined and ContrastBolusAgent reach the loaded volume's metadata, where the
Segment step's default preset and the contrast plausibility check read them (issue 28 #4)."""

from __future__ import annotations

import shutil

import pydicom

from surgiplan.core.imaging import load_dicom
from surgiplan.core.segmentation.plausibility import has_contrast
from surgiplan.core.segmentation.presets import suggest_preset
from tests.conftest import require_shared


def test_body_part_and_contrast_from_the_headers(tmp_path):
    src = require_shared("dicom", "ct_axial_plain_philips")
    plain = load_dicom(src)
    assert plain.metadata["body_part"] == "BRAIN" and plain.metadata["contrast_agent"] == ""
    assert not has_contrast(plain) and suggest_preset(plain.metadata) == "bone"
    dst = tmp_path / "knee_cta"
    shutil.copytree(src, dst)
    for f in sorted(p for p in dst.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(f)
        except pydicom.errors.InvalidDicomError:
            continue
        ds.BodyPartExamined = "KNEE"
        ds.ContrastBolusAgent = "IOMERON 350"
        ds.save_as(f)
    vol = load_dicom(dst)
    assert vol.metadata["body_part"] == "KNEE" and vol.metadata["contrast_agent"] == "IOMERON 350"
    assert has_contrast(vol) and suggest_preset(vol.metadata) == "knee-bones"
