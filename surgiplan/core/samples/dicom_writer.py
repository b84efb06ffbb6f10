"""Write a synthetic scan as a DICOM series the way a scanner does (CT or MR Image Storage).

One file per slice, Explicit VR Little Endian, with the patient, general study,
general series, frame of reference, general equipment, general image, image
plane, image pixel, CT/MR image, VOI LUT and SOP common modules. UIDs come from
``pydicom.uid.generate_uid`` with entropy derived from the sample's name, size
and seed, so the same seed gives the same bytes; dates and times are fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid

from surgiplan import __version__
from surgiplan.core.jobs import Progress, report
from surgiplan.core.samples.phantom import Grid

STUDY_DATE = "20240115"
STUDY_TIME = "093000"


@dataclass
class SeriesHeader:
    """What the scanner would know about the patient, study and series."""

    modality: str  # "CT" or "MR"
    patient_name: str  # obviously synthetic, e.g. "SYNTHETIC^HIP"
    patient_id: str
    patient_sex: str
    patient_birth_date: str
    study_description: str
    series_description: str
    body_part: str
    patient_position: str  # "FFS", "HFS"
    uid_entropy: list[str]  # name, size, seed: makes the UIDs deterministic
    series_number: int = 2
    windows: list[tuple[float, float, str]] = field(default_factory=list)  # centre, width, name
    slice_thickness_mm: float | None = None
    extra: dict = field(default_factory=dict)  # modality-specific attributes (keyword -> value)


def _uid(entropy: list[str], what: str) -> str:
    return generate_uid(entropy_srcs=[*entropy, what])


def _ds(v: float) -> str:
    """A DICOM decimal string (<= 16 characters)."""
    s = f"{v:.6f}".rstrip("0").rstrip(".")
    if s in ("-0", ""):
        s = "0"
    return s[:16]


def write_series(
    stored: np.ndarray,
    grid: Grid,
    out_dir: Path,
    header: SeriesHeader,
    *,
    rescale_slope: float,
    rescale_intercept: float,
    progress: Progress | None = None,
) -> list[Path]:
    """Write ``stored`` (uint16 [k, j, i], stored pixel values) as one file per slice k.

    Real-world value = stored * slope + intercept (HU for CT). Returns the file paths.
    """
    if stored.dtype != np.uint16:
        raise TypeError("stored pixel values must be uint16")
    out_dir.mkdir(parents=True, exist_ok=True)
    nk, nj, ni = stored.shape
    d = np.asarray(grid.direction, float)
    si, sj, sk = grid.spacing
    row_dir, col_dir, slice_dir = d[:, 0], d[:, 1], d[:, 2]
    normal = np.cross(row_dir, col_dir)
    study_uid = _uid(header.uid_entropy, "study")
    series_uid = _uid(header.uid_entropy, "series")
    for_uid = _uid(header.uid_entropy, "frame-of-reference")
    sop_class = CTImageStorage if header.modality == "CT" else MRImageStorage
    bits = int(max(12, int(stored.max()).bit_length())) if stored.size else 12
    paths = []
    for k in range(nk):
        if k % 16 == 0:
            report(progress, k / nk, f"DICOM slice {k + 1} of {nk}")
        sop_uid = _uid(header.uid_entropy, f"image-{k}")
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = sop_class
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = "1.2.826.0.1.3680043.8.498.1"
        meta.ImplementationVersionName = f"SURGIPLAN_{__version__}"[:16]
        ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL" if header.modality == "CT" else "OTHER"]
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = sop_uid
        ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = STUDY_DATE
        ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = STUDY_TIME
        ds.AccessionNumber = "SYN0001"
        ds.Modality = header.modality
        ds.Manufacturer = "surgiplan synthetic phantom"
        ds.InstitutionName = "Digital Patient Cohort (synthetic, not a person)"
        ds.ReferringPhysicianName = ""
        ds.StationName = "PHANTOM"
        ds.StudyDescription = header.study_description
        ds.SeriesDescription = header.series_description
        ds.ManufacturerModelName = "surgiplan.core.samples"
        ds.PatientName = header.patient_name
        ds.PatientID = header.patient_id
        ds.PatientBirthDate = header.patient_birth_date
        ds.PatientSex = header.patient_sex
        ds.PatientIdentityRemoved = "NO"
        ds.BodyPartExamined = header.body_part
        ds.SliceThickness = _ds(header.slice_thickness_mm or sk)
        ds.SpacingBetweenSlices = _ds(sk)
        ds.SoftwareVersions = f"surgiplan {__version__}"
        ds.PatientPosition = header.patient_position
        for key, value in header.extra.items():
            setattr(ds, key, value)
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = "1"
        ds.SeriesNumber = header.series_number
        ds.AcquisitionNumber = 1
        ds.InstanceNumber = k + 1
        pos = np.asarray(grid.origin, float) + k * sk * slice_dir
        ds.ImagePositionPatient = [_ds(v) for v in pos]
        ds.ImageOrientationPatient = [_ds(v) for v in (*row_dir, *col_dir)]
        ds.FrameOfReferenceUID = for_uid
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = _ds(float(pos @ normal))
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = nj
        ds.Columns = ni
        ds.PixelSpacing = [_ds(sj), _ds(si)]  # row spacing (between rows), column spacing
        ds.BitsAllocated = 16
        ds.BitsStored = bits
        ds.HighBit = bits - 1
        ds.PixelRepresentation = 0
        ds.BurnedInAnnotation = "NO"
        if header.windows:
            ds.WindowCenter = [_ds(w[0]) for w in header.windows]
            ds.WindowWidth = [_ds(w[1]) for w in header.windows]
            ds.WindowCenterWidthExplanation = [w[2] for w in header.windows]
        ds.RescaleIntercept = _ds(rescale_intercept)
        ds.RescaleSlope = _ds(rescale_slope)
        ds.RescaleType = "HU" if header.modality == "CT" else "US"
        ds.PixelData = np.ascontiguousarray(stored[k]).tobytes()
        path = out_dir / f"{header.modality}{k + 1:06d}.dcm"
        pydicom.dcmwrite(path, ds, enforce_file_format=True)
        paths.append(path)
    report(progress, 1.0, f"{nk} DICOM slices written")
    return paths
