"""``surgiplan report``: the face of core.report.make_report (a small synthetic hip case)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SURGIPLAN = [sys.executable, "-m", "surgiplan"]


def run(*args, timeout=300):
    return subprocess.run([*SURGIPLAN, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory) -> Path:
    """A case with a patient, a sphere 'pelvis' and plan A holding a 52 mm cup on the left."""
    import pyvista as pv

    from surgiplan.core.case import Case
    from surgiplan.core.planning.plan import PlacedImplant

    root = tmp_path_factory.mktemp("cli") / "hip-case"
    case = Case.new(root, patient_name="DOE^JANE", patient_id="P-12345")
    case.add_model("pelvis", pv.Sphere(radius=40.0, theta_resolution=40, phi_resolution=40))
    case.new_plan("A", note="cup only")
    t = np.eye(4)
    t[:3, 3] = (20.0, 0.0, 0.0)
    case.add_implant("A", PlacedImplant("cup", "hip_cup", "52", t, side="left", bone="pelvis"))
    case.save()
    return root


def text_of(pdf: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_report_default_location_json_and_deidentified(case_dir):
    r = run("report", case_dir, "--plan", "A", "--json", "--paper", "letter")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    pdf = case_dir / "reports" / "A.pdf"
    assert Path(out["report"]) == pdf and out["bytes"] == pdf.stat().st_size and out["deidentified"] is True
    assert pdf.read_bytes().startswith(b"%PDF")
    text = text_of(pdf)
    assert "LEFT" in text and "hip_cup / 52" in text and "Page 1 of" in text
    assert "DOE" not in text and "P-12345" not in text
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert "612 x 792 pts" in info  # --paper letter
    again = run("report", case_dir, "--plan", "A")  # exists: refused, the report is kept
    assert again.returncode == 1 and "exists" in again.stderr and "--overwrite" in again.stderr
    assert pdf.read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("args,message", [
    (("--plan", "Z"), "no plan 'Z'"),
    (("--plan", "A", "-o", "{case}/models/x.pdf"), "inside the case folder"),
])
def test_report_refuses_bad_input_in_one_line(case_dir, tmp_path, args, message):
    before = sorted(p.name for p in case_dir.rglob("*"))
    args = [a.format(case=case_dir) for a in args]
    if "-o" not in args:
        args += ["-o", tmp_path / "r.pdf"]
    r = run("report", case_dir, *args)
    assert r.returncode == 1
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in case_dir.rglob("*")) == before
    assert not (tmp_path / "r.pdf").exists()
