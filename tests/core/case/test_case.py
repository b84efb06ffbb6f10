"""Case folder: new/open/save round trip, undo/redo, locks, audit, refusal of bad files."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import pyvista as pv

from surgiplan.core.case.audit import read_audit
from surgiplan.core.case.autosave import (
    discard_autosave,
    find_autosave,
    recover_autosave,
    write_autosave,
)
from surgiplan.core.case.case import Case
from surgiplan.core.errors import CaseFormatError, InputError
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.plan import PlacedImplant


def _tree_bytes(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture()
def case(tmp_path):
    c = Case.new(tmp_path / "Case1", patient_name="Test^Patient", user="dr.test")
    c.add_model("femur", pv.Sphere(radius=20, center=(1, 2, 3)))
    c.set_landmark("femoral_head_centre_left", (10.5, -3.25, 7.0), source="fitted")
    c.new_plan("A", note="first idea")
    c.add_implant("A", PlacedImplant("cup", "hip_cup", "52", tf.translation((1, 2, 3)), side="left"))
    return c


def test_new_save_open_round_trip_exactly(case, tmp_path):
    T = tf.rotation((0.3, -1, 0.2), 37.123456789, (5, 6, 7)) @ tf.translation((0.1, 0.2, 0.3))
    case.set_implant_transform("A", "cup", T)
    case.copy_plan("A", "B")
    case.save()
    again = Case.open(tmp_path / "Case1")
    assert again.to_dict() == case.to_dict()
    np.testing.assert_array_equal(again.plans["A"].implants["cup"].transform, T)  # bit-exact
    assert again.get_model("femur").n_points == case.get_model("femur").n_points
    for sub in ("case.json", "history.jsonl", "models/femur.vtp", "plans/A/plan.json",
                "plans/B/plan.json", "scans", "studies", "reports"):
        assert (tmp_path / "Case1" / sub).exists(), sub


def test_undo_redo_round_trip_exactly(case):
    start = case.to_dict()
    case.set_implant_transform("A", "cup", tf.rotation((0, 0, 1), 20) @ tf.translation((4, 0, 0)))
    case.set_landmark("femoral_head_centre_left", (11, -3, 7))
    case.copy_plan("A", "B")
    case.rename_plan("B", "B2")
    case.lock_plan("B2", note="approved")
    case.annotate_plan("A", "changed")
    case.set_implant_size("A", "cup", "54")
    case.remove_implant("A", "cup")
    case.delete_plan("A")
    end = case.to_dict()
    n = 0
    while case.undo():
        n += 1
    # every command of the fixture after the case was created is undoable, back to an empty case
    assert n == 12
    assert case.to_dict()["plans"] == {}
    for _ in range(3):
        case.redo()
    assert case.to_dict() == start
    while case.redo():
        pass
    assert case.to_dict() == end
    assert list(case.plans) == ["B2"]
    assert case.plans["B2"].locked.by == "dr.test"


def test_locked_plan_refuses_edits_and_names_who(case):
    case.lock_plan("A")
    with pytest.raises(InputError, match="locked .*dr.test"):
        case.set_implant_transform("A", "cup", tf.identity())
    with pytest.raises(InputError, match="locked"):
        case.rename_plan("A", "Z")
    case.copy_plan("A", "A2")  # copying a locked plan is allowed and unlocked
    case.set_implant_transform("A2", "cup", tf.identity())
    case.unlock_plan("A")
    case.set_implant_transform("A", "cup", tf.identity())


def test_bad_names_and_transforms_refused(case):
    with pytest.raises(InputError, match="not allowed"):
        case.new_plan("../evil")
    with pytest.raises(InputError, match="already exists"):
        case.new_plan("a")
    with pytest.raises(Exception, match="not a rigid"):
        case.set_implant_transform("A", "cup", np.diag([2.0, 1, 1, 1]))
    with pytest.raises(InputError, match="no plan 'nope'"):
        case.plan("nope")


def test_audit_log_is_append_only_with_who_and_when(case, tmp_path):
    case.save()
    first = (tmp_path / "Case1" / "history.jsonl").read_bytes()
    case.set_implant_transform("A", "cup", tf.translation((9, 9, 9)))
    case.undo()
    case.save()
    second = (tmp_path / "Case1" / "history.jsonl").read_bytes()
    assert second.startswith(first)
    entries, warnings = read_audit(tmp_path / "Case1" / "history.jsonl")
    assert not warnings
    whats = [e["what"] for e in entries]
    assert whats[0] == "case created"
    assert "move cup in A" in whats and "undo: move cup in A" in whats
    assert all(e["who"] == "dr.test" and e["when"].endswith("Z") for e in entries)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b'{"format": "surgiplan-case", "schema_version": 1, "name": "x"', "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"[1, 2]", "JSON object"),
        (b'{"name": "x"}', "no schema_version"),
        (b'{"format": "surgiplan-case", "schema_version": 99, "name": "x"}', "newer surgiplan"),
        (b'{"format": "other", "schema_version": 1}', "format 'other'"),
        (b'{"format": "surgiplan-case", "schema_version": 1, "name": "x", "plans": '
         b'[{"name": "A", "path": "../../etc/passwd"}]}', "inside the case folder"),
        (b'{"format": "surgiplan-case", "schema_version": 1, "name": "x", "bogus": 1}', "bogus"),
    ],
)
def test_damaged_or_newer_case_json_refused_and_unchanged(case, tmp_path, content, message):
    case.save()
    root = tmp_path / "Case1"
    (root / "case.json").write_bytes(content)
    before = _tree_bytes(root)
    with pytest.raises(CaseFormatError, match=message) as ei:
        Case.open(root)
    assert "case.json" in str(ei.value)
    assert _tree_bytes(root) == before


def test_damaged_plan_json_refused(case, tmp_path):
    case.save()
    root = tmp_path / "Case1"
    p = root / "plans" / "A" / "plan.json"
    d = json.loads(p.read_text())
    d["implants"][0]["transform"][0][0] = 5.0  # not rigid
    p.write_text(json.dumps(d))
    before = _tree_bytes(root)
    with pytest.raises(CaseFormatError, match=r"plan.json .*implants.0.transform.*not rigid"):
        Case.open(root)
    p.write_text(p.read_text()[:40])  # truncated
    with pytest.raises(CaseFormatError, match="not valid JSON"):
        Case.open(root)
    (root / "models" / "femur.vtp").unlink()
    assert _tree_bytes(root) != before  # we changed it, surgiplan did not


def test_missing_folder_and_non_empty_target(tmp_path):
    with pytest.raises(CaseFormatError, match="not found"):
        Case.open(tmp_path / "nope")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        Case.new(tmp_path / "full")


def test_autosave_offered_when_newer_and_recovers(case, tmp_path):
    folder = tmp_path / "autosave"
    case.save()
    assert find_autosave(case.root, folder) is None
    case.set_implant_transform("A", "cup", tf.translation((7, 7, 7)))
    case.new_plan("C")
    snap = write_autosave(case, folder)
    assert folder in snap.parents and case.root not in snap.parents
    t = os.stat(case.root / "case.json").st_mtime
    os.utime(snap, (t + 5, t + 5))
    info = find_autosave(case.root, folder)
    assert info is not None and info.saved_at
    on_disk = _tree_bytes(case.root)
    rec = recover_autosave(case.root, folder, user="dr.test")
    assert rec.to_dict()["plans"] == case.to_dict()["plans"]
    assert rec.dirty and _tree_bytes(case.root) == on_disk
    discard_autosave(case.root, folder)
    assert find_autosave(case.root, folder) is None


def test_crash_recovery_keeps_a_model_added_after_the_last_save(case, tmp_path):
    """Save, add a new model and replace another, snapshot, 'crash' (drop the object), recover."""
    folder = tmp_path / "autosave"
    case.save()
    tibia = pv.Cylinder(center=(0, 0, -40), direction=(0, 0, 1), radius=12, height=60).triangulate()
    case.add_model("tibia", tibia, segment="tibia_seg")
    bigger = pv.Sphere(radius=25, center=(1, 2, 3))
    case.add_model("femur", bigger)  # replaced since the save
    case.set_landmark("knee_centre_tibia", (0.0, 0.0, -10.0), source="manual")
    snap = write_autosave(case, folder)
    t = os.stat(case.root / "case.json").st_mtime
    os.utime(snap, (t + 5, t + 5))
    on_disk = _tree_bytes(case.root)
    del case  # the crash: nothing of the open case survives but the snapshot
    rec = recover_autosave(tmp_path / "Case1", folder, user="dr.test")
    assert _tree_bytes(rec.root) == on_disk  # recovery writes nothing into the case
    assert set(rec.model_names) == {"femur", "tibia"}
    np.testing.assert_allclose(rec.get_model("tibia").points, tibia.points)
    np.testing.assert_allclose(rec.get_model("femur").points, bigger.points)  # the newer femur
    assert rec.landmarks["knee_centre_tibia"].position.tolist() == [0.0, 0.0, -10.0]
    rec.save()
    again = Case.open(rec.root)
    assert set(again.model_names) == {"femur", "tibia"}
    assert again.model.models[[m.name for m in again.model.models].index("tibia")].segment == "tibia_seg"
    np.testing.assert_allclose(again.get_model("tibia").points, tibia.points)
    discard_autosave(rec.root, folder)
    assert not any(folder.rglob("*.vtp")) and find_autosave(rec.root, folder) is None


def test_autosave_with_a_missing_model_file_is_refused_and_changes_nothing(case, tmp_path):
    folder = tmp_path / "autosave"
    case.save()
    case.add_model("tibia", pv.Sphere(radius=5))
    snap = write_autosave(case, folder)
    (snap.parent / f"{snap.stem}.models" / "tibia.vtp").unlink()
    on_disk = _tree_bytes(case.root)
    with pytest.raises(CaseFormatError, match="tibia"):
        recover_autosave(case.root, folder)
    assert _tree_bytes(case.root) == on_disk


def test_save_fills_plan_measurements(case, tmp_path):
    """plan.json carries the plan's measurements (value, unit, definition) as of each save."""
    import json

    from surgiplan.core.planning.measurements import measure_plan

    axis_tilt = tf.rotation((0, 1, 0), 40.0)  # cup axis (local +z) tilted 40 deg in the coronal plane
    case.set_implant_transform("A", "cup", tf.translation((1, 2, 3)) @ axis_tilt)
    case.save()
    data = json.loads((case.root / "plans" / "A" / "plan.json").read_text())
    vals = data["measurements"]["values"]
    expected = {r.key: r.value for r in measure_plan(case, "A")}
    assert vals["cup_inclination"]["unit"] == "deg" and vals["cup_inclination"]["definition"]
    assert vals["cup_inclination"]["value"] == pytest.approx(expected["cup_inclination"])
    assert set(vals) == set(expected)
    case.set_implant_transform("A", "cup", tf.translation((1, 2, 3)) @ tf.rotation((0, 1, 0), 50.0))
    case.save()
    again = json.loads((case.root / "plans" / "A" / "plan.json").read_text())["measurements"]["values"]
    assert again["cup_inclination"]["value"] != pytest.approx(vals["cup_inclination"]["value"])
    assert Case.open(case.root).plans["A"].measurements["values"] == again
    # a locked plan keeps the values it was locked with, though a new pelvic frame (tilted
    # anterior pelvic plane) now changes what measuring it gives
    case.lock_plan("A", note="final")
    for k, p in (("asis_left", (110, -60, 80)), ("asis_right", (-110, -60, 80)),
                 ("pubic_tubercle_left", (20, -40, -40)), ("pubic_tubercle_right", (-20, -40, -40))):
        case.set_landmark(k, p, source="manual")
    now = {r.key: r.value for r in measure_plan(case, "A")}
    assert now["cup_anteversion"] != pytest.approx(again["cup_anteversion"]["value"], abs=1.0)
    case.save()
    locked = json.loads((case.root / "plans" / "A" / "plan.json").read_text())["measurements"]["values"]
    assert locked == again


def _three_cuts(case):
    from surgiplan.core.planning.plan import Resection

    for i, n in enumerate(("distal_femur", "proximal_tibia", "posterior_femur")):
        case.set_resection("A", Resection(n, "femur", np.array([1.0 * i, 2.5, -3.25]),
                                          np.array([0.0, 0.6, 0.8])))


def test_remove_resection_undo_redo_and_save(case, tmp_path):
    """Removing a cut is one undoable step: undo restores it identically and in its place."""
    _three_cuts(case)
    before = case.to_dict()
    order = list(case.plans["A"].resections)
    case.remove_resection("A", "proximal_tibia")
    assert list(case.plans["A"].resections) == ["distal_femur", "posterior_femur"]
    removed = case.to_dict()
    assert case.undo() == "remove resection proximal_tibia from A"
    assert case.to_dict() == before and list(case.plans["A"].resections) == order
    case.redo()
    assert case.to_dict() == removed
    case.save()
    again = Case.open(tmp_path / "Case1")
    assert list(again.plans["A"].resections) == ["distal_femur", "posterior_femur"]
    assert again.to_dict() == case.to_dict()
    assert any(e.get("resection") == "proximal_tibia" and e["what"].startswith("remove resection")
               for e in again.audit_log())


def test_remove_resection_refuses_locked_plan_and_unknown_cut(case):
    _three_cuts(case)
    with pytest.raises(InputError, match="no resection 'nope'.*distal_femur"):
        case.remove_resection("A", "nope")
    case.lock_plan("A")
    before = case.to_dict()
    with pytest.raises(InputError, match="locked"):
        case.remove_resection("A", "distal_femur")
    assert case.to_dict() == before


def test_set_landmark_refuses_unknown_source_up_front(case, tmp_path):
    """A bad source is refused when set, naming the landmark and the allowed values, not at save."""
    before = case.to_dict()
    with pytest.raises(InputError, match=r"'knee_centre'.*'picked'.*manual, fitted, ground_truth, imported"):
        case.set_landmark("knee_centre", (1, 2, 3), source="picked")
    assert case.to_dict() == before
    case.save()  # nothing half-set that would fail the save
    for s in ("manual", "fitted", "ground_truth", "imported"):
        case.set_landmark("knee_centre", (1, 2, 3), source=s)
    case.save()
    assert Case.open(tmp_path / "Case1").landmarks["knee_centre"].source == "imported"
