"""The timeline's "Show achieved implants" in the real window: the implants of the current plan found in
the registered post-op spine scan are drawn (gold) beside the planned ones (blue), at the poses the core's
``achieved_vs_planned`` (``surgiplan plan achieved``) finds, and the known 2 mm screw offset shows."""

from __future__ import annotations

import numpy as np
import pytest

from tests.gui.conftest import wait_jobs

pytestmark = [pytest.mark.gui]
SCAN = "post-op-2026-03-02"


@pytest.fixture
def registered_case(tmp_path):
    from surgiplan.core.samples.postop import build_planning_case, postop_sample_path
    from surgiplan.core.twin import add_later_scan, register_scan

    pp = postop_sample_path("spine")
    case = build_planning_case("spine", tmp_path / "Case", models=True)
    add_later_scan(case, pp.volume, "2026-03-02", "postop")
    register_scan(case, SCAN, "L3")
    case.save()
    return case.root


def test_achieved_implants_drawn_beside_the_planned(window, qtbot, registered_case, tmp_path):
    from PySide6 import QtCore

    from surgiplan.core.twin.achieved import achieved_vs_planned

    win = window
    data = win.panels["Data"]
    data.open_case(registered_case)
    wait_jobs(qtbot, win)
    win.current_plan = "planned"
    tl = data.timeline
    assert tl.b_combo.currentText() == SCAN
    qtbot.mouseClick(tl.picture.parent().findChild(type(data.load_button), "timeline_achieved"),
                     QtCore.Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, win)
    rep = tl.achieved
    assert rep is not None and rep.plan == "planned" and all(r.found for r in rep.implants)
    actors = {str(n) for n in win.view3d.plotter.actors}
    for r in rep.implants:
        assert f"twin_planned:{r.id}" in actors and f"twin_achieved:{r.id}" in actors
    # the drawn achieved screw sits where the core puts it (parity with `surgiplan plan achieved`)
    core = achieved_vs_planned(win.case, "planned", SCAN)
    for a, b in zip(rep.implants, core.implants, strict=True):
        assert np.allclose(a.achieved, b.achieved, atol=1e-6)
    moved = max(rep.implants, key=lambda r: np.linalg.norm(list(r.translation_mm.values())))
    assert 1.5 < np.linalg.norm(list(moved.translation_mm.values())) < 2.5  # the sample's 2 mm medial screw
    act = win.view3d.plotter.actors[f"twin_achieved:{moved.id}"]
    centre = np.asarray(act.GetMapper().GetInput().GetCenter())
    assert np.linalg.norm(centre - moved.achieved[:3, 3]) < 40.0
    assert "found in" in win.status_label.text() and "gold: achieved" in win.status_label.text()
    win.view3d.set_camera("posterior")
    qtbot.wait(200)
    win.grab().save(str(tmp_path / "achieved.png"))  # (docs/images/twin/gui_achieved_3d.png)
