"""Gantry tilt of either sign lands on the grid dcm2niix's rules give, at the DICOM positions.

Geometry: under gantry tilt the slice planes (ImageOrientationPatient) are tilted but
the table moves along the scanner axis, so each slice's ImagePositionPatient is offset
in-plane by (distance along the normal) x tan(tilt). The correction shifts every slice
back by its offset (linear interpolation) onto an orthogonal grid enlarged by
ceil(|offset of the last slice|) rows; when the offsets run towards negative rows the
padding goes before row 0 and the origin moves by that many rows (dcm2niix's
``nii_saveNII3Dtilt`` and ``adjustOriginForNegativeTilt``). The sign of
GantryDetectorTilt is vendor-specific (the shared Philips series says -18.5 deg, the GE
one +18.5 deg, and their positions run the same way), so only the positions are used.

Three checks, for both directions of the offsets:

* the shared negative-tilt series (Philips, -18.5 deg) against dcm2niix's tilt-corrected
  reference: same size, all 8 corner voxel centres within 0.05 mm, values correlated;
* its mirror image (world z -> -z: positions, orientation and GantryDetectorTilt, i.e.
  +18.5 deg with the table along z, the layout of dcm_qa_ct's Philips S3010 at
  +16.5 deg) against the mirror image of that reference, and against the grid derived
  from dcm2niix's rules (rows added, origin);
* for both, every acquired pixel sampled from the volume at the world position its
  ImagePositionPatient/ImageOrientationPatient give equals the acquired value.

dcm2niix itself (v1.0.20220720, the reference version, and v1.0.20260724) writes the
right voxels but a wrong origin for the mirrored series (24.6 mm off, one padding's
worth of rows) and for S3010 (79.6 mm off): its output fails the third check
(r = 0.16 and 0.10), which is why the positive direction is checked against the
mirrored reference and dcm2niix's rules rather than against its output.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from scipy import ndimage

from surgiplan.core.imaging import Volume, discover, load_dicom, read_volume
from surgiplan.core.imaging.dicom_loader import describe_series
from tests.conftest import require_shared
from tests.core.imaging._volcompare import reorient_like

SERIES = ("dicom", "ct_gantry_tilt_philips")
REFERENCE = ("dicom", "reference_nifti", "ct_gantry_tilt_philips")
MIRROR = np.diag([1.0, 1.0, -1.0])  # world z -> -z (a reflection: the mirrored patient)
#: a fraction of a voxel (0.48 mm pixels, 2.37 mm slices)
GRID_TOL_MM = 0.05


def _reference() -> Volume:
    folder = require_shared(*REFERENCE)
    return read_volume(next(folder.glob("*_Tilt_1.nii.gz")))


def _mirrored_series(tmp_path: Path) -> Path:
    """Copies of the shared series with world z negated (positions, orientation, tilt)."""
    src = require_shared(*SERIES)
    out = tmp_path / "mirrored"
    out.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for f in sorted(src.iterdir()):
            ds = pydicom.dcmread(f)
            x, y, z = (float(v) for v in ds.ImagePositionPatient)
            o = [float(v) for v in ds.ImageOrientationPatient]
            ds.ImagePositionPatient = [x, y, -z]
            ds.ImageOrientationPatient = [o[0], o[1], -o[2], o[3], o[4], -o[5]]
            ds.GantryDetectorTilt = -float(ds.GantryDetectorTilt)
            if "SliceLocation" in ds:
                ds.SliceLocation = -float(ds.SliceLocation)
            ds.save_as(out / f.name)
    return out


def _mirror(vol: Volume) -> Volume:
    """The same voxels in the mirrored world (direction and origin reflected)."""
    return Volume(
        vol.array,
        spacing=vol.spacing,
        origin=tuple(MIRROR @ np.asarray(vol.origin)),
        direction=MIRROR @ vol.direction,
    )


def _corner_distance(ours: Volume, ref: Volume) -> float:
    aligned = reorient_like(ours, ref)
    assert aligned.shape_ijk == ref.shape_ijk
    return float(np.max(np.linalg.norm(aligned.world_corners() - ref.world_corners(), axis=1)))


def _same_index_r(ours: Volume, ref: Volume) -> float:
    a = reorient_like(ours, ref).array.astype(np.float64).ravel()
    return float(np.corrcoef(a, ref.array.astype(np.float64).ravel())[0, 1])


def _acquired_pixels_r(folder: Path, vol: Volume, step: int = 5) -> tuple[float, float]:
    """(Pearson r, largest |k - round(k)|) of acquired pixels sampled at their DICOM positions."""
    rng = np.random.default_rng(0)
    got, want, kfrac = [], [], []
    src = vol.array.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for f in sorted(folder.iterdir())[::step]:
            ds = pydicom.dcmread(f)
            img = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
            o = np.asarray(ds.ImageOrientationPatient, dtype=float)
            p = np.asarray(ds.ImagePositionPatient, dtype=float)
            sj, si = (float(v) for v in ds.PixelSpacing)
            ii = rng.integers(0, img.shape[1], 3000)
            jj = rng.integers(0, img.shape[0], 3000)
            world = p + np.outer(ii * si, o[:3]) + np.outer(jj * sj, o[3:])
            idx = vol.world_to_index(world)
            kfrac.append(np.max(np.abs(idx[:, 2] - np.round(idx[:, 2]))))
            idx[:, 2] = np.round(idx[:, 2])  # on the acquired slice plane (checked above)
            got.append(
                ndimage.map_coordinates(
                    src, [idx[:, 2], idx[:, 1], idx[:, 0]], order=1, cval=np.nan
                )
            )
            want.append(img[jj, ii])
    g, w = np.concatenate(got), np.concatenate(want)
    ok = np.isfinite(g)
    assert ok.mean() > 0.99  # every acquired pixel lies inside the corrected grid
    return float(np.corrcoef(g[ok], w[ok])[0, 1]), float(max(kfrac))


def _dcm2niix_rule_grid(folder: Path) -> tuple[int, np.ndarray]:
    """(rows of the corrected grid, its origin) by dcm2niix's rules, from the headers.

    Rows grow by ceil(tan|tilt| x (distance of the last slice along the normal) / row
    spacing); when the offsets run towards negative rows the padding goes first and the
    origin moves back by that many rows; otherwise it is the first slice's position.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hs = [pydicom.dcmread(f, stop_before_pixels=True) for f in sorted(folder.iterdir())]
    o = np.asarray(hs[0].ImageOrientationPatient, dtype=float)
    u, v = o[:3], o[3:]
    n = np.cross(u, v)
    pos = np.array([[float(x) for x in h.ImagePositionPatient] for h in hs])
    order = np.argsort(pos @ n)
    pos = pos[order]
    along = (pos[-1] - pos[0]) @ n
    sideways = (pos[-1] - pos[0]) @ v
    tilt = math.atan2(abs(sideways), along)  # estimated from the slice vector, as dcm2niix
    sj = float(hs[0].PixelSpacing[0])
    pad = math.ceil(abs(math.tan(tilt) * along / sj) - 1e-3)
    origin = pos[0] - (pad * sj * v if sideways < 0 else 0.0)
    return int(hs[0].Rows) + pad, origin


def test_negative_tilt_lands_on_dcm2niix_reference_grid():
    folder = require_shared(*SERIES)
    ours, ref = load_dicom(folder), _reference()
    dist = _corner_distance(ours, ref)
    print(f"negative tilt: corners within {dist:.4f} mm of dcm2niix's _Tilt_1 grid")
    assert dist <= GRID_TOL_MM
    assert _same_index_r(ours, ref) >= 0.99
    assert any("GantryDetectorTilt -18.5" in w for w in ours.warnings)


def test_mirrored_positive_tilt_lands_on_the_mirrored_reference_grid(tmp_path):
    folder = _mirrored_series(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert float(pydicom.dcmread(next(folder.iterdir())).GantryDetectorTilt) == 18.5
    ours, ref = load_dicom(folder), _mirror(_reference())
    dist = _corner_distance(ours, ref)
    print(f"positive tilt (mirrored): corners within {dist:.4f} mm of the mirrored reference")
    assert dist <= GRID_TOL_MM
    assert _same_index_r(ours, ref) >= 0.99
    assert any("GantryDetectorTilt +18.5" in w for w in ours.warnings)


@pytest.mark.parametrize("sign", ["negative", "positive"])
def test_grid_follows_dcm2niix_rules_and_header_only_description(tmp_path, sign):
    folder = require_shared(*SERIES) if sign == "negative" else _mirrored_series(tmp_path)
    rows, origin = _dcm2niix_rule_grid(folder)
    ours = load_dicom(folder)
    assert ours.shape_ijk[1] == rows == 563
    assert np.linalg.norm(np.asarray(ours.origin) - origin) <= GRID_TOL_MM
    info = describe_series(discover(folder).find(None))
    assert info["volume_size_ijk"] == list(ours.shape_ijk)
    assert np.allclose(info["volume_origin_lps_mm"], ours.origin, atol=1e-6)
    assert info["gantry_tilt_deg"] == pytest.approx(18.5, abs=0.01)


@pytest.mark.parametrize("sign", ["negative", "positive"])
def test_acquired_pixels_sit_at_their_dicom_positions(tmp_path, sign):
    folder = require_shared(*SERIES) if sign == "negative" else _mirrored_series(tmp_path)
    r, kfrac = _acquired_pixels_r(folder, load_dicom(folder))
    print(f"{sign} tilt: acquired pixels r = {r:.5f}, slice planes within {kfrac:.2e} voxel")
    assert kfrac < 0.01  # every acquired slice is a plane of the grid
    assert r >= 0.999


def test_ge_positive_tilt_tag_lands_on_its_dcm2niix_reference():
    """The shared GE series (GantryDetectorTilt +18.5, uneven spacing): first slice plane of
    the grid on dcm2niix's ``_Tilt_Eq_1`` (its slice spacing differs: both equalise)."""
    folder = require_shared("dicom", "ct_tilt_variable_spacing_ge")
    ref_dir = require_shared("dicom", "reference_nifti", "ct_tilt_variable_spacing_ge")
    ours = load_dicom(folder)
    ref = read_volume(next(ref_dir.glob("*_Tilt_Eq_1.nii.gz")))
    aligned = reorient_like(ours, ref)
    assert aligned.shape_ijk[:2] == ref.shape_ijk[:2]
    first = np.max(np.linalg.norm(aligned.world_corners()[:4] - ref.world_corners()[:4], axis=1))
    print(f"GE +18.5: first-plane corners within {first:.4f} mm of dcm2niix's grid")
    assert first <= GRID_TOL_MM
    assert np.allclose(aligned.direction, ref.direction, atol=1e-4)
