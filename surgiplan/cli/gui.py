"""``surgiplan gui [CASE_OR_DICOM_DIR] [--sample NAME]``: open the desktop window."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

SAMPLES = ("hip", "knee", "spine", "vascular", "knee_mri")
NO_DISPLAY = ("surgiplan: no display found (DISPLAY/WAYLAND_DISPLAY not set), so the window "
              "cannot open; use the headless commands instead: `surgiplan demo`, "
              "`surgiplan scan ...` (see `surgiplan --help`).")


def has_display() -> bool:
    """True when a window can be shown (X11/Wayland display, or Windows/macOS, or a Qt platform set)."""
    if sys.platform in ("win32", "darwin"):
        return True
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen", "minimal", "vnc"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_window(path: str | Path | None = None, sample: str | None = None) -> int:
    """Open the main window (on ``path`` or a sample scan) and run until it closes; exit code.

    Without a display: one line saying so (pointing to the headless commands), exit code 2.
    """
    if not has_display():
        typer.echo(NO_DISPLAY, err=True)
        return 2
    if sample is not None and sample not in SAMPLES:
        typer.echo(f"surgiplan: unknown sample '{sample}'; use one of {', '.join(SAMPLES)}.", err=True)
        return 2
    if path is not None and not Path(path).exists():
        typer.echo(f"surgiplan: error: {path}: not found; give a case folder, a DICOM folder or a "
                   "volume file.", err=True)
        return 1
    try:
        from surgiplan.gui.app import apply_theme, make_app
    except ImportError as exc:  # Qt libraries missing on this machine
        typer.echo(f"surgiplan: the window cannot start ({exc}); install the system packages "
                   "listed in the README, or use `surgiplan demo` / `surgiplan scan ...`.", err=True)
        return 2
    app = make_app()
    from surgiplan.gui.main_window import MainWindow

    win = MainWindow()
    apply_theme(app, win.settings.theme)
    win.layout_widget.set_layout(win.settings.layout if win.settings.layout else "4-up")
    if win.settings.window_geometry:
        from PySide6 import QtCore

        win.restoreGeometry(QtCore.QByteArray.fromBase64(win.settings.window_geometry.encode()))
    win.show()
    if os.environ.get("SURGIPLAN_STARTUP_PROBE"):
        # benchmarks: print when the window is on screen, then quit
        from PySide6 import QtCore

        def probe():
            import time

            print(f"WINDOW_SHOWN {time.time():.4f}", flush=True)
            if os.environ.get("SURGIPLAN_STARTUP_PROBE") == "window":
                win._skip_prompt = True
                win.close()

        QtCore.QTimer.singleShot(0, probe)
    if path is not None:
        win.open_path(Path(path))
    elif sample is not None:
        win.open_sample(sample)
    else:
        from PySide6 import QtCore

        QtCore.QTimer.singleShot(0, win.recover_at_start)  # an autosave left by a crash
    return int(app.exec())


def register(app: typer.Typer) -> None:
    @app.command("gui")
    def gui(
        path: Path | None = typer.Argument(None, help="A case folder, a DICOM folder or a volume file."),
        sample: str | None = typer.Option(None, "--sample", help=f"Open a sample scan: {', '.join(SAMPLES)}."),
    ) -> None:
        """Open the desktop window (needs a display)."""
        raise typer.Exit(open_window(path, sample))
