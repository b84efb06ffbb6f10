"""The elasticity solver's PETSc set-up: options reach the multigrid levels, cancellation stops CG,
uniform materials as constants give the per-cell answer, a load-free (displacement-only) study."""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI
from petsc4py import PETSc

from surgiplan.core.errors import Cancelled
from surgiplan.core.jobs import RecordingProgress
from surgiplan.core.simulation import elasticity
from surgiplan.core.simulation.elasticity import solve_elasticity
from surgiplan.core.simulation.study_schema import ElasticitySpec, SolverSpec
from surgiplan.core.simulation.volume_mesh_io import read_tagged_mesh

PREFIX = "surgiplan_elasticity_"


def _spec(**over) -> ElasticitySpec:
    d = {"degree": 1,
         "materials": [{"region": "all", "youngs_modulus_MPa": 17000, "poissons_ratio": 0.3}],
         "boundary_conditions": [{"type": "fixed", "boundary": "x0"},
                                 {"type": "force", "boundary": "x1", "force_N": [0, 0, -200]}]}
    d.update(over)
    return ElasticitySpec.model_validate(d)


@pytest.fixture(scope="module")
def beam(beam_msh):
    return read_tagged_mesh(beam_msh, MPI.COMM_WORLD)


def _iterative(**opts) -> SolverSpec:
    return SolverSpec(method="iterative", rtol=1e-10, petsc_options=opts)


def test_level_options_reach_the_multigrid_smoothers(beam):
    """mg_levels_* options are read when PCSetUp builds the levels: they must still be in the
    database then (they were removed too early before and silently ignored), and gone afterwards."""
    base = solve_elasticity(beam, _spec(), _iterative())
    more = solve_elasticity(beam, _spec(), _iterative(mg_levels_ksp_max_it=6))
    assert more.info["iterations"] < base.info["iterations"]  # stronger smoothing: fewer CG iterations
    np.testing.assert_allclose(more.u.x.array, base.u.x.array, rtol=0, atol=1e-7 * np.abs(base.u.x.array).max())
    opts = PETSc.Options()
    assert not any(opts.hasName(f"{PREFIX}{k}") for k in
                   ("ksp_type", "pc_type", "mg_levels_ksp_max_it", "mg_levels_esteig_ksp_type", "ksp_rtol"))


def test_cancel_stops_the_cg_solve(beam):
    # updates: 0.0 set-up, 0.2 assembled, then the monitor's (iteration 0 is the 3rd): cancel there
    progress = RecordingProgress(cancel_after=3)
    with pytest.raises(Cancelled, match="elasticity solve"):
        solve_elasticity(beam, _spec(), _iterative(), progress)
    assert len(progress.updates) == 3  # stopped at the first check, no further iterations reported
    assert not PETSc.Options().hasName(f"{PREFIX}ksp_type")


def test_uniform_material_as_constants_matches_per_cell_fields(beam, monkeypatch):
    spec = _spec(degree=2)
    fast = solve_elasticity(beam, spec, SolverSpec(method="direct"))
    monkeypatch.setattr(elasticity, "_form_materials", lambda E, nu: (E, nu))  # force the DG0 path
    cells = solve_elasticity(beam, spec, SolverSpec(method="direct"))
    scale = np.abs(cells.u.x.array).max()
    assert scale > 0
    np.testing.assert_allclose(fast.u.x.array, cells.u.x.array, rtol=0, atol=1e-10 * scale)


def test_two_materials_keep_per_cell_moduli(beam):
    spec = _spec(materials=[{"region": "region_a", "youngs_modulus_MPa": 17000, "poissons_ratio": 0.3},
                            {"region": "region_b", "youngs_modulus_MPa": 110000, "poissons_ratio": 0.3}])
    E, nu = elasticity.material_fields(beam, spec)
    assert elasticity._form_materials(E, nu) == (E, nu)
    soft = solve_elasticity(beam, _spec(), SolverSpec(method="direct"))
    mixed = solve_elasticity(beam, spec, SolverSpec(method="direct"))
    tip = lambda s: MPI.COMM_WORLD.allreduce(float(np.abs(s.u.x.array).max()), MPI.MAX)  # noqa: E731
    assert tip(mixed) < 0.9 * tip(soft)  # the stiff half carries load


def test_prescribed_displacement_without_loads(beam):
    """No traction, pressure, force or body force: the load form is empty (boundary zero) and the
    displacement comes from the Dirichlet data alone; x1 pulled 0.01 mm along x."""
    spec = _spec(boundary_conditions=[{"type": "fixed", "boundary": "x0"},
                                      {"type": "displacement", "boundary": "x1", "value_mm": [0.01, None, None]}])
    sol = solve_elasticity(beam, spec, SolverSpec(method="direct"))
    ux = sol.u.x.array.reshape(-1, 3)[:, 0]
    assert MPI.COMM_WORLD.allreduce(float(ux.max()), MPI.MAX) == pytest.approx(0.01, rel=1e-9)
    assert MPI.COMM_WORLD.allreduce(float(ux.min()), MPI.MAX) >= -1e-9


def test_default_gamg_matches_the_direct_solver(beam):
    """The tuned default (CG + GAMG, Chebyshev with point-block Jacobi on the 3x3 nodal blocks)
    converges to MUMPS's solution on the two-material beam, in fewer iterations than scalar Jacobi."""
    assert elasticity.GAMG_DEFAULTS["mg_levels_pc_type"] == "pbjacobi"
    direct = solve_elasticity(beam, _spec(), SolverSpec(method="direct"))
    it = solve_elasticity(beam, _spec(), _iterative())
    scalar = solve_elasticity(beam, _spec(), _iterative(mg_levels_pc_type="jacobi"))
    scale = np.abs(direct.u.x.array).max()
    np.testing.assert_allclose(it.u.x.array, direct.u.x.array, rtol=0, atol=1e-7 * scale)
    np.testing.assert_allclose(scalar.u.x.array, direct.u.x.array, rtol=0, atol=1e-7 * scale)
    assert it.info["iterations"] <= scalar.info["iterations"]
