"""``surgiplan simulate``: run a study file (optionally on N MPI ranks) with a progress bar."""

from __future__ import annotations

import json
import signal
import time
from contextlib import contextmanager
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate(
        target: Path = typer.Argument(..., help="A study JSON file (a case folder later, with --plan/--study)."),
        np_: int = typer.Option(1, "--np", min=1, help="Number of MPI ranks (mpiexec -n N)."),
        out: Path = typer.Option(None, "--out", help="Result folder (default: the study's folder)."),
        plan: str = typer.Option(None, "--plan", help="Plan name (case-based studies; next release)."),
        study: str = typer.Option(None, "--study", help="Study preset (case-based studies; next release)."),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ) -> None:
        """Run a simulation study; Ctrl+C or SIGTERM cancels cleanly (status 'cancelled', exit 130)."""
        from surgiplan.cli.progress import terminal_progress
        from surgiplan.core.errors import InputError
        from surgiplan.core.simulation.runner import run_study_process

        if target.is_dir() or plan or study:
            raise InputError(
                "case-based studies (surgiplan simulate CASE --plan NAME --study PRESET) are not "
                "available yet", path=target, hint="Give a study JSON file for now.")
        with terminal_progress(f"simulating {target.name}") as bar, _stop_on_signals(bar.token):
            summary = run_study_process(target, out, np_, bar)
        if as_json:
            typer.echo(json.dumps(summary, indent=1))
            return
        _print_summary(summary, out or target.resolve().parent)


@contextmanager
def _stop_on_signals(token):
    """SIGTERM (a scheduler, a parent) and SIGHUP (the terminal closed) cancel like Ctrl+C does.

    The first asks the solver to stop at its next safe point (the runner forwards SIGTERM to the
    child's process group and waits); a second one, a second or more later, stops at once: the
    runner kills the solver's process tree and marks the folder cancelled.
    """
    from surgiplan.core.errors import Cancelled

    first: list[float] = []

    def _handle(signum, frame):
        if not first:
            first.append(time.monotonic())
            token.cancel()
        elif time.monotonic() - first[0] > 1.0:
            raise Cancelled(f"Simulation stopped at once ({signal.Signals(signum).name} received twice); "
                            "the result folder is marked cancelled.")

    sigs = [signal.SIGTERM]
    if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # not under nohup
        sigs.append(signal.SIGHUP)
    previous = {}
    try:
        for sig in sigs:
            previous[sig] = signal.signal(sig, _handle)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print_summary(s: dict, out: Path) -> None:
    typer.echo(f"{s.get('physics')} study {s.get('study')!r}: complete on {s.get('ranks')} rank(s) "
               f"in {s.get('wall_time_s', 0):.1f} s; {s['solver'].get('dofs')} DOFs ({s['solver'].get('method')})")
    if s.get("physics") == "elasticity":
        for name, r in s.get("regions", {}).items():
            typer.echo(f"  {_printable(name)}: von Mises peak {r['von_mises_peak_MPa']:.3g} MPa, p99 "
                       f"{r['von_mises_p99_MPa']:.3g} MPa, max displacement {r['max_displacement_mm']:.4g} mm, "
                       f"strain energy {r['strain_energy_mJ']:.4g} mJ")
    else:
        f = s.get("final_state", {})
        typer.echo(f"  pressure drop {f.get('pressure_drop_Pa', float('nan')):.4g} Pa "
                   f"({f.get('pressure_drop_mmHg', float('nan')):.4g} mmHg), Re {f.get('reynolds_number', 0):.0f}")
        typer.echo(f"  wall shear stress mean {f.get('wss_mean_Pa', float('nan')):.3g} Pa, max "
                   f"{f.get('wss_max_Pa', float('nan')):.3g} Pa; area < 0.4 Pa "
                   f"{f.get('area_wss_below_0.4_Pa_mm2', float('nan')):.1f} mm^2, > 2.5 Pa "
                   f"{f.get('area_wss_above_2.5_Pa_mm2', float('nan')):.1f} mm^2")
        for name, q in f.get("outlet_flow_mL_per_s", {}).items():
            typer.echo(f"  outlet {_printable(name)}: {q:.4g} mL/s")
    typer.echo(f"  results: {out / 'results.xdmf'}, {out / 'summary.json'}")


def _printable(name: object) -> str:
    """A tag name from the mesh file without control characters (no terminal escape sequences)."""
    return "".join(c if c.isprintable() else "?" for c in str(name))[:200]
