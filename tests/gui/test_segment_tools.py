"""Segment panel tools driven with real mouse events in the slice views, on the hip sample:
separate a merged femur+pelvis from clicked seeds (against the sample's label map),
scissors by clicked corners and by a freehand drag (against the polygon's own voxels),
and undo/redo through the case history."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore
from skimage.measure import points_in_poly

from tests.gui.conftest import wait_jobs

pytestmark = [pytest.mark.gui]
LEFT = QtCore.Qt.MouseButton.LeftButton


def dice(a, b) -> float:
    return float(2 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b)))


@pytest.fixture
def hip(window):
    """The hip sample's scan in the window, its labels (1 pelvis, 2 femur_left, 3 femur_right)."""
    from surgiplan.core.imaging import read_volume
    from surgiplan.core.samples import sample_path

    sp = sample_path("hip")
    vol = read_volume(sp.volume)
    window.set_volume(vol)
    # no software-rendered volume in the 3D view: each redraw would cost seconds under Xvfb
    window.view3d.show_volume(vol, "off")
    window.show_step("Segment")
    return vol, read_volume(sp.labels).array, sp.load_ground_truth()["landmarks"]


def with_segment(win, vol, name, mask, before: str | None = None):
    """A segmentation holding ``name`` (after an empty segment ``before``), ``name`` selected."""
    from surgiplan.core.segmentation import Segmentation

    seg = Segmentation.from_volume(vol)
    if before:
        seg.add_segment(before)
    seg.add_segment(name, mask)
    win.set_segmentation(seg)
    panel = win.panels["Segment"]
    panel.table.selectRow(seg.names.index(name))
    assert panel.selected_segment() == name
    return seg, panel


def point(view, win, lps) -> QtCore.QPoint:
    p = view.xyz_to_widget(win.state.world_to_xyz(lps))
    return QtCore.QPoint(round(p.x()), round(p.y()))


def merged_hip(vol, lab):
    """Pelvis, right femur and both as one piece (the joint space closed, as a low threshold
    or a narrow joint does)."""
    from scipy import ndimage

    from surgiplan.core.segmentation import morphology

    pelvis, femur = lab == 1, lab == 3
    merged = morphology.closing(pelvis | femur, 3.0, vol.spacing) | pelvis | femur
    assert ndimage.label(merged, np.ones((3, 3, 3)))[1] == 1
    return pelvis, femur, merged


def click_seeds(qtbot, win, panel, vol, pelvis, gt) -> np.ndarray:
    """Seed clicks: femur_right at the head centre (coronal view), pelvis at its deepest voxel
    (axial view); returns that pelvis point (LPS mm)."""
    from scipy import ndimage

    qtbot.mouseClick(panel.sep_seed_btn, LEFT)
    assert panel.sep_seed_btn.isChecked()
    head = np.asarray(gt["femoral_head_centre_right"]["position"])
    deep = np.unravel_index(np.argmax(ndimage.distance_transform_edt(pelvis)), pelvis.shape)
    in_pelvis = vol.index_to_world(np.array(deep[::-1], float))
    cor, ax = win.slice_views["coronal"], win.slice_views["axial"]
    for target, lps, view in (("femur_right", head, cor), ("pelvis", in_pelvis, ax)):
        panel.target_combo.setCurrentText(target)
        win.state.set_crosshair_world(lps)
        cross = win.state.crosshair.copy()
        qtbot.mouseClick(view, LEFT, pos=point(view, win, lps))
        assert np.array_equal(win.state.crosshair, cross)  # a seed click, not a crosshair move
    return in_pelvis


def seed_drawn(win, panel, view: str, lps, target: str) -> bool:
    """The seed at ``lps`` is drawn in ``target``'s colour in slice view ``view``."""
    v = win.slice_views[view]
    img = v.grab().toImage()
    p = point(v, win, lps)
    drawn = img.pixelColor(p.x(), p.y())
    expected = np.asarray(panel.separation.color(target)) * 255
    return bool(np.abs(np.array([drawn.red(), drawn.green(), drawn.blue()]) - expected).max() < 40)


def test_separate_touching_femur_and_pelvis_from_clicked_seeds(window, hip, qtbot):
    win = window
    vol, lab, gt = hip
    pelvis, femur, merged = merged_hip(vol, lab)
    seg, panel = with_segment(win, vol, "bone", merged)
    in_pelvis = click_seeds(qtbot, win, panel, vol, pelvis, gt)
    cor, ax = win.slice_views["coronal"], win.slice_views["axial"]
    seeds = panel.separation.seeds
    assert list(seeds) == ["femur_right", "pelvis"] and all(len(v) == 1 for v in seeds.values())
    assert np.linalg.norm(seeds["pelvis"][0] - in_pelvis) < 2.0  # mm: the click landed there
    assert "femur_right" in panel.seed_summary.text()
    assert seed_drawn(win, panel, "axial", in_pelvis, "pelvis")  # in its structure's colour

    qtbot.mouseClick(panel.findChild(type(panel.sep_seed_btn), "separate"), LEFT)
    wait_jobs(qtbot, win)
    assert win.last_error == ""
    assert sorted(seg.names) == ["femur_right", "pelvis"]  # nothing left over: "bone" is gone
    assert dice(seg.mask("femur_right"), femur) > 0.95
    assert dice(seg.mask("pelvis"), pelvis) > 0.95
    assert not panel.separation.seeds and panel.table.rowCount() == 2
    assert seg.segment("femur_right").color != seg.segment("pelvis").color

    win.undo.undo()
    assert seg.names == ["bone"] and np.array_equal(seg.mask("bone"), merged)
    assert panel.table.rowCount() == 1 and panel.selected_segment() == "bone"
    win.undo.redo()
    assert sorted(seg.names) == ["femur_right", "pelvis"] and dice(seg.mask("pelvis"), pelvis) > 0.95

    # a structure without seeds inside the segment is refused with the core's message
    panel.table.selectRow(seg.names.index("pelvis"))
    assert not panel.sep_seed_btn.isChecked()  # separating ends seed placement
    qtbot.mouseClick(panel.sep_seed_btn, LEFT)
    panel.target_combo.setCurrentText("femur_left")
    win.state.set_crosshair_world(np.asarray(gt["femoral_head_centre_left"]["position"]))
    qtbot.mouseClick(cor, LEFT, pos=point(cor, win, gt["femoral_head_centre_left"]["position"]))
    panel.target_combo.setCurrentText("pelvis")
    qtbot.mouseClick(ax, LEFT, pos=point(ax, win, in_pelvis))
    before = seg.layers[0].copy()
    panel.separate()
    wait_jobs(qtbot, win)
    assert "femur_left" in win.last_error and "inside" in win.last_error
    assert np.array_equal(seg.layers[0], before)


def test_seeds_kept_with_the_case_across_save_and_reopen(window, hip, qtbot):
    """Seeds clicked, case saved, reopened in the window: the same seeds (LPS mm) are listed and
    drawn, and separating with them gives the sample's femur and pelvis."""
    from surgiplan.core.case.seeds import SEEDS_FILE

    win = window
    vol, lab, gt = hip
    pelvis, femur, merged = merged_hip(vol, lab)
    win.view3d.volume_preset = "off"  # reopening must not start a software volume rendering
    seg, panel = with_segment(win, vol, "bone", merged)
    in_pelvis = click_seeds(qtbot, win, panel, vol, pelvis, gt)
    clicked = {n: np.array(p) for n, p in panel.separation.seeds.items()}
    assert win.case is not None and win.case.dirty and win.isWindowModified()
    win.save_case()
    wait_jobs(qtbot, win)
    assert win.last_error == ""
    root = win.case.root
    sidecar = root / "scans" / win.scan_name / SEEDS_FILE
    assert sidecar.is_file()

    win.open_path(root)  # a fresh Case and Segmentation from the folder
    wait_jobs(qtbot, win)
    assert win.last_error == "" and win.case.root == root and win.segmentation is not seg
    win.show_step("Segment")
    got = panel.separation.seeds
    assert list(got) == ["femur_right", "pelvis"]
    for n, pts in clicked.items():
        np.testing.assert_array_equal(np.array(got[n]), pts)
    assert "femur_right" in panel.seed_summary.text() and "pelvis" in panel.seed_summary.text()
    assert not win.case.dirty  # restoring is not an edit
    win.state.set_crosshair_world(in_pelvis)
    assert seed_drawn(win, panel, "axial", in_pelvis, "pelvis")

    seg = win.segmentation
    panel.table.selectRow(seg.names.index("bone"))
    panel.separate()
    wait_jobs(qtbot, win)
    assert win.last_error == ""
    assert sorted(seg.names) == ["femur_right", "pelvis"]
    assert dice(seg.mask("femur_right"), femur) > 0.95 and dice(seg.mask("pelvis"), pelvis) > 0.95
    assert not panel.separation.seeds  # used up: the next save drops the file
    win.save_case()
    wait_jobs(qtbot, win)
    assert not sidecar.exists()


def test_scissors_clicked_polygon_and_freehand_drag(window, hip, qtbot):
    win = window
    vol, lab, gt = hip
    bones = lab > 0
    seg, panel = with_segment(win, vol, "bones", bones, before="contrast")
    qtbot.mouseClick(panel.scissors_btn, LEFT)
    assert panel.scissors_btn.isChecked()

    # 1. axial view, corners clicked around the right femoral head, closed on the first corner
    ax = win.slice_views["axial"]
    head = np.asarray(gt["femoral_head_centre_right"]["position"])
    win.state.set_crosshair_world(head)
    corners = [head + np.array(d) for d in ([-22, -18, 0], [20, -20, 0], [24, 16, 0], [-15, 22, 0])]
    clicks = [point(ax, win, c) for c in corners]
    for c in clicks:
        qtbot.mouseClick(ax, LEFT, pos=c)
    assert len(panel.scissors.points) == 4 and np.array_equal(seg.mask("bones"), bones)
    qtbot.mouseClick(ax, LEFT, pos=clicks[0] + QtCore.QPoint(2, -1))  # close
    assert not panel.scissors.points
    # ground truth: every voxel whose centre lies inside the clicked outline (x, y), all slices
    poly = np.array([win.state.xyz_to_world(ax.widget_to_xyz(QtCore.QPointF(c)))[:2] for c in clicks])
    k, j, i = bones.shape
    ij = np.stack(np.meshgrid(np.arange(i), np.arange(j), indexing="xy"), -1).reshape(-1, 2)
    xy = vol.index_to_world(np.c_[ij, np.zeros(len(ij))])[:, :2]
    inside = points_in_poly(xy, poly).reshape(j, i)
    expected = bones & ~inside[None]
    cut = seg.mask("bones")
    assert np.array_equal(cut, expected)
    assert np.count_nonzero(bones & inside[None]) > 1000  # it did cut the head and neck
    assert "voxels changed" in win.status_label.text()
    assert panel.selected_segment() == "bones"
    win.undo.undo()
    assert np.array_equal(seg.mask("bones"), bones)
    win.undo.redo()
    assert np.array_equal(seg.mask("bones"), expected)

    # 2. freehand drag in the coronal view, erasing the current slice only
    panel.scissors_extent.setCurrentIndex(panel.scissors_extent.findData("slice"))
    cor = win.slice_views["coronal"]
    left_head = np.asarray(gt["femoral_head_centre_left"]["position"])
    win.state.set_crosshair_world(left_head)
    j0 = cor.slice_index()
    ring = [left_head + 25 * np.array([np.cos(t), 0, np.sin(t)]) for t in np.linspace(0, 2 * np.pi, 24)]
    pts = [point(cor, win, q) for q in ring]
    qtbot.mousePress(cor, LEFT, pos=pts[0])
    for q in pts[1:]:
        qtbot.mouseMove(cor, q)
    qtbot.mouseRelease(cor, LEFT, pos=pts[-1])
    after = seg.mask("bones")
    changed = np.argwhere(after != expected)
    assert len(changed) > 100
    along_j = np.unique(changed[:, 1])  # coronal slices are j = const on this axial grid
    assert along_j.tolist() == [int(round(vol.world_to_index(left_head)[1]))]
    assert cor.slice_index() == j0
    win.undo.undo()
    assert np.array_equal(seg.mask("bones"), expected)
    win.undo.undo()
    assert np.array_equal(seg.mask("bones"), bones)


def test_threshold_to_segment_keeps_others_by_default_and_undo_gives_voxels_back(window, qtbot):
    """Issue 28's lost vessel: a new threshold segment over an existing one."""
    from tests.gui.test_window import phantom

    win = window
    win.set_volume(phantom())
    seg_panel = win.panels["Segment"]
    seg_panel.lo.setValue(200.0)
    seg_panel.hi.setValue(3000.0)
    seg_panel.threshold_to_segment()  # threshold_1: the bone ball
    seg = win.segmentation
    ball = seg.mask("threshold_1").copy()
    assert ball.any()
    seg_panel.lo.setValue(-200.0)  # water and bone
    assert seg_panel.overwrite_combo.currentData() == "none"
    seg_panel.threshold_to_segment()
    assert np.array_equal(seg.mask("threshold_1"), ball) and not (seg.mask("threshold_2") & ball).any()
    win.undo.undo_action.trigger()
    assert seg.names == ["threshold_1"]
    seg_panel.overwrite_combo.setCurrentIndex(seg_panel.overwrite_combo.findData("all"))
    seg_panel.threshold_to_segment()
    assert not seg.mask("threshold_1").any() and seg.mask("threshold_2")[ball].all()
    win.undo.undo_action.trigger()  # the taken voxels come back to threshold_1
    assert seg.names == ["threshold_1"] and np.array_equal(seg.mask("threshold_1"), ball)
    win.undo.redo_action.trigger()
    assert seg.mask("threshold_2")[ball].all() and not seg.mask("threshold_1").any()
