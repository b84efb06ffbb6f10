"""read_segmentation / write_segmentation: .seg.nrrd or plain NRRD / NIfTI label maps.

A name ending in ``.seg.nrrd`` (or ``.seg.nhdr``) is 3D Slicer's segmentation
format; any other volume suffix (.nrrd, .nii, .nii.gz, .mha) is a plain label
map with a JSON side file ``<name>.json`` ({label: {"name", "color"}}) when
written here (the same layout as the sample scans' ``labels.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from surgiplan.core.errors import GeometryError, InputError
from surgiplan.core.fileio import atomic_write_text
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.imaging.volume_io import (
    VOLUME_SUFFIXES,
    read_volume,
    volume_suffix,
    write_volume,
)
from surgiplan.core.segmentation.seg_nrrd import read_seg_nrrd, write_seg_nrrd
from surgiplan.core.segmentation.segmentation import Segmentation

#: Largest label-names JSON read (a table of 65535 labels is far smaller).
_MAX_LABELS_JSON = 16 << 20


def is_seg_nrrd(path: str | Path) -> bool:
    name = Path(path).name.lower()
    return name.endswith(".seg.nrrd") or name.endswith(".seg.nhdr")


def _side_json(path: Path) -> Path:
    suffix = volume_suffix(path)
    return path.with_name(path.name[: -len(suffix)] + ".json")


def read_labels_json(path: Path) -> tuple[dict[int, str], dict[int, tuple]]:
    """Names and colours from a labels JSON ({"1": "pelvis"} or {"1": {"name", "color"}})."""
    try:
        size = path.stat().st_size
        if size > _MAX_LABELS_JSON:
            raise InputError(f"the label names file is {size:,} bytes, more than a label table can need "
                             f"({_MAX_LABELS_JSON:,})", path=path, hint="Give the right labels file.")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the label names ({str(exc)[:200]})", path=path) from None
    except RecursionError:
        raise InputError("cannot read the label names (nested too deeply)", path=path,
                         hint="The file is damaged or hostile.") from None
    if isinstance(data, dict) and "labels" in data and isinstance(data["labels"], dict | list):
        data = data["labels"]
    names, colors = {}, {}
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for key, val in items:
        try:
            v = int(key) if not isinstance(val, dict) or "label" not in val else int(val["label"])
        except (TypeError, ValueError, OverflowError):
            continue
        if not 1 <= v <= 65535:
            continue
        if isinstance(val, str):
            names[v] = val
        elif isinstance(val, dict):
            if "name" in val:
                names[v] = str(val["name"])
            col = val.get("color") or val.get("colour")
            if isinstance(col, list | tuple) and len(col) >= 3:
                try:
                    c = [float(x) for x in col[:3]]
                except (TypeError, ValueError, OverflowError):
                    continue
                if all(0.0 <= x <= 255.0 for x in c):
                    colors[v] = tuple(x / 255.0 for x in c) if max(c) > 1.0 else tuple(c)
    return names, colors


def read_segmentation(
    path: str | Path, reference: Volume | None = None, labels_json: str | Path | None = None
) -> Segmentation:
    """Read a ``.seg.nrrd`` or a plain label map (NRRD/NIfTI/MHA) as a Segmentation.

    ``reference``: the scan it belongs to; the label map must be on its grid
    (GeometryError otherwise; a cropped .seg.nrrd is placed into it).
    ``labels_json``: names/colours for a plain label map (default: ``<name>.json``
    beside it, if present).
    """
    path = Path(path)
    if is_seg_nrrd(path):
        return read_seg_nrrd(path, reference)
    if volume_suffix(path) not in VOLUME_SUFFIXES:
        raise InputError(
            "not a segmentation file (expected .seg.nrrd, .nrrd, .nii.gz, .nii or .mha)", path=path
        )
    vol = read_volume(path)
    if vol.array.dtype.kind == "f" and not np.all(np.mod(vol.array, 1) == 0):
        raise InputError("this is not a label map: it holds fractional values", path=path,
                         hint="Pass a label map (whole numbers, 0 = background).")
    if reference is not None and not reference.same_grid(vol):
        raise GeometryError(
            f"the label map ({vol.describe()}, origin {np.round(vol.origin, 3).tolist()} mm) does not "
            f"match the scan ({reference.describe()}, origin {np.round(reference.origin, 3).tolist()} mm)",
            path=path, hint="Use the label map made on this scan, or resample it first.",
        )
    side = Path(labels_json) if labels_json is not None else _side_json(path)
    names, colors = read_labels_json(side) if side.is_file() else ({}, {})
    try:
        seg = Segmentation.from_labelmap(vol, names, colors)
    except InputError as exc:
        raise InputError(exc.message, path=path) from None
    seg.metadata["source"] = str(path)
    return seg


def write_segmentation(seg: Segmentation, path: str | Path) -> Path:
    """Write ``seg`` as .seg.nrrd (Slicer) or as a plain label map + ``<name>.json``.

    A plain label map holds one layer: overlapping segments (several layers) are
    refused there (use .seg.nrrd). Atomic: written to a temporary name, renamed.
    """
    path = Path(path)
    if is_seg_nrrd(path):
        return write_seg_nrrd(seg, path)
    if volume_suffix(path) not in VOLUME_SUFFIXES:
        raise InputError(
            "unknown segmentation format (use .seg.nrrd, .nrrd, .nii.gz or .mha)", path=path
        )
    if len(seg.layers) > 1:
        raise InputError(
            f"{len(seg.layers)} layers of overlapping segments cannot go into one label map",
            path=path, hint="Save as .seg.nrrd, which keeps layers.",
        )
    labels = {
        str(s.label): {"name": s.name, "color": [round(c, 6) for c in s.color], "terminology": s.terminology}
        for s in seg.segments
    }
    side = _side_json(path)
    write_volume(seg.geometry_volume(seg.layers[0]), path)
    atomic_write_text(side, json.dumps(labels, indent=1))
    return path
