"""``surgiplan simulate``: a study file, a case study on a saved plan, or a vessel lumen, with progress.

    surgiplan simulate --list
    surgiplan simulate CASE --plan A --study hip-walking [--np 2] [--out DIR] [--option degree=1] [--json]
    surgiplan simulate CASE --plan A --study vessel-rest [--no-pre] [--option flow_mL_s=6] [--json]
    surgiplan simulate STUDY.json [--np N] [--out DIR] [--json]
    surgiplan simulate --lumen LUMEN --inlet X,Y,Z --flow-mL-s Q [--density] [--viscosity] [--np] [--out] [--json]

A steady vessel study on a plan with a stent runs the native lumen (the case's vessel without the
stent; stored once per CT, lumen and study options under ``CASE/studies/native--<study>--<key>`` and
reused by every plan) and the stented lumen with the same inflow and outlet resistances, and stores the
pre/post comparison in the plan's summary (``pre_post``); ``--no-pre`` runs the plan only.

Progress is a bar on a terminal and plain lines (``  40% meshing the implanted femur``) in a log or
a pipe.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate(
        target: Path = typer.Argument(None, help="A study JSON file, or a case folder (with --plan and --study)."),
        list_: bool = typer.Option(False, "--list", help="List the case studies and whether this build runs them."),
        plan: str = typer.Option(None, "--plan", help="Plan name (case studies)."),
        study: str = typer.Option(None, "--study", help="Study preset (case studies), e.g. hip-walking."),
        option: list[str] = typer.Option(None, "--option", help="Study option KEY=VALUE (repeatable), "
                                         "e.g. degree=1, element_size_mm=5, body_mass_kg=82; "
                                         "with --lumen: h_max_mm=4, wall_ratio=0.33."),
        lumen: Path = typer.Option(None, "--lumen", help="A vessel lumen surface (blood-flow study)."),
        inlet: str = typer.Option(None, "--inlet", help="Inlet point X,Y,Z (LPS mm) with --lumen."),
        flow: float = typer.Option(None, "--flow-mL-s", help="Inlet flow rate (mL/s) with --lumen."),
        density: float = typer.Option(1060.0, "--density", help="Blood density (kg/m^3) with --lumen."),
        viscosity: float = typer.Option(0.0035, "--viscosity", help="Blood viscosity (Pa s) with --lumen."),
        pre: bool = typer.Option(True, "--pre/--no-pre", help="Vessel studies on a plan with a stent: also "
                                 "run (or reuse) the native lumen with the same inflow and outlet resistances "
                                 "and compare pre/post (default); --no-pre runs the plan only."),
        np_: int = typer.Option(1, "--np", min=1, help="Number of MPI ranks (mpiexec -n N)."),
        out: Path = typer.Option(None, "--out", help="Result folder (default: the study's folder, or "
                                 "CASE/studies/<plan>--<study>)."),
        as_json: bool = typer.Option(False, "--json", help="Print the summary (or the list) as JSON."),
    ) -> None:
        """Run a simulation; Ctrl+C or SIGTERM cancels cleanly (status 'cancelled', exit 130)."""
        from surgiplan.core.errors import InputError

        if list_:
            _list(as_json)
            return
        if lumen is not None:
            summary, where = _lumen(lumen, inlet, flow, density, viscosity, np_, out, _parse_options(option or []))
        elif target is None:
            raise InputError("nothing to simulate", hint="Give a study JSON file, a case folder with --plan "
                             "and --study, --lumen, or --list.")
        elif target.is_dir() or plan or study:
            if not (plan and study):
                raise InputError("a case study needs both --plan and --study", path=target,
                                 hint="e.g. surgiplan simulate CASE --plan A --study hip-walking")
            opts = _parse_options(option or [])
            if not pre:
                opts["pre"] = False
            summary, where = _case(target, plan, study, np_, out, opts)
        else:
            if option:
                raise InputError("--option is for case studies; edit the study file instead", path=target)
            from surgiplan.core.simulation.runner import run_study_process

            with _progress(f"simulating {target.name}") as bar, _stop_on_signals(bar.token):
                summary = run_study_process(target, out, np_, bar)
            where = out or target.resolve().parent
        if as_json:
            typer.echo(json.dumps(summary, indent=1, default=str))
            return
        _print_summary(summary, where)


def _parse_options(items: list[str]) -> dict:
    from surgiplan.core.errors import InputError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--option {item!r} is not KEY=VALUE")
        v = value.strip()
        try:
            out[key.strip()] = json.loads(v)
        except ValueError:
            out[key.strip()] = v
    return out


def _list(as_json: bool) -> None:
    from surgiplan.core.simulation.case_studies import list_studies

    rows = list_studies()
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    for r in rows:
        state = "" if r["available"] else "  (not available in this build)"
        typer.echo(f"{r['name']:<16} {r['anatomy']:<9} {r['physics']:<10} {r['description']}{state}")


def _case(case_dir: Path, plan: str, study: str, n: int, out: Path | None, options: dict):
    from surgiplan.core.simulation.case_studies import default_out_dir, run_case_study

    with _progress(f"{study} on plan {plan}") as bar, _stop_on_signals(bar.token):
        summary = run_case_study(case_dir, plan, study, n_ranks=n, out_dir=out, progress=bar, options=options)
    return summary, out or default_out_dir(case_dir, plan, study)


def _lumen(lumen: Path, inlet: str | None, flow: float | None, density: float, viscosity: float, n: int,
           out: Path | None, options: dict | None = None):
    from surgiplan.core.errors import InputError

    if inlet is None or flow is None:
        raise InputError("--lumen needs --inlet X,Y,Z and --flow-mL-s Q", path=lumen)
    try:
        point = tuple(float(v) for v in inlet.split(","))
        assert len(point) == 3
    except (ValueError, AssertionError):
        raise InputError(f"--inlet {inlet!r} is not X,Y,Z in mm") from None
    try:
        from surgiplan.core.simulation.vessel.lumen_study import run_lumen_study
    except ImportError:
        raise InputError("blood-flow studies of a lumen are not available in this build") from None
    out = out or lumen.resolve().parent / f"{lumen.stem}-flow"
    with _progress(f"blood flow in {lumen.name}") as bar, _stop_on_signals(bar.token):
        summary = run_lumen_study(lumen, point, flow, density=density, viscosity=viscosity, n_ranks=n,
                                  out_dir=out, progress=bar, options=options)
    return summary, out


class LineProgress:
    """Progress as plain lines on stderr (``  40% meshing femur``) for logs and pipes.

    A line is printed when the message changes or the percentage moved by 5 or more, at most
    twice a second (and always at 100 %).
    """

    def __init__(self, description: str, stream=None, min_interval_s: float = 0.5):
        from surgiplan.core.jobs import CancelToken

        self.token = CancelToken()
        self.stream = stream or sys.stderr
        self.min_interval_s = min_interval_s
        self._last = (-100, None, 0.0)
        self.stream.write(f"{description}\n")
        self.stream.flush()

    def update(self, fraction: float, message: str = "") -> None:
        pct = int(round(100 * max(0.0, min(1.0, float(fraction)))))
        last_pct, last_msg, last_t = self._last
        now = time.monotonic()
        moved = message != last_msg or pct - last_pct >= 5
        if pct >= 100 or (moved and now - last_t >= self.min_interval_s):
            if (pct, message) != (last_pct, last_msg):
                self.stream.write(f"  {pct:3d}% {message}\n")
                self.stream.flush()
            self._last = (pct, message, now)

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled


@contextmanager
def _progress(description: str):
    """A bar on a terminal, plain lines otherwise; Ctrl+C asks the job to stop."""
    if sys.stderr.isatty():
        from surgiplan.cli.progress import terminal_progress

        with terminal_progress(description) as bar:
            yield bar
        return
    bar = LineProgress(description)
    previous = signal.getsignal(signal.SIGINT)

    def _on_sigint(signum, frame):
        bar.token.cancel()
        signal.signal(signal.SIGINT, previous)

    try:
        signal.signal(signal.SIGINT, _on_sigint)
    except ValueError:
        pass
    try:
        yield bar
    finally:
        try:
            signal.signal(signal.SIGINT, previous)
        except ValueError:
            pass


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
    if s.get("key_results"):
        for r in s["key_results"]:
            v = r["value"]  # a number, or text (the vessel study's 'lumen' row: native / stented)
            v = f"{v:.4g}" if isinstance(v, int | float) else _printable(v)
            typer.echo(f"  {_printable(r['region'])}: {_printable(r['label'])} {v} {r['unit']}".rstrip())
    elif s.get("physics") == "elasticity":
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
    if s.get("pre_post"):
        _print_pre_post(s["pre_post"])
    typer.echo(f"  results: {out}")


def _print_pre_post(pp: dict) -> None:
    """The pre/post-stent table of a vessel study (native lumen before, the plan's stent after)."""
    nat = pp.get("native", {})
    same = pp.get("same_physiology", {})
    typer.echo(f"  before (native lumen, {nat.get('status')}: {nat.get('folder')}) and after the stent; inflow "
               f"{same.get('inflow_mL_s')} mL/s, same outlet resistances: "
               f"{ {True: 'yes', False: 'NO', None: 'unknown'}[same.get('identical_before_and_after')]}")
    if nat.get("status") == "failed":
        typer.echo(f"  no native result: {_printable(nat.get('reason'))}")
        typer.echo(f"    {_printable(nat.get('hint'))}")
    for r in pp.get("rows", []):
        pre, post, ch = (_num(r.get(k)) for k in ("pre", "post", "change"))
        unit = "" if r.get("unit") in (None, "1") else f" {r['unit']}"  # a ratio, a Reynolds number
        typer.echo(f"  {_printable(r['quantity'])} ({_printable(r.get('region'))}): {pre} -> {post}{unit}"
                   f" (change {ch})")


def _num(v) -> str:
    return f"{v:.4g}" if isinstance(v, int | float) else "-"


def _printable(name: object) -> str:
    """A tag name from the mesh file without control characters (no terminal escape sequences)."""
    return "".join(c if c.isprintable() else "?" for c in str(name))[:200]
