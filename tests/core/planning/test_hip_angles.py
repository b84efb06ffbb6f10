"""Typed cup and stem angles (core ``hip_angles``): Murray's three conventions against their
geometric definitions and his published conversions, the pose measured back by the independent
hip measurements on a tilted pelvis, one undo step, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from planning_analytic import CANAL_POINT, HEAD, PELVIS_LANDMARKS

from surgiplan.core.case import Case
from surgiplan.core.errors import InputError
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.catalog import load_catalog
from surgiplan.core.planning.hip_angles import (
    compute_hip_pose,
    convert_cup_angles,
    cup_angles,
    cup_axis,
    hip_angles,
    set_hip_angles,
)
from surgiplan.core.planning.measurements import measure_plan
from surgiplan.core.planning.operations import place_implant

# the pelvis tilted 12 deg (about L) and turned 5 deg (about S): the pelvic frame is not the scanner's
TILT = tf.rotation_matrix((0, 0, 1), 5.0) @ tf.rotation_matrix((1, 0, 0), 12.0)


def _tilted(p):
    return TILT @ np.asarray(p, float)


@pytest.fixture(scope="module")
def cat():
    return load_catalog(include_user=False)


@pytest.fixture
def case(tmp_path, cat):
    c = Case.new(tmp_path / "Hip", user="planner")
    for k, v in PELVIS_LANDMARKS.items():
        c.set_landmark(k, _tilted(v), source="manual")
    c.set_landmark("femoral_canal_axis_left", _tilted(CANAL_POINT), _tilted((0, 0, 1)))
    c.new_plan("A")
    place_implant(c, "A", "cup", "hip_cup", "52", side="left", at_landmark="acetabular_centre_left",
                  inclination=40, anteversion=15, catalog=cat)
    place_implant(c, "A", "stem", "hip_stem_standard", "5", side="left", on_canal_axis=True, catalog=cat)
    return c


def _frame_vectors():
    """Pelvic (lateral-left, anterior, superior) unit vectors of the tilted pelvis, independently."""
    al, ar = _tilted(PELVIS_LANDMARKS["asis_left"]), _tilted(PELVIS_LANDMARKS["asis_right"])
    lat = tf.unit(al - ar)
    sup = tf.unit(TILT @ np.array([0, 0, 1.0]))
    return lat, np.cross(lat, sup), sup  # L x S = anterior (-P)


@pytest.mark.parametrize("convention", ["radiographic", "operative", "anatomical"])
def test_cup_axis_meets_murrays_geometric_definition(convention):
    lat, ant, sup = _frame_vectors()
    from surgiplan.core.planning.placement import pelvic_frame

    pelvis = pelvic_frame(*(_tilted(PELVIS_LANDMARKS[k]) for k in (
        "asis_left", "asis_right", "pubic_tubercle_left", "pubic_tubercle_right")))
    a = cup_axis(38.0, 21.0, "left", convention, pelvis)
    down = -sup
    if convention == "radiographic":  # coronal plane (normal: anterior)
        av = 90 - tf.angle_between_deg(a, ant)
        inc = tf.angle_between_deg(tf.project_on_plane(a, ant), down)
    elif convention == "operative":  # sagittal plane (normal: lateral)
        inc = 90 - tf.angle_between_deg(a, lat)
        av = tf.angle_between_deg(tf.project_on_plane(a, lat), down)
    else:  # transverse plane (normal: longitudinal)
        inc = tf.angle_between_deg(a, down)
        av = tf.angle_between_deg(tf.project_on_plane(a, sup), lat)
    assert (inc, av) == pytest.approx((38.0, 21.0), abs=1e-9)
    assert cup_angles(a, "left", pelvis)[convention] == pytest.approx((38.0, 21.0), abs=1e-9)


def test_murray_published_conversions():
    ri, ra = np.radians(40.0), np.radians(15.0)
    ai, aa = convert_cup_angles(40, 15, "radiographic", "anatomical")
    oi, oa = convert_cup_angles(40, 15, "radiographic", "operative")
    assert np.tan(np.radians(aa)) == pytest.approx(np.tan(ra) / np.sin(ri), rel=1e-12)
    assert np.cos(np.radians(ai)) == pytest.approx(np.cos(ri) * np.cos(ra), rel=1e-12)
    assert np.sin(np.radians(oi)) == pytest.approx(np.sin(ri) * np.cos(ra), rel=1e-12)
    assert np.tan(np.radians(oa)) == pytest.approx(np.tan(ra) / np.cos(ri), rel=1e-12)
    # rounded values (Murray's nomogram region): RI 40 / RA 15 = AI 42.3 / AA 22.6 = OI 38.4 / OA 19.3
    assert (round(ai, 1), round(aa, 1), round(oi, 1), round(oa, 1)) == (42.3, 22.6, 38.4, 19.3)
    assert convert_cup_angles(ai, aa, "anatomical", "radiographic") == pytest.approx((40, 15), abs=1e-9)


def test_typed_cup_angles_are_measured_back_and_undo_in_one_step(case, cat):
    n = len(case.history._undo)
    r = set_hip_angles(case, "A", "cup", inclination=45.0, anteversion=20.0, catalog=cat)
    assert len(case.history._undo) == n + 1
    assert (r["inclination_deg"], r["anteversion_deg"]) == pytest.approx((45.0, 20.0), abs=1e-9)
    assert r["reference"] == "anterior pelvic plane"
    m = {x.key: x.value for x in measure_plan(case, "A", cat, expensive=False)}
    assert (m["cup_inclination"], m["cup_anteversion"]) == pytest.approx((45.0, 20.0), abs=1e-9)
    np.testing.assert_allclose(case.implant("A", "cup").transform[:3, 3], _tilted(HEAD), atol=1e-9)
    # operative angles typed: the radiographic readout is Murray's conversion of them
    r = set_hip_angles(case, "A", "cup", inclination=35.0, anteversion=25.0, convention="operative",
                       catalog=cat)
    want = convert_cup_angles(35.0, 25.0, "operative", "radiographic")
    assert tuple(r["conventions"]["radiographic"].values()) == pytest.approx(want, abs=1e-9)
    case.history.undo()
    case.history.undo()
    assert hip_angles(case, "A", "cup", catalog=cat)["inclination_deg"] == pytest.approx(40.0, abs=1e-9)


def test_typed_stem_version_and_depth(case, cat):
    r = set_hip_angles(case, "A", "stem", version=12.0, depth=3.0, catalog=cat)
    assert (r["version_deg"], r["depth_mm"]) == pytest.approx((12.0, 3.0), abs=1e-9)
    m = {x.key: x.value for x in measure_plan(case, "A", cat, expensive=False)}
    assert m["stem_version"] == pytest.approx(12.0, abs=1e-9)  # the independent measurement
    imp = case.implant("A", "stem")
    geo = cat.get(imp.catalog_id).geometry(imp.size, imp.options).transformed(imp.transform)
    canal_d = tf.unit(_tilted((0, 0, 1)))
    head = np.asarray(geo.anchors["head_centre"])
    assert (_tilted(HEAD) - head) @ canal_d == pytest.approx(3.0, abs=1e-9)  # 3 mm distal of native
    shaft = np.asarray(geo.anchors["tip"])  # the stem tip lies on the canal axis
    off = shaft - _tilted(CANAL_POINT)
    assert np.linalg.norm(off - (off @ canal_d) * canal_d) < 1e-9
    # only the version typed: the depth stays
    r = set_hip_angles(case, "A", "stem", version=-5.0, catalog=cat)
    assert (r["version_deg"], r["depth_mm"]) == pytest.approx((-5.0, 3.0), abs=1e-9)


def test_bad_typed_angles_are_refused_and_change_nothing(case, cat):
    before = case.implant("A", "cup").transform.copy()
    n = len(case.history._undo)
    for kw, words in ((dict(inclination=120.0, anteversion=15.0), "outside"),
                      (dict(inclination=float("nan")), "finite"),
                      (dict(version=10.0), "is a cup"),
                      (dict(), "nothing to set"),
                      (dict(inclination=40.0, convention="lewinnek"), "convention")):
        with pytest.raises(InputError, match=words):
            set_hip_angles(case, "A", "cup", catalog=cat, **kw)
    with pytest.raises(InputError, match="femoral stem"):
        compute_hip_pose(case, "A", "stem", inclination=40.0, catalog=cat)
    with pytest.raises(InputError, match="no implant|not_here"):
        set_hip_angles(case, "A", "not_here", inclination=40.0, catalog=cat)
    assert np.array_equal(case.implant("A", "cup").transform, before) and len(case.history._undo) == n
