"""The Report step in the real window: preview pages made by the core's render_report (the same
call as `surgiplan report`), shown with QtPdf; export writes what was previewed, refuses a path
inside the case; de-identification follows the check box."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from tests.gui.conftest import wait_jobs

pytestmark = [pytest.mark.gui]


@pytest.fixture
def case_dir(tmp_path) -> Path:
    """A case with a patient, a sphere 'pelvis', plan A (52 mm cup, left) and its copy B (54 mm)."""
    import pyvista as pv

    from surgiplan.core.case import Case
    from surgiplan.core.planning.plan import PlacedImplant

    root = tmp_path / "hip-case"
    case = Case.new(root, patient_name="DOE^JANE", patient_id="P-12345")
    case.add_model("pelvis", pv.Sphere(radius=40.0, theta_resolution=40, phi_resolution=40))
    case.new_plan("A", note="cup only")
    t = np.eye(4)
    t[:3, 3] = (20.0, 0.0, 0.0)
    case.add_implant("A", PlacedImplant("cup", "hip_cup", "52", t, side="left", bone="pelvis"))
    case.copy_plan("A", "B")
    case.set_implant_size("B", "cup", "54")
    case.save()
    return root


def _text(pdf: bytes | Path, tmp_path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    if isinstance(pdf, bytes):
        (tmp_path / "t.pdf").write_bytes(pdf)
        pdf = tmp_path / "t.pdf"
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_report_step_previews_and_exports(window, qtbot, case_dir, tmp_path):
    from surgiplan.gui.panels.report_panel import PAGE_PX

    win = window
    win.open_path(case_dir)
    wait_jobs(qtbot, win)
    assert win.last_error == "", win.last_error
    assert win.sidebar.buttons["Report"].isEnabled()
    win.show_step("Report")
    panel = win.panels["Report"]
    assert [panel.plan.itemText(i) for i in range(panel.plan.count())] == ["A", "B"]
    panel.plan.setCurrentText("A")
    assert [panel.compare.itemText(i) for i in range(panel.compare.count())] == ["(none)", "B"]
    assert "Not approved" in panel.approval.text()
    panel.compare.setCurrentText("B")
    qtbot.mouseClick(panel.findChild(QtWidgets.QPushButton, "report_preview_button"),
                     QtCore.Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, win, timeout_ms=240_000)
    assert win.last_error == "", win.last_error
    assert panel.view is not None and panel.view.isVisible() and not win.layout_widget.isVisible()
    text = _text(panel.pdf, tmp_path)
    pages = [p for p in text.split("\f") if p.strip()]
    assert len(panel.view.pages) == len(pages) >= 4
    assert f"{len(pages)} pages" in panel.info.text()
    img = panel.view.pages[0].pixmap().toImage()
    assert img.width() == PAGE_PX
    # the side box (black, top right of every page) shows in the preview
    a = np.array([[QtGui.QColor(img.pixel(x, y)).value() for x in range(img.width() - 120, img.width() - 60, 4)]
                  for y in range(50, 90, 4)])
    assert a.mean() < 60
    assert "LEFT" in pages[0] and "Plan comparison: A and B" in text
    assert "DOE" not in text and "P-12345" not in text  # de-identified by default

    # export: another setting makes the report again before writing; the file is what was previewed
    panel.deidentify.setChecked(False)
    out = tmp_path / "out" / "plan-A.pdf"
    assert panel.export_to(out) is False  # making it first
    wait_jobs(qtbot, win, timeout_ms=240_000)
    qtbot.waitUntil(out.exists, timeout=10_000)
    assert out.read_bytes() == panel.pdf
    named = _text(out, tmp_path)
    assert "DOE^JANE" in named and "P-12345" in named

    # a path inside the case (not its reports/ folder) is refused, nothing written
    bad = case_dir / "models" / "report.pdf"
    assert panel.export_to(bad) is False
    assert "inside the case folder" in win.last_error and not bad.exists()
    win.last_error = ""
    good = case_dir / "reports" / "A.pdf"
    assert panel.export_to(good) is True and good.read_bytes() == panel.pdf
