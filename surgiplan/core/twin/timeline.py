"""The scan timeline of a case: later scans added, registered to the planning scan, read back.

The first scan of ``case.json`` is the planning scan; every later scan (``post-op``,
``follow-up``) carries a date and, once registered, ``scans/<scan>/to_planning.tfm``:
an ITK ``Euler3DTransform`` mapping planning-scan points (LPS mm) to the later scan's
points, i.e. the transform that resamples the later scan onto the planning grid (how
3D Slicer and ITK read it). :func:`scan_to_planning` gives the inverse 4x4, later scan
LPS mm -> planning LPS mm. Beside it the registration writes ``registration.json``
(metric, transform, iterations, stop condition) and ``registration.png`` (checkerboard
and fused overlay of the planning scan and the registered scan).

Per bone: a registration restricted to one bone (``--bone L4``) also writes
``scans/<scan>/to_planning.<bone>.tfm`` (with ``registration.<bone>.json`` and
``registration.<bone>.png``), so that each vertebra of a spine, which moves on its own
between two scans, is mapped by its own transform; :func:`scan_to_planning` with
``bone=`` reads it and falls back to the scan's transform for a bone without one. The
first registration of a scan (whole or one bone) is also its scan transform
``to_planning.tfm``; a later whole-scan registration replaces that, a later bone
registration does not.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from surgiplan.core import fileio
from surgiplan.core.errors import InputError
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.jobs import Progress, report, sub_progress
from surgiplan.core.twin.registration import Registration, euler_to_matrix, matrix_to_euler, register_rigid

#: Command-line spellings of the scan kinds of case.json.
KINDS = {"postop": "post-op", "post-op": "post-op", "followup": "follow-up", "follow-up": "follow-up"}
#: Voxels above this (HU) in a later CT are metal: left out of the registration.
METAL_EXCLUDE_HU = 2000.0


def check_date(date: str) -> str:
    """``date`` checked as an ISO calendar date ``YYYY-MM-DD``."""
    try:
        return dt.date.fromisoformat(str(date)).isoformat()
    except ValueError:
        raise InputError(f"scan date {date!r} is not a date (use YYYY-MM-DD, e.g. 2026-03-14)") from None


def load_scan_source(path: str | Path, progress: Progress | None = None) -> Volume:
    """A DICOM folder (one series) or a volume file (.nrrd, .nii.gz, .mha) as a Volume."""
    from surgiplan.core.imaging import load_dicom
    from surgiplan.core.imaging.volume_io import is_volume_file, read_volume

    p = Path(path)
    if p.is_dir():
        return load_dicom(p, progress=progress)
    if not p.exists():
        raise InputError("scan not found", path=p, hint="Give a DICOM folder or a volume file.")
    if not is_volume_file(p):
        raise InputError("is neither a DICOM folder nor a volume file (.nrrd, .nii, .nii.gz, .mha, .mhd)", path=p)
    return read_volume(p)


def add_later_scan(case, source: str | Path | Volume, date: str, kind: str = "post-op", name: str | None = None,
                   progress: Progress | None = None):
    """Add a post-operative or follow-up scan to ``case``'s timeline (written now; case.json at save).

    Parameters
    ----------
    case : Case
        A case that has its planning scan.
    source : path or Volume
        DICOM folder, volume file or an already loaded Volume (LPS).
    date : str
        Acquisition date ``YYYY-MM-DD``.
    kind : str
        ``post-op`` / ``postop`` or ``follow-up`` / ``followup``.
    name : str, optional
        Scan name; ``<kind>-<date>`` by default.
    """
    if kind not in KINDS:
        raise InputError(f"scan kind {kind!r} is not known (use postop or followup)")
    kind = KINDS[kind]
    date = check_date(date)
    if not case.model.scans:
        raise InputError(f"case {case.model.name!r} has no planning scan yet", path=case.root,
                         hint="Add the planning scan first; later scans are registered to it.")
    name = name or f"{kind}-{date}"
    if any(s.name == name for s in case.model.scans):
        raise InputError(f"case {case.model.name!r} already has a scan {name!r}", path=case.root,
                         hint="Give the scan another name.")
    volume = source if isinstance(source, Volume) else load_scan_source(source, sub_progress(progress, 0, 0.7))
    report(progress, 0.8, f"writing scan {name}")
    sm = case.add_scan(name, volume, kind=kind, date=date)
    case.derived[("scan", name)] = volume
    report(progress, 1.0, f"scan {name} added")
    return sm


def timeline(case) -> list[dict[str, Any]]:
    """The case's scans in timeline order: name, kind, date, series, registered or not, and the
    bones with a transform of their own."""
    out = []
    for i, s in enumerate(case.model.scans):
        out.append({"name": s.name, "kind": "planning" if i == 0 else s.kind, "date": s.date,
                    "series_uid": s.series_uid, "registered": i == 0 or s.to_planning is not None,
                    "to_planning": s.to_planning, "bones": [] if i == 0 else bone_registrations(case, s.name)})
    return out


_BONE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+-]{0,63}$")


def check_bone_name(bone: str) -> str:
    """``bone`` checked as usable in a file name (``to_planning.<bone>.tfm``)."""
    if not isinstance(bone, str) or not _BONE_RE.match(bone):
        raise InputError(f"bone name {bone!r} cannot name a per-bone transform: use letters, digits, _ + - "
                         "(e.g. L4, femur_left)")
    return bone


def bone_transform_relpath(scan: str, bone: str) -> str:
    """Case-relative path of the transform of ``bone`` in scan ``scan``: ``scans/<scan>/to_planning.<bone>.tfm``."""
    return f"scans/{scan}/to_planning.{check_bone_name(bone)}.tfm"


def bone_registrations(case, scan: str) -> list[str]:
    """The bones of later scan ``scan`` that have their own transform (sorted)."""
    folder = case.root / "scans" / case._scan(scan).name
    if not folder.is_dir():
        return []
    out = []
    for p in folder.glob("to_planning.*.tfm"):
        bone = p.name[len("to_planning."):-len(".tfm")]
        if _BONE_RE.match(bone) and p.is_file():
            out.append(bone)
    return sorted(out)


def scan_volume(case, scan: str | None = None) -> Volume:
    """The Volume of scan ``scan`` (the planning scan by default), read once per session."""
    from surgiplan.core.imaging.volume_io import read_volume

    sm = case._scan(scan)
    key = ("scan", sm.name)
    if key not in case.derived:
        case.derived[key] = read_volume(fileio.check_inside(case.root, sm.volume, "scan volume"))
    return case.derived[key]


def scan_to_planning(case, scan: str, bone: str | None = None) -> np.ndarray:
    """4x4 rigid transform later scan LPS mm -> planning LPS mm (identity for the planning scan).

    With ``bone``, the bone's own transform (``to_planning.<bone>.tfm``) when the scan has
    one, the scan's transform otherwise (see :func:`transform_source`).
    """
    import SimpleITK as sitk

    sm = case._scan(scan)
    if sm is case.model.scans[0]:
        return np.eye(4)
    own = bool(bone) and bone in bone_registrations(case, sm.name)
    if sm.to_planning is None and not own:
        raise InputError(f"scan {sm.name!r} is not registered to the planning scan yet", path=case.root,
                         hint=f"Run: surgiplan case register {case.root} {sm.name}")
    rel = bone_transform_relpath(sm.name, bone) if own else sm.to_planning
    path = fileio.check_inside(case.root, rel, "registration transform")
    try:
        tx = sitk.ReadTransform(str(path))
        p2s = euler_to_matrix(sitk.Euler3DTransform(tx))
    except RuntimeError as exc:
        raise InputError(f"the registration transform cannot be read ({str(exc).strip().splitlines()[-1][:120]})",
                         path=path, hint="Register the scan again.") from None
    if not np.all(np.isfinite(p2s)) or abs(np.linalg.det(p2s[:3, :3]) - 1) > 1e-4:
        raise InputError("the registration transform is not rigid", path=path, hint="Register the scan again.")
    return np.linalg.inv(p2s)


def timepoint_map(case, scan_from: str, scan_to: str, bone: str | None = None) -> np.ndarray:
    """4x4 rigid map of LPS mm points of scan ``scan_from`` to the same anatomical points in scan
    ``scan_to``, through the planning scan (``bone``: that bone's own transforms where they exist).

    This is what links two timepoints' slice views: a cursor at ``p`` in ``scan_from`` sits
    at ``M @ p`` in ``scan_to``.
    """
    a2p = scan_to_planning(case, scan_from, bone)
    b2p = scan_to_planning(case, scan_to, bone)
    return np.linalg.inv(b2p) @ a2p


def transform_source(case, scan: str, bone: str | None) -> str:
    """Which transform maps ``bone`` of ``scan``: the bone's name when it has its own, else ``scan``."""
    return bone if bone and bone in bone_registrations(case, scan) else "scan"


def bone_mask(case, bone: str, dilate_voxels: int = 2) -> np.ndarray:
    """Mask of segment ``bone`` of the planning scan's segmentation, grown by ``dilate_voxels``."""
    from scipy import ndimage

    seg = case.segmentation(None)
    if bone not in seg.names:
        raise InputError(f"the planning scan's segmentation has no segment {bone!r} "
                         f"(segments: {', '.join(seg.names) or 'none'})", path=case.root,
                         hint="Segment the bone first, or register the whole scan (no --bone).")
    m = seg.mask(bone)
    if not np.any(m):
        raise InputError(f"segment {bone!r} of the planning scan is empty", path=case.root)
    return ndimage.binary_dilation(m, iterations=dilate_voxels) if dilate_voxels else m


def register_scan(case, scan: str, bone: str | None = None, *, metric: str = "auto",
                  progress: Progress | None = None) -> Registration:
    """Register later scan ``scan`` of ``case`` to its planning scan; write transform, report and image.

    Metal (> :data:`METAL_EXCLUDE_HU` in a CT, grown by 3 voxels) is left out of the
    moving scan's samples. With ``bone``, only that segment of the planning scan drives
    the fit and the result is the bone's own transform ``scans/<scan>/to_planning.<bone>.tfm``
    (report ``registration.<bone>.json``, picture ``registration.<bone>.png``); it is also
    the scan's ``to_planning.tfm`` when the scan had none. Without ``bone`` it writes
    ``to_planning.tfm``, ``registration.json`` and ``registration.png``. Files are written
    now (case.json records the scan transform at the next save). GeometryError when the
    registration does not converge (nothing is written then).
    """
    import SimpleITK as sitk
    from scipy import ndimage

    from surgiplan.core.twin.overlay import registration_png

    sm = case._scan(scan)
    if sm is case.model.scans[0]:
        raise InputError(f"scan {scan!r} is the planning scan; register a later scan to it")
    if bone:
        check_bone_name(bone)
    report(progress, 0.0, "reading the scans")
    fixed, moving = scan_volume(case, None), scan_volume(case, scan)
    mask = bone_mask(case, bone) if bone else None
    moving_mask = None
    if str(moving.metadata.get("modality", "CT")).upper() == "CT":
        metal = moving.array > METAL_EXCLUDE_HU
        if np.any(metal):
            moving_mask = ~ndimage.binary_dilation(metal, iterations=3)
    reg = register_rigid(fixed, moving, metric=metric, fixed_mask=mask, moving_mask=moving_mask,
                         mask_name=bone or "", progress=sub_progress(progress, 0.05, 0.85))
    tx = matrix_to_euler(reg.planning_to_scan)

    def write_tfm(tmp: Path) -> None:
        sitk.WriteTransform(tx, str(tmp))

    report(progress, 0.9, "writing the registration")
    folder = case.root / "scans" / sm.name
    as_scan = not bone or sm.to_planning is None  # the scan's transform too
    tag = f".{bone}" if bone else ""
    reg.details["report_json"] = f"scans/{sm.name}/registration{tag}.json"
    reg.details["overlay_png"] = f"scans/{sm.name}/registration{tag}.png"
    reg.details["bone_transform"] = bone_transform_relpath(sm.name, bone) if bone else ""
    reg.details["scan_transform"] = as_scan
    text = json.dumps({"scan": sm.name, "bone": bone or "", **reg.to_dict()}, indent=1) + "\n"
    registration_png(fixed, moving, reg.scan_to_planning, case.root / reg.details["overlay_png"], mask=mask)
    fileio.atomic_write_text(case.root / reg.details["report_json"], text)
    if bone:
        fileio.atomic_write(case.root / reg.details["bone_transform"], write_tfm, min_size=16)
    if as_scan:
        if bone:
            registration_png(fixed, moving, reg.scan_to_planning, folder / "registration.png", mask=mask)
            fileio.atomic_write_text(folder / "registration.json", text)
        case.set_scan_registration(sm.name, write_tfm, {"bone": bone or "", "metric": reg.metric,
                                                        "final_metric": reg.final_metric})
    else:
        case._log(f"register bone {bone} of scan {sm.name} to the planning scan", scan=sm.name, bone=bone,
                  metric=reg.metric, final_metric=reg.final_metric)
        case.dirty = True  # the audit entry is written at the next save
    report(progress, 1.0, "registered")
    return reg
