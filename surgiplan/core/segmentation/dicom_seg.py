"""DICOM SEG export (highdicom) referencing the source CT/MR series.

Each segment becomes one binary SEG segment with its coded terminology
(category/type from the segment's Slicer TerminologyEntry, else
"Tissue"/"Anatomical structure"). Frames are the source slices the segment
touches; the source datasets are matched to the segmentation's k index by
their Image Position (Patient), so the grid must be the series' grid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from surgiplan.core.errors import GeometryError, InputError
from surgiplan.core.fileio import atomic_write
from surgiplan.core.jobs import Progress, report
from surgiplan.core.segmentation.segmentation import Segmentation


def _code(entry: str, index: int, default):
    """A highdicom Code from field ``index`` ('SCT^123^meaning') of a Slicer terminology entry."""
    from pydicom.sr.coding import Code

    parts = entry.split("~") if entry else []
    if len(parts) > index:
        f = parts[index].split("^")
        if len(f) == 3 and f[0] and f[1]:
            return Code(f[1], "SCT" if f[0] == "SCT" else f[0], f[2])
    return default


def _source_datasets(source) -> list:
    import pydicom

    if isinstance(source, str | Path):
        folder = Path(source)
        if not folder.is_dir():
            raise InputError("the source DICOM folder does not exist", path=folder)
        files = [p for p in sorted(folder.rglob("*")) if p.is_file()]
        out = []
        for f in files:
            try:
                out.append(pydicom.dcmread(f))
            except Exception:  # not DICOM: skipped
                continue
        return out
    return list(source)


def export_dicom_seg(
    seg: Segmentation, source, path: str | Path, *, series_description: str = "surgiplan segmentation",
    progress: Progress | None = None,
) -> Path:
    """Write ``seg`` as a DICOM SEG referencing ``source`` (folder or pydicom datasets); atomic, read back.

    Raises GeometryError when the source slices are not on the segmentation's grid
    and InputError when there is nothing to export.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    from surgiplan import __version__

    path = Path(path)
    datasets = _source_datasets(source)
    series = seg.metadata.get("series_uid")
    if series:
        datasets = [d for d in datasets if getattr(d, "SeriesInstanceUID", None) == series] or datasets
    datasets = [d for d in datasets if hasattr(d, "ImagePositionPatient") and hasattr(d, "PixelData")]
    if not datasets:
        raise InputError("no source images with positions found to reference", path=path)
    if not seg.segments:
        raise InputError("the segmentation has no segments to export", path=path)
    empty = [s.name for s in seg.segments if not seg.mask(s.name).any()]
    if empty:
        raise InputError(f"segment(s) {', '.join(repr(n) for n in empty)} are empty: a DICOM SEG segment needs voxels",
                         path=path, hint="Remove the empty segments or paint them first.")
    geo = seg.geometry_volume()
    by_k: dict[int, object] = {}
    for d in datasets:
        ijk = geo.world_to_index(np.asarray(d.ImagePositionPatient, float))
        k = int(round(ijk[2]))
        if abs(ijk[0]) > 0.05 or abs(ijk[1]) > 0.05 or abs(ijk[2] - k) > 0.05 or not 0 <= k < seg.shape[0]:
            raise GeometryError(
                f"source image {getattr(d, 'SOPInstanceUID', '?')} at "
                f"{np.round(d.ImagePositionPatient, 2).tolist()} mm "
                "is not a slice of the segmentation grid", path=path,
                hint="Export with the series the segmentation was made on.")
        if (int(d.Rows), int(d.Columns)) != seg.shape[1:]:
            raise GeometryError(f"source images are {d.Rows} x {d.Columns}, the segmentation {seg.shape[1:]}",
                                path=path)
        by_k[k] = d
    if len(by_k) != seg.shape[0]:
        raise GeometryError(f"{len(by_k)} source slices found for {seg.shape[0]} segmentation slices", path=path)
    ks = sorted(by_k)
    report(progress, 0.2, "building DICOM SEG")
    pixels = np.stack([seg.mask(s.name) for s in seg.segments], axis=-1).astype(np.uint8)  # k, j, i, seg
    descriptions = []
    for n, s in enumerate(seg.segments, start=1):
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=n, segment_label=s.name,
            segmented_property_category=_code(s.terminology, 1, codes.SCT.Tissue),
            segmented_property_type=_code(s.terminology, 2, codes.SCT.AnatomicalStructure),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
            algorithm_identification=hd.AlgorithmIdentificationSequence(
                name="surgiplan", version=__version__, family=codes.cid7162.ArtificialIntelligence),
        ))
    src = [by_k[k] for k in ks]
    first = src[0]
    obj = hd.seg.Segmentation(
        source_images=src, pixel_array=pixels[ks], segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, series_instance_uid=hd.UID(),
        series_number=int(getattr(first, "SeriesNumber", 0) or 0) + 1000,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="surgiplan",
        manufacturer_model_name="surgiplan", software_versions=__version__, device_serial_number="0",
        series_description=series_description, omit_empty_frames=True,
    )
    n_pixel = len(obj.PixelData)
    n_frames = int(getattr(obj, "NumberOfFrames", 0) or 0)

    def verify(tmp: Path) -> None:  # the frames and the pixel data read back whole
        import pydicom

        try:
            back = pydicom.dcmread(tmp)
            ok = len(back.PixelData) == n_pixel and int(getattr(back, "NumberOfFrames", 0) or 0) == n_frames
        except Exception as exc:  # pydicom raises assorted errors on a short file
            raise InputError(f"the DICOM SEG does not read back ({type(exc).__name__}: {str(exc)[:200]})",
                             path=path) from None
        if not ok:
            raise InputError("the DICOM SEG reads back with other frames or pixel data", path=path)

    atomic_write(path, lambda tmp: obj.save_as(tmp), verify=verify,
                 need_bytes=n_pixel + (1 << 20))
    report(progress, 1.0, "DICOM SEG written")
    return path
