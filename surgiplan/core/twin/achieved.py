"""Achieved vs planned: where the implants of a plan are in a registered post-operative CT.

``achieved_vs_planned(case, plan, scan)`` carries each planned implant into the
post-op scan through the registration of its bone (``to_planning.<bone>.tfm``, e.g. one
per vertebra for pedicle screws) or, when the bone has none, the scan's
(``to_planning.tfm``), fits its catalog
model to the metal there (:mod:`surgiplan.core.twin.implants`), brings the fitted
pose back into the planning scan's LPS and reports per implant:

* translation error (achieved minus planned origin, mm) along the anatomical axes of
  :mod:`surgiplan.core.twin.frames`: lateral (+, away from the midline on the implant's
  side), anterior (+), superior (+);
* rotation error (deg): the angle between the planned and achieved implant axes for a
  body of revolution (cup, screw: its spin is not seen), the full rotation angle otherwise;
* every plan measurement (cup inclination and anteversion, screw angles, breach, ...)
  evaluated on the planned and on the achieved poses, side by side.

:func:`achieved_rows` gives the same as a :class:`~surgiplan.core.planning.comparison.Comparison`
with the columns ``planned`` / ``achieved`` and their difference, for the comparison
table and the PDF report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from surgiplan.core.errors import GeometryError, InputError
from surgiplan.core.jobs import Progress, check_cancelled, report, sub_progress
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.catalog import default_catalog
from surgiplan.core.planning.comparison import Comparison, Row
from surgiplan.core.planning.plan import Plan
from surgiplan.core.twin.frames import implant_frame, offset_components, side_sign
from surgiplan.core.twin.implants import METAL_HU, SYMMETRIC_KINDS, find_implant, shows_in_ct

COLUMNS = ("planned", "achieved")


@dataclass
class ImplantResult:
    """One implant: planned and achieved poses (planning LPS) and their difference."""

    id: str
    catalog_id: str
    kind: str
    found: bool
    planned: np.ndarray
    achieved: np.ndarray | None = None
    translation_mm: dict[str, float] = field(default_factory=dict)
    rotation_deg: float | None = None
    rotation_definition: str = ""
    frame: str = ""
    fit_rms_mm: float | None = None
    partly_scanned: bool = False
    note: str = ""
    registration: str = "scan"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "catalog_id": self.catalog_id, "kind": self.kind, "found": self.found,
                "planned_transform": self.planned.round(6).tolist(),
                "achieved_transform": None if self.achieved is None else self.achieved.round(6).tolist(),
                "translation_error_mm": {k: round(v, 4) for k, v in self.translation_mm.items()},
                "translation_error_length_mm": (None if not self.translation_mm else
                                                round(float(np.linalg.norm(list(self.translation_mm.values()))), 4)),
                "rotation_error_deg": None if self.rotation_deg is None else round(self.rotation_deg, 4),
                "rotation_definition": self.rotation_definition, "frame": self.frame,
                "fit_rms_mm": None if self.fit_rms_mm is None else round(self.fit_rms_mm, 4),
                "partly_scanned": self.partly_scanned, "note": self.note, "registration": self.registration}


@dataclass
class AchievedReport:
    """Achieved vs planned of one plan in one later scan."""

    case: str
    plan: str
    scan: str
    implants: list[ImplantResult]
    comparison: Comparison
    threshold_hu: float

    def to_dict(self) -> dict[str, Any]:
        return {"case": self.case, "plan": self.plan, "scan": self.scan, "metal_threshold_hu": self.threshold_hu,
                "implants": [i.to_dict() for i in self.implants], "comparison": self.comparison.to_dict()}

    def implant(self, implant_id: str) -> ImplantResult:
        for i in self.implants:
            if i.id == implant_id:
                return i
        raise KeyError(implant_id)


def _rotation_error(planned: np.ndarray, achieved: np.ndarray, symmetric: bool) -> tuple[float, str]:
    if symmetric:
        return (tf.angle_between_deg(planned[:3, 2], achieved[:3, 2]),
                "angle between the planned and achieved implant axes (a body of revolution: spin not seen)")
    r = planned[:3, :3].T @ achieved[:3, :3]
    return (float(np.degrees(np.arccos(np.clip((np.trace(r) - 1) / 2, -1, 1)))),
            "angle of the rotation from the planned to the achieved orientation")


def _measure(case, plan_name: str, plan: Plan, catalog, expensive: bool = False) -> dict:
    """Measurements of ``plan`` (a plan object, possibly not in the case) as key -> result.

    The expensive plugins (implant-bone interference volumes) only with ``expensive``.
    """
    from surgiplan.core.planning.measurements import PLUGINS, MeasureContext

    ctx = MeasureContext(case, plan_name, catalog)
    ctx.plan = plan
    out = {}
    for plugin in PLUGINS:
        if plugin.expensive and not expensive:
            continue
        for m in plugin.compute(ctx):
            out[m.key] = m
    return out


def achieved_plan(plan: Plan, achieved: dict[str, np.ndarray], catalog=None) -> Plan:
    """A copy of ``plan`` named ``<plan> achieved`` with the found implants at their achieved poses.

    A knee component sits on its cut (:data:`surgiplan.core.planning.cut_components.CUT_OF_KIND`):
    the cut moves rigidly with the found component seated on it (the achieved resection), and
    components on that cut that were not found (a polyethylene insert) move with it too.
    """
    from surgiplan.core.planning.cut_components import CUT_OF_KIND
    from surgiplan.core.planning.plan import Resection

    catalog = catalog or default_catalog()
    p = plan.duplicate(f"{plan.name} achieved", plan.created)

    def kind(imp) -> str:
        return catalog.get(imp.catalog_id).model.kind if imp.catalog_id in catalog else ""

    moves: dict[str, np.ndarray] = {}  # cut -> rigid move planned -> achieved of its first found component
    for k, t in achieved.items():
        p.implants[k].transform = np.asarray(t, float).copy()
        cut = CUT_OF_KIND.get(kind(plan.implants[k]))
        if cut in plan.resections and cut not in moves:
            moves[cut] = np.asarray(t, float) @ tf.inverse(plan.implants[k].transform)
    for cut, m in moves.items():
        rs = plan.resections[cut]
        p.resections[cut] = Resection(rs.name, rs.model, tf.apply(m, rs.origin), m[:3, :3] @ rs.normal)
        for k, imp in plan.implants.items():
            if k not in achieved and CUT_OF_KIND.get(kind(imp)) == cut:
                p.implants[k].transform = m @ imp.transform
    return p


def cut_changes(planned: Plan, achieved: Plan, at: dict | None = None) -> dict[str, dict[str, float]]:
    """Per resection that moved: ``depth_mm`` and ``angle_deg``.

    ``depth_mm``: where the planned plane's normal through point ``at[cut]`` (LPS mm; the planned
    origin of the component seated on the cut, else the plane's origin) meets the achieved plane,
    minus that point, along the normal: positive = more bone removed (the normal points to the kept
    bone). ``angle_deg``: between the planned and achieved normals.
    """
    out = {}
    for name, rs in planned.resections.items():
        a = achieved.resections.get(name)
        if a is None or (np.allclose(a.origin, rs.origin) and np.allclose(a.normal, rs.normal)):
            continue
        n, na = tf.unit(rs.normal), tf.unit(a.normal)
        p = np.asarray((at or {}).get(name, rs.origin), float)
        p = p - ((p - rs.origin) @ n) * n  # on the planned plane
        denom = float(n @ na)
        depth = float((np.asarray(a.origin) - p) @ na / denom) if abs(denom) > 1e-9 else float("nan")
        out[name] = {"depth_mm": depth, "angle_deg": tf.angle_between_deg(n, na)}
    return out


def achieved_vs_planned(case, plan_name: str, scan: str, *, threshold_hu: float = METAL_HU,
                        catalog=None, progress: Progress | None = None) -> AchievedReport:
    """Find the implants of plan ``plan_name`` in the registered later scan ``scan``; compare.

    Parameters
    ----------
    case : Case
        The case; ``scan`` must be registered (:func:`surgiplan.core.twin.timeline.register_scan`).
    plan_name, scan : str
        The plan and the later scan.
    threshold_hu : float
        Metal threshold (HU).
    catalog : Catalog, optional
        Implant catalog (the default one otherwise).
    progress : Progress, optional
        Progress and cancellation.
    """
    from surgiplan.core.twin.timeline import scan_to_planning, scan_volume, transform_source

    catalog = catalog or default_catalog()
    plan = case.plan(plan_name)
    if not plan.implants:
        raise InputError(f"plan {plan_name!r} has no implants to look for", path=case.root)
    scan_to_planning(case, scan)  # the scan is registered (clear error otherwise)
    report(progress, 0.05, f"reading scan {scan}")
    volume = scan_volume(case, scan)
    landmarks = case.all_landmarks(plan_name)
    results: list[ImplantResult] = []
    found: dict[str, np.ndarray] = {}
    n = len(plan.implants)
    for i, imp in enumerate(plan.implants.values()):
        check_cancelled(progress)
        report(progress, 0.1 + 0.6 * i / n, f"finding {imp.id}")
        spec = catalog.get(imp.catalog_id)
        kind = spec.model.kind
        res = ImplantResult(imp.id, imp.catalog_id, kind, False, imp.transform.copy(),
                            registration=transform_source(case, scan, imp.bone or None))
        results.append(res)
        if not shows_in_ct(spec.model.material):
            res.note = f"{spec.model.material} does not show in CT; not looked for"
            continue
        geom = spec.geometry(imp.size, imp.options)
        s2p = scan_to_planning(case, scan, imp.bone or None)  # the bone's own transform when it has one
        p2s = tf.inverse(s2p)
        try:
            f = find_implant(volume, imp, geom, p2s @ imp.transform, kind=kind, threshold_hu=threshold_hu)
        except GeometryError as exc:
            res.note = exc.message
            continue
        a = s2p @ f.in_scan
        res.fit_rms_mm, res.partly_scanned = f.fit.rms_mm, f.cut_by_scan_edge
        _set_achieved(res, imp, a, landmarks, kind)
        found[imp.id] = a
    if not found:
        raise GeometryError(f"none of the implants of plan {plan_name!r} was found in scan {scan!r}: "
                            + "; ".join(f"{r.id}: {r.note}" for r in results),
                            hint="Check the registration of the scan and the metal threshold.")
    report(progress, 0.75, "measuring planned and achieved")
    comp = _comparison(case, plan, found, results, catalog, sub_progress(progress, 0.75, 1.0))
    report(progress, 1.0, f"{len(found)} of {n} implants found")
    return AchievedReport(case.model.name, plan_name, scan, results, comp, threshold_hu)


def _set_achieved(res: ImplantResult, imp, a: np.ndarray, landmarks: dict, kind: str) -> None:
    """Fill ``res`` with achieved pose ``a`` (planning LPS) of planned implant ``imp`` and its offsets."""
    res.found, res.achieved = True, np.asarray(a, float)
    axes, res.frame = implant_frame(landmarks, imp.bone, kind)
    mid = landmarks.get(f"vertebral_body_centre_{imp.bone}")
    sign = side_sign(imp.side, imp.transform[:3, 3], None if mid is None else float(mid.position[0]))
    res.translation_mm = offset_components(res.achieved[:3, 3] - imp.transform[:3, 3], axes, sign)
    res.rotation_deg, res.rotation_definition = _rotation_error(imp.transform, res.achieved,
                                                                kind in SYMMETRIC_KINDS)


def compare_poses(case, plan_name: str, achieved: dict[str, np.ndarray], *, catalog=None, scan: str = "",
                  progress: Progress | None = None) -> AchievedReport:
    """Achieved vs planned from known achieved poses (planning LPS), e.g. from navigation or a
    fit made elsewhere: the same offsets, measurements and rows as :func:`achieved_vs_planned`."""
    catalog = catalog or default_catalog()
    plan = case.plan(plan_name)
    unknown = sorted(set(achieved) - set(plan.implants))
    if unknown:
        raise InputError(f"plan {plan_name!r} has no implant(s) {', '.join(unknown)}", path=case.root)
    landmarks = case.all_landmarks(plan_name)
    results = []
    for imp in plan.implants.values():
        kind = catalog.get(imp.catalog_id).model.kind
        res = ImplantResult(imp.id, imp.catalog_id, kind, False, imp.transform.copy())
        if imp.id in achieved:
            _set_achieved(res, imp, achieved[imp.id], landmarks, kind)
        else:
            res.note = "no achieved pose given"
        results.append(res)
    comp = _comparison(case, plan, dict(achieved), results, catalog, progress)
    return AchievedReport(case.model.name, plan_name, scan, results, comp, float("nan"))


def _comparison(case, plan: Plan, found, results, catalog, progress) -> Comparison:
    rows: list[Row] = []

    def row(key, quantity, unit, planned, achieved, definition, group):
        diff = achieved - planned if isinstance(planned, float) and isinstance(achieved, float) else None
        rows.append(Row(quantity, key, unit, {"planned": planned, "achieved": achieved}, diff,
                        definition=definition, group=group))

    for r in results:
        if not r.found:
            rows.append(Row(f"{r.id} found", f"found:{r.id}", "", {"planned": "planned", "achieved": "not found"},
                            definition=r.note, group="achieved"))
            continue
        for axis in ("lateral", "anterior", "superior"):
            row(f"achieved:{r.id}:{axis}", f"{r.id} offset {axis}", "mm", 0.0, r.translation_mm[axis],
                f"achieved minus planned implant origin along the {r.frame} frame ({axis} positive)", "achieved")
        row(f"achieved:{r.id}:rotation", f"{r.id} rotation", "deg", 0.0, float(r.rotation_deg),
            r.rotation_definition, "achieved")
    from surgiplan.core.planning.cut_components import CUT_OF_KIND

    ach = achieved_plan(plan, found, catalog)
    at = {}
    for r in results:
        cut = CUT_OF_KIND.get(r.kind)
        if r.found and cut and cut not in at:
            at[cut] = r.planned[:3, 3]
    for cut, ch in cut_changes(plan, ach, at).items():
        row(f"achieved:cut:{cut}:depth", f"{cut} resection depth", "mm", 0.0, ch["depth_mm"],
            "achieved minus planned resection plane (moved with the component seated on it) along the planned "
            "normal through the component's planned origin: positive = more bone removed", "achieved")
        row(f"achieved:cut:{cut}:angle", f"{cut} resection angle", "deg", 0.0, ch["angle_deg"],
            "angle between the planned and achieved resection planes", "achieved")
    planned_m = _measure(case, plan.name, plan, catalog)
    report(progress, 0.5, "measuring the achieved implants")
    achieved_m = _measure(case, plan.name, ach, catalog)
    for key, m in planned_m.items():
        a = achieved_m.get(key)
        pv = float(m.value) if isinstance(m.value, int | float) and not isinstance(m.value, bool) else m.value
        av = None if a is None else (float(a.value) if isinstance(a.value, int | float)
                                     and not isinstance(a.value, bool) else a.value)
        if pv is None and av is None:
            continue
        row(key, m.name, m.unit, pv, av, m.definition, m.details.get("group", "measurement"))
    return Comparison(case.model.name, list(COLUMNS), rows, "achieved minus planned")


def latest_postop_scan(case) -> str | None:
    """The last registered post-operative scan of the timeline (None when there is none)."""
    later = [s for s in case.model.scans[1:] if s.kind == "post-op" and s.to_planning is not None]
    return later[-1].name if later else None


def achieved_rows(case, plan_name: str, scan: str | None = None, **kw) -> list[Row]:
    """The comparison rows (planned / achieved / difference) for the comparison table and the report.

    ``scan`` defaults to the latest registered post-operative scan; no rows without one.
    """
    scan = scan or latest_postop_scan(case)
    if scan is None:
        return []
    return achieved_vs_planned(case, plan_name, scan, **kw).comparison.rows
