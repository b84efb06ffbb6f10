"""Units and the formatting of quantities: one way for the CLI, the window and the report.

Units are stored as plain ASCII symbols (``mm``, ``deg``, ``mm^3``, ``mL``, ``Pa``); what a
person reads is made here: ``40.0°``, ``2055.7 mm³``, ``+1.5 mm``.

Examples
--------
>>> format_value(40.04, "deg")
'40.0°'
>>> format_value(2055.71, "mm^3")
'2055.7 mm³'
>>> format_value(None, "mm")
'–'
"""

from __future__ import annotations


def display_unit(unit: str) -> str:
    """The unit as printed after a number: "°" for degrees, " mm", " mm³", "" for none."""
    if unit == "deg":
        return "°"
    if not unit:
        return ""
    return " " + unit.replace("^3", "³").replace("^2", "²")


def human_label(quantity: str) -> str:
    """The core row label for people: implant ids' underscores become spaces, first letter up
    (``"acetabular_cup position L"`` -> ``"Acetabular cup position L"``)."""
    text = quantity.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def format_value(value, unit: str) -> str:
    """A plan's value: floats with 0.1 precision and their unit, text as is, "–" when missing."""
    if value is None:
        return "–"
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = float(value)
        return f"{value + 0.0 if round(value, 1) else 0.0:.1f}{display_unit(unit)}"  # no "-0.0"
    return str(value)


def format_difference(row) -> str:
    """The row's difference (core: last plan minus first), signed, with its unit; "0.0 mm"
    when it rounds to zero; "changed" for text rows whose values differ; "" otherwise."""
    if row.difference is not None:
        if abs(row.difference) < 0.05:
            return f"{0.0:.1f}{display_unit(row.unit)}"
        return f"{row.difference:+.1f}{display_unit(row.unit)}"
    vals = list(row.values.values())
    if all(isinstance(v, str) for v in vals) and len(set(vals)) > 1:
        return "changed"
    return ""


def format_target(row) -> str:
    """The target range "lo to hi" with the unit, "" when the row has none."""
    if row.target is None:
        return ""
    return f"{row.target[0]:g} to {row.target[1]:g}{display_unit(row.unit)}"


def row_differs(row) -> bool:
    """True when the plans' values differ (a non-zero difference or different texts)."""
    return format_difference(row) not in ("", f"{0.0:.1f}{display_unit(row.unit)}")
