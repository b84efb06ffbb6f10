"""Knee components move with their cuts (core ``cut_components``): a deeper distal cut moves the
femoral component proximally by the same amount, an angled cut turns it onto the new plane, the
tibial tray and insert follow the tibial cut; each edit is one undo step."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from surgiplan.core.case import Case
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.catalog import load_catalog
from surgiplan.core.planning.cut_components import follow_plane
from surgiplan.core.planning.knee_cuts import knee_cut_readout, set_knee_cut
from surgiplan.demo.knee import place_knee

# a right knee at the origin: femur above (rounded end at z = 0), tibia below (top at z = -4)
LMS = {"hip_centre": (0, 0, 430), "knee_centre_femur": (0, 0, 5), "knee_centre_tibia": (0, 0, -6),
       "ankle_centre": (0, 0, -390), "medial_epicondyle": (40, 0, 25), "lateral_epicondyle": (-40, 0, 25)}


@pytest.fixture(scope="module")
def cat():
    return load_catalog(include_user=False)


@pytest.fixture
def case(tmp_path, cat):
    c = Case.new(tmp_path / "Knee", user="planner")
    femur = pv.Cylinder(center=(0, 0, 100), direction=(0, 0, 1), radius=35, height=200).triangulate()
    femur = femur.clean().subdivide(2)
    tibia = pv.Cylinder(center=(0, 0, -104), direction=(0, 0, 1), radius=38, height=200).triangulate()
    tibia = tibia.clean().subdivide(2)
    c.add_model("femur", femur)
    c.add_model("tibia", tibia)
    for k, v in LMS.items():
        c.set_landmark(k, v, source="manual")
    c.new_plan("A")
    place_knee(c, "A", "right", catalog=cat)
    return c


def test_deeper_distal_cut_moves_the_femoral_component_proximally(case, cat):
    before = case.implant("A", "femoral").transform.copy()
    tray = case.implant("A", "tray").transform.copy()
    n = len(case.history._undo)
    set_knee_cut(case, "A", "distal_femur", 11.0, 0.0, 0.0)  # 9 -> 11 mm
    assert len(case.history._undo) == n + 1
    after = case.implant("A", "femoral").transform
    # the femur's mechanical axis here is +S: 2 mm more bone off = the component 2 mm higher
    np.testing.assert_allclose(after[:3, 3] - before[:3, 3], [0, 0, 2.0], atol=1e-9)
    np.testing.assert_allclose(after[:3, :3], before[:3, :3], atol=1e-12)
    np.testing.assert_array_equal(case.implant("A", "tray").transform, tray)  # the tibia's cut did not move
    r = knee_cut_readout(case, "A", "distal_femur")
    assert r.depth_mm == pytest.approx(11.0, abs=1e-9)
    # the component's origin lies on the cut, its +z along the cut normal
    rs = case.plan("A").resections["distal_femur"]
    assert (after[:3, 3] - rs.origin) @ rs.normal == pytest.approx(0.0, abs=1e-9)
    case.history.undo()
    np.testing.assert_array_equal(case.implant("A", "femoral").transform, before)


def test_angled_cuts_turn_the_components_onto_the_new_plane(case, cat):
    set_knee_cut(case, "A", "distal_femur", 9.0, 3.0, 0.0)
    f = case.implant("A", "femoral").transform
    rs = case.plan("A").resections["distal_femur"]
    assert tf.angle_between_deg(f[:3, 2], rs.normal) < 1e-9
    assert abs((f[:3, 3] - rs.origin) @ rs.normal) < 1e-9
    before = {k: case.implant("A", k).transform.copy() for k in ("tray", "insert")}
    set_knee_cut(case, "A", "proximal_tibia", 11.0, 0.0, 7.0)  # 9 -> 11 mm, slope 3 -> 7 deg
    rt = case.plan("A").resections["proximal_tibia"]
    for k in ("tray", "insert"):
        t = case.implant("A", k).transform
        assert tf.angle_between_deg(t[:3, 2], -rt.normal) < 1e-9  # +z proximal, the cut's normal distal
        assert abs((t[:3, 3] - rt.origin) @ rt.normal) < 1e-9  # still seated on the cut
        # the component turned about its own origin and slid along the new normal only
        d = t[:3, 3] - before[k][:3, 3]
        assert np.linalg.norm(np.cross(d, rt.normal)) < 1e-9
    assert knee_cut_readout(case, "A", "proximal_tibia").depth_mm == pytest.approx(11.0, abs=1e-9)
    # without moving the components: only the plane changes
    tray = case.implant("A", "tray").transform.copy()
    set_knee_cut(case, "A", "proximal_tibia", 8.0, 0.0, 7.0, move_components=False)
    np.testing.assert_array_equal(case.implant("A", "tray").transform, tray)


def test_follow_plane_keeps_an_offset_and_the_in_plane_position():
    t = tf.frame((10, 5, 3), (1, 0, 0), (0, 0, 1))
    out = follow_plane(t, (0, 0, 0), (0, 0, 1), (0, 0, 4), (0, 0, 1))
    np.testing.assert_allclose(out[:3, 3], [10, 5, 7], atol=1e-12)  # 3 mm above the plane stays 3 mm
    out = follow_plane(t, (0, 0, 3), (0, 0, 1), (0, 0, 3), tf.rotation_matrix((1, 0, 0), 10) @ [0, 0, 1])
    assert tf.angle_between_deg(out[:3, 2], tf.rotation_matrix((1, 0, 0), 10) @ [0, 0, 1]) < 1e-9
    with pytest.raises(Exception, match="zero length"):
        follow_plane(t, (0, 0, 0), (0, 0, 0), (0, 0, 1), (0, 0, 1))
