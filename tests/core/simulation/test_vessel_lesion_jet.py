"""The steady vessel study paces its Reynolds continuation by the lesion jet and explains a steady solve
that does not converge in the lesion's terms (issue 29).

On the vascular sample's native lumen (3.56 mm lesion, 47.8 % of 20 mL/s through it by the outlet
resistances, lesion Re 1036) a jump from 25 % to 50 % of the flow stalled Newton; steps of 1/16 of the flow
(lesion Re +65 each) converged (docs/flow_stenosis_solver.md). The numbers here are the sample's.
"""

from __future__ import annotations

import json
import math

import pytest

INFO = {"outlets": [{"name": "outlet_1"}, {"name": "outlet_2"}],
        "centrelines": [{"outlet": "outlet_1"}, {"outlet": "outlet_2"}],
        "stenoses": [{"centreline": 1, "minimal_diameter_mm": 3.5598}]}
BC = {"inflow_mL_s": 20.0, "split": [0.52168, 0.47832], "density": 1060.0, "viscosity": 0.0035,
      "resistances_Pa_s_m3": [1.188e9, 1.296e9]}


def test_lesion_jet_reynolds_number_is_that_of_the_lesion_branch_flow():
    from surgiplan.core.simulation.vessel.case_study import LESION_RE_PER_STEP, lesion_jets

    (jet,) = lesion_jets(INFO, BC)
    q = 0.47832 * 20e-6  # m^3/s through the stenosed leg
    assert jet["outlet"] == "outlet_2" and jet["flow_mL_s"] == pytest.approx(9.5664)
    assert jet["reynolds"] == pytest.approx(4 * 1060 * q / (math.pi * 3.5598e-3 * 0.0035), rel=1e-9)
    assert jet["reynolds"] == pytest.approx(1036, abs=1)
    # the sample's continuation: 16 steps, the pacing that converged there
    assert math.ceil(jet["reynolds"] / LESION_RE_PER_STEP) == 16
    assert lesion_jets(INFO, BC, 5.0)[0]["reynolds"] == pytest.approx(jet["reynolds"] / 4)
    assert lesion_jets(dict(INFO, stenoses=[]), BC) == []


def test_failed_steady_solve_is_explained_with_the_lesion_and_what_to_do(tmp_path):
    from surgiplan.core.errors import InputError, SolverError
    from surgiplan.core.simulation.vessel.case_study import GEOMETRY_FILE, explain_failure

    (tmp_path / GEOMETRY_FILE).write_text(json.dumps({"geometry": INFO, "boundary_conditions": BC}))
    solver = SolverError("Newton did not converge at Re = 280 (71.1 % of the inflow, 14.2 mL/s) even with "
                         "continuation steps of 3.1 % of the flow (9 retries; last converged at Re = 271, "
                         "13.75 mL/s)", hint="The flow may be unsteady")
    err = explain_failure(tmp_path, solver)
    assert isinstance(err, SolverError) and err is not solver
    text = str(err)
    assert "3.56 mm lesion" in text and "outlet_2" in text and "47.8 %" in text
    assert "Reynolds number 1036" in text and "lesion Re 712" in text  # 1036 x 13.75 / 20
    assert "converged up to 13.8 mL/s" in text and "Newton did not converge at Re = 280" in text
    assert "--option flow_mL_s=13.7" in err.hint and "vessel-pulsatile" in err.hint
    # not a convergence failure, or no set-up to read: the error as it was
    other = SolverError("MUMPS ran out of memory")
    assert explain_failure(tmp_path, other) is other
    assert explain_failure(tmp_path / "missing", solver) is solver
    bad = InputError("did not converge")
    assert explain_failure(tmp_path, bad) is bad


def test_native_study_paces_its_continuation_by_the_lesion_jet_and_the_stented_does_not(tmp_path):
    """prepare() on the tiny stenosed tube: the native study.json asks for ceil(lesion Re / 65) steps, the
    stented one keeps the automatic continuation (0)."""
    from surgiplan.core.case import Case
    from surgiplan.core.simulation.vessel.case_study import LESION_RE_PER_STEP, lesion_jets, prepare
    from tests.core.simulation._vessel_tiny_case import tiny_vessel_case

    tiny_vessel_case(tmp_path / "tube")
    case = Case.open(tmp_path / "tube")
    steps = {}
    for stent in (False, True):
        out = tmp_path / f"stent_{stent}"
        study = json.loads(prepare(case, "A", "vessel-rest", out, None, {"flow_mL_s": 8.0, "stent": stent})
                           .read_text())
        geo = json.loads((out / "vessel_geometry.json").read_text())
        steps[stent] = study["flow"].get("reynolds_steps", 0)
        jets = geo["boundary_conditions"]["lesion_jets"]
        if not stent:
            (jet,) = jets
            assert jet == pytest.approx(lesion_jets(geo["geometry"], geo["boundary_conditions"])[0])
            # the whole 8 mL/s through the one lesion of the tube, about 3 mm wide: Re ~1000
            assert jet["share"] == pytest.approx(1.0) and 2.7 < jet["minimal_diameter_mm"] < 3.3
            assert steps[stent] == math.ceil(jet["reynolds"] / LESION_RE_PER_STEP) >= 14
        else:
            assert jets == []
    assert steps[True] == 0
