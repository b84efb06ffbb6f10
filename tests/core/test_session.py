"""The session model (core/session.py): what is open, typed events, no Qt, nothing on disk
until the user saves."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from surgiplan.core import session as S
from surgiplan.core.case import Case
from surgiplan.core.imaging import Volume, read_volume
from surgiplan.core.segmentation import Segmentation
from surgiplan.core.session import Session


def _volume() -> Volume:
    arr = np.full((12, 16, 16), -1000, np.int16)
    arr[3:9, 4:12, 4:12] = 700
    return Volume(arr, (1.0, 1.0, 2.0), (-8.0, -8.0, -12.0), metadata={"modality": "CT",
                                                                       "patient_id": "P 01/x"})


def test_events_follow_the_edits(tmp_path):
    s = Session()
    seen: list[tuple[str, dict]] = []
    s.subscribe(lambda e: seen.append((e.kind, e.detail)))
    plans_only = []
    s.subscribe(lambda e: plans_only.append(e.kind), kind=S.PLANS)
    case = Case.new(tmp_path / "C", "C")
    case.new_plan("A")
    s.set_case(case)
    assert [k for k, _ in seen] == [S.CASE, S.PLANS, S.CURRENT_PLAN, S.DIRTY]
    assert s.current_plan == "A" and seen[2][1] == {"plan": "A"} and s.dirty
    seen.clear()
    case.new_plan("B")  # an edit through the case's undo stack
    assert [k for k, _ in seen] == [S.PLANS, S.DIRTY]
    seen.clear()
    s.current_plan = "B"
    s.current_plan = "B"  # no change, no event
    s.select(implant="cup")
    assert seen == [(S.CURRENT_PLAN, {"plan": "B"}), (S.SELECTION, {"implant": "cup"})]
    assert s.selection == {"implant": "cup"}
    s.set_case(None)
    assert s.current_plan is None and s.selection == {} and plans_only.count(S.PLANS) == 3
    seen.clear()
    case.new_plan("C")  # a closed case no longer reaches the session
    assert seen == []


def test_editing_needs_no_folder_until_save(tmp_path):
    cases = tmp_path / "cases"
    s = Session()
    vol = _volume()
    s.set_volume(vol)
    seg = Segmentation.from_volume(vol)
    s.set_segmentation(seg)
    case = s.ensure_case(cases)
    case.new_plan("A")
    assert not cases.exists() and s.dirty
    assert case.root.name.startswith("P_01_x-")
    root = s.save()
    assert root == case.root and (root / "case.json").is_file() and not s.dirty
    again = Case.open(root)
    assert list(again.plans) == ["A"] and [sc.name for sc in again.model.scans] == ["planning"]
    np.testing.assert_array_equal(read_volume(root / again.model.scans[0].volume).array, vol.array)
    assert again.segmentation().layers[0].shape == vol.array.shape
    # the live segmentation has one owner: the case saves it after an edit
    assert case.segmentation() is seg


def test_the_session_runs_without_qt(tmp_path):
    code = ("import sys; from surgiplan.core.session import Session; s = Session(); "
            "s.ensure_case(sys.argv[1]); assert 'PySide6' not in sys.modules; print('ok')")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
