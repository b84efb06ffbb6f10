"""Simulation core: studies, verification meshes, elasticity, flow, results, child-process runs.

Import dolfinx-dependent modules directly (``surgiplan.core.simulation.elasticity``);
this package itself stays light so that the CLI starts fast.
"""

from surgiplan.core.simulation.study_schema import Study, load_study

__all__ = ["Study", "load_study"]
