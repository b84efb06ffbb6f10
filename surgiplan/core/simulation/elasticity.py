"""Small-strain linear elasticity on tagged tetrahedral meshes (mm, N, MPa).

Several material regions (Young's modulus per region or per cell, Poisson
ratio), P1 or P2 Lagrange elements, Dirichlet (fixed, prescribed displacement
per component) and Neumann (traction, pressure, total force over a patch)
conditions on tagged facets. Linear solver by size: MUMPS LU below
``direct_max_dofs``, otherwise CG + GAMG with the six rigid-body modes as
near-nullspace (``pc_gamg_agg_nsmooths 0`` by default: much cheaper set-up,
see MEASUREMENTS.md); any PETSc option can be overridden from the study.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import ufl
from dolfinx import default_scalar_type, fem, la
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

from surgiplan.core.errors import Cancelled, InputError, SolverError
from surgiplan.core.jobs import Progress, report
from surgiplan.core.simulation.fields import lame, sigma
from surgiplan.core.simulation.study_schema import ElasticitySpec, SolverSpec
from surgiplan.core.simulation.volume_mesh_io import TaggedMesh

GAMG_DEFAULTS: dict[str, object] = {
    "ksp_type": "cg",
    "pc_type": "gamg",
    "pc_gamg_agg_nsmooths": 0,
    "pc_gamg_coarse_eq_limit": 5000,  # one level fewer: 106 iterations instead of 150 (with pbjacobi below)
    "mg_levels_ksp_type": "chebyshev",
    # point-block Jacobi (3x3 nodal blocks) under Chebyshev and a 5000-equation coarse grid: on the femur +
    # titanium stem with CT-mapped bone (430k DOFs, P2) 106 CG iterations and 22 % less CPU than round 1's
    # scalar Jacobi with a 1000-equation coarse grid (166 iterations) (benchmarks/tune_gamg_hip.py;
    # thresholds, no aggressive coarsening and SOR were worse; smoothed aggregation + pbjacobi needed 96
    # iterations but 3.4x the set-up, 11 % more CPU in all)
    "mg_levels_pc_type": "pbjacobi",
    "mg_levels_esteig_ksp_type": "cg",
}
MUMPS_DEFAULTS: dict[str, object] = {
    "ksp_type": "preonly",
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
}


@dataclass
class ElasticitySolution:
    """Displacement (mm) with the material fields and solver facts."""

    u: fem.Function
    E: fem.Function  # DG0, MPa
    nu: fem.Function  # DG0
    tagged: TaggedMesh
    info: dict = field(default_factory=dict)

    @property
    def mu_lambda(self):
        return lame(self.E, self.nu)


def rigid_body_modes(V) -> PETSc.NullSpace:
    """The six rigid-body modes of a 3D vector space as an orthonormal PETSc near-nullspace.

    Blocked space: component k of node n is dof ``bs * n + k``; the node coordinates come from
    ``tabulate_dof_coordinates`` (owned and ghost nodes, any Lagrange degree).
    """
    index_map = V.dofmap.index_map
    bs = V.dofmap.index_map_bs
    ns = [la.vector(index_map, bs=bs, dtype=PETSc.ScalarType) for _ in range(6)]
    basis = [b.array for b in ns]
    x = V.tabulate_dof_coordinates()
    nodes = np.arange(index_map.size_local + index_map.num_ghosts)
    for i in range(3):
        basis[i][bs * nodes + i] = 1.0
    x0, x1, x2 = x[nodes, 0], x[nodes, 1], x[nodes, 2]
    basis[3][bs * nodes + 0] = -x1
    basis[3][bs * nodes + 1] = x0
    basis[4][bs * nodes + 0] = x2
    basis[4][bs * nodes + 2] = -x0
    basis[5][bs * nodes + 2] = x1
    basis[5][bs * nodes + 1] = -x2
    la.orthonormalize(ns)
    return PETSc.NullSpace().create(vectors=[b.petsc_vec for b in ns])


def _cells_of(tm: TaggedMesh, region) -> np.ndarray:
    mesh = tm.mesh
    n = mesh.topology.index_map(3).size_local + mesh.topology.index_map(3).num_ghosts
    if region == "all":
        return np.arange(n, dtype=np.int32)
    if tm.cell_tags is None:
        raise InputError(f"material region {region!r} given but the mesh has no cell tags",
                         path=tm.source or None, hint="Use region 'all' or tag the volumes.")
    value = tm.resolve(region, 3, "material region")
    return tm.cell_tags.find(value)


def material_fields(tm: TaggedMesh, spec: ElasticitySpec, cell_modulus_MPa: np.ndarray | None = None):
    """DG0 Functions E (MPa) and nu from the study's materials (later ones win).

    ``cell_modulus_MPa`` (per local cell) overrides E everywhere it is given
    (CT-mapped materials). Raises SolverError for a non-positive modulus or a
    Poisson ratio outside (-1, 0.5), InputError for cells without material.
    """
    mesh = tm.mesh
    Q = fem.functionspace(mesh, ("DG", 0))
    E, nu = fem.Function(Q, name="youngs_modulus_MPa"), fem.Function(Q, name="poissons_ratio")
    E.x.array[:] = np.nan
    nu.x.array[:] = np.nan
    for k, m in enumerate(spec.materials):
        label = m.name or f"material {k + 1} (region {m.region!r})"
        if not m.youngs_modulus_MPa > 0:
            raise SolverError(f"{label} has a non-positive Young's modulus "
                              f"{m.youngs_modulus_MPa} MPa", hint="Give E > 0 in MPa.")
        if not -1.0 < m.poissons_ratio < 0.5:
            raise SolverError(f"{label} has Poisson's ratio {m.poissons_ratio} outside (-1, 0.5)",
                              hint="Use e.g. 0.3 (bone, metal).")
        cells = _cells_of(tm, m.region)
        E.x.array[cells] = m.youngs_modulus_MPa
        nu.x.array[cells] = m.poissons_ratio
    if spec.ct_material is not None:
        ct = spec.ct_material
        cells = _cells_of(tm, ct.region)
        E.x.array[cells] = ct_cell_modulus(tm, cells, ct)
        nu.x.array[cells] = ct.poissons_ratio
    if cell_modulus_MPa is not None:
        cm = np.asarray(cell_modulus_MPa, dtype=float)
        if np.any(~(cm > 0)):
            raise SolverError(f"{int(np.sum(~(cm > 0)))} cells have a non-positive Young's modulus",
                              hint="Clip the mapped modulus to a minimum (e.g. 1 MPa).")
        E.x.array[: len(cm)] = cm
    missing = int(np.sum(np.isnan(E.x.array)))
    if mesh.comm.allreduce(missing, MPI.SUM):
        raise InputError(f"{mesh.comm.allreduce(missing, MPI.SUM)} cells have no material",
                         path=tm.source or None,
                         hint="Add a material for every region (or one with region 'all').")
    return E, nu


def ct_cell_modulus(tm: TaggedMesh, cells: np.ndarray, ct) -> np.ndarray:
    """E (MPa) of the local ``cells`` integrated from the CT of ``ct`` (a study's ``ct_material``).

    Reads the CT on every rank (each maps its own cells). Raises InputError naming the file
    when it cannot be read; SolverError when the cells lie outside the scan.
    """
    from surgiplan.core.imaging import read_volume
    from surgiplan.core.simulation.biomech.bone_material import BoneMapping, cell_modulus

    mesh = tm.mesh
    volume = read_volume(ct.volume)
    mapping = BoneMapping(law=ct.law, calibration_slope_g_cm3_per_HU=ct.calibration_slope_g_cm3_per_HU,
                          calibration_intercept_g_cm3=ct.calibration_intercept_g_cm3, ash_slope=ct.ash_slope,
                          ash_intercept_g_cm3=ct.ash_intercept_g_cm3, ash_to_apparent=ct.ash_to_apparent,
                          strain_rate_per_s=ct.strain_rate_per_s, min_modulus_MPa=ct.min_modulus_MPa)
    dofmap = mesh.geometry.dofmap
    nodes = dofmap[cells][:, :4]  # the vertices (the first four geometry nodes of a tetrahedron)
    xyz = mesh.geometry.x[nodes]
    if len(xyz):
        lo = volume.world_corners().min(axis=0) - 1e-6
        hi = volume.world_corners().max(axis=0) + 1e-6
        centroids = xyz.mean(axis=1)
        outside = int(np.sum(np.any((centroids < lo) | (centroids > hi), axis=1)))
    else:
        outside = 0
    outside = mesh.comm.allreduce(outside, MPI.SUM)
    if outside:
        raise SolverError(f"{outside} cells of the CT-mapped region lie outside the scan {ct.volume}",
                          hint="Crop the model to the scanned region or give a scan that covers it.")
    return cell_modulus(xyz, volume, mapping, ct.quadrature_degree) if len(xyz) else np.zeros(0)


def _form_materials(E: fem.Function, nu: fem.Function):
    """(E, nu) for the bilinear form: Constants when they are the same in every cell (the usual
    one-material study: the kernel then needs no per-cell coefficient data, as in a hand-written
    script), else the DG0 Functions themselves. Collective."""
    comm = E.function_space.mesh.comm
    vals = []
    for f in (E, nu):
        a = f.x.array
        lo = comm.allreduce(float(a.min(initial=np.inf)), MPI.MIN)
        hi = comm.allreduce(float(a.max(initial=-np.inf)), MPI.MAX)
        if lo != hi:
            return E, nu
        vals.append(lo)
    mesh = E.function_space.mesh
    return tuple(fem.Constant(mesh, default_scalar_type(v)) for v in vals)


def facet_area(tm: TaggedMesh, value: int) -> float:
    ds = ufl.Measure("ds", domain=tm.mesh, subdomain_data=tm.facet_tags)
    one = fem.Constant(tm.mesh, default_scalar_type(1.0))
    return tm.mesh.comm.allreduce(fem.assemble_scalar(fem.form(one * ds(value))), MPI.SUM)


class _Monitor:
    """KSP monitor: progress from the residual decrease, throttled collective cancel check.

    Every rank sees the same iteration numbers, so the check points are decided from
    them alone (never from a rank's own clock, which could leave one rank waiting in a
    collective the other never enters): at a check point one allreduce agrees on the
    cancel flag and on the slowest rank's seconds per iteration, and the next check point
    is ~``interval_s`` of wall time later (at most ``max_every`` iterations). Without a
    progress object nothing can cancel, so there is no check at all (no synchronisation
    beyond the solver's own).
    """

    def __init__(self, progress, rtol, start, stop, label, interval_s: float = 0.2, max_every: int = 50):
        self.progress, self.rtol, self.start, self.stop, self.label = progress, rtol, start, stop, label
        self.interval_s, self.max_every = interval_s, max_every
        self.r0 = None
        self.cancelled = False
        self.iterations = 0
        self.checks = 0
        self._next = 0
        self._t = time.perf_counter()
        self._it = 0

    def __call__(self, ksp, it, rnorm):
        self.iterations = it
        if self.r0 is None or it == 0:
            self.r0 = max(rnorm, 1e-300)
        if self.progress is None:
            return
        if it % 5 == 0:  # local (rank 0 prints; the progress object rate-limits itself)
            frac = min(max(np.log(self.r0 / max(rnorm, 1e-300)) / -np.log(self.rtol), 0.0), 1.0)
            self.progress.update(self.start + (self.stop - self.start) * frac,
                                 f"{self.label} iteration {it}, residual {rnorm:.2e}")
        if it < self._next:
            return
        now = time.perf_counter()
        per_it = (now - self._t) / max(it - self._it, 1)
        self._t, self._it = now, it
        comm = ksp.getComm().tompi4py()
        local = np.array([1.0 if self.progress.cancelled else 0.0, per_it])
        agreed = np.empty_like(local)
        comm.Allreduce(local, agreed, op=MPI.MAX)  # flag: logical or; time: the slowest rank
        self.checks += 1
        if agreed[0] > 0:
            self.cancelled = True
            ksp.setTolerances(max_it=it)  # stop at once; reported as Cancelled afterwards
            return
        every = int(min(max(self.interval_s / max(agreed[1], 1e-9), 1), self.max_every))
        self._next = it + every


@contextmanager
def petsc_options(prefix: str, opts: dict):
    """Put ``opts`` under ``prefix`` into the PETSc options database for the duration.

    They must stay there until the solve is over: PCSetUp creates the multigrid levels
    (``mg_levels_*``, ``mg_coarse_*``) and the MUMPS factor (``mat_mumps_*``) and reads
    their options only then, so options removed right after KSPSetFromOptions are silently
    ignored (that is how ``mg_levels_esteig_ksp_type cg`` was lost before).
    """
    o = PETSc.Options()
    for k, v in opts.items():
        o[f"{prefix}{k}"] = v
    try:
        yield
    finally:
        for k in opts:
            o.delValue(f"{prefix}{k}")


def solver_options(method: str, opts: dict) -> dict:
    """Our defaults for ``method`` updated with the study's ``opts``."""
    base = dict(MUMPS_DEFAULTS if method == "direct" else GAMG_DEFAULTS)
    base.update(opts)
    return base


def make_solver(comm, A, prefix: str, monitor=None) -> PETSc.KSP:
    """A KSP configured from the options database under ``prefix`` (see :func:`petsc_options`)."""
    ksp = PETSc.KSP().create(comm)
    ksp.setOptionsPrefix(prefix)
    ksp.setOperators(A)
    ksp.setFromOptions()
    if monitor is not None:
        ksp.setMonitor(monitor)
    return ksp


def solve_elasticity(
    tm: TaggedMesh,
    spec: ElasticitySpec,
    solver: SolverSpec | None = None,
    progress: Progress | None = None,
    cell_modulus_MPa: np.ndarray | None = None,
) -> ElasticitySolution:
    """Solve the study's elasticity problem; displacement in mm.

    Progress: 0-0.2 assembly, 0.2-1 solve (iterative: residual decrease).
    Raises SolverError (no support, non-positive modulus, divergence, singular
    matrix), InputError (unknown tags), Cancelled.
    """
    solver = solver or SolverSpec()
    mesh = tm.mesh
    comm = mesh.comm
    if tm.unit != "mm":
        raise InputError("elasticity meshes must be in mm", path=tm.source or None,
                         hint="Set mesh.unit to 'mm' or let the study loader scale it.")
    t0, c0 = time.perf_counter(), time.process_time()
    report(progress, 0.0, "setting up elasticity")
    V = fem.functionspace(mesh, ("Lagrange", spec.degree, (3,)))
    E, nu = material_fields(tm, spec, cell_modulus_MPa)
    mu, lmbda = lame(*_form_materials(E, nu))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    ds = ufl.Measure("ds", domain=mesh, subdomain_data=tm.facet_tags)
    n = ufl.FacetNormal(mesh)
    a = ufl.inner(sigma(u, mu, lmbda), ufl.sym(ufl.grad(v))) * ufl.dx
    L = 0
    if spec.body_force_N_per_mm3 is not None:
        L += ufl.inner(fem.Constant(mesh, np.array(spec.body_force_N_per_mm3, dtype=float)), v) * ufl.dx
    bcs = []
    fdim = mesh.topology.dim - 1
    for bc in spec.boundary_conditions:
        if tm.facet_tags is None:
            raise InputError("boundary conditions given but the mesh has no facet tags",
                             path=tm.source or None, hint="Tag the boundary faces in the mesh.")
        value = tm.resolve(bc.boundary, fdim, "boundary")
        facets = tm.facet_tags.find(value)
        if bc.type == "fixed":
            dofs = fem.locate_dofs_topological(V, fdim, facets)
            bcs.append(fem.dirichletbc(np.zeros(3, dtype=default_scalar_type), dofs, V))
        elif bc.type == "displacement":
            for i, comp in enumerate(bc.value_mm):
                if comp is None:
                    continue
                dofs = fem.locate_dofs_topological(V.sub(i), fdim, facets)
                bcs.append(fem.dirichletbc(default_scalar_type(comp), dofs, V.sub(i)))
        elif bc.type == "traction":
            t = fem.Constant(mesh, np.array(bc.traction_MPa, dtype=float))
            L += ufl.inner(t, v) * ds(value)
        elif bc.type == "pressure":
            L += -bc.pressure_MPa * ufl.inner(n, v) * ds(value)
        elif bc.type == "force":
            area = facet_area(tm, value)
            if not area > 0:
                raise InputError(f"boundary {bc.boundary!r} has zero area", path=tm.source or None)
            t = fem.Constant(mesh, np.array(bc.force_N, dtype=float) / area)
            L += ufl.inner(t, v) * ds(value)
    n_constrained = comm.allreduce(
        sum(len(b.dof_indices()[0]) for b in bcs), MPI.SUM)
    if n_constrained == 0:
        raise SolverError(
            "the body has no support: no fixed or prescribed-displacement boundary, so rigid-body "
            "motion makes the system singular",
            hint="Fix at least one face (type 'fixed') or prescribe a displacement.")
    if isinstance(L, int):  # no load term (prescribed displacements only): a cheap empty form
        L = ufl.inner(fem.Constant(mesh, np.zeros(3, dtype=default_scalar_type)), v) * ufl.ds
    a_form, L_form = fem.form(a), fem.form(L)
    A = fem_petsc.assemble_matrix(a_form, bcs=bcs)
    A.assemble()
    b = fem_petsc.assemble_vector(L_form)
    fem_petsc.apply_lifting(b, [a_form], bcs=[bcs])
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    fem_petsc.set_bc(b, bcs)
    ndofs = V.dofmap.index_map.size_global * V.dofmap.index_map_bs
    method = solver.method
    if method == "auto":
        method = "direct" if ndofs <= solver.direct_max_dofs else "iterative"
    opts = dict(solver.petsc_options)
    if method == "iterative":
        A.setNearNullSpace(rigid_body_modes(V))
        opts.setdefault("ksp_rtol", solver.rtol)
        opts.setdefault("ksp_max_it", solver.max_iterations)
    t_asm, c_asm = time.perf_counter() - t0, time.process_time() - c0
    report(progress, 0.2, f"assembled {ndofs} DOFs; solving ({method})")
    monitor = _Monitor(progress, solver.rtol, 0.2, 0.95, "CG" if method == "iterative" else "LU")
    uh = fem.Function(V, name="displacement_mm")
    prefix = "surgiplan_elasticity_"
    with petsc_options(prefix, solver_options(method, opts)):
        ksp = make_solver(comm, A, prefix, monitor)
        t1, c1 = time.perf_counter(), time.process_time()
        try:
            ksp.setUp()
            t_setup, c_setup = time.perf_counter() - t1, time.process_time() - c1
            ksp.solve(b, uh.x.petsc_vec)
        except PETSc.Error as exc:
            raise SolverError(_petsc_failure(ksp, exc), hint=_SINGULAR_HINT) from exc
    t_solve, c_solve = time.perf_counter() - t1, time.process_time() - c1
    if monitor.cancelled:
        raise Cancelled("Simulation cancelled during the elasticity solve; nothing was written.")
    reason = ksp.getConvergedReason()
    if reason < 0:
        raise SolverError(f"the linear solver did not converge ({_reason_name(reason)}, "
                          f"{ksp.getIterationNumber()} iterations)",
                          hint=_SINGULAR_HINT + " Or raise solver.max_iterations / use method 'direct'.")
    uh.x.scatter_forward()
    if not np.all(np.isfinite(uh.x.array)) or comm.allreduce(
            float(np.max(np.abs(uh.x.array), initial=0.0)), MPI.MAX) > 1e12:
        raise SolverError("the solution is not finite: the system is singular", hint=_SINGULAR_HINT)
    info = {
        "dofs": int(ndofs), "degree": spec.degree, "method": method,
        "ksp_type": ksp.getType(), "pc_type": ksp.getPC().getType(),
        "iterations": int(ksp.getIterationNumber()), "ranks": comm.size,
        "time_assembly_s": t_asm, "time_setup_s": t_setup, "time_solve_s": t_solve,
        # CPU time (user + sys) of this rank, less sensitive to a loaded machine than wall time
        "cpu_time_assembly_s": c_asm, "cpu_time_setup_s": c_setup, "cpu_time_solve_s": c_solve,
    }
    ksp.destroy()
    A.destroy()
    b.destroy()
    report(progress, 1.0, f"solved {ndofs} DOFs ({method}, {info['iterations']} iterations)")
    return ElasticitySolution(uh, E, nu, tm, info)


_SINGULAR_HINT = ("Check that the body is supported against all six rigid-body motions "
                  "(a fixed face, or enough prescribed components) and that every region is "
                  "connected to a support.")


def _reason_name(reason: int) -> str:
    for k, v in PETSc.KSP.ConvergedReason.__dict__.items():
        if v == reason and k.isupper():
            return k
    return str(reason)


def _petsc_failure(ksp, exc) -> str:
    try:
        F = ksp.getPC().getFactorMatrix()
        info = F.getMumpsInfog(1)
        if info == -10:
            return "the stiffness matrix is singular (MUMPS INFOG(1) = -10): the body is not fully supported"
        return f"the direct solver failed (MUMPS INFOG(1) = {info})"
    except Exception:
        return f"the linear solver failed: {exc}"
