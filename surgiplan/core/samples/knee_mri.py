"""Knee MRI: the right knee of the knee CT in sagittal T1-weighted slices.

Sagittal acquisition: rows run anterior to posterior (+y), columns superior to
inferior (-z), slices medial to lateral (-x): ImageOrientationPatient
(0, 1, 0, 0, 0, -1). Signal: fatty marrow and fat bright, muscle intermediate,
cartilage and fluid intermediate-dark, cortex, menisci, tendons and ligaments
dark; Rician noise and a smooth surface-coil shading.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.samples.dicom_writer import SeriesHeader
from surgiplan.core.samples.knee_anatomy import build_knee
from surgiplan.core.samples.phantom import Grid
from surgiplan.core.samples.scene import Scene
from surgiplan.core.samples.tissues import MR_T1

SAGITTAL = np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # columns: i=+y, j=-z, k=-x


def sagittal_grid(centre, size: str) -> Grid:
    """A sagittal grid centred on ``centre`` (LPS mm): 180 mm square field, 120 mm across."""
    if size == "full":
        n, px, nslice, dz = 512, 180.0 / 512, 176, 0.8
    else:
        n, px, nslice, dz = 120, 1.5, 94, 1.5
    d = SAGITTAL
    ijk_centre = np.array([(n - 1) / 2, (n - 1) / 2, (nslice - 1) / 2])
    m = d * np.array([px, px, dz])[None, :]
    origin = np.asarray(centre, float) - m @ ijk_centre
    return Grid(shape=(nslice, n, n), spacing=(px, px, dz), origin=tuple(origin), direction=d)


def coil_shading(centre):
    """Multiply the image by a smooth receive-coil sensitivity (brighter near the skin)."""

    def apply(image: np.ndarray, grid: Grid) -> None:
        nk, nj, ni = image.shape
        for k0 in range(0, nk, 16):
            k1 = min(nk, k0 + 16)
            x, y, z = grid.coords(k0, k1, 0, nj, 0, ni)
            r2 = (x - centre[0]) ** 2 + (y - centre[1]) ** 2
            gain = 0.92 + 0.12 * np.clip(r2 / 60.0**2, 0, 1.5) - 0.08 * ((z - centre[2]) / 90.0) ** 2
            image[k0:k1] *= gain.astype(np.float32)

    return apply


def build(size: str, seed: int) -> Scene:
    """The knee MRI scene at ``size`` ('small' or 'full')."""
    knee = build_knee("MR")
    c = knee.centre + np.array([0.0, 4.0, 0.0])
    grid = sagittal_grid(c, size)
    header = SeriesHeader(
        modality="MR", patient_name="SYNTHETIC^KNEE^MRI", patient_id="SYN-KNEE-0002", patient_sex="M",
        patient_birth_date="19620101", study_description="MR KNEE RIGHT (synthetic phantom)",
        series_description=f"SAG T1 SE ({size})", body_part="KNEE", patient_position="FFS",
        uid_entropy=["knee_mri", size, str(seed)], series_number=3,
        windows=[(600.0, 1200.0, "T1")],
        slice_thickness_mm=grid.spacing[2],
        extra={"ScanningSequence": "SE", "SequenceVariant": "NONE", "ScanOptions": "",
               "MRAcquisitionType": "3D", "RepetitionTime": "550", "EchoTime": "12",
               "EchoTrainLength": 1, "MagneticFieldStrength": "1.5", "ImagingFrequency": "63.87",
               "ImagedNucleus": "1H", "FlipAngle": "90", "ReceiveCoilName": "KNEE8",
               "InPlanePhaseEncodingDirection": "ROW"},
    )
    full = size == "full"
    return Scene(
        name="knee_mri", grid=grid, layers=knee.layers, tissues=MR_T1, background=0.0,
        psf_fwhm_mm=(0.5, 0.5, 0.9) if full else (0.8, 0.8, 0.8),
        noise_sd=22.0 if full else 14.0, noise_kind="rician", header=header, truth=knee.truth,
        rescale=(1.0, 0.0), value_range=(0.0, 4095.0), post=coil_shading(c),
    )
