"""TAWSS and OSI of pulsatile runs (vessel/wall_shear_cycle.py through run_flow_study) against exact answers.

* Womersley (shared reference ``womersley_R4mm_f1.2Hz``, pressure-driven, no mean flow): the wall shear
  is tau(t) = A cos(omega t + phi), so TAWSS = 2 A / pi and OSI = 1/2 exactly.
* A steady inflow run through the pulsatile path: OSI = 0 and TAWSS = the steady |WSS|.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from mpi4py import MPI  # noqa: F401  (before dolfinx)

from surgiplan.core.simulation.study_schema import Study


def _pipe(R_mm, L_mm, n_radial, layers, wall_size=None, order=2):
    from surgiplan.core.simulation import meshes
    from surgiplan.core.simulation.volume_mesh_io import mesh_from_gmsh

    meshes.pipe(R_mm, L_mm, R_mm / n_radial, layers, order=order, wall_size=wall_size)
    tm = mesh_from_gmsh(MPI.COMM_WORLD)
    meshes.finish()
    return tm.scaled(1e-3, "m")


def _case(reference_file, name):
    cases = json.loads(reference_file.read_text())["cases"]
    c = next(c for c in cases if c["name"] == name)
    p = {k: v["value"] for k, v in c["parameters"].items()}
    q = {x["name"]: x["value"] for x in c["quantities"]}
    return p, q


def _study(flow: dict) -> Study:
    return Study.model_validate({"name": "cycle", "physics": "flow", "mesh": {"file": "pipe.msh"}, "flow": flow,
                                 "solver": {"method": "direct"}})


def test_womersley_tawss_and_osi_match_the_exact_solution(reference_file):
    from surgiplan.core.simulation.flow_study import run_flow_study

    p, q = _case(reference_file, "womersley_R4mm_f1.2Hz")
    R, T, G0 = p["radius_R"], 1.0 / p["frequency_f"], p["gradient_amplitude_G0"]
    L = 2 * R
    # the mesh and time steps of `surgiplan verify --quick`'s Womersley case (graded towards the wall)
    tm = _pipe(R * 1e3, L * 1e3, 3, 2, wall_size=R * 1e3 / 14)
    study = _study({"fluid": {"density_kg_m3": p["density_rho"], "viscosity_Pa_s": p["dynamic_viscosity_mu"]},
                    "inlet": {"boundary": "inlet", "type": "pressure", "pressure_Pa": G0 * L, "cosine_amplitude": 1.0},
                    "outlets": [{"boundary": "outlet"}], "walls": ["wall"], "convection": False,
                    "pulsatile": {"period_s": T, "cycles": 5, "steps_per_cycle": 36}})
    res = run_flow_study(study, tm, None)["wall_shear_cycle"]
    amp = q["wall_shear_stress_amplitude"]
    assert res["steps"] == 36 and res["cycle_s"] == pytest.approx(T)
    # measured: TAWSS 0.39792 Pa against 2 A / pi = 0.39763 Pa (+0.07 %), over the wall 0.3967-0.3986 Pa;
    # OSI 0.4995 (5 cycles leave a little of the start-up transient's mean flow)
    assert res["tawss_mean_Pa"] == pytest.approx(2 * amp / math.pi, rel=5e-3)
    assert res["tawss_min_Pa"] > 0.98 * 2 * amp / math.pi and res["tawss_max_Pa"] < 1.02 * 2 * amp / math.pi
    assert res["osi_mean"] == pytest.approx(0.5, abs=1.5e-3)
    assert res["osi_max"] <= 0.5


def test_steady_inflow_gives_zero_osi_and_the_steady_wss():
    from surgiplan.core.simulation.flow_study import run_flow_study

    tm = _pipe(2.0, 10.0, 2, 5, order=1)
    study = _study({"inlet": {"boundary": "inlet", "flow_rate_mL_s": 0.5}, "outlets": [{"boundary": "outlet"}],
                    "walls": ["wall"], "convection": False,  # Stokes: CN is stable at any step
                    "pulsatile": {"period_s": 0.5, "cycles": 8, "steps_per_cycle": 6}})
    summary = run_flow_study(study, tm, None)
    res, final = summary["wall_shear_cycle"], summary["final_state"]
    # what is left of the start-up transient (Crank-Nicolson damps its stiff modes slowly) after 8 cycles:
    # measured OSI max 2.6e-9 and TAWSS 1.4e-4 above the final |WSS|; a pulsating or sign-flipped WSS would
    # give an OSI of 1e-2 .. 0.5
    assert res["osi_max"] < 1e-7
    assert res["tawss_mean_Pa"] == pytest.approx(final["wss_mean_Pa"], rel=1e-3)
    assert res["tawss_max_Pa"] == pytest.approx(final["wss_max_Pa"], rel=1e-3)
    # developed Stokes flow in the pipe: Poiseuille WSS 4 mu Q / (pi R^3) = 0.279 Pa on most of the wall
    assert res["tawss_mean_Pa"] == pytest.approx(4 * 0.0035 * 0.5e-6 / (math.pi * 2e-3**3), rel=0.15)
    assert res["wall_area_mm2"] == pytest.approx(2 * math.pi * 2.0 * 10.0, rel=0.02)
    assert np.isfinite(res["tawss_min_Pa"]) and res["tawss_min_Pa"] > 0
