"""Tetrahedron quality check before a solve (slivers make the flow system singular).

Quality of a tetrahedron: ``q = 6 sqrt(2) V / l_rms^3`` (V its volume, l_rms the
root mean square of its six edge lengths, from its four vertices); 1 for the
regular tetrahedron, 0 for a flat one (a sliver has four well-spaced vertices
nearly in a plane, so its edges look fine while its volume vanishes). gmsh's
Delaunay/HXT meshes of vessels have minimum q around 0.01-0.3 (a few tetrahedra at
the rim of a flat cap reach 0.008); below ``SLIVER_QUALITY`` (1/200 of the volume a
regular tetrahedron with those edges would have) a P2-P1 Navier-Stokes system is
near-singular (MUMPS error -10) or its pressure oscillates.

A sliver is told from a merely stretched tetrahedron (the wedges of an extruded pipe mesh,
a boundary layer: long but not degenerate) by ``d = 6 sqrt(2) V / (l_min^2 l_max)``
(:func:`tet_degeneracy`): 1 for the regular tetrahedron, near ``q`` for a sliver (its edges
are alike), but about 1/6-1 for a wedge of any length. The check counts ``d < SLIVER_QUALITY``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from surgiplan.core.errors import MeshingError

SLIVER_QUALITY = 0.005


@dataclass
class MeshQuality:
    """Quality statistics of the owned cells (all ranks combined)."""

    cells: int
    min_quality: float
    n_slivers: int
    worst_centre: np.ndarray  # centroid of the most degenerate cell (mesh units)
    min_degeneracy: float = 1.0  # smallest d (tet_degeneracy) of any cell

    def to_dict(self) -> dict:
        return {"cells": self.cells, "min_quality": self.min_quality, "min_degeneracy": self.min_degeneracy,
                "slivers": self.n_slivers, "worst_cell_centre": [float(x) for x in self.worst_centre]}


def tet_quality(points: np.ndarray) -> np.ndarray:
    """q = 6 sqrt(2) |V| / l_rms^3 of tetrahedra given as (n, 4, 3) vertex arrays."""
    p = np.asarray(points, float)
    a, b, c, d = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
    vol = np.abs(np.einsum("ij,ij->i", b - a, np.cross(c - a, d - a))) / 6.0
    edges = [b - a, c - a, d - a, c - b, d - b, d - c]
    l2 = sum(np.einsum("ij,ij->i", e, e) for e in edges) / 6.0
    with np.errstate(divide="ignore", invalid="ignore"):
        q = 6.0 * np.sqrt(2.0) * vol / np.maximum(l2, 1e-300) ** 1.5
    return np.nan_to_num(q, nan=0.0)


def tet_degeneracy(points: np.ndarray) -> np.ndarray:
    """d = 6 sqrt(2) |V| / (l_min^2 l_max) of tetrahedra given as (n, 4, 3) vertex arrays.

    Insensitive to stretching (a long wedge keeps d of order 1/6-1), small only for
    degenerate cells (slivers, caps, flat needles): the cells that make a system singular.
    """
    p = np.asarray(points, float)
    a, b, c, d = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
    vol = np.abs(np.einsum("ij,ij->i", b - a, np.cross(c - a, d - a))) / 6.0
    lengths = np.sqrt(np.stack([np.einsum("ij,ij->i", e, e) for e in (b - a, c - a, d - a, c - b, d - b, d - c)]))
    lmin, lmax = lengths.min(axis=0), lengths.max(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 6.0 * np.sqrt(2.0) * vol / np.maximum(lmin * lmin * lmax, 1e-300)
    return np.nan_to_num(out, nan=0.0)


def mesh_quality(mesh) -> MeshQuality:
    """Quality of a dolfinx tetrahedral mesh (collective)."""
    from mpi4py import MPI

    tdim = mesh.topology.dim
    n_owned = mesh.topology.index_map(tdim).size_local
    dofmap = mesh.geometry.dofmaps[0][:n_owned, :4]  # the vertices (first 4 nodes of a P1/P2 cell)
    pts = mesh.geometry.x[dofmap]
    q = tet_quality(pts) if n_owned else np.zeros(0)
    deg = tet_degeneracy(pts) if n_owned else np.zeros(0)
    comm = mesh.comm
    qmin_local = float(q.min()) if len(q) else np.inf
    dmin_local = float(deg.min()) if len(deg) else np.inf
    worst = pts[int(np.argmin(deg))].mean(axis=0) if len(deg) else np.zeros(3)
    gathered = comm.allgather((dmin_local, worst.tolist()))
    _, wc = min(gathered, key=lambda t: t[0])
    return MeshQuality(comm.allreduce(n_owned, MPI.SUM), float(comm.allreduce(qmin_local, MPI.MIN)),
                       comm.allreduce(int((deg < SLIVER_QUALITY).sum()), MPI.SUM), np.asarray(wc),
                       float(comm.allreduce(dmin_local, MPI.MIN)))


def check_mesh_quality(mesh, source: str | None = None, scale_to_mm: float = 1.0) -> MeshQuality:
    """Raise :class:`MeshingError` naming the worst cell if the mesh has slivers; else the statistics."""
    mq = mesh_quality(mesh)
    if mq.n_slivers:
        c = mq.worst_centre * scale_to_mm
        raise MeshingError(
            f"the volume mesh has {mq.n_slivers} sliver tetrahedra (degeneracy < {SLIVER_QUALITY}; worst "
            f"{mq.min_degeneracy:.2g} near ({c[0]:.1f}, {c[1]:.1f}, {c[2]:.1f}) mm); they would make the flow "
            "system singular", path=source,
            hint="Re-mesh (surgiplan meshes vessels with gmsh's optimiser and Netgen); if the mesh came "
                 "from another tool, optimise it there (e.g. gmsh -optimize_netgen).")
    return mq
