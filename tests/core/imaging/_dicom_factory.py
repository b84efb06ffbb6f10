"""Small synthetic DICOM series written with pydicom, for the loader's trap tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


def make_slice(
    path: Path,
    pixels: np.ndarray,
    position: Sequence[float],
    *,
    series_uid: str,
    study_uid: str,
    instance: int = 1,
    orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
    spacing: Sequence[float] = (0.5, 0.5),
    modality: str = "CT",
    intercept: float | None = -1024,
    slope: float | None = 1,
    signed: bool = False,
    bits_stored: int = 12,
    syntax: str = ExplicitVRLittleEndian,
    extra: dict | None = None,
) -> Path:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = CTImageStorage
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.PatientName, ds.PatientID, ds.Modality = "TEST^SERIES", "T1", modality
    ds.SeriesNumber, ds.InstanceNumber = 7, instance
    ds.ImagePositionPatient = [float(x) for x in position]
    ds.ImageOrientationPatient = [float(x) for x in orientation]
    ds.PixelSpacing = [float(x) for x in spacing]
    ds.SliceThickness = 1.0
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits_stored, bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    if intercept is not None:
        ds.RescaleIntercept, ds.RescaleSlope = intercept, slope
    ds.PixelData = pixels.astype(np.int16 if signed else np.uint16).tobytes()
    for k, v in (extra or {}).items():
        setattr(ds, k, v)
    if syntax != ExplicitVRLittleEndian:
        ds.compress(syntax)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def make_series(
    folder: Path,
    positions: Sequence[Sequence[float]],
    value: Callable[[int], np.ndarray] | None = None,
    *,
    names: Sequence[str] | None = None,
    instances: Sequence[int] | None = None,
    shape: tuple[int, int] = (8, 10),
    **kw,
) -> list[Path]:
    """One series: slice k at ``positions[k]`` filled by ``value(k)`` (default: constant 1000 + 10 k)."""
    series_uid, study_uid = generate_uid(), generate_uid()
    paths = []
    for k, pos in enumerate(positions):
        px = value(k) if value else np.full(shape, 1000 + 10 * k)
        name = names[k] if names else f"IM{k:03d}.dcm"
        inst = instances[k] if instances else k + 1
        paths.append(
            make_slice(
                folder / name,
                px,
                pos,
                series_uid=series_uid,
                study_uid=study_uid,
                instance=inst,
                **kw,
            )
        )
    return paths
