"""Study files run as child processes: 1 vs 2 ranks, result files, cancellation, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from mpi4py import MPI  # noqa: F401

from surgiplan.core.errors import Cancelled, InputError, SolverError
from surgiplan.core.jobs import RecordingProgress
from surgiplan.core.simulation.results import read_results, read_status
from surgiplan.core.simulation.runner import run_study_process
from tests.core.simulation._studies import elasticity_study, flow_study, write_study


def _flatten(d, prefix=""):
    out = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}/{k}"))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            out.update(_flatten(v, f"{prefix}/{i}"))
    elif isinstance(d, (int, float)) and not isinstance(d, bool):
        out[prefix] = float(d)
    return out


def _compare(a: dict, b: dict, skip=("time", "ranks", "iterations", "wall_time")) -> int:
    fa, fb = _flatten(a), _flatten(b)
    n = 0
    for key, va in fa.items():
        if any(s in key for s in skip):
            continue
        vb = fb[key]
        scale = max(abs(va), abs(vb))
        tiny = 1e-12 if "displacement" not in key else 1e-12
        if scale > tiny:
            assert abs(va - vb) / scale < 1e-6, (key, va, vb)
            n += 1
    return n


@pytest.mark.mpi
def test_elasticity_study_same_on_1_and_2_ranks(tmp_path, beam_msh):
    study = write_study(tmp_path, elasticity_study(beam_msh))
    progress = RecordingProgress()
    s1 = run_study_process(study, tmp_path / "r1", 1, progress)
    s2 = run_study_process(study, tmp_path / "r2", 2)
    assert s1["ranks"] == 1 and s2["ranks"] == 2
    assert _compare(s1, s2) > 20
    assert progress.updates and progress.updates[-1][0] >= 0.9
    # the stiffer region (b, near the load) carries the larger tip displacement; equilibrium:
    tip = s1["boundaries"]["x1"]["mean_displacement_mm"][2]
    assert tip < 0
    for r in ("r1", "r2"):
        assert read_status(tmp_path / r)["status"] == "complete"
        saved = json.loads((tmp_path / r / "summary.json").read_text())
        assert saved["regions"].keys() == s1["regions"].keys()
        grid = read_results(tmp_path / r / "results.xdmf")
        assert {"displacement_mm"} <= set(grid.point_data.keys())
        assert {"von_mises_MPa", "youngs_modulus_MPa"} <= set(grid.cell_data.keys())
        assert grid.n_cells > 100
        assert math.isclose(float(np.max(grid.cell_data["von_mises_MPa"])),
                            s1["regions"]["all"]["von_mises_peak_MPa"], rel_tol=1e-9)
        assert sorted(np.unique(grid.cell_data["youngs_modulus_MPa"])) == [17000.0, 110000.0]
        assert not list((tmp_path / r).glob(".*"))  # no temporary leftovers


@pytest.mark.mpi
def test_flow_study_same_on_1_and_2_ranks(tmp_path, pipe_msh):
    study = write_study(tmp_path, flow_study(pipe_msh))
    s1 = run_study_process(study, tmp_path / "r1", 1)
    s2 = run_study_process(study, tmp_path / "r2", 2)
    assert _compare(s1["final_state"], s2["final_state"]) > 8
    f = s1["final_state"]
    assert f["inlet_flow_mL_per_s"] == pytest.approx(5.0, rel=1e-9)
    assert f["outlet_flow_mL_per_s"]["outlet"] == pytest.approx(5.0, rel=1e-6)  # mass conservation
    assert f["pressure_drop_Pa"] > 0 and f["pressure_drop_mmHg"] == pytest.approx(f["pressure_drop_Pa"] / 133.322387415)
    grid = read_results(tmp_path / "r1" / "results.xdmf")
    assert {"velocity_m_per_s", "pressure_Pa"} <= set(grid.point_data.keys())
    assert "wall_shear_stress_Pa" in grid.cell_data.keys()


@pytest.mark.mpi
def test_cancel_two_ranks_marks_cancelled(tmp_path, pipe_msh):
    study = write_study(tmp_path, flow_study(pipe_msh, flow={
        "inlet": {"boundary": "inlet", "flow_rate_mL_s": 5.0, "cosine_amplitude": 1.0},
        "pulsatile": {"period_s": 1.0, "cycles": 50, "steps_per_cycle": 100}}))
    progress = RecordingProgress(cancel_after=8)
    with pytest.raises(Cancelled):
        run_study_process(study, tmp_path / "out", 2, progress)
    assert read_status(tmp_path / "out")["status"] == "cancelled"
    assert not (tmp_path / "out" / "summary.json").exists()
    assert not (tmp_path / "out" / "results.xdmf").exists()


def test_bad_json_and_missing_mesh(tmp_path, beam_msh):
    bad = tmp_path / "bad.json"
    bad.write_text('{"physics": "elasticity", ')
    with pytest.raises(InputError, match="not valid JSON"):
        run_study_process(bad, tmp_path / "o")
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(InputError, match="empty.json"):
        run_study_process(empty, tmp_path / "o")
    study = elasticity_study(tmp_path / "nope.msh")
    p = write_study(tmp_path, study, "missing.json")
    with pytest.raises(InputError, match="nope.msh"):
        run_study_process(p, tmp_path / "o2")
    assert read_status(tmp_path / "o2")["status"] in ("failed", "missing")


def test_bad_studies_in_process(tmp_path, beam_msh):
    from surgiplan.core.simulation.run_study import run_study

    def run(study, name):
        p = write_study(tmp_path / name, study)
        before = p.read_bytes()
        try:
            return run_study(p, tmp_path / name / "out")
        finally:
            assert p.read_bytes() == before  # the input is never modified

    s = elasticity_study(beam_msh)
    s["elasticity"]["boundary_conditions"][0]["boundary"] = "x9"
    with pytest.raises(InputError, match="unknown boundary tag 'x9'.*x0"):
        run(s, "tag")
    s = elasticity_study(beam_msh)
    s["elasticity"]["materials"][1]["youngs_modulus_MPa"] = 0.0
    with pytest.raises(SolverError, match="non-positive Young's modulus"):
        run(s, "modulus")
    s = elasticity_study(beam_msh)
    s["elasticity"]["materials"][0]["poissons_ratio"] = 0.5
    with pytest.raises(SolverError, match="Poisson"):
        run(s, "nu")
    s = elasticity_study(beam_msh)
    s["elasticity"]["boundary_conditions"] = [{"type": "force", "boundary": "x1", "force_N": [0, 0, -1]}]
    with pytest.raises(SolverError, match="no support"):
        run(s, "support")
    s = elasticity_study(beam_msh)
    s["elasticity"]["materials"] = s["elasticity"]["materials"][:1]
    with pytest.raises(InputError, match="no material"):
        run(s, "material")
    s = elasticity_study(beam_msh, schema_version=99)
    with pytest.raises(InputError, match="newer"):
        run(s, "version")
    s = elasticity_study(beam_msh)
    s["elasticity"]["boundary_conditions"][0]["type"] = "glue"
    with pytest.raises(InputError, match="invalid study"):
        run(s, "bctype")
    s = elasticity_study(beam_msh)
    del s["elasticity"]
    with pytest.raises(InputError, match="needs an 'elasticity' block"):
        run(s, "block")


def test_truncated_mesh_file(tmp_path, beam_msh):
    from surgiplan.core.simulation.run_study import run_study

    broken = tmp_path / "broken.msh"
    data = beam_msh.read_bytes()
    broken.write_bytes(data[: len(data) // 3])
    p = write_study(tmp_path, elasticity_study(broken))
    with pytest.raises(InputError, match="broken.msh"):
        run_study(p, tmp_path / "out")
