"""The ``surgiplan`` command.

Each command group lives in its own module of this package and exposes
``register(app: typer.Typer) -> None``. Modules import ``surgiplan.core`` lazily
inside their commands so that ``surgiplan --help`` and the window start fast.
"""

from __future__ import annotations

import importlib
import os
import sys

# Before numpy is imported (it reads this once): no transparent huge pages for numpy's large arrays.
# Zeroing a fresh 2 MB page cost 5-10x the CPU of 4 kB pages on the project's (virtual) machine:
# `surgiplan segment --preset bone` on a 512 x 512 x 600 CT spent 4.5 s of CPU in the bone step with
# them and 0.8 s without, its plausibility check 3.8 s against 1.0 s (benchmarks/bench_segment_model.py).
# SimpleITK and VTK never ask for huge pages. NUMPY_MADVISE_HUGEPAGE=1 in the environment still wins.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

import typer  # noqa: E402 - after the environment above

GROUPS = (
    "scan",
    "samples",
    "segment",
    "model",
    "case",
    "plan",
    "simulate",
    "verify",
    "report",
    "demo",
    "gui",
)

app = typer.Typer(
    name="surgiplan",
    help="3D surgical planning: DICOM import, segmentation, models, implant plans, simulation.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from surgiplan.core.appinfo import version_text

        typer.echo(version_text())
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """With no command, open the desktop window (needs a display)."""
    if ctx.invoked_subcommand is None:
        from surgiplan.cli.gui import open_window

        raise typer.Exit(open_window(None))


for _name in GROUPS:
    try:
        _mod = importlib.import_module(f"surgiplan.cli.{_name}")
    except ModuleNotFoundError as _exc:  # a stage not built yet
        if _exc.name != f"surgiplan.cli.{_name}":
            raise
        continue
    _mod.register(app)


def run() -> None:
    """Console-script entry point: SurgiplanError becomes a one-line message, exit 1."""
    import logging

    from surgiplan.core.appdirs import setup_logging
    from surgiplan.core.errors import Cancelled, SurgiplanError

    if "--version" not in sys.argv[1:]:
        setup_logging("cli " + " ".join(sys.argv[1:3]))
    log = logging.getLogger("surgiplan.cli")
    try:
        app()
    except Cancelled as exc:
        typer.echo(f"surgiplan: {exc}", err=True)
        sys.exit(130)
    except SurgiplanError as exc:
        log.error("%s: %s", type(exc).__name__, exc)
        typer.echo(f"surgiplan: error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("surgiplan: interrupted; nothing was written.", err=True)
        sys.exit(130)
    except OSError as exc:  # last resort: a file-system error the core did not name itself
        typer.echo(f"surgiplan: error: {_os_error_text(exc)}", err=True)
        sys.exit(1)


def _os_error_text(exc: OSError) -> str:
    """One line for an ``OSError``: the file(s) it names, what happened, what to do."""
    from surgiplan.core.fileio import describe_os_error

    what, hint = describe_os_error(exc)
    names = [str(f) for f in (exc.filename, exc.filename2) if f is not None]
    names = [n if len(n) <= 200 else n[:90] + "..." + n[-90:] for n in names]
    where = " -> ".join(names) + ": " if names else ""
    return f"{where}{what}. {hint}"


if __name__ == "__main__":
    run()
