"""GUI test fixtures: a display (Xvfb in CI), private settings/case folders, a leak check.

The leak check follows pyvistaqt's own test-suite: after each test every pyvista
plotter (render window) created during it must be closed.
"""

from __future__ import annotations

import gc
import os

import pytest

from tests.conftest import _in_ci


def _display_ok() -> bool:
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return True
    return False


@pytest.fixture
def display():
    """Skip (fail under CI) when no display is available for real windows."""
    if not _display_ok():
        msg = "GUI tests need a display (run under xvfb-run, as tools/dev.sh test does)"
        if _in_ci():
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(autouse=True)
def _gui_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SURGIPLAN_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SURGIPLAN_CASES_DIR", str(tmp_path / "cases"))
    monkeypatch.setenv("SURGIPLAN_AUTOSAVE_DIR", str(tmp_path / "autosave"))
    yield


@pytest.fixture(autouse=True)
def _no_render_window_leak(request):
    """No pyvista plotter (render window) may outlive the test that made it."""
    yield
    if "no_leak_check" in request.keywords:
        return
    try:
        from pyvista.plotting import plotter as pv_plotter
    except ImportError:
        return
    gc.collect()
    alive = [p for p in list(pv_plotter._ALL_PLOTTERS.values()) if not getattr(p, "_closed", True)]
    assert not alive, f"{len(alive)} render window(s) left open by {request.node.name}"


@pytest.fixture
def window(display, qtbot):
    """The real main window, closed (and its render windows released) after the test."""
    from surgiplan.gui.app import apply_theme, make_app
    from surgiplan.gui.main_window import MainWindow

    app = make_app()
    win = MainWindow()
    # pytest-qt closes added widgets in its own teardown hook, before this fixture's
    # teardown runs: a test that fails with unsaved changes would otherwise leave the
    # modal "Save changes?" prompt waiting for a click that never comes.
    win._skip_prompt = True
    apply_theme(app, "dark")
    qtbot.addWidget(win)
    win.resize(1600, 980)
    win.show()
    qtbot.waitExposed(win)
    yield win
    import faulthandler
    import sys

    faulthandler.dump_traceback_later(60, exit=True, file=sys.stderr)
    win._skip_prompt = True
    win.close()
    if win.view3d.plotter is not None:  # the close was refused (e.g. a test failed mid-job)
        win._shutdown()
    faulthandler.cancel_dump_traceback_later()


def wait_jobs(qtbot, win, timeout_ms: int = 180_000) -> None:
    """Wait until no background job runs; fail with the window's message if one failed."""
    qtbot.waitUntil(lambda: not win.jobs.busy, timeout=timeout_ms)
    qtbot.wait(50)
