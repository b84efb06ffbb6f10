"""A symmetric Y-shaped bifurcation (gmsh, mm), for tests of multi-outlet flow boundary conditions.

A trunk of radius ``radius`` along +x from x = 0 to x = ``trunk_length`` splits at a ball of the trunk's
radius into two straight branches of radius ``branch_radius``, in the x-y plane at +-``angle_deg`` from
the x axis, each ``branch_length`` long from the junction centre. Faces are tagged ``inlet`` (x = 0),
``outlet_1`` (the +y branch end), ``outlet_2`` (the -y branch end) and ``wall``; the volume ``fluid``.
"""

from __future__ import annotations

import math

import numpy as np

from surgiplan.core.errors import InputError, MeshingError


def branch_ends(trunk_length: float, branch_length: float, angle_deg: float) -> list[np.ndarray]:
    """Centres (mm) of the two outlet faces: [+y branch, -y branch]."""
    a = math.radians(angle_deg)
    return [np.array([trunk_length + branch_length * math.cos(a), sgn * branch_length * math.sin(a), 0.0])
            for sgn in (1.0, -1.0)]


def branched_pipe(radius: float = 2.0, branch_radius: float = 1.6, trunk_length: float = 10.0,
                  branch_length: float = 10.0, angle_deg: float = 30.0, size: float = 0.8) -> None:
    """Build the Y bifurcation in the current gmsh model (call ``meshes.finish()`` after reading it).

    Parameters
    ----------
    radius, branch_radius : float
        Trunk and branch radii (mm).
    trunk_length, branch_length : float
        Trunk length and branch length from the junction centre (mm).
    angle_deg : float
        Angle of each branch from the trunk axis (degrees, 10-60).
    size : float
        Mesh size (mm).
    """
    from surgiplan.core.simulation import meshes

    if min(radius, branch_radius, trunk_length, branch_length, size) <= 0 or not 10 <= angle_deg <= 60 \
            or branch_radius > radius or branch_length < 3 * radius or trunk_length < 2 * radius:
        raise InputError(f"branched pipe: invalid dimensions (radius {radius}, branch radius {branch_radius}, "
                         f"lengths {trunk_length}/{branch_length}, angle {angle_deg}, size {size})",
                         hint="Positive sizes, branch radius <= trunk radius, lengths >= 2-3 radii, angle 10-60.")
    import gmsh

    meshes._start("branched_pipe")
    occ = gmsh.model.occ
    a = math.radians(angle_deg)
    trunk = occ.addCylinder(0, 0, 0, trunk_length, 0, 0, radius)
    ball = occ.addSphere(trunk_length, 0, 0, radius)
    legs = [occ.addCylinder(trunk_length, 0, 0, branch_length * math.cos(a), sgn * branch_length * math.sin(a), 0,
                            branch_radius) for sgn in (1.0, -1.0)]
    occ.fuse([(3, trunk)], [(3, ball), *[(3, t) for t in legs]])
    occ.removeAllDuplicates()
    occ.synchronize()
    vols = [t for _, t in gmsh.model.getEntities(3)]
    if len(vols) != 1:
        raise MeshingError(f"branched pipe: the fused model has {len(vols)} volumes, expected 1")
    gmsh.model.addPhysicalGroup(3, vols, name="fluid")
    ends = branch_ends(trunk_length, branch_length, angle_deg)
    eps = 1e-3 * radius
    meshes._tag_faces({
        "inlet": lambda c: abs(c[0]) < eps,
        "outlet_1": lambda c: np.linalg.norm(np.asarray(c) - ends[0]) < eps,
        "outlet_2": lambda c: np.linalg.norm(np.asarray(c) - ends[1]) < eps,
        "wall": lambda c: abs(c[0]) >= eps and min(np.linalg.norm(np.asarray(c) - e) for e in ends) >= eps,
    })
    gmsh.option.setNumber("Mesh.MeshSizeMin", size)
    gmsh.option.setNumber("Mesh.MeshSizeMax", size)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
    try:
        gmsh.model.mesh.generate(3)
        gmsh.model.mesh.optimize("Netgen")
    except Exception as exc:  # noqa: BLE001  (gmsh raises plain Exception)
        raise MeshingError(f"gmsh could not mesh the branched pipe: {exc}") from exc


def branched_pipe_mesh(comm=None, **kwargs):
    """The Y bifurcation as a :class:`~surgiplan.core.simulation.volume_mesh_io.TaggedMesh` in metres."""
    from mpi4py import MPI

    from surgiplan.core.simulation import meshes
    from surgiplan.core.simulation.volume_mesh_io import mesh_from_gmsh

    branched_pipe(**kwargs)
    try:
        tm = mesh_from_gmsh(comm or MPI.COMM_WORLD)
    finally:
        meshes.finish()
    return tm.scaled(1e-3, "m")
