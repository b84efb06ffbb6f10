"""Hostile and absurd study files, and stopping a running study by signal (issue 21).

Every hostile study is refused before anything runs: exit code 1, a message naming the
field, no traceback, nothing written into the result folder. A running study stopped by
SIGTERM or SIGINT (from the CLI, or the documented ``mpiexec -n 2`` line) ends every rank
within seconds with status ``cancelled``, no process left and no result file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mpi4py import MPI  # noqa: F401  (before dolfinx)

from surgiplan.core.errors import InputError
from surgiplan.core.simulation.results import read_status, write_status
from surgiplan.core.simulation.study_schema import MAX_TIME_STEPS, load_study
from tests.conftest import REPO_ROOT
from tests.core.simulation._studies import elasticity_study, flow_study, write_study


def _pulsatile(mesh: Path, **puls) -> dict:
    return flow_study(mesh, flow={
        "inlet": {"boundary": "inlet", "flow_rate_mL_s": 5.0, "cosine_amplitude": 1.0},
        "pulsatile": {"period_s": 1.0, "cycles": 2, "steps_per_cycle": 10, **puls}})


def _text(study: dict, old: str | None = None, new: str | None = None) -> str:
    text = json.dumps(study)
    if old is not None:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def _hostile(mesh: Path) -> dict[str, tuple[str, str]]:
    """name -> (study JSON text, what the message must name)."""
    puls = _pulsatile(mesh)
    ela = elasticity_study(mesh)

    def edit(study, fn):
        study = json.loads(json.dumps(study))
        fn(study)
        return json.dumps(study)

    wk = {"boundary": "outlet", "type": "windkessel", "proximal_resistance_Pa_s_m3": 1e7}
    return {
        "negative_period": (_text(puls, '"period_s": 1.0', '"period_s": -0.8'), "flow.pulsatile.period_s"),
        "1e18_steps": (_text(puls, '"steps_per_cycle": 10', '"steps_per_cycle": 1000000000000000000'),
                       f"beyond the budget of {MAX_TIME_STEPS:,} time steps"),
        "zero_steps_per_cycle": (_text(puls, '"steps_per_cycle": 10', '"steps_per_cycle": 0'),
                                 "flow.pulsatile.steps_per_cycle"),
        "nan_literal_force": (_text(ela, "[0, 0, -200]", "[0, NaN, -200]"),
                              "elasticity.boundary_conditions.1.force.force_N.1"),
        "1e999_pressure": (_text(ela, '"pressure_MPa": 0.5', '"pressure_MPa": 1e999'),
                           "elasticity.boundary_conditions.2.pressure.pressure_MPa"),
        "infinity_flow_rate": (_text(puls, '"flow_rate_mL_s": 5.0', '"flow_rate_mL_s": -Infinity'),
                               "flow.inlet.flow_rate_mL_s"),
        "windkessel_missing_values": (edit(puls, lambda s: s["flow"].update(outlets=[wk])),
                                      "compliance_m3_Pa, distal_resistance_Pa_s_m3"),
        "resistance_missing_value": (edit(puls, lambda s: s["flow"].update(
            outlets=[{"boundary": "outlet", "type": "resistance"}])), "needs resistance_Pa_s_m3"),
        "unknown_field": (edit(ela, lambda s: s["elasticity"].update(damping=0.1)), "elasticity.damping"),
        "deep_nesting": ('{"physics": "flow", "name": ' + "[" * 100_000 + "]" * 100_000 + "}",
                         "name.0.0.0"),
        "5000_digit_number": (_text(puls, '"cycles": 2', '"cycles": ' + "7" * 5000), "flow.pulsatile.cycles"),
        # beyond the list
        "5000_digit_fraction": (_text(ela, '"youngs_modulus_MPa": 17000', '"youngs_modulus_MPa": 0.' + "3" * 5000),
                                "elasticity.materials.0.youngs_modulus_MPa"),
        "duplicate_key": ('{"physics": "flow", "physics": "elasticity"}', "'physics' appears twice"),
        "petsc_log_file": (edit(ela, lambda s: s["solver"].update(petsc_options={"log_view": ":/tmp/x.txt"})),
                           "'log_view' is refused"),
        "petsc_python_pc": (edit(ela, lambda s: s["solver"].update(petsc_options={"pc_type": "python"})),
                            "solver.petsc_options"),
        "unknown_output_field": (edit(ela, lambda s: s.update(outputs={"fields": ["velocity"]})),
                                 "outputs.fields: 'velocity'"),
        "waveform_without_pulsatile": (edit(puls, lambda s: s["flow"].pop("pulsatile")),
                                       "inlet.cosine_amplitude is used only by a pulsatile study"),
        "waveform_beyond_period": (edit(puls, lambda s: (s["flow"]["inlet"].pop("cosine_amplitude"),
                                                         s["flow"]["inlet"].update(waveform=[[0, 1], [2.5, 2]]))),
                                   "beyond pulsatile.period_s"),
        "unused_resistance": (edit(puls, lambda s: s["flow"]["outlets"][0].update(resistance_Pa_s_m3=1e8)),
                              "resistance_Pa_s_m3 unused by a traction outlet"),
        "zero_density": (edit(puls, lambda s: s["flow"].update(fluid={"density_kg_m3": 0})),
                         "flow.fluid.density_kg_m3"),
        "huge_force": (_text(ela, "[0, 0, -200]", "[0, 0, -1e300]"), "force_N.2"),
        "tag_of_5000_chars": (edit(ela,
                                   lambda s: s["elasticity"]["boundary_conditions"][0].update(boundary="9" * 5000)),
                              "boundary_conditions.0.fixed.boundary"),
        "newer_schema": (edit(ela, lambda s: s.update(schema_version=2)), "newer"),
        "top_level_array": ("[1, 2, 3]", "(top level)"),
    }


HOSTILE = sorted(_hostile(Path("m.msh")))
#: A sample that goes through the real command (each start costs ~1.5 s); the rest in-process.
HOSTILE_CLI = ["negative_period", "1e18_steps", "zero_steps_per_cycle", "nan_literal_force", "1e999_pressure",
               "windkessel_missing_values", "unknown_field", "deep_nesting", "5000_digit_number",
               "petsc_log_file"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_study_refused_naming_the_field(tmp_path, beam_msh, name):
    text, field = _hostile(beam_msh)[name]
    path = tmp_path / "study.json"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_study(path)
    assert field in str(err.value) and str(path) in str(err.value)
    assert len(str(err.value)) < 1000


@pytest.mark.parametrize("name", HOSTILE_CLI)
def test_hostile_study_through_the_command(tmp_path, beam_msh, name):
    text, field = _hostile(beam_msh)[name]
    path = tmp_path / "study.json"
    path.write_text(text)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "surgiplan", "simulate", str(path), "--out", str(out)],
                       capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and field in r.stderr and "invalid study" in r.stderr
    assert not out.exists()  # refused before anything ran: no status, no 'running' left behind


def test_hostile_study_through_the_child_process(tmp_path, beam_msh):
    """The documented child line refuses too: a JSON error line, exit 1, no status written."""
    text, field = _hostile(beam_msh)["windkessel_missing_values"]
    path = tmp_path / "study.json"
    path.write_text(text)
    out = tmp_path / "out"
    out.mkdir()
    r = subprocess.run([sys.executable, "-m", "surgiplan.core.simulation.run_study", str(path), "--out", str(out)],
                       capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert r.returncode == 1
    last = json.loads(r.stdout.strip().splitlines()[-1])
    assert last["error"]["type"] == "InputError" and field in last["error"]["message"]
    assert "Traceback" not in r.stderr and list(out.iterdir()) == []


def test_sane_values_still_accepted(tmp_path, beam_msh):
    s = _pulsatile(beam_msh, probe_points_m=[[0.01, 0, 0]])
    s["flow"]["outlets"] = [{"boundary": "outlet", "type": "windkessel", "proximal_resistance_Pa_s_m3": 1e7,
                             "compliance_m3_Pa": 1e-9, "distal_resistance_Pa_s_m3": 1e8}]
    s["solver"]["petsc_options"] = {"mat_mumps_icntl_14": 50, "ksp_rtol": 1e-9, "pc_type": "lu"}
    s["outputs"] = {"xdmf": True, "fields": ["pressure_Pa"]}
    study, mesh = load_study(write_study(tmp_path, s))
    assert study.output_fields() == ("pressure_Pa",) and mesh == beam_msh
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(elasticity_study(beam_msh)).encode())
    load_study(bom)  # a BOM (Windows editors) is fine


# ------------------------------------------------------------------ files and status
def test_status_and_summary_get_the_umask_mode_and_no_temporaries(tmp_path):
    from surgiplan.core.simulation import results

    old = os.umask(0o022)
    try:
        write_status(tmp_path, "running", "x", **results.running_extra())
        results.write_summary(tmp_path, {"a": float("nan"), "b": [1.5]})
    finally:
        os.umask(old)
    for name in ("status.json", "summary.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name
    assert json.loads((tmp_path / "summary.json").read_text()) == {"a": None, "b": [1.5]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json", "summary.json"]
    assert not hasattr(results, "atomic_write_text")  # one write path: surgiplan.core.fileio


def test_running_status_of_a_dead_process_reads_as_failed(tmp_path):
    from surgiplan.core.simulation.results import running_extra

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_status(tmp_path, "running", "x", **{**running_extra(), "pid": dead.pid})
    st = read_status(tmp_path)
    assert st["status"] == "failed" and st["stale"] and "killed or crashed" in st["message"]
    assert read_status(tmp_path, raw=True)["status"] == "running"
    write_status(tmp_path, "running", "x", **running_extra())  # this process: alive
    assert read_status(tmp_path)["status"] == "running"
    (tmp_path / "status.json").write_text("{broken")
    assert read_status(tmp_path)["status"] == "unreadable"


def test_stale_leftovers_are_cleaned(tmp_path):
    from surgiplan.core.simulation.results import clean_stale
    from surgiplan.core.simulation.run_study import clean_stale_jit_locks

    cache = tmp_path / "cache"
    cache.mkdir()
    old, done, fresh = (cache / f"libffcx_forms_{k}.c" for k in ("old", "done", "fresh"))
    for p in (old, done, fresh):
        p.write_text("")
    (cache / "libffcx_forms_done.c.cached").write_text("")
    for p in (old, done):
        os.utime(p, (time.time() - 3600, time.time() - 3600))
    assert clean_stale_jit_locks(cache) == [old]  # a kill mid-compile no longer stalls later runs
    assert done.exists() and fresh.exists()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    staging = tmp_path / f".results.{dead.pid}.0123abcd.sptmp.d"
    staging.mkdir()
    (staging / "results.h5").write_bytes(b"partial")
    live = tmp_path / f".results.{os.getppid()}.0123abcd.sptmp.d"  # another, live process's run
    live.mkdir()
    assert clean_stale(tmp_path) == [staging] and live.exists()


# ------------------------------------------------------------------ used, not ignored
def test_output_fields_and_pulsatile_probes_are_used(tmp_path, pipe_msh):
    import h5py

    from surgiplan.core.simulation.run_study import run_study

    s = _pulsatile(pipe_msh, cycles=2, steps_per_cycle=3, probe_points_m=[[0.01, 0.0, 0.0], [0.01, 0.002, 0.0]])
    s["flow"]["convection"] = False
    s["flow"]["probe_points_m"] = [[0.01, 0.0, 0.0]]  # the final state's probe, to compare with
    s["outputs"] = {"fields": ["pressure_Pa"]}
    summary = run_study(write_study(tmp_path, s), tmp_path / "out")
    with h5py.File(tmp_path / "out" / "results.h5", "r") as f:
        assert sorted(f["Function"]) == ["pressure_Pa"]
    assert summary["files"]["written"] == ["pressure_Pa"]
    last = summary["last_cycle"]
    assert len(last) == 3 and all(len(r["probes"]) == 2 for r in last)
    centre, off = last[-1]["probes"]
    final = summary["final_state"]["probes"][0]
    assert centre["velocity_m_per_s"] == pytest.approx(final["velocity_m_per_s"], rel=1e-9, abs=1e-15)
    assert centre["pressure_Pa"] == pytest.approx(final["pressure_Pa"], rel=1e-9)
    assert centre["velocity_m_per_s"][0] > 0 and off["velocity_m_per_s"][0] > 0  # flow along +x
    assert last[0]["probes"][0] != last[-1]["probes"][0]  # it pulsates
    assert summary["last_cycle_probe_points_m"][1] == [0.01, 0.002, 0.0]
    assert not [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
    s["flow"]["pulsatile"]["probe_points_m"].append([0.5, 0.0, 0.0])
    with pytest.raises(InputError, match=r"flow\.pulsatile\.probe_points_m\.2 = \[0\.5, 0\.0, 0\.0\] m lies outside"):
        run_study(write_study(tmp_path / "b", s), tmp_path / "out_b")
    assert read_status(tmp_path / "out_b", raw=True)["status"] == "running"  # the caller marks it failed
    assert not list((tmp_path / "out_b").glob("results*"))


# ------------------------------------------------------------------ SIGTERM / SIGINT
def _long_study(tmp_path: Path, mesh: Path) -> Path:
    return write_study(tmp_path, _pulsatile(mesh, cycles=50, steps_per_cycle=100))


def _wait_for(pred, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def _stop_and_check(cmd: list[str], out: Path, sig: int, tmp_path: Path) -> float:
    import psutil

    err = (tmp_path / "stderr.txt").open("w+")
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=REPO_ROOT, start_new_session=True)
    try:
        assert _wait_for(lambda: read_status(out, raw=True).get("status") == "running", 120), "never running"
        time.sleep(1.0)
        tree = psutil.Process(p.pid).children(recursive=True)
        assert tree, "no solver process"
        t0 = time.monotonic()
        p.send_signal(sig)
        rc = p.wait(timeout=30)
        took = time.monotonic() - t0
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    gone, alive = psutil.wait_procs(tree, timeout=5)
    assert not alive, f"left running: {alive}"
    err.seek(0)
    stderr = err.read()
    assert rc == 130, stderr
    assert "Traceback" not in stderr and "BAD TERMINATION" not in stderr, stderr
    assert read_status(out, raw=True)["status"] == "cancelled"
    assert sorted(x.name for x in out.iterdir()) == ["status.json"]  # no partial result, no temporaries
    assert took < 15, took
    return took


@pytest.mark.slow
def test_sigterm_to_the_command_cancels_cleanly(tmp_path, pipe_msh):
    study = _long_study(tmp_path, pipe_msh)
    out = tmp_path / "out"
    _stop_and_check([sys.executable, "-m", "surgiplan", "simulate", str(study), "--out", str(out)], out,
                    signal.SIGTERM, tmp_path)


@pytest.mark.mpi
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_to_mpiexec_cancels_every_rank(tmp_path, pipe_msh, sig):
    from surgiplan.core.simulation.runner import mpiexec_path

    study = _long_study(tmp_path, pipe_msh)
    out = tmp_path / "out"
    _stop_and_check([mpiexec_path(), "-n", "2", sys.executable, "-m", "surgiplan.core.simulation.run_study",
                     str(study), "--out", str(out)], out, sig, tmp_path)


@pytest.mark.slow
def test_killed_command_leaves_no_orphan(tmp_path, pipe_msh):
    """SIGKILL of the command (no handler can run): the solver notices its parent is gone."""
    import psutil

    study = _long_study(tmp_path, pipe_msh)
    out = tmp_path / "out"
    p = subprocess.Popen([sys.executable, "-m", "surgiplan", "simulate", str(study), "--out", str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO_ROOT)
    assert _wait_for(lambda: read_status(out, raw=True).get("status") == "running", 120)
    tree = psutil.Process(p.pid).children(recursive=True)
    p.kill()
    p.wait()
    gone, alive = psutil.wait_procs(tree, timeout=15)
    for proc in alive:
        proc.kill()
    assert not alive, "the solver outlived its parent"
    st = read_status(out, raw=True)
    assert st["status"] == "cancelled" and "parent process" in st["message"]
    assert sorted(x.name for x in out.iterdir()) == ["status.json"]
