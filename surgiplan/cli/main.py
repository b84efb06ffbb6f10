"""The ``surgiplan`` command.

Each command group lives in its own module of this package and exposes
``register(app: typer.Typer) -> None``. Modules import ``surgiplan.core`` lazily
inside their commands so that ``surgiplan --help`` and the window start fast, and
:func:`run` registers only the group of the command it runs (``app``, the whole
tree, is built when asked for).
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

#: commands a group module registers besides the one named like it (kept true by
#: tests/cli/test_cli_lazy_groups.py)
OTHER_COMMANDS = {"export-dicom-seg": "segment", "import-model": "model"}


def _version(value: bool) -> None:
    if value:
        from surgiplan.core.appinfo import version_text

        typer.echo(version_text())
        raise typer.Exit()


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


def build_app(groups=GROUPS) -> typer.Typer:
    """The ``surgiplan`` Typer app with the commands of ``groups`` (modules of this package)."""
    app = typer.Typer(
        name="surgiplan",
        help="3D surgical planning: DICOM import, segmentation, models, implant plans, simulation.",
        no_args_is_help=False,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    app.callback(invoke_without_command=True)(_root)
    for name in groups:
        try:
            mod = importlib.import_module(f"surgiplan.cli.{name}")
        except ModuleNotFoundError as exc:  # a stage not built yet
            if exc.name != f"surgiplan.cli.{name}":
                raise
            continue
        mod.register(app)
    return app


def group_of(args: list[str]) -> str | None:
    """The group module that holds the command ``args`` run (``segment ...`` -> "segment"),
    None when it takes the whole app (no command, help, an option first, an unknown name)."""
    if not args or args[0].startswith("-"):
        return None
    name = args[0]
    return name if name in GROUPS else OTHER_COMMANDS.get(name)


_FULL: typer.Typer | None = None


def __getattr__(name: str):
    """``app``: the whole command tree, built on first use (``from surgiplan.cli.main import app``)."""
    global _FULL
    if name == "app":
        if _FULL is None:
            _FULL = build_app()
        return _FULL
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run() -> None:
    """Console-script entry point: SurgiplanError becomes a one-line message, exit 1."""
    import logging

    from surgiplan.core.appdirs import setup_logging
    from surgiplan.core.errors import Cancelled, SurgiplanError

    if "--version" not in sys.argv[1:]:
        setup_logging("cli " + " ".join(sys.argv[1:3]))
    log = logging.getLogger("surgiplan.cli")
    # only the group of the command that runs: building the other 30-odd commands' parameters
    # and importing their modules cost about 0.05 s of CPU at every start (issue 23, speed)
    group = group_of(sys.argv[1:])
    app = build_app((group,)) if group else __getattr__("app")
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
