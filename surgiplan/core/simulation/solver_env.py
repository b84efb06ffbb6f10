"""Is the simulation stack (FEniCSx/dolfinx with PETSc and MPI) installed here?

The dolfinx wheel surgiplan pins is built for Linux x86-64 only. On Windows, macOS or an
installation without it, planning, models and reports work and a simulation stops at once
with :data:`MISSING_HINT` instead of failing in the child process with an import traceback.
"""

from __future__ import annotations

import importlib.util

from surgiplan.core.errors import SolverError

#: the modules a study's child process imports (mpi4py.MPI: finding it loads libmpi)
SOLVER_MODULES = ("mpi4py.MPI", "petsc4py", "dolfinx")

MISSING_HINT = ("Simulations need the Linux solver environment (FEniCSx/dolfinx 0.11 with PETSc and MPI, "
                "the surgiplan Linux bundle or `pip install dolfinx-solver-real` on Linux x86-64). Planning, "
                "models and reports work without it. To simulate, copy the case folder to a Linux workstation, "
                "a WSL 2 Ubuntu on Windows or a cluster node with surgiplan installed and run "
                "`surgiplan simulate CASE --plan PLAN --study STUDY` there (see installer/README.md).")


def missing_solver_modules() -> list[str]:
    """The solver modules that cannot be found (without importing them: fast)."""
    missing = []
    for name in SOLVER_MODULES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError, RuntimeError):  # RuntimeError: mpi4py found no MPI library
            spec = None
        if spec is None:
            missing.append(name.split(".")[0])
    return missing


def require_solver(what: str = "the simulation") -> None:
    """Raise SolverError naming the missing modules when the solver stack is not installed."""
    missing = missing_solver_modules()
    if missing:
        raise SolverError(f"{what} cannot run: this surgiplan has no solver environment "
                          f"({', '.join(missing)} not installed)", hint=MISSING_HINT)


COMPILER_HINT = ("dolfinx compiles each new form of a study with a C compiler once (FFCx + CFFI; the forms of "
                 "the studies shipped with the Linux bundle are precompiled). Install one (Debian/Ubuntu: "
                 "`sudo apt-get install gcc`; RHEL/Rocky: `sudo dnf install gcc`) and run the study again, or run "
                 "it with its default options.")


def compiler_error(exc: BaseException) -> SolverError | None:
    """The form compiler's failure to find or run a C compiler as a SolverError (else None)."""
    if type(exc).__name__ != "VerificationError" or "CompileError" not in str(exc):
        return None
    detail = str(exc).replace("CompileError: ", "")
    return SolverError(f"the form compiler could not build this study's equations: no working C compiler ({detail})",
                       hint=COMPILER_HINT)
