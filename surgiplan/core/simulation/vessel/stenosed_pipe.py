"""A straight pipe with an axisymmetric cosine stenosis (gmsh, mm), for solver tests and benchmarks.

The radius along the axis x (0 <= x <= ``length``) is the classical cosine (Young and Tsai) profile

    r(x) = R (1 - s/2 (1 + cos(2 pi (x - x_c) / L_s)))   for |x - x_c| <= L_s / 2,   R elsewhere,

``s`` the diameter reduction (0.5 = 50 % diameter stenosis, 75 % area). Faces are tagged
``inlet`` (x = 0), ``outlet`` (x = length) and ``wall``; the volume ``fluid``. The mesh size is
``size`` away from the throat and ``throat_size`` within one stenosis length of it.
"""

from __future__ import annotations

import math

import numpy as np

from surgiplan.core.errors import InputError, MeshingError


def stenosis_radius(x: np.ndarray, radius: float, severity: float, centre: float, lesion_length: float):
    """Radius (mm) of the cosine stenosis at axial positions ``x`` (mm)."""
    x = np.asarray(x, float)
    inside = np.abs(x - centre) <= lesion_length / 2
    dip = 0.5 * severity * (1.0 + np.cos(2.0 * np.pi * (x - centre) / lesion_length))
    return radius * (1.0 - np.where(inside, dip, 0.0))


def stenosed_pipe(radius: float = 2.0, length: float = 24.0, severity: float = 0.5, lesion_length: float = 4.0,
                  centre: float | None = None, size: float = 0.8, throat_size: float | None = None,
                  order: int = 1) -> None:
    """Build the stenosed pipe in the current gmsh model (call ``meshes.finish()`` after reading it).

    Parameters
    ----------
    radius, length, lesion_length : float
        Healthy radius, pipe length and stenosis length (mm).
    severity : float
        Diameter reduction at the throat, 0 <= severity < 1.
    centre : float, optional
        Axial position of the throat (mm); default a third of the length.
    size, throat_size : float
        Mesh size (mm) away from and near the throat (default ``size / 2``).
    """
    from surgiplan.core.simulation import meshes

    if not (0.0 <= severity < 0.95) or radius <= 0 or length <= 0 or lesion_length <= 0 or size <= 0:
        raise InputError(f"stenosed pipe: invalid dimensions (radius {radius}, length {length}, severity "
                         f"{severity}, lesion length {lesion_length}, size {size})",
                         hint="Positive sizes and a severity in [0, 0.95).")
    import gmsh

    xc = length / 3.0 if centre is None else float(centre)
    if xc - lesion_length / 2 <= 0 or xc + lesion_length / 2 >= length:
        raise InputError("stenosed pipe: the lesion does not fit inside the pipe",
                         hint="Move the centre or shorten the lesion.")
    ts = size / 2 if throat_size is None else throat_size
    meshes._start("stenosed_pipe")
    occ = gmsh.model.occ
    xs = np.concatenate([[0.0], np.linspace(xc - lesion_length / 2, xc + lesion_length / 2, 41), [length]])
    rs = stenosis_radius(xs, radius, severity, xc, lesion_length)
    # profile in the x-y plane: axis (y = 0) and wall (y = r(x)); revolved about the x axis
    pts = [occ.addPoint(float(x), float(r), 0.0) for x, r in zip(xs, rs, strict=True)]
    a0 = occ.addPoint(0.0, 0.0, 0.0)
    a1 = occ.addPoint(length, 0.0, 0.0)
    lines = [occ.addLine(a0, pts[0]), occ.addLine(pts[0], pts[1]), occ.addSpline(pts[1:-1]),
             occ.addLine(pts[-2], pts[-1]), occ.addLine(pts[-1], a1), occ.addLine(a1, a0)]
    face = occ.addPlaneSurface([occ.addCurveLoop(lines)])
    occ.revolve([(2, face)], 0, 0, 0, 1, 0, 0, 2 * math.pi)
    occ.remove([(2, face)], recursive=True)
    occ.removeAllDuplicates()
    occ.synchronize()
    vols = [t for _, t in gmsh.model.getEntities(3)]
    gmsh.model.addPhysicalGroup(3, vols, name="fluid")
    eps = 1e-6 * length
    meshes._tag_faces({
        "inlet": lambda c: abs(c[0]) < eps,
        "outlet": lambda c: abs(c[0] - length) < eps,
        "wall": lambda c: eps < c[0] < length - eps,
    })
    dist = gmsh.model.mesh.field.add("MathEval")
    gmsh.model.mesh.field.setString(
        dist, "F", f"{ts} + ({size} - {ts}) * Min(1, Max(0, (Fabs(x - {xc}) - {lesion_length}) / {lesion_length}))")
    gmsh.model.mesh.field.setAsBackgroundMesh(dist)
    gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
    try:
        gmsh.model.mesh.generate(3)
        gmsh.model.mesh.optimize("Netgen")
        if order > 1:
            gmsh.model.mesh.setOrder(order)
    except Exception as exc:  # noqa: BLE001  (gmsh raises plain Exception)
        raise MeshingError(f"gmsh could not mesh the stenosed pipe: {exc}") from exc


def stenosed_pipe_mesh(comm=None, **kwargs):
    """The stenosed pipe as a :class:`~surgiplan.core.simulation.volume_mesh_io.TaggedMesh` in metres."""
    from mpi4py import MPI

    from surgiplan.core.simulation import meshes
    from surgiplan.core.simulation.volume_mesh_io import mesh_from_gmsh

    stenosed_pipe(**kwargs)
    try:
        tm = mesh_from_gmsh(comm or MPI.COMM_WORLD)
    finally:
        meshes.finish()
    return tm.scaled(1e-3, "m")
