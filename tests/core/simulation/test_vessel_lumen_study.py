"""run_lumen_study on a straight open tube (STL from 'another tool'): developed Poiseuille flow in the
centreline table, mass conservation, contract keys; and its bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from mpi4py import MPI  # noqa: F401

from surgiplan.core.errors import InputError

R_MM, L_MM, Q_ML_S = 3.0, 60.0, 2.0
MU, RHO = 0.0035, 1060.0


@pytest.fixture(scope="module")
def tube_stl(tmp_path_factory):
    import pyvista as pv

    path = tmp_path_factory.mktemp("lumen") / "tube.stl"
    cyl = pv.Cylinder(center=(10.0, -5.0, 30.0), direction=(0.0, 0.0, 1.0), radius=R_MM, height=L_MM,
                      resolution=96, capping=False).triangulate().subdivide(2).clean()
    cyl.save(str(path))
    return path


@pytest.mark.slow
def test_straight_tube_gives_poiseuille_along_the_centreline(tube_stl, tmp_path):
    from surgiplan.core.simulation.vessel.lumen_study import run_lumen_study

    res = run_lumen_study(tube_stl, (10.0, -5.0, 30.0 + L_MM / 2), Q_ML_S, out_dir=tmp_path / "out")
    for key in ("display_fields", "key_results", "setup", "verification", "centreline_table"):
        assert key in res
    assert {f["name"] for f in res["display_fields"]} == {"pressure_mmHg", "wss_Pa"}
    assert (tmp_path / "out" / "surface.vtp").is_file() and (tmp_path / "out" / "summary.json").is_file()
    rows = [r for r in res["centreline_table"] if 15.0 <= r["arc_mm"] <= L_MM - 20.0]
    assert len(rows) >= 8
    s = np.array([r["arc_mm"] for r in rows]) * 1e-3
    p = np.array([r["mean_pressure_mmHg"] for r in rows]) * 133.322387415
    grad = -np.polyfit(s, p, 1)[0]
    r_model = np.median([r["radius_mm"] for r in rows]) * 1e-3
    assert r_model == pytest.approx(R_MM * 1e-3, rel=0.03)
    expected = 8 * MU * Q_ML_S * 1e-6 / (math.pi * r_model**4)
    assert grad == pytest.approx(expected, rel=0.12)
    u_mean = Q_ML_S * 1e-6 / (math.pi * r_model**2)
    assert np.median([r["centre_velocity_m_s"] for r in rows]) == pytest.approx(2 * u_mean, rel=0.1)
    flows = res["final_state"]["outlet_flow_mL_per_s"]
    assert sum(flows.values()) == pytest.approx(Q_ML_S, rel=1e-3)


def test_bad_lumen_inputs(tmp_path, tube_stl):
    from surgiplan.core.simulation.vessel.lumen_study import run_lumen_study

    out = tmp_path / "out"
    with pytest.raises(InputError, match="not found"):
        run_lumen_study(tmp_path / "none.stl", (0, 0, 0), 1.0, out_dir=out)
    empty = tmp_path / "empty.stl"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty.stl"):
        run_lumen_study(empty, (0, 0, 0), 1.0, out_dir=out)
    trunc = tmp_path / "trunc.stl"
    trunc.write_bytes(tube_stl.read_bytes()[:300])
    with pytest.raises(InputError, match="trunc.stl"):
        run_lumen_study(trunc, (0, 0, 0), 1.0, out_dir=out)
    with pytest.raises(InputError, match="unknown lumen file type"):
        run_lumen_study(tmp_path / "x.txt", (0, 0, 0), 1.0, out_dir=out)
    with pytest.raises(InputError, match="positive number of mL/s"):
        run_lumen_study(tube_stl, (0, 0, 0), -1.0, out_dir=out)
    with pytest.raises(InputError, match="three finite LPS"):
        run_lumen_study(tube_stl, (0, float("nan"), 0), 1.0, out_dir=out)
    with pytest.raises(InputError, match="density and viscosity"):
        run_lumen_study(tube_stl, (0, 0, 0), 1.0, viscosity=0.0, out_dir=out)
    with pytest.raises(InputError, match="unknown lumen-study option"):
        run_lumen_study(tube_stl, (0, 0, 0), 1.0, out_dir=out, options={"hmax": 2})
    with pytest.raises(InputError, match="h_max_mm must be"):
        run_lumen_study(tube_stl, (0, 0, 0), 1.0, out_dir=out, options={"h_max_mm": "big"})
    with pytest.raises(InputError, match="wall_ratio must be"):
        run_lumen_study(tube_stl, (0, 0, 0), 1.0, out_dir=out, options={"wall_ratio": 3})
    assert not out.exists()  # nothing written for a refused input
