"""Placement moves, snapping, resections, general measurements and interference on analytic
shapes; segment edits (LabelPatch) undone through the case's one history."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from surgiplan.core.case import Case
from surgiplan.core.imaging import Volume
from surgiplan.core.planning import PlacedImplant
from surgiplan.core.planning import placement as pl
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.catalog import load_catalog
from surgiplan.core.planning.interference import (
    BoneField,
    ImplantSamples,
    gertzbein_robbins,
    interference,
    screw_breach,
)
from surgiplan.core.planning.measurements import general
from surgiplan.core.planning.operations import move_implant
from surgiplan.core.planning.resection import plane_from_angles, resect


def test_moves_by_numbers_in_own_and_world_axes():
    t = tf.frame((10, 20, 30), (0, 1, 0), (1, 0, 0))  # own x = world y, own z = world x
    moved = pl.translate(t, (1, 2, 3), "own")
    np.testing.assert_allclose(moved[:3, 3], [10 + 3, 20 + 1, 30 + 2], atol=1e-12)
    np.testing.assert_allclose(pl.translate(t, (1, 2, 3), "world")[:3, 3], [11, 22, 33])
    r = pl.rotate(t, "z", 90.0, "own")  # about own z (world x) through the origin: origin fixed
    np.testing.assert_allclose(r[:3, 3], t[:3, 3], atol=1e-12)
    np.testing.assert_allclose(r[:3, 0], [0, 0, 1], atol=1e-12)  # own x (world y) -> world z
    w = pl.rotate(t, (0, 0, 1), 180.0, "world", centre=(0, 0, 0))
    np.testing.assert_allclose(w[:3, 3], [-10, -20, 30], atol=1e-12)
    assert tf.check_rigid(w) is not None


def test_snap_to_surface_puts_anchor_on_sphere_and_aligns_normal():
    sphere = pv.Sphere(radius=30, theta_resolution=120, phi_resolution=120)
    t = tf.translation((50, 5, 3))
    s = pl.snap_to_surface(t, sphere, align_axis="z")
    assert np.linalg.norm(s[:3, 3]) == pytest.approx(30, abs=0.05)
    assert tf.angle_between_deg(s[:3, 2], s[:3, 3]) < 2.0  # +z along the outward normal


def test_resection_of_a_box_reports_thickness_and_volume():
    box = pv.Box(bounds=(-20, 20, -20, 20, -30, 0), level=3).triangulate()
    o, n = plane_from_angles((0, 0, -30), (0, 0, 1), (0, -1, 0), 9.0, distal=True)
    res = resect(box, o, n, split_origin=(0, 0, 0), split_normal=(1, 0, 0))
    assert res.thickness_mm == pytest.approx(9.0)
    assert res.removed_volume_mm3 == pytest.approx(40 * 40 * 9, rel=1e-6)
    assert res.kept.bounds[4] == pytest.approx(-21.0)
    # 5 deg tilt about the anterior axis: the +x half reaches 9 cos 5 + 20 sin 5 mm below the plane
    o, n = plane_from_angles((0, 0, -30), (0, 0, 1), (0, -1, 0), 9.0, varus_valgus_deg=5, distal=True)
    res = resect(box, o, n, split_origin=(0, 0, 0), split_normal=(1, 0, 0), half_names=("a", "b"))
    a = np.radians(5)
    assert res.thickness_by_half_mm["a"] == pytest.approx(9 * np.cos(a) + 20 * np.sin(a), abs=1e-9)
    assert res.thickness_by_half_mm["b"] < res.thickness_by_half_mm["a"]


def test_general_measurements_are_exact():
    assert general.distance((0, 0, 0), (3, 4, 12)).value == 13.0
    assert general.angle((1, 0, 0), (0, 0, 0), (0, 1, 1)).value == pytest.approx(90.0)
    cube = pv.Cube(x_length=10, y_length=20, z_length=30).triangulate()
    assert general.area(cube).value == pytest.approx(2 * (200 + 300 + 600))
    v = general.volume(cube)
    assert v.value == pytest.approx(6000.0) and v.unit == "mm^3" and "closed surface" in v.definition
    assert "open edges" in general.volume(cube.clip("z")).details["warning"]


@pytest.fixture(scope="module")
def block_field():
    block = pv.Box(bounds=(-40, 40, -40, 40, -40, 0), level=4).triangulate()
    return BoneField(block)


def test_interference_volume_and_distance_on_a_block(block_field):
    cat = load_catalog(include_user=False)
    g = cat.get("hip_cup").geometry("50")
    s = ImplantSamples.from_meshes(list(g.parts.values()))
    shell = 2 / 3 * np.pi * (25**3 - 22**3)
    r = interference(block_field, s, tf.translation((0, 0, 0)))  # hemisphere fully inside the block
    assert r.penetration_volume_mm3 == pytest.approx(shell, rel=0.01)
    v = s.surface  # deepest surface point: largest distance to the nearest block face
    depth = np.min([-v[:, 2], v[:, 2] + 40, 40 - np.abs(v[:, 0]), 40 - np.abs(v[:, 1])], axis=0)
    assert r.max_penetration_mm == pytest.approx(depth.max(), abs=0.05)
    r = interference(block_field, s, tf.translation((0, 0, 32.0)))  # dome 7 mm above the top face
    assert r.penetration_volume_mm3 == 0 and r.min_distance_mm == pytest.approx(7.0, abs=1e-6)


def test_screw_breach_depth_direction_and_grade(block_field):
    cat = load_catalog(include_user=False)
    geom = cat.get("spine_pedicle_screw").geometry("6.0x40")
    s = ImplantSamples.from_meshes(geom.contact())
    # screw entering the top face, axis straight down, 1.5 mm from the +x side wall: contained
    t = pl.screw_pose((40 - 4.5, 0, 0), (40 - 4.5, 0, -10))
    assert screw_breach(block_field, s, t, midline_x=0.0).breach_mm == 0.0
    # 2 mm outside the +x wall: the thread crests stick out 2 + 3 - ... = 2 mm + radius
    t = pl.screw_pose((40 + 2 - 3, 0, 0), (40 + 2 - 3, 0, -10))
    b = screw_breach(block_field, s, t, midline_x=0.0)
    assert b.breach_mm == pytest.approx(2.0, abs=0.05) and b.direction == "lateral" and b.grade == "C"
    assert [gertzbein_robbins(x) for x in (0, 1.9, 2, 4, 6.5)] == ["A", "B", "C", "D", "E"]


def test_segment_edits_share_the_case_undo_history(tmp_path):
    from surgiplan.core.segmentation import Segmentation, read_segmentation
    from surgiplan.core.segmentation.brush import paint

    arr = np.zeros((20, 20, 20), np.int16)
    vol = Volume(arr, (1.0, 1.0, 1.0))
    lab = np.zeros((20, 20, 20), np.uint8)
    lab[5:10, 5:10, 5:10] = 1
    seg = Segmentation.from_labelmap(Volume(lab, (1.0, 1.0, 1.0)), names={1: "bone"})
    case = Case.new(tmp_path / "c", user="t")
    case.add_scan("ct", vol, segmentation=seg)
    case.add_model("bone", pv.Cube(center=(7, 7, 7), x_length=5, y_length=5, z_length=5).triangulate())
    case.new_plan("A")
    case.add_implant("A", PlacedImplant("cup", "hip_cup", "44", tf.identity()))
    s = case.segmentation("ct")
    before = s.layers[0].copy()
    case.record(paint(s, "bone", (15, 15, 15), 3.0))
    painted = s.layers[0].copy()
    assert (painted != before).sum() > 50
    move_implant(case, "A", "cup", translate=(1, 0, 0), frame="world")
    case.undo()
    assert case.implant("A", "cup").transform[0, 3] == 0.0
    case.undo()
    np.testing.assert_array_equal(s.layers[0], before)
    case.redo()
    np.testing.assert_array_equal(s.layers[0], painted)
    case.save()
    again = read_segmentation(case.root / "scans/ct/segmentation.seg.nrrd")
    np.testing.assert_array_equal(again.layers[0], painted)
    assert any("paint bone" in e["what"] for e in case.audit_log())


def test_cup_coverage_and_stem_breach_on_analytic_bones(block_field):
    """Issue 28 #9: what a surgeon checks for seated implants, against hand-made geometry."""
    from surgiplan.core.planning.measurements.interference import cup_coverage, stem_cortex_breach

    cat = load_catalog(include_user=False)
    cup = cat.get("hip_cup").geometry("50")
    # cup centre on the block's top face, opening up: the whole outer shell is in bone
    assert cup_coverage(block_field, cup.contact(), (0, 0, 0), (0, 0, 1), 25.0) == pytest.approx(100.0)
    # opening sideways (+x): the half of the shell below the face is covered, plus the 1 mm band
    # above it that counts as touching: a sphere zone of height h has area 2 pi R h, so
    # (pi R^2 + pi R * 1) / (2 pi R^2) = 50 % + 100 / (2 R) %
    t = tf.frame((0, 0, 0), (0, 0, -1), (1, 0, 0))  # own x -> -S, own z -> +L
    posed = [m.transform(t, inplace=False) for m in cup.contact()]
    assert cup_coverage(block_field, posed, (0, 0, 0), (1, 0, 0), 25.0) == pytest.approx(50.0 + 100.0 / 50.0, abs=0.5)
    # a stem in a 12 mm cylinder "femur": contained, then pushed 6 mm through its wall
    stem = cat.get("hip_stem_standard")
    size = stem.sizes[0]
    s = ImplantSamples.from_meshes(stem.geometry(size).contact())
    femur = pv.Cylinder(center=(0, 0, -60), direction=(0, 0, 1), radius=30.0, height=260, resolution=96)
    field = BoneField(femur.triangulate())
    off = float(stem.size(size)["offset"])
    inside = tf.translation((off, 0, 0))  # stem axis (own x = -offset) on the cylinder's axis
    assert stem_cortex_breach(field, s, inside) == (0.0, 0.0)
    p = s.surface
    distal = p[:, 2] <= p[:, 2].min() + np.ptp(p[:, 2]) * 2 / 3
    reach = np.max((p[:, 0] + off)[distal])  # how far the distal stem reaches in +x from the axis
    shifted = tf.translation((off + 30.0 - reach + 6.0, 0, 0))
    assert stem_cortex_breach(field, s, shifted)[0] == pytest.approx(6.0, abs=0.5)
    # a femur model cut short 20 mm above the stem tip (the scan ends): not a breach there
    short = pv.Cylinder(center=(0, 0, p[:, 2].min() + 20.0 + 60.0), direction=(0, 0, 1), radius=30.0,
                        height=120, resolution=96).triangulate()
    breach, beyond = stem_cortex_breach(BoneField(short), s, inside, short.points)
    assert breach == 0.0 and beyond == pytest.approx(20.0, abs=0.5)
