"""Help > About shows version and build; Help > Open log folder is there."""

from __future__ import annotations

import subprocess
from pathlib import Path

from surgiplan import __version__

ROOT = Path(__file__).resolve().parents[2]


def test_about_names_version_build_and_log_folder(window, monkeypatch, tmp_path):
    monkeypatch.setenv("SURGIPLAN_LOG_DIR", str(tmp_path / "logs"))
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    names = [a.text() for a in help_menu.actions()]
    assert "Open log folder" in names and "About surgiplan" in names
    text = window.about_text()
    assert f"surgiplan {__version__}" in text
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    if head:
        assert f"commit {head}" in text
    assert str(tmp_path / "logs") in text
