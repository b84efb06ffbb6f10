"""De-identification against PS3.15 Table E.1-1 (the shared reference copy): checks 1-6 of
../shared/data/reference/README.md on real files from ../shared/data/dicom."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from surgiplan.core.errors import Cancelled, InputError
from surgiplan.core.imaging import load_dicom
from surgiplan.core.imaging.deidentify import DEID_OPTIONS, deidentify, table_path
from surgiplan.core.jobs import RecordingProgress
from tests.conftest import require_shared

CORPUS = ("ct_study_mixed_flat", "dicomdir_study", "ct_enhanced_multiframe", "float_parametric_map")


def _reference_table() -> dict[str, dict]:
    path = require_shared("reference", "ps3.15_confidentiality_profile_attributes.json")
    return {row["tag"]: row for row in json.loads(path.read_text())["attributes"]}


def _row(table: dict, tag: int) -> dict | None:
    """Look a tag up in the shared table the README's way (XX wildcards, GGGG = odd group)."""
    if (tag >> 16) & 1:
        return table["(GGGG,EEEE) WHERE GGGG IS ODD"]
    key = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    if key in table:
        return table[key]
    for k, row in table.items():
        if "X" in k[1:10] and all(
            a == "X" or a == b for a, b in zip(k[1:10], key[1:10], strict=True)
        ):
            return row
    return None


def _walk(ds, depth=0):
    for elem in ds:
        yield elem, depth
        if elem.VR == "SQ":
            for item in elem.value:
                yield from _walk(item, depth + 1)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def corpus(dicom_data, tmp_path_factory):
    """The corpus folders and their de-identified copies (no options), made once."""
    out = {}
    before = {name: _digest(dicom_data / name) for name in CORPUS}
    root = tmp_path_factory.mktemp("deid")
    for name in CORPUS:
        out[name] = deidentify(dicom_data / name, root / name)
    after = {name: _digest(dicom_data / name) for name in CORPUS}
    return dicom_data, out, before, after


def _pairs(result):
    for src, dst in result.files.items():
        yield pydicom.dcmread(src), pydicom.dcmread(dst)


def test_shipped_table_is_the_shared_reference():
    shared = require_shared("reference", "ps3.15_confidentiality_profile_attributes.json")
    assert table_path().read_bytes() == shared.read_bytes()


def test_1_no_x_attribute_and_no_private_left(corpus):
    _, results, _, _ = corpus
    table = _reference_table()
    n = 0
    for res in results.values():
        for _, out in _pairs(res):
            for elem, _ in _walk(out):
                tag = int(elem.tag)
                assert not (tag >> 16) & 1, f"private {elem.tag} left"
                row = _row(table, tag)
                assert row is None or row["basic_profile"] != "X", (
                    f"{elem.tag} {elem.keyword} must be removed"
                )
            n += 1
    assert n > 40


def test_2_z_d_and_compound_actions(corpus):
    _, results, _, _ = corpus
    table = _reference_table()
    checked = {"Z": 0, "D": 0, "compound": 0}
    for res in results.values():
        for src, out in _pairs(res):
            for elem in src:
                row = _row(table, int(elem.tag))
                if row is None or elem.VR == "SQ":
                    continue
                act = row["basic_profile"]
                new = out.get(elem.tag)
                if act == "Z":
                    assert new is not None and (new.is_empty or new.value != elem.value), (
                        elem.keyword
                    )
                    checked["Z"] += 1
                elif act == "D":
                    assert new is not None and not new.is_empty and new.value != elem.value, (
                        elem.keyword
                    )
                    checked["D"] += 1
                elif act in ("X/Z", "X/D", "X/Z/D", "Z/D"):
                    assert (
                        new is None or new.is_empty or new.value != elem.value or elem.is_empty
                    ), elem.keyword
                    if act == "Z/D":
                        assert new is not None, f"{elem.keyword} is Type 1/2: must stay present"
                    checked["compound"] += 1
    assert checked["Z"] > 50 and checked["compound"] > 20, checked


def test_3_uids_remapped_one_to_one_and_references_follow(corpus):
    _, results, _, _ = corpus
    table = _reference_table()
    sop_map: dict[str, str] = {}
    for res in results.values():
        mapping: dict[str, str] = {}  # consistent within one run (one study set)
        for src, out in _pairs(res):
            assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
            sop_map[src.SOPInstanceUID] = out.SOPInstanceUID
            for elem in src:
                row = _row(table, int(elem.tag))
                if row is None or row["basic_profile"] != "U" or not elem.value:
                    continue
                new = out[elem.tag].value
                assert pydicom.uid.UID(new).is_valid and new != elem.value
                assert mapping.setdefault(elem.value, new) == new, "one input UID got two new UIDs"
        assert len(set(mapping.values())) == len(mapping)  # one-to-one
    # same study -> same new study UID across the flat study's files
    res = results["ct_study_mixed_flat"]
    studies = {
        pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID for p in res.files.values()
    }
    assert len(studies) == 1
    # Referenced Image Sequence of the axial CT points at the new UID of the localizer
    refs = 0
    for src, out in _pairs(res):
        for s_item, o_item in zip(
            src.get("ReferencedImageSequence", []),
            out.get("ReferencedImageSequence", []),
            strict=True,
        ):
            old = s_item.ReferencedSOPInstanceUID
            if old in sop_map:
                assert o_item.ReferencedSOPInstanceUID == sop_map[old]
                refs += 1
    assert refs > 0


@pytest.mark.parametrize("name", CORPUS)
def test_4_marks_and_5_pixels_geometry_and_input_unchanged(corpus, name):
    data, results, before, after = corpus
    res = results[name]
    for _, out in _pairs(res):
        assert out.PatientIdentityRemoved == "YES"
        assert out.DeidentificationMethod
        codes = [
            (i.CodeValue, i.CodingSchemeDesignator) for i in out.DeidentificationMethodCodeSequence
        ]
        assert codes == [("113100", "DCM")]
    assert before[name] == after[name], "the input was modified"
    series = {"dicomdir_study": "5", "ct_study_mixed_flat": "201"}.get(name)
    a = load_dicom(data / name, series=series)
    b = load_dicom(res.out_dir, series=series)
    assert np.array_equal(a.array, b.array) and a.array.dtype == b.array.dtype
    assert a.same_grid(b, 1e-6) and np.allclose(a.direction, b.direction)


def test_6_options_keep_or_clean_their_attributes(dicom_data, tmp_path):
    table = _reference_table()
    src_dir = dicom_data / "ct_axial_plain_philips"
    full = deidentify(
        src_dir,
        tmp_path / "full",
        options=("retain_longitudinal_full_dates", "retain_device_identity"),
    )
    shifted = deidentify(
        src_dir, tmp_path / "shifted", options=("retain_longitudinal_modified_dates",)
    )
    kept = cleaned = 0
    for (src, out_full), (_, out_shift) in zip(_pairs(full), _pairs(shifted), strict=True):
        codes = [i.CodeValue for i in out_full.DeidentificationMethodCodeSequence]
        assert codes == [
            "113100",
            DEID_OPTIONS["retain_longitudinal_full_dates"][0],
            DEID_OPTIONS["retain_device_identity"][0],
        ]
        for elem in src:
            row = _row(table, int(elem.tag))
            if row is None or elem.VR == "SQ" or elem.is_empty:
                continue
            if row["retain_longitudinal_full_dates"] == "K" or row["retain_device_identity"] == "K":
                assert out_full[elem.tag].value == elem.value, elem.keyword
                kept += 1
            if row["retain_longitudinal_modified_dates"] == "C" and elem.VR in ("DA", "DT"):
                new = out_shift.get(elem.tag)
                assert new is not None and not new.is_empty and new.value != elem.value, (
                    elem.keyword
                )
                cleaned += 1
    assert kept > 28 and cleaned > 28


def test_refuses_bad_requests_and_writes_nothing(dicom_data, tmp_path):
    src = dicom_data / "bad_input"
    with pytest.raises(InputError, match="empty_folder"):
        deidentify(src / "empty_folder", tmp_path / "a")
    assert not (tmp_path / "a").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        deidentify(dicom_data / "ct_enhanced_multiframe", tmp_path / "full")
    with pytest.raises(InputError, match="unknown de-identification option"):
        deidentify(
            dicom_data / "ct_enhanced_multiframe", tmp_path / "b", options=("keep_everything",)
        )
    res = deidentify(src / "series_with_junk_files", tmp_path / "junk")
    assert res.n_written == 5 and {s.path.name for s in res.skipped} >= {
        "zz_notes.dcm",
        "zz_empty.dcm",
    }


def test_cancel_leaves_no_output(dicom_data, tmp_path):
    with pytest.raises(Cancelled):
        deidentify(
            dicom_data / "ct_axial_plain_philips",
            tmp_path / "c",
            progress=RecordingProgress(cancel_after=2),
        )
    assert not (tmp_path / "c").exists()
    assert not list(tmp_path.glob(".c.tmp*"))
