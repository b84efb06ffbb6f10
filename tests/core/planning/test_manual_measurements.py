"""Hand measurements (ruler, angle, diameter): analytic values, plan.json round trip, undo, comparison."""

from __future__ import annotations

import json

import numpy as np
import pytest

from surgiplan.core.case import Case
from surgiplan.core.case.schema import load_plan_json
from surgiplan.core.errors import CaseFormatError, GeometryError, InputError
from surgiplan.core.planning.comparison import compare_plans
from surgiplan.core.planning.measurements.manual import fit_circle, measure, next_name


def test_ruler_is_the_euclidean_distance():
    m = measure("ruler", [[1, 2, 3], [4, 6, 15]], "neck length")
    assert m.value == pytest.approx(13.0) and m.unit == "mm"  # 3-4-12 -> 13


@pytest.mark.parametrize("deg", [0.5, 30.0, 90.0, 135.0, 179.5])
def test_angle_at_the_middle_point(deg):
    a = np.radians(deg)
    v = np.array([10.0, -5.0, 7.0])
    pts = [v + 30 * np.array([1, 0, 0]), v, v + 12 * np.array([np.cos(a), np.sin(a), 0])]
    m = measure("angle", pts, "a")
    assert m.value == pytest.approx(deg, abs=1e-9) and m.unit == "deg"


def _tilted_circle(n, r, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    axis = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    u = np.cross(axis, [1, 0, 0])
    u /= np.linalg.norm(u)
    v = np.cross(axis, u)
    t = rng.uniform(0, 2 * np.pi, n)
    c = np.array([12.0, 40.0, -300.0])
    p = c + r * (np.cos(t)[:, None] * u + np.sin(t)[:, None] * v)
    return p + noise * rng.standard_normal(p.shape), c


def test_diameter_of_three_points_is_the_circumscribed_circle():
    p, c = _tilted_circle(3, 12.5)
    m = measure("diameter", p, "neck")
    assert m.value == pytest.approx(25.0, abs=1e-9) and "3 points" in m.method
    assert fit_circle(p).centre == pytest.approx(c, abs=1e-9)


def test_diameter_circle_fit_with_noise_and_two_points():
    p, c = _tilted_circle(12, 11.0, noise=0.2)
    fit = fit_circle(p)
    assert 2 * fit.radius == pytest.approx(22.0, abs=0.3) and np.linalg.norm(fit.centre - c) < 0.3
    assert 0.05 < fit.rms < 0.4
    m2 = measure("diameter", [[0, 0, 0], [0, 24.2, 0]], "d")
    assert m2.value == pytest.approx(24.2) and m2.method == "two points"


@pytest.mark.parametrize("kind,pts,err,msg", [
    ("ruler", [[0, 0, 0]], InputError, "needs 2 points"),
    ("angle", [[0, 0, 0], [1, 0, 0]], InputError, "needs 3 points"),
    ("angle", [[1, 0, 0], [0, 0, 0], [0, 0, 0]], GeometryError, "vertex"),
    ("diameter", [[0, 0, 0], [1, 1, 1], [2, 2, 2]], GeometryError, "on a line"),
    ("ruler", [[0, 0, np.nan], [1, 0, 0]], InputError, "finite"),
    ("ruler", [[0, 0], [1, 0]], InputError, "X,Y,Z"),
    ("ruler", "hello", InputError, "numbers"),
    ("caliper", [[0, 0, 0], [1, 0, 0]], InputError, "unknown measurement kind"),
])
def test_bad_points_raise_clear_errors(kind, pts, err, msg):
    with pytest.raises(err, match=msg):
        measure(kind, pts, "x")


def test_empty_name_refused():
    with pytest.raises(InputError, match="name"):
        measure("ruler", [[0, 0, 0], [1, 0, 0]], "  ")


@pytest.fixture()
def case(tmp_path):
    c = Case.new(tmp_path / "C")
    c.new_plan("A")
    c.new_plan("B")
    c.save()
    return c


def test_add_remove_undo_save_and_compare(case, tmp_path):
    m = measure("diameter", [[0, 0, 0], [0, 24.0, 0]], "Neck diameter", view="axial")
    case.add_manual_measurement("A", m)
    assert list(case.plan("A").manual) == ["Neck diameter"]
    with pytest.raises(InputError, match="already has a measurement"):
        case.add_manual_measurement("A", m)
    case.undo()
    assert case.plan("A").manual == {}
    case.redo()
    case.add_manual_measurement("A", measure("ruler", [[0, 0, 0], [0, 0, 15]], next_name("ruler", [])))
    case.add_manual_measurement("B", measure("diameter", [[0, 0, 0], [0, 26.5, 0]], "Neck diameter"))
    case.remove_manual_measurement("A", "Ruler 1")
    case.undo()  # the ruler comes back at its place
    assert list(case.plan("A").manual) == ["Neck diameter", "Ruler 1"]
    with pytest.raises(InputError, match="no measurement 'x'"):
        case.remove_manual_measurement("A", "x")
    case.save()
    # plan.json holds them; reopening gives them back
    pj = json.loads((case.root / "plans" / "A" / "plan.json").read_text())
    assert [x["name"] for x in pj["manual_measurements"]] == ["Neck diameter", "Ruler 1"]
    assert pj["manual_measurements"][0]["value"] == pytest.approx(24.0)
    c2 = Case.open(case.root)
    got = c2.plan("A").manual["Neck diameter"]
    assert got.value == pytest.approx(24.0) and got.points.shape == (2, 3) and got.view == "axial"
    comp = compare_plans(c2, ["A", "B"], interference=False)
    row = comp.row("manual:Neck diameter")
    assert row.group == "manual" and row.unit == "mm"
    assert row.values == {"A": pytest.approx(24.0), "B": pytest.approx(26.5)}
    assert row.difference == pytest.approx(2.5)
    assert comp.row("manual:Ruler 1").values["B"] is None


def test_locked_plan_refuses_hand_measurements(case):
    case.lock_plan("A")
    with pytest.raises(InputError, match="locked"):
        case.add_manual_measurement("A", measure("ruler", [[0, 0, 0], [1, 0, 0]], "r"))


def test_plan_json_without_the_field_loads_and_damaged_one_is_refused(case):
    case.add_manual_measurement("A", measure("ruler", [[0, 0, 0], [1, 0, 0]], "r"))
    case.save()
    path = case.root / "plans" / "A" / "plan.json"
    data = json.loads(path.read_text())
    old = dict(data)
    old.pop("manual_measurements")  # a plan written before hand measurements existed
    path.write_text(json.dumps(old))
    assert load_plan_json(path).manual_measurements == []
    for bad in ({"name": "r", "kind": "caliper", "points": [[0, 0, 0], [1, 0, 0]], "value": 1, "unit": "mm"},
                {"name": "r", "kind": "ruler", "points": [[0, 0, 0]], "value": 1, "unit": "mm"},
                {"name": "r", "kind": "ruler", "points": [[0, 0, 0], [1, 0]], "value": 1, "unit": "mm"}):
        path.write_text(json.dumps({**data, "manual_measurements": [bad]}))
        with pytest.raises(CaseFormatError, match="plan.json"):
            load_plan_json(path)
