"""Release check of the Linux installer: full build, install from the tarball, size and start-up.

1. ``installer/build`` (full: pip install of the pins, pycs, precompiled study forms, tarball);
2. unpacks the tarball into a temporary folder and ``install.sh --prefix``s it (the unpacked copy
   is then deleted: the installation stands alone);
3. figures, beside the development venv (``.venv/bin/surgiplan``) in the same run, medians of
   ``--runs`` fresh processes: ``--version`` time and peak RSS; time to the main window on screen
   (``surgiplan gui`` with ``SURGIPLAN_STARTUP_PROBE=window``, needs a display: run under xvfb-run);
4. a study solves from the installation with no C compiler (``CC`` points nowhere, fresh user
   cache seeded by the launcher): ``surgiplan demo --case hip --simulate`` to the PDF.

Timings on a shared machine are noisy; the build takes tens of minutes on 2 cores.
Usage: xvfb-run -a -s "-screen 0 1920x1080x24" python benchmarks/installer_release.py [--runs 3]
       [--skip-build] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], env: dict, probe: str | None = None) -> tuple[float, float]:
    """Seconds (to exit, or to the WINDOW_SHOWN line) and the child's peak RSS (MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.time()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    t = time.time() - t0
    if r.returncode != 0:
        raise SystemExit(f"{cmd} failed: {r.stderr[-2000:]}")
    if probe:
        line = next((ln for ln in r.stdout.splitlines() if ln.startswith(probe)), None)
        if line is None:
            raise SystemExit(f"no {probe} from {cmd}: {r.stdout[-1000:]}")
        t = float(line.split()[1]) - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return t, max(peak, before) / 1024.0


def du(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-build", action="store_true", help="use the tarball already in dist/")
    ap.add_argument("--keep", type=Path, default=None, help="install here and keep it")
    a = ap.parse_args()
    res: dict = {}
    if not a.skip_build:
        t0 = time.time()
        subprocess.run([str(ROOT / "installer" / "build")], check=True)
        res["build_s"] = round(time.time() - t0)
    from surgiplan import __version__

    tar = ROOT / "dist" / f"surgiplan-{__version__}-linux-x86_64.tar.gz"
    res["tarball_MiB"] = round(tar.stat().st_size / 2**20)
    tmp = Path(tempfile.mkdtemp(prefix="surgiplan-release-"))
    prefix = a.keep or tmp / "prefix"
    home = tmp / "home"
    home.mkdir()
    t0 = time.time()
    with tarfile.open(tar) as tf:
        tf.extractall(tmp / "unpacked", filter="tar")
    res["unpack_s"] = round(time.time() - t0, 1)
    bare = {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
            "DISPLAY": os.environ.get("DISPLAY", "")}
    subprocess.run(["sh", str(tmp / "unpacked" / f"surgiplan-{__version__}" / "install.sh"), "--prefix",
                    str(prefix)], env=bare, check=True, capture_output=True)
    shutil.rmtree(tmp / "unpacked")
    app = prefix / "lib" / f"surgiplan-{__version__}"
    res["installed_MiB"] = round(du(app) / 2**20)
    sides = {"bundle": [str(prefix / "bin" / "surgiplan")], "venv": [str(ROOT / ".venv" / "bin" / "surgiplan")]}
    first, _ = timed(sides["bundle"] + ["--version"], bare)
    res["version_first_s"] = round(first, 2)  # first start after install (page cache warm from the copy)
    for side, cmd in sides.items():
        runs = [timed(cmd + ["--version"], bare) for _ in range(a.runs)]
        res[f"{side}_version_s"] = round(statistics.median(r[0] for r in runs), 2)
        res[f"{side}_version_peak_MiB"] = round(max(r[1] for r in runs))
        if bare["DISPLAY"]:
            env = dict(bare, SURGIPLAN_STARTUP_PROBE="window", SURGIPLAN_CONFIG_DIR=str(tmp / "cfg"))
            runs = [timed(cmd + ["gui"], env, probe="WINDOW_SHOWN") for _ in range(a.runs)]
            res[f"{side}_window_s"] = round(statistics.median(r[0] for r in runs), 2)
    res["version_ratio_bundle_over_venv"] = round(res["bundle_version_s"] / res["venv_version_s"], 2)
    if "bundle_window_s" in res:
        res["window_ratio_bundle_over_venv"] = round(res["bundle_window_s"] / res["venv_window_s"], 2)
    env = dict(bare, CC=str(tmp / "no-such-cc"))
    env.pop("DISPLAY")
    t0 = time.time()
    r = subprocess.run(sides["bundle"] + ["demo", "--case", "hip", "--simulate", "--out", str(tmp / "demo")],
                       env=env, capture_output=True, text=True, timeout=3600)
    res["demo_hip_simulate_no_cc_s"] = round(time.time() - t0)
    res["demo_hip_simulate_no_cc_ok"] = r.returncode == 0 and any((tmp / "demo").rglob("*.pdf"))
    if r.returncode != 0:
        res["demo_error"] = r.stderr[-1500:]
    print(json.dumps(res, indent=1))
    if a.keep is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if res["demo_hip_simulate_no_cc_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
