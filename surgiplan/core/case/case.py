"""The case folder (ARCHITECTURE.md rule 6) and its one global undo history.

::

    MyCase/
      case.json                 versioned schema (case_schema.CaseModel)
      history.jsonl             append-only audit log (audit.py)
      scans/<scan>/volume.nrrd, segmentation.seg.nrrd, to_planning.tfm
      scans/<scan>/segmentation.seeds.json  seed points per target structure (LPS mm;
                                segment_seeds.py: a sidecar, case.json's schema unchanged)
      models/<segment>.vtp      surface models, LPS mm
      plans/<plan>/plan.json    implants, landmarks, resections, measurements, lock
      studies/<study>/...       simulation studies (simulation engineer)
      reports/<plan>.pdf

Every edit made through a :class:`Case` method is a small undoable command on
``case.history`` (the same :class:`~surgiplan.core.undo.History` the
segmentation engine pushes its label-map patches onto) and an audit entry that
is appended to ``history.jsonl`` when the case is saved. Use :meth:`Case.undo`
/ :meth:`Case.redo` so that undo steps are audited too.

Saving is one transaction (:mod:`case_save`): every file is staged through the
one write path (:mod:`surgiplan.core.fileio`), a journal decides the save, then the
files are renamed into place (``case.json`` last) and the audit entries appended; a
kill at any moment leaves the old or the new case. Opening writes only to finish a
save that was interrupted after it was decided (and to remove stale temporaries).
Paths inside the case never cross a symbolic link or leave the folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import numpy as np

from surgiplan.core import fileio
from surgiplan.core.case import audit
from surgiplan.core.case import save as case_save
from surgiplan.core.case.schema import (
    SCHEMA_VERSION,
    CaseModel,
    LandmarkModel,
    LockInfo,
    ModelRef,
    PatientRef,
    PlanRef,
    ScanModel,
    check_name,
    load_case_json,
    load_plan_json,
    to_json_text,
)
from surgiplan.core.errors import CaseFormatError, InputError
from surgiplan.core.jobs import Progress, report
from surgiplan.core.planning.plan import Landmark, PlacedImplant, Plan, Resection
from surgiplan.core.planning.transforms import check_rigid
from surgiplan.core.undo import FunctionCommand, History

CASE_FILE = "case.json"
#: The landmark ``source`` values the case schema accepts.
LANDMARK_SOURCES: tuple[str, ...] = get_args(LandmarkModel.model_fields["source"].annotation)
AUDIT_FILE = "history.jsonl"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through the one write path (:func:`fileio.atomic_write_text`)."""
    fileio.atomic_write_text(path, text)


def mesh_bytes(mesh) -> int:
    """Upper bound of a binary VTP file's size for ``mesh`` (bytes): points, cells, arrays."""
    n = int(mesh.n_points) * 24 + int(mesh.n_cells) * 32
    for arrays in (mesh.point_data, mesh.cell_data):
        for name in arrays.keys():
            n += int(np.asarray(arrays[name]).nbytes)
    return n + 4096


def _vtp_verify(mesh):
    """Check a written VTP without loading it: the header's counts and the closing tag.

    VTK writes ``</VTKFile>`` last, so a write cut short by a full disk lacks it; the
    first ``<Piece`` must state the mesh's point and polygon counts.
    """
    import re

    def verify(tmp: Path) -> None:
        with open(tmp, "rb") as fh:
            head = fh.read(8192)
            fh.seek(max(0, fh.seek(0, 2) - 64))
            tail = fh.read()
        if b"</VTKFile>" not in tail:
            raise InputError("the written model is cut short (no closing tag)", path=tmp)
        m = re.search(rb'<Piece[^>]*NumberOfPoints="(\d+)"[^>]*NumberOfPolys="(\d+)"', head)
        if m is None or int(m.group(1)) != mesh.n_points or int(m.group(2)) != mesh.GetNumberOfPolys():
            raise InputError("the written model's header does not state its points and cells", path=tmp)
    return verify


def write_vtp(mesh, path: Path) -> Callable[[Path], None]:
    """The writer for :func:`fileio.stage`/``atomic_write`` of a pyvista mesh as binary VTP."""
    return lambda tmp: mesh.save(str(tmp), binary=True)


def atomic_write_mesh(mesh, path: Path) -> None:
    """Save a pyvista mesh to ``path`` (.vtp) through the one write path, read back to verify."""
    fileio.atomic_write(path, write_vtp(mesh, path), need_bytes=mesh_bytes(mesh),
                        verify=_vtp_verify(mesh), min_size=64)


def _inside(root: Path, rel: str | Path) -> Path:
    """``root/rel`` checked to stay inside the case folder without crossing a symbolic link."""
    try:
        return fileio.check_inside(root, rel, "case file")
    except InputError as exc:
        raise CaseFormatError(exc.message, path=exc.path, hint=exc.hint) from None


def _insert_at(d: dict, index: int, key, value) -> None:
    """Put ``key: value`` back into ``d`` (in place) at position ``index`` of its order."""
    items = list(d.items())
    items.insert(index, (key, value))
    d.clear()
    d.update(items)


class Case:
    """An open case folder: its plans, landmarks, models and one undo history.

    Create with :meth:`Case.new` or :meth:`Case.open`; keep the object while the
    user works and call :meth:`save`.
    """

    def __init__(self, root: Path, model: CaseModel, plans: dict[str, Plan], user: str | None = None):
        self.root = Path(root)
        self.model = model
        self.plans: dict[str, Plan] = plans
        self.landmarks: dict[str, Landmark] = {
            k: Landmark.from_model(v) for k, v in model.landmarks.items()
        }
        self.user = user or audit.current_user()
        self.history = History()
        self._pending_audit: list[dict[str, Any]] = []
        self._models: dict[str, Any] = {}
        self._unsaved_models: set[str] = set()
        self._saved_plan_names = {p.name for p in model.plans}
        self._segs: dict[str, Any] = {}
        self._dirty_segs: set[str] = set()
        self._seeds: dict[str, dict[str, np.ndarray]] = {}
        self._dirty_seeds: set[str] = set()
        self.dirty = False
        #: Derived data cached for interactive use (e.g. bone distance fields, bone_fields.py).
        self.derived: dict[str, Any] = {}
        #: What opening did to finish an interrupted save (empty normally).
        self.recovery_notes: list[str] = []
        self.history.subscribe(self._mark_dirty)

    def _mark_dirty(self) -> None:
        self.dirty = True

    # ------------------------------------------------------------ open / new
    @classmethod
    def new(cls, root: str | Path, name: str | None = None, *, patient_name: str = "",
            patient_id: str = "", user: str | None = None, save: bool = True) -> Case:
        """Create an empty case for the folder ``root`` (must not exist or be empty).

        With ``save`` (default) the folder is written now; otherwise the case lives in
        memory (unsaved, ``dirty``) and the folder appears at its first :meth:`save`.
        """
        root = Path(root)
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise InputError("cannot create a case here: the folder exists and is not empty", path=root,
                             hint="Choose a new folder name.")
        name = name or root.name
        try:
            check_name(name, "case name")
        except ValueError as exc:
            raise InputError(str(exc), path=root) from None
        now = audit.now_iso()
        model = CaseModel(schema_version=SCHEMA_VERSION, name=name, created=now, modified=now,
                          patient=PatientRef(name=patient_name, id=patient_id))
        case = cls(root, model, {}, user=user)
        case._log("case created", case=name)
        if save:
            case.save()
        else:
            case.dirty = True
        return case

    @classmethod
    def open(cls, root: str | Path, user: str | None = None) -> Case:
        """Open the case folder ``root`` (or its ``case.json``); refuses damaged/newer files, never writes."""
        root = Path(root)
        if root.name == CASE_FILE and root.is_file():
            root = root.parent
        if not root.is_dir():
            raise CaseFormatError("case folder not found", path=root, hint="Check the path.")
        notes = case_save.recover(root) if (root / CASE_FILE).is_file() else []
        model = load_case_json(_inside(root, CASE_FILE))
        case_save.check_audit_target(root / AUDIT_FILE)
        plans: dict[str, Plan] = {}
        for ref in model.plans:
            pm = load_plan_json(_inside(root, ref.path))
            if pm.name != ref.name:
                raise CaseFormatError(
                    f"plan.json names its plan {pm.name!r} but case.json lists it as {ref.name!r}",
                    path=root / ref.path, hint="The case is inconsistent; nothing was changed.")
            if ref.name in plans:
                raise CaseFormatError(f"case.json lists plan {ref.name!r} twice", path=root / CASE_FILE)
            plans[ref.name] = Plan.from_model(pm)
        for m in model.models:
            if not _inside(root, m.path).is_file():
                raise CaseFormatError(f"model {m.name!r} file {m.path} is missing", path=root / CASE_FILE,
                                      hint="Restore the models folder; nothing was changed.")
        for sm in model.scans:
            for rel in (sm.volume, sm.segmentation):
                if rel:
                    _inside(root, rel)
        case = cls(root, model, plans, user=user)
        case_save.log_recovery(root, notes, case.user)
        case.recovery_notes = notes
        return case

    # ----------------------------------------------------------------- save
    def to_case_model(self) -> CaseModel:
        m = self.model.model_copy(deep=True)
        m.plans = [PlanRef(name=n, path=f"plans/{n}/plan.json") for n in self.plans]
        m.landmarks = {k: v.to_model() for k, v in self.landmarks.items()}
        return m

    def to_dict(self) -> dict[str, Any]:
        """The whole saved state (case.json + every plan.json) as JSON-ready data."""
        cm = self.to_case_model().model_dump(mode="json")
        cm.pop("modified", None)
        plans = {}
        for n, p in self.plans.items():
            d = p.to_dict()
            d.pop("modified", None)
            plans[n] = d
        return {"case": cm, "plans": plans}

    def save(self, progress: Progress | None = None) -> None:
        """Write the case folder as one transaction (see :mod:`case_save`) and flush the audit log.

        Every changed file is staged first (models, segmentations, seeds, plans, ``case.json``);
        then a journal decides the save and the files are renamed into place, ``case.json``
        last, and the audit entries appended. A failure before the journal (disk full,
        read-only folder) raises a WriteError and leaves the case as it was; a kill at
        any moment leaves the old or the new case (the next open finishes a decided save).
        """
        for sub in ("", "scans", "models", "plans", "studies", "reports"):
            folder = self.root / sub
            if folder.is_symlink():
                raise CaseFormatError("is a symbolic link, which surgiplan does not follow inside a case",
                                      path=folder, hint="Replace the link with the real folder.")
            fileio.ensure_folder(folder)
        case_save.check_audit_target(self.root / AUDIT_FILE)
        now = audit.now_iso()
        self._fill_measurements()
        with case_save.SaveTransaction(self.root) as tx:
            models = sorted(self._unsaved_models)
            for i, name in enumerate(models):
                report(progress, 0.1 + 0.5 * i / max(1, len(models)), f"saving model {name}")
                mesh = self._models[name]
                tx.stage_with(self._model_ref(name).path, write_vtp(mesh, Path()),
                              need_bytes=mesh_bytes(mesh), verify=_vtp_verify(mesh), min_size=64)
            if self._dirty_segs:
                from surgiplan.core.segmentation import write_segmentation

                for name in sorted(self._dirty_segs):
                    report(progress, 0.6, f"saving segmentation of {name}")
                    seg = self._segs[name]
                    tx.stage_with(self._scan(name).segmentation,
                                  lambda tmp, seg=seg: write_segmentation(seg, tmp))
            seeds_removed = self._stage_seeds(tx)
            report(progress, 0.7, "saving plans")
            plans = {}
            for plan in self.plans.values():
                plans[plan.name] = plan.modified
                plan.modified = now
                tx.stage_text(f"plans/{plan.name}/plan.json", to_json_text(plan.to_model()))
            before = self.model
            self.model.modified = now
            self.model = self.to_case_model()
            try:
                tx.stage_text(CASE_FILE, to_json_text(self.model))
                for old in sorted(self._saved_plan_names - set(self.plans)):
                    if (self.root / "plans" / old).is_dir():
                        tx.remove_folder(f"plans/{old}")
                pending = self._pending_audit + [audit.entry("saved", self.user)]
                report(progress, 0.9, "writing the case")
                tx.commit(pending)
            except BaseException:
                self.model = before
                for plan in self.plans.values():
                    if plan.name in plans:
                        plan.modified = plans[plan.name]
                raise
        for path in seeds_removed:
            path.unlink(missing_ok=True)
        self._unsaved_models.clear()
        self._dirty_segs.clear()
        self._dirty_seeds -= {s.name for s in self.model.scans}
        self._saved_plan_names = set(self.plans)
        self._pending_audit = []
        self.dirty = False
        report(progress, 1.0, "saved")

    # ------------------------------------------------------------- save as
    def check_new_location(self, root: str | Path) -> Path:
        """``root`` checked as a Save As target: a new or empty folder outside this case.

        InputError naming the folder otherwise (nothing is written).
        """
        root = Path(root).expanduser()
        if not root.is_absolute():
            root = Path.cwd() / root
        here, there = self.root.resolve(), root.resolve()
        if there == here or here in there.parents:
            raise InputError("cannot save the case inside itself", path=root,
                             hint="Choose a folder outside the case folder.")
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise InputError("cannot save the case here: the folder exists and is not empty", path=root,
                             hint="Choose a new folder name (or an empty folder).")
        return root

    def _copy_files_to(self, new: Path, progress: Progress | None = None) -> None:
        """Copy the saved files of the case folder (scans, models, seeds, audit log, studies,
        reports) to ``new`` through the one write path; ``case.json`` and plans are written by
        the save, temporaries, journals and symbolic links are left behind."""
        import os
        import shutil

        old = self.root
        if not (old / CASE_FILE).is_file():
            return
        files = []
        for dirpath, dirnames, filenames in os.walk(old, followlinks=False):
            rel_dir = Path(dirpath).relative_to(old)
            if rel_dir == Path("."):
                dirnames[:] = [d for d in dirnames if d != "plans"]
            for fn in filenames:
                src = Path(dirpath) / fn
                rel = rel_dir / fn
                if (rel in (Path(CASE_FILE), Path(case_save.JOURNAL)) or fileio.is_temporary(fn)
                        or src.is_symlink() or not src.is_file()):
                    continue
                files.append((src, rel))
        for i, (src, rel) in enumerate(files):
            report(progress, 0.5 * i / max(1, len(files)), f"copying {rel}")
            size = src.stat().st_size
            fileio.atomic_write(_inside(new, rel), lambda tmp, src=src: shutil.copyfile(src, tmp),
                                expect_size=size, min_size=0)

    def save_as(self, root: str | Path, progress: Progress | None = None,
                prepare: Callable[[Case], None] | None = None) -> Path:
        """Write the whole case to the new folder ``root`` and work there from now on.

        The saved files (scans, segmentations, models, seeds, audit log, studies, reports)
        are copied, then the case is saved there as one transaction (unsaved edits included;
        ``prepare(case)`` runs just before, e.g. to add a scan not yet in the case). The
        original folder is not touched. ``root`` must be new or empty and outside the case
        (:meth:`check_new_location`). On a failure the case keeps working on its old folder
        and the new folder is left as it was. Returns the new folder.
        """
        import shutil

        from surgiplan.core.jobs import sub_progress

        new = self.check_new_location(root)
        existed = new.exists()
        kept = (self.root, self.model.model_copy(deep=True), set(self._unsaved_models),
                set(self._dirty_segs), set(self._dirty_seeds), set(self._saved_plan_names),
                list(self._pending_audit), dict(self._segs), self.dirty)
        try:
            fileio.ensure_folder(new)
            self._copy_files_to(new, progress)
            old_root = self.root
            self.root = new
            try:
                check_name(new.name, "case name")
                self.model.name = new.name
            except ValueError:
                pass
            self._saved_plan_names = set()  # plans/ is written afresh by the save
            self._log("saved as", source=str(old_root), folder=str(new))
            if prepare is not None:
                prepare(self)
            self.save(progress=sub_progress(progress, 0.5, 1.0))
        except BaseException:
            (self.root, self.model, self._unsaved_models, self._dirty_segs, self._dirty_seeds,
             self._saved_plan_names, self._pending_audit, self._segs, self.dirty) = kept
            shutil.rmtree(new, ignore_errors=True)
            if existed:
                new.mkdir(exist_ok=True)
            raise
        return new

    def _fill_measurements(self) -> None:
        """Store every plan's current measurements in it (``plan.json`` ``measurements``).

        ``{"values": {key: {name, value, unit, definition, missing, details}}}`` as of the
        plan's ``modified`` time; a locked plan keeps the values it was locked with. A
        measurement that fails is recorded as ``{"error": ...}``: saving never fails because of it.
        """
        from surgiplan.core.planning.measurements import measure_plan

        for plan in self.plans.values():
            if plan.is_locked and plan.measurements:
                continue
            try:
                rows = measure_plan(self, plan.name, expensive=False)
            except Exception as exc:  # noqa: BLE001 - derived data must not block a save
                plan.measurements = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            values = {}
            for r in rows:
                d = r.to_dict()
                d.pop("key")
                values[r.key] = d
            plan.measurements = {"values": values}

    def audit_log(self) -> list[dict[str, Any]]:
        """Saved audit entries followed by the not yet saved ones."""
        saved, _ = audit.read_audit(self.root / AUDIT_FILE)
        return saved + list(self._pending_audit)

    def _log(self, what: str, **details: Any) -> None:
        self._pending_audit.append(audit.entry(what, self.user, **details))

    # ----------------------------------------------------------------- undo
    def undo(self) -> str | None:
        """Undo the last edit (any engine's); returns its description or None."""
        cmd = self.history.undo()
        if cmd is not None:
            self._log(f"undo: {cmd.description}")
        return None if cmd is None else cmd.description

    def redo(self) -> str | None:
        """Redo the last undone edit; returns its description or None."""
        cmd = self.history.redo()
        if cmd is not None:
            self._log(f"redo: {cmd.description}")
        return None if cmd is None else cmd.description

    def _do(self, description: str, do: Callable[[], None], undo: Callable[[], None], **details) -> None:
        self.history.push(FunctionCommand(description, do, undo, 512), apply=True)
        self._log(description, **details)

    # ---------------------------------------------------------------- plans
    def plan(self, name: str) -> Plan:
        """The plan called ``name``; InputError listing the plans otherwise."""
        try:
            return self.plans[name]
        except KeyError:
            have = ", ".join(self.plans) or "none"
            raise InputError(f"case {self.model.name!r} has no plan {name!r} (plans: {have})",
                             path=self.root) from None

    def _editable(self, name: str) -> Plan:
        p = self.plan(name)
        if p.locked is not None:
            raise InputError(
                f"plan {name!r} is locked (approved by {p.locked.by} at {p.locked.at}); "
                "copy it or unlock it to change it", path=self.root)
        return p

    def _check_new_name(self, name: str) -> None:
        try:
            check_name(name, "plan name")
        except ValueError as exc:
            raise InputError(str(exc), path=self.root) from None
        if name.lower() in {n.lower() for n in self.plans}:
            raise InputError(f"a plan called {name!r} already exists", path=self.root,
                             hint="Choose another name.")

    def _insert_plan(self, plan: Plan, index: int | None = None) -> None:
        items = list(self.plans.items())
        index = len(items) if index is None else index
        items.insert(index, (plan.name, plan))
        self.plans = dict(items)

    def new_plan(self, name: str, note: str = "") -> Plan:
        """Add an empty plan (undoable)."""
        self._check_new_name(name)
        now = audit.now_iso()
        plan = Plan(name=name, note=note, created=now, modified=now)
        self._do(f"new plan {name}", lambda: self._insert_plan(plan), lambda: self.plans.pop(name),
                 plan=name)
        return plan

    def copy_plan(self, source: str, new_name: str) -> Plan:
        """Duplicate plan ``source`` as ``new_name`` (unlocked; undoable)."""
        src = self.plan(source)
        self._check_new_name(new_name)
        plan = src.duplicate(new_name, audit.now_iso())
        self._do(f"copy plan {source} to {new_name}", lambda: self._insert_plan(plan),
                 lambda: self.plans.pop(new_name), plan=new_name, source=source)
        return plan

    def rename_plan(self, old: str, new: str) -> None:
        """Rename a plan, keeping its place in the list (undoable)."""
        plan = self._editable(old)
        if new.lower() != old.lower():
            self._check_new_name(new)
        else:
            check_name(new, "plan name")

        def ren(a: str, b: str) -> None:
            self.plans = {(b if k == a else k): v for k, v in self.plans.items()}
            plan.name = b

        self._do(f"rename plan {old} to {new}", lambda: ren(old, new), lambda: ren(new, old),
                 plan=new, old_name=old)

    def delete_plan(self, name: str) -> None:
        """Remove a plan (undoable; its folder goes at the next save)."""
        plan = self._editable(name)
        index = list(self.plans).index(name)
        self._do(f"delete plan {name}", lambda: self.plans.pop(name),
                 lambda: self._insert_plan(plan, index), plan=name)

    def annotate_plan(self, name: str, note: str) -> None:
        """Set the plan's free-text note (undoable)."""
        plan = self.plan(name)
        before = plan.note
        self._do(f"annotate plan {name}", lambda: setattr(plan, "note", note),
                 lambda: setattr(plan, "note", before), plan=name)

    def lock_plan(self, name: str, note: str = "", by: str | None = None) -> LockInfo:
        """Approve and lock a plan (who and when recorded; undoable)."""
        plan = self._editable(name)
        info = LockInfo(by=by or self.user, at=audit.now_iso(), note=note)
        self._do(f"lock plan {name}", lambda: setattr(plan, "locked", info),
                 lambda: setattr(plan, "locked", None), plan=name, note=note)
        return info

    def unlock_plan(self, name: str) -> None:
        """Remove a plan's approval lock (undoable, audited)."""
        plan = self.plan(name)
        before = plan.locked
        if before is None:
            return
        self._do(f"unlock plan {name}", lambda: setattr(plan, "locked", None),
                 lambda: setattr(plan, "locked", before), plan=name)

    # -------------------------------------------------------------- implants
    def add_implant(self, plan_name: str, implant: PlacedImplant) -> PlacedImplant:
        """Place a new implant in a plan (undoable). Its id must be new in the plan."""
        plan = self._editable(plan_name)
        if implant.id in plan.implants:
            raise InputError(f"plan {plan_name!r} already has an implant {implant.id!r}")
        try:
            check_name(implant.id, "implant id")
        except ValueError as exc:
            raise InputError(str(exc)) from None
        implant.transform = check_rigid(implant.transform, f"transform of {implant.id}").copy()
        self._do(f"place {implant.id} ({implant.catalog_id} size {implant.size}) in {plan_name}",
                 lambda: plan.implants.__setitem__(implant.id, implant),
                 lambda: plan.implants.pop(implant.id), plan=plan_name, implant=implant.id,
                 catalog_id=implant.catalog_id, size=implant.size)
        return implant

    def implant(self, plan_name: str, implant_id: str) -> PlacedImplant:
        plan = self.plan(plan_name)
        try:
            return plan.implants[implant_id]
        except KeyError:
            raise InputError(f"plan {plan_name!r} has no implant {implant_id!r} "
                             f"(implants: {', '.join(plan.implants) or 'none'})") from None

    def set_implant_transform(self, plan_name: str, implant_id: str, transform: np.ndarray,
                              description: str | None = None) -> None:
        """Move an implant to ``transform`` (4x4, own frame -> LPS mm; undoable)."""
        self._editable(plan_name)
        imp = self.implant(plan_name, implant_id)
        after = check_rigid(transform, f"transform of {implant_id}").copy()
        before = imp.transform.copy()
        self._do(description or f"move {implant_id} in {plan_name}",
                 lambda: setattr(imp, "transform", after.copy()),
                 lambda: setattr(imp, "transform", before.copy()),
                 plan=plan_name, implant=implant_id, transform=after.round(6).tolist())

    def set_implant_size(self, plan_name: str, implant_id: str, size: str,
                         options: dict[str, float | str] | None = None) -> None:
        """Change an implant's size (and options such as head offset; undoable)."""
        self._editable(plan_name)
        imp = self.implant(plan_name, implant_id)
        b_size, b_opt = imp.size, dict(imp.options)
        a_opt = dict(imp.options) if options is None else {**imp.options, **options}

        def setv(s, o):
            imp.size, imp.options = s, dict(o)

        self._do(f"resize {implant_id} to {size} in {plan_name}", lambda: setv(size, a_opt),
                 lambda: setv(b_size, b_opt), plan=plan_name, implant=implant_id, size=size)

    def remove_implant(self, plan_name: str, implant_id: str) -> None:
        """Remove an implant from a plan (undoable)."""
        plan = self._editable(plan_name)
        imp = self.implant(plan_name, implant_id)
        index = list(plan.implants).index(implant_id)
        self._do(f"remove {implant_id} from {plan_name}", lambda: plan.implants.pop(implant_id),
                 lambda: _insert_at(plan.implants, index, implant_id, imp),
                 plan=plan_name, implant=implant_id)

    # ------------------------------------------------------------ landmarks
    def set_landmark(self, name: str, position, direction=None, *, source: str = "manual",
                     definition: str = "", plan: str | None = None) -> Landmark:
        """Set (add or move) a landmark of the case, or of ``plan`` when given (undoable)."""
        if source not in LANDMARK_SOURCES:
            raise InputError(f"landmark {name!r}: source {source!r} is not allowed "
                             f"(allowed: {', '.join(LANDMARK_SOURCES)})")
        target = self.landmarks if plan is None else self._editable(plan).landmarks
        pos = np.asarray(position, dtype=float).reshape(3)
        if not np.all(np.isfinite(pos)):
            raise InputError(f"landmark {name!r}: position must be three finite numbers (mm)")
        d = None
        if direction is not None:
            d = np.asarray(direction, dtype=float).reshape(3)
            n = np.linalg.norm(d)
            if not np.isfinite(n) or n < 1e-12:
                raise InputError(f"landmark {name!r}: direction has no length")
            d = d / n
        new = Landmark(pos, d, source, definition or (target[name].definition if name in target else ""))
        before = target.get(name)

        def restore():
            if before is None:
                target.pop(name, None)
            else:
                target[name] = before

        where = f"plan {plan}" if plan else "case"
        self._do(f"set landmark {name} ({where})", lambda: target.__setitem__(name, new), restore,
                 landmark=name, plan=plan or "", position=pos.round(4).tolist())
        return new

    def all_landmarks(self, plan: str | None = None) -> dict[str, Landmark]:
        """Case landmarks overridden by the plan's own landmarks."""
        out = dict(self.landmarks)
        if plan is not None:
            out.update(self.plan(plan).landmarks)
        return out

    # ------------------------------------------------------------ resections
    def set_resection(self, plan_name: str, resection: Resection) -> None:
        """Add or replace a resection plane in a plan (undoable)."""
        plan = self._editable(plan_name)
        before = plan.resections.get(resection.name)

        def restore():
            if before is None:
                plan.resections.pop(resection.name, None)
            else:
                plan.resections[resection.name] = before

        self._do(f"set resection {resection.name} in {plan_name}",
                 lambda: plan.resections.__setitem__(resection.name, resection), restore,
                 plan=plan_name, resection=resection.name)

    def remove_resection(self, plan_name: str, name: str) -> None:
        """Remove resection plane ``name`` from a plan, keeping its place on undo (undoable)."""
        plan = self._editable(plan_name)
        if name not in plan.resections:
            raise InputError(f"plan {plan_name!r} has no resection {name!r} "
                             f"(resections: {', '.join(plan.resections) or 'none'})", path=self.root)
        res = plan.resections[name]
        index = list(plan.resections).index(name)
        self._do(f"remove resection {name} from {plan_name}", lambda: plan.resections.pop(name),
                 lambda: _insert_at(plan.resections, index, name, res), plan=plan_name, resection=name)

    # ------------------------------------------------- hand measurements
    def add_manual_measurement(self, plan_name: str, measurement, *, replace: bool = False) -> None:
        """Add a hand measurement (ruler, angle, diameter; measurements/manual.py) to a plan (undoable).

        A measurement of the same name is an error unless ``replace`` (then it is replaced in place).
        """
        plan = self._editable(plan_name)
        name = measurement.name
        before = plan.manual.get(name)
        if before is not None and not replace:
            raise InputError(f"plan {plan_name!r} already has a measurement {name!r}",
                             hint="Choose another name, or replace it.", path=self.root)
        index = list(plan.manual).index(name) if before is not None else len(plan.manual)

        def restore():
            plan.manual.pop(name, None)
            if before is not None:
                _insert_at(plan.manual, index, name, before)

        def do():
            plan.manual.pop(name, None)
            _insert_at(plan.manual, index, name, measurement)

        self._do(f"measure {name} in {plan_name}", do, restore, plan=plan_name, measurement=name,
                 kind=measurement.kind, value=round(float(measurement.value), 4), unit=measurement.unit)

    def remove_manual_measurement(self, plan_name: str, name: str) -> None:
        """Remove hand measurement ``name`` from a plan, keeping its place on undo (undoable)."""
        plan = self._editable(plan_name)
        if name not in plan.manual:
            raise InputError(f"plan {plan_name!r} has no measurement {name!r} "
                             f"(measurements: {', '.join(plan.manual) or 'none'})", path=self.root)
        old = plan.manual[name]
        index = list(plan.manual).index(name)
        self._do(f"remove measurement {name} from {plan_name}", lambda: plan.manual.pop(name),
                 lambda: _insert_at(plan.manual, index, name, old), plan=plan_name, measurement=name)

    # ---------------------------------------------------------------- models
    def _model_ref(self, name: str) -> ModelRef:
        for m in self.model.models:
            if m.name == name:
                return m
        raise InputError(f"case {self.model.name!r} has no model {name!r} "
                         f"(models: {', '.join(self.model_names) or 'none'})", path=self.root)

    @property
    def model_names(self) -> list[str]:
        return [m.name for m in self.model.models]

    def add_model(self, name: str, mesh, *, scan: str = "", segment: str = "") -> None:
        """Add or replace surface model ``name`` (pyvista PolyData, LPS mm); written at save."""
        try:
            check_name(name, "model name")
        except ValueError as exc:
            raise InputError(str(exc)) from None
        if mesh is None or mesh.n_points == 0:
            raise InputError(f"model {name!r} is empty (no points)")
        self.model.models = [m for m in self.model.models if m.name != name]
        self.model.models.append(ModelRef(name=name, path=f"models/{name}.vtp", scan=scan,
                                          segment=segment or name))
        self._models[name] = mesh
        self._unsaved_models.add(name)
        self.dirty = True
        self._log(f"add model {name}", model=name, n_points=int(mesh.n_points))

    def get_model(self, name: str):
        """Surface model ``name`` as pyvista PolyData (LPS mm), loaded on first use."""
        if name not in self._models:
            import pyvista as pv

            ref = self._model_ref(name)
            path = _inside(self.root, ref.path)
            try:
                self._models[name] = pv.read(str(path))
            except Exception as exc:  # noqa: BLE001 - VTK raises various errors
                raise CaseFormatError(f"model file cannot be read ({exc})", path=path,
                                      hint="Rebuild the model from its segmentation.") from None
        return self._models[name]

    # ----------------------------------------------------------------- scans
    def add_scan(self, name: str, volume, *, kind: str = "planning", segmentation=None,
                 date: str = "") -> ScanModel:
        """Store a scan as ``scans/<name>/volume.nrrd`` (written now, atomically) and list it.

        ``kind`` is ``planning``, ``post-op`` or ``follow-up``; ``date`` ISO ``YYYY-MM-DD``
        (the timeline's order is the order scans were added; the first is the planning scan).
        """
        from surgiplan.core.imaging.volume_io import write_volume

        try:
            check_name(name, "scan name")
        except ValueError as exc:
            raise InputError(str(exc)) from None
        fileio.ensure_folder(self.root / "scans")
        folder = _inside(self.root, f"scans/{name}")
        fileio.ensure_folder(folder)
        write_volume(volume, _inside(self.root, f"scans/{name}/volume.nrrd"))
        seg_path = None
        if segmentation is not None:
            from surgiplan.core.segmentation import write_segmentation  # segmentation engineer

            write_segmentation(segmentation, folder / "segmentation.seg.nrrd")
            seg_path = f"scans/{name}/segmentation.seg.nrrd"
            self._segs[name] = segmentation
        md = getattr(volume, "metadata", {}) or {}
        scan = ScanModel(name=name, kind=kind, date=date, volume=f"scans/{name}/volume.nrrd",
                         segmentation=seg_path, series_uid=str(md.get("series_uid", "") or ""),
                         study_uid=str(md.get("study_uid", "") or ""))
        self.model.scans = [s for s in self.model.scans if s.name != name] + [scan]
        self.dirty = True
        self._log(f"add scan {name}", scan=name, kind=kind)
        return scan

    def set_scan_registration(self, name: str, write_tfm: Callable[[Path], object], details: dict) -> None:
        """Write ``scans/<name>/to_planning.tfm`` now (atomically, by ``write_tfm(tmp)``) and list it.

        The transform itself is made by :mod:`surgiplan.core.twin.timeline`; the planning scan
        (the first) cannot be registered to itself.
        """
        sm = self._scan(name)
        if sm is self.model.scans[0]:
            raise InputError(f"scan {name!r} is the planning scan; later scans are registered to it")
        path = _inside(self.root, f"scans/{name}/to_planning.tfm")
        fileio.atomic_write(path, write_tfm, min_size=16)
        sm.to_planning = f"scans/{name}/to_planning.tfm"
        self.dirty = True
        self._log(f"register scan {name} to the planning scan", scan=name, **details)

    # ---------------------------------------------------------- segmentation
    def set_segmentation(self, seg, scan: str | None = None) -> None:
        """Make ``seg`` the segmentation of scan ``scan`` (the planning scan by default); saved next.

        The scan must be part of the case (:meth:`add_scan`).
        """
        sm = self._scan(scan)
        if self._segs.get(sm.name) is seg:
            return
        self._segs[sm.name] = seg
        if sm.segmentation is None:
            sm.segmentation = f"scans/{sm.name}/segmentation.seg.nrrd"
        self._dirty_segs.add(sm.name)
        self.dirty = True

    def segmentation(self, scan: str | None = None):
        """The scan's Segmentation (loaded once; the planning scan by default).

        Edit it with the segmentation engine's commands (e.g. ``LabelPatch`` from
        ``paint``) and hand each to :meth:`record`, so that ``case.undo()`` reverts
        segment edits and implant moves alike; edited segmentations are written at save.
        """
        from surgiplan.core.segmentation import Segmentation, read_segmentation

        sm = self._scan(scan)
        if sm.name not in self._segs:
            if sm.segmentation is None:
                from surgiplan.core.imaging.volume_io import read_volume

                vol = read_volume(_inside(self.root, sm.volume))
                self._segs[sm.name] = Segmentation.from_volume(vol)
                sm.segmentation = f"scans/{sm.name}/segmentation.seg.nrrd"
                self._dirty_segs.add(sm.name)
            else:
                self._segs[sm.name] = read_segmentation(_inside(self.root, sm.segmentation))
        return self._segs[sm.name]

    def _scan(self, scan: str | None):
        if not self.model.scans:
            raise InputError(f"case {self.model.name!r} has no scan", path=self.root,
                             hint="Add the planning scan first.")
        if scan is None:
            return self.model.scans[0]
        for sm in self.model.scans:
            if sm.name == scan:
                return sm
        raise InputError(f"case {self.model.name!r} has no scan {scan!r} "
                         f"(scans: {', '.join(s.name for s in self.model.scans)})")

    def segment_seeds(self, scan: str | None = None) -> dict[str, np.ndarray]:
        """Seed points of scan ``scan``'s segmentation (the planning scan by default).

        ``{target structure: (n, 3) array of LPS mm points}`` as set with
        :meth:`set_segment_seeds` or saved in ``scans/<scan>/segmentation.seeds.json``;
        empty when there are none (also for a scan not yet added to the case).
        CaseFormatError naming the file when the saved seeds are damaged.
        """
        from surgiplan.core.case.seeds import read_seeds, seeds_path

        name = self._scan(None).name if scan is None else scan
        if name not in self._seeds:
            path = seeds_path(self.root, name)
            self._seeds[name] = read_seeds(path) if path.is_file() else {}
        return {n: p.copy() for n, p in self._seeds[name].items()}

    def set_segment_seeds(self, seeds: dict, scan: str | None = None) -> None:
        """Keep the seed points ``{target: points (n, 3) LPS mm}`` of scan ``scan``'s segmentation.

        Written at the next :meth:`save` (once the scan is part of the case); not on
        the undo history (seeds are clicks, not edits of the segmentation).
        """
        from surgiplan.core.case.seeds import check_seeds

        name = self._scan(None).name if scan is None else scan
        try:
            check_name(name, "scan name")
        except ValueError as exc:
            raise InputError(str(exc)) from None
        clean = check_seeds(seeds)
        self._seeds[name] = clean
        self._dirty_seeds.add(name)
        self.dirty = True
        self._log(f"set segmentation seeds of {name}", scan=name,
                  seeds={n: len(p) for n, p in clean.items()})

    def _stage_seeds(self, tx: case_save.SaveTransaction) -> list[Path]:
        """Stage the changed seeds of the scans listed in the case; returns seed files to delete."""
        from surgiplan.core.case.seeds import seeds_path, seeds_text

        listed = {s.name for s in self.model.scans}
        gone = []
        for name in sorted(self._dirty_seeds & listed):
            path, seeds = seeds_path(self.root, name), self._seeds.get(name, {})
            if seeds:
                tx.stage_text(path.relative_to(self.root), seeds_text(seeds, name))
            elif path.is_file():
                gone.append(path)
        return gone

    def record(self, command, **details) -> None:
        """Put an already applied edit command of another engine (e.g. a LabelPatch) on the undo stack."""
        self.history.push(command)
        for name, seg in self._segs.items():
            if getattr(command, "segmentation", None) is seg:
                self._dirty_segs.add(name)
        self._log(command.description, **details)

    # ---------------------------------------------------------------- summary
    def info(self) -> dict[str, Any]:
        """A summary for ``surgiplan case info``: name, patient, scans, models, plans, landmarks."""
        return {
            "case": self.model.name,
            "path": str(self.root),
            "schema_version": SCHEMA_VERSION,
            "created": self.model.created,
            "modified": self.model.modified,
            "patient": self.model.patient.model_dump(),
            "scans": [s.model_dump() for s in self.model.scans],
            "models": self.model_names,
            "landmarks": sorted(self.landmarks),
            "plans": [
                {"name": p.name, "note": p.note, "implants": len(p.implants),
                 "locked": None if p.locked is None else p.locked.model_dump()}
                for p in self.plans.values()
            ],
            "unsaved_changes": self.dirty,
        }
