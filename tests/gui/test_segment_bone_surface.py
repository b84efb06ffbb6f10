"""Segment panel, "All bone": the partial-volume surface by default, the fixed 200 HU surface when
"Fixed 200 HU surface" is ticked; the same masks as ``surgiplan segment`` [--fixed-threshold]."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from surgiplan.core.segmentation.presets import apply_preset
from tests.core.segmentation.test_partial_volume_band import _scene
from tests.gui.conftest import wait_jobs
from tests.gui.test_segment_presets import choose, click

pytestmark = [pytest.mark.gui]


def test_bone_preset_surface_follows_the_checkbox(window, qtbot):
    vol, truth = _scene()
    win = window
    win.set_volume(vol)
    win.show_step("Segment")
    panel = win.panels["Segment"]
    choose(qtbot, panel.preset_combo, "bone")
    assert not panel.bone_fixed.isChecked()
    click(qtbot, win, "apply_preset")
    wait_jobs(qtbot, win)
    default = win.segmentation.mask("bone").copy()
    assert np.array_equal(default, apply_preset(vol, "bone").mask("bone"))
    qtbot.mouseClick(panel.bone_fixed, QtCore.Qt.MouseButton.LeftButton,
                     pos=QtCore.QPoint(8, panel.bone_fixed.height() // 2))
    assert panel.bone_fixed.isChecked()
    click(qtbot, win, "apply_preset")
    wait_jobs(qtbot, win)
    fixed = win.segmentation.mask("bone")
    assert np.array_equal(fixed, apply_preset(vol, "bone", partial_volume=False).mask("bone"))
    # the fixed surface sits ~0.9 mm outside this blurred ball; the default is within 4 % of its volume
    assert fixed.sum() / truth.sum() - 1 > 0.12 and abs(default.sum() / truth.sum() - 1) < 0.04
