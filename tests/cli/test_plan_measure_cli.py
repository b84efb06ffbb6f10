"""``surgiplan plan measure``: hand measurements from typed points, saved with the plan; bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from surgiplan.cli.main import app
from surgiplan.core.case import Case

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok(*args):
    r = run(*args)
    assert r.exit_code == 0, (args, r.output, r.exception)
    return r.output


@pytest.fixture()
def case_dir(tmp_path):
    d = tmp_path / "Case"
    ok("case", "new", d)
    ok("plan", "new", d, "A")
    return d


def test_ruler_angle_diameter_saved_with_the_plan(case_dir):
    r = json.loads(ok("plan", "measure", case_dir, "--plan", "A", "--ruler", "0,0,0", "0,3,4", "--json"))
    assert r["name"] == "Ruler 1" and r["value"] == pytest.approx(5.0) and r["unit"] == "mm"
    out = ok("plan", "measure", case_dir, "--plan", "A", "--angle", "10,0,0", "0,0,0", "0,10,0", "--name", "Neck angle")
    assert "Neck angle: 90.0°" in out
    r = json.loads(ok("plan", "measure", case_dir, "--plan", "A", "--circle", "12,0,0", "--circle", "0,12,0",
                      "--circle", "-12,0,0", "--circle", "0,-12,0", "--name", "Neck diameter", "--json"))
    assert r["value"] == pytest.approx(24.0) and r["kind"] == "diameter" and "circle fit" in r["method"]
    r = json.loads(ok("plan", "measure", case_dir, "--plan", "A", "--diameter", "0,0,0", "0,22.5,0", "--json"))
    assert r["name"] == "Diameter 1" and r["value"] == pytest.approx(22.5)
    plan = Case.open(case_dir).plan("A")
    assert list(plan.manual) == ["Ruler 1", "Neck angle", "Neck diameter", "Diameter 1"]
    # listing (positional plan as before) shows them with the plugin rows
    rows = json.loads(ok("plan", "measure", case_dir, "A", "--json"))
    manual = {x["name"]: x["value"] for x in rows if x["key"].startswith("manual:")}
    assert manual == {"Ruler 1": pytest.approx(5), "Neck angle": pytest.approx(90), "Neck diameter":
                      pytest.approx(24), "Diameter 1": pytest.approx(22.5)}
    ok("plan", "measure", case_dir, "--plan", "A", "--remove", "Ruler 1")
    assert "Ruler 1" not in Case.open(case_dir).plan("A").manual
    log = (case_dir / "history.jsonl").read_text()
    assert "measure Neck angle in A" in log and "remove measurement Ruler 1 from A" in log


@pytest.mark.parametrize("args,message", [
    (["--ruler", "0,0,0", "1,1"], "X,Y,Z"),
    (["--ruler", "0,0,0", "a,b,c"], "X,Y,Z"),
    (["--angle", "1,0,0", "0,0,0", "0,0,0"], "vertex"),
    (["--circle", "0,0,0", "--circle", "1,0,0"], "at least 3"),
    (["--circle", "0,0,0", "--circle", "1,1,1", "--circle", "2,2,2"], "on a line"),
    (["--ruler", "0,0,0", "1,0,0", "--diameter", "0,0,0", "1,0,0"], "give one of"),
    (["--ruler", "0,0,0", "1,0,0", "--name", "Existing"], "already has"),
    (["--ruler", "0,0,0", "1,0,0", "--remove", "Existing"], "not both"),
    (["--remove", "Nope"], "no measurement 'Nope'"),
    (["--ruler", "0,0,0", "1,0,0", "--plan", "Z"], "no plan 'Z'"),
    (["--ruler", "0,0,0", "1,0,0", "--name", ""], "name"),
])
def test_bad_input_gives_clear_errors_and_changes_nothing(case_dir, args, message):
    ok("plan", "measure", case_dir, "--plan", "A", "--ruler", "0,0,0", "1,0,0", "--name", "Existing")
    before = {p: p.read_bytes() for p in case_dir.rglob("*") if p.is_file()}
    argv = ["plan", "measure", str(case_dir), *args]
    if "--plan" not in args:
        argv += ["--plan", "A"]
    r = runner.invoke(app, argv)
    assert r.exit_code != 0 and message in str(r.exception), (r.output, r.exception)
    assert {p: p.read_bytes() for p in case_dir.rglob("*") if p.is_file()} == before
