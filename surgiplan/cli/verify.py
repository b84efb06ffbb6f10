"""``surgiplan verify``: run the solver verification against the analytic reference file."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("verify")
    def verify(
        quick: bool = typer.Option(False, "--quick", help="Coarse levels only (a few minutes; CI)."),
        as_json: bool = typer.Option(False, "--json", help="Print {\"cases\": [...]} as JSON."),
        reference: Path = typer.Option(None, "--reference",
                                       help="validation_reference_values.json (default: shared data)."),
        only: str = typer.Option(None, "--only", help="Run only groups whose name contains this "
                                 "(cantilever, patch, lame, convergence, poiseuille, womersley)."),
    ) -> None:
        """Compare the elasticity and flow solvers with analytic solutions; exit 1 on a failure."""
        from surgiplan.cli.progress import terminal_progress
        from surgiplan.core.simulation.verify import run_verification

        with terminal_progress("verifying solvers") as bar:
            rows = run_verification(reference, quick=quick, progress=bar, only=only)
        failed = [r for r in rows if not r.passed]
        if as_json:
            typer.echo(json.dumps({"cases": [r.to_dict() for r in rows]}, indent=1))
        else:
            _table(rows)
            typer.echo(f"{len(rows) - len(failed)} of {len(rows)} checks passed"
                       + (f"; FAILED: {', '.join(sorted({r.name for r in failed}))}" if failed else ""))
        if failed:
            raise typer.Exit(1)


def _table(rows) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="surgiplan solver verification (computed vs analytic reference)")
    for col in ("case", "quantity", "computed", "reference", "unit", "rel. error", "tolerance", ""):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(r.name, r.quantity, f"{r.computed:.6g}", f"{r.reference:.6g}", r.unit,
                  f"{r.relative_error:.2e}", f"{r.tolerance:.1e}", "ok" if r.passed else "FAIL")
    Console(width=200).print(t)
