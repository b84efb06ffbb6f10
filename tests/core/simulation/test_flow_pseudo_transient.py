"""Steady Navier-Stokes: pseudo-transient continuation takes over where Newton leaves its basin (issue 29).

The pipe: radius 2 mm, 24 mm long, a 50 % (diameter) cosine stenosis (:mod:`surgiplan.core.simulation.vessel.
stenosed_pipe`), 2.0 mm cells (1.0 mm at the throat), 1.5 mL/s (inlet Re 145, twice that in the throat).
Newton is given one iteration per solve and one continuation step (straight from rest to the target):
with the continuation alone (halving the increment after each failure; the code before this test) the
run ended with a SolverError at inlet Re 1 (increments of 0.39 %; at Re 59 on 1.6 mm cells); with
the pseudo-transient fallback (backward-Euler pseudo time steps, one Newton iteration each, the time
step grown by switched evolution relaxation) the target flow is reached in the first continuation step.
The answer must be the plain Newton answer (adaptive continuation, default solver settings).

Cost: 23 s CPU for the whole file (both solves, imports, JIT cache warm) on the loaded machine (34 s with
1.6 mm cells).
"""

from __future__ import annotations

import pytest
from mpi4py import MPI


def _pipe():
    from surgiplan.core.simulation.vessel.stenosed_pipe import stenosed_pipe_mesh

    return stenosed_pipe_mesh(comm=MPI.COMM_WORLD, size=2.0)


def _spec(q: float, steps: int):
    from surgiplan.core.simulation.study_schema import FlowSpec

    return FlowSpec.model_validate(
        {
            "inlet": {"boundary": "inlet", "flow_rate_mL_s": q},
            "outlets": [{"boundary": "outlet"}],
            "walls": ["wall"],
            "backflow_stabilization": "full",
            "reynolds_steps": steps,
        }
    )


def test_pseudo_transient_reaches_the_target_where_one_newton_iteration_does_not():
    from surgiplan.core.simulation.flow import solve_steady
    from surgiplan.core.simulation.flow_study import flow_quantities
    from surgiplan.core.simulation.study_schema import SolverSpec

    tm = _pipe()
    q = 1.5
    tight = SolverSpec(
        method="direct", newton_max_iterations=1, newton_rtol=1e-6, petsc_options={"ksp_type": "preonly"}
    )
    sol = solve_steady(tm, _spec(q, 1), tight)
    hist = sol.info["continuation"]
    # no halving: the pseudo-transient march converged at the full flow in the first continuation step
    assert [h["factor"] for h in hist] == [pytest.approx(1.0)]
    ptc = sol.info["pseudo_transient"]
    assert len(ptc) == 1 and ptc[0]["steps"] >= 2
    assert ptc[0]["residuals"][-1] < ptc[0]["residuals"][0]
    dp = flow_quantities(sol)["pressure_drop_Pa"]
    # the same steady state as plain Newton with continuation (default solver settings)
    ref = flow_quantities(solve_steady(tm, _spec(q, 0), SolverSpec(method="direct")))["pressure_drop_Pa"]
    assert dp == pytest.approx(ref, rel=1e-3)
