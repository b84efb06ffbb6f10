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

import math


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


#: significant digits of a simulation result (a pressure ratio 0.9989 or a lesion drop 0.072 mmHg would read
#: 1.0 and 0.1 at the plan measurements' 0.1 precision)
RESULT_DIGITS = 4


def format_result(value, unit: str | None) -> str:
    """A simulation result: 4 significant digits, never in exponent form, with its unit ("1" and ""
    print no unit); text as is, "–" when missing.

    >>> format_result(0.07213, "mmHg"), format_result(0.99891, "1"), format_result(123456.7, "mJ")
    ('0.07213 mmHg', '0.9989', '123457 mJ')
    """
    if value is None:
        return "–"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _significant(float(value), signed=False) + _result_unit(unit)
    return str(value)


def format_result_difference(value: float | None, unit: str | None) -> str:
    """A signed difference of two simulation results, 4 significant digits ("–" when missing)."""
    if value is None:
        return "–"
    return _significant(float(value), signed=True) + _result_unit(unit)


def _result_unit(unit: str | None) -> str:
    return "" if unit in (None, "", "1") else display_unit(unit)


def _significant(v: float, signed: bool) -> str:
    if not math.isfinite(v):
        return str(v)
    if abs(v) >= 10 ** RESULT_DIGITS:  # 123457, not 1.235e+05
        text = f"{v:.0f}"
    elif v == 0 or abs(v) >= 1e-4:
        text = f"{v:.{RESULT_DIGITS}g}"
        if "e" in text:  # 9999.7 rounds up to 1e+04
            text = f"{v:.0f}"
    else:  # 0.00001234, not 1.234e-05
        text = f"{v:.{RESULT_DIGITS - 1 - math.floor(math.log10(abs(v)))}f}".rstrip("0")
    if float(text) == 0:
        return "0"  # no "-0", no "+0"
    return "+" + text if signed and not text.startswith("-") else text


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
