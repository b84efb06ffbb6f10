"""Fixtures: small gmsh meshes and study files written to a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from mpi4py import MPI  # noqa: F401  (before dolfinx: loads libmpi)

from tests.conftest import require_shared


@pytest.fixture(scope="session")
def reference_file() -> Path:
    return require_shared("reference", "validation_reference_values.json")


@pytest.fixture(scope="session")
def beam_msh(tmp_path_factory) -> Path:
    from surgiplan.core.simulation import meshes

    path = tmp_path_factory.mktemp("meshes") / "beam.msh"
    meshes.two_region_box(60.0, 10.0, 10.0, 30.0, 3.0)
    meshes.write_msh(path)
    meshes.finish()
    return path


@pytest.fixture(scope="session")
def pipe_msh(tmp_path_factory) -> Path:
    from surgiplan.core.simulation import meshes

    path = tmp_path_factory.mktemp("meshes") / "pipe.msh"
    meshes.pipe(4.0, 20.0, 4.0 / 3, 3, order=1)
    meshes.write_msh(path)
    meshes.finish()
    return path
