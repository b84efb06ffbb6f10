"""Derived fields and summaries of an elasticity solution (mm, N, MPa).

Stress/strain conventions: small strain eps = sym(grad u); Hooke's law with
Lame parameters from E and nu per cell. Per-cell fields (DG0) are the
expression **evaluated at the cell centroid** (exact for P1, whose strain is
constant per cell); :func:`stress_dg` gives the stress as a discontinuous
polynomial of degree ``p - 1`` (exact for displacement degree p on straight
cells) for evaluation at points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ufl
from dolfinx import fem, geometry
from mpi4py import MPI


def epsilon(u):
    return ufl.sym(ufl.grad(u))


def sigma(u, mu, lmbda):
    eps = epsilon(u)
    return 2.0 * mu * eps + lmbda * ufl.tr(eps) * ufl.Identity(len(u))


def lame(E, nu):
    """Lame parameters (mu, lambda) in MPa from E (MPa) and nu."""
    return E / (2.0 * (1.0 + nu)), E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu))


def _dg0_tensor(expr, mesh) -> np.ndarray:
    """(n_local_cells, 3, 3) array of a tensor expression at cell centroids."""
    T = fem.functionspace(mesh, ("DG", 0, (3, 3)))
    f = fem.Function(T)
    f.interpolate(fem.Expression(expr, T.element.interpolation_points))
    n = mesh.topology.index_map(3).size_local + mesh.topology.index_map(3).num_ghosts
    return f.x.array.reshape(n, 3, 3)


def cell_volumes(mesh) -> np.ndarray:
    """Volume of every local cell (owned then ghosts), mm^3 (or m^3)."""
    V0 = fem.functionspace(mesh, ("DG", 0))
    v = ufl.TestFunction(V0)
    vec = fem.assemble_vector(fem.form(v * ufl.dx))
    return vec.array.copy()


@dataclass
class CellFields:
    """Per-cell (centroid) fields of the owned+ghost local cells."""

    stress: np.ndarray  # (n, 3, 3) MPa
    strain: np.ndarray  # (n, 3, 3) 1
    von_mises: np.ndarray  # (n,) MPa
    principal_stress: np.ndarray  # (n, 3) MPa, ascending
    principal_strain: np.ndarray  # (n, 3)
    strain_energy_density: np.ndarray  # (n,) MPa = mJ/mm^3
    volume: np.ndarray  # (n,) mm^3


def cell_fields(u, mu, lmbda) -> CellFields:
    """Stress, strain, von Mises, principal values and SED at cell centroids."""
    mesh = u.function_space.mesh
    s = _dg0_tensor(sigma(u, mu, lmbda), mesh)
    e = _dg0_tensor(epsilon(u), mesh)
    dev = s - np.trace(s, axis1=1, axis2=2)[:, None, None] / 3.0 * np.eye(3)
    vm = np.sqrt(1.5 * np.einsum("nij,nij->n", dev, dev))
    sed = 0.5 * np.einsum("nij,nij->n", s, e)
    return CellFields(s, e, vm, np.linalg.eigvalsh(s), np.linalg.eigvalsh(e), sed, cell_volumes(mesh))


def stress_dg(u, mu, lmbda):
    """Stress as a DG(degree-1) tensor Function (exact for straight cells)."""
    mesh = u.function_space.mesh
    deg = max(u.function_space.element.basix_element.degree - 1, 0)
    T = fem.functionspace(mesh, ("DG", deg, (3, 3)))
    f = fem.Function(T)
    f.interpolate(fem.Expression(sigma(u, mu, lmbda), T.element.interpolation_points))
    return f


_PROBE_CACHE: dict = {}


def probe(function, points: np.ndarray) -> np.ndarray:
    """Values of ``function`` at ``points`` (m, 3), the same on every rank (collective).

    Points outside the mesh give NaN.
    """
    mesh = function.function_space.mesh
    points = np.ascontiguousarray(np.asarray(points, dtype=np.float64).reshape(-1, 3))
    key = (id(mesh), points.tobytes())
    if key not in _PROBE_CACHE:
        tree = geometry.bb_tree(mesh, mesh.topology.dim)
        cand = geometry.compute_collisions_points(tree, points)
        if len(_PROBE_CACHE) > 32:
            _PROBE_CACHE.clear()
        _PROBE_CACHE[key] = (mesh, geometry.compute_colliding_cells(mesh, cand, points))
    coll = _PROBE_CACHE[key][1]
    size = int(np.prod(function.ufl_shape)) if function.ufl_shape else 1
    local = np.full((len(points), size), np.nan)
    n_owned = mesh.topology.index_map(mesh.topology.dim).size_local
    idx, cells = [], []
    for i in range(len(points)):
        links = coll.links(i)
        links = links[links < n_owned]
        if len(links):
            idx.append(i)
            cells.append(links[0])
    if idx:
        local[idx] = function.eval(points[idx], np.asarray(cells, dtype=np.int32)).reshape(len(idx), size)
    allv = mesh.comm.allgather(local)
    out = np.full_like(local, np.nan)
    for arr in allv:  # lowest rank that found the point wins (deterministic)
        m = np.isnan(out[:, 0]) & ~np.isnan(arr[:, 0])
        out[m] = arr[m]
    return out


def owned(mesh, arr: np.ndarray) -> np.ndarray:
    """The owned-cell part of a local per-cell array."""
    return arr[: mesh.topology.index_map(mesh.topology.dim).size_local]


def points_outside(mesh, points: np.ndarray) -> list[int]:
    """Indices of ``points`` (n, 3) that lie in no cell of ``mesh`` (collective)."""
    points = np.ascontiguousarray(np.asarray(points, dtype=np.float64).reshape(-1, 3))
    if len(points) == 0:
        return []
    tree = geometry.bb_tree(mesh, mesh.topology.dim)
    cand = geometry.compute_collisions_points(tree, points)
    coll = geometry.compute_colliding_cells(mesh, cand, points)
    found = np.array([len(coll.links(i)) > 0 for i in range(len(points))], dtype=np.int32)
    total = np.zeros_like(found)
    mesh.comm.Allreduce(found, total, op=MPI.MAX)
    return [int(i) for i in np.flatnonzero(total == 0)]


def weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Volume-weighted percentile (q in 0..100) of ``values``."""
    if len(values) == 0:
        return float("nan")
    order = np.argsort(values)
    cw = np.cumsum(weights[order])
    k = int(np.searchsorted(cw, q / 100.0 * cw[-1]))
    return float(values[order][min(k, len(values) - 1)])


def region_summary(mesh, cells: np.ndarray, cf: CellFields, u_nodal_norm_cells: np.ndarray) -> dict:
    """Summary of one region given its local cell indices (owned ones are used).

    Returns peak and volume-weighted 99th-percentile von Mises (MPa), max
    displacement magnitude at the region's nodes (mm), volume (mm^3), strain
    energy (mJ) and volume-weighted mean strain energy density (mJ/mm^3).
    """
    comm = mesh.comm
    n_owned = mesh.topology.index_map(mesh.topology.dim).size_local
    cells = cells[cells < n_owned]
    vm = np.concatenate(comm.allgather(cf.von_mises[cells]))
    vol = np.concatenate(comm.allgather(cf.volume[cells]))
    energy = comm.allreduce(float(np.sum(cf.strain_energy_density[cells] * cf.volume[cells])), MPI.SUM)
    volume = float(np.sum(vol))
    umax = comm.allreduce(float(np.max(u_nodal_norm_cells[cells], initial=0.0)), MPI.MAX)
    return {
        "volume_mm3": volume,
        "von_mises_peak_MPa": float(np.max(vm, initial=0.0)),
        "von_mises_p99_MPa": weighted_percentile(vm, vol, 99.0),
        "max_displacement_mm": umax,
        "strain_energy_mJ": energy,
        "strain_energy_density_mean_mJ_per_mm3": energy / volume if volume > 0 else float("nan"),
        # principal strains (1): the volume-weighted 99th percentile of the largest (tension) and the
        # 1st percentile of the smallest (compression)
        "max_principal_strain_p99": weighted_percentile(
            np.concatenate(comm.allgather(cf.principal_strain[cells, 2])), vol, 99.0),
        "min_principal_strain_p1": weighted_percentile(
            np.concatenate(comm.allgather(cf.principal_strain[cells, 0])), vol, 1.0),
    }


def stress_recovered(u, mu, lmbda):
    """Stress L2-projected onto continuous Lagrange of the displacement's degree (MPa).

    A smoothed (recovered) stress: more accurate than the raw discontinuous
    stress at surfaces, used to read surface stresses. CG + Jacobi on the mass
    matrix, relative tolerance 1e-12.
    """
    from dolfinx.fem.petsc import LinearProblem

    mesh = u.function_space.mesh
    deg = u.function_space.element.basix_element.degree
    T = fem.functionspace(mesh, ("Lagrange", deg, (3, 3)))
    s, t = ufl.TrialFunction(T), ufl.TestFunction(T)
    dx = ufl.dx(metadata={"quadrature_degree": 2 * deg + 2})
    problem = LinearProblem(
        ufl.inner(s, t) * dx, ufl.inner(sigma(u, mu, lmbda), t) * dx,
        petsc_options_prefix="surgiplan_recover_",
        petsc_options={"ksp_type": "cg", "pc_type": "jacobi", "ksp_rtol": 1e-12})
    return problem.solve()
