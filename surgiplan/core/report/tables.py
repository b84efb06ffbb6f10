"""The report's tables (reportlab, vector text): implants, measurements, cuts, screws, studies,
comparison, sign-off. Every value is printed with its unit through :mod:`surgiplan.core.units`.

Out-of-range values are marked for greyscale print: the status cell says ``▲ HIGH`` or
``▼ LOW`` in bold capitals on a grey ground and the value is bold; in range reads ``✓ in range``.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.platypus import Paragraph, Table, TableStyle

from surgiplan.core.report.layout import GREY_DARK, GREY_LIGHT, GREY_PALE
from surgiplan.core.units import display_unit, format_result, format_result_difference, format_value

FLAG_TEXT = {"ok": "✓ in range", "high": "▲ HIGH", "low": "▼ LOW", "": "–"}


def P(text, style) -> Paragraph:  # noqa: N802 - short, used in every cell
    """A table cell paragraph of plain ``text`` (escaped; ``<b>`` allowed when ``text`` is markup)."""
    return Paragraph(text if isinstance(text, Markup) else escape(str(text)), style)


class Markup(str):
    """Text that already holds reportlab paragraph markup (``<b>``...), not escaped again."""


def bold(text: str) -> Markup:
    return Markup(f"<b>{escape(str(text))}</b>")


def target_text(target, unit: str) -> str:
    if target is None:
        return "–"
    return f"{target[0]:g} to {target[1]:g}{display_unit(unit)}"


def grid_table(rows, widths, *, header_rows: int = 1, zebra: bool = True, extra=(), row_heights=None) -> Table:
    """A table with a dark header row (white bold text), thin grid and pale zebra rows."""
    t = Table(rows, colWidths=widths, repeatRows=header_rows, hAlign="LEFT", rowHeights=row_heights)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.Color(0.6, 0.6, 0.6)),
        ("FONTNAME", (0, 0), (-1, -1), "Report-Cond"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header_rows:
        style += [("BACKGROUND", (0, 0), (-1, header_rows - 1), GREY_DARK),
                  ("TEXTCOLOR", (0, 0), (-1, header_rows - 1), colors.white)]
    if zebra:
        for r in range(header_rows, len(rows)):
            if (r - header_rows) % 2:
                style.append(("BACKGROUND", (0, r), (-1, r), GREY_PALE))
    style.extend(extra)
    t.setStyle(TableStyle(style))
    return t


def head(cells, st) -> list:
    return [Paragraph(f"<b>{escape(c)}</b>", st["head"]) for c in cells]


def implant_table(content, st, width: float) -> Table:
    """Implant list: component, size (large, bold), quantity, material, catalogue ref., site, backups."""
    rows = [head(["Component", "Size", "Qty", "Material", "Catalogue ref.", "Site", "Backups (next size down, up)"],
                 st)]
    for i in content.implants:
        comp = Markup(f"{escape(i.component)}" + (f"<br/><b>{escape(i.options)}</b>" if i.options else ""))
        rows.append([P(comp, st["cell"]), P(i.size, st["cell_big"]), P(str(i.quantity), st["cell_big"]),
                     P(i.material, st["cell_small"]), P(i.reference, st["cell_small"]), P(i.where, st["cell_small"]),
                     P(i.backups, st["cell"])])
    f = [0.25, 0.1, 0.05, 0.17, 0.14, 0.13, 0.16]
    return grid_table(rows, [x * width for x in f])


def measure_row(m, st, with_definition: bool = True) -> list:
    value = format_value(m.value, m.unit) if m.value is not None else f"not computed ({m.missing})"
    flagged = m.flag in ("high", "low")
    vcell = P(bold(value) if flagged else value, st["cell"])
    row = [P(m.name, st["cell"]), vcell, P(target_text(m.target, m.unit), st["cell"]),
           P(bold(FLAG_TEXT[m.flag]) if flagged else FLAG_TEXT[m.flag], st["cell"])]
    if with_definition:
        row += [P(m.reference or "–", st["cell_small"]), P(m.definition, st["cell_small"])]
    return row


def _flag_styles(lines, first_row: int, col: int) -> list:
    out = []
    for r, m in enumerate(lines, start=first_row):
        if m is not None and m.flag in ("high", "low"):
            out.append(("BACKGROUND", (col, r), (col, r), GREY_LIGHT))
            out.append(("BOX", (col, r), (col, r), 1.2, colors.black))
    return out


def key_targets_table(content, st, width: float) -> Table | None:
    """The measurements that have a target range: name, planned, target, status."""
    lines = [m for m in content.measurements if m.target is not None]
    if not lines:
        return None
    rows = [head(["Key target", "Planned", "Target range", "Status"], st)]
    rows += [measure_row(m, st, with_definition=False) for m in lines]
    return grid_table(rows, [0.46 * width, 0.18 * width, 0.2 * width, 0.16 * width],
                      extra=_flag_styles(lines, 1, 3))


def native_table(content, st, width: float) -> Table | None:
    """The pre-operative (native) measurements: name and value, for the summary."""
    lines = [m for m in content.measurements if m.group.startswith("Native") and m.value is not None]
    if not lines:
        return None
    rows = [head(["Pre-operative anatomy (measured on the scan)", "Value"], st)]
    rows += [[P(m.name, st["cell"]), P(format_value(m.value, m.unit), st["cell"])] for m in lines]
    return grid_table(rows, [0.66 * width, 0.34 * width])


def screw_definitions_table(content, st, width: float) -> Table | None:
    """What each column of the screw table means (the measurements' own definitions)."""
    defs = {}
    for s in content.screws:
        for key, m in s.values.items():
            defs.setdefault(key, m)
    names = dict(SCREW_COLS)
    rows = [head(["Screw table column", "Definition"], st)]
    rows += [[P(names.get(k, k), st["cell"]), P(defs[k].definition, st["cell_small"])]
             for k, _ in SCREW_COLS if k in defs]
    return grid_table(rows, [0.22 * width, 0.78 * width]) if len(rows) > 1 else None


def measurement_table(content, st, width: float, exclude=("screw_",)) -> Table | None:
    """Every measurement grouped (planned, bone preparation, native...), with definitions."""
    rows = [head(["Measurement", "Planned value", "Target range", "Status", "Native / contralateral",
                  "Definition"], st)]
    groups: dict[str, list] = {}
    for m in content.measurements:
        if content.screws and m.key.startswith(exclude + ("interference_",)) and any(
                m.key.endswith("_" + s.implant_id) for s in content.screws):
            continue  # shown in the screw table
        groups.setdefault(m.group, []).append(m)
    order = ["Planned", "Resections", "Bone preparation and fit", "Hand measurements", "Native anatomy (pre-operative)"]
    lines, extra = [None], []
    for g in sorted(groups, key=lambda g: order.index(g) if g in order else len(order)):
        rows.append([P(bold(g), st["cell"]), "", "", "", "", ""])
        extra += [("SPAN", (0, len(rows) - 1), (-1, len(rows) - 1)),
                  ("BACKGROUND", (0, len(rows) - 1), (-1, len(rows) - 1), GREY_LIGHT)]
        lines.append(None)
        for m in groups[g]:
            rows.append(measure_row(m, st))
            lines.append(m)
    if len(rows) == 1:
        return None
    extra += _flag_styles(lines, 0, 3)
    f = [0.2, 0.12, 0.11, 0.09, 0.14, 0.34]
    return grid_table(rows, [x * width for x in f], zebra=False, extra=extra)


def resection_table(content, st, width: float) -> Table:
    """Bone cuts: depth from the reference point, angles, thickness per compartment (mm)."""
    rows = [head(["Cut", "Bone", "Depth", "Varus (+) / valgus (−)", "Slope", "Thickness lateral",
                  "Thickness medial"], st)]
    for r in content.resections:
        th = r.thickness_mm
        rows.append([P(bold(r.name.replace("_", " ")), st["cell"]), P(r.bone, st["cell"]),
                     P(format_value(r.depth_mm, "mm"), st["cell"]), P(format_value(r.varus_valgus_deg, "deg"),
                                                                    st["cell"]),
                     P(format_value(r.slope_deg, "deg"), st["cell"]),
                     P(bold(format_value(th.get("lateral"), "mm")), st["cell_big"]),
                     P(bold(format_value(th.get("medial"), "mm")), st["cell_big"])])
    return grid_table(rows, [x * width for x in (0.17, 0.1, 0.11, 0.17, 0.11, 0.17, 0.17)])


SCREW_COLS = (("screw_medial_angle", "Medial angle"), ("screw_caudal_angle", "Caudal angle"),
              ("screw_length_margin", "Length margin"), ("screw_diameter_margin", "Diameter margin"),
              ("screw_breach", "Cortical breach"), ("interference_volume", "Bone removed"))


def screw_table(content, st, width: float) -> Table:
    """Pedicle screws per level: size and trajectory, breach flagged."""
    rows = [head(["Level", "Side", "Screw (Ø × length)", *[c for _, c in SCREW_COLS], "Status"], st)]
    extra = []
    for s in content.screws:
        cells = [P(bold(s.level), st["cell_big"]), P(s.side.upper(), st["cell"]), P(bold(s.size + " mm"),
                                                                                    st["cell_big"])]
        flags = []
        for key, _ in SCREW_COLS:
            m = s.values.get(key)
            cells.append(P("–" if m is None else (bold(format_value(m.value, m.unit)) if m.flag in ("high", "low")
                                                  else format_value(m.value, m.unit)), st["cell"]))
            if m is not None and m.flag:
                flags.append(m.flag)
        bad = [f for f in flags if f in ("high", "low")]
        cells.append(P(bold("▲ BREACH") if bad else ("✓ in range" if flags else "–"), st["cell"]))
        if bad:
            extra.append(("BACKGROUND", (len(cells) - 1, len(rows)), (len(cells) - 1, len(rows)), GREY_LIGHT))
        rows.append(cells)
    f = [0.06, 0.07, 0.16, 0.09, 0.09, 0.1, 0.1, 0.1, 0.12, 0.11]
    return grid_table(rows, [x * width for x in f], extra=extra)


def kv_table(pairs, st, width: float, key_frac: float = 0.35) -> Table:
    """Two columns: what, value (plain text)."""
    rows = [[P(bold(k), st["cell"]), P(v, st["cell"])] for k, v in pairs]
    return grid_table(rows, [key_frac * width, (1 - key_frac) * width], header_rows=0)


def key_results_table(results, st, width: float) -> Table:
    """A study's key results as given (label, value with unit, region)."""
    rows = [head(["Result", "Value", "Region"], st)]
    for r in results:
        v = r.get("value")
        text = format_result(v, r.get("unit", ""))  # 4 significant digits, as the window and the CLI
        rows.append([P(r.get("label", ""), st["cell"]), P(bold(text), st["cell"]), P(r.get("region", "") or "–",
                                                                                     st["cell"])])
    return grid_table(rows, [0.45 * width, 0.25 * width, 0.3 * width])


def comparison_table(comparison, st, width: float, extra_rows=(), column_prefix: str = "Plan ") -> Table:
    """The plan comparison (core ``compare_plans``) by section, values with units, status per plan;
    the column headings are ``column_prefix`` + the column's name (``""`` for planned / achieved)."""
    from surgiplan.core.planning.comparison import ordered_lines
    from surgiplan.core.units import format_difference, format_target, human_label

    plans = comparison.plans
    rows = [head(["Quantity", *[f"{column_prefix}{p}" for p in plans], "Difference", "Target"], st)]
    extra = []
    n = len(plans)
    for line in ordered_lines(comparison.rows):
        if isinstance(line, str):
            rows.append([P(bold(line), st["cell"])] + [""] * (n + 2))
            extra += [("SPAN", (0, len(rows) - 1), (-1, len(rows) - 1)),
                      ("BACKGROUND", (0, len(rows) - 1), (-1, len(rows) - 1), GREY_LIGHT)]
            continue
        cells = [P(human_label(line.quantity), st["cell"])]
        for p in plans:
            v = format_value(line.values.get(p), line.unit)
            ok = line.in_range.get(p)
            text = v
            if ok is False:
                low = isinstance(line.values.get(p), float) and line.values[p] < line.target[0]
                text = bold(f"{v} {FLAG_TEXT['low' if low else 'high']}")
            cells.append(P(text, st["cell"]))
            if ok is False:
                extra.append(("BACKGROUND", (len(cells) - 1, len(rows)), (len(cells) - 1, len(rows)), GREY_LIGHT))
        cells += [P(format_difference(line) or "–", st["cell"]), P(format_target(line) or "–", st["cell"])]
        rows.append(cells)
    for r in extra_rows:
        vals = r.get("values", {})
        unit = r.get("unit", "")
        nums = [vals.get(p) for p in plans]  # study rows: last minus first plan, as the comparison's difference
        diff = "–"
        if len(plans) == 2 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in nums):
            diff = format_result_difference(float(nums[-1]) - float(nums[0]), unit)
        rows.append([P(r.get("quantity") or r.get("label", ""), st["cell"]),
                     *[P(format_result(vals.get(p), unit), st["cell"]) for p in plans], P(diff, st["cell"]),
                     P("–", st["cell"])])
    qw = 0.34
    rest = (1 - qw) / (n + 2)
    return grid_table(rows, [qw * width, *[rest * width] * (n + 2)], zebra=False, extra=extra)


def signoff_table(content, st, width: float) -> Table:
    """Planned / reviewed / approved by, with name, signature and date fields (approval prefilled)."""
    lock = content.lock
    approved = (f"{lock.by}", lock.at) if lock is not None else ("", "")
    rows = [head(["Role", "Name", "Signature", "Date"], st),
            [P(bold("Planned by"), st["cell"]), P(content.planner, st["cell"]), "", P(content.plan_version[:10],
                                                                                     st["cell"])],
            [P(bold("Reviewed by"), st["cell"]), "", "", ""],
            [P(bold("Approved by"), st["cell"]), P(approved[0], st["cell"]), "", P(approved[1][:10], st["cell"])]]
    return grid_table(rows, [0.2 * width, 0.3 * width, 0.3 * width, 0.2 * width], zebra=False,
                      row_heights=[None, 30, 30, 30])
