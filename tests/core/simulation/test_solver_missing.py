"""Without the solver stack (Windows, macOS, a broken install) a simulation says so at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

BLOCKER = '''
import sys


class _NoSolver:
    """Makes the solver stack unimportable, as on a machine without the Linux solver wheel."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("dolfinx", "mpi4py", "petsc4py"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoSolver())
'''


def _run(args, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
           "SURGIPLAN_LOG_DIR": str(tmp_path / "logs")}
    return subprocess.run([sys.executable, "-m", "surgiplan", *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)


def test_case_study_without_dolfinx_names_the_solver_environment(tmp_path):
    case = tmp_path / "case"
    case.mkdir()
    r = _run(["simulate", str(case), "--plan", "A", "--study", "hip-walking"], tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert "no solver environment (mpi4py, petsc4py, dolfinx not installed)" in r.stderr
    assert "Simulations need the Linux solver environment" in r.stderr
    assert list(case.iterdir()) == []  # nothing written


def test_blocker_really_blocks(tmp_path):
    """The check above is meaningful: the same interpreter without the blocker finds dolfinx."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    code = "import importlib.util as u, sys; sys.exit(0 if u.find_spec('dolfinx') else 3)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
    env = {**os.environ, "PYTHONPATH": str(site)}
    assert subprocess.run([sys.executable, "-c", "import dolfinx"], env=env, capture_output=True).returncode == 1


def test_missing_solver_modules_in_process():
    from surgiplan.core.simulation.solver_env import missing_solver_modules

    assert missing_solver_modules() == []


NO_CC = '''
from mpi4py import MPI
import dolfinx.fem, dolfinx.mesh, ufl
from surgiplan.core.simulation.solver_env import compiler_error
m = dolfinx.mesh.create_unit_square(MPI.COMM_SELF, 2, 2)
x = ufl.SpatialCoordinate(m)
try:
    dolfinx.fem.form(x[0] * x[1] * x[1] * 7.25 * ufl.dx(domain=m))
except Exception as exc:
    err = compiler_error(exc)
    print("CONVERTED" if err is not None else "OTHER", err if err is not None else repr(exc))
else:
    print("COMPILED")
'''


def test_no_c_compiler_is_named(tmp_path):
    """A form not in the cache, with no C compiler: a SolverError that says to install one."""
    env = {**os.environ, "CC": str(tmp_path / "no-such-cc"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    r = subprocess.run([sys.executable, "-c", NO_CC], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert "CONVERTED" in r.stdout, r.stdout + r.stderr
    assert "no working C compiler" in r.stdout and "apt-get install gcc" in r.stdout
    env["CC"] = "cc"  # the same form with the compiler compiles (the conversion is not a false alarm)
    r = subprocess.run([sys.executable, "-c", NO_CC], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert "COMPILED" in r.stdout, r.stdout + r.stderr
