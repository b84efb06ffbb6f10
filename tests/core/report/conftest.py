"""A saved knee case with plans A and B (the knee demo's, from the knee sample scan), built once."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def knee_plans_template(tmp_path_factory) -> Path:
    from surgiplan.demo.knee import build_demo_plans
    from surgiplan.demo.sample_case import build_sample_case

    root = tmp_path_factory.mktemp("report") / "knee-case"
    case, *_ = build_sample_case("knee", root)
    build_demo_plans(case, side="right")
    case.save()
    return root


@pytest.fixture(scope="session")
def knee_case(knee_plans_template):
    """The template case, open (shared: tests must not change it)."""
    from surgiplan.core.case import Case

    return Case.open(knee_plans_template)


@pytest.fixture
def knee_copy(knee_plans_template, tmp_path) -> Path:
    """A copy of the template case folder that a test may change."""
    dst = tmp_path / "knee-case"
    shutil.copytree(knee_plans_template, dst)
    return dst


def pdf_text(pdf: bytes | Path, tmp_path: Path, mode: str = "-layout") -> str:
    """The PDF's text as poppler's pdftotext reads it: ``-layout`` keeps table rows on one line,
    ``-raw`` keeps each table cell's wrapped lines together (content-stream order)."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    if isinstance(pdf, bytes):
        path = tmp_path / "read.pdf"
        path.write_bytes(pdf)
    else:
        path = pdf
    r = subprocess.run(["pdftotext", mode, str(path), "-"], capture_output=True, text=True, check=True)
    return r.stdout


def open_copy(folder: Path, template_case):
    """Open a copy of the template case, reusing the template's bone distance fields (the copied
    models are the same files; building the fields again would only cost time)."""
    from surgiplan.core.case import Case

    case = Case.open(folder)
    for name, (_mesh, field) in template_case.derived.get("bone_fields", {}).items():
        case.derived.setdefault("bone_fields", {})[name] = (case.get_model(name), field)
    return case
