"""The report's plan comparison gives study rows (e.g. hip-remodelling) a difference, last minus first plan."""

from __future__ import annotations

from surgiplan.core.planning.comparison import Comparison
from surgiplan.core.report.fonts import register_fonts
from surgiplan.core.report.layout import styles
from surgiplan.core.report.tables import comparison_table


def _texts(table) -> list[list[str]]:
    return [[getattr(c, "text", str(c)) for c in row] for row in table._cellvalues]


def test_study_rows_get_b_minus_a():
    register_fonts()
    comp = Comparison("case", ["A", "B"], [], "B minus A")
    extra = [{"quantity": "hip-remodelling: zone 7", "unit": "%", "values": {"A": -55.1, "B": -54.8}},
             {"quantity": "hip-remodelling: zone 1", "unit": "%", "values": {"A": -15.96, "B": -16.0}},
             {"quantity": "only A", "unit": "%", "values": {"A": -3.0}},
             {"quantity": "hip-remodelling: zone 4", "unit": "%", "values": {"A": -8.25, "B": -8.25}}]
    rows = _texts(comparison_table(comp, styles(), 500.0, extra))
    assert rows[1][1:4] == ["-55.1 %", "-54.8 %", "+0.3 %"]
    # study results keep 4 significant digits (units.format_result), as the window and the CLI print them
    assert rows[2][1:4] == ["-15.96 %", "-16 %", "-0.04 %"]
    assert rows[3][3] == "–"
    assert rows[4][3] == "0 %"  # no "-0" or "+0"
