"""Plan comparison rows from the living twin: stored study results and achieved vs planned.

:func:`extended_comparison` is :func:`surgiplan.core.planning.comparison.compare_plans` plus

* group ``simulation``: every stored study's key results of the plans (``case_studies.study_rows``,
  e.g. the hip-remodelling prediction per Gruen zone), one row per quantity, difference last minus
  first plan;
* group ``achieved``: for the latest registered post-operative scan, each plan's achieved minus
  planned value per implant and measurement (``twin.achieved``); no difference column (each value
  is already a difference). A scan whose implants cannot be measured gives one row with the reason.

The window's Compare step shows it; the CLI and the report keep their own assembly.
"""

from __future__ import annotations

from surgiplan.core.planning.comparison import Comparison, Row, compare_plans


def study_comparison_rows(case, plans: list[str]) -> list[Row]:
    """One row per stored study quantity with a value per plan (group ``simulation``)."""
    from surgiplan.core.simulation.case_studies import study_rows

    lines: dict[tuple, Row] = {}
    for r in study_rows(case, plans):
        region = f" ({r['region']})" if r.get("region") else ""
        quantity = f"{r.get('study', '')}: {r.get('label', '')}{region}"
        key = f"study:{quantity}"
        row = lines.setdefault(key, Row(quantity, key, r.get("unit") or "", {}, group="simulation",
                                        definition="stored study result (summary.json key_results)"))
        row.values[r["plan"]] = r.get("value")
    for row in lines.values():
        a, b = row.values.get(plans[0]), row.values.get(plans[-1])
        if isinstance(a, int | float) and isinstance(b, int | float):
            row.difference = float(b) - float(a)
    return list(lines.values())


def achieved_comparison_rows(case, plans: list[str], scan: str | None = None) -> list[Row]:
    """Achieved minus planned per plan for the latest registered post-op scan (group ``achieved``)."""
    from surgiplan.core.errors import SurgiplanError
    from surgiplan.core.twin.achieved import achieved_vs_planned, latest_postop_scan

    scan = scan or latest_postop_scan(case)
    if scan is None:
        return []
    lines: dict[str, Row] = {}
    for plan in plans:
        try:
            comp = achieved_vs_planned(case, plan, scan).comparison
        except SurgiplanError as exc:
            key = f"achieved:problem:{plan}"
            lines[key] = Row(f"achieved in scan {scan}", key, "", {plan: f"not measured: {exc}"}, group="achieved")
            continue
        for r in comp.rows:
            key = f"achieved:{r.key}"
            if r.difference is not None:
                value, what = r.difference, "achieved minus planned"
            else:
                value, what = r.values.get("achieved"), "achieved"
            row = lines.setdefault(key, Row(f"{r.quantity} ({what}, scan {scan})", key, r.unit, {},
                                            definition=r.definition, group="achieved"))
            row.values[plan] = value
    return list(lines.values())


def extended_comparison(case, plans: list[str]) -> Comparison:
    """The core comparison of ``plans`` with the simulation and achieved rows appended."""
    comp = compare_plans(case, plans)
    comp.rows.extend(study_comparison_rows(case, plans))
    comp.rows.extend(achieved_comparison_rows(case, plans))
    return comp
