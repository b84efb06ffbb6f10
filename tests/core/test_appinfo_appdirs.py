"""Version/build identity and the user folders + log file (surgiplan.core.appinfo, appdirs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from surgiplan import __version__
from surgiplan.core import appdirs
from surgiplan.core.appinfo import build_id, build_info, version_text

ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout")
def test_checkout_build_info_is_the_git_head():
    info = build_info()
    assert info["kind"] == "checkout"
    assert info["version"] == __version__
    assert info["commit"].split("-")[0] == _git("rev-parse", "--short=12", "HEAD")
    assert build_id() == f"{__version__}+{info['commit']}"
    text = version_text().splitlines()
    assert text[0] == f"surgiplan {__version__}"
    assert info["commit"] in text[1]


def _cli(args: list[str], env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-m", "surgiplan", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


def test_cli_version_prints_build_lines(tmp_path):
    r = _cli(["--version"], {"SURGIPLAN_LOG_DIR": str(tmp_path / "logs")})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == f"surgiplan {__version__}"
    assert r.stdout.splitlines()[1].startswith("build: ")
    assert not (tmp_path / "logs").exists()  # --version writes nothing


def test_cli_error_goes_to_the_log_file(tmp_path):
    logs = tmp_path / "logs"
    r = _cli(["scan", "info", str(tmp_path / "no-such-scan")], {"SURGIPLAN_LOG_DIR": str(logs)})
    assert r.returncode != 0
    text = (logs / appdirs.LOG_FILE).read_text(encoding="utf-8")
    assert f"surgiplan {__version__}" in text and "start (cli scan info)" in text
    assert "ERROR surgiplan.cli" in text and "no-such-scan" in text


def test_unwritable_log_folder_never_stops_the_app(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")  # the log "folder" is a file: mkdir fails
    r = _cli(["simulate", "--list"], {"SURGIPLAN_LOG_DIR": str(blocker / "logs")})
    assert r.returncode == 0, r.stderr
    assert blocker.read_text() == "x"


def test_user_folders_follow_overrides_and_platformdirs(monkeypatch, tmp_path):
    import platformdirs

    for env in ("SURGIPLAN_CONFIG_DIR", "SURGIPLAN_DATA_DIR", "SURGIPLAN_CACHE_DIR", "SURGIPLAN_LOG_DIR"):
        monkeypatch.delenv(env, raising=False)
    assert appdirs.config_dir() == Path(platformdirs.user_config_dir("surgiplan", appauthor=False))
    assert appdirs.log_dir() == Path(platformdirs.user_log_dir("surgiplan", appauthor=False))
    assert appdirs.cache_dir() == Path(platformdirs.user_cache_dir("surgiplan", appauthor=False))
    monkeypatch.setenv("SURGIPLAN_DATA_DIR", str(tmp_path / "d"))
    assert appdirs.data_dir() == tmp_path / "d"
    from surgiplan.gui.settings import config_dir

    monkeypatch.setenv("SURGIPLAN_CONFIG_DIR", str(tmp_path / "c"))
    assert config_dir() == tmp_path / "c"
