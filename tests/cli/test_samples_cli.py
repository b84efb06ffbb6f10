"""``surgiplan samples`` through typer's CliRunner and the installed command (errors, exit codes)."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from surgiplan.cli.main import app
from surgiplan.core.samples import read_ground_truth

runner = CliRunner()


def test_generates_and_prints_where(tmp_path):
    res = runner.invoke(app, ["samples", "knee_mri", "--out", str(tmp_path), "--size", "small"])
    assert res.exit_code == 0, res.output
    root = tmp_path / "knee_mri-small"
    assert str(root) in res.output and "DICOM series" in res.output and "ground truth" in res.output
    gt = read_ground_truth(root / "ground_truth" / "ground_truth.json")
    assert gt["name"] == "knee_mri" and gt["modality"] == "MR"
    assert len(list((root / "dicom").glob("*.dcm"))) == gt["grid"]["shape_ijk"][2]
    assert [p.name for p in tmp_path.iterdir()] == ["knee_mri-small"], "no temporary folders left"


def test_bad_name_and_size_exit_1_with_message(tmp_path):
    for args, words in (
        (["samples", "elbow", "--out", str(tmp_path)], "unknown sample 'elbow'"),
        (["samples", "hip", "--size", "huge", "--out", str(tmp_path)], "unknown sample size 'huge'"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "surgiplan", *args], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 1, proc.stderr
        assert words in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == [], "nothing written on bad arguments"


def test_out_is_a_file(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("keep me")
    proc = subprocess.run(
        [sys.executable, "-m", "surgiplan", "samples", "hip", "--out", str(f)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1 and "not a folder" in proc.stderr and str(f) in proc.stderr
    assert f.read_text() == "keep me"
