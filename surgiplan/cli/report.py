"""``surgiplan report``: the OR plan report (PDF) of one plan, rendered without a window."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        case_path: Path = typer.Argument(..., metavar="CASE", help="Case folder."),
        plan: str = typer.Option(..., "--plan", help="The plan to report."),
        compare: str = typer.Option(None, "--compare", help="A second plan for the comparison page."),
        deidentify: bool = typer.Option(True, "--deidentify/--identify",
                                        help="Case label instead of the patient's name and ID (default)."),
        paper: str = typer.Option("a4", "--paper", help="a4 or letter."),
        out: Path = typer.Option(None, "-o", "--out", help="The PDF (default CASE/reports/<plan>.pdf)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing report."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Write the OR plan report of PLAN: implants, images, measurements, simulations, sign-off."""
        from surgiplan.cli.outputs import check_writable
        from surgiplan.cli.progress import terminal_progress
        from surgiplan.core.case import Case
        from surgiplan.core.report import check_report_output, default_report_path, make_report
        from surgiplan.core.report.layout import page_size
        from surgiplan.scene.report_figures import SceneFigures

        page_size(paper)  # a bad --paper fails before any work
        case = Case.open(case_path)
        case.plan(plan)
        target = out if out is not None else default_report_path(case, plan)
        check_report_output(case, target, overwrite=overwrite)
        check_writable(target)
        with terminal_progress(f"report of plan {plan}") as bar:
            path = make_report(case, plan, out=target, compare=compare, deidentify=deidentify, paper=paper,
                               overwrite=overwrite, figures=SceneFigures(), progress=bar)
        size = path.stat().st_size
        if as_json:
            typer.echo(json.dumps({"report": str(path), "bytes": size, "plan": plan, "compare": compare,
                                   "deidentified": deidentify, "paper": paper.lower()}, indent=1))
        else:
            typer.echo(f"Report of plan {plan!r}: {path} ({size / 1e6:.1f} MB)")
