"""Resistance outlets coupled into the Newton system, on a Y bifurcation, against the parallel-resistance split.

Two outlets with resistances R1, R2 several hundred times the branches' own (Poiseuille) resistance carry
flow in the ratio Q1 / Q2 = (R2 + Rb) / (R1 + Rb) ~ R2 / R1: the analytic split of parallel resistances
(the branch resistance Rb ~ 1.4e7 Pa s/m^3 moves it by < 0.02 %). Here the explicit fixed point
p <- R Q(p) has a gain of about R / Rb ~ 700 (7000) and diverges; the coupled Newton meets the split to
0.1 % in a handful of Newton steps and no outer iterations. Small mesh, one rank, in-process; SI units.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from mpi4py import MPI

from surgiplan.core.simulation.flow import face_geometry, solve_steady
from surgiplan.core.simulation.study_schema import FlowSpec, SolverSpec
from surgiplan.core.simulation.vessel.branched_pipe import branch_ends, branched_pipe_mesh

MU = 0.0035


@pytest.fixture(scope="module")
def y_pipe():
    return branched_pipe_mesh(MPI.COMM_WORLD, size=1.0)


def _spec(q_mL_s, R1, R2, p0=0.0):
    return FlowSpec.model_validate({
        "inlet": {"boundary": "inlet", "flow_rate_mL_s": q_mL_s},
        "outlets": [{"boundary": "outlet_1", "type": "resistance", "resistance_Pa_s_m3": R1, "pressure_Pa": p0},
                    {"boundary": "outlet_2", "type": "resistance", "resistance_Pa_s_m3": R2, "pressure_Pa": p0}],
        "walls": ["wall"]})


def test_branched_pipe_is_tagged_where_its_ends_are(y_pipe):
    ends = branch_ends(10.0, 10.0, 30.0)
    for name, end in (("outlet_1", ends[0]), ("outlet_2", ends[1])):
        g = face_geometry(y_pipe, y_pipe.resolve(name, 2, "outlet"))
        assert np.linalg.norm(g.centroid * 1e3 - end) < 0.05  # mm
        assert g.radius * 1e3 == pytest.approx(1.6, rel=0.04)  # polygonal section of 1 mm cells
    g = face_geometry(y_pipe, y_pipe.resolve("inlet", 2, "inlet"))
    assert g.radius * 1e3 == pytest.approx(2.0, rel=0.04) and g.normal[0] == pytest.approx(-1.0, abs=1e-6)


@pytest.mark.parametrize("R1, petsc_options", [
    (1e10, {}),  # the default path: MUMPS BLR factorisation kept over Newton steps, GMRES
    # the vessel studies' plain MUMPS (a fresh LU each Newton step): at R 1e11 GMRES around the LU of the sparse
    # part alone stalled above its tolerance at every step (round-off floor ~ R / R_vessel); Woodbury is exact
    (1e11, {"ksp_type": "preonly", "snes_linesearch_type": "bt", "mat_mumps_icntl_10": -2}),
])
def test_stiff_resistance_outlets_meet_the_parallel_split(y_pipe, R1, petsc_options):
    """R2 = 2 R1 at 1 mL/s (inlet Re ~ 100): split 2/3 : 1/3, outlet pressures ~ 6.7 / 67 kPa."""
    R2, q = 2 * R1, 1.0
    sol = solve_steady(y_pipe, _spec(q, R1, R2, p0=500.0),
                       SolverSpec(method="direct", newton_rtol=1e-6, petsc_options=petsc_options))
    s = sol.setup
    Q = np.array([s.flux(sol.u, t) for t in s.outlet_tags])
    assert Q.sum() == pytest.approx(q * 1e-6, rel=1e-9)
    # the branches' own Poiseuille resistance (8 mu L / (pi r^4), L 10 mm, r 1.6 mm) is ~ 1/700 of R1
    Rb = 8 * MU * 0.010 / (math.pi * 1.6e-3**4)
    assert Rb < 2e-3 * R1
    assert sol.info["pc_type"] == "python"  # Woodbury around the LU
    split = Q[0] / Q.sum()
    analytic = (1 / R1) / (1 / R1 + 1 / R2)
    assert split == pytest.approx(analytic, rel=1e-3), f"split {split:.5f} against {analytic:.5f}"
    # the outlet traction is P0 + R Q, and the mean pressure on each outlet face follows it (the viscous normal
    # stress of a nearly developed outflow is small): within 0.1 % of ~6.7 kPa
    info = sol.info["outlets"]
    assert info["pressures_Pa"] == pytest.approx(list(500.0 + np.array([R1, R2]) * Q), abs=1e-6)
    for t, r, qi in zip(s.outlet_tags, (R1, R2), Q, strict=True):
        pm = s.mean(sol.p, t, face_geometry(y_pipe, t).area)
        assert pm == pytest.approx(500.0 + r * qi, rel=1e-3)
    # coupled in the Newton system: a handful of Newton steps, no outer loop on the outlet pressures
    assert sol.info["newton_iterations_total"] <= 8
    if petsc_options:  # an exact Newton step: one application of the preconditioner per linear solve
        assert sol.info["linear_iterations_total"] == sol.info["newton_iterations_total"]
    assert not sol.info["continuation_retries"]
