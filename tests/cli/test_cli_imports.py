"""``surgiplan segment`` and ``surgiplan model`` load only what they use (issue 23: start-up cost).

Each command runs for real in a fresh interpreter on a small NRRD CT; afterwards the modules
it loaded are listed. Reading a NRRD never needs pydicom; segmenting never needs VTK; neither
command ever loads Qt or dolfinx. The CLI also turns numpy's huge pages off unless told otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk

FORBIDDEN = {
    "segment": ("pydicom", "highdicom", "vtkmodules", "pyvista", "PySide6", "dolfinx", "pyvistaqt"),
    "model": ("pydicom", "highdicom", "PySide6", "dolfinx", "pyvistaqt", "skimage"),
}

CHILD = r"""
import json, os, sys
from surgiplan.cli.main import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    tops = sorted({m.split(".")[0] for m in sys.modules})
    print("MODULES " + json.dumps({"tops": tops, "hugepage": os.environ.get("NUMPY_MADVISE_HUGEPAGE")}))
"""


def _run(args, env_extra=None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    env.update(env_extra or {})
    out = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, timeout=300,
                         env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("MODULES ")][-1]
    return json.loads(line[len("MODULES "):])


@pytest.fixture(scope="module")
def small_ct(tmp_path_factory):
    d = tmp_path_factory.mktemp("ct")
    a = np.full((40, 48, 48), -1000, np.int16)
    a[5:35, 8:40, 8:40] = 40  # soft tissue
    a[10:30, 14:34, 14:34] = 900  # a bone block, 8 mL
    img = sitk.GetImageFromArray(a)
    img.SetSpacing((1.0, 1.0, 1.0))
    sitk.WriteImage(img, str(d / "ct.nrrd"))
    return d


def test_segment_then_model_load_only_what_they_use(small_ct):
    seg = small_ct / "bone.seg.nrrd"
    got = _run(["segment", str(small_ct / "ct.nrrd"), "--preset", "bone", "-o", str(seg)])
    assert seg.is_file()
    loaded = [m for m in FORBIDDEN["segment"] if m in got["tops"]]
    assert not loaded, f"surgiplan segment loaded {loaded}"
    assert got["hugepage"] == "0"
    got = _run(["model", str(seg), "-o", str(small_ct / "models")], {"NUMPY_MADVISE_HUGEPAGE": "1"})
    assert (small_ct / "models" / "bone.stl").is_file()
    assert "vtkmodules" in got["tops"]  # the child really built the model
    loaded = [m for m in FORBIDDEN["model"] if m in got["tops"]]
    assert not loaded, f"surgiplan model loaded {loaded}"
    assert got["hugepage"] == "1"  # the user's setting wins
