"""Helpers shared by the hostile-case tests and ``benchmarks/bench_kill_saves.py``.

A case is built with a model ``bone`` (a sphere); the save under test replaces it
(``surgiplan import-model CASE NEW --name bone --replace``). After a kill, the case
must open as the old state or the new one, never a mixture.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def tree_digest(root: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``root`` (links reported, not followed)."""
    out = {}
    for dirpath, _dirs, files in os.walk(root, followlinks=False):
        for name in files:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            out[rel] = "link" if p.is_symlink() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def cli(*args, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    """Run ``surgiplan ARGS`` in a child process (the real console entry point)."""
    code = "import sys; from surgiplan.cli.main import run; sys.argv[0] = 'surgiplan'; run()"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)


def make_case(root: Path, work: Path, resolution: int = 40) -> tuple[Path, Path]:
    """A case at ``root`` with model ``bone``; returns (old mesh file, new mesh file) in ``work``."""
    import pyvista as pv

    from surgiplan.core.case import Case

    work.mkdir(parents=True, exist_ok=True)
    old = work / "old.stl"
    new = work / "new.stl"
    pv.Sphere(radius=20, theta_resolution=12, phi_resolution=12).save(old)
    pv.Sphere(radius=25, center=(5, 0, 0), theta_resolution=resolution,
              phi_resolution=resolution).save(new)
    case = Case.new(root, "Faults")
    case.new_plan("A")
    case.save()
    r = cli("import-model", root, old, "--name", "bone")
    assert r.returncode == 0, r.stderr
    return old, new


def case_state(root: Path, old_radius: float = 20.0, new_radius: float = 25.0) -> str:
    """``"old"`` or ``"new"`` after opening the case (which finishes a decided save); else a reason.

    Old: model ``bone`` is the 20 mm sphere and the audit log has one model import.
    New: the 25 mm sphere, two imports logged, each save's entries complete.
    """
    from surgiplan.core.case import Case

    try:
        case = Case.open(root)
    except Exception as exc:  # noqa: BLE001 - the reason is the result
        return f"does not open: {exc}"
    mesh = case.get_model("bone")
    r = float(np.max(np.linalg.norm(np.asarray(mesh.points) - np.asarray(mesh.center), axis=1)))
    entries = [e for e in case.audit_log() if str(e.get("what", "")).startswith("add model bone")]
    leftovers = [n for n in tree_digest(root) if ".sptmp" in n or n.endswith(".save-journal.json")]
    if leftovers:
        return f"left-over files {leftovers}"
    if abs(r - old_radius) < 0.5 and len(entries) == 1:
        return "old"
    if abs(r - new_radius) < 0.5 and len(entries) == 2:
        return "new"
    return f"mixed: model radius {r:.2f} mm with {len(entries)} model imports logged"


def _has_temporary(root: Path) -> bool:
    for _dirpath, _dirs, files in os.walk(root):
        if any(".sptmp" in f for f in files):
            return True
    return False


def replace_and_watch(root: Path, new: Path, kill_after_s: float | None = None,
                      from_first_temporary: bool = True) -> tuple[int, float, float]:
    """Run ``import-model --replace``; SIGKILL it ``kill_after_s`` after its save began.

    The save begins when the first temporary file appears in the case (polled every
    millisecond); with ``from_first_temporary=False`` the delay counts from the start.
    Returns (exit status, seconds from start to the first temporary (inf if none seen),
    seconds from start to the end).
    """
    code = "import sys; from surgiplan.cli.main import run; sys.argv[0] = 'surgiplan'; run()"
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-c", code, "import-model", str(root), str(new), "--name",
                          "bone", "--replace"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    first = float("inf")
    if kill_after_s is not None and not from_first_temporary:
        time.sleep(kill_after_s)
        p.kill()
    else:
        while p.poll() is None:
            if _has_temporary(root):
                first = time.perf_counter() - t0
                break
            time.sleep(0.001)
        if kill_after_s is not None and p.poll() is None:
            time.sleep(kill_after_s)
            p.kill()
    status = p.wait()
    return status, first, time.perf_counter() - t0


def kill_during_replace(root: Path, new: Path, delay_s: float) -> int:
    """Start ``import-model --replace`` and SIGKILL it ``delay_s`` after its save began."""
    return replace_and_watch(root, new, delay_s)[0]
