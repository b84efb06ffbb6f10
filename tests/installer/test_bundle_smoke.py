"""Smoke test of the Linux installer: build a reduced bundle, install it, run it, uninstall it.

Reduced: the dependencies are copied from the test's own venv (``--site-from``) instead of
pip-installed, and neither the form cache nor the pycs nor the tarball are made; the rest is
the release path (``installer/make_bundle.py`` -> ``install.sh --prefix`` -> the installed
launcher with a bare environment -> ``uninstall.sh``). The full build, with its size and cold
start figures, is ``benchmarks/installer_release.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from surgiplan import __version__

ROOT = Path(__file__).resolve().parents[2]
NAME = f"surgiplan-{__version__}"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="the bundle is Linux-only"),
    pytest.mark.skipif(not sysconfig.get_config_var("Py_ENABLE_SHARED"), reason="needs a shared-library CPython"),
    pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="runs from the project's venv (copied into the bundle)"),
]

WINDOW_SHOT = r"""
import sys
from pathlib import Path
from PySide6 import QtCore, QtWidgets
from surgiplan.gui.app import make_app
from surgiplan.gui.main_window import MainWindow

app = make_app()
win = MainWindow()
win.resize(1280, 800)
win.show()
win.open_sample("hip")
deadline = QtCore.QDeadlineTimer(90000)
while win.session.case is None and not deadline.hasExpired():
    app.processEvents(QtCore.QEventLoop.AllEvents, 100)
for _ in range(30):
    app.processEvents(QtCore.QEventLoop.AllEvents, 50)
win.grab().save(sys.argv[1])
print("ABOUT", win.about_text())
win._skip_prompt = True
win.close()
"""


def _bare_env(home: Path, **extra: str) -> dict[str, str]:
    """What a desktop session gives the app: no PYTHONPATH, no venv, a fresh home."""
    env = {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    env.update(extra)
    return env


def _tree_state(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bundle")
    build = tmp / "build"
    r = subprocess.run([sys.executable, str(ROOT / "installer" / "make_bundle.py"), "--build-dir", str(build),
                        "--site-from", sys.prefix, "--no-precompile", "--no-compile", "--no-tarball"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    home = tmp / "home"
    home.mkdir()
    prefix = tmp / "prefix"
    r = subprocess.run(["sh", str(build / NAME / "install.sh"), "--prefix", str(prefix)],
                       env=_bare_env(home), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"surgiplan {__version__}" in r.stdout
    shutil.rmtree(build)  # the installed copy must stand on its own
    app = prefix / "lib" / NAME
    return {"tmp": tmp, "home": home, "prefix": prefix, "app": app, "state": _tree_state(app)}


def test_installed_files_and_desktop_entry(installed):
    prefix, app = installed["prefix"], installed["app"]
    assert (prefix / "bin" / "surgiplan").resolve() == (app / "bin" / "surgiplan").resolve()
    desktop = (prefix / "share" / "applications" / "surgiplan.desktop").read_text()
    assert f'Exec="{app}/bin/surgiplan" gui %f' in desktop
    assert "MimeType=application/x-surgiplan-case;" in desktop
    assert (prefix / "share" / "icons" / "hicolor" / "scalable" / "apps" / "surgiplan.svg").is_file()
    assert (prefix / "share" / "mime" / "packages" / "surgiplan-case.xml").is_file()
    if shutil.which("desktop-file-validate"):
        r = subprocess.run(["desktop-file-validate", str(prefix / "share" / "applications" / "surgiplan.desktop")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr


def test_version_from_the_installed_launcher(installed):
    r = subprocess.run([str(installed["prefix"] / "bin" / "surgiplan"), "--version"],
                       env=_bare_env(installed["home"]), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"surgiplan {__version__}"
    assert lines[1].startswith("build: bundle, commit ")


def test_mpi_and_form_compiler_work_from_the_bundle(installed):
    """mpiexec next to the bundle's python starts 2 ranks; FFCx compiles a form against the shipped headers."""
    py = installed["app"] / "python" / "bin" / "python3.12"
    env = _bare_env(installed["home"], XDG_CACHE_HOME=str(installed["tmp"] / "cache"),
                    PYTHONDONTWRITEBYTECODE="1", PYTHONSAFEPATH="1")  # what the launcher sets
    code = ("from mpi4py import MPI\nimport dolfinx, dolfinx.fem, dolfinx.mesh, ufl\nimport numpy as np\n"
            "from surgiplan.core.simulation.runner import mpiexec_path\n"
            "m = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 4, 4)\n"
            "V = dolfinx.fem.functionspace(m, ('Lagrange', 1))\n"
            "one = dolfinx.fem.Constant(m, np.float64(1.0))\n"
            "a = dolfinx.fem.assemble_scalar(dolfinx.fem.form(one * ufl.dx(domain=m)))\n"
            "print('AREA', MPI.COMM_WORLD.allreduce(a), MPI.COMM_WORLD.size, mpiexec_path())\n")
    r = subprocess.run([str(installed["app"] / "python" / "bin" / "mpiexec"), "-n", "2", str(py), "-c", code],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [ln.split() for ln in r.stdout.splitlines() if ln.startswith("AREA")]
    assert len(rows) == 2
    for row in rows:
        assert abs(float(row[1]) - 1.0) < 1e-12 and row[2] == "2"
        assert row[3] == str(installed["app"] / "python" / "bin" / "mpiexec")
    assert list((installed["tmp"] / "cache" / "fenics").glob("*.so"))  # compiled into the user's cache


def test_headless_demo_to_pdf(installed):
    out = installed["tmp"] / "demo"
    env = _bare_env(installed["home"])
    r = subprocess.run([str(installed["prefix"] / "bin" / "surgiplan"), "demo", "--case", "hip", "--out", str(out)],
                       env=env, capture_output=True, text=True, timeout=600, cwd=installed["home"])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    pdfs = list(out.rglob("*.pdf"))
    assert pdfs, r.stdout
    assert pdfs[0].read_bytes()[:5] == b"%PDF-"
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdfs[0]), "-"], capture_output=True, text=True).stdout
        assert f"surgiplan {__version__}+" in text  # the build id in the footer
    # the generated sample went to the user's data folder, the log to the user's state folder
    assert (installed["home"] / ".local" / "share" / "surgiplan" / "sample_scans").is_dir()
    assert (installed["home"] / ".local" / "state" / "surgiplan" / "log" / "surgiplan.log").is_file()


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run")
def test_window_opens_under_xvfb(installed):
    shot = installed["tmp"] / "window.png"
    script = installed["tmp"] / "shot.py"
    script.write_text(WINDOW_SHOT)
    env = _bare_env(installed["home"], SURGIPLAN_RESOURCES=str(installed["app"] / "share/surgiplan/resources"),
                    PYTHONDONTWRITEBYTECODE="1", PYTHONSAFEPATH="1")
    r = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24",
                        str(installed["app"] / "python" / "bin" / "python3.12"), str(script), str(shot)],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Build: bundle, commit" in r.stdout
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB")).astype(float)
    assert img.shape[0] >= 700 and img.shape[1] >= 1200
    assert img.std() > 20  # a real window, not a blank frame
    assert len(np.unique(img.reshape(-1, 3)[::37], axis=0)) > 200  # slices, text, widgets: many colours
    keep = os.environ.get("SURGIPLAN_KEEP_SHOT")
    if keep:
        shutil.copy2(shot, keep)


def test_nothing_written_into_the_bundle_then_uninstall(installed):
    # runs last in this module (pytest keeps file order): compare the tree after every run above
    after = _tree_state(installed["app"])
    changed = sorted(k for k in set(after) | set(installed["state"]) if after.get(k) != installed["state"].get(k))
    assert changed == [], changed[:20]
    prefix, app = installed["prefix"], installed["app"]
    manifest = (app / "install-manifest.txt").read_text().splitlines()
    r = subprocess.run(["sh", str(app / "uninstall.sh")], env=_bare_env(installed["home"]),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not app.exists()
    for line in manifest:
        kind, path = line.split(" ", 1)
        if kind in ("file", "tree"):
            assert not os.path.lexists(path), path
    assert list(prefix.rglob("*")) == []  # with the desktop databases made in folders install.sh made
