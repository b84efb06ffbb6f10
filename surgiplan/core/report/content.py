"""What the OR plan report says, gathered from a case as plain data (no PDF, no rendering).

:func:`gather_report` reads one plan of an open :class:`~surgiplan.core.case.Case` and returns
a :class:`ReportContent`: the header facts (patient or de-identified case label, study date,
procedure, operated side, plan version, planner, approval), the implant list with backup
sizes, every measurement with its unit, target range and native/contralateral reference,
knee resections with their thickness, pedicle screws per level, the simulation studies of
the plan (``studies/<plan>--<study>/summary.json``, see the simulation contract) and the
traceability facts (SHA-256 of ``plan.json``, software version). The PDF layout
(:mod:`surgiplan.core.report.build`) only arranges these; tests read them back from the PDF.

Positions are LPS mm; angles in degrees; every value carries its unit (``core.units``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surgiplan.core.errors import InputError

#: What each anatomy's plan is called on the report.
PROCEDURES = {
    "hip": "Total hip arthroplasty",
    "knee": "Total knee arthroplasty",
    "spine": "Posterior pedicle screw fixation",
    "vascular": "Iliac artery stenting (balloon-expandable stent)",
}

#: Planned quantity -> the native (same side) and contralateral references shown beside it.
#: ``{side}`` / ``{other}`` are the operated and the other side.
REFERENCES: dict[str, tuple[str, ...]] = {
    "stem_version": ("native_neck_version_{side}", "native_neck_version_{other}"),
    "femoral_offset_change": ("native_femoral_offset_{side}", "native_femoral_offset_{other}"),
    "leg_length_difference": ("native_leg_length_difference",),
    "hka_planned": ("hka_native",),
    "stent_reference_ratio": ("stenosis_reference_diameter",),
}

#: Largest summary.json read (bytes); real ones are kilobytes.
MAX_SUMMARY_BYTES = 8 * 1024 * 1024


@dataclass
class ImplantLine:
    """One line of the implant list (identical catalogue item and size counted together)."""

    component: str  # catalogue name, e.g. "Hemispherical press-fit acetabular cup"
    kind: str
    size: str
    material: str
    reference: str  # catalogue reference: "<catalog id> / <size>"
    quantity: int
    where: str  # bone / level / side, e.g. "L3 left, L3 right"
    options: str = ""  # e.g. "head 32/+4"
    backups: str = ""  # next sizes down / up


@dataclass
class MeasureLine:
    """A measurement of the plan with its target and reference (``value`` None: not computed)."""

    key: str
    name: str
    value: float | str | None
    unit: str
    definition: str
    group: str = "Planned"
    target: tuple[float, float] | None = None
    flag: str = ""  # "ok", "high", "low" or "" (no target / no value)
    reference: str = ""  # native / contralateral values as text with units
    missing: str = ""


@dataclass
class ResectionLine:
    """A planar bone cut: depth below the reference point, angles, thickness per compartment (mm)."""

    name: str
    bone: str
    depth_mm: float | None
    varus_valgus_deg: float | None
    slope_deg: float | None
    thickness_mm: dict[str, float] = field(default_factory=dict)


@dataclass
class ScrewLine:
    """A pedicle screw: level, side, size and its trajectory measurements (by key suffix)."""

    implant_id: str
    level: str
    side: str
    size: str
    values: dict[str, MeasureLine] = field(default_factory=dict)


@dataclass
class StudyLine:
    """A finished simulation study of the plan (its ``summary.json``) or why it cannot be shown."""

    name: str
    folder: Path
    summary: dict[str, Any] = field(default_factory=dict)
    problem: str = ""


@dataclass
class ReportContent:
    """Everything the report prints, as plain data."""

    case_name: str
    case_label: str
    deidentified: bool
    patient: list[tuple[str, str]]
    study_date: str
    anatomy: str
    procedure: str
    side: str  # "LEFT", "RIGHT", "BILATERAL" or "NOT STATED"
    plan: str
    plan_note: str
    plan_version: str
    plan_sha256: str
    plan_saved: bool
    planner: str
    modified_by: str
    generated: str
    lock: Any  # LockInfo or None
    software: str
    implants: list[ImplantLine] = field(default_factory=list)
    measurements: list[MeasureLine] = field(default_factory=list)
    resections: list[ResectionLine] = field(default_factory=list)
    screws: list[ScrewLine] = field(default_factory=list)
    studies: list[StudyLine] = field(default_factory=list)
    landmark_count: int = 0

    @property
    def approved(self) -> bool:
        return self.lock is not None


# --------------------------------------------------------------------------- helpers


def deidentified_label(case) -> str:
    """A case label without patient identifiers: ``CASE-`` and 8 hex digits of a hash of the
    case's name, patient ID and creation time (stable for a case, not reversible)."""
    m = case.model
    h = hashlib.sha256(f"{m.name}|{m.patient.id}|{m.created}".encode()).hexdigest()[:8].upper()
    return f"CASE-{h}"


def plan_file_sha256(case, plan_name: str) -> tuple[str, bool]:
    """SHA-256 of the plan's ``plan.json`` as saved, and whether it matches what is open.

    When the case has unsaved changes (or the plan was never saved) the hash is that of the
    plan as it would be saved now, and the second value is False.
    """
    from surgiplan.core.case.schema import to_json_text

    path = case.root / "plans" / plan_name / "plan.json"
    if not case.dirty and path.is_file() and not path.is_symlink():
        return hashlib.sha256(path.read_bytes()).hexdigest(), True
    text = to_json_text(case.plan(plan_name).to_model())
    return hashlib.sha256(text.encode("utf-8")).hexdigest(), False


def _people(case, plan_name: str) -> tuple[str, str]:
    """(who created the plan, who changed it last) from the audit log; the case's user otherwise."""
    try:
        log = case.audit_log()
    except Exception:  # noqa: BLE001 - an unreadable log must not stop the report; it says so
        return "unknown (audit log unreadable)", "unknown"
    mine = [e for e in log if e.get("plan") == plan_name]
    created = [e for e in mine if str(e.get("what", "")).startswith(("new plan", "copy plan"))]
    planner = (created or mine or [{"who": case.user}])[0].get("who") or "unknown"
    last = (mine or [{"who": case.user}])[-1].get("who") or "unknown"
    return str(planner), str(last)


def operated_side(case, plan) -> str:
    """LEFT, RIGHT or BILATERAL from the plan's implants; the case setting; else NOT STATED."""
    sides = {imp.side for imp in plan.implants.values() if imp.side in ("left", "right")}
    if sides == {"left", "right"}:
        return "BILATERAL"
    if sides:
        return sides.pop().upper()
    s = case.model.settings.get("side")
    return s.upper() if s in ("left", "right") else "NOT STATED"


def _size_neighbours(sizes: list[str], size: str) -> list[str]:
    """Backup sizes: the next smaller and larger size of the catalogue.

    ``DxL`` sizes (screws, stents) get the neighbours in each dimension with the other kept;
    ``A/B`` sizes (liners: cup / bore) the neighbouring cups with the same bore.
    """
    for sep in ("x", "/"):
        parts = size.split(sep)
        if len(parts) == 2 and all(sep in s and len(s.split(sep)) == 2 for s in sizes):
            out = []
            dims = (0, 1) if sep == "x" else (0,)
            for dim in dims:
                fixed = parts[1 - dim]
                same = [s for s in sizes if s.split(sep)[1 - dim] == fixed]
                same.sort(key=lambda s: _num(s.split(sep)[dim]))
                i = same.index(size) if size in same else -1
                if i > 0:
                    out.append(same[i - 1])
                if 0 <= i < len(same) - 1:
                    out.append(same[i + 1])
            return out
    ordered = sorted(sizes, key=_num)
    if size not in ordered:
        return []
    i = ordered.index(size)
    return [s for s in (ordered[i - 1] if i > 0 else None, ordered[i + 1] if i + 1 < len(ordered) else None) if s]


def _num(text: str) -> float:
    m = re.match(r"[-+]?\d+(\.\d+)?", text.strip())
    return float(m.group(0)) if m else float("inf")


#: Where an implant of a kind sits, when its bone does not say (or is the pelvis).
KIND_SITE = {"acetabular_cup": "acetabulum", "acetabular_liner": "acetabulum (in the cup)",
             "femoral_stem": "femur", "femoral_component": "distal femur", "tibial_tray": "proximal tibia",
             "tibial_insert": "tibia (on the tray)", "stent": "common iliac artery", "rod": ""}


def implant_site(imp, kind: str) -> str:
    """"left femur", "L3 right", "right common iliac artery": the bone or level and the side."""
    bone = imp.bone
    for s in ("_left", "_right"):
        bone = bone.removesuffix(s)
    side = imp.side if imp.side in ("left", "right") else ""
    if bone and bone not in ("pelvis", "femur", "tibia"):  # a level (L3) or another named bone
        return f"{bone} {side}".strip()
    base = KIND_SITE.get(kind, bone or "-")
    return f"{side} {base}".strip() or "-"


def implant_lines(case, plan, catalog) -> list[ImplantLine]:
    """The implant list: one line per catalogue item and size (quantity counted), backups included."""
    lines: dict[tuple, ImplantLine] = {}
    for imp in plan.implants.values():
        opts = ", ".join(f"{k} {v}" for k, v in imp.options.items() if k != "tray_size")
        if imp.catalog_id in catalog:
            spec = catalog.get(imp.catalog_id)
            name, kind, material = spec.model.name, spec.model.kind, spec.model.material
            backups = ", ".join(_size_neighbours(spec.sizes, imp.size))
        else:
            name, kind, material, backups = imp.catalog_id, "?", "not in the catalogue", ""
        where = implant_site(imp, kind)
        key = (imp.catalog_id, imp.size, opts)
        if key in lines:
            lines[key].quantity += 1
            lines[key].where += f", {where}"
        else:
            lines[key] = ImplantLine(name, kind, imp.size, material, f"{imp.catalog_id} / {imp.size}", 1,
                                     where, opts, backups or "-")
    return list(lines.values())


def _target(key: str, unit: str, targets: dict, declared: set[str]) -> tuple[float, float] | None:
    """The target range of a measurement key (as the comparison finds it, prefixes included)."""
    if not unit:
        return None
    t = targets.get(key)
    if t is None and key not in declared:
        t = next((targets[k] for k in sorted(targets, key=len, reverse=True) if key.startswith(k + "_")), None)
    return None if t is None else (float(t[0]), float(t[1]))


def _group(key: str, details_group: str | None) -> str:
    if key.startswith(("native_", "hka_native", "mechanical_axis_deviation", "stenosis_")):
        return "Native anatomy (pre-operative)"
    if details_group == "interference" or key.startswith(("interference_", "cup_coverage", "stem_cortex")):
        return "Bone preparation and fit"
    if key.startswith("resection_thickness"):
        return "Resections"
    return "Planned"


def measurement_lines(case, plan_name: str, catalog, progress=None) -> list[MeasureLine]:
    """Every measurement of the plan with target range, flag and references (see module doc)."""
    from surgiplan.core.planning.comparison import DEFAULT_TARGETS
    from surgiplan.core.planning.measurements import all_definitions, measure_plan
    from surgiplan.core.units import format_value

    targets = dict(DEFAULT_TARGETS)
    targets.update({k: tuple(v) for k, v in case.model.settings.get("targets", {}).items()})
    declared = {d.key for d in all_definitions()}
    rows = measure_plan(case, plan_name, catalog, expensive=True)
    by_key = {r.key: r for r in rows}
    side = operated_side(case, case.plan(plan_name)).lower()
    other = {"left": "right", "right": "left"}.get(side, "")
    out = []
    for r in rows:
        value = float(r.value) if isinstance(r.value, int | float) and not isinstance(r.value, bool) else r.value
        line = MeasureLine(r.key, r.name, value, r.unit, r.definition, _group(r.key, r.details.get("group")),
                           missing=r.missing)
        line.target = _target(r.key, r.unit, targets, declared)
        if line.target is not None and isinstance(value, float):
            lo, hi = line.target
            line.flag = "low" if value < lo - 1e-9 else "high" if value > hi + 1e-9 else "ok"
        refs = []
        for pattern in REFERENCES.get(r.key, ()):
            if "{side}" in pattern and side not in ("left", "right"):
                continue
            if "{other}" in pattern and not other:
                continue
            ref = by_key.get(pattern.format(side=side, other=other))
            if ref is not None and isinstance(ref.value, int | float):
                what = "contralateral" if "{other}" in pattern else "native"
                refs.append(f"{what} {format_value(float(ref.value), ref.unit)}")
        line.reference = "; ".join(refs)
        out.append(line)
    for mm in getattr(case.plan(plan_name), "manual", {}).values():  # hand measurements (if any)
        out.append(MeasureLine(f"manual:{mm.name}", mm.name, float(mm.value), mm.unit,
                               getattr(mm, "definition", "") or "measured by hand", "Hand measurements"))
    return out


def resection_lines(case, plan) -> list[ResectionLine]:
    """Knee cuts (depth, angles, thickness per compartment); other cuts with their plane only."""
    out = []
    for rs in plan.resections.values():
        try:
            from surgiplan.core.planning.knee_cuts import knee_cut_readout

            r = knee_cut_readout(case, plan.name, rs.name)
            out.append(ResectionLine(rs.name, rs.model, r.depth_mm, r.varus_valgus_deg, r.slope_deg,
                                     dict(r.thickness_mm)))
        except Exception:  # noqa: BLE001 - not a knee cut (or its landmarks are missing): plane only
            out.append(ResectionLine(rs.name, rs.model, None, None, None, {}))
    return out


def screw_lines(plan, measurements: list[MeasureLine], catalog) -> list[ScrewLine]:
    """Pedicle screws per level and side with their trajectory rows (``screw_*_<id>``)."""
    out = []
    for imp in plan.implants.values():
        kind = catalog.get(imp.catalog_id).model.kind if imp.catalog_id in catalog else ""
        if kind != "pedicle_screw":
            continue
        vals = {}
        for m in measurements:
            if m.key.endswith(f"_{imp.id}") and m.key.startswith(("screw_", "interference_")):
                vals[m.key[: -len(imp.id) - 1]] = m
        out.append(ScrewLine(imp.id, imp.bone or "?", imp.side, imp.size, vals))
    out.sort(key=lambda s: (s.level, s.side))
    return out


def study_lines(case, plan_name: str) -> list[StudyLine]:
    """The plan's simulation studies recorded in case.json, with their summary.json (contract)."""
    from surgiplan.core.fileio import check_inside

    out = []
    for ref in case.model.studies:
        if ref.plan != plan_name:
            continue
        try:
            folder = check_inside(case.root, ref.path, "study")
        except InputError as exc:
            out.append(StudyLine(ref.name, case.root / ref.path, problem=str(exc)))
            continue
        if folder.suffix == ".json":
            folder = folder.parent
        line = StudyLine(ref.name, folder)
        p = folder / "summary.json"
        try:
            if not p.is_file() or p.is_symlink():
                raise InputError("has no summary.json (the study did not finish)", path=folder)
            if p.stat().st_size > MAX_SUMMARY_BYTES:
                raise InputError("summary.json is larger than any real one", path=p)
            data = json.loads(p.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise InputError("summary.json does not hold a JSON object", path=p)
            line.summary = data
        except (OSError, ValueError, InputError) as exc:
            line.problem = str(exc)
        out.append(line)
    return out


def gather_report(case, plan_name: str, *, deidentify: bool = True, catalog=None,
                  progress=None) -> ReportContent:
    """The report's content for plan ``plan_name`` of the open ``case`` (see module docstring).

    Raises
    ------
    InputError
        The case has no such plan (the message lists its plans).
    """
    from surgiplan.core.appinfo import build_id
    from surgiplan.core.case.audit import now_iso
    from surgiplan.core.jobs import report
    from surgiplan.core.planning.anatomy import anatomy_of_models
    from surgiplan.core.planning.catalog import default_catalog

    plan = case.plan(plan_name)  # InputError naming the plans
    catalog = catalog or default_catalog()
    anatomy = anatomy_of_models(case.model_names)
    if any(imp.catalog_id.startswith("vascular") for imp in plan.implants.values()):
        anatomy = "vascular"
    sha, saved = plan_file_sha256(case, plan_name)
    planner, modifier = _people(case, plan_name)
    scan = case.model.scans[0] if case.model.scans else None
    label = deidentified_label(case) if deidentify else case.model.name
    p = case.model.patient
    patient = ([("Case", label)] if deidentify else
               [("Patient", p.name or "not recorded"), ("Patient ID", p.id or "not recorded"),
                *[(k.replace("_", " ").capitalize(), str(getattr(p, k))) for k in ("birth_date", "sex")
                  if getattr(p, k, "")]])
    report(progress, 0.05, "measuring the plan")
    measurements = measurement_lines(case, plan_name, catalog)
    report(progress, 0.3, "resections and screws")
    procedure = PROCEDURES.get(anatomy, "Surgical plan")
    screws = screw_lines(plan, measurements, catalog)
    if screws:
        procedure += " " + "–".join(sorted({s.level for s in screws}))
    return ReportContent(
        case_name=case.model.name, case_label=label, deidentified=deidentify, patient=patient,
        study_date=(scan.date if scan is not None and scan.date else "not recorded"),
        anatomy=anatomy, procedure=procedure, side=operated_side(case, plan), plan=plan.name,
        plan_note=plan.note, plan_version=plan.modified or plan.created or "unsaved",
        plan_sha256=sha, plan_saved=saved, planner=planner, modified_by=modifier, generated=now_iso(),
        lock=plan.locked, software=f"surgiplan {build_id()}",
        implants=implant_lines(case, plan, catalog), measurements=measurements,
        resections=resection_lines(case, plan), screws=screws, studies=study_lines(case, plan_name),
        landmark_count=len(case.all_landmarks(plan_name)),
    )
