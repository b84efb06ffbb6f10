"""Pulsatile steps with convection reuse an earlier step's LU as GMRES's preconditioner (issue 29: a patient
run needs thousands of steps, each a MUMPS factorisation before): the same solution as a fresh LU every step,
with far fewer factorisations.

The 4 mm pipe (1.33 mm cells) at 4 mL/s mean over one 0.5 s cycle of the infrarenal waveform (peak 4.25 x,
reversal -0.8 x), 96 steps (Courant number about 0.5 at the peak).
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI  # noqa: F401  (before dolfinx)

from tests.core.simulation.test_pulsatile_courant import _pipe_study


def _solve(pipe_msh, petsc_options: dict):
    from surgiplan.core.simulation.flow import solve_pulsatile
    from surgiplan.core.simulation.volume_mesh_io import read_tagged_mesh

    tm = read_tagged_mesh(pipe_msh, MPI.COMM_WORLD).scaled(1e-3, "m")
    study = _pipe_study(4.0, 96, 1)
    study.solver.petsc_options.update(petsc_options)
    return solve_pulsatile(tm, study.flow, study.solver)


def test_kept_lu_gives_the_fresh_lu_solution_with_few_factorisations(pipe_msh):
    fresh = _solve(pipe_msh, {"ksp_type": "preonly"})
    kept = _solve(pipe_msh, {})
    assert fresh.info["factorisations"] == 96 and fresh.info["linear_solver"] == "preonly"
    assert "kept MUMPS LU" in kept.info["linear_solver"]
    assert 1 <= kept.info["factorisations"] <= 12, kept.info
    assert kept.info["linear_iterations"] <= 96 * 12
    assert 0.2 < kept.info["max_courant"] < 1.0
    u0, u1 = fresh.u.x.array, kept.u.x.array
    p0, p1 = fresh.p.x.array, kept.p.x.array
    assert np.abs(u0).max() > 1e-3  # a real flow at the end of the cycle
    # measured 3.9e-8 and 3e-12 (GMRES to 1e-12 relative; at 1e-10 the velocity differed by 8e-6)
    assert np.abs(u1 - u0).max() <= 1e-6 * np.abs(u0).max()
    assert np.abs(p1 - p0).max() <= 1e-9 * max(np.abs(p0).max(), 1e-9)
