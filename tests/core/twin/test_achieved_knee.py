"""Knee achieved vs planned from achieved component poses (core ``compare_poses``): the cuts move
with the components seated on them, so a femoral component 2 mm proximal of its plan reads as a
distal resection 2 mm deeper (resection thickness +2 mm per condyle), a tibial tray turned 3 deg
in the coronal plane reads as 3 deg of tibial component varus/valgus and of hip-knee-ankle angle,
the insert following the tray. Analytic truth on a cylinder knee (the post-op knee CT is not made)."""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from surgiplan.core.case import Case
from surgiplan.core.errors import InputError
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.catalog import load_catalog
from surgiplan.core.twin.achieved import compare_poses
from surgiplan.demo.knee import place_knee

# a right knee at the origin: femur above (flat end at z = 0), tibia below (top at z = -4)
LMS = {"hip_centre": (0, 0, 430), "knee_centre_femur": (0, 0, 5), "knee_centre_tibia": (0, 0, -6),
       "ankle_centre": (0, 0, -390), "medial_epicondyle": (40, 0, 25), "lateral_epicondyle": (-40, 0, 25)}


@pytest.fixture(scope="module")
def cat():
    return load_catalog(include_user=False)


@pytest.fixture(scope="module")
def case(tmp_path_factory, cat):
    c = Case.new(tmp_path_factory.mktemp("knee") / "Knee", user="planner")
    femur = pv.Cylinder(center=(0, 0, 100), direction=(0, 0, 1), radius=35, height=200).triangulate()
    tibia = pv.Cylinder(center=(0, 0, -104), direction=(0, 0, 1), radius=38, height=200).triangulate()
    c.add_model("femur", femur.clean().subdivide(2))
    c.add_model("tibia", tibia.clean().subdivide(2))
    for k, v in LMS.items():
        c.set_landmark(k, v, source="manual")
    c.new_plan("A")
    place_knee(c, "A", "right", slope=0.0, catalog=cat)
    return c


def _achieved(case, tray_deg: float):
    plan = case.plan("A")
    fem, tray = plan.implants["femoral"].transform, plan.implants["tray"].transform
    # 2 mm more distal resection: the femoral component sits 2 mm proximal (+S here)
    fem_a = tf.translation((0.0, 0.0, 2.0)) @ fem
    # tray turned about the antero-posterior axis through its origin
    tray_a = tf.rotation((0.0, 1.0, 0.0), tray_deg, tray[:3, 3]) @ tray
    return {"femoral": fem_a, "tray": tray_a}


def test_knee_resection_and_alignment_from_achieved_poses(case, cat):
    rep = compare_poses(case, "A", _achieved(case, 3.0), catalog=cat)
    comp = rep.comparison
    # the offsets, in the knee's mechanical frames
    fem, tray = rep.implant("femoral"), rep.implant("tray")
    assert fem.frame == "femoral mechanical" and tray.frame == "tibial mechanical"
    assert fem.translation_mm["superior"] == pytest.approx(2.0, abs=1e-6)
    assert abs(fem.translation_mm["lateral"]) < 1e-6 and fem.rotation_deg == pytest.approx(0.0, abs=1e-4)
    assert tray.rotation_deg == pytest.approx(3.0, abs=1e-4)
    assert np.linalg.norm(list(tray.translation_mm.values())) < 1e-6
    assert not rep.implant("insert").found  # not given (polyethylene: never seen in CT)
    # achieved resections: the distal cut 2 mm deeper, the tibial cut turned 3 deg
    assert comp.row("achieved:cut:distal_femur:depth").difference == pytest.approx(2.0, abs=1e-6)
    assert comp.row("achieved:cut:distal_femur:angle").difference == pytest.approx(0.0, abs=1e-4)
    assert comp.row("achieved:cut:proximal_tibia:angle").difference == pytest.approx(3.0, abs=1e-4)
    assert abs(comp.row("achieved:cut:proximal_tibia:depth").difference) < 1e-6  # turned about its own origin
    for half in ("medial", "lateral"):  # the resection thickness of each condyle: +2 mm
        r = comp.row(f"resection_thickness_distal_femur_{half}")
        assert r.difference == pytest.approx(2.0, abs=0.05), (half, r.values)
    # alignment: 3 deg of tibial component varus/valgus, the same in the planned HKA, the femur unchanged
    tib = comp.row("tibial_component_varus").difference
    assert abs(tib) == pytest.approx(3.0, abs=1e-3)
    assert comp.row("hka_planned").difference == pytest.approx(-tib, abs=1e-3)
    assert comp.row("femoral_component_varus").difference == pytest.approx(0.0, abs=1e-6)


def test_knee_varus_sign_and_bad_input(case, cat):
    a = compare_poses(case, "A", _achieved(case, 3.0), catalog=cat).comparison.row("tibial_component_varus")
    b = compare_poses(case, "A", _achieved(case, -3.0), catalog=cat).comparison.row("tibial_component_varus")
    assert a.difference == pytest.approx(-b.difference, abs=1e-3) and abs(a.difference) > 2.9
    with pytest.raises(InputError, match="no implant"):
        compare_poses(case, "A", {"stem": np.eye(4)}, catalog=cat)
