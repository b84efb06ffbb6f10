"""Autosave carries the segmentation seeds changed since the last save (Case.set_segment_seeds):
recovery in a fresh Case object gives exactly the same LPS points, unsaved until the user saves;
seeds cleared since the save stay cleared; a damaged snapshot is refused naming it, nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from surgiplan.core.case.autosave import autosave_path, recover_autosave, write_autosave
from surgiplan.core.case.case import Case
from surgiplan.core.case.seeds import SEEDS_FILE
from surgiplan.core.errors import CaseFormatError
from surgiplan.core.imaging.volume import Volume

SEEDS = {"femur_right": np.array([[-80.123456789012, 12.5, 301.0], [-81.0, 13.0, 299.75]]),
         "pelvis": np.array([[1e-7, -33.3, 350.0]])}


@pytest.fixture()
def case(tmp_path):
    c = Case.new(tmp_path / "SeedCase", user="dr.test")
    c.add_scan("planning", Volume(np.zeros((4, 5, 6), np.int16), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), np.eye(3)))
    c.save()
    return c


def _same(a: dict, b: dict) -> bool:
    return list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a)


def test_unsaved_seeds_survive_a_crash(case, tmp_path):
    folder = tmp_path / "autosave"
    sidecar = case.root / "scans" / "planning" / SEEDS_FILE
    case.set_segment_seeds(SEEDS, "planning")
    snap = write_autosave(case, folder)
    assert not sidecar.exists()  # not saved: only the snapshot has them
    del case  # the crash

    rec = recover_autosave(tmp_path / "SeedCase", folder)
    assert _same(rec.segment_seeds("planning"), SEEDS)  # exact floats
    assert rec.dirty and not sidecar.exists()  # recovered, not saved
    rec.save()
    assert _same(Case.open(tmp_path / "SeedCase").segment_seeds(), SEEDS)
    assert json.loads(snap.read_text())["unsaved_seeds"]["planning"]["pelvis"] == SEEDS["pelvis"].tolist()


def test_seeds_cleared_since_the_save_stay_cleared_and_saved_ones_stay(case, tmp_path):
    folder = tmp_path / "autosave"
    case.set_segment_seeds(SEEDS, "planning")
    case.save()
    write_autosave(case, folder)  # nothing unsaved: the seeds file on disk is the truth
    assert json.loads(autosave_path(case.root, folder).read_text())["unsaved_seeds"] == {}
    assert _same(recover_autosave(case.root, folder).segment_seeds(), SEEDS)

    case.set_segment_seeds({}, "planning")
    write_autosave(case, folder)
    rec = recover_autosave(case.root, folder)
    assert rec.segment_seeds() == {}
    rec.save()
    assert not (case.root / "scans" / "planning" / SEEDS_FILE).exists()


@pytest.mark.parametrize("bad", [
    {"planning": {"femur_right": [[1.0, 2.0]]}},  # not 3D points
    {"planning": {"femur_right": [[1.0, float("nan"), 3.0]]}},  # not finite
    {"planning": {"": [[1.0, 2.0, 3.0]]}},  # no target name
    {"planning": ["not", "a", "dict"]},
    ["hostile"],
])
def test_damaged_seeds_in_a_snapshot_are_refused_naming_it(case, tmp_path, bad):
    folder = tmp_path / "autosave"
    case.set_segment_seeds(SEEDS, "planning")
    case.save()
    path = write_autosave(case, folder)
    snap = json.loads(path.read_text())
    snap["unsaved_seeds"] = bad
    path.write_text(json.dumps(snap))
    before = {p: p.read_bytes() for p in sorted(case.root.rglob("*")) if p.is_file()}
    with pytest.raises(CaseFormatError) as err:
        recover_autosave(case.root, folder)
    assert str(path) in str(err.value) or path.name in str(err.value)
    assert {p: p.read_bytes() for p in sorted(case.root.rglob("*")) if p.is_file()} == before
