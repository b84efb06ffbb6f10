"""Simulation core: studies, verification meshes, elasticity, flow, results, child-process runs.

Import dolfinx-dependent modules directly (``surgiplan.core.simulation.elasticity``);
this package itself stays light so that the CLI starts fast.
"""

# mpi4py must be loaded before dolfinx (it brings libmpi into the process); every
# module of this package that imports dolfinx is imported after this line.
try:
    from mpi4py import MPI  # noqa: F401
except (ImportError, RuntimeError):  # no MPI here (Windows, macOS): solver_env.require_solver says so
    pass

from surgiplan.core.simulation.study_schema import Study, load_study

__all__ = ["Study", "load_study"]
