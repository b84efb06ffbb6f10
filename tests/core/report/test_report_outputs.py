"""Hostile inputs of make_report: refused before any work, with a message naming the file, nothing
written; and the backup sizes of the implant list against the catalogue."""

from __future__ import annotations

import os
import subprocess

import pytest

from surgiplan.core.errors import CaseFormatError, InputError
from surgiplan.core.fileio import WriteError
from surgiplan.core.report import make_report, render_report


def _files(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*"))


def test_unknown_plan_names_the_plans(knee_case):
    with pytest.raises(InputError, match=r"no plan 'Z' \(plans: A, B\)"):
        render_report(knee_case, "Z")
    with pytest.raises(InputError, match="no plan 'Q'"):
        render_report(knee_case, "A", compare="Q")
    with pytest.raises(InputError, match="itself"):
        render_report(knee_case, "A", compare="A")


def test_missing_plan_file_is_refused_naming_it(knee_copy):
    (knee_copy / "plans" / "B" / "plan.json").unlink()
    before = _files(knee_copy)
    with pytest.raises(CaseFormatError, match="plan.json not found") as e:
        make_report(knee_copy, "A")
    assert "plans/B/plan.json" in str(e.value)
    assert _files(knee_copy) == before


@pytest.mark.parametrize("target", ["plans/A/plan.json", "case.json", "plans/A/report.pdf", "models/femur.pdf"])
def test_output_inside_the_case_or_over_an_input_is_refused(knee_copy, target):
    out = knee_copy / target
    before = {p: p.read_bytes() for p in knee_copy.rglob("*") if p.is_file()}
    with pytest.raises(InputError) as e:
        make_report(knee_copy, "A", out=out, overwrite=True)
    assert str(out) in str(e.value)
    assert {p: p.read_bytes() for p in knee_copy.rglob("*") if p.is_file()} == before


def test_a_link_to_an_input_is_refused(knee_copy, tmp_path):
    link = tmp_path / "plan.pdf"
    link.symlink_to(knee_copy / "plans" / "A" / "plan.json")
    before = (knee_copy / "plans" / "A" / "plan.json").read_bytes()
    with pytest.raises(InputError, match="inside the case folder|symbolic link"):
        make_report(knee_copy, "A", out=link, overwrite=True)
    assert (knee_copy / "plans" / "A" / "plan.json").read_bytes() == before


def test_existing_output_needs_overwrite(knee_copy, tmp_path):
    out = tmp_path / "old.pdf"
    out.write_bytes(b"%PDF-1.4 an earlier report")
    with pytest.raises(InputError, match="output file exists"):
        make_report(knee_copy, "A", out=out)
    assert out.read_bytes() == b"%PDF-1.4 an earlier report"
    with pytest.raises(InputError, match=r"\.pdf"):
        make_report(knee_copy, "A", out=tmp_path / "plan.txt")
    with pytest.raises(InputError, match="paper"):
        make_report(knee_copy, "A", out=tmp_path / "x.pdf", paper="a3")
    assert not (tmp_path / "x.pdf").exists()


def test_read_only_folder_is_refused_before_any_work(knee_copy, tmp_path):
    from tests.conftest import _mount_tmpfs, _umount

    mnt = tmp_path / "ro"
    _mount_tmpfs(mnt, "1m")
    try:
        r = subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot remount read-only here ({r.stderr.strip()})")
        with pytest.raises(WriteError, match="read-only") as e:
            make_report(knee_copy, "A", out=mnt / "plan.pdf")
        assert "plan.pdf" in str(e.value)
        assert not os.listdir(mnt)
    finally:
        _umount(mnt)


def test_backup_sizes_are_the_catalogue_neighbours():
    from surgiplan.core.planning.catalog import default_catalog
    from surgiplan.core.report.content import _size_neighbours

    cat = default_catalog()
    screws = cat.get("spine_pedicle_screw").sizes
    assert set(_size_neighbours(screws, "6.5x45")) == {"6.5x40", "6.5x50", "6.0x45", "7.0x45"}
    assert _size_neighbours(cat.get("hip_cup").sizes, "44") == ["46"]  # the smallest has no size below
    assert _size_neighbours(cat.get("hip_liner").sizes, "56/32") == ["54/32", "58/32"]
    assert _size_neighbours(cat.get("knee_femoral").sizes, "4") == ["3", "5"]
