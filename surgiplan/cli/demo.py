"""``surgiplan demo``: the headless workflow from a sample scan to compared plans."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("surgiplan-demo"), "--out", help="Folder for the case and results."),
        case: str = typer.Option("hip", "--case", help="Sample anatomy: hip, knee, spine or vascular."),
        size: str = typer.Option("small", "--size", help="Sample size: small (seconds) or full (512 x 512)."),
        overwrite: bool = typer.Option(False, "--overwrite",
                                       help="Replace an earlier demo (case, models, comparison) in --out."),
        simulate: bool = typer.Option(False, "--simulate",
                                      help="Run the anatomy's simulation study for each plan (when this build "
                                           "has them)."),
        report: bool = typer.Option(True, "--report/--no-report", help="End with the OR plan report (PDF)."),
        paper: str = typer.Option("a4", "--paper", help="Report paper: a4 or letter."),
    ) -> None:
        """Sample scan -> segmentation -> models -> two plans -> comparison -> PDF report, without a window."""
        from surgiplan.cli.outputs import check_folder
        from surgiplan.cli.progress import terminal_progress
        from surgiplan.core.report.layout import page_size
        from surgiplan.core.samples import samples_root
        from surgiplan.demo.run import run_demo
        from surgiplan.demo.sample_case import ANATOMIES
        from surgiplan.scene.report_figures import SceneFigures

        sample = [samples_root() / f"{ANATOMIES[case][0]}-{size}"] if case in ANATOMIES else []
        check_folder(out, sample)  # not in a case, not in the sample it reads, not read-only
        page_size(paper)
        with terminal_progress(f"demo ({case})") as bar:
            r = run_demo(out, case, size=size, overwrite=overwrite, pdf=report, paper=paper, simulate=simulate,
                         figures=SceneFigures() if report else None, progress=bar)
        typer.echo(f"Scan: {r.volume_description}")
        for w in r.warnings:
            typer.echo(f"  importer: {w}")
        typer.echo("Models (smoothed, decimated, LPS mm):")
        for m in r.models:
            state = "watertight" if m.watertight else "NOT watertight: " + "; ".join(m.problems)
            typer.echo(
                f"  {m.name:<14} {m.triangles:>8d} triangles  {m.area_mm2:>10.1f} mm^2  "
                f"{m.volume_ml:>8.1f} mL  {state}"
            )
        typer.echo("")
        typer.echo(r.comparison_text)
        typer.echo("")
        typer.echo(f"Case folder:       {r.case_dir}")
        typer.echo(f"Plans:             {', '.join(r.plans)}")
        typer.echo(f"Models (STL, LPS): {r.model_files[0].parent if r.model_files else '-'}")
        typer.echo(f"Comparison:        {r.comparison_json}")
        typer.echo(f"                   {r.comparison_csv}")
        for st in r.studies:
            cs = st.get("case_study", {})
            where = r.case_dir / "studies" / f"{cs.get('plan', '?')}--{cs.get('study', '?')}"
            typer.echo(f"Simulation:        {cs.get('study', '?')} of plan {cs.get('plan', '?')}: "
                       + (f"FAILED ({st['error']})" if "error" in st else str(where)))
        if r.report_pdf is not None:
            typer.echo(f"OR plan report:    {r.report_pdf}")
        typer.echo(f"Open it in the window: surgiplan gui {r.case_dir}")
