"""Every entry of the shared DICOM corpus against dcm2niix's reference volumes.

How each entry is compared is written in ../shared/data/dicom/README.md
("What a test should check"); this test does exactly that:

* identical_grid: same size, all 8 corner voxel centres within 0.05 mm (after
  matching axis order/flips: dcm2niix flips rows), then identical voxel values;
* pixels_only: in-plane corners of the slice within 0.05 mm and identical values
  (lossy: the manifest tolerance);
* resampled: the finer volume sampled (linear) at the coarser one's voxel centres,
  Pearson r >= 0.99 over the overlap, which covers >= half of the coarser grid;
* expect error: load_dicom raises InputError naming the file;
* expect load (junk files): loads like the reference and names every skipped file.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from surgiplan.core.errors import InputError
from surgiplan.core.imaging import Volume, discover, load_dicom, read_volume
from tests.conftest import shared_data_root
from tests.core.imaging._volcompare import reorient_like

MANIFEST = shared_data_root() / "dicom" / "manifest.json"
ENTRIES = json.loads(MANIFEST.read_text())["entries"] if MANIFEST.exists() else []
CORNER_TOL_MM = 0.05


def sample_at(fine: Volume, coarse: Volume) -> tuple[np.ndarray, np.ndarray]:
    """Values of ``fine`` (linear) at ``coarse``'s voxel centres, and the inside mask."""
    ni, nj, nk = coarse.shape_ijk
    jj, ii = np.meshgrid(np.arange(nj), np.arange(ni), indexing="ij")
    vals = np.zeros(coarse.array.shape, dtype=np.float64)
    inside = np.zeros(coarse.array.shape, dtype=bool)
    src = fine.array.astype(np.float32)
    fi, fj, fk = fine.shape_ijk
    for k in range(nk):
        pts = np.stack([ii.ravel(), jj.ravel(), np.full(ii.size, k)], axis=1)
        idx = fine.world_to_index(coarse.index_to_world(pts))
        ok = (
            (idx[:, 0] >= -1e-3)
            & (idx[:, 0] <= fi - 1 + 1e-3)
            & (idx[:, 1] >= -1e-3)
            & (idx[:, 1] <= fj - 1 + 1e-3)
            & (idx[:, 2] >= -1e-3)
            & (idx[:, 2] <= fk - 1 + 1e-3)
        )
        v = ndimage.map_coordinates(src, [idx[:, 2], idx[:, 1], idx[:, 0]], order=1, mode="nearest")
        vals[k] = v.reshape(nj, ni)
        inside[k] = ok.reshape(nj, ni)
    return vals, inside


def resampled_r(ours: Volume, ref: Volume) -> tuple[float, float]:
    """(Pearson r over the overlap, overlap fraction of the coarser grid)."""
    if np.prod(ours.spacing) >= np.prod(ref.spacing):
        coarse, fine = ours, ref
    else:
        coarse, fine = ref, ours
    vals, inside = sample_at(fine, coarse)
    a = coarse.array.astype(np.float64)[inside]
    b = vals[inside]
    return float(np.corrcoef(a, b)[0, 1]), float(inside.mean())


def _entry_id(e: dict) -> str:
    return e["id"]


@pytest.mark.parametrize("entry", ENTRIES, ids=[_entry_id(e) for e in ENTRIES])
def test_manifest_entry_matches_dcm2niix(entry, dicom_data):
    path = dicom_data / entry["path"]
    if entry.get("expect") == "error":
        with pytest.raises(InputError) as err:
            load_dicom(path)
        assert entry["must_name"] in str(err.value)
        return
    series = entry["series_uid"] if entry.get("n_series_in_path", 1) > 1 else None
    ours = load_dicom(path, series=series)
    ref = read_volume(dicom_data / entry["reference"])
    assert ours.metadata["series_uid"] == entry["series_uid"]
    assert ours.metadata["modality"] == entry["modality"]
    if entry.get("expect") == "load":
        skipped_text = "\n".join(ours.warnings)
        for name in entry["skipped_files"]:
            assert name in skipped_text, f"{name} not reported as skipped"
    mode = entry["compare"]
    if mode == "resampled":
        assert not ours.same_grid(ref, 0.05) or "gantry_tilt" not in entry["traps"]
        r, overlap = resampled_r(ours, ref)
        print(f"{entry['id']}: r = {r:.4f}, overlap {overlap:.2f}")
        assert overlap >= 0.5
        assert r >= 0.99
        if "gantry_tilt" in entry["traps"]:
            assert any("gantry tilt" in w for w in ours.warnings)
        if "variable_spacing" in entry["traps"]:
            assert any("uneven slice spacing" in w for w in ours.warnings)
        return
    assert (
        ours.array.shape[1:] == ref.array.shape[1:]
        or ours.array.shape[1:] == ref.array.shape[1:][::-1]
    )
    aligned = reorient_like(ours, ref)
    if mode == "pixels_only":
        assert (
            aligned.shape_ijk[:2] == ref.shape_ijk[:2]
            and aligned.shape_ijk[2] == ref.shape_ijk[2] == 1
        )
        c_ours, c_ref = aligned.world_corners()[:4], ref.world_corners()[:4]
    else:
        assert aligned.shape_ijk == ref.shape_ijk
        c_ours, c_ref = aligned.world_corners(), ref.world_corners()
    assert np.max(np.abs(c_ours - c_ref)) <= CORNER_TOL_MM, f"corners differ:\n{c_ours}\n{c_ref}"
    a = aligned.array.astype(np.float64)
    b = ref.array.astype(np.float64)
    if entry.get("lossless", True) and "tolerance" not in entry:
        assert np.array_equal(a, b), f"max abs difference {np.max(np.abs(a - b))}"
    else:
        tol = entry["tolerance"]
        assert np.max(np.abs(a - b)) <= tol["max_abs"]
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] >= tol["min_pearson_r"]
        assert not np.array_equal(a, b)  # it is lossy: decoding must not be a no-op copy


def test_raw_tilted_stack_would_fail_the_comparison(dicom_data):
    """The comparison can fail: dcm2niix's uncorrected stack scores well below 0.99."""
    entry = next(e for e in ENTRIES if e["id"] == "ct_gantry_tilt_philips")
    ours = load_dicom(dicom_data / entry["path"])
    raw = read_volume(dicom_data / entry["reference_raw"])
    # the raw stack read as if orthogonal (ITK drops the shear): a wrong geometry
    r, _ = resampled_r(ours, raw)
    assert r < 0.95


def test_transfer_syntaxes_decode_to_explicit_le(dicom_data):
    folder = dicom_data / "mr_slice_transfer_syntaxes"
    base = load_dicom(folder / "explicit_le").array
    seen = 0
    for entry in (e for e in ENTRIES if e["path"].startswith("mr_slice_transfer_syntaxes/")):
        v = load_dicom(dicom_data / entry["path"])
        assert v.array.dtype == base.dtype == np.int16  # signed 16-bit stays signed
        if entry["lossless"]:
            assert np.array_equal(v.array, base), entry["id"]
        else:
            diff = np.abs(v.array.astype(int) - base.astype(int))
            assert 0 < diff.max() <= entry["tolerance"]["max_abs"]
        seen += 1
    assert seen == 11


def test_mixed_folder_lists_series_separately(dicom_data):
    disc = discover(dicom_data / "ct_study_mixed_flat")
    uids = {s.series_uid for s in disc.series}
    assert len(uids) == 3
    kinds = {s.series_number: s.kind for s in disc.series}
    assert (
        kinds[100] == "localizer" and kinds[201] == "volume" and kinds[401] == "secondary_capture"
    )
    assert disc.find().series_number == 201  # default pick: the image stack, not the localizer


def test_dicomdir_file_opens_its_media_folder(dicom_data):
    disc = discover(dicom_data / "dicomdir_study" / "DICOMDIR")
    assert disc.root == dicom_data / "dicomdir_study"
    assert {s.series_number for s in disc.series if s.kind == "volume"} == {2, 5}
    assert {s.modality for s in disc.series} == {"CR", "CT", "MR"}
