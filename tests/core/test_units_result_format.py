"""Simulation results print with 4 significant digits in every face (report, window, CLI): a lesion drop of
0.072 mmHg or a pressure ratio of 0.9989 must not read "0.1 mmHg" and "1.0" as plan measurements do."""

from __future__ import annotations

import pytest

from surgiplan.core.units import format_result, format_result_difference, format_value


@pytest.mark.parametrize(("value", "unit", "text"), [
    (0.072, "mmHg", "0.072 mmHg"),
    (0.99891, "1", "0.9989"),
    (4.2134, "mmHg", "4.213 mmHg"),
    (12.0, "mL/s", "12 mL/s"),
    (1234.56, "Pa", "1235 Pa"),
    (9999.7, "Pa", "10000 Pa"),       # .4g would print 1e+04
    (123456.7, "mJ", "123457 mJ"),    # .4g would print 1.235e+05
    (1.234e-5, "m", "0.00001234 m"),  # no exponent for small values either
    (-0.0, "Pa", "0 Pa"),
    (None, "Pa", "–"),
    ("n/a", "Pa", "n/a"),
])
def test_result_text(value, unit, text):
    assert format_result(value, unit) == text


def test_results_keep_what_measurements_round_away():
    assert format_value(0.072, "mmHg") == "0.1 mmHg"  # a plan measurement's 0.1 precision
    assert format_result(0.072, "mmHg") != format_result(0.12, "mmHg")


@pytest.mark.parametrize(("value", "text"), [(-4.141, "-4.141 mmHg"), (0.0061, "+0.0061 mmHg"), (0.0, "0 mmHg"),
                                            (None, "–")])
def test_result_difference(value, text):
    assert format_result_difference(value, "mmHg") == text
