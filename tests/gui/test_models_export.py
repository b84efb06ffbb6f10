"""Issue 28 bug 8b/8c: exporting several selected models writes one file each (and asks
before replacing any), and the export dialog never opens in the DICOM folder."""

from __future__ import annotations

from pathlib import Path

from tests.gui.conftest import wait_jobs
from tests.gui.plan_case import knee_case_dir, knee_case_template, open_case  # noqa: F401


def _models_step(qtbot, win, root):
    open_case(qtbot, win, root)
    win.show_step("Models")
    panel = win.panels["Models"]
    panel.activated()
    qtbot.wait(50)
    return panel


def _click_row(qtbot, table, r, ctrl=False):
    from PySide6 import QtCore

    rect = table.visualItemRect(table.item(r, 0))
    mod = QtCore.Qt.KeyboardModifier.ControlModifier if ctrl else QtCore.Qt.KeyboardModifier.NoModifier
    qtbot.mouseClick(table.viewport(), QtCore.Qt.MouseButton.LeftButton, mod, rect.center())


def _click_export(qtbot, panel):
    from PySide6 import QtCore, QtWidgets

    b = panel.findChild(QtWidgets.QPushButton, "export_model")
    qtbot.mouseClick(b, QtCore.Qt.MouseButton.LeftButton)


def test_two_selected_models_are_two_files_and_replacing_asks(window, qtbot, knee_case_dir, tmp_path):  # noqa: F811
    from surgiplan.core.surfaces import read_mesh

    win = window
    panel = _models_step(qtbot, win, knee_case_dir)
    table = panel.table
    assert table.rowCount() >= 2
    names = [table.item(r, 0).text() for r in (0, 1)]
    _click_row(qtbot, table, 0)
    _click_row(qtbot, table, 1, ctrl=True)
    assert panel.selected_models() == names

    out = tmp_path / "exports"
    out.mkdir()
    starts, asked = [], []
    panel._choose_folder = lambda start, n: starts.append((start, n)) or out
    panel._confirm = lambda text: asked.append(text) or False
    panel.fmt.setCurrentText("stl")
    _click_export(qtbot, panel)
    wait_jobs(qtbot, win)
    assert win.last_error == "", win.last_error
    assert starts and starts[0][1] == 2
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(f"{n}.stl" for n in names), files
    for n in names:
        mesh = read_mesh(out / f"{n}.stl")
        assert mesh.n_cells == win.case.get_model(n).n_cells
    assert not asked and panel.last_export_folder == out
    assert "Wrote 2 models" in win.status_label.text(), win.status_label.text()

    # again into the same folder: asked first; "No" leaves both files as they were
    before = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    _click_export(qtbot, panel)
    wait_jobs(qtbot, win)
    assert len(asked) == 1 and all(f"{n}.stl" in asked[0] for n in names)
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == before
    # the next dialog starts where the last export went
    assert starts[-1][0] == out


def test_the_export_dialog_does_not_open_in_the_dicom_folder(window, qtbot, knee_case_dir, tmp_path):  # noqa: F811
    win = window
    panel = _models_step(qtbot, win, knee_case_dir)
    dicom = tmp_path / "CD" / "DICOM"  # where the scan was read from (often a read-only CD)
    dicom.mkdir(parents=True)
    win.settings.last_folder = str(dicom)
    _click_row(qtbot, panel.table, 0)
    starts = []
    panel._choose_file = lambda start, name, fmt: starts.append(start) or None  # cancelled
    _click_export(qtbot, panel)
    assert len(starts) == 1
    start = Path(starts[0]).resolve()
    assert not start.is_relative_to(dicom.resolve())
    assert not start.is_relative_to(win.case.root.resolve())
    assert start == win.case.root.parent.resolve()  # the case folder's parent
    # a single model is written to the file chosen, and the next dialog starts there
    target = tmp_path / "out" / "one.stl"
    target.parent.mkdir()
    panel._choose_file = lambda start, name, fmt: starts.append(start) or target
    _click_export(qtbot, panel)
    wait_jobs(qtbot, win)
    assert target.is_file() and win.last_error == ""
    _click_export(qtbot, panel)
    wait_jobs(qtbot, win)
    assert Path(starts[-1]) == target.parent
