"""One operated side for a plan: the knee measurements, the resection readout and the knee
landmark fit decide it with ``operative_side`` and split the knee with ``compartment_split``.

Before, the window defaulted to the right knee and the measurements to the left one, so on a
case without implants or a side setting the lateral and medial thickness swapped places.
"""

from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from surgiplan.core.case import Case
from surgiplan.core.planning.measurements import measure_plan
from surgiplan.core.planning.measurements.knee import compartment_split
from surgiplan.core.planning.plan import Resection
from surgiplan.core.planning.resection import resection_thickness
from surgiplan.core.planning.side import operative_side


def _knee_case(tmp_path, x0: float) -> Case:
    """A distal femur block centred at LPS x = ``x0`` mm (patient right when < 0), landmarks set."""
    case = Case.new(tmp_path / "Knee", "Knee")
    femur = pv.Box(bounds=(x0 - 35, x0 + 45, -30, 30, 0, 120))  # no vertex 10 mm out.triangulate().subdivide(3)
    case.add_model("femur", femur)
    case.set_landmark("hip_centre", (x0 + 10, 0, 450))
    case.set_landmark("knee_centre_femur", (x0, 0, 0))
    case.set_landmark("knee_centre_tibia", (x0, 0, -2))
    case.set_landmark("ankle_centre", (x0, 0, -400))
    case.new_plan("A")
    # a cut tilted about y: 10 mm deep at x0 - 35, 2 mm deep at x0 + 35 (kept side proximal)
    n = np.array([8.0 / 70.0, 0.0, 1.0])
    n /= np.linalg.norm(n)
    case.set_resection("A", Resection("distal", "femur", np.array([x0, 0.0, 6.0]), n))
    return case


@pytest.mark.parametrize("x0, side", [(-90.0, "right"), (90.0, "left")])
def test_lateral_is_the_outer_side_of_the_operated_knee(tmp_path, x0, side):
    case = _knee_case(tmp_path, x0)
    assert operative_side(case, "A") == side
    rows = {r.key: r.value for r in measure_plan(case, "A")}
    lat, med = rows["resection_thickness_distal_lateral"], rows["resection_thickness_distal_medial"]
    # the lateral condyle is the one away from the midline (|x| larger)
    outer_deeper = x0 < 0  # the cut is deeper at -x
    assert (lat > med) == outer_deeper, (lat, med)
    # by hand: the deepest vertex below the plane more than 10 mm out on each side of the knee
    rs = case.plan("A").resections["distal"]
    pts = np.asarray(case.get_model("femur").points)
    depth = -(pts - rs.origin) @ rs.normal
    out = (pts[:, 0] - x0) * (1.0 if side == "left" else -1.0)  # + lateral
    assert lat == pytest.approx(depth[out > 10].max(), abs=1e-9)
    assert med == pytest.approx(depth[out < -10].max(), abs=1e-9)
    # the resection readout's core call with the same split gives the same numbers
    h = resection_thickness(case.get_model("femur").points, rs.origin, rs.normal,
                            **compartment_split((x0, 0, -1), operative_side(case, "A"))).by_half_mm
    assert h["lateral"] == pytest.approx(lat) and h["medial"] == pytest.approx(med)


def test_an_implant_side_and_the_case_setting_win_over_the_position(tmp_path):
    case = _knee_case(tmp_path, -90.0)
    assert operative_side(case, "A") == "right"
    case.model.settings["side"] = "left"
    assert operative_side(case, "A") == "left"
