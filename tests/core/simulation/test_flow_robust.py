"""Steady-solver robustness: the mesh-quality check before any solve, and adaptive continuation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from mpi4py import MPI

from surgiplan.core.errors import MeshingError


def test_tet_quality_of_regular_flat_and_sliver_tetrahedra():
    from surgiplan.core.simulation.mesh_quality import tet_quality

    reg = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float)
    flat = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], float)
    sliver = flat + np.array([[0, 0, 0], [0, 0, 0.01], [0, 0, 0.01], [0, 0, 0]])
    q = tet_quality(np.stack([reg, flat, sliver, 3.0 * reg]))
    assert q[0] == pytest.approx(1.0, abs=1e-12) and q[3] == pytest.approx(1.0, abs=1e-12)
    assert q[1] == 0.0 and 0 < q[2] < 0.02


def test_a_stretched_wedge_is_not_a_sliver_but_a_flat_cell_is():
    """An extruded pipe's long wedges (aspect 20) have a low q but are not degenerate."""
    from surgiplan.core.simulation.mesh_quality import SLIVER_QUALITY, tet_degeneracy, tet_quality

    reg = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float)
    wedge = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 20.0]])  # a corner of a 1 x 1 x 20 prism
    flat = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], float)
    sliver = flat + np.array([[0, 0, 0], [0, 0, 0.002], [0, 0, 0.002], [0, 0, 0]])
    q = tet_quality(np.stack([reg, wedge, sliver]))
    d = tet_degeneracy(np.stack([reg, wedge, flat, sliver]))
    assert d[0] == pytest.approx(1.0, abs=1e-12)
    assert q[1] < 0.05 and d[1] > 0.1  # long, not degenerate
    assert d[2] == 0.0 and d[3] < SLIVER_QUALITY and q[2] < SLIVER_QUALITY


def _pipe():
    from surgiplan.core.simulation import meshes
    from surgiplan.core.simulation.volume_mesh_io import mesh_from_gmsh

    meshes.pipe(4.0, 16.0, 4.0 / 3, 4, order=1)
    tm = mesh_from_gmsh(MPI.COMM_WORLD)
    meshes.finish()
    return tm.scaled(1e-3, "m")


def _spec(q=5.0, steps=0):
    from surgiplan.core.simulation.study_schema import FlowSpec

    return FlowSpec.model_validate({"inlet": {"boundary": "inlet", "flow_rate_mL_s": q},
                                    "outlets": [{"boundary": "outlet"}], "walls": ["wall"],
                                    "reynolds_steps": steps})


def test_a_sliver_stops_the_solve_before_it_starts_and_names_the_place():
    from surgiplan.core.simulation.flow import solve_steady
    from surgiplan.core.simulation.mesh_quality import mesh_quality

    tm = _pipe()
    assert mesh_quality(tm.mesh).n_slivers == 0
    # flatten one interior cell: move its 4th vertex into the plane of the other three
    geo = tm.mesh.geometry
    cell = geo.dofmaps[0][len(geo.dofmaps[0]) // 2]
    a, b, c = geo.x[cell[:3]]
    nrm = np.cross(b - a, c - a)
    nrm /= np.linalg.norm(nrm)
    d = geo.x[cell[3]]
    geo.x[cell[3]] = d - ((d - a) @ nrm) * nrm
    with pytest.raises(MeshingError, match=r"sliver tetrahedra .* near \(") as exc:
        solve_steady(tm, _spec())
    assert "singular" in str(exc.value) and "continuation" not in str(exc.value)


def test_adaptive_continuation_reaches_the_target_flow_and_reports_it():
    from surgiplan.core.simulation.flow import solve_steady
    from surgiplan.core.simulation.flow_study import flow_quantities

    tm = _pipe()
    sol = solve_steady(tm, _spec(q=20.0, steps=0))
    hist = sol.info["continuation"]
    assert hist[-1]["factor"] == pytest.approx(1.0)
    assert all(b["factor"] > a["factor"] for a, b in zip(hist, hist[1:], strict=False))
    assert sol.info["mesh_quality"]["min_quality"] > 0.05
    # developed Poiseuille: dp = 8 mu L Q / (pi R^4) with the parabolic inlet (16 mm of 4 mm pipe)
    dp = flow_quantities(sol)["pressure_drop_Pa"]
    assert dp == pytest.approx(8 * 0.0035 * 0.016 * 20e-6 / (math.pi * 0.004**4), rel=0.05)
