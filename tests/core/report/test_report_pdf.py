"""The OR plan report read back from the PDF (poppler's pdftotext, pdfinfo, pdffonts, pdftoppm).

Ground truth: the knee demo makes plan A with 9 mm distal femur and 9 mm tibial cuts at 3 deg
slope and plan B with 11 mm / 6 deg (surgiplan.demo.knee); implants, sizes and materials come
from the catalogue JSON read here directly; every measurement value from the core's
measure_plan, printed as core.units formats it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import numpy as np
import pytest

from surgiplan.core.report import make_report, render_report
from surgiplan.core.units import format_value
from tests.core.report.conftest import open_copy, pdf_text

NOTICE = "For surgical planning; verify intra-operatively."


def _catalog_entries() -> dict:
    from surgiplan.core.planning.catalog.loader import resources_dir

    out = {}
    for f in (resources_dir() / "implants").glob("*.json"):
        for e in json.loads(f.read_text())["implants"]:
            out[e["id"]] = e
    return out


def _pages(text: str) -> list[str]:
    return [p for p in text.split("\f") if p.strip()]


def test_every_implant_measurement_and_value_appears_with_its_unit(knee_case, tmp_path):
    from surgiplan.core.planning.measurements import measure_plan

    data = render_report(knee_case, "A")
    text = pdf_text(data, tmp_path)
    flat = " ".join(pdf_text(data, tmp_path, "-raw").split())  # wrapped cells joined, single spaces
    cat = _catalog_entries()
    plan = knee_case.plan("A")
    assert len(plan.implants) == 3
    for imp in plan.implants.values():
        entry = cat[imp.catalog_id]
        assert f"{imp.catalog_id} / {imp.size}" in flat
        assert " ".join(entry["name"].split()) in flat
        assert " ".join(entry["material"].split()) in flat
    rows = measure_plan(knee_case, "A")
    assert len(rows) >= 15
    for r in rows:
        assert r.name in flat, r.name
        if isinstance(r.value, float):
            assert format_value(r.value, r.unit) in flat, (r.key, format_value(r.value, r.unit))
    # how the plan was made (surgiplan.demo.knee): 9 mm cuts, 3 deg slope
    cuts = text[text.index("Bone cuts"):]
    assert "distal femur" in cuts and "9.0 mm" in cuts and "3.0°" in cuts


def test_plan_b_shows_its_own_cuts_and_the_comparison(knee_case, tmp_path):
    text = pdf_text(render_report(knee_case, "B", compare="A"), tmp_path)
    cuts = text[text.index("Bone cuts"):text.index("Images")]
    depth = [line.split() for line in cuts.splitlines() if line.strip().startswith(("distal femur", "proximal tibia"))]
    assert depth[0][:5] == ["distal", "femur", "femur", "11.0", "mm"]  # B: 11 mm distal femur
    assert depth[1][6] == "6.0°"  # B: 6 deg tibial slope
    comp = text[text.index("Plan comparison: B and A"):]
    assert "Plan B" in comp and "Plan A" in comp and "Difference" in comp


def test_deidentified_report_has_no_patient_identifiers(knee_case, tmp_path):
    p = knee_case.model.patient
    assert p.name and p.id  # the sample carries a (synthetic) patient
    data = render_report(knee_case, "A", deidentify=True)
    text = pdf_text(data, tmp_path)
    for ident in (p.name, p.id, p.name.replace("^", " "), knee_case.model.name):
        assert ident not in text
        assert ident.encode() not in data  # nor in the metadata
    assert "Case: CASE-" in text
    named = pdf_text(render_report(knee_case, "A", deidentify=False), tmp_path)
    assert p.name in named and p.id in named


def test_header_and_traceability_on_every_page(knee_case, knee_plans_template, tmp_path):
    text = pdf_text(render_report(knee_case, "A"), tmp_path)
    pages = _pages(text)
    sha = hashlib.sha256((knee_plans_template / "plans" / "A" / "plan.json").read_bytes()).hexdigest()
    assert len(pages) >= 4
    for i, page in enumerate(pages, start=1):
        assert f"Page {i} of {len(pages)}" in page
        assert "RIGHT" in page and "OPERATIVE SIDE" in page  # the knee demo plans the right knee
        assert NOTICE in page
        assert f"plan.json SHA-256 {sha}" in page
        assert "Total knee arthroplasty" in page and "NOT APPROVED" in page
    assert "No simulation run for this plan." in text
    assert "Sign-off" in pages[-1] and "Reviewed by" in pages[-1]


@pytest.mark.parametrize("paper,size", [("a4", "595.276 x 841.89"), ("letter", "612 x 792")])
def test_paper_sizes_and_embedded_fonts(knee_case, tmp_path, paper, size):
    if shutil.which("pdfinfo") is None:
        pytest.skip("poppler-utils is not installed")
    pdf = tmp_path / f"{paper}.pdf"
    pdf.write_bytes(render_report(knee_case, "A", paper=paper))
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert f"Page size:       {size} pts" in info
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    lines = fonts.splitlines()[2:]
    assert lines and all(" yes yes yes " in line for line in lines), fonts  # every font embedded (subset)
    assert all("DejaVu" in line for line in lines)


def test_out_of_range_is_flagged_in_words(knee_case, knee_copy, tmp_path):
    case = open_copy(knee_copy, knee_case)
    case.model.settings["targets"] = {"tibial_slope": [0.0, 2.0]}  # plan A has 3 deg: too much
    case.dirty = True
    text = pdf_text(render_report(case, "A"), tmp_path)
    row = next(line for line in text.splitlines() if line.strip().startswith("Tibial slope") and "0 to 2°" in line)
    assert "3.0°" in row and "▲ HIGH" in row
    assert "(UNSAVED CHANGES)" in text  # the hash is of the plan as open, and says so
    ok = next(line for line in text.splitlines() if line.strip().startswith("Hip-knee-ankle angle (planned)"))
    assert "✓ in range" in ok


def test_locked_plan_records_the_approval(knee_case, knee_copy, tmp_path):
    case = open_copy(knee_copy, knee_case)
    info = case.lock_plan("A", note="reviewed at the planning meeting", by="Dr Approver")
    case.save()
    out = make_report(case, "A")
    assert out == knee_copy / "reports" / "A.pdf"
    text = pdf_text(out, tmp_path)
    assert f"APPROVED (plan locked) by Dr Approver at {info.at}" in text
    assert "NOT APPROVED" not in text
    signoff = _pages(text)[-1]
    approved = next(line for line in signoff.splitlines() if "Approved by" in line)
    assert "Dr Approver" in approved and info.at[:10] in approved
    sha = hashlib.sha256((knee_copy / "plans" / "A" / "plan.json").read_bytes()).hexdigest()
    assert sha in signoff


def test_a_finished_study_is_shown_as_the_contract_says(knee_case, knee_copy, tmp_path):
    import pyvista as pv

    from surgiplan.core.case import Case
    from surgiplan.core.case.schema import StudyRef
    from surgiplan.scene.report_figures import SceneFigures

    folder = knee_copy / "studies" / "A--knee-standing"
    folder.mkdir(parents=True)
    surf = pv.Sphere(radius=30.0, center=(0, 0, 400))
    surf.point_data["von_mises_MPa"] = np.linspace(0.0, 12.0, surf.n_points)
    surf.save(folder / "surface.vtp")
    summary = {"display_fields": [{"name": "von_mises_MPa", "label": "von Mises stress", "unit": "MPa",
                                   "range": [0.0, 12.0]}],
               "key_results": [{"label": "Peak von Mises stress", "value": 11.87, "unit": "MPa", "region": "tibia"},
                               {"label": "Stress shielding, Gruen zone 7", "value": -23.4, "unit": "%",
                                "region": "zone 7"}],
               "setup": {"load": "2.5 x body weight (Bergmann 2016)", "mesh": "12345 tetrahedra"},
               "verification": "surgiplan verify: 14 of 14 cases passed"}
    (folder / "summary.json").write_text(json.dumps(summary))
    case = Case.open(knee_copy)
    case.model.studies.append(StudyRef(name="knee-standing", path="studies/A--knee-standing", plan="A"))
    case.dirty = True
    case.save()
    case = open_copy(knee_copy, knee_case)
    data = render_report(case, "A", compare="B", figures=SceneFigures(size_px=200))
    text = " ".join(pdf_text(data, tmp_path, "-raw").split())
    layout = pdf_text(data, tmp_path)
    comp = layout[layout.index("Plan comparison: A and B"):]
    row = next(line for line in comp.splitlines() if "Peak von Mises stress" in line)
    assert "knee-standing" in row and "11.87 MPa" in row and "–" in row  # plan B has no study; 4 digits
    assert "Study: knee-standing" in text
    assert "Peak von Mises stress 11.87 MPa tibia" in text and "-23.4 %" in text
    assert "2.5 x body weight (Bergmann 2016)" in text and "14 of 14 cases passed" in text
    assert "von Mises stress (MPa), AP view" in text  # its colour-mapped render with the unit
    assert "No simulation run" not in text and "could not be rendered" not in text


def test_pages_render_with_pdftoppm(knee_case, tmp_path):
    from surgiplan.scene.report_figures import SceneFigures

    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(render_report(knee_case, "A", compare="B", figures=SceneFigures(size_px=240)))
    r = subprocess.run(["pdftoppm", "-r", "30", "-gray", str(pdf), str(tmp_path / "p")], capture_output=True,
                       text=True)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    pages = sorted(tmp_path.glob("p-*.pgm"))
    text = pdf_text(pdf, tmp_path)
    assert len(pages) == len(_pages(text))
    from PIL import Image

    images_page = next(i for i, p in enumerate(_pages(text)) if "3D views" in p)
    ink = [float((np.asarray(Image.open(p)) < 200).mean()) for p in pages]
    assert all(x > 0.01 for x in ink)  # nothing blank
    assert ink[images_page] > 1.5 * np.median(ink)  # the image page carries the renders
    assert "could not be rendered" not in text
    for letter in ("R", "L", "S", "I", "A", "P"):  # orientation letters are text
        assert f" {letter} " in _pages(text)[images_page] or f"{letter}\n" in _pages(text)[images_page]
