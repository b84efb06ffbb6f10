"""Key measurements (core ``key_measurements``) and human names (core ``names``)."""

from __future__ import annotations

import pytest

from surgiplan.core.planning.key_measurements import key_measurements, plan_targets
from surgiplan.core.planning.measurements.base import MeasurementResult
from surgiplan.core.planning.names import human_name, key_of


def _r(key, value, unit="deg"):
    return MeasurementResult(key, key, value, unit, f"definition of {key}")


def test_hip_key_rows_with_targets_and_fallbacks():
    rows = key_measurements([_r("cup_inclination", 52.0), _r("cup_anteversion", 12.0),
                             _r("leg_length_change", 3.0, "mm"), _r("cor_shift", None, "mm")], "hip",
                            plan_targets())
    by = {r.label: r for r in rows}
    assert [r.label for r in rows] == ["Inclination", "Anteversion", "Leg length", "Offset", "COR shift"]
    assert by["Inclination"].status == "out" and by["Inclination"].target == (30.0, 50.0)
    assert by["Anteversion"].status == "in"
    # no contralateral landmarks: leg length change stands in, without the difference's target
    assert by["Leg length"].key == "leg_length_change" and by["Leg length"].status == "none"
    assert by["Offset"].status == "missing" and by["COR shift"].status == "missing"  # None is missing


def test_case_targets_override_and_spine_worst_breach():
    tg = {**plan_targets(), "cup_inclination": (50.0, 60.0)}
    assert key_measurements([_r("cup_inclination", 52.0)], "hip", tg)[0].status == "in"
    rows = key_measurements([_r("screw_breach_s1", 0.5, "mm"), _r("screw_breach_s2", 2.7, "mm")], "spine")
    assert rows[0].key == "screw_breach_s2" and rows[0].value == pytest.approx(2.7) and rows[0].status == "out"
    assert key_measurements([], "vascular") == []


@pytest.mark.parametrize("key, name", [
    ("acetabular_centre_left", "Acetabular centre (left)"), ("femoral_stem_2", "Femoral stem 2"),
    ("pedicle_entry_L3_right", "Pedicle entry L3 (right)"), ("asis_right", "ASIS (right)"),
    ("distal_femur", "Distal femoral cut"), ("neck_cut_left", "Femoral neck cut (left)"),
    ("knee_centre_femur", "Knee centre (femur)"), ("femoral_canal_axis_left", "Femoral canal axis (left)"),
    ("cup", "Cup"), ("", "")])
def test_human_names(key, name):
    assert human_name(key) == name
    if key:
        assert key_of(name, [key, "other_key"]) == key  # and back


def test_typed_names_become_keys():
    assert key_of("My point", ["asis_left"]) == "my_point"
    assert key_of("Tip (left)", []) == "tip_left"
    assert key_of("no_such_landmark", ["asis_left"]) == "no_such_landmark"
