"""hip-remodelling end to end on the synthetic femur (constant-HU CT) with a planned stem, and its refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mpi4py import MPI  # noqa: F401  (before dolfinx)

from surgiplan.core.errors import InputError
from tests.core.simulation._hip_synthetic import make_case

COARSE = {"degree": 1, "element_size_mm": 8, "implant_element_size_mm": 4, "bone_surface_edge_mm": 5}


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("remodelcase") / "case"
    make_case(root, hu=800.0)
    return root


def test_remodelling_runs_from_the_saved_plan(case_dir):
    import pyvista as pv

    from surgiplan.core.case import Case
    from surgiplan.core.simulation.case_studies import run_case_study, study_rows

    # a narrow lazy zone: the synthetic femur's shielding is mild (strain energy density -31 % in zone 7)
    s = run_case_study(case_dir, "A", "hip-remodelling", options={
        **COARSE, "months": "1.5,3", "time_step_months": 1.5, "lazy_zone_half_width": 0.1})
    r = s["remodelling"]
    assert r["solves"] == 2 and r["months"] == [1.5, 3.0]
    zones = {z["zone"]: z for z in r["gruen_zones"]}
    # a uniform-density femur: the start is the CT's density everywhere (800 HU by the Morgan chain)
    start = [z["mean_density_start_g_cm3"] for z in r["gruen_zones"]]
    assert np.ptp(start) < 1e-6
    # where the stem changes the strain energy density by more than the lazy zone, density follows its sign:
    # the calcar (zone 7) is shielded and loses, the bone at and below the tip (zones 3, 4) is loaded and gains
    sed = {g["zone"]: g["change_percent"] for g in s["stress_shielding"]["gruen_zones"]}
    decided = [z for z in range(1, 8) if abs(sed[z]) > 15.0]
    assert {3, 4, 6, 7} <= set(decided)
    for z in decided:
        assert np.sign(zones[z]["change_3_months_percent"]) == np.sign(sed[z]), (z, sed[z], zones[z])
    # and the change grows with time
    assert abs(zones[7]["change_3_months_percent"]) > abs(zones[7]["change_1.5_months_percent"]) > 0
    assert "MODEL PREDICTION" in s["model_prediction"] and "MODEL PREDICTION" in s["setup"]["prediction"]
    out = case_dir / "studies" / "A--hip-remodelling"
    surf = pv.read(out / "surface.vtp")
    for d in s["display_fields"]:
        assert d["name"] in surf.point_data
    v = np.asarray(surf.point_data["density_change_3_months_percent"])
    stem = np.asarray(surf.point_data["region_id"]) > 0.5
    assert np.all(np.isnan(v[stem])) and np.isfinite(v[~stem]).mean() > 0.99
    rows = study_rows(Case.open(case_dir), ["A"])
    assert any(x["study"] == "hip-remodelling" and "Gruen zone 7" in x["label"] for x in rows)
    assert json.loads((out / "summary.json").read_text())["remodelling"]["solves"] == 2
    # the window's comparison: the prediction as rows with a value per plan (B has no study yet)
    from surgiplan.core.twin.compare_rows import extended_comparison

    case = Case.open(case_dir)
    case.copy_plan("A", "B")
    comp = extended_comparison(case, ["A", "B"])
    sim = [x for x in comp.rows if x.group == "simulation"]
    z7 = next(x for x in sim if "3 months, Gruen zone 7" in x.quantity)
    assert z7.values == {"A": pytest.approx(zones[7]["change_3_months_percent"])} and z7.difference is None
    assert not [x for x in comp.rows if x.group == "achieved"]  # no post-operative scan in this case


@pytest.mark.parametrize("options,message", [
    ({"lazy_zone": 0.5}, "unknown study option"),
    ({"months": "3,x"}, "months"),
    ({"months": "0"}, "months"),
    ({"lazy_zone_half_width": 1.5}, "lazy_zone_half_width"),
    ({"rate_constant": -1}, "rate_constant"),
    ({"months": "240", "time_step_months": 0.1}, "FE solves"),
    ({"months": "3,12", "time_step_months": 2}, "whole number of time steps"),
])
def test_bad_options_are_refused_before_anything_is_written(case_dir, options, message):
    from surgiplan.core.simulation.case_studies import run_case_study

    out = case_dir.parent / "refused"
    with pytest.raises(InputError, match=message):
        run_case_study(case_dir, "A", "hip-remodelling", options=options, out_dir=out)
    assert not any(out.glob("*.msh")) and not (out / "study.json").exists()
