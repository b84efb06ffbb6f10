"""Physical-time march of a steady flow study (flow_march.py, issue 29).

Pipe: radius 4 mm, 20 mm long (conftest ``pipe_msh``), 5 mL/s with a developed inlet profile, one resistance
outlet of 1e8 Pa s/m^3, SI units, one rank, in-process. The march (``flow.march = "always"``: from rest, the
inflow ramped over 20 steps, then held; backward Euler with the resistance outlet implicit; no Newton at the
end) must settle on the steady answer: the outlet pressure Q R (500 Pa), the Poiseuille drop
8 mu L Q / (pi R^4) to the discretisation's 3 % (as test_flow_models), and the plain steady Newton solve's drop
to 1e-6, the reported fields being the time average over the settled window. The slowest mode of the pipe
decays at 5.78 nu / R^2 ~ 1.2 /s; 2 s steps shrink it ~3.4x per step.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from mpi4py import MPI

from surgiplan.core.errors import InputError
from surgiplan.core.simulation import flow_march
from surgiplan.core.simulation.flow import solve_steady
from surgiplan.core.simulation.flow_study import flow_quantities
from surgiplan.core.simulation.study_schema import FlowSpec, SolverSpec

Q_ML = 5.0
R_OUT = 1e8
MU = 0.0035


def _mesh(path):
    from surgiplan.core.simulation.volume_mesh_io import read_tagged_mesh

    tm = read_tagged_mesh(path, MPI.COMM_WORLD, unit="mm")
    return tm.scaled(1e-3, "m")


def _spec(**extra):
    return FlowSpec.model_validate({
        "inlet": {"boundary": "inlet", "flow_rate_mL_s": Q_ML},
        "outlets": [{"boundary": "outlet", "type": "resistance", "resistance_Pa_s_m3": R_OUT}],
        "walls": ["wall"], **extra})


def test_time_march_settles_on_the_steady_poiseuille_answer(pipe_msh):
    tm = _mesh(pipe_msh)
    sol = solve_steady(tm, _spec(march="always", march_time_step_s=2.0, march_max_steps=200),
                       SolverSpec(method="direct"))
    rec = sol.info["time_march"]
    assert sol.info["flow_regime"] == "settled" and rec["result"] == "settled"
    assert rec["label"].startswith("steady: the time march settled")
    assert rec["ramp_steps"] == 20 and rec["steps"] < 200
    assert rec["window"]["duration_s"] > 0 and rec["window"]["steps"] >= 10
    # few factorisations: one LU kept over the steps (GMRES on each step's Jacobian)
    assert rec["factorisations"] <= rec["steps"] // 4
    q = flow_quantities(sol)
    assert q["outlet_flow_mL_per_s"]["outlet"] == pytest.approx(Q_ML, rel=1e-9)
    s = sol.setup
    from surgiplan.core.simulation.flow import face_geometry

    radius = face_geometry(tm, s.inlet_tag).radius
    dp_pois = 8 * MU * 0.020 * Q_ML * 1e-6 / (math.pi * radius**4)
    assert q["pressure_drop_Pa"] == pytest.approx(dp_pois, rel=0.03)
    steady = flow_quantities(solve_steady(tm, _spec(), SolverSpec(method="direct")))
    assert q["pressure_drop_Pa"] == pytest.approx(steady["pressure_drop_Pa"], rel=1e-6)
    # the outlet pressure of the averaged state: Q R
    p_out = s.mean(sol.p, s.outlet_tags[0], face_geometry(tm, s.outlet_tags[0]).area)
    assert p_out == pytest.approx(Q_ML * 1e-6 * R_OUT, rel=1e-3)
    # the vessel summary's regime fields, from this solver summary
    from surgiplan.core.simulation.vessel.case_study import flow_regime

    regime = flow_regime({"solver": sol.info})
    assert regime["result"] == "settled" and regime["label"] == rec["label"]
    assert regime["time_step_s"] == 2.0 and regime["window"]["steps"] == rec["window"]["steps"]
    assert set(regime["fluctuation"]["drop_amplitude_mmHg"]) == {"outlet"}
    assert flow_regime({"solver": {"continuation": []}}) == {
        "result": "steady", "label": "steady (Newton with Reynolds continuation)"}
    # a step budget that leaves no time after the inflow ramp: said before any step is taken
    with pytest.raises(InputError) as err:
        solve_steady(tm, _spec(march="always", march_time_step_s=2.0, march_max_steps=20),
                     SolverSpec(method="direct"))
    assert "march_max_steps = 20" in err.value.message and "at least" in err.value.hint


def test_oscillation_window_holds_whole_periods_and_the_exact_mean():
    # drop = 12 + 0.8 sin(2 pi t / 0.05) mmHg sampled every 4 ms (12.5 samples per period, not a divisor)
    t = np.arange(1, 301) * 0.004
    y = 12.0 + 0.8 * np.sin(2 * np.pi * t / 0.05)
    osc = flow_march.oscillation(t, y)
    assert osc["periods"] >= 20
    assert osc["period_s"] == pytest.approx(0.05, rel=0.02)
    assert osc["mean"] == pytest.approx(12.0, abs=0.02)
    assert osc["amplitude"] == pytest.approx(0.8, rel=0.02)
    assert abs(osc["trend"]) < 0.05
    # a drift is not an oscillation: no period is found
    assert flow_march.oscillation(t, 12.0 + t)["periods"] == 0


def test_verdict_reports_unsteady_with_the_window_and_settled_flows():
    t = np.arange(1, 121) * 0.004
    samples = [{"t_s": float(tt), "drops_mmHg": [10 + 0.5 * math.sin(2 * math.pi * tt / 0.04), 3.0],
                "outlet_flows_mL_s": [9.6, 10.4]} for tt in t]
    kind, (i0, i1), info = flow_march._verdict(samples, settle_from=40)
    assert kind == "unsteady" and info["periods"] >= 3 and 40 <= i0 < i1 <= 120
    flat = [dict(sm, drops_mmHg=[10.0, 3.0]) for sm in samples]
    assert flow_march._verdict(flat, settle_from=40)[0] == "settled"


def test_too_long_a_march_step_is_refused_with_the_jet_time():
    with pytest.raises(InputError) as err:
        flow_march.check_time_step(0.5, 0.004)
    assert "convective times" in err.value.message and "0.04" in err.value.hint
    with pytest.raises(ValueError, match="march"):
        _spec(march="sometimes")
    with pytest.raises(ValueError, match="march_time_step_s"):
        _spec(march_time_step_s=-1.0)
