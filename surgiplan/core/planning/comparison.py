"""Side-by-side comparison of two or more plans of one case.

``compare_plans(case, ["A", "B"], targets)`` returns a :class:`Comparison`
whose rows are: implants and sizes, implant positions (LPS mm), every
measurement (with unit and definition), interference per implant; each row has
the value per plan, the difference (last minus first plan for two plans, max
minus min for more), the target range and whether each plan lies in it. The
PDF report and the GUI use the same object; ``to_json`` / ``to_csv`` export it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from surgiplan.core.errors import InputError
from surgiplan.core.planning.catalog import default_catalog
from surgiplan.core.planning.measurements import all_definitions, measure_plan
from surgiplan.core.units import human_label

#: Default surgeon targets (inclusive ranges); override per case (settings["targets"]) or per call.
DEFAULT_TARGETS: dict[str, tuple[float, float]] = {
    "cup_inclination": (30.0, 50.0),
    "cup_anteversion": (5.0, 25.0),
    "leg_length_difference": (-5.0, 5.0),
    "offset_difference": (-5.0, 5.0),
    "cor_shift": (0.0, 5.0),
    "stem_version": (5.0, 25.0),
    "hka_planned": (177.0, 183.0),
    "femoral_component_varus": (-3.0, 3.0),
    "tibial_component_varus": (-3.0, 3.0),
    "tibial_slope": (0.0, 7.0),
    "screw_breach": (0.0, 2.0),
}


@dataclass
class Row:
    quantity: str
    key: str
    unit: str
    values: dict[str, Any]
    difference: float | None = None
    target: tuple[float, float] | None = None
    in_range: dict[str, bool | None] = field(default_factory=dict)
    definition: str = ""
    group: str = "measurement"

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "quantity": self.quantity, "key": self.key, "unit": self.unit,
                "values": self.values, "difference": self.difference,
                "target": None if self.target is None else list(self.target),
                "in_range": self.in_range, "definition": self.definition}


@dataclass
class Comparison:
    case: str
    plans: list[str]
    rows: list[Row]
    difference_definition: str

    def row(self, key: str) -> Row:
        for r in self.rows:
            if r.key == key:
                return r
        raise KeyError(key)

    def to_dict(self) -> dict[str, Any]:
        return {"case": self.case, "plans": self.plans, "difference": self.difference_definition,
                "rows": [r.to_dict() for r in self.rows]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["group", "quantity", "unit", *self.plans, "difference", "target_min", "target_max",
                    *[f"in_range_{p}" for p in self.plans], "definition"])
        for r in self.rows:
            t = r.target or ("", "")
            w.writerow([r.group, r.quantity, r.unit, *[_fmt(r.values.get(p)) for p in self.plans],
                        _fmt(r.difference), t[0], t[1],
                        *["" if r.in_range.get(p) is None else r.in_range[p] for p in self.plans],
                        r.definition])
        return buf.getvalue()

    def to_text(self) -> str:
        """A plain table for the terminal (every number with its unit)."""
        lines = []
        head = ["quantity", *self.plans, "difference", "target"]
        rows = []
        for r in self.rows:
            u = f" {r.unit}" if r.unit else ""
            vals = []
            for p in self.plans:
                v = r.values.get(p)
                mark = {True: " ok", False: " OUT", None: ""}[r.in_range.get(p)]
                vals.append("-" if v is None else (f"{v:.1f}{u}" if isinstance(v, float) else str(v)) + mark)
            diff = "" if r.difference is None else f"{r.difference:+.1f}{u}"
            tgt = "" if r.target is None else f"{r.target[0]:g} to {r.target[1]:g}{u}"
            rows.append([r.quantity, *vals, diff, tgt])
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
        for line in [head, *rows]:
            lines.append("  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=False)))
        return "\n".join(lines)


#: Row groups of the core comparison in the order shown, with their section titles.
SECTIONS = (("measurement", "Measurements"), ("manual", "Hand measurements"), ("implant", "Implants"),
            ("position", "Implant positions (LPS)"), ("interference", "Implant-bone interference"),
            ("plan", "Approval"))


# ------------------------------------------------------------------ formatting (no Qt)


def ordered_lines(rows) -> list:
    """The table's lines: each section title (str) followed by its core rows, sections in
    :data:`SECTIONS` order (measurements first), rows in the core's order within a section."""
    known = [g for g, _ in SECTIONS]
    titles = dict(SECTIONS)
    groups = known + sorted({r.group for r in rows} - set(known))
    lines: list = []
    for g in groups:
        members = [r for r in rows if r.group == g]
        if members:
            lines.append(titles.get(g, human_label(g)))
            lines.extend(members)
    return lines


def _fmt(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4f}"
    return v


def compare_plans(case, plan_names: list[str], targets: dict[str, tuple[float, float]] | None = None,
                  catalog=None, interference: bool = True) -> Comparison:
    """Compare plans of ``case`` row by row (see module docstring)."""
    if len(plan_names) < 2:
        raise InputError("compare needs at least two plans")
    for p in plan_names:
        case.plan(p)
    catalog = catalog or default_catalog()
    tg = dict(DEFAULT_TARGETS)
    tg.update({k: tuple(v) for k, v in case.model.settings.get("targets", {}).items()})
    tg.update(targets or {})
    rows: dict[str, Row] = {}

    def put(key, quantity, unit, plan, value, definition="", group="measurement"):
        r = rows.setdefault(key, Row(quantity, key, unit, {p: None for p in plan_names},
                                     definition=definition, group=group))
        r.values[plan] = value

    for p in plan_names:
        plan = case.plan(p)
        for imp in plan.implants.values():
            put(f"implant:{imp.id}", f"{imp.id} implant", "", p,
                f"{imp.catalog_id} {imp.size}" + "".join(f" {k}={v}" for k, v in imp.options.items()),
                group="implant")
            for axis, name in zip(range(3), "LPS", strict=True):
                put(f"position:{imp.id}:{name}", f"{imp.id} position {name}", "mm", p,
                    float(imp.transform[axis, 3]), "Implant origin (anchor point), LPS mm.",
                    group="position")
        for m in measure_plan(case, p, catalog, expensive=interference):
            group = m.details.get("group", "measurement")
            if isinstance(m.value, float | int) and not isinstance(m.value, bool):
                put(m.key, m.name, m.unit, p, float(m.value), m.definition, group)
            elif m.value is not None:
                put(m.key, m.name, m.unit, p, m.value, m.definition, group)
        for mm in plan.manual.values():  # hand measurements (measurements/manual.py), matched by name
            put(f"manual:{mm.name}", mm.name, mm.unit, p, float(mm.value), mm.definition, "manual")
        if plan.locked is not None:
            put("locked", "Approved", "", p, f"{plan.locked.by} {plan.locked.at}", group="plan")
    out = list(rows.values())
    declared = {d.key for d in all_definitions()}
    for r in out:
        nums = [v for v in (r.values[p] for p in plan_names) if isinstance(v, float)]
        if len(nums) == len(plan_names):
            r.difference = nums[-1] - nums[0] if len(nums) == 2 else max(nums) - min(nums)
        target = tg.get(r.key)
        if target is None and r.key not in declared:  # per-side / per-implant keys: screw_breach_L3_left
            target = next((tg[k] for k in sorted(tg, key=len, reverse=True) if r.key.startswith(k + "_")),
                          None)
        if target is not None and r.unit:
            r.target = (float(target[0]), float(target[1]))
            r.in_range = {p: (None if not isinstance(r.values[p], float)
                              else r.target[0] <= r.values[p] <= r.target[1]) for p in plan_names}
    return Comparison(case.model.name, list(plan_names), out,
                      "last plan minus first plan" if len(plan_names) == 2 else "largest minus smallest value")
