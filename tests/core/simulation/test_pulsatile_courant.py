"""A pulsatile step too long for the flow is refused with the step count to use (issue 29: the
extrapolated convection does not crash on a long step, it gives a wall shear stress 1000x too high).

The same 4 mm pipe (1.33 mm cells) as the vessel-pulsatile study test: at 0.3 mL/s mean (peak 1.27 mL/s,
mean jet velocity 2.5 cm/s, centreline about 5 cm/s) and 24 steps per 0.5 s the Courant number
|u| dt / h is about 0.8 at most; at 30 mL/s and 8 steps it is about 250.
"""

from __future__ import annotations

import json

import pytest
from mpi4py import MPI  # noqa: F401  (before dolfinx)

from surgiplan.core.errors import SolverError


def _pipe_study(q_mean: float, steps: int, cycles: int):
    from surgiplan.core.simulation.study_schema import parse_study
    from surgiplan.core.simulation.vessel.pulsatile_study import pulsatile_settings, pulsatile_study_dict
    from surgiplan.core.simulation.vessel.results import flow_study_dict

    info = {"outlets": [{"name": "outlet", "reference_radius_mm": 4.0}], "mesh": {"file": "pipe.msh"},
            "centrelines": [{"radius_mm": [4.0] * 5, "inlet_cut_index": 0, "outlet_cut_index": 4}]}
    steady, _bc = flow_study_dict(info, q_mean, 93.0)
    sd = pulsatile_study_dict(steady, pulsatile_settings({"period_s": 0.5, "cycles": cycles}), steps, q_mean)
    return parse_study(json.dumps(sd))


def test_a_step_too_long_for_the_flow_is_refused_with_the_steps_to_use(pipe_msh):
    from surgiplan.core.simulation.flow import MAX_COURANT, solve_pulsatile
    from surgiplan.core.simulation.volume_mesh_io import read_tagged_mesh

    tm = read_tagged_mesh(pipe_msh, MPI.COMM_WORLD).scaled(1e-3, "m")
    study = _pipe_study(30.0, 8, 1)
    with pytest.raises(SolverError, match="Courant number") as exc:
        solve_pulsatile(tm, study.flow, study.solver)
    need = int(exc.value.hint.split("Use about ")[1].split()[0])
    assert need > 8 * MAX_COURANT  # the hint asks for enough steps to bring it under the limit


def test_a_short_enough_step_records_its_courant_number(pipe_msh):
    from surgiplan.core.simulation.flow import MAX_COURANT, solve_pulsatile
    from surgiplan.core.simulation.volume_mesh_io import read_tagged_mesh

    tm = read_tagged_mesh(pipe_msh, MPI.COMM_WORLD).scaled(1e-3, "m")
    study = _pipe_study(0.3, 24, 1)
    sol = solve_pulsatile(tm, study.flow, study.solver)
    c = sol.info["max_courant"]
    # centreline speed at the peak flow (about 2 x 1.27 mL/s over pi (4 mm)^2 = 5 cm/s) x 21 ms over the
    # 1.33-2.3 mm cell diameters: 0.4-0.8; the midpoint value of a cell is below the centreline's
    assert 0.1 < c < 1.0 < MAX_COURANT
