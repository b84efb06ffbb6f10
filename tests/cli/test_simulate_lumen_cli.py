"""``surgiplan simulate --lumen ... --option``: the lumen study's options reach it, bad ones are refused
with a clear message and nothing is written."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_lumen_options_are_checked(tmp_path):
    import pyvista as pv

    stl = tmp_path / "tube.stl"
    pv.Cylinder(radius=3.0, height=30.0, capping=False).triangulate().clean().save(str(stl))
    out = tmp_path / "out"
    for opt, msg in (("hmax=2", "unknown lumen-study option"), ("h_max_mm=big", "h_max_mm must be"),
                     ("wall_ratio=2", "wall_ratio must be")):
        r = subprocess.run([sys.executable, "-m", "surgiplan", "simulate", "--lumen", str(stl), "--inlet", "0,0,15",
                            "--flow-mL-s", "1", "--option", opt, "--out", str(out)],
                           capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
                           env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
        assert r.returncode != 0
        assert msg in r.stderr + r.stdout
        assert not out.exists()
