"""Outputs never overwrite inputs (issue 21): every writing command, driven through the real
entry point (``surgiplan.cli.main.run``, what ``.venv/bin/surgiplan`` runs), refuses an output
that is its input, lies inside the case or folder it reads, exists (without ``--overwrite``),
is a folder where a file is expected, has a 300-character name, or sits on a read-only disk.

Each refusal: exit code 1, one ``surgiplan: error:`` line naming the path, no traceback, the
inputs byte-identical (sha256 of the whole input tree), no output and no temporary file left.
The inputs are tiny (a 24 x 24 x 20 CT with a ball of bone, its DICOM series, one segment).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import pyvista as pv

from surgiplan.cli import main as cli_main
from surgiplan.core.case import Case
from surgiplan.core.imaging import Volume, write_volume
from surgiplan.core.segmentation import Segmentation, write_segmentation

REPO_ROOT = Path(__file__).resolve().parents[2]
LONG = "n" * 300
SHAPE = (20, 24, 24)
SPACING = (1.0, 1.0, 1.5)
ORIGIN = (-20.0, 30.0, 100.0)


# ------------------------------------------------------------------ inputs
@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """scan.nrrd, seg.seg.nrrd, lab.nrrd (+ lab.json), dcm/ (DICOM series), ball.stl and Case/
    (holding the scan as its planning scan with the segmentation, plans A and B)."""
    from surgiplan.core.samples.dicom_writer import SeriesHeader, write_series
    from surgiplan.core.samples.phantom import Grid

    w = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(21)
    arr = rng.normal(40, 10, SHAPE).astype(np.int16)
    k, j, i = np.indices(SHAPE)
    bone = (i - 12) ** 2 + (j - 12) ** 2 + ((k - 10) * 1.5) ** 2 <= 7**2
    arr[bone] = 1000
    vol = Volume(arr, SPACING, origin=ORIGIN, metadata={"modality": "CT"})
    write_volume(vol, w / "scan.nrrd")
    seg = Segmentation(shape=SHAPE, spacing=SPACING, origin=ORIGIN)
    seg.add_segment("bone", bone)
    write_segmentation(seg, w / "seg.seg.nrrd")
    write_segmentation(seg, w / "lab.nrrd")
    header = SeriesHeader(modality="CT", patient_name="SYNTHETIC^HOSTILE", patient_id="H21", patient_sex="O",
                          patient_birth_date="19700101", study_description="hostile outputs",
                          series_description="ball", body_part="PELVIS", patient_position="FFS",
                          uid_entropy=["hostile", "21"])
    write_series((arr.astype(np.int32) + 1024).astype(np.uint16), Grid(SHAPE, SPACING, ORIGIN), w / "dcm",
                 header, rescale_slope=1.0, rescale_intercept=-1024.0)
    pv.Sphere(radius=10, theta_resolution=12, phi_resolution=12).save(w / "ball.stl")
    case = Case.new(w / "Case", user="test")
    case.add_scan("planning", vol, segmentation=seg)
    case.new_plan("A")
    case.new_plan("B")
    case.save()
    assert (w / "Case" / "scans" / "planning" / "segmentation.seg.nrrd").is_file()
    return w


def tree_digest(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` (files hashed, folders and links named)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


def leftovers(folder: Path) -> list[Path]:
    """Temporary files or folders (fileio's ``.sptmp``, ``.tmp``) left anywhere under ``folder``."""
    return [p for p in folder.rglob("*") if ".sptmp" in p.name or ".tmp" in p.name]


def surgiplan(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """Run the console entry point in this process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["surgiplan", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        cli_main.run()
    cap = capsys.readouterr()
    code = exc.value.code
    return (0 if code is None else code), cap.out, cap.err


def refused(monkeypatch, capsys, work, names: str, *args):
    """Run, expect exit 1 with one error line naming ``names``, no traceback, inputs unchanged."""
    before = tree_digest(work)
    code, out, err = surgiplan(monkeypatch, capsys, *args)
    assert code == 1, (args, out, err)
    assert err.startswith("surgiplan: error: ") and err.count("\n") == 1, err
    assert names in err, (names, err)
    assert "Traceback" not in out + err
    assert tree_digest(work) == before, "an input changed"
    assert not leftovers(work)
    return err


# ------------------------------------------------------------------ the commands
# Each: (id, argv builder(work, out), output kind). Output kinds: "file", "folder".
def _segment(w, out):
    return ["segment", w / "scan.nrrd", "--preset", "bone", "-o", out]


def _segment_labelmap(w, out):
    return ["segment", w / "scan.nrrd", "--preset", "bone", "-o", out]


def _convert(w, out):
    return ["scan", "convert", w / "dcm", out]


def _export(w, out):
    return ["export-dicom-seg", w / "seg.seg.nrrd", w / "dcm", "-o", out]


def _compare(w, out):
    return ["plan", "compare", w / "Case", "A", "B", "--csv", out]


def _model(w, out):
    return ["model", w / "seg.seg.nrrd", "-o", out, "--decimate", "200"]


def _deid(w, out):
    return ["scan", "deidentify", w / "dcm", out]


def _samples(w, out):
    return ["samples", "knee_mri", "--out", out]


def _demo(w, out):
    return ["demo", "--out", out]


FILE_COMMANDS = {
    "segment": (_segment, "o.seg.nrrd"),
    "segment-labelmap": (_segment_labelmap, "o.nrrd"),
    "scan-convert": (_convert, "o.nrrd"),
    "export-dicom-seg": (_export, "o.dcm"),
    "plan-compare-csv": (_compare, "o.csv"),
}
FOLDER_COMMANDS = {
    "model": _model,
    "scan-deidentify": _deid,
    "samples": _samples,
    "demo": _demo,
}
ALL = {**{k: v[0] for k, v in FILE_COMMANDS.items()}, **FOLDER_COMMANDS}


# ------------------------------------------------------------------ output == input
PLANNING = Path("Case") / "scans" / "planning"
SAME = {  # id: (argv with "OUT" for the output, output relative to the inputs folder)
    "segment": (["segment", "scan.nrrd", "-o", "OUT", "--overwrite"], "scan.nrrd"),
    "segment-labelmap": (["segment", "lab.nrrd", "-o", "OUT", "--overwrite"], "lab.nrrd"),
    # the case's own planning scan, read through the case folder and as a file
    "segment-case-scan": (["segment", "Case", "-o", "OUT", "--overwrite"], PLANNING / "volume.nrrd"),
    "segment-case-scan-file": (["segment", PLANNING / "volume.nrrd", "-o", "OUT", "--overwrite"],
                               PLANNING / "volume.nrrd"),
    # the same file reached through '..' and through a link
    "dotdot": (["segment", "scan.nrrd", "-o", "OUT", "--overwrite"], Path("dcm") / ".." / "scan.nrrd"),
    "link": (["segment", "link.nrrd", "-o", "OUT", "--overwrite"], "scan.nrrd"),
    "export-seg": (["export-dicom-seg", "seg.seg.nrrd", "dcm", "-o", "OUT", "--overwrite"], "seg.seg.nrrd"),
    # a label map's names file is read too
    "export-labelmap-json": (["export-dicom-seg", "lab.nrrd", "dcm", "-o", "OUT", "--overwrite"], "lab.json"),
    "convert": (["scan", "convert", "scan.nrrd", "OUT", "--overwrite"], "scan.nrrd"),
    "compare-case-json": (["plan", "compare", "Case", "A", "B", "--csv", "OUT", "--overwrite"],
                          Path("Case") / "case.json"),
    "compare-case-json-2": (["plan", "compare", Path("Case") / "case.json", "A", "B", "--csv", "OUT",
                             "--overwrite"], Path("Case") / "case.json"),
    "model": (["model", "seg.seg.nrrd", "-o", "OUT"], "seg.seg.nrrd"),
    "deidentify": (["scan", "deidentify", "dcm", "OUT"], "dcm"),
}


def _argv(work: Path, argv: list, out: Path) -> list:
    keep = {"segment", "model", "export-dicom-seg", "plan", "compare", "scan", "convert", "deidentify",
            "samples", "demo", "case", "new", "-o", "--csv", "--out", "--overwrite", "A", "B", "knee_mri"}
    return [out if a == "OUT" else a if str(a) in keep else work / a for a in argv]


@pytest.mark.parametrize("case", list(SAME))
def test_output_that_is_an_input_is_refused(work, monkeypatch, capsys, case):
    link = work / "link.nrrd"
    if not link.is_symlink():
        link.symlink_to(work / "scan.nrrd")
    argv, out = SAME[case]
    out = work / out
    try:
        err = refused(monkeypatch, capsys, work, str(out), *_argv(work, argv, out))
        assert "same file as the input" in err or "inside the input folder" in err or "holds the input" in err
    finally:
        link.unlink()


# ------------------------------------------------------------------ inside the case / input folder
INSIDE = {  # id: (argv with "OUT", output relative to the inputs folder)
    "segment-case": (["segment", "Case", "-o", "OUT"], Path("Case") / "x.seg.nrrd"),
    "segment-into-case": (["segment", "scan.nrrd", "-o", "OUT"], PLANNING / "y.seg.nrrd"),
    "model-case-seg": (["model", PLANNING / "segmentation.seg.nrrd", "-o", "OUT"], Path("Case") / "models"),
    "model-case-root": (["model", "seg.seg.nrrd", "-o", "OUT"], Path("Case")),
    "export-case": (["export-dicom-seg", PLANNING / "segmentation.seg.nrrd", "dcm", "-o", "OUT"],
                    Path("Case") / "seg.dcm"),
    "export-dicom-dir": (["export-dicom-seg", "seg.seg.nrrd", "dcm", "-o", "OUT"], Path("dcm") / "seg.dcm"),
    "convert-dicom-dir": (["scan", "convert", "dcm", "OUT"], Path("dcm") / "x.nrrd"),
    "convert-case": (["scan", "convert", "dcm", "OUT"], Path("Case") / "x.nrrd"),
    "deid-dicom-dir": (["scan", "deidentify", "dcm", "OUT"], Path("dcm") / "anon"),
    "deid-case": (["scan", "deidentify", "dcm", "OUT"], Path("Case") / "anon"),
    "compare-plans-dir": (["plan", "compare", "Case", "A", "B", "--csv", "OUT"], Path("Case") / "plans" / "c.csv"),
    "compare-through-link": (["plan", "compare", "Case", "A", "B", "--csv", "OUT"], Path("caselink") / "c.csv"),
    "samples-case": (["samples", "knee_mri", "--out", "OUT"], Path("Case") / "samples"),
    "demo-case": (["demo", "--out", "OUT"], Path("Case") / "demo"),
    "case-new-nested": (["case", "new", "OUT"], Path("Case") / "models" / "Nested"),
}


@pytest.mark.parametrize("case", list(INSIDE))
def test_output_inside_the_case_or_input_folder_is_refused(work, monkeypatch, capsys, case):
    link = work / "caselink"
    if not link.is_symlink():
        link.symlink_to(work / "Case")
    argv, out = INSIDE[case]
    out = work / out
    try:
        err = refused(monkeypatch, capsys, work, str(out), *_argv(work, argv, out))
        assert "inside" in err
    finally:
        link.unlink()


# ------------------------------------------------------------------ existing output, --overwrite
@pytest.mark.parametrize("cmd", list(FILE_COMMANDS))
def test_existing_output_refused_then_replaced_with_overwrite(work, tmp_path, monkeypatch, capsys, cmd):
    build, name = FILE_COMMANDS[cmd]
    out = tmp_path / name
    out.write_bytes(b"keep me")
    before = hashlib.sha256(out.read_bytes()).hexdigest()
    err = refused(monkeypatch, capsys, work, str(out), *build(work, out))
    assert "exists" in err and "--overwrite" in err
    assert hashlib.sha256(out.read_bytes()).hexdigest() == before
    code, stdout, err = surgiplan(monkeypatch, capsys, *build(work, out), "--overwrite")
    assert code == 0, err
    assert out.read_bytes() != b"keep me" and out.stat().st_size > 7
    assert not leftovers(tmp_path)
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # the original file's mode kept


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_labelmap_names_file_exists_is_refused_before_any_work(work, tmp_path, monkeypatch, capsys):
    (tmp_path / "o.json").write_text("mine")
    refused(monkeypatch, capsys, work, str(tmp_path / "o.json"), *_segment(work, tmp_path / "o.nrrd"))
    assert not (tmp_path / "o.nrrd").exists() and (tmp_path / "o.json").read_text() == "mine"


def test_model_refuses_if_any_file_exists_and_writes_none(work, tmp_path, monkeypatch, capsys):
    seg = Segmentation(shape=SHAPE, spacing=SPACING, origin=ORIGIN)
    k, j, i = np.indices(SHAPE)
    seg.add_segment("left", (i - 6) ** 2 + (j - 12) ** 2 + (k - 10) ** 2 <= 16)
    seg.add_segment("right", (i - 18) ** 2 + (j - 12) ** 2 + (k - 10) ** 2 <= 16)
    src = tmp_path / "two.seg.nrrd"
    write_segmentation(seg, src)
    out = tmp_path / "models"
    out.mkdir()
    (out / "right.stl").write_bytes(b"keep me")
    err = refused(monkeypatch, capsys, tmp_path / "models", "right.stl", "model", src, "-o", out)
    assert "--overwrite" in err
    assert sorted(p.name for p in out.iterdir()) == ["right.stl"], "no model written when one exists"
    code, stdout, err = surgiplan(monkeypatch, capsys, "model", src, "-o", out, "--overwrite")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["left.stl", "right.stl"]
    assert (out / "right.stl").read_bytes() != b"keep me"


def test_model_failure_leaves_no_partial_output(work, tmp_path, monkeypatch, capsys):
    seg = Segmentation(shape=SHAPE, spacing=SPACING, origin=ORIGIN)
    k, j, i = np.indices(SHAPE)
    seg.add_segment("ball", (i - 12) ** 2 + (j - 12) ** 2 + (k - 10) ** 2 <= 16)
    seg.add_segment("zz_empty")
    src = tmp_path / "partly-empty.seg.nrrd"
    write_segmentation(seg, src)
    out = tmp_path / "models"
    refused(monkeypatch, capsys, work, "zz_empty", "model", src, "-o", out)
    assert not out.exists(), "the first model must not be left behind"
    out.mkdir()
    refused(monkeypatch, capsys, work, "zz_empty", "model", src, "-o", out)
    assert list(out.iterdir()) == []


def test_model_segment_names_that_collide_are_refused(work, tmp_path, monkeypatch, capsys):
    seg = Segmentation(shape=SHAPE, spacing=SPACING, origin=ORIGIN)
    k, j, i = np.indices(SHAPE)
    seg.add_segment("a/b", (i - 6) ** 2 + (j - 12) ** 2 + (k - 10) ** 2 <= 16)
    seg.add_segment("a_b", (i - 18) ** 2 + (j - 12) ** 2 + (k - 10) ** 2 <= 16)
    src = tmp_path / "clash.seg.nrrd"
    write_segmentation(seg, src)
    refused(monkeypatch, capsys, work, "a_b.stl", "model", src, "-o", tmp_path / "m")
    assert not (tmp_path / "m").exists()


# ------------------------------------------------------------------ wrong kind of output
@pytest.mark.parametrize("cmd", list(FILE_COMMANDS))
def test_output_that_is_a_folder_is_refused(work, tmp_path, monkeypatch, capsys, cmd):
    build, name = FILE_COMMANDS[cmd]
    out = tmp_path / name
    out.mkdir()
    (out / "inside.txt").write_text("mine")
    err = refused(monkeypatch, capsys, work, str(out), *build(work, out), "--overwrite")
    assert "folder" in err
    assert [p.name for p in out.iterdir()] == ["inside.txt"]


@pytest.mark.parametrize("cmd", list(FOLDER_COMMANDS))
def test_output_folder_that_is_a_file_is_refused(work, tmp_path, monkeypatch, capsys, cmd):
    out = tmp_path / "afile"
    out.write_text("mine")
    err = refused(monkeypatch, capsys, work, str(out), *FOLDER_COMMANDS[cmd](work, out))
    assert "not a folder" in err
    assert out.read_text() == "mine"


@pytest.mark.parametrize("cmd", list(ALL))
def test_output_name_of_300_characters_is_refused(work, tmp_path, monkeypatch, capsys, cmd):
    out = tmp_path / (LONG + (FILE_COMMANDS[cmd][1] if cmd in FILE_COMMANDS else ""))
    err = refused(monkeypatch, capsys, work, out.name[-60:], *ALL[cmd](work, out))
    assert "too long" in err or "bytes long" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("cmd", list(ALL))
def test_output_under_a_file_is_refused(work, tmp_path, monkeypatch, capsys, cmd):
    (tmp_path / "plain").write_text("mine")
    out = tmp_path / "plain" / "sub" / (FILE_COMMANDS[cmd][1] if cmd in FILE_COMMANDS else "dir")
    refused(monkeypatch, capsys, work, str(tmp_path / "plain"), *ALL[cmd](work, out))
    assert (tmp_path / "plain").read_text() == "mine"


@pytest.mark.parametrize("cmd", list(FILE_COMMANDS))
def test_output_symlink_fifo_and_device_are_refused(work, tmp_path, monkeypatch, capsys, cmd):
    build, name = FILE_COMMANDS[cmd]
    target = tmp_path / "target.txt"
    target.write_text("mine")
    link = tmp_path / name
    link.symlink_to(target)
    err = refused(monkeypatch, capsys, work, str(link), *build(work, link), "--overwrite")
    assert "link" in err and target.read_text() == "mine" and link.is_symlink()
    fifo = tmp_path / ("fifo-" + name)
    os.mkfifo(fifo)
    err = refused(monkeypatch, capsys, work, str(fifo), *build(work, fifo), "--overwrite")
    assert "regular file" in err and fifo.is_fifo()
    if cmd == "plan-compare-csv":  # the only output without a required suffix
        err = refused(monkeypatch, capsys, work, "/dev/null", *build(work, Path("/dev/null")), "--overwrite")
        assert "regular file" in err and Path("/dev/null").is_char_device()


# ------------------------------------------------------------------ read-only disk
@pytest.fixture(scope="module")
def readonly_dir(tmp_path_factory):
    """A read-only tmpfs (root only; skipped otherwise, never faked with chmod, which root ignores)."""
    d = tmp_path_factory.mktemp("ro")
    if os.geteuid() != 0:
        os.chmod(d, 0o555)
        yield d
        os.chmod(d, 0o755)
        return
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(d)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here ({proc.stderr.strip()})")
    yield d
    subprocess.run(["umount", str(d)], check=False)


@pytest.mark.parametrize("cmd", list(ALL))
def test_read_only_output_folder_is_refused_before_any_work(work, readonly_dir, monkeypatch, capsys, cmd):
    out = readonly_dir / "sub" / (FILE_COMMANDS[cmd][1] if cmd in FILE_COMMANDS else "out")
    err = refused(monkeypatch, capsys, work, str(out), *ALL[cmd](work, out))
    assert "read-only" in err or "permission" in err
    assert list(readonly_dir.iterdir()) == []


# ------------------------------------------------------------------ samples and demo
def test_samples_refuses_an_outdated_sample_then_replaces_it(work, tmp_path, monkeypatch, capsys):
    from surgiplan.core.samples.generate import GENERATOR_VERSION

    stale = tmp_path / "knee_mri-small"
    (stale / "ground_truth").mkdir(parents=True)
    (stale / "ground_truth" / "ground_truth.json").write_text(json.dumps(
        {"name": "knee_mri", "frame": "LPS", "labels": {}, "landmarks": {}, "axes": {}, "quantities": {},
         "generator_version": "0", "seed": 1005}))
    err = refused(monkeypatch, capsys, work, str(stale), "samples", "knee_mri", "--out", tmp_path)
    assert "--overwrite" in err
    code, out, err = surgiplan(monkeypatch, capsys, "samples", "knee_mri", "--out", tmp_path, "--overwrite")
    assert code == 0, err
    gt = json.loads((stale / "ground_truth" / "ground_truth.json").read_text())
    assert gt["generator_version"] == GENERATOR_VERSION
    assert [p.name for p in tmp_path.iterdir()] == ["knee_mri-small"], "no temporary folders left"
    # up to date: kept as it is, nothing rewritten
    before = tree_digest(stale)
    code, out, err = surgiplan(monkeypatch, capsys, "samples", "knee_mri", "--out", tmp_path)
    assert code == 0 and "up to date" in out and tree_digest(stale) == before


def test_samples_never_replaces_a_folder_it_did_not_make(work, tmp_path, monkeypatch, capsys):
    mine = tmp_path / "knee_mri-small"
    mine.mkdir()
    (mine / "thesis.txt").write_text("mine")
    err = refused(monkeypatch, capsys, work, str(mine), "samples", "knee_mri", "--out", tmp_path,
                  "--overwrite")
    assert "not a generated sample" in err and (mine / "thesis.txt").read_text() == "mine"


@pytest.mark.parametrize("existing", ["hip-comparison.csv", "hip-comparison.json", "hip-models/pelvis.stl",
                                      "hip-case/notes.txt"])
def test_demo_refuses_existing_outputs_before_any_work(work, tmp_path, monkeypatch, capsys, existing):
    f = tmp_path / existing
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text("mine")
    name = existing.split("/")[0]
    err = refused(monkeypatch, capsys, work, str(tmp_path / name), "demo", "--out", tmp_path)
    assert f.read_text() == "mine"
    if existing.startswith("hip-case"):  # not a case: never deleted, even with --overwrite
        err = refused(monkeypatch, capsys, work, str(tmp_path / name), "demo", "--out", tmp_path, "--overwrite")
        assert "refusing to delete" in err and f.read_text() == "mine"


# ------------------------------------------------------------------ the installed command
def test_installed_command_refuses_case_json_as_csv_without_traceback(work, tmp_path):
    """The issue's example, end to end through .venv/bin/surgiplan."""
    exe = REPO_ROOT / ".venv" / "bin" / "surgiplan"
    if not exe.exists():
        pytest.skip("the surgiplan command is not installed in .venv")
    before = tree_digest(work)
    for argv in (["plan", "compare", work / "Case", "A", "B", "--csv", work / "Case" / "case.json"],
                 ["segment", work / "Case", "-o", work / "Case" / "scans" / "planning" / "volume.nrrd",
                  "--overwrite"]):
        proc = subprocess.run([str(exe), *map(str, argv)], capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.startswith("surgiplan: error: ") and "Traceback" not in proc.stderr + proc.stdout
    assert tree_digest(work) == before
    assert list(tmp_path.iterdir()) == []
