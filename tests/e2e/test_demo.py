"""The README's main job, headless: `surgiplan demo` from a sample scan to compared plans."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from surgiplan.core.errors import InputError

SURGIPLAN = [sys.executable, "-m", "surgiplan"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("demo")
    proc = subprocess.run(
        [*SURGIPLAN, "demo", "--out", str(out), "--case", "hip"],
        capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
    )
    return out, proc


def test_demo_writes_case_models_and_comparison(demo_run):
    out, proc = demo_run
    assert proc.returncode == 0, proc.stderr
    case_dir = out / "hip-case"
    assert (case_dir / "case.json").is_file()
    assert (case_dir / "scans" / "planning" / "volume.nrrd").is_file()
    assert (case_dir / "scans" / "planning" / "segmentation.seg.nrrd").is_file()
    for name in ("pelvis", "femur_left", "femur_right"):
        assert (case_dir / "models" / f"{name}.vtp").is_file()
        assert (out / "hip-models" / f"{name}.stl").is_file()
        assert f"{name}" in proc.stdout
    assert "NOT watertight" not in proc.stdout
    assert str(case_dir) in proc.stdout


def test_demo_comparison_has_the_planned_cup_angles(demo_run):
    out, proc = demo_run
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "hip-comparison.json").read_text())
    rows = {r["key"]: r for r in data["rows"]}
    # plan A is placed at 40/15 deg, plan B at 45/20 deg (radiographic, Murray)
    assert rows["cup_inclination"]["values"]["A"] == pytest.approx(40.0, abs=0.5)
    assert rows["cup_inclination"]["values"]["B"] == pytest.approx(45.0, abs=0.5)
    assert rows["cup_anteversion"]["values"]["A"] == pytest.approx(15.0, abs=0.5)
    assert rows["cup_anteversion"]["values"]["B"] == pytest.approx(20.0, abs=0.5)
    assert rows["cup_inclination"]["unit"] == "deg" and rows["cup_inclination"]["target"] == [30.0, 50.0]
    with open(out / "hip-comparison.csv", newline="") as fh:
        table = list(csv.reader(fh))
    assert len(table) == len(data["rows"]) + 1


def test_demo_refuses_to_overwrite_without_flag(demo_run):
    from surgiplan.demo.run import run_demo

    out, _ = demo_run
    before = (out / "hip-case" / "case.json").read_bytes()
    with pytest.raises(InputError, match="already exists"):
        run_demo(out, "hip")
    assert (out / "hip-case" / "case.json").read_bytes() == before


def test_demo_unknown_case_is_a_clear_error(tmp_path):
    proc = subprocess.run(
        [*SURGIPLAN, "demo", "--out", str(tmp_path), "--case", "elbow"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode != 0
    assert "elbow" in proc.stderr and "hip" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not any(tmp_path.iterdir())


def test_demo_ends_with_the_or_plan_report(demo_run):
    import shutil

    out, proc = demo_run
    assert proc.returncode == 0, proc.stderr
    pdf = out / "hip-case" / "reports" / "A.pdf"
    assert f"OR plan report:    {pdf}" in proc.stdout
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size < 5_000_000
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    # plan A of the hip demo: left hip, cup at 40/15 deg, compared with plan B
    assert "LEFT" in text and "Total hip arthroplasty" in text and "Plan comparison: A and B" in text
    row = next(line for line in text.splitlines() if line.strip().startswith("Cup inclination (radiographic)"))
    assert "40.0°" in row and "30 to 50°" in row
    assert "could not be rendered" not in text
    assert "SYNTHETIC" not in text  # de-identified by default


def test_demo_simulate_without_the_registry_is_a_clear_error(tmp_path):
    from surgiplan.demo.simulate import simulation_available

    if simulation_available():
        pytest.skip("this build has the simulation registry (the full run belongs to the simulation tests)")
    proc = subprocess.run(
        [*SURGIPLAN, "demo", "--out", str(tmp_path / "d"), "--case", "hip", "--simulate"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 1
    assert "no simulation studies" in proc.stderr and "without --simulate" in proc.stderr
    assert not (tmp_path / "d" / "hip-case").exists()
