"""Hip planning on analytic geometry: fits, cup/stem placement, measurements vs exact values,
scripted plan reproduced from the saved case, comparison table."""

from __future__ import annotations

import json

import numpy as np
import pytest
from planning_analytic import CANAL_POINT, HEAD, HEAD_R, PELVIS_LANDMARKS, femur, pelvis_block

from surgiplan.core.case import Case
from surgiplan.core.planning import PlacedImplant
from surgiplan.core.planning import placement as pl
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.catalog import load_catalog
from surgiplan.core.planning.comparison import compare_plans
from surgiplan.core.planning.fitting import (
    acetabular_centre,
    femoral_canal_axis,
    femoral_head_centre,
    fit_sphere,
)
from surgiplan.core.planning.measurements import measure_plan


@pytest.fixture(scope="module")
def cat():
    return load_catalog(include_user=False)


@pytest.fixture(scope="module")
def bones():
    return femur(), pelvis_block()


def test_sphere_fit_exact_on_noisy_points():
    rng = np.random.default_rng(1)
    d = rng.normal(size=(500, 3))
    d /= np.linalg.norm(d, axis=1)[:, None]
    d = d[d[:, 2] > 0.2]  # a cap only
    pts = np.array([1.0, -2, 3]) + 24.0 * d + rng.normal(scale=0.05, size=d.shape)
    f = fit_sphere(pts)
    assert np.linalg.norm(f.centre - [1, -2, 3]) < 0.05 and abs(f.radius - 24) < 0.05


def test_automatic_landmarks_on_analytic_femur_and_pelvis(bones):
    fem, pelv = bones
    h = femoral_head_centre(fem.points)
    assert np.linalg.norm(h.centre - HEAD) < 0.3 and abs(h.radius - HEAD_R) < 0.3
    a = acetabular_centre(pelv.points, h.centre, h.radius)
    assert np.linalg.norm(a.centre - HEAD) < 0.3 and abs(a.radius - 25) < 0.3
    p, d = femoral_canal_axis(fem, h.centre, start_mm=70)
    assert tf.angle_between_deg(d, [0, 0, 1]) < 0.3
    assert np.hypot(p[0] - 120, p[1]) < 0.3


def test_murray_angles_round_trip_exactly():
    pelvis = pl.pelvic_frame(*(PELVIS_LANDMARKS[k] for k in (
        "asis_left", "asis_right", "pubic_tubercle_left", "pubic_tubercle_right")))
    for side in ("left", "right"):
        for ri, ra in ((40, 15), (45, 20), (30, 0), (55, 30)):
            t = pl.cup_pose((0, 0, 0), ri, ra, side, pelvis)
            got = pl.radiographic_angles(t[:3, 2], side, pelvis)
            assert got == pytest.approx((ri, ra), abs=1e-9)
    # known vector: axis straight lateral-inferior at 45 deg in the coronal plane (left hip)
    a = np.array([1.0, 0, -1]) / np.sqrt(2)
    assert pl.radiographic_angles(a, "left") == pytest.approx((45.0, 0.0))
    # anteverted 30 deg: opening faces anterior (-y in LPS)
    a = np.array([np.cos(np.radians(30)) * np.sin(np.radians(40)), -np.sin(np.radians(30)),
                  -np.cos(np.radians(30)) * np.cos(np.radians(40))])
    assert pl.radiographic_angles(a, "left") == pytest.approx((40.0, 30.0))


def _hip_case(tmp_path, bones, cat):
    fem, pelv = bones
    case = Case.new(tmp_path / "Hip", user="planner")
    case.add_model("femur_left", fem)
    case.add_model("pelvis", pelv)
    for k, v in PELVIS_LANDMARKS.items():
        case.set_landmark(k, v, source="manual")
    case.set_landmark("femoral_canal_axis_left", CANAL_POINT, (0, 0, 1))
    case.set_landmark("femoral_canal_axis_right", (-120, 0, -100), (0, 0, 1))
    pelvis = pl.pelvic_frame(*(PELVIS_LANDMARKS[k] for k in (
        "asis_left", "asis_right", "pubic_tubercle_left", "pubic_tubercle_right")))
    stem_p = cat.get("hip_stem_standard").size("5")
    with case.history.group("plan A"):
        case.new_plan("A")
        case.add_implant("A", PlacedImplant("cup", "hip_cup", "52", pl.cup_pose(HEAD, 40, 15, "left", pelvis),
                                            side="left", bone="pelvis"))
        case.add_implant("A", PlacedImplant(
            "stem", "hip_stem_standard", "5",
            pl.stem_pose(stem_p, CANAL_POINT, (0, 0, 1), HEAD), side="left", bone="femur_left",
            options={"head": "32/0"}))
    return case, pelvis


def test_scripted_hip_plan_measurements_exact(tmp_path, bones, cat):
    case, pelvis = _hip_case(tmp_path, bones, cat)
    m = {r.key: r for r in measure_plan(case, "A", cat)}
    assert m["cup_inclination"].value == pytest.approx(40.0, abs=1e-9)
    assert m["cup_anteversion"].value == pytest.approx(15.0, abs=1e-9)
    assert m["cor_shift"].value == pytest.approx(0.0, abs=1e-9)
    stem_off = cat.get("hip_stem_standard").size("5")["offset"]
    assert m["femoral_offset_change"].value == pytest.approx(stem_off - 40.0, abs=1e-9)
    assert m["native_femoral_offset_left"].value == pytest.approx(40.0, abs=1e-9)
    assert m["leg_length_change"].value == pytest.approx(0.0, abs=1e-9)
    assert m["leg_length_difference"].value == pytest.approx(0.0, abs=1e-9)
    assert m["stem_version"].value == pytest.approx(0.0, abs=1e-9)
    assert "Murray" in m["cup_inclination"].definition and m["cup_inclination"].unit == "deg"
    # move the cup 5 mm superior (pelvic axis) and 3 mm medial: numbers follow exactly
    t = pl.translate(case.implant("A", "cup").transform, (-3, 0, 5), pelvis)
    case.set_implant_transform("A", "cup", t)
    m = {r.key: r.value for r in measure_plan(case, "A", cat)}
    assert m["cor_shift_superior"] == pytest.approx(5.0, abs=1e-9)
    assert m["cor_shift_medial"] == pytest.approx(3.0, abs=1e-9)
    assert m["leg_length_change"] == pytest.approx(-5.0, abs=1e-9)
    assert m["leg_length_difference"] == pytest.approx(-5.0, abs=1e-9)
    # +4 head: 4 mm more along the neck -> leg longer by 4*cos(48 deg) component
    case.set_implant_size("A", "stem", "5", {"head": "32/+4"})
    m2 = {r.key: r.value for r in measure_plan(case, "A", cat)}
    ccd = cat.get("hip_stem_standard").size("5")["neck_shaft_angle"]
    assert m2["leg_length_change"] - m["leg_length_change"] == pytest.approx(
        4 * np.cos(np.radians(180 - ccd)), abs=1e-9)
    # rotating a left stem +10 deg about the (superior) canal axis turns the neck anterior
    t = pl.rotate(case.implant("A", "stem").transform, (0, 0, 1), 10.0, "world",
                  centre=CANAL_POINT)
    case.set_implant_transform("A", "stem", t)
    v = {r.key: r.value for r in measure_plan(case, "A", cat)}["stem_version"]
    assert v == pytest.approx(10.0, abs=1e-9)


def test_plan_reproduced_exactly_from_saved_case_and_compared(tmp_path, bones, cat):
    case, pelvis = _hip_case(tmp_path, bones, cat)
    case.copy_plan("A", "B")
    cup_b = pl.cup_pose(HEAD, 45, 20, "left", pelvis)
    case.set_implant_transform("B", "cup", cup_b)
    case.set_implant_size("B", "stem", "6")
    case.save()
    before = {p: [r.to_dict() for r in measure_plan(case, p, cat)] for p in ("A", "B")}
    again = Case.open(case.root)
    after = {p: [r.to_dict() for r in measure_plan(again, p, cat)] for p in ("A", "B")}
    assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)
    comp = compare_plans(again, ["A", "B"], targets={"cup_inclination": (30, 42)}, catalog=cat)
    inc = comp.row("cup_inclination")
    assert inc.values == pytest.approx({"A": 40.0, "B": 45.0}) and inc.difference == pytest.approx(5.0)
    assert inc.target == (30.0, 42.0) and inc.in_range == {"A": True, "B": False}
    av = comp.row("cup_anteversion")
    assert av.target == (5.0, 25.0) and av.in_range == {"A": True, "B": True}
    assert comp.row("implant:stem").values == {"A": "hip_stem_standard 5 head=32/0",
                                               "B": "hip_stem_standard 6 head=32/0"}
    vol = comp.row("interference_volume_cup")
    assert vol.unit == "mm^3" and vol.values["A"] > 0  # the cup sits in bone (reaming needed)
    d = json.loads(comp.to_json())
    assert {r["key"] for r in d["rows"]} >= {"cup_inclination", "leg_length_change"}
    csv_text = comp.to_csv()
    assert csv_text.splitlines()[0].startswith("group,quantity,unit,A,B,difference,target_min")
    assert "Cup inclination (radiographic),deg,40.0000,45.0000,5.0000,30.0,42.0,True,False" in csv_text
    assert "OUT" in comp.to_text()
