"""Version and build identity of this surgiplan (Help > About, ``--version``, the PDF report).

An installed bundle carries ``surgiplan/_build_info.json`` written by ``installer/make_bundle.py``
(version, git commit, UTC build date, Python, platform). A source checkout reports its git
commit (``-dirty`` with local changes); anything else reports ``source``.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from surgiplan import __version__

_PKG = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=1)
def build_info() -> dict[str, str]:
    """``{"version", "commit", "date", "kind", "python", "platform"}`` of the running surgiplan.

    ``kind`` is ``bundle`` (the installer's build), ``checkout`` (a git working tree) or
    ``source`` (installed from a source archive); ``commit`` and ``date`` are ``""`` when unknown.
    """
    info = {"version": __version__, "commit": "", "date": "", "kind": "source",
            "python": platform.python_version(), "platform": f"{sys.platform}-{platform.machine()}"}
    stamp = _PKG / "_build_info.json"
    if stamp.is_file():
        try:
            data = json.loads(stamp.read_text(encoding="utf-8"))
            info.update({k: str(v) for k, v in data.items() if k in info})
            info["kind"] = "bundle"
            return info
        except (OSError, ValueError):
            pass
    if (_PKG.parent / ".git").exists():
        info["kind"] = "checkout"
        info["commit"] = _git(["rev-parse", "--short=12", "HEAD"])
        if info["commit"] and _git(["status", "--porcelain", "--untracked-files=no"]):
            info["commit"] += "-dirty"
        info["date"] = _git(["log", "-1", "--format=%cI"])
    return info


def _git(args: list[str]) -> str:
    try:
        r = subprocess.run(["git", "-C", str(_PKG.parent), *args], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return r.stdout.strip() if r.returncode == 0 else ""


def build_id() -> str:
    """Short identity for footers: ``0.1.0+29a653e0f1c2`` (``0.1.0`` when no commit is known)."""
    info = build_info()
    return f"{info['version']}+{info['commit']}" if info["commit"] else info["version"]


def version_text() -> str:
    """The ``surgiplan --version`` text: version line, then build and runtime lines."""
    info = build_info()
    lines = [f"surgiplan {info['version']}"]
    build = f"build: {info['kind']}"
    if info["commit"]:
        build += f", commit {info['commit']}"
    if info["date"]:
        build += f", {info['date']}"
    lines.append(build)
    lines.append(f"python {info['python']} on {info['platform']}")
    return "\n".join(lines)
