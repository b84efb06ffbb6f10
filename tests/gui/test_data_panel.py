"""The Data step's DICOM browser in the real window: a folder with two series of the hip
sample (the original short names, and a copy with a long patient name, study and series
description) lists patient / study / series readably in the narrow panel column: names
across the whole width, each series as a card (description, number, modality, slices,
spacing) beside its thumbnail, the full texts in tooltips; an empty folder is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6 import QtGui

from tests.gui.conftest import wait_jobs

pytestmark = [pytest.mark.gui]

LONG_NAME = "VANDENBERGHE-OOSTERHUIS^MARIA-THERESA^ANNA"
LONG_SERIES = "CT PELVIS 1.25mm STND W/O CONTRAST BONE RECON AXIAL"
LONG_STUDY = "CT PELVIS AND BOTH HIPS PREOPERATIVE PLANNING PROTOCOL"


@pytest.fixture
def two_series(tmp_path) -> Path:
    """Six hip slices as they are, and six more as another patient with long texts."""
    import pydicom
    from pydicom.uid import generate_uid

    from surgiplan.core.samples import sample_path

    files = sorted(Path(sample_path("hip").dicom_dir).glob("*.dcm"))[70:76]
    out = tmp_path / "dicom"
    out.mkdir()
    study, series = generate_uid(), generate_uid()
    for i, f in enumerate(files):
        ds = pydicom.dcmread(f)
        ds.save_as(out / f"a{i:02d}.dcm")
        ds.PatientName, ds.PatientID = LONG_NAME, "LONG-0001"
        ds.StudyDescription, ds.SeriesDescription = LONG_STUDY, LONG_SERIES
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = generate_uid()
        ds.save_as(out / f"b{i:02d}.dcm")
    return out


def _needed(tree, item, text: str, font: QtGui.QFont, icon: bool) -> int:
    """Pixels the first column needs to show ``text`` (widest line) of ``item`` unclipped."""
    depth, p = 0, item.parent()
    while p is not None:
        depth, p = depth + 1, p.parent()
    fm = QtGui.QFontMetrics(font)
    lines = max(fm.horizontalAdvance(line) for line in text.split("\n"))
    return (depth + 1) * tree.indentation() + (tree.iconSize().width() + 4 if icon else 0) + lines + 8


def test_dicom_tree_is_readable_in_the_panel(window, qtbot, two_series, tmp_path):
    win = window
    data = win.panels["Data"]
    data.browse_dicom(two_series)
    wait_jobs(qtbot, win)
    assert win.last_error == ""
    tree = data.tree
    assert tree.topLevelItemCount() == 2
    pats = {tree.topLevelItem(i).toolTip(0): tree.topLevelItem(i) for i in range(2)}
    short = next(it for tip, it in pats.items() if "SYN-HIP-0001" in tip)
    long_ = next(it for tip, it in pats.items() if "LONG-0001" in tip)

    # the short names show in full: patient and study span the row, the series card fits
    patient, study, series = short, short.child(0), short.child(0).child(0)
    assert patient.isFirstColumnSpanned() and study.isFirstColumnSpanned()
    assert patient.text(0).startswith("SYNTHETIC, HIP") and "SYN-HIP-0001" in patient.text(0)
    assert "CT PELVIS HIPS (synthetic phantom)" in study.text(0) and "2024-01-15" in study.text(0)
    card = series.text(0).split("\n")
    assert card[0] == "Hip 2.0 mm (small)" and "CT" in card[1] and "6 slices" in card[1]
    assert card[2] == "2 × 2 × 2 mm"
    assert series.text(1) == "CT" and series.text(2) == "6" and "×" in series.text(3)
    assert not series.icon(0).isNull()  # the thumbnail
    width = tree.viewport().width()
    for it in (patient, study, series):
        need = _needed(tree, it, it.text(0), it.font(0), icon=it is series)
        assert need <= tree.visualItemRect(it).right() + 1 <= width + 1, (it.text(0), need)
        assert tree.visualItemRect(it).right() + 1 >= width - 1  # the text reaches across the tree
    assert tree.horizontalScrollBar().maximum() == 0  # no sideways scrolling

    # the long texts are elided on screen but complete in the tooltips
    lp, ls, lser = long_, long_.child(0), long_.child(0).child(0)
    assert "VANDENBERGHE-OOSTERHUIS, MARIA-THERESA ANNA" in lp.toolTip(0) and "LONG-0001" in lp.toolTip(0)
    assert LONG_STUDY in ls.toolTip(0)
    assert LONG_SERIES in lser.toolTip(0) and "6 slices" in lser.toolTip(0)
    assert lser.text(0).split("\n")[0] == LONG_SERIES

    # choosing a series describes it; an empty folder is refused with a message naming
    # it and the listing stays as it was
    tree.setCurrentItem(series)
    assert "190 × 190 pixels × 6 slices" in data.series_info.text()
    assert data.load_button.isEnabled()
    empty = tmp_path / "empty"
    empty.mkdir()
    data.browse_dicom(empty)
    wait_jobs(qtbot, win)
    assert str(empty) in win.last_error and "no DICOM files" in win.last_error
    assert tree.topLevelItemCount() == 2 and data.load_button.isEnabled()
    assert str(two_series) in data.skipped_label.text()
