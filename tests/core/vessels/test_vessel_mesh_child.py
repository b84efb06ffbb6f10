"""The vessel mesher in a spawned child process (:mod:`surgiplan.core.vessels.mesh_child`): the same mesh
as in the process, gmsh's errors come back as MeshingError, and a crash of the child is a MeshingError
with no half-written mesh left (a fresh interpreter, not a fork of a process holding VTK/MPI threads)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

R, L = 3.0, 20.0  # tube radius and length (mm)


def _tube():
    import pyvista as pv

    from surgiplan.core.vessels import flow_mesh as FM

    tube = pv.Cylinder(center=(0, 0, L / 2), direction=(0, 0, 1), radius=R, height=L, resolution=64,
                       capping=False).triangulate().subdivide(1).clean()
    cuts = [FM.Cut(np.array([0.0, 0.0, 0.0]), np.array([0.0, 0.0, -1.0]), R, "inlet"),
            FM.Cut(np.array([0.0, 0.0, L]), np.array([0.0, 0.0, 1.0]), R, "outlet_1")]
    return FM.build_closed_surface(tube, cuts, [2.0, 2.0]), cuts


def _size(x):
    return np.full(len(x), 1.5)


def test_the_child_makes_the_same_mesh_as_the_process(tmp_path):
    import gmsh

    from surgiplan.core.simulation import meshes
    from surgiplan.core.simulation.vessel.geometry import _mesh_in_child
    from surgiplan.core.vessels import flow_mesh as FM

    closed, cuts = _tube()
    msh = tmp_path / "mesh.msh"
    mt, n, (pts, tris) = _mesh_in_child(closed, cuts, _size, msh, h_min=0.3, h_max=5.0, wall_ratio=None)
    FM.mesh_lumen(closed, cuts, _size, None, h_min=0.3, h_max=5.0)
    n_here = len(gmsh.model.mesh.getElementsByType(4)[0])
    meshes.finish()
    assert n == n_here > 1000
    assert mt["process_s"] >= 0.0 and mt["volume_s"] > 0.0 and mt["repair_passes"] >= 0
    # the file the child wrote: the tagged mesh with its tetrahedra
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.open(str(msh))
        assert len(gmsh.model.mesh.getElementsByType(4)[0]) == n
        names = {gmsh.model.getPhysicalName(d, t) for d, t in gmsh.model.getPhysicalGroups()}
        assert names == {"fluid", "inlet", "outlet_1", "wall"}
    finally:
        gmsh.finalize()
    # the returned boundary triangles: their nodes on the tube (radius R) or on the caps 2 mm beyond the cuts
    assert tris.shape[1] == 3 and tris.max() < len(pts)
    b = pts[np.unique(tris)]
    on_cap = np.isclose(b[:, 2], -2.0, atol=1e-6) | np.isclose(b[:, 2], L + 2.0, atol=1e-6)
    assert np.all(np.abs(np.hypot(b[~on_cap, 0], b[~on_cap, 1]) - R) < 0.05)
    assert on_cap.sum() > 20 and (~on_cap).sum() > 200


def test_a_meshing_error_in_the_child_comes_back_as_one(tmp_path):
    from surgiplan.core.errors import MeshingError
    from surgiplan.core.simulation.vessel.geometry import _mesh_in_child
    from surgiplan.core.vessels import flow_mesh as FM

    closed, cuts = _tube()
    ghost = FM.Cut(np.array([50.0, 0.0, 0.0]), np.array([1.0, 0.0, 0.0]), R, "outlet_2")  # no cap there
    with pytest.raises(MeshingError, match="no surface of the vessel mesh is the 'outlet_2' face"):
        _mesh_in_child(closed, cuts + [ghost], _size, tmp_path / "mesh.msh", h_min=0.3, h_max=5.0, wall_ratio=None)


def test_a_crashing_mesher_is_a_meshing_error_not_a_dead_application(monkeypatch, tmp_path):
    """gmsh's 3D mesher died with SIGSEGV on the whole (true + false lumen) aorta: a child that dies of
    a signal after writing half the mesh is a MeshingError naming the signal, and the file is removed."""
    from surgiplan.core.errors import MeshingError
    from surgiplan.core.simulation.vessel.geometry import _mesh_in_child
    from surgiplan.core.vessels import mesh_child

    msh = tmp_path / "mesh.msh"
    crash = ("import os, signal, sys; sys.stdin.buffer.read(); "
             f"open({str(msh)!r}, 'wb').write(b'$MeshFormat\\n4.1 0 8\\n'); os.kill(os.getpid(), signal.SIGSEGV)")
    monkeypatch.setattr(mesh_child, "child_command", lambda: [sys.executable, "-c", crash])
    closed, cuts = _tube()
    with pytest.raises(MeshingError, match="crashed meshing the vessel .signal SIGSEGV"):
        _mesh_in_child(closed, cuts, _size, msh, h_min=0.3, h_max=5.0, wall_ratio=None)
    assert not msh.exists()
