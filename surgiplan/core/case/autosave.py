"""Autosave snapshots of an open case in the user's data folder, and recovery.

Snapshots never go into the case folder (ARCHITECTURE.md rule 6): they live in
``platformdirs.user_data_dir("surgiplan")/autosave/`` (``SURGIPLAN_AUTOSAVE_DIR``
overrides it), one JSON file per case folder, named by a hash of its absolute
path. :func:`find_autosave` reports a snapshot newer than the case's
``case.json``; :func:`recover_autosave` opens the case and puts the snapshot's
plans and landmarks back (unsaved: the user decides to save).
Surface models added or replaced since the last save are written beside the
snapshot (``<hash>.models/<name>.vtp``) and put back by recovery as unsaved models.
Segmentation seed points changed since the last save (``Case.set_segment_seeds``,
saved as ``scans/<scan>/segmentation.seeds.json``) are carried in the snapshot
(``unsaved_seeds``: scan -> target -> LPS mm points, full float precision) and set
back by recovery, unsaved.

The scan and segmentation of a case that was never saved (or a segmentation edited
since the last save) are carried too, so that a window killed before its first save
gives them back: ``<hash>.scans/<scan>.nrrd`` (the volume, written once per scan: the
``cache`` a :class:`~surgiplan.core.session.Session` keeps remembers what is written)
and ``<hash>.scans/<scan>.seg.nrrd`` (the live segmentation, rewritten only when its
content changed since the last snapshot). :func:`list_autosaves` finds the snapshots
of never-saved cases (no ``case.json`` at their folder) for the window's start-up offer;
:func:`recover_unsaved` gives back their case, scan and segmentation, unsaved.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from surgiplan.core import fileio
from surgiplan.core.case import audit
from surgiplan.core.case.case import CASE_FILE, Case, atomic_write_mesh, atomic_write_text
from surgiplan.core.case.schema import CaseModel, ModelRef, PlanModel
from surgiplan.core.errors import CaseFormatError
from surgiplan.core.planning.plan import Landmark, Plan


def autosave_folder() -> Path:
    """Folder holding autosave snapshots (created on first write)."""
    env = os.environ.get("SURGIPLAN_AUTOSAVE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("surgiplan", appauthor=False)) / "autosave"


def autosave_path(case_root: Path, folder: Path | None = None) -> Path:
    """Snapshot file for the case folder ``case_root``."""
    key = hashlib.sha256(str(Path(case_root).resolve()).encode()).hexdigest()[:20]
    return (folder or autosave_folder()) / f"{key}.json"


def _models_folder(path: Path) -> Path:
    return path.with_name(path.stem + ".models")


def _scans_folder(path: Path) -> Path:
    return path.with_name(path.stem + ".scans")


def segmentation_digest(seg) -> str:
    """A fingerprint of a segmentation's content (segments and voxels) to skip unchanged writes."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr([(s.name, s.label, s.layer, tuple(s.color)) for s in seg.segments]).encode())
    for lay in seg.layers:
        h.update(repr((lay.shape, str(lay.dtype))).encode())
        h.update(memoryview(np.ascontiguousarray(lay)).cast("B"))
    return h.hexdigest()


def _write_scans(path: Path, scans: dict, cache: dict) -> dict:
    """Write the unsaved scans (volume once, segmentation when changed) beside the snapshot.

    ``scans``: ``{name: (volume or None, segmentation or None)}`` (a None volume: the scan
    is in the case folder, only its segmentation changed). Returns the snapshot's ``scans``
    entry ``{name: {"volume": rel or None, "segmentation": rel or None}}``.
    """
    from surgiplan.core.imaging.volume_io import write_volume
    from surgiplan.core.segmentation import write_segmentation

    sdir = _scans_folder(path)
    out = {}
    for name, (volume, seg) in sorted(scans.items()):
        entry = {"volume": None, "segmentation": None}
        if volume is not None:
            f = sdir / f"{name}.nrrd"
            done = cache.get(("volume", name))
            if done is None or done is not volume or not f.is_file():
                write_volume(volume, f)
                cache[("volume", name)] = volume
            entry["volume"] = f"{sdir.name}/{f.name}"
        if seg is not None:
            f = sdir / f"{name}.seg.nrrd"
            digest = segmentation_digest(seg)
            if cache.get(("segmentation", name)) != digest or not f.is_file():
                write_segmentation(seg, f)
                cache[("segmentation", name)] = digest
            entry["segmentation"] = f"{sdir.name}/{f.name}"
        out[name] = entry
    return out


def write_autosave(case: Case, folder: Path | None = None, *, scans: dict | None = None,
                   cache: dict | None = None) -> Path:
    """Snapshot the case's current state (case.json + plans + unsaved models, seeds, scans) atomically.

    Models added or replaced since the last save are written first (each atomically) to
    ``<snapshot>.models/``, then the unsaved scans (``scans``: ``{name: (volume,
    segmentation or None)}``, the scans not yet in the case folder) and the segmentations
    changed since the last save to ``<snapshot>.scans/``; the JSON written last names
    them, so a snapshot never refers to a file that is not complete. ``cache`` (a dict
    kept by the caller between snapshots) skips the volume already written and the
    segmentations unchanged since the last snapshot. Returns the snapshot file.
    """
    path = autosave_path(case.root, folder)
    cache = {} if cache is None else cache
    if cache.get("snapshot") != path:  # another case or folder: nothing is written there yet
        cache.clear()
        cache["snapshot"] = path
    unsaved = sorted(case._unsaved_models)
    mdir = _models_folder(path)
    for name in unsaved:
        atomic_write_mesh(case._models[name], mdir / f"{name}.vtp")
    todo = dict(scans or {})
    listed = {s.name for s in case.model.scans}
    for name in sorted(case._dirty_segs & listed):  # saved scans whose segmentation changed
        if name not in todo and name in case._segs:
            todo[name] = (None, case._segs[name])
    scan_files = _write_scans(path, todo, cache)
    snap = {
        "case_root": str(case.root.resolve()),
        "saved_at": audit.now_iso(),
        "case": case.to_case_model().model_dump(mode="json"),
        "plans": {n: p.to_dict() for n, p in case.plans.items()},
        "unsaved_models": {n: f"{mdir.name}/{n}.vtp" for n in unsaved},
        # seeds changed since the last save (an empty dict: the seeds were cleared)
        "unsaved_seeds": {scan: {t: pts.tolist() for t, pts in case._seeds.get(scan, {}).items()}
                          for scan in sorted(case._dirty_seeds)},
        # scans not in the case folder (volume) and segmentations changed since the last save
        "scans": scan_files,
        "case_saved": (case.root / CASE_FILE).is_file(),
    }
    atomic_write_text(path, json.dumps(snap) + "\n")
    if mdir.is_dir():  # models saved since the previous snapshot are no longer needed here
        for f in mdir.glob("*.vtp"):
            if f.stem not in unsaved:
                f.unlink(missing_ok=True)
    sdir = _scans_folder(path)
    if sdir.is_dir():  # scans saved (or closed) since the previous snapshot
        keep = {Path(rel).name for e in scan_files.values() for rel in e.values() if rel}
        for f in sdir.iterdir():
            if f.name not in keep and f.is_file() and not fileio.is_temporary(f.name):
                f.unlink(missing_ok=True)
                cache.pop(("volume", f.name.removesuffix(".nrrd")), None)
                cache.pop(("segmentation", f.name.removesuffix(".seg.nrrd")), None)
    return path


@dataclass(frozen=True)
class AutosaveInfo:
    """A snapshot newer than the case on disk."""

    path: Path
    saved_at: str
    case_root: Path


def find_autosave(case_root: str | Path, folder: Path | None = None) -> AutosaveInfo | None:
    """The autosave of ``case_root`` if it is newer than its ``case.json``, else None."""
    case_root = Path(case_root)
    path = autosave_path(case_root, folder)
    if not path.is_file():
        return None
    case_file = case_root / CASE_FILE
    if case_file.exists() and path.stat().st_mtime <= case_file.stat().st_mtime:
        return None
    try:
        saved_at = json.loads(path.read_text(encoding="utf-8")).get("saved_at", "")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return None
    return AutosaveInfo(path, saved_at, case_root)


def _read_snapshot(path: Path) -> dict:
    """The snapshot's parts, checked: case model, plans, unsaved models, seeds, scans.

    CaseFormatError naming the snapshot when anything is damaged or missing.
    """
    import pyvista as pv

    from surgiplan.core.case.seeds import SEEDS_VERSION, SeedsModel, check_seeds

    try:
        snap = json.loads(path.read_text(encoding="utf-8"))
        cm = CaseModel.model_validate(snap["case"])
        plans = {n: Plan.from_model(PlanModel.model_validate(d)) for n, d in snap["plans"].items()}
        extra = {}
        for name, rel in snap.get("unsaved_models", {}).items():
            ref = next((m for m in cm.models if m.name == name), None)
            f = path.parent / rel
            if ref is None or not f.is_file() or Path(rel).name != f"{name}.vtp":
                raise ValueError(f"unsaved model {name!r} missing ({f})")
            mesh = pv.read(str(f))
            if mesh.n_points == 0:
                raise ValueError(f"unsaved model file {f} is empty")
            extra[name] = (ModelRef.model_validate(ref.model_dump()), mesh)
        seeds = {}
        for scan, targets in snap.get("unsaved_seeds", {}).items():
            m = SeedsModel(schema_version=SEEDS_VERSION, scan=scan, seeds=targets)  # finite, bounded
            seeds[scan] = check_seeds({t: pts for t, pts in m.seeds.items()})
        scans = _read_scans(path, snap.get("scans", {}))
    except Exception as exc:  # noqa: BLE001 - any damage means no recovery
        raise CaseFormatError(f"autosave cannot be read ({exc})", path=path,
                              hint="Open the case without recovery; the case itself is unchanged.") from None
    return {"snap": snap, "case": cm, "plans": plans, "models": extra, "seeds": seeds, "scans": scans}


def _read_scans(path: Path, entries: dict) -> dict:
    """``{name: (Volume or None, Segmentation or None)}`` from the snapshot's ``scans`` entry."""
    from surgiplan.core.case.schema import check_name
    from surgiplan.core.imaging.volume_io import read_volume
    from surgiplan.core.segmentation import read_segmentation

    if not isinstance(entries, dict):
        raise ValueError("scans is not a mapping")
    sdir = _scans_folder(path)
    out = {}
    for name, entry in entries.items():
        check_name(name, "scan name")
        vol = seg = None
        for key, suffix in (("volume", ".nrrd"), ("segmentation", ".seg.nrrd")):
            rel = entry.get(key)
            if rel is None:
                continue
            f = path.parent / rel
            if Path(rel) != Path(sdir.name) / f"{name}{suffix}" or not f.is_file():
                raise ValueError(f"the {key} of scan {name!r} is missing ({f})")
            if key == "volume":
                vol = read_volume(f)
            else:
                seg = read_segmentation(f, reference=vol)
        out[name] = (vol, seg)
    return out


def _apply_snapshot(case: Case, parts: dict, path: Path, on_disk: set[str]) -> None:
    """Put the snapshot's plans, landmarks, models, seeds and saved scans' segmentations into ``case``."""
    cm, extra = parts["case"], parts["models"]
    # models on disk are the truth, unless the snapshot holds a newer (unsaved) version
    cm.models = [m for m in cm.models if m.name in on_disk or m.name in extra]
    listed = {s.name for s in case.model.scans}
    cm.scans = [s for s in cm.scans if s.name in listed]  # a scan the case folder does not hold waits
    case.model = cm
    for name, (ref, mesh) in extra.items():
        case.add_model(name, mesh, scan=ref.scan, segment=ref.segment)
    case.plans = parts["plans"]
    case.landmarks = {k: Landmark.from_model(v) for k, v in cm.landmarks.items()}
    for name, (vol, seg) in parts["scans"].items():
        if vol is None and seg is not None and name in listed:
            case.set_segmentation(seg, name)
    case.dirty = True
    case._log("recovered autosave", autosave=str(path), saved_at=parts["snap"].get("saved_at", ""))


def recover_autosave(case_root: str | Path, folder: Path | None = None, user: str | None = None) -> Case:
    """Open the case with the autosaved plans, landmarks, unsaved models, segmentation seeds and
    segmentations in place (not yet saved)."""
    case = Case.open(case_root, user=user)
    path = autosave_path(case.root, folder)
    parts = _read_snapshot(path)
    on_disk = {m.name for m in case.model.models}
    _apply_snapshot(case, parts, path, on_disk)
    for scan, targets in parts["seeds"].items():
        case.set_segment_seeds(targets, scan)
    return case


@dataclass
class Recovered:
    """A never-saved case given back by :func:`recover_unsaved`: the case (unsaved, its
    folder still only reserved) and its scans ``{name: (Volume, Segmentation or None)}``,
    to be added to the case at its first save."""

    case: Case
    scans: dict


def recover_unsaved(case_root: str | Path, folder: Path | None = None, user: str | None = None) -> Recovered:
    """Give back a case that was never saved from its snapshot: plans, landmarks, models,
    scans and segmentations, all unsaved (nothing is written; the folder appears at the save).

    CaseFormatError when the snapshot is damaged or the case was saved meanwhile (open it
    with :func:`recover_autosave`).
    """
    case_root = Path(case_root)
    path = autosave_path(case_root, folder)
    if (case_root / CASE_FILE).is_file():
        raise CaseFormatError("the case has been saved: open it (and its autosave) as a case",
                              path=case_root)
    if not path.is_file():
        raise CaseFormatError("no autosave of this case", path=path)
    parts = _read_snapshot(path)
    cm = parts["case"]
    cm.scans = []  # the scans come back beside the case, added to it at the first save
    case = Case(case_root, cm.model_copy(deep=True), {}, user=user)
    case._saved_plan_names = set()
    _apply_snapshot(case, parts, path, on_disk=set())
    for scan, targets in parts["seeds"].items():
        case._seeds[scan] = targets  # set_segment_seeds needs the scan in the case
        case._dirty_seeds.add(scan)
    scans = {n: (v, s) for n, (v, s) in parts["scans"].items() if v is not None}
    return Recovered(case, scans)


def list_autosaves(folder: Path | None = None, unsaved_only: bool = True) -> list[AutosaveInfo]:
    """Snapshots in the autosave folder, newest first (by default only those of never-saved
    cases, whose folder holds no ``case.json``; damaged snapshots are skipped)."""
    folder = folder or autosave_folder()
    out = []
    if not folder.is_dir():
        return out
    for path in folder.glob("*.json"):
        try:
            snap = json.loads(path.read_text(encoding="utf-8"))
            root = Path(snap["case_root"])
            saved_at = str(snap.get("saved_at", ""))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if autosave_path(root, folder) != path:
            continue
        if unsaved_only and (root / CASE_FILE).exists():
            continue
        out.append((path.stat().st_mtime, AutosaveInfo(path, saved_at, root)))
    return [info for _, info in sorted(out, key=lambda t: -t[0])]


def discard_autosave(case_root: str | Path, folder: Path | None = None) -> None:
    """Delete the case's snapshot (after a save or when the user declines recovery)."""
    path = autosave_path(Path(case_root), folder)
    if path.exists():
        path.unlink()
    shutil.rmtree(_models_folder(path), ignore_errors=True)
    shutil.rmtree(_scans_folder(path), ignore_errors=True)
