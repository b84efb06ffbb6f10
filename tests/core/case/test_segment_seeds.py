"""Segmentation seeds kept with the case (scans/<scan>/segmentation.seeds.json, LPS mm):
save -> reopen gives the same points, usable to separate two touching balls as the
analytic ground truth says; bad input and damaged files are refused naming them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from surgiplan.core.case.case import Case
from surgiplan.core.case.seeds import SEEDS_FILE
from surgiplan.core.errors import CaseFormatError, InputError
from surgiplan.core.imaging.volume import Volume

SPACING = (1.0, 1.0, 2.0)
ORIGIN = (-20.0, 10.0, 100.0)
DIRECTION = np.diag([-1.0, 1.0, 1.0])  # i runs to the right: a non-identity grid


def _volume() -> Volume:
    return Volume(np.zeros((20, 40, 60), np.int16), SPACING, ORIGIN, DIRECTION.copy())


def _balls(vol: Volume):
    """Two balls of radius 9 mm whose surfaces overlap by 2 mm (a thin contact), their centres (LPS)."""
    k, j, i = np.indices(vol.array.shape)
    lps = vol.index_to_world(np.c_[i.ravel(), j.ravel(), k.ravel()].astype(float)).reshape(*i.shape, 3)
    c1, c2 = np.array([-28.0, 30.0, 120.0]), np.array([-44.0, 30.0, 120.0])
    b1 = np.linalg.norm(lps - c1, axis=-1) <= 9.0
    b2 = np.linalg.norm(lps - c2, axis=-1) <= 9.0
    return b1, b2, c1, c2


@pytest.fixture()
def case(tmp_path):
    c = Case.new(tmp_path / "SeedCase", user="dr.test")
    c.add_scan("planning", _volume())
    c.save()
    return c


def test_seeds_save_reopen_exactly_and_separate_the_balls(case, tmp_path):
    from surgiplan.core.segmentation.grow import seeds_from_world, separate_touching

    vol = _volume()
    b1, b2, c1, c2 = _balls(vol)
    seeds = {"ball_one": [c1, c1 + [0.123456789, -1.5, 2.0]], "ball_two": [c2]}
    case.set_segment_seeds(seeds, "planning")
    assert case.dirty
    case.save()
    path = tmp_path / "SeedCase" / "scans" / "planning" / SEEDS_FILE
    data = json.loads(path.read_text())
    assert data["frame"] == "LPS" and data["unit"] == "mm" and data["scan"] == "planning"
    assert data["seeds"]["ball_two"] == [c2.tolist()]

    again = Case.open(tmp_path / "SeedCase")
    got = again.segment_seeds()  # the planning scan by default
    assert list(got) == ["ball_one", "ball_two"]
    np.testing.assert_array_equal(got["ball_one"], np.array(seeds["ball_one"]))  # bit-exact
    np.testing.assert_array_equal(got["ball_two"], np.array([c2]))
    # usable: the reopened seeds separate the touching balls as the geometry says
    assert (b1 & b2).any() and not again.dirty
    parts = separate_touching(b1 | b2, {n: seeds_from_world(vol, p) for n, p in got.items()}, vol.spacing)
    only1, only2 = b1 & ~b2, b2 & ~b1
    assert np.array_equal(parts["ball_one"] & only1, only1) and not (parts["ball_one"] & only2).any()
    assert np.array_equal(parts["ball_two"] & only2, only2) and not (parts["ball_two"] & only1).any()
    assert any(e["what"] == "set segmentation seeds of planning" for e in again.audit_log())

    # clearing the seeds removes the file at the next save
    again.set_segment_seeds({}, "planning")
    again.save()
    assert not path.exists() and Case.open(tmp_path / "SeedCase").segment_seeds("planning") == {}


def test_seeds_set_before_the_scan_is_added_are_written_with_it(tmp_path):
    """The window's flow: seeds clicked in a new case, the scan written at the first save."""
    c = Case.new(tmp_path / "New")
    c.set_segment_seeds({"femur_right": [[1.0, 2.0, 3.0]]}, "planning")
    c.save()
    assert not (tmp_path / "New" / "scans" / "planning").exists()
    c.add_scan("planning", _volume())
    c.save()
    got = Case.open(tmp_path / "New").segment_seeds("planning")
    np.testing.assert_array_equal(got["femur_right"], [[1.0, 2.0, 3.0]])


@pytest.mark.parametrize("seeds, message", [
    ({"femur": [[1.0, 2.0]]}, "'femur'.*n x 3"),
    ({"femur": [[1.0, np.nan, 2.0]]}, "'femur'.*finite"),
    ({"": [[1.0, 2.0, 3.0]]}, "target name"),
])
def test_bad_seeds_refused_and_previous_kept(case, seeds, message):
    case.set_segment_seeds({"pelvis": [[0.0, 0.0, 0.0]]}, "planning")
    with pytest.raises(InputError, match=message):
        case.set_segment_seeds(seeds, "planning")
    assert list(case.segment_seeds("planning")) == ["pelvis"]
    with pytest.raises(InputError, match="scan name"):
        case.set_segment_seeds({"pelvis": [[0.0, 0.0, 0.0]]}, "../evil")


@pytest.mark.parametrize("content, message", [
    ("", "empty"),
    ('{"format": "surgiplan-seeds", "schema_version": 1, "seeds": {"a": [[1, 2', "not valid JSON"),
    ('{"format": "surgiplan-seeds", "schema_version": 7, "seeds": {}}', "newer surgiplan"),
    ('{"format": "surgiplan-case", "schema_version": 1}', "format"),
    ('{"format": "surgiplan-seeds", "schema_version": 1, "seeds": {"a": [[1, 2, NaN]]}}', "finite"),
    ('{"format": "surgiplan-seeds", "schema_version": 1, "seeds": {"a": [[1, 2]]}}', "seeds.a"),
    ('{"format": "surgiplan-seeds", "schema_version": 1, "frame": "RAS", "seeds": {}}', "frame"),
    ('{"format": "surgiplan-seeds", "schema_version": 1, "seeds": {}, "evil": 1}', "evil"),
    ('[1, 2, 3]', "JSON object"),
])
def test_damaged_seeds_file_refused_naming_it_and_unchanged(case, tmp_path, content, message):
    path = tmp_path / "SeedCase" / "scans" / "planning" / SEEDS_FILE
    path.write_text(content)
    again = Case.open(tmp_path / "SeedCase")  # opening the case does not depend on the seeds
    with pytest.raises(CaseFormatError, match=message) as err:
        again.segment_seeds("planning")
    assert SEEDS_FILE in str(err.value)
    again.save()  # saving without touching the seeds leaves the file as it was
    assert path.read_text() == content
