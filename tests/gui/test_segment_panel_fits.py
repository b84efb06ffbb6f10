"""The Segment panel fits its column: the Apply preset button is not clipped (it was, behind the
long name of the hip preset in the preset box)."""

from __future__ import annotations

from PySide6 import QtWidgets


def test_apply_preset_button_and_rows_fit_the_panel(window, qtbot):
    window.show()
    window.show_step("Segment")
    panel = window.panels["Segment"]
    btn = panel.findChild(QtWidgets.QPushButton, "apply_preset")
    qtbot.waitUntil(lambda: btn.isVisible() and btn.width() > 0)
    # nothing in the panel is wider than what its column shows (no clipped right edge), once laid out
    assert panel.widget().minimumSizeHint().width() <= panel.viewport().width()
    qtbot.waitUntil(lambda: panel.widget().width() <= panel.viewport().width(), timeout=5000)
    assert btn.visibleRegion().boundingRect().width() == btn.width() >= btn.sizeHint().width()
    # every preset keeps its whole name in the list and the tooltip
    combo = panel.preset_combo
    names = [combo.itemText(i) for i in range(combo.count())]
    assert any(n.startswith("Hip bones (") for n in names)
    assert combo.view().minimumWidth() >= combo.view().sizeHintForColumn(0)
    assert all(n in combo.toolTip() for n in names)
