"""The remodelling loop with real FE solves (dolfinx, child process) against the uniform bar.

A 20 x 10 x 10 mm bar on symmetry rollers under an axial force is in uniform uniaxial stress for any
mesh, so the FE-coupled loop must reproduce the stress-driven integration of the same rule step by
step (to solver precision) and the shared reference's density history.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from mpi4py import MPI  # noqa: F401  (before dolfinx)

from surgiplan.core.errors import InputError
from surgiplan.core.twin.remodel_process import run_remodel_process
from surgiplan.core.twin.remodel_rule import RemodelParams, uniform_bar_history
from tests.conftest import require_shared

C, GAMMA, K, S_HALF, B, RHO0 = 3790.0, 3.0, 0.0036, 0.75, 1.0, 0.8
DT, T_END = 5.0, 50.0


@pytest.fixture(scope="module")
def bar_study(tmp_path_factory):
    from surgiplan.core.simulation import meshes

    d = tmp_path_factory.mktemp("bar")
    meshes.box(20.0, 10.0, 10.0, 5.0)
    meshes.write_msh(d / "bar.msh")
    meshes.finish()
    study = {
        "schema_version": 1, "name": "remodelling bar", "physics": "elasticity",
        "mesh": {"file": "bar.msh", "unit": "mm"},
        "elasticity": {"degree": 1,
                       "materials": [{"region": "solid", "youngs_modulus_MPa": C * RHO0 ** GAMMA,
                                      "poissons_ratio": 0.3}],
                       "boundary_conditions": [
                           {"type": "displacement", "boundary": "x0", "value_mm": [0.0, None, None]},
                           {"type": "displacement", "boundary": "y0", "value_mm": [None, 0.0, None]},
                           {"type": "displacement", "boundary": "z0", "value_mm": [None, None, 0.0]},
                           {"type": "force", "boundary": "x1", "force_N": [1000.0, 0.0, 0.0]}]},
        "solver": {"method": "direct"},
    }
    (d / "study.json").write_text(json.dumps(study))
    return d


def _params():
    return RemodelParams(lazy_zone_half_width=S_HALF, rate_constant=B, reference="constant",
                         reference_stimulus_J_per_g=K, density_min=0.01, density_max=1.92,
                         modulus_constant=C, modulus_exponent=GAMMA, time_step_months=DT)


def test_fe_loop_matches_the_bar_rule_and_the_reference(bar_study, tmp_path):
    cfg = {"study": str(bar_study / "study.json"), "params": _params().to_dict(), "months": [25.0, T_END],
           "out": str(tmp_path / "out"), "region": "solid"}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    res = run_remodel_process(tmp_path / "config.json")
    assert res["solves"] == int(T_END / DT)
    with np.load(tmp_path / "out" / "remodel_cells.npz") as z:
        rho0, rho25, rho50 = z["rho0_g_cm3"], z["rho_25_g_cm3"], z["rho_50_g_cm3"]
        s0 = z["stimulus0_J_g"]
    # the start: E = C rho^gamma inverted exactly; sigma = 10 MPa everywhere -> S = sigma^2 / (2 E rho)
    assert np.allclose(rho0, RHO0, rtol=1e-9)
    assert np.allclose(s0, 10.0 ** 2 / (2 * C * RHO0 ** 4), rtol=1e-6)
    _, at = uniform_bar_history(10.0, np.array([RHO0]), K, _params(), T_END, DT, (25.0, T_END))
    assert np.allclose(rho25, at[25.0][0], rtol=1e-6) and np.allclose(rho50, at[T_END][0], rtol=1e-6)
    # explicit Euler with 5 time units a step against the reference's density at t = 50 (1.12545 g/cm^3)
    ref = json.loads(require_shared("reference", "validation_reference_values.json").read_text())
    case = next(c for c in ref["cases"] if c["name"] == "bone_remodelling_uniform_bar")
    run = next(r for r in case["runs"] if r["lazy_zone_half_width_s"] == S_HALF and r["rho0_g_per_cm3"] == RHO0)
    assert abs(float(rho50.mean()) / run["density_at_times"]["50.0"] - 1) < 0.03
    assert (tmp_path / "out" / "remodel.vtu").is_file()


def test_unreadable_intact_reference_names_the_file(bar_study, tmp_path):
    bad = tmp_path / "intact.vtu"
    bad.write_bytes(b"<VTKFile truncated")
    p = RemodelParams(reference="site-specific", modulus_constant=C, modulus_exponent=GAMMA, time_step_months=DT)
    cfg = {"study": str(bar_study / "study.json"), "params": p.to_dict(), "months": [DT],
           "intact_results": str(bad), "out": str(tmp_path / "out"), "region": "solid"}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(InputError, match="intact.vtu"):
        run_remodel_process(tmp_path / "config.json")
    assert not (tmp_path / "out").exists()  # nothing written half-way
