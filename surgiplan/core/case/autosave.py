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
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

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


def write_autosave(case: Case, folder: Path | None = None) -> Path:
    """Snapshot the case's current state (case.json + plans + unsaved models and seeds) atomically.

    Models added or replaced since the last save are written first (each atomically) to
    ``<snapshot>.models/``; the JSON written last names them, so a snapshot never
    refers to a model file that is not complete. Returns the snapshot file.
    """
    path = autosave_path(case.root, folder)
    unsaved = sorted(case._unsaved_models)
    mdir = _models_folder(path)
    for name in unsaved:
        atomic_write_mesh(case._models[name], mdir / f"{name}.vtp")
    snap = {
        "case_root": str(case.root.resolve()),
        "saved_at": audit.now_iso(),
        "case": case.to_case_model().model_dump(mode="json"),
        "plans": {n: p.to_dict() for n, p in case.plans.items()},
        "unsaved_models": {n: f"{mdir.name}/{n}.vtp" for n in unsaved},
        # seeds changed since the last save (an empty dict: the seeds were cleared)
        "unsaved_seeds": {scan: {t: pts.tolist() for t, pts in case._seeds.get(scan, {}).items()}
                          for scan in sorted(case._dirty_seeds)},
    }
    atomic_write_text(path, json.dumps(snap) + "\n")
    if mdir.is_dir():  # models saved since the previous snapshot are no longer needed here
        for f in mdir.glob("*.vtp"):
            if f.stem not in unsaved:
                f.unlink(missing_ok=True)
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


def recover_autosave(case_root: str | Path, folder: Path | None = None, user: str | None = None) -> Case:
    """Open the case with the autosaved plans, landmarks, unsaved models and segmentation seeds
    in place (not yet saved)."""
    import pyvista as pv

    from surgiplan.core.case.seeds import SEEDS_VERSION, SeedsModel, check_seeds

    case = Case.open(case_root, user=user)
    path = autosave_path(case.root, folder)
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
    except Exception as exc:  # noqa: BLE001 - any damage means no recovery
        raise CaseFormatError(f"autosave cannot be read ({exc})", path=path,
                              hint="Open the case without recovery; the case itself is unchanged.") from None
    on_disk = {m.name for m in case.model.models}
    # models on disk are the truth, unless the snapshot holds a newer (unsaved) version
    cm.models = [m for m in cm.models if m.name in on_disk or m.name in extra]
    case.model = cm
    for name, (ref, mesh) in extra.items():
        case.add_model(name, mesh, scan=ref.scan, segment=ref.segment)
    case.plans = plans
    case.landmarks = {k: Landmark.from_model(v) for k, v in cm.landmarks.items()}
    for scan, targets in seeds.items():
        case.set_segment_seeds(targets, scan)
    case.dirty = True
    case._log("recovered autosave", autosave=str(path), saved_at=snap.get("saved_at", ""))
    return case


def discard_autosave(case_root: str | Path, folder: Path | None = None) -> None:
    """Delete the case's snapshot (after a save or when the user declines recovery)."""
    path = autosave_path(Path(case_root), folder)
    if path.exists():
        path.unlink()
    shutil.rmtree(_models_folder(path), ignore_errors=True)
