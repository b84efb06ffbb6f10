"""``surgiplan plan achieved``: the implants of a plan found in a registered post-operative CT.

Calls :func:`surgiplan.core.twin.achieved.achieved_vs_planned`: per implant the translation
error (mm, along the anatomical axes), the rotation error (deg), and every plan measurement
planned / achieved / difference (cup inclination and anteversion, screw angles and breach).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer


def achieved_cmd(
    case_path: Path = typer.Argument(..., help="Case folder."),
    plan: str = typer.Option(..., "--plan", help="The plan that was carried out."),
    scan: str = typer.Option(..., "--scan", help="The registered post-operative scan."),
    threshold: float = typer.Option(None, "--metal-hu", help="Metal threshold in HU (default 2500)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Find the plan's implants in the post-op scan and report achieved vs planned."""
    from surgiplan.cli.progress import terminal_progress
    from surgiplan.core.case import Case
    from surgiplan.core.twin.achieved import achieved_vs_planned
    from surgiplan.core.twin.implants import METAL_HU

    case = Case.open(case_path)
    with terminal_progress("achieved vs planned") as bar:
        rep = achieved_vs_planned(case, plan, scan, threshold_hu=METAL_HU if threshold is None else threshold,
                                  progress=bar)
    if as_json:
        typer.echo(json.dumps(rep.to_dict(), indent=1))
        return
    lines = [f"plan {plan!r} in scan {scan!r} (metal above {rep.threshold_hu:g} HU):"]
    for r in rep.implants:
        if not r.found:
            lines.append(f"  {r.id}: not found ({r.note})")
            continue
        t = r.translation_mm
        part = ", partly scanned" if r.partly_scanned else ""
        via = "the scan's" if r.registration == "scan" else f"{r.registration}'s"
        part += f", through {via} transform"
        lines.append(f"  {r.id}: lateral {t['lateral']:+.2f} mm, anterior {t['anterior']:+.2f} mm, superior "
                     f"{t['superior']:+.2f} mm ({r.frame}); rotation {r.rotation_deg:.2f} deg; fit rms "
                     f"{r.fit_rms_mm:.2f} mm{part}")
    lines += ["", rep.comparison.to_text()]
    typer.echo("\n".join(lines))
