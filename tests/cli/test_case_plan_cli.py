"""``surgiplan case`` / ``surgiplan plan``: human and --json output, scripted plan, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import pyvista as pv
from typer.testing import CliRunner

from surgiplan.cli.main import app
from surgiplan.core.case import Case
from surgiplan.core.errors import CaseFormatError, InputError, SurgiplanError

runner = CliRunner()


def ok(*args):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, (args, r.output, r.exception)
    return r.output


@pytest.fixture()
def case_dir(tmp_path):
    d = tmp_path / "Case"
    ok("case", "new", d, "--patient-name", "Synthetic^Hip")
    mesh = pv.Cube(center=(80, 0, 0), x_length=80, y_length=80, z_length=80).triangulate()
    mesh.save(tmp_path / "pelvis.stl")
    ok("case", "add-model", d, "pelvis", tmp_path / "pelvis.stl")
    c = Case.open(d)
    c.set_landmark("acetabular_centre_left", (80, 0, 0))
    c.save()
    return d


def test_scripted_plan_via_cli(case_dir, tmp_path):
    ok("plan", "new", case_dir, "A", "--note", "first")
    out = ok("plan", "place", case_dir, "A", "cup", "--implant", "hip_cup", "--size", "52", "--side",
             "left", "--bone", "pelvis", "--inclination", "40", "--anteversion", "15")
    assert "placed cup" in out and "mm LPS" in out
    ok("plan", "copy", case_dir, "A", "B")
    d = json.loads(ok("plan", "move", case_dir, "B", "cup", "--translate", "1.5,-2,3", "--frame", "world",
                      "--json"))
    np.testing.assert_allclose(np.array(d["transform"])[:3, 3], [81.5, -2, 3], atol=1e-12)
    info = json.loads(ok("case", "info", case_dir, "--json"))
    assert [p["name"] for p in info["plans"]] == ["A", "B"] and info["models"] == ["pelvis"]
    assert "Synthetic^Hip" in ok("case", "info", case_dir)
    meas = json.loads(ok("plan", "measure", case_dir, "A", "--json"))
    inc = next(m for m in meas if m["key"] == "cup_inclination")
    assert inc["value"] == pytest.approx(40.0) and inc["unit"] == "deg" and "Murray" in inc["definition"]
    comp = json.loads(ok("plan", "compare", case_dir, "A", "B", "--json", "--target",
                         "cup_inclination=30:45", "--csv", tmp_path / "cmp.csv"))
    assert comp["plans"] == ["A", "B"]
    rows = {r["key"]: r for r in comp["rows"]}
    assert rows["cup_inclination"]["target"] == [30.0, 45.0]
    assert rows["position:cup:L"]["difference"] == pytest.approx(1.5)
    assert rows["interference_volume_cup"]["unit"] == "mm^3"
    assert (tmp_path / "cmp.csv").read_text().startswith("group,quantity,unit,A,B")
    text = ok("plan", "compare", case_dir, "A", "B")
    assert "Cup inclination" in text and "deg" in text
    out = ok("plan", "lock", case_dir, "A", "--note", "approved")
    assert "locked by" in out
    r = runner.invoke(app, ["plan", "move", str(case_dir), "A", "cup", "--translate", "1,0,0"])
    assert isinstance(r.exception, InputError) and "locked" in str(r.exception)


@pytest.mark.parametrize("args, message", [
    (["plan", "move", "{c}", "A", "cup", "--translate", "1,2"], "3 numbers"),
    (["plan", "move", "{c}", "A", "cup", "--rotate", "q:5"], "AXIS:DEG"),
    (["plan", "place", "{c}", "A", "x", "--implant", "nope", "--size", "1", "--at", "0,0,0"], "no implant 'nope'"),
    (["plan", "place", "{c}", "A", "x", "--implant", "hip_cup", "--size", "43", "--at", "0,0,0"], "no size '43'"),
    (["plan", "compare", "{c}", "A"], "at least two"),
    (["plan", "compare", "{c}", "A", "Z"], "no plan 'Z'"),
    (["plan", "compare", "{c}", "A", "A", "--target", "x=1"], "KEY=MIN:MAX"),
    (["plan", "set-angles", "{c}", "--plan", "A", "--implant", "cup", "--inclination", "95"], "outside"),
    (["plan", "set-angles", "{c}", "--plan", "A", "--implant", "cup", "--inclination", "40", "--convention",
      "x"], "convention"),
    (["plan", "set-angles", "{c}", "--plan", "A", "--implant", "cup", "--version", "10"], "is a cup"),
    (["plan", "set-angles", "{c}", "--plan", "A", "--implant", "cup"], "nothing to set"),
    (["plan", "set-angles", "{c}", "--plan", "A", "--implant", "nope", "--inclination", "40"], "nope"),
    (["plan", "set-angles", "{c}", "--plan", "Z", "--implant", "cup", "--inclination", "40"], "no plan 'Z'"),
])
def test_bad_arguments_give_clear_errors_and_change_nothing(case_dir, args, message):
    ok("plan", "new", case_dir, "A")
    ok("plan", "place", case_dir, "A", "cup", "--implant", "hip_cup", "--size", "52", "--at", "80,0,0")
    before = {p: p.read_bytes() for p in case_dir.rglob("*.json")}
    r = runner.invoke(app, [a.replace("{c}", str(case_dir)) for a in args])
    assert r.exit_code != 0 and message in str(r.exception), (r.output, r.exception)
    assert {p: p.read_bytes() for p in case_dir.rglob("*.json")} == before


def test_set_angles_types_the_cup_angles(case_dir):
    """`plan set-angles` types a cup's angles (core set_hip_angles); --json is its readout."""
    c = Case.open(case_dir)
    for k, v in {"asis_left": (120, -60, 60), "asis_right": (-120, -60, 60), "pubic_tubercle_left": (20, -60, -40),
                 "pubic_tubercle_right": (-20, -60, -40)}.items():
        c.set_landmark(k, v)
    c.save()
    ok("plan", "new", case_dir, "A")
    ok("plan", "place", case_dir, "A", "cup", "--implant", "hip_cup", "--size", "52", "--side", "left",
       "--inclination", "40", "--anteversion", "15")
    d = json.loads(ok("plan", "set-angles", case_dir, "--plan", "A", "--implant", "cup", "--inclination", "42",
                      "--anteversion", "19", "--convention", "anatomical", "--json"))
    assert d["convention"] == "anatomical" and d["reference"] == "anterior pelvic plane"
    assert (d["inclination_deg"], d["anteversion_deg"]) == pytest.approx((42, 19), abs=1e-9)
    meas = {m["key"]: m["value"] for m in json.loads(ok("plan", "measure", case_dir, "A", "--json"))}
    rad = d["conventions"]["radiographic"]
    assert meas["cup_inclination"] == pytest.approx(rad["inclination_deg"], abs=1e-9)
    assert meas["cup_anteversion"] == pytest.approx(rad["anteversion_deg"], abs=1e-9)
    assert "inclination 42.0 deg" in ok("plan", "set-angles", case_dir, "--plan", "A", "--implant", "cup",
                                        "--convention", "anatomical", "--inclination", "42")


def test_propose_sizes_cli(case_dir):
    c = Case.open(case_dir)
    c.set_landmark("acetabular_radius_left", (28.5, 0, 0))  # x = the socket sphere radius, mm
    c.save()
    ok("plan", "new", case_dir, "A")
    d = json.loads(ok("plan", "propose-sizes", case_dir, "--plan", "A", "--side", "left", "--json"))
    assert (d["cup"]["size"], d["cup"]["smaller"], d["cup"]["larger"]) == ("60", "58", "62")
    assert "stem" not in d and "femoral_canal_axis_left" in d["errors"]["stem"]  # no canal axis: said why
    r = runner.invoke(app, ["plan", "propose-sizes", str(case_dir), "--plan", "A", "--side", "right"])
    assert r.exit_code != 0 and "acetabular_radius_right" in str(r.exception)
    r = runner.invoke(app, ["plan", "propose-sizes", str(case_dir), "--plan", "A", "--side", "up"])
    assert r.exit_code != 0 and "left or right" in str(r.exception)


def test_damaged_case_refused_by_cli(case_dir):
    (case_dir / "case.json").write_text('{"format": "surgiplan-case", "schema_version": 2, "name": "x"}')
    before = (case_dir / "case.json").read_bytes()
    r = runner.invoke(app, ["case", "info", str(case_dir)])
    assert isinstance(r.exception, CaseFormatError) and "newer surgiplan" in str(r.exception)
    # the console script turns it into one line on stderr and exit code 1
    p = subprocess.run([sys.executable, "-m", "surgiplan", "case", "info", str(case_dir), "--json"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "case.json" in p.stderr and "newer surgiplan" in p.stderr
    assert (case_dir / "case.json").read_bytes() == before


def test_recover_autosave_via_cli(case_dir, tmp_path, monkeypatch):
    import os

    from surgiplan.core.case.autosave import write_autosave

    monkeypatch.setenv("SURGIPLAN_AUTOSAVE_DIR", str(tmp_path / "auto"))
    r = runner.invoke(app, ["case", "recover", str(case_dir)])
    assert isinstance(r.exception, InputError) and "no autosave" in str(r.exception)
    c = Case.open(case_dir)
    c.new_plan("unsaved")
    snap = write_autosave(c)
    t = os.stat(case_dir / "case.json").st_mtime
    os.utime(snap, (t + 5, t + 5))
    assert "autosave from" in ok("case", "info", case_dir)
    ok("case", "recover", case_dir)
    assert "unsaved" in Case.open(case_dir).plans and not snap.exists()


@pytest.mark.parametrize("args, message", [
    (["--at", "1,2"], "3 numbers"),
    (["--at", "a,b,c"], "3 numbers"),
    (["--at", "nan,0,0"], "finite"),
    (["--at", "0,0,0", "--direction", "0,0,0"], "zero vector"),
    (["--at", "0,0,0", "--source", "guess"], "--source"),
])
def test_set_landmark_bad_input_changes_nothing(case_dir, args, message):
    before = (case_dir / "case.json").read_bytes()
    r = runner.invoke(app, ["case", "set-landmark", str(case_dir), "hip_centre", *args])
    assert isinstance(r.exception, InputError) and message in str(r.exception), r.output
    assert (case_dir / "case.json").read_bytes() == before


def test_knee_landmarks_need_hip_and_ankle_centres(case_dir):
    r = runner.invoke(app, ["case", "fit-landmarks", str(case_dir), "--anatomy", "knee"])
    assert isinstance(r.exception, InputError)
    assert "femur" in str(r.exception) and "hip_centre" in str(r.exception)


def test_fit_spine_landmarks_via_cli(tmp_path):
    """Pedicle entry points fitted on the spine sample's L4 model land within 1 mm of the truth."""
    from surgiplan.core.samples import sample_path
    from surgiplan.core.segmentation import read_segmentation
    from surgiplan.core.surfaces import segment_to_surface

    p = sample_path("spine", size="small")
    seg = read_segmentation(p.labels, labels_json=p.labels_json)
    segment_to_surface(seg, "L4").save(tmp_path / "L4.vtp")
    d = tmp_path / "Spine"
    ok("case", "new", d)
    ok("case", "add-model", d, "L4", tmp_path / "L4.vtp")
    ok("case", "set-landmark", d, "hip_centre", "--at", "1,2,3", "--direction", "0,0,2", "--source", "imported")
    data = json.loads(ok("case", "fit-landmarks", d, "--anatomy", "spine", "--json"))
    gt = p.load_ground_truth()["landmarks"]
    for s in ("left", "right"):
        k = f"pedicle_entry_L4_{s}"
        assert np.linalg.norm(np.array(data[k]["position"]) - gt[k]["position"]) < 1.0
    c = Case.open(d)
    assert c.landmarks["pedicle_axis_L4_left"].direction is not None
    assert c.landmarks["hip_centre"].direction.tolist() == [0.0, 0.0, 1.0]  # unit, as given


def test_add_model_checks_the_surface_like_import_model(case_dir, tmp_path):
    """An open surface, a truncated file and a bad frame are refused; the case keeps its one model."""
    before = (case_dir / "case.json").read_bytes()
    open_mesh = pv.Sphere(radius=10).clip("x", invert=False)  # a hemisphere with a hole
    open_mesh.save(tmp_path / "open.stl")
    (tmp_path / "cut.stl").write_bytes((tmp_path / "open.stl").read_bytes()[:300])
    for args, message in (((tmp_path / "open.stl",), "closed"), ((tmp_path / "cut.stl",), "cut.stl"),
                          ((tmp_path / "open.stl", "--frame", "XYZ"), "frame")):
        r = runner.invoke(app, ["case", "add-model", str(case_dir), "cup", *map(str, args)])
        assert r.exit_code != 0 and isinstance(r.exception, SurgiplanError), r.output
        assert message in str(r.exception).lower() + str(getattr(r.exception, "path", "")), str(r.exception)
    assert (case_dir / "case.json").read_bytes() == before
    assert Case.open(case_dir).model_names == ["pelvis"]
    ok("case", "add-model", case_dir, "cup", tmp_path / "open.stl", "--allow-open")
    assert sorted(Case.open(case_dir).model_names) == ["cup", "pelvis"]
