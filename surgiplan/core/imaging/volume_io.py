"""Volume files: NRRD, NIfTI and MetaImage read and written through SimpleITK.

SimpleITK works in LPS, as we do: NIfTI's RAS on disk is converted on read and
on write by ITK itself, so a Volume round-trips through any of these formats
with the same LPS geometry. Writes go to a temporary name and are renamed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.volume import Volume

VOLUME_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")


def volume_suffix(path: str | Path) -> str:
    """The volume-file suffix of ``path`` ('.nii.gz' counts as one), lower case."""
    name = Path(path).name.lower()
    for s in sorted(VOLUME_SUFFIXES, key=len, reverse=True):
        if name.endswith(s):
            return s
    return Path(path).suffix.lower()


def is_volume_file(path: str | Path) -> bool:
    return Path(path).is_file() and volume_suffix(path) in VOLUME_SUFFIXES


def to_sitk(volume: Volume):
    """A SimpleITK image with the volume's voxels and LPS geometry."""
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.ascontiguousarray(volume.array))
    img.SetSpacing(volume.spacing)
    img.SetOrigin(volume.origin)
    img.SetDirection(tuple(float(x) for x in volume.direction.ravel()))
    return img


def from_sitk(image, metadata: dict | None = None) -> Volume:
    """A Volume from a 3D SimpleITK image (LPS geometry as ITK gives it)."""
    import SimpleITK as sitk

    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            f"expected a 3D single-component image, got {image.GetDimension()}D with "
            f"{image.GetNumberOfComponentsPerPixel()} components"
        )
    arr = sitk.GetArrayFromImage(image)
    return Volume(
        array=arr,
        spacing=image.GetSpacing(),
        origin=image.GetOrigin(),
        direction=np.asarray(image.GetDirection()).reshape(3, 3),
        metadata=dict(metadata or {}),
    )


def read_volume(path: str | Path) -> Volume:
    """Read a NRRD / NIfTI / MHA volume into LPS millimetres.

    Raises :class:`InputError` naming the file when it is missing, of an unknown
    type, or unreadable.
    """
    import SimpleITK as sitk

    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path, hint="Check the path.")
    if volume_suffix(path) not in VOLUME_SUFFIXES:
        raise InputError(
            f"not a volume file (expected one of {', '.join(VOLUME_SUFFIXES)})", path=path
        )
    if path.stat().st_size == 0:
        raise InputError("the file is empty", path=path)
    try:
        img = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown reason"
        raise InputError(
            f"cannot read the volume ({first})", path=path, hint="The file may be truncated or damaged."
        ) from None
    if img.GetDimension() == 4 and img.GetSize()[3] == 1:
        img = img[:, :, :, 0]
    elif img.GetDimension() == 2:
        img = sitk.JoinSeries(img)
    meta = {"source": str(path)}
    for key in img.GetMetaDataKeys():
        if key in ("modality", "surgiplan_modality"):
            meta["modality"] = img.GetMetaData(key)
    try:
        return from_sitk(img, meta)
    except InputError as exc:
        raise InputError(exc.message, path=path) from None


def write_volume(volume: Volume, path: str | Path, *, compress: bool = True) -> Path:
    """Write ``volume`` to ``path`` (.nrrd, .nii, .nii.gz, .mha, .mhd) atomically.

    NRRD and MHA store LPS directly; NIfTI stores RAS (ITK converts). Returns the path.
    """
    import SimpleITK as sitk

    path = Path(path)
    suffix = volume_suffix(path)
    if suffix not in VOLUME_SUFFIXES:
        raise InputError(
            f"unknown volume format '{suffix}' (use .nrrd, .nii.gz or .mha)", path=path
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    img = to_sitk(volume)
    if "modality" in volume.metadata:
        img.SetMetaData("surgiplan_modality", str(volume.metadata["modality"]))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{suffix}")
    try:
        sitk.WriteImage(img, str(tmp), useCompression=compress)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
