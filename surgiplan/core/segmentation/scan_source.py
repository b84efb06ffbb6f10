"""Resolve what a user passes as a scan: a DICOM folder, a volume file or a case folder."""

from __future__ import annotations

from pathlib import Path

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.imaging.volume_io import is_volume_file, read_volume
from surgiplan.core.jobs import Progress, report


def load_scan(path: str | Path, progress: Progress | None = None) -> Volume:
    """The Volume behind ``path``.

    * a volume file (.nrrd, .nii.gz, .mha ...): read as is;
    * a case folder (has ``case.json``): its first scan's ``scans/<scan>/volume.nrrd``;
    * a sample folder (has ``volume.nrrd``): that volume;
    * a DICOM folder: ``surgiplan.core.imaging.load_dicom`` (largest image series).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("not found", path=path, hint="Pass a DICOM folder, a volume file or a case folder.")
    if path.is_file():
        if is_volume_file(path):
            report(progress, 0.1, "reading volume")
            return read_volume(path)
        raise InputError("not a volume file", path=path,
                         hint="Pass a DICOM folder, a .nrrd/.nii.gz/.mha volume or a case folder.")
    if (path / "case.json").is_file():
        vols = sorted((path / "scans").glob("*/volume.nrrd"))
        if not vols:
            raise InputError("this case has no loaded scan (scans/<scan>/volume.nrrd)", path=path)
        return read_volume(vols[0])
    if (path / "volume.nrrd").is_file():
        return read_volume(path / "volume.nrrd")
    try:
        from surgiplan.core.imaging import load_dicom  # the DICOM engineer's loader
    except ImportError:
        load_dicom = None
    if load_dicom is not None:
        return load_dicom(path, progress=progress)
    return _load_dicom_sitk(path, progress)


def _load_dicom_sitk(path: Path, progress: Progress | None) -> Volume:
    """Fallback DICOM series reader (SimpleITK/GDCM, largest series) until load_dicom exists."""
    import SimpleITK as sitk

    from surgiplan.core.imaging.volume_io import from_sitk

    report(progress, 0.05, "finding DICOM series")
    reader = sitk.ImageSeriesReader()
    ids = reader.GetGDCMSeriesIDs(str(path))
    if not ids:
        raise InputError("no DICOM image series in this folder", path=path)
    best = max(ids, key=lambda s: len(reader.GetGDCMSeriesFileNames(str(path), s)))
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(path), best))
    report(progress, 0.2, "reading DICOM slices")
    try:
        img = reader.Execute()
    except RuntimeError as exc:
        raise InputError(f"cannot read the DICOM series ({str(exc).strip().splitlines()[-1]})", path=path) from None
    return from_sitk(img, {"source": str(path), "series_uid": best})
