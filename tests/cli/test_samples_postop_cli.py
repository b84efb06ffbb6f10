"""``surgiplan samples --postop``: the post-operative variant beside the sample, kept, refused when stale."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from surgiplan.cli.main import app

runner = CliRunner()


def test_postop_variant_written_kept_and_refused_when_damaged(tmp_path):
    res = runner.invoke(app, ["samples", "spine", "--out", str(tmp_path), "--postop"])
    assert res.exit_code == 0, res.output
    root = tmp_path / "spine-postop-small"
    assert f"post-op      : {root}" in res.output
    truth = json.loads((root / "ground_truth.json").read_text())
    # the known offsets of the sample (L4 left screw 2 mm medial, L3 right screw 4 deg more convergent)
    assert len(truth["implants"]) == 4 and np.asarray(truth["scan_to_planning"]).shape == (4, 4)
    assert (root / "postop.nrrd").is_file() and any((root / "dicom").glob("*.dcm"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spine-postop-small", "spine-small"]
    again = runner.invoke(app, ["samples", "spine", "--out", str(tmp_path), "--postop"])
    assert again.exit_code == 0 and "up to date, kept" in again.output.split("post-op")[-1]
    (root / "ground_truth.json").write_text("{")  # damaged
    bad = runner.invoke(app, ["samples", "spine", "--out", str(tmp_path), "--postop"])
    assert bad.exit_code == 1 and "--overwrite" in str(bad.exception) and "spine-postop-small" in str(bad.exception)
    assert (root / "ground_truth.json").read_text() == "{", "nothing replaced without --overwrite"


def test_postop_of_a_sample_without_one_is_named(tmp_path, capsys):
    from surgiplan.cli.samples_postop import write_postop

    write_postop("knee_mri", tmp_path, overwrite=False)
    assert "none for knee_mri" in capsys.readouterr().out and list(tmp_path.iterdir()) == []
