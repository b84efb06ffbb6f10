"""gmsh generators of the verification geometries (all lengths in mm).

Each generator builds a gmsh model with named physical groups (the tags a study
refers to) and either writes it to a ``.msh`` file (:func:`write_msh`) or hands
it to dolfinx (:func:`surgiplan.core.simulation.volume_mesh_io.mesh_from_gmsh`).
Physical names:

* box / cube / two_region_box: volumes ``solid`` (or ``region_a``/``region_b``),
  faces ``x0 x1 y0 y1 z0 z1`` (the face at the min/max of that coordinate);
* cylinder_sector (quarter of a thick ring, axis z): ``inner outer sym_x sym_y z0 z1``
  (``sym_x`` is the plane x = 0, ``sym_y`` the plane y = 0);
* sphere_sector (one eighth of a thick shell): ``inner outer sym_x sym_y sym_z``;
* pipe (axis x from 0 to L): volume ``fluid``, faces ``inlet`` (x = 0),
  ``outlet`` (x = L), ``wall``.

gmsh is a process-wide singleton: each generator initialises it if needed,
clears the model, and leaves it for the caller to read or write; call
:func:`finish` when done.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import gmsh

from surgiplan.core.errors import MeshingError


def _start(name: str, verbose: bool = False) -> None:
    if gmsh.isInitialized():  # a fresh gmsh: options set by an earlier open() must not leak in
        gmsh.finalize()
    gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 1 if verbose else 0)
    gmsh.option.setNumber("General.NumThreads", 1)
    gmsh.clear()
    gmsh.model.add(name)


def finish() -> None:
    """Release gmsh (safe to call when it is not initialised)."""
    if gmsh.isInitialized():
        gmsh.finalize()


def _mesh(dim: int, size: float, order: int) -> None:
    gmsh.option.setNumber("Mesh.CharacteristicLengthMin", size)
    gmsh.option.setNumber("Mesh.CharacteristicLengthMax", size)
    gmsh.option.setNumber("Mesh.Algorithm3D", 1)
    try:
        gmsh.model.mesh.generate(dim)
        if order > 1:
            gmsh.model.mesh.setOrder(order)
    except Exception as exc:  # gmsh raises plain Exception
        raise MeshingError(f"gmsh could not mesh the model: {exc}") from exc


def _tag_faces(rules: dict[str, Callable[[tuple[float, float, float]], bool]]) -> None:
    """Create one physical group per rule from the faces whose centre matches it."""
    faces = gmsh.model.getEntities(2)
    for name, rule in rules.items():
        tags = [t for d, t in faces if rule(gmsh.model.occ.getCenterOfMass(d, t))]
        if not tags:
            raise MeshingError(f"no face matched the tag {name!r} while building the mesh")
        gmsh.model.addPhysicalGroup(2, tags, name=name)


def _box_faces(x0, y0, z0, x1, y1, z1, eps) -> dict:
    return {
        "x0": lambda c: abs(c[0] - x0) < eps,
        "x1": lambda c: abs(c[0] - x1) < eps,
        "y0": lambda c: abs(c[1] - y0) < eps,
        "y1": lambda c: abs(c[1] - y1) < eps,
        "z0": lambda c: abs(c[2] - z0) < eps,
        "z1": lambda c: abs(c[2] - z1) < eps,
    }


def box(lx: float, ly: float, lz: float, size: float, order: int = 1) -> None:
    """Box [0,lx] x [0,ly] x [0,lz] mm of tetrahedra of edge ~``size`` mm."""
    _start("box")
    gmsh.model.occ.addBox(0, 0, 0, lx, ly, lz)
    gmsh.model.occ.synchronize()
    gmsh.model.addPhysicalGroup(3, [t for _, t in gmsh.model.getEntities(3)], name="solid")
    _tag_faces(_box_faces(0, 0, 0, lx, ly, lz, 1e-6 * max(lx, ly, lz)))
    _mesh(3, size, order)


def two_region_box(lx: float, ly: float, lz: float, split_x: float, size: float) -> None:
    """Box split at x = ``split_x`` into volumes ``region_a`` (x < split) and ``region_b``."""
    _start("two_region_box")
    a = gmsh.model.occ.addBox(0, 0, 0, split_x, ly, lz)
    b = gmsh.model.occ.addBox(split_x, 0, 0, lx - split_x, ly, lz)
    gmsh.model.occ.fragment([(3, a)], [(3, b)])
    gmsh.model.occ.synchronize()
    vols = gmsh.model.getEntities(3)
    left = [t for d, t in vols if gmsh.model.occ.getCenterOfMass(d, t)[0] < split_x]
    right = [t for d, t in vols if gmsh.model.occ.getCenterOfMass(d, t)[0] > split_x]
    gmsh.model.addPhysicalGroup(3, left, name="region_a")
    gmsh.model.addPhysicalGroup(3, right, name="region_b")
    eps = 1e-6 * max(lx, ly, lz)
    rules = _box_faces(0, 0, 0, lx, ly, lz, eps)
    _tag_faces(rules)
    _mesh(3, size, 1)


def cylinder_sector(a: float, b: float, thickness: float, size: float, order: int = 1) -> None:
    """Quarter of a thick ring (radii ``a`` < ``b`` mm, axis z, 0 <= z <= ``thickness``)."""
    _start("cylinder_sector")
    outer = gmsh.model.occ.addCylinder(0, 0, 0, 0, 0, thickness, b, angle=math.pi / 2)
    inner = gmsh.model.occ.addCylinder(0, 0, 0, 0, 0, thickness, a, angle=math.pi / 2)
    gmsh.model.occ.cut([(3, outer)], [(3, inner)])
    gmsh.model.occ.synchronize()
    gmsh.model.addPhysicalGroup(3, [t for _, t in gmsh.model.getEntities(3)], name="solid")
    eps = 1e-6 * b
    rm = 0.5 * (a + b)

    def radius(c):
        return math.hypot(c[0], c[1])

    _tag_faces(
        {
            "sym_x": lambda c: abs(c[0]) < eps,
            "sym_y": lambda c: abs(c[1]) < eps,
            "z0": lambda c: abs(c[2]) < eps,
            "z1": lambda c: abs(c[2] - thickness) < eps,
            # the centre of mass of a quarter cylindrical face lies inside its radius
            "inner": lambda c: c[0] > eps and c[1] > eps and eps < c[2] < thickness - eps
            and radius(c) < rm,
            "outer": lambda c: c[0] > eps and c[1] > eps and eps < c[2] < thickness - eps
            and radius(c) > rm,
        }
    )
    _mesh(3, size, order)


def sphere_sector(a: float, b: float, size: float, order: int = 1) -> None:
    """One eighth of a thick spherical shell (radii ``a`` < ``b`` mm, x, y, z >= 0)."""
    _start("sphere_sector")
    outer = gmsh.model.occ.addSphere(0, 0, 0, b)
    inner = gmsh.model.occ.addSphere(0, 0, 0, a)
    shell, _ = gmsh.model.occ.cut([(3, outer)], [(3, inner)])
    cube = gmsh.model.occ.addBox(0, 0, 0, 2 * b, 2 * b, 2 * b)
    gmsh.model.occ.intersect(shell, [(3, cube)])
    gmsh.model.occ.synchronize()
    gmsh.model.addPhysicalGroup(3, [t for _, t in gmsh.model.getEntities(3)], name="solid")
    eps = 1e-6 * b
    rm = 0.5 * (a + b)

    def curved(c):
        return c[0] > eps and c[1] > eps and c[2] > eps

    _tag_faces(
        {
            "sym_x": lambda c: abs(c[0]) < eps,
            "sym_y": lambda c: abs(c[1]) < eps,
            "sym_z": lambda c: abs(c[2]) < eps,
            "inner": lambda c: curved(c) and math.dist(c, (0, 0, 0)) < rm,
            "outer": lambda c: curved(c) and math.dist(c, (0, 0, 0)) > rm,
        }
    )
    _mesh(3, size, order)


def pipe(radius: float, length: float, radial_size: float, layers: int, order: int = 1,
         wall_size: float | None = None) -> None:
    """Straight circular pipe along x (0 <= x <= ``length`` mm) of radius ``radius`` mm.

    The cross-section is meshed with triangles of edge ~``radial_size`` and
    extruded in ``layers`` layers (each prism split into tetrahedra), which suits
    developed flow whose profile does not change along the axis. ``wall_size``
    grades the section towards the wall (boundary layer, within radius / 3).
    """
    _start("pipe")
    disk = gmsh.model.occ.addDisk(0, 0, 0, radius, radius)
    gmsh.model.occ.rotate([(2, disk)], 0, 0, 0, 0, 1, 0, math.pi / 2)  # normal -> x
    gmsh.model.occ.synchronize()
    gmsh.option.setNumber("Mesh.CharacteristicLengthMin", min(radial_size, wall_size or radial_size))
    gmsh.option.setNumber("Mesh.CharacteristicLengthMax", radial_size)
    if wall_size is not None:
        curves = [t for _, t in gmsh.model.getBoundary([(2, disk)], oriented=False)]
        dist = gmsh.model.mesh.field.add("Distance")
        gmsh.model.mesh.field.setNumbers(dist, "CurvesList", curves)
        gmsh.model.mesh.field.setNumber(dist, "Sampling", 200)
        thr = gmsh.model.mesh.field.add("Threshold")
        gmsh.model.mesh.field.setNumber(thr, "InField", dist)
        gmsh.model.mesh.field.setNumber(thr, "SizeMin", wall_size)
        gmsh.model.mesh.field.setNumber(thr, "SizeMax", radial_size)
        gmsh.model.mesh.field.setNumber(thr, "DistMin", 0.0)
        gmsh.model.mesh.field.setNumber(thr, "DistMax", radius / 3)
        gmsh.model.mesh.field.setAsBackgroundMesh(thr)
        gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
    out = gmsh.model.occ.extrude([(2, disk)], length, 0, 0, numElements=[layers])
    gmsh.model.occ.synchronize()
    vol = [t for d, t in out if d == 3]
    gmsh.model.addPhysicalGroup(3, vol, name="fluid")
    eps = 1e-6 * length
    _tag_faces(
        {
            "inlet": lambda c: abs(c[0]) < eps and math.hypot(c[1], c[2]) < eps + radius / 2,
            "outlet": lambda c: abs(c[0] - length) < eps and math.hypot(c[1], c[2]) < radius / 2,
            "wall": lambda c: eps < c[0] < length - eps,
        }
    )
    try:
        gmsh.model.mesh.generate(3)
        if order > 1:
            gmsh.model.mesh.setOrder(order)
    except Exception as exc:
        raise MeshingError(f"gmsh could not mesh the pipe: {exc}") from exc


def write_msh(path: str | Path) -> Path:
    """Write the current gmsh model to ``path`` (.msh 4.1, ASCII) through the one write path.

    Free space for the largest ASCII file the node and element counts can make is
    checked first; the written file must start with ``$MeshFormat`` and end with a
    complete ``$End...`` section (gmsh does not report a short write).
    """
    from surgiplan.core.fileio import atomic_write

    path = Path(path)
    gmsh.option.setNumber("Mesh.SaveAll", 0)
    n_nodes = len(gmsh.model.mesh.getNodes()[0])
    n_elems = sum(len(t) for t in gmsh.model.mesh.getElements()[1])
    # an ASCII node: its tag line and three %.16g coordinates; an element: up to 11 tags
    need = 100 * n_nodes + 140 * n_elems + (1 << 20)

    def writer(tmp: Path) -> None:
        try:
            gmsh.write(str(tmp))
        except Exception as exc:  # gmsh raises plain Exception
            raise OSError(f"gmsh could not write the mesh ({exc})") from None

    def verify(tmp: Path) -> None:
        from surgiplan.core.errors import InputError

        with open(tmp, "rb") as fh:
            head = fh.read(12)
            fh.seek(max(0, os.path.getsize(tmp) - 64))
            tail = fh.read()
        last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        if head != b"$MeshFormat\n" or not last.startswith(b"$End"):
            raise InputError("the mesh file is incomplete (no closing $End section)", path=path)

    return atomic_write(path, writer, verify=verify, need_bytes=need)
