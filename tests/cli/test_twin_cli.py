"""``surgiplan case add-scan`` / ``case register`` / ``plan achieved`` on the post-op spine sample.

One command per step; ``--json`` prints what the core returns; bad input fails with the
file named and nothing written.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from surgiplan.cli.main import app
from surgiplan.core.case import Case
from surgiplan.core.errors import SurgiplanError
from surgiplan.core.imaging.volume_io import read_volume
from surgiplan.core.samples.postop import build_planning_case, postop_sample_path

runner = CliRunner()
SCAN = "post-op-2026-03-02"


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok(*args):
    r = run(*args)
    assert r.exit_code == 0, (args, r.output, r.exception)
    return r.output


def test_post_op_spine_one_command_per_step(tmp_path):
    pp = postop_sample_path("spine")
    case_dir = build_planning_case("spine", tmp_path / "Case", models=False).root
    out = json.loads(ok("case", "add-scan", case_dir, pp.dicom_dir, "--date", "2026-03-02", "--kind", "postop",
                        "--json"))
    assert out["scan"]["kind"] == "post-op" and [t["name"] for t in out["timeline"]] == ["planning", SCAN]
    reg = json.loads(ok("case", "register", case_dir, SCAN, "--bone", "L3", "--json"))
    truth = np.array(pp.load_ground_truth()["scan_to_planning"])
    assert np.abs(np.array(reg["scan_to_planning"]) - truth).max() < 0.5
    assert (case_dir / reg["overlay_png"]).is_file() and (case_dir / reg["report_json"]).is_file()
    # L4 on its own: its own transform file, the scan's (L3's) stays
    text = ok("case", "register", case_dir, SCAN, "--bone", "L4")
    assert "to_planning.L4.tfm" in text and "scan transform" not in text
    assert (case_dir / "scans" / SCAN / "to_planning.L4.tfm").is_file()
    text = ok("plan", "achieved", case_dir, "--plan", "planned", "--scan", SCAN)
    assert "L4_left: lateral -" in text and "Screw medial angle (L3 right)" in text
    assert "through L4's transform" in text and "through L3's transform" in text
    rep = json.loads(ok("plan", "achieved", case_dir, "--plan", "planned", "--scan", SCAN, "--json"))
    gt = pp.load_ground_truth()["implants"]
    for imp in rep["implants"]:
        want = gt[imp["id"]]["translation_mm"]
        assert all(abs(imp["translation_error_mm"][k] - want[k]) < 0.5 for k in want), imp
        assert abs(imp["rotation_error_deg"] - gt[imp["id"]]["axis_angle_deg"]) < 0.5
    assert rep["comparison"]["plans"] == ["planned", "achieved"]


@pytest.mark.parametrize("args, message", [
    (["--date", "2026-02-30"], "not a date"),
    (["--date", "2026-03-02", "--kind", "preop"], "kind"),
])
def test_add_scan_refuses_bad_options(tmp_path, args, message):
    case_dir = tmp_path / "Case"
    ok("case", "new", case_dir)
    before = (case_dir / "case.json").read_bytes()
    r = run("case", "add-scan", case_dir, tmp_path, *args)
    assert r.exit_code != 0 and isinstance(r.exception, SurgiplanError) and message in str(r.exception)
    assert (case_dir / "case.json").read_bytes() == before


def test_add_scan_and_register_bad_input(tmp_path):
    pp = postop_sample_path("spine")
    case_dir = tmp_path / "Case"
    ok("case", "new", case_dir)
    r = run("case", "add-scan", case_dir, pp.volume, "--date", "2026-03-02")
    assert r.exit_code != 0 and "no planning scan" in str(r.exception)
    empty = tmp_path / "empty.nrrd"
    empty.write_bytes(b"")
    hostile = tmp_path / "hostile.nrrd"
    hostile.write_bytes(b"NRRD0004\ntype: short\ndimension: 3\nsizes: 100000 100000 100000\nencoding: raw\n\n")
    case = Case.open(case_dir)
    case.add_scan("planning", read_volume(pp.volume))
    case.save()
    before = (case_dir / "case.json").read_bytes()
    for bad in (empty, hostile, tmp_path / "missing"):
        r = run("case", "add-scan", case_dir, bad, "--date", "2026-03-02")
        assert r.exit_code != 0 and isinstance(r.exception, SurgiplanError), (bad, r.output)
        assert bad.name in str(r.exception)
    assert (case_dir / "case.json").read_bytes() == before
    assert sorted(p.name for p in (case_dir / "scans").iterdir()) == ["planning"]
    r = run("case", "register", case_dir, "nothing")
    assert r.exit_code != 0 and "no scan 'nothing'" in str(r.exception)
    r = run("plan", "achieved", case_dir, "--plan", "none", "--scan", "planning")
    assert r.exit_code != 0 and isinstance(r.exception, SurgiplanError)
