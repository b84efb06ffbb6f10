"""``surgiplan segment SCAN --preset hip-bones --json`` (issue 23): the pelvis split into hip bones and
the sacrum when the sacrum is in view, one ``pelvis`` with the reason as a doubt when the split is
not sure, and the machine-readable output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from surgiplan.cli.main import app
from surgiplan.core.imaging import Volume, write_volume
from surgiplan.core.segmentation import read_segmentation

runner = CliRunner()


def _json(output: str) -> dict:
    """The JSON document of the command's output (progress lines may come before it)."""
    return json.loads(output[output.index("{"):])


def test_json_lists_segments_and_doubts(tmp_path):
    """A 7 mL sphere called femur_right by a seed: the JSON names the segment with its volume and
    the doubt (smaller than any femoral head) with what to do; the file is written."""
    arr = np.full((40, 50, 50), 40, np.int16)
    k, j, i = np.indices(arr.shape)
    arr[(i - 25) ** 2 + (j - 25) ** 2 + ((k - 20) * 1.5) ** 2 <= 12**2] = 1000
    path = write_volume(Volume(arr, (1.0, 1.0, 1.5), origin=(-20.0, 30.0, 100.0)), tmp_path / "scan.nrrd")
    out = tmp_path / "s.seg.nrrd"
    res = runner.invoke(app, ["segment", str(path), "--seed", "femur_right=0,55,130", "--json", "-o", str(out)])
    assert res.exit_code == 0, res.output
    doc = _json(res.output)
    assert doc["output"] == str(out) and out.exists()
    (seg,) = doc["segments"]
    assert seg["name"] == "femur_right" and abs(seg["volume_ml"] - 4 / 3 * np.pi * 12**3 / 1000) < 0.5
    assert any(d["segment"] == "femur_right" and d["kind"] == "volume" and "seed" in d["message"]
               for d in doc["doubts"])
    # bad input: an output that would overwrite the scan is refused, nothing written
    res = runner.invoke(app, ["segment", str(path), "--json", "-o", str(path)])
    assert res.exit_code != 0


def _real_ct():
    from tests.core.segmentation.test_anatomy_presets_real import extra_data

    return extra_data("totalseg_example_ct", "example_ct.nii.gz")


def test_hip_bones_on_the_real_ct_come_as_hip_bones_and_sacrum(tmp_path):
    """TotalSegmentator's example CT (optional data; skipped when absent): both hips and the sacrum
    in view, so the preset names hip_bone_left, hip_bone_right and sacrum (and the lumbar spine
    above the L5-S1 disc), with no doubt about the split."""
    path = _real_ct()
    out = tmp_path / "hip.seg.nrrd"
    res = runner.invoke(app, ["segment", str(path), "--preset", "hip-bones", "--json", "-o", str(out)])
    assert res.exit_code == 0, res.output
    doc = _json(res.output)
    ml = {s["name"]: s["volume_ml"] for s in doc["segments"]}
    assert {"hip_bone_left", "hip_bone_right", "sacrum", "femur_left", "femur_right"} <= set(ml), ml
    assert "pelvis" not in ml
    assert all(280.0 <= ml[n] <= 450.0 for n in ("hip_bone_left", "hip_bone_right")), ml
    assert not [d for d in doc["doubts"] if d["kind"] == "split"], doc["doubts"]
    seg = read_segmentation(out)
    assert {"hip_bone_left", "hip_bone_right", "sacrum"} <= set(seg.names)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_hip_sample_keeps_one_pelvis_and_says_why(tmp_path):
    """surgiplan's own hip sample: its pelvis is one ring without sacroiliac joints or a spine, so
    the split is not sure: one ``pelvis`` (as before) and a doubt that says it was kept whole."""
    from surgiplan.core.samples import sample_path

    paths = sample_path("hip", size="small")
    out = tmp_path / "hip.seg.nrrd"
    res = runner.invoke(app, ["segment", str(paths.volume), "--preset", "hip-bones", "--json", "-o", str(out)])
    assert res.exit_code == 0, res.output
    doc = _json(res.output)
    names = {s["name"] for s in doc["segments"]}
    assert {"pelvis", "femur_left", "femur_right"} <= names and "sacrum" not in names
    split = [d for d in doc["doubts"] if d["kind"] == "split"]
    assert split and "pelvis kept in one piece" in split[0]["message"], doc["doubts"]
