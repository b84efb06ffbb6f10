"""``surgiplan scan`` through typer's CliRunner (same core calls), plus the installed command
for error messages (no traceback, the file named, exit code 1)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from surgiplan.cli.main import app
from surgiplan.core.imaging import read_volume
from tests.conftest import REPO_ROOT, shared_data_root

runner = CliRunner()
MANIFEST = shared_data_root() / "dicom" / "manifest.json"
ERRORS = (
    [e for e in json.loads(MANIFEST.read_text())["entries"] if e.get("expect") == "error"]
    if MANIFEST.exists()
    else []
)


def test_list_json_and_table(dicom_data):
    res = runner.invoke(app, ["scan", "list", str(dicom_data / "ct_study_mixed_flat"), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    numbers = sorted({s["series_number"] for s in data["series"]})
    assert numbers == [100, 201, 401]
    axial = next(s for s in data["series"] if s["series_number"] == 201)
    assert (
        axial["n_slices"] == 28 and axial["kind"] == "volume" and axial["slice_spacing_mm"] == 5.0
    )
    res = runner.invoke(
        app, ["scan", "list", str(dicom_data / "bad_input" / "series_with_junk_files")]
    )
    assert res.exit_code == 0
    for name in ("zz_notes.dcm", "zz_empty.dcm", "zz_truncated.dcm"):
        assert name in res.output
    assert "SmartScore" in res.output


def test_info_reports_tilt_and_spacing(dicom_data):
    res = runner.invoke(
        app, ["scan", "info", str(dicom_data / "ct_tilt_variable_spacing_ge"), "--json"]
    )
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["gantry_tilt_deg"] == pytest.approx(18.5, abs=0.1)
    assert info["regular"] is False and info["size_ijk"] == [512, 512, 28]
    res = runner.invoke(app, ["scan", "info", str(dicom_data / "mr_sagittal_t1_siemens")])
    assert res.exit_code == 0 and "axes +i +j +k  PIR" in res.output and "t1_fl2d_sag" in res.output


def test_convert_writes_the_series_chosen(dicom_data, tmp_path):
    out = tmp_path / "ct5.nii.gz"
    uid = "1.3.6.1.4.1.5962.1.1.0.0.0.1194734704.16302.0.6"
    res = runner.invoke(
        app, ["scan", "convert", str(dicom_data / "dicomdir_study"), str(out), "--series", uid]
    )
    assert res.exit_code == 0, res.output
    ref = read_volume(
        dicom_data / "reference_nifti" / "dicomdir_study_ct5n" / "dicomdir_study_5.nii.gz"
    )
    v = read_volume(out)
    assert v.shape_ijk == ref.shape_ijk and sorted(v.array.ravel()) == sorted(ref.array.ravel())
    # uneven spacing refused on request, nothing written
    out2 = tmp_path / "ge.nrrd"
    res = runner.invoke(
        app,
        [
            "scan",
            "convert",
            str(dicom_data / "ct_tilt_variable_spacing_ge"),
            str(out2),
            "--uneven",
            "refuse",
        ],
    )
    assert res.exit_code != 0 and "uneven slice spacing" in str(res.exception)
    assert not out2.exists() and not list(tmp_path.glob(".ge*"))


def test_deidentify_command(dicom_data, tmp_path):
    res = runner.invoke(
        app,
        [
            "scan",
            "deidentify",
            str(dicom_data / "ct_enhanced_multiframe"),
            str(tmp_path / "anon"),
            "--keep-dates",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "wrote 1 de-identified file" in res.output
    assert len(list((tmp_path / "anon").rglob("*.dcm"))) == 1


@pytest.mark.parametrize("entry", ERRORS, ids=[e["id"] for e in ERRORS])
def test_info_on_bad_input_names_the_file_without_traceback(entry, dicom_data):
    exe = REPO_ROOT / ".venv" / "bin" / "surgiplan"
    if not exe.exists():
        pytest.skip("the surgiplan command is not installed in .venv")
    proc = subprocess.run(
        [str(exe), "scan", "info", str(dicom_data / entry["path"])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert entry["must_name"] in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_convert_refuses_unknown_output_type(dicom_data, tmp_path):
    res = runner.invoke(
        app,
        ["scan", "convert", str(dicom_data / "ct_enhanced_multiframe"), str(tmp_path / "x.png")],
    )
    assert res.exit_code != 0 and "x.png" in str(res.exception)
    assert not Path(tmp_path / "x.png").exists()
