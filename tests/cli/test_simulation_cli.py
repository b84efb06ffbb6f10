"""``surgiplan verify`` and ``surgiplan simulate`` through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, require_shared

KEYS = {"name", "physics", "quantity", "computed", "reference", "unit", "relative_error", "tolerance",
        "passed"}


def _cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "surgiplan", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO_ROOT)


def test_verify_json_format_and_exit_code(tmp_path):
    ref = require_shared("reference", "validation_reference_values.json")
    r = _cli("verify", "--quick", "--json", "--only", "patch", "--reference", str(ref))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert set(data) == {"cases"} and data["cases"]
    for row in data["cases"]:
        assert set(row) == KEYS
        assert row["physics"] in ("elasticity", "flow") and row["passed"] is True
    tampered = json.loads(ref.read_text())
    for case in tampered["cases"]:
        if case["name"].startswith("patch_test"):
            next(q for q in case["quantities"] if q["name"] == "stress_xx")["value"] = 1.01
    bad = tmp_path / "ref.json"
    bad.write_text(json.dumps(tampered))
    r = _cli("verify", "--quick", "--only", "patch", "--reference", str(bad))
    assert r.returncode != 0
    assert "FAIL" in r.stdout and "MPa" in r.stdout


def test_simulate_runs_a_study_and_reports_bad_input(tmp_path):
    from surgiplan.core.simulation import meshes

    meshes.box(20.0, 5.0, 5.0, 2.5)
    meshes.write_msh(tmp_path / "box.msh")
    meshes.finish()
    study = {"physics": "elasticity", "name": "box", "mesh": {"file": "box.msh"},
             "elasticity": {"degree": 1, "materials": [{"youngs_modulus_MPa": 1000}],
                            "boundary_conditions": [{"type": "fixed", "boundary": "x0"},
                                                    {"type": "traction", "boundary": "x1",
                                                     "traction_MPa": [1, 0, 0]}]}}
    (tmp_path / "s.json").write_text(json.dumps(study))
    old_umask = os.umask(0o022)  # the child inherits it: every result file gets 0644, not mkstemp's 0600
    try:
        r = _cli("simulate", str(tmp_path / "s.json"), "--np", "2", "--out", str(tmp_path / "out"))
    finally:
        os.umask(old_umask)
    assert r.returncode == 0, r.stderr
    assert "complete on 2 rank(s)" in r.stdout and "MPa" in r.stdout
    assert json.loads((tmp_path / "out" / "status.json").read_text())["status"] == "complete"
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["results.h5", "results.vtu", "results.xdmf", "status.json", "summary.json"]  # no temporaries
    for name in names:
        assert (tmp_path / "out" / name).stat().st_mode & 0o777 == 0o644, name
    study["elasticity"]["materials"][0]["youngs_modulus_MPa"] = -5
    (tmp_path / "neg.json").write_text(json.dumps(study))
    r = _cli("simulate", str(tmp_path / "neg.json"), "--out", str(tmp_path / "out2"))
    assert r.returncode == 1
    assert "non-positive Young's modulus" in r.stderr
    assert json.loads((tmp_path / "out2" / "status.json").read_text())["status"] == "failed"
    assert "% reading mesh box.msh\n" in r.stderr  # progress as plain lines when not on a terminal
    r = _cli("simulate", str(tmp_path), "--plan", "A")
    assert r.returncode == 1 and "needs both --plan and --study" in r.stderr


def test_simulate_list_and_case_study_errors(tmp_path):
    r = _cli("simulate", "--list", "--json")
    assert r.returncode == 0, r.stderr
    rows = {x["name"]: x for x in json.loads(r.stdout)}
    assert rows["hip-walking"]["available"] is True and rows["spine-lifting"]["available"] is False
    r = _cli("simulate", "--list")
    assert "hip-stairs" in r.stdout and "not available in this build" in r.stdout
    r = _cli("simulate", str(tmp_path), "--plan", "A", "--study", "hip-walking")
    assert r.returncode == 1 and "case" in r.stderr.lower() and "Traceback" not in r.stderr
    r = _cli("simulate", str(tmp_path), "--plan", "A", "--study", "hip-walking", "--option", "degree")
    assert r.returncode == 1 and "KEY=VALUE" in r.stderr
    r = _cli("simulate")
    assert r.returncode == 1 and "nothing to simulate" in r.stderr


def test_line_progress_prints_plain_lines():
    import io

    from surgiplan.cli.simulate import LineProgress

    buf = io.StringIO()
    p = LineProgress("hip-walking on plan A", stream=buf, min_interval_s=0.0)
    p.update(0.0, "meshing the implanted femur")
    p.update(0.01, "meshing the implanted femur")  # < 5 %: not repeated
    p.update(0.4, "solving")
    p.update(1.0, "done")
    assert buf.getvalue().splitlines() == ["hip-walking on plan A", "    0% meshing the implanted femur",
                                           "   40% solving", "  100% done"]


@pytest.mark.parametrize("arg", ["missing.json"])
def test_simulate_missing_file(tmp_path, arg):
    r = _cli("simulate", str(tmp_path / arg))
    assert r.returncode == 1 and "not found" in r.stderr


def test_simulate_refuses_an_absurd_study_naming_the_field(tmp_path):
    """A negative period and a Windkessel outlet without its values: refused before any process starts."""
    study = {"physics": "flow", "mesh": {"file": "pipe.msh"},
             "flow": {"inlet": {"boundary": "inlet", "flow_rate_mL_s": 5.0},
                      "outlets": [{"boundary": "outlet", "type": "windkessel",
                                   "proximal_resistance_Pa_s_m3": 1e7}],
                      "walls": ["wall"], "pulsatile": {"period_s": -1.0}}}
    (tmp_path / "pipe.msh").write_text("not read: the study is refused first")
    (tmp_path / "s.json").write_text(json.dumps(study))
    r = _cli("simulate", str(tmp_path / "s.json"), "--out", str(tmp_path / "out"))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "flow.outlets.0: a windkessel outlet needs compliance_m3_Pa, distal_resistance_Pa_s_m3" in r.stderr
    assert "flow.pulsatile.period_s: Input should be greater than 0" in r.stderr
    assert not (tmp_path / "out").exists()
