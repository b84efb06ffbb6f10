"""Autosave of a case that was never saved holds its scan and segmentation (issue 28 bug 7):
the volume is written once beside the snapshot, the segmentation when it changed, never in
the case folder; recovery gives back scan, segmentation and plans, unsaved. Save As writes
the whole case to a new folder and leaves the old one untouched."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.case.autosave import (
    autosave_path,
    discard_autosave,
    list_autosaves,
    recover_unsaved,
)
from surgiplan.core.case.case import Case
from surgiplan.core.errors import InputError
from surgiplan.core.imaging import Volume, read_volume
from surgiplan.core.segmentation import Segmentation
from surgiplan.core.session import Session
from tests.core.case.case_faults import tree_digest


def _volume() -> Volume:
    arr = np.full((12, 16, 16), -1000, np.int16)
    arr[3:9, 4:12, 4:12] = 700
    arr[5, 6, 7] = 1234
    return Volume(arr, (1.0, 1.0, 2.0), (-8.0, -8.0, -12.0), metadata={"modality": "CT",
                                                                       "patient_id": "P1"})


def _edited_session(cases):
    s = Session()
    vol = _volume()
    s.set_volume(vol)
    seg = Segmentation.from_volume(vol)
    mask = np.zeros(vol.array.shape, bool)
    mask[3:9, 4:12, 4:12] = True
    seg.add_segment("bone", mask)
    s.set_segmentation(seg)
    case = s.ensure_case(cases)
    case.new_plan("A")
    case.set_landmark("tip", [1.0, 2.0, 3.0])
    return s


def _same_seg(a: Segmentation, b: Segmentation) -> None:
    assert a.names == b.names
    for name in a.names:
        np.testing.assert_array_equal(a.mask(name), b.mask(name))


def test_a_never_saved_case_comes_back_with_its_scan_and_segmentation(tmp_path):
    cases, folder = tmp_path / "cases", tmp_path / "autosave"
    s = _edited_session(cases)
    root = s.case.root
    snap = s.autosave(folder)
    assert snap == autosave_path(root, folder) and not cases.exists()  # nothing in the case folder
    vol_file = snap.with_name(snap.stem + ".scans") / "planning.nrrd"
    seg_file = snap.with_name(snap.stem + ".scans") / "planning.seg.nrrd"
    assert vol_file.is_file() and seg_file.is_file()
    # the next snapshot writes neither the volume nor the unchanged segmentation again
    v_ns, s_ns = vol_file.stat().st_mtime_ns, seg_file.stat().st_mtime_ns
    s.case.new_plan("B")
    s.autosave(folder)
    assert (vol_file.stat().st_mtime_ns, seg_file.stat().st_mtime_ns) == (v_ns, s_ns)
    # a segmentation edit is written at the next snapshot
    s.segmentation.layers[0][0, 0, 0] = s.segmentation.segment("bone").label
    s.autosave(folder)
    assert vol_file.stat().st_mtime_ns == v_ns and seg_file.stat().st_mtime_ns != s_ns
    expected_seg = s.segmentation.copy()
    del s  # the kill

    found = list_autosaves(folder)
    assert [i.case_root for i in found] == [root]
    rec = recover_unsaved(root, folder)
    assert rec.case.dirty and list(rec.case.plans) == ["A", "B"] and "tip" in rec.case.landmarks
    (vol, seg), = rec.scans.values()
    np.testing.assert_array_equal(vol.array, _volume().array)
    _same_seg(seg, expected_seg)
    assert not cases.exists()

    # back in a session, the first save writes the whole case
    s2 = Session()
    s2.set_volume(vol, "planning", saved=False)
    s2.set_segmentation(seg)
    s2.set_case(rec.case)
    saved = s2.save()
    discard_autosave(saved, folder)
    again = Case.open(saved)
    np.testing.assert_array_equal(read_volume(saved / again.model.scans[0].volume).array, vol.array)
    _same_seg(again.segmentation(), expected_seg)
    assert list(again.plans) == ["A", "B"] and list_autosaves(folder) == []


def test_save_as_writes_the_whole_case_elsewhere_and_keeps_the_original(tmp_path):
    s = _edited_session(tmp_path / "cases")
    old = s.save()
    before = tree_digest(old)
    s.case.new_plan("B")  # an unsaved edit goes into the copy
    new = s.save_as(tmp_path / "elsewhere" / "Copy")
    assert s.case.root == new and not s.dirty and s.case.model.name == "Copy"
    assert tree_digest(old) == before  # untouched
    c = Case.open(new)
    assert list(c.plans) == ["A", "B"] and "tip" in c.landmarks
    np.testing.assert_array_equal(read_volume(new / c.model.scans[0].volume).array, _volume().array)
    _same_seg(c.segmentation(), s.segmentation)
    assert any(e.get("what") == "saved as" and e.get("source") == str(old) for e in c.audit_log())
    # refusals: a folder with files, a folder inside the case
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x.txt").write_text("x")
    for bad in (busy, new / "inner"):
        with pytest.raises(InputError):
            s.save_as(bad)
    assert s.case.root == new and not (new / "inner").exists()


def test_save_as_of_a_never_saved_case(tmp_path):
    s = _edited_session(tmp_path / "cases")
    new = s.save_as(tmp_path / "Mine")
    assert not (tmp_path / "cases").exists()
    c = Case.open(new)
    np.testing.assert_array_equal(read_volume(new / c.model.scans[0].volume).array, _volume().array)
    assert c.segmentation().names == ["bone"] and list(c.plans) == ["A"]


def test_a_process_killed_before_the_first_save_leaves_a_recoverable_case(tmp_path):
    """A child process edits a new scan, autosaves and dies by SIGKILL: the case comes back."""
    import os
    import signal
    import subprocess
    import sys

    cases, folder = tmp_path / "cases", tmp_path / "autosave"
    code = ("import os, signal, sys\n"
            "from pathlib import Path\n"
            "from tests.core.case.test_autosave_scan import _edited_session\n"
            "s = _edited_session(Path(sys.argv[1]))\n"
            "s.autosave(Path(sys.argv[2]))\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    r = subprocess.run([sys.executable, "-c", code, str(cases), str(folder)], capture_output=True,
                       text=True, timeout=180, cwd=os.getcwd())
    assert r.returncode == -signal.SIGKILL, r.stderr
    (info,) = list_autosaves(folder)
    rec = recover_unsaved(info.case_root, folder)
    (vol, seg), = rec.scans.values()
    np.testing.assert_array_equal(vol.array, _volume().array)
    assert seg.names == ["bone"] and int(seg.mask("bone").sum()) == 6 * 8 * 8
    assert list(rec.case.plans) == ["A"] and not cases.exists()
