"""Knee CT: the right knee (distal femur, proximal tibia, fibula head, patella) in axial slices.

The hip and ankle centres lie outside the field of view; the ground truth gives
them, so the mechanical axes and the hip-knee-ankle angle are known exactly.
"""

from __future__ import annotations

from surgiplan.core.samples.dicom_writer import SeriesHeader
from surgiplan.core.samples.knee_anatomy import build_knee
from surgiplan.core.samples.scene import Scene, axial_grid
from surgiplan.core.samples.tissues import CT


def build(size: str, seed: int) -> Scene:
    """The knee CT scene at ``size`` ('small' or 'full')."""
    knee = build_knee("CT")
    c = knee.centre
    grid = axial_grid((c[0], c[1] + 6.0), 180.0, (c[2] - 125.0, c[2] + 125.0), size, small_mm=1.5)
    header = SeriesHeader(
        modality="CT", patient_name="SYNTHETIC^KNEE", patient_id="SYN-KNEE-0002", patient_sex="M",
        patient_birth_date="19620101", study_description="CT KNEE RIGHT (synthetic phantom)",
        series_description=f"Knee R 1.0 mm BONE ({size})" if size == "full" else f"Knee R 1.5 mm ({size})",
        body_part="KNEE", patient_position="FFS", uid_entropy=["knee", size, str(seed)],
        windows=[(500.0, 2000.0, "BONE"), (40.0, 400.0, "SOFT TISSUE")],
        extra={"KVP": "120", "ConvolutionKernel": "B70s", "XRayTubeCurrent": 180,
               "ReconstructionDiameter": f"{grid.spacing[0] * grid.shape[2]:.1f}",
               "GantryDetectorTilt": "0"},
    )
    full = size == "full"
    return Scene(
        name="knee", grid=grid, layers=knee.layers, tissues=CT, background=-1000.0,
        psf_fwhm_mm=(0.6, 0.6, 1.0) if full else (0.8, 0.8, 0.8),
        noise_sd=20.0 if full else 10.0, header=header, truth=knee.truth,
    )
