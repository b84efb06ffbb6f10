"""The Compare step lists a vessel study's native (before the stent) values beside each plan's own, at 4
significant digits (a pressure ratio 0.9989 must not read 1.0); stored summaries, no solve."""

from __future__ import annotations

import json

import pytest
from PySide6 import QtCore, QtWidgets

from tests.gui.conftest import wait_jobs

pytest.importorskip("pytestqt")
pytestmark = pytest.mark.gui

WHERE = "stenosis"
ROWS = [{"quantity": "pressure drop across the lesion", "region": WHERE, "unit": "mmHg", "pre": 4.213,
         "post": 0.072, "change": -4.141},
        {"quantity": "distal/proximal pressure ratio", "region": WHERE, "unit": "1", "pre": 0.9541, "post": 0.9992,
         "change": 0.0451}]


def _store(root, plan: str, native: dict, rows) -> None:
    from surgiplan.core.case import Case
    from surgiplan.core.case.schema import StudyRef

    folder = root / "studies" / f"{plan}--vessel-rest"
    folder.mkdir(parents=True)
    summary = {"case_study": {"plan": plan, "study": "vessel-rest"},
               "key_results": [{"label": r["quantity"], "value": r["post"], "unit": r["unit"], "region": r["region"]}
                               for r in rows],
               "pre_post": {"native": native, "rows": rows}}
    (folder / "summary.json").write_text(json.dumps(summary))
    case = Case.open(root)
    case.model.studies.append(StudyRef(name=f"{plan}--vessel-rest", path=f"studies/{plan}--vessel-rest", plan=plan))
    case.dirty = True
    case.save()


def test_compare_step_shows_before_and_after_per_plan(window, qtbot, tmp_path):
    from surgiplan.gui.panels.compare_panel import COL_A, COL_B, ROLE
    from tests.core.simulation._vessel_tiny_case import tiny_vessel_case

    root = tmp_path / "tube"
    tiny_vessel_case(root, plans=("A", "B"))
    _store(root, "A", {"status": "solved"}, ROWS)
    _store(root, "B", {"status": "failed", "reason": "did not converge"}, [dict(r, pre=None) for r in ROWS])
    win = window
    win.open_path(root)
    wait_jobs(qtbot, win)
    win.show_step("Compare")
    cmp = win.panels["Compare"]
    cmp.a.setCurrentText("A")
    cmp.b.setCurrentText("B")
    qtbot.mouseClick(cmp.findChild(QtWidgets.QPushButton, "compare"), QtCore.Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, win)
    assert win.last_error == "", win.last_error
    t = cmp.table
    rows = {t.item(r, 0).data(ROLE): r for r in range(t.rowCount())
            if t.item(r, 0) is not None and t.item(r, 0).data(ROLE) is not None}
    before = "study:vessel-rest before the stent (native lumen)"
    r = rows[f"{before}: pressure drop across the lesion ({WHERE})"]
    assert t.item(r, COL_A).text() == "4.213 mmHg" and t.item(r, COL_B).text() == "–"
    r = rows[f"{before}: distal/proximal pressure ratio ({WHERE})"]
    assert t.item(r, COL_A).text() == "0.9541"
    r = rows[f"study:vessel-rest: distal/proximal pressure ratio ({WHERE})"]
    assert t.item(r, COL_A).text() == "0.9992" and t.item(r, COL_B).text() == "0.9992"
    r = rows[f"{before}: result"]
    assert t.item(r, COL_B).text() == "missing: did not converge"
