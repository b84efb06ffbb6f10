"""Incompressible blood flow: Navier-Stokes with Taylor-Hood P2-P1 (SI units: m, s, Pa).

* Steady: Newton (PETSc SNES) with continuation in Reynolds number (the inlet
  flow rate and outlet pressures are ramped in ``reynolds_steps`` steps). Where
  the continuation stalls (a jet without a stable steady state), a march in
  physical time takes over and reports the steady or the time-averaged flow
  (:mod:`surgiplan.core.simulation.flow_march`, ``flow.march``).
* Pulsatile: Crank-Nicolson in time with the convecting velocity extrapolated
  (Adams-Bashforth, u* = 3/2 u^n - 1/2 u^(n-1), skew-symmetric convection): one
  linear Oseen solve per step, second order, no numerical damping of the
  oscillation (the Womersley check measures amplitude and phase).
* Newtonian blood by default (1060 kg/m^3, 3.5 mPa s); Carreau-Yasuda as an
  option (then the symmetric-gradient viscous term is used).
* Inlet: a flow rate (mL/s) with a developed (parabolic, Poiseuille) profile
  mapped onto the inlet face (centroid, mean normal, radius sqrt(A/pi), scaled
  so the discrete flux is exactly Q), or a prescribed pressure. Outlets: zero
  (or given) traction, resistance p = R Q, or a three-element Windkessel
  (p = Rp Q + Pc, C dPc/dt = Q - Pc/Rd). Walls: rigid, no slip.

The Newtonian viscous term is the gradient form mu grad u : grad v, whose
natural outlet condition mu du/dn - p n = -p_out n holds exactly for developed
flow (the symmetric form would put a spurious tangential traction there).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import basix.ufl
import numpy as np
import ufl
from dolfinx import default_scalar_type, fem, la
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

from surgiplan.core.errors import Cancelled, InputError, SolverError
from surgiplan.core.jobs import Progress, report
from surgiplan.core.simulation.study_schema import FlowSpec, SolverSpec
from surgiplan.core.simulation.volume_mesh_io import TaggedMesh

MMHG_PA = 133.322387415
MUMPS = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps",
         "mat_mumps_icntl_14": 100}
# steady flow: MUMPS as a preconditioner of GMRES, with BLR compression (ICNTL(35) = 2, factors
# stored compressed, CNTL(7) = 1e-4 dropping), compressed contribution blocks (ICNTL(37) = 1) and
# 30 % workspace relaxation; measured at 299 k DOFs on 2 ranks (docs/simulation.md): peak RSS
# 4.2 -> 3.1 GB per rank
STEADY_DIRECT = {"ksp_type": "gmres", "ksp_gmres_restart": 60, "ksp_max_it": 60, "ksp_rtol": 1e-8,
                 "ksp_atol": 1e-14, "mat_mumps_icntl_14": 30, "mat_mumps_icntl_35": 2,
                 "mat_mumps_cntl_7": 1e-4, "mat_mumps_icntl_37": 1}
# With the factorisation kept over Newton steps (Newtonian Navier-Stokes) GMRES already iterates
# (17-19 per step), so a looser BLR dropping costs only a few more iterations while the two
# factorisations get ~20 % cheaper (299 k DOFs, 2 ranks: numeric factorisations 123 -> 101 s, GMRES
# 45 -> 69 iterations, CPU 108 -> 100 s per rank; pressure drop the same to 5e-12). Where every
# Newton step refactorises (Stokes, Carreau-Yasuda) 1e-4 stays: a looser factor there made the linear
# Stokes solve take a second Newton step and factorisation.
KEPT_FACTOR_BLR_DROP = 1e-3
# first continuation increment (inlet Reynolds number per step; later steps adapt) and the stall test
RE_PER_STEP = 250.0
STALL_WINDOW = 4
# smoothing velocity of the steady backflow term, as a fraction of the mean inlet velocity
BACKFLOW_SMOOTHING = 0.01
# pseudo-transient continuation (the fallback of a continuation step whose Newton solve fails): backward-Euler
# pseudo time steps rho (u - u_prev) / dt, one Newton iteration each, dt grown by switched evolution
# relaxation (SER: dt_k = dt_(k-1) |F_(k-1)| / |F_k|; at least doubled while the residual falls, the factor
# clipped to PTC_GROWTH). The first step is
# PTC_DT0 convective times D / U of the inlet (D diameter, U mean velocity); once dt exceeds PTC_DT_NEWTON
# convective times the term is dropped and plain Newton finishes. It converges to a stable steady state
# (Kelley and Keyes 1998) and does not converge where the flow has none (the residual then stops falling).
PTC_DT0 = 0.05
PTC_GROWTH = (0.25, 4.0)
PTC_DT_NEWTON = 1e3
PTC_MAX_STEPS = 80
PTC_REJECT = 2.0  # a pseudo time step that multiplies the steady residual by more than this is undone
# a pseudo-transient march whose steady residual has not halved over the last PTC_PLATEAU accepted steps (or
# PTC_PLATEAU x 2 tries, undone ones included) has reached a plateau: it stops, and the continuation halves
# the flow increment at once. On the native vascular sample at 50 % of 20 mL/s (reached in one jump from 25 %)
# the residual sat at 5e-6 to 8e-6 for 15 accepted steps (target 5.9e-7), every other step undone; with
# increments of 1/16 of the flow, plain Newton converged at 50 % in 5 iterations (VN, round 5).
PTC_PLATEAU = 8
# a plateau whose steady residual ended this many times above its lowest value drifted away (see _drifted_away):
# on the native vascular sample at 67 % of 20 mL/s it grew 13-17 % per pseudo step, 1.9e-6 -> 3.9e-6 (VN, round 5)
PTC_DRIFT = 1.2


@dataclass
class FaceGeometry:
    """Area (m^2), centroid (m) and unit outward normal of a tagged face."""

    area: float
    centroid: np.ndarray
    normal: np.ndarray

    @property
    def radius(self) -> float:
        return math.sqrt(self.area / math.pi)


@dataclass
class FlowSolution:
    u: fem.Function
    p: fem.Function
    tagged: TaggedMesh
    spec: FlowSpec
    info: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)


def face_geometry(tm: TaggedMesh, value: int) -> FaceGeometry:
    mesh = tm.mesh
    comm = mesh.comm
    ds = ufl.Measure("ds", domain=mesh, subdomain_data=tm.facet_tags)
    x = ufl.SpatialCoordinate(mesh)
    n = ufl.FacetNormal(mesh)

    def integral(expr):
        return comm.allreduce(fem.assemble_scalar(fem.form(expr * ds(value))), MPI.SUM)

    area = integral(fem.Constant(mesh, default_scalar_type(1.0)))
    if not area > 0:
        raise InputError(f"face tag {value} has no area", path=tm.source or None)
    c = np.array([integral(x[i]) for i in range(3)]) / area
    nv = np.array([integral(n[i]) for i in range(3)])
    return FaceGeometry(area, c, nv / np.linalg.norm(nv))


def viscosity(spec: FlowSpec, u):
    """Dynamic viscosity (Pa s): constant, or Carreau-Yasuda of the shear rate."""
    fl = spec.fluid
    if fl.model == "newtonian":
        return fl.viscosity_Pa_s
    eps = ufl.sym(ufl.grad(u))
    gamma = ufl.sqrt(2.0 * ufl.inner(eps, eps) + 1e-12)
    return fl.mu_inf_Pa_s + (fl.mu0_Pa_s - fl.mu_inf_Pa_s) * (
        1.0 + (fl.lambda_s * gamma) ** fl.a) ** ((fl.n - 1.0) / fl.a)


def _viscous(spec: FlowSpec, u, v, mu):
    if spec.fluid.model == "newtonian":
        return mu * ufl.inner(ufl.grad(u), ufl.grad(v))
    return 2.0 * mu * ufl.inner(ufl.sym(ufl.grad(u)), ufl.sym(ufl.grad(v)))


def _dx_viscous(spec: FlowSpec):
    """Cell measure of the viscous term: with Carreau-Yasuda the integrand is not a polynomial
    (UFL would pick an enormous quadrature degree), so degree 4 (exact for the Newtonian P2 term)."""
    if spec.fluid.model == "newtonian":
        return ufl.dx
    return ufl.dx(metadata={"quadrature_degree": 4})


def navier_stokes_residual(u, p, v, q, rho, mu, convection: bool = True, spec: FlowSpec | None = None,
                           stabilised: bool = False, mesh=None, f=None):
    """Steady residual rho (grad u) u . v + viscous - p div v - q div u (cell terms only).

    Newtonian gradient form mu grad u : grad v unless ``spec`` asks for Carreau-Yasuda (then
    2 mu eps(u) : eps(v) with the shear-rate dependent ``mu``). With ``stabilised`` (Newtonian, with
    convection) the consistent SUPG + grad-div terms of :func:`stabilisation_terms` are added (``mesh``
    needed; ``f`` the body force, which enters their strong residual; the caller still adds - f . v).
    Shared by the steady solver and the convection verification (:mod:`surgiplan.core.simulation.verify_ns`).
    """
    conv = rho * ufl.dot(ufl.dot(ufl.grad(u), u), v) * ufl.dx if convection else 0
    if spec is None:
        visc = mu * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx
    else:
        visc = _viscous(spec, u, v, mu) * _dx_viscous(spec)
    F = conv + visc - p * ufl.div(v) * ufl.dx - q * ufl.div(u) * ufl.dx
    if stabilised and convection:
        F += stabilisation_terms(mesh, u, p, v, rho, mu, f)
    return F


def use_stabilisation(spec: FlowSpec) -> bool:
    """Whether the steady solve adds SUPG + grad-div: ``spec.stabilization`` 'supg', or 'auto' with
    convection and Newtonian blood (the strong residual uses the constant viscosity)."""
    mode = getattr(spec, "stabilization", "auto")
    if mode == "none" or not spec.convection:
        return False
    if spec.fluid.model != "newtonian":
        if mode == "supg":
            raise InputError("SUPG stabilisation is implemented for Newtonian blood only",
                             hint="Use stabilization 'auto' or 'none' with Carreau-Yasuda.")
        return False
    return True


# residual-based stabilisation (SUPG on the momentum residual + LSIC grad-div), steady Newtonian flow:
# tau_M = ((2 |u| / h)^2 + (C_I nu / h^2)^2)^(-1/2) (h = cell diameter / 2, the P2 element length; nu = mu / rho),
# tau_C = h^2 / (C_I tau_M); see stabilisation_terms. Both vanish for the exact solution. With h the full
# cell diameter the Kovasznay Re 40 pressure error tripled (2.0e-3 -> 6.5e-3 at n = 16); with h / 2 it is
# 2.4e-3 (velocity 6.1e-4 -> 6.2e-4).
STAB_CI = 12.0
STAB_QUADRATURE = 4
STAB_H_SCALE = 0.5  # element length h_K / k for the P2 velocity (k = 2)


def cell_diameter(mesh) -> fem.Function:
    """Largest vertex distance of every cell (mesh units) as a DG0 function: ufl.CellDiameter is not
    available on curved (P2 geometry) cells, such as the verification's swirling pipe."""
    tdim = mesh.topology.dim
    imap = mesh.topology.index_map(tdim)
    h = fem.Function(fem.functionspace(mesh, ("DG", 0)))
    h.x.array[:] = mesh.h(tdim, np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32))
    return h


def stabilisation_terms(mesh, u, p, v, rho, mu, f=None):
    """Consistent residual-based stabilisation of the steady momentum equation (Newtonian).

    SUPG: sum_K tau_M rho (grad v) u . r(u, p), with the strong momentum residual
    r = rho (grad u) u + grad p - mu div grad u - f (Pa/m); LSIC (grad-div):
    sum_K tau_C rho div u div v. ``tau_M = ((2 |u| / h)^2 + (C_I nu / h^2)^2)^(-1/2)`` (s), nu = mu / rho,
    h half the cell diameter (m, the element length of P2), ``tau_C = h^2 / (C_I tau_M)`` (m^2/s):
    tau_M ~ h / (2 |u|) where the cell Reynolds number is high and ~ h^2 / (C_I nu) (negligible) where
    the flow is viscous. Both terms vanish for the exact solution (r = 0, div u = 0), so the method stays
    consistent and the Taylor-Hood orders hold (``surgiplan verify`` runs the convection cases with it).
    P2-P1 is inf-sup stable, so no PSPG term. The quadrature degree is fixed (``STAB_QUADRATURE``): tau
    is not a polynomial.
    """
    h = STAB_H_SCALE * cell_diameter(mesh)
    nu = mu / rho
    speed2 = ufl.dot(u, u) + (1e-6 * nu / h) ** 2  # smooth |u|^2, no kink at u = 0
    tau_m = 1.0 / ufl.sqrt(4.0 * speed2 / h**2 + (STAB_CI * nu / h**2) ** 2)
    tau_c = h**2 / (STAB_CI * tau_m)
    r = rho * ufl.dot(ufl.grad(u), u) + ufl.grad(p) - mu * ufl.div(ufl.grad(u))
    if f is not None:
        r = r - f
    dxs = ufl.dx(metadata={"quadrature_degree": STAB_QUADRATURE})
    return (tau_m * ufl.dot(ufl.dot(ufl.grad(v), u), r) * dxs
            + tau_c * rho * ufl.div(u) * ufl.div(v) * dxs)


class _Setup:
    """Spaces, boundary data and measures shared by the steady and pulsatile solvers."""

    def __init__(self, tm: TaggedMesh, spec: FlowSpec):
        if tm.unit != "m":
            raise InputError("flow meshes must be in metres inside the solver",
                             path=tm.source or None, hint="Set mesh.unit; mm meshes are scaled on load.")
        self.tm, self.spec = tm, spec
        mesh = tm.mesh
        fdim = mesh.topology.dim - 1
        if tm.facet_tags is None:
            raise InputError("the flow mesh has no facet tags", path=tm.source or None,
                             hint="Tag inlet, outlet(s) and wall.")
        if spec.fluid.density_kg_m3 <= 0 or spec.fluid.viscosity_Pa_s <= 0:
            raise SolverError("the fluid density and viscosity must be positive",
                              hint="Blood: 1060 kg/m^3, 0.0035 Pa s.")
        P2 = basix.ufl.element("Lagrange", mesh.basix_cell(), 2, shape=(3,))
        P1 = basix.ufl.element("Lagrange", mesh.basix_cell(), 1)
        self.W = fem.functionspace(mesh, basix.ufl.mixed_element([P2, P1]))
        self.V, _ = self.W.sub(0).collapse()
        self.Q, _ = self.W.sub(1).collapse()
        self.ds = ufl.Measure("ds", domain=mesh, subdomain_data=tm.facet_tags)
        self.n = ufl.FacetNormal(mesh)
        self.inlet_tag = tm.resolve(spec.inlet.boundary, fdim, "inlet")
        self.inlet = face_geometry(tm, self.inlet_tag)
        self.outlet_tags = [tm.resolve(o.boundary, fdim, "outlet") for o in spec.outlets]
        self.wall_tags = [tm.resolve(w, fdim, "wall") for w in spec.walls]
        if not self.outlet_tags:
            raise InputError("the flow study has no outlet", hint="Add at least one outlet.")
        self.u_in = fem.Function(self.V, name="inlet_velocity")
        self.bcs = []
        if spec.inlet.type == "flow_rate":
            facets = tm.facet_tags.find(self.inlet_tag)
            dofs = fem.locate_dofs_topological((self.W.sub(0), self.V), fdim, facets)
            self.bcs.append(fem.dirichletbc(self.u_in, dofs, self.W.sub(0)))
        self.u_wall = fem.Function(self.V)
        for tag in self.wall_tags:
            facets = tm.facet_tags.find(tag)
            dofs = fem.locate_dofs_topological((self.W.sub(0), self.V), fdim, facets)
            self.bcs.append(fem.dirichletbc(self.u_wall, dofs, self.W.sub(0)))
        self.p_out = [fem.Constant(mesh, default_scalar_type(o.pressure_Pa)) for o in spec.outlets]
        self.p_in = fem.Constant(mesh, default_scalar_type(spec.inlet.pressure_Pa or 0.0))
        self._unit_profile = self._profile()

    def _profile(self) -> np.ndarray:
        """Inlet velocity dofs for a flow rate of 1 m^3/s (developed profile, inward)."""
        g = self.inlet
        inward = -g.normal
        R = g.radius
        kind = self.spec.inlet.profile

        def f(x):
            r2 = np.sum((x.T - g.centroid) ** 2, axis=1) - ((x.T - g.centroid) @ g.normal) ** 2
            shape = np.clip(1.0 - r2 / R**2, 0.0, None) if kind == "parabolic" else np.ones(x.shape[1])
            return np.outer(inward, shape)

        self.u_in.interpolate(f)
        fdim = self.tm.mesh.topology.dim - 1
        for tag in self.wall_tags:  # the wall condition wins on the inlet rim
            rim = fem.locate_dofs_topological(self.V, fdim, self.tm.facet_tags.find(tag))
            self.u_in.x.array.reshape(-1, 3)[rim] = 0.0
        flux = -self.flux(self.u_in, self.inlet_tag)
        if not flux > 0:
            raise InputError("could not map the inlet profile onto the inlet face",
                             path=self.tm.source or None, hint="Check the inlet tag.")
        return self.u_in.x.array / flux

    def set_inflow(self, q_m3s: float) -> None:
        self.u_in.x.array[:] = self._unit_profile * q_m3s

    def flux(self, u, tag: int) -> float:
        """Outward flux of ``u`` through face ``tag`` (m^3/s)."""
        return self.tm.mesh.comm.allreduce(
            fem.assemble_scalar(fem.form(ufl.dot(u, self.n) * self.ds(tag))), MPI.SUM)

    def mean(self, f, tag: int, area: float) -> float:
        return self.tm.mesh.comm.allreduce(
            fem.assemble_scalar(fem.form(f * self.ds(tag))), MPI.SUM) / area

    def boundary_terms(self, v, p_scale=1.0):
        """Natural-BC terms: + p_out (v . n) on outlets, + p_in (v . n) on a pressure inlet."""
        terms = 0
        for tag, pc in zip(self.outlet_tags, self.p_out, strict=True):
            terms += pc * ufl.dot(v, self.n) * self.ds(tag)
        if self.spec.inlet.type == "pressure":
            terms += self.p_in * ufl.dot(v, self.n) * self.ds(self.inlet_tag)
        return terms

    def natural_tags(self) -> list[int]:
        tags = list(self.outlet_tags)
        if self.spec.inlet.type == "pressure":
            tags.append(self.inlet_tag)
        return tags

    def backflow(self, a, u, v, rho, smooth=None):
        """Tangential backflow stabilisation on open boundaries (beta = 1).

        -rho/2 min(a.n, 0) u_t . v_t: removes the energy that inflow through an
        open boundary would feed into transverse velocity, without touching a
        developed profile (whose tangential velocity is zero there).
        ``smooth`` (a velocity scale, m/s; steady Newton) replaces min(a.n, 0) by the smooth
        (a.n - sqrt((a.n)^2 + smooth^2)) / 2: the kink of min at a.n = 0 (every outlet has
        a.n -> 0 at its rim) makes the residual non-differentiable and Newton converge only
        linearly, then stall, near 1e-5.
        """
        n = self.n
        mode = self.spec.backflow_stabilization
        if mode == "none" or not self.spec.convection:
            return 0
        an = ufl.dot(a, n)
        neg = 0.5 * (an - abs(an)) if smooth is None else 0.5 * (an - ufl.sqrt(an * an + smooth * smooth))
        ut = u - ufl.dot(u, n) * n if mode == "tangential" else u
        vt = v - ufl.dot(v, n) * n if mode == "tangential" else v
        terms = 0
        for tag in self.natural_tags():
            terms += -0.5 * rho * neg * ufl.dot(ut, vt) * self.ds(tag)
        return terms

    def ndofs(self) -> int:
        return sum(self.W.sub(i).collapse()[0].dofmap.index_map.size_global
                   * self.W.sub(i).collapse()[0].dofmap.index_map_bs for i in range(2))

    def reynolds(self, q_m3s: float) -> float:
        U = abs(q_m3s) / self.inlet.area
        return self.spec.fluid.density_kg_m3 * U * 2 * self.inlet.radius / self.spec.fluid.viscosity_Pa_s


def _solver_options(setup: _Setup, solver: SolverSpec) -> tuple[str, dict]:
    method = solver.method
    if method == "auto":
        method = "direct" if setup.ndofs() <= max(solver.direct_max_dofs, 400_000) else "iterative"
    opts = dict(MUMPS) if method == "direct" else {
        "ksp_type": "gmres", "ksp_gmres_restart": 200, "ksp_rtol": 1e-8,
        "ksp_max_it": solver.max_iterations,
        "pc_type": "fieldsplit", "pc_fieldsplit_type": "additive",
        "fieldsplit_u_ksp_type": "preonly", "fieldsplit_u_pc_type": "gamg",
        "fieldsplit_u_pc_gamg_agg_nsmooths": 0,
        "fieldsplit_p_ksp_type": "preonly", "fieldsplit_p_pc_type": "jacobi",
    }
    opts.update(solver.petsc_options)
    return method, opts


def _fieldsplit(setup: _Setup, ksp) -> None:
    W = setup.W
    ises = []
    for i, name in enumerate(("u", "p")):
        _, dofs = W.sub(i).collapse()
        imap = W.dofmap.index_map
        owned = np.asarray(dofs)
        owned = owned[owned < imap.size_local * W.dofmap.index_map_bs]
        glob = imap.local_to_global(owned // W.dofmap.index_map_bs) * W.dofmap.index_map_bs \
            + owned % W.dofmap.index_map_bs
        ises.append((name, PETSc.IS().createGeneral(glob.astype(np.int32), comm=W.mesh.comm)))
    ksp.getPC().setFieldSplitIS(*ises)


def _precond_form(setup: _Setup, u, v, p, q, mu_c, rho, extra=0):
    """Block-diagonal preconditioner: velocity block + pressure mass / mu."""
    return extra + mu_c * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx + (1.0 / mu_c) * p * q * ufl.dx


def solve_steady(tm: TaggedMesh, spec: FlowSpec, solver: SolverSpec | None = None,
                 progress: Progress | None = None) -> FlowSolution:
    """Steady Navier-Stokes by Newton with Reynolds continuation."""
    solver = solver or SolverSpec()
    t0 = time.perf_counter()
    report(progress, 0.0, "setting up Navier-Stokes (P2-P1)")
    from surgiplan.core.simulation.mesh_quality import check_mesh_quality

    quality = check_mesh_quality(tm.mesh, tm.source or None, 1e3 if tm.unit == "m" else 1.0)
    s = _Setup(tm, spec)
    mesh = tm.mesh
    rho = fem.Constant(mesh, default_scalar_type(spec.fluid.density_kg_m3))
    w = fem.Function(s.W)
    u, p = ufl.split(w)
    v, q = ufl.TestFunctions(s.W)
    mu = viscosity(spec, u)
    stabilised = use_stabilisation(spec)
    u_smooth = fem.Constant(mesh, default_scalar_type(0.0))  # backflow smoothing velocity, set per step
    F = (navier_stokes_residual(u, p, v, q, rho, mu, spec.convection, spec, stabilised=stabilised, mesh=mesh)
         + s.boundary_terms(v) + s.backflow(u, u, v, rho, smooth=u_smooth))
    # pseudo-transient term rho / dt (u - u_prev) . v (1/s, zero outside pseudo-transient continuation):
    # part of F, so the Newton Jacobian (ufl.derivative of F) includes its mass matrix exactly
    inv_dt = fem.Constant(mesh, default_scalar_type(0.0))
    u_prev = fem.Function(s.V)
    _, v_dofs = s.W.sub(0).collapse()
    if spec.convection:
        F += inv_dt * rho * ufl.dot(u - u_prev, v) * ufl.dx
    method, opts = _solver_options(s, solver)
    P = None
    if method == "iterative":
        du, dp = ufl.TrialFunctions(s.W)
        mu_c = fem.Constant(mesh, default_scalar_type(spec.fluid.viscosity_Pa_s))
        P = _precond_form(s, du, v, dp, q, mu_c, rho,
                          rho * ufl.dot(ufl.dot(ufl.grad(du), u), v) * ufl.dx if spec.convection else 0)
    # Direct solver: MUMPS LU with block low-rank (BLR) compression as the preconditioner of GMRES
    # on the exact Jacobian (GMRES absorbs the BLR error in a few iterations). With convection the
    # factorisation dominates (~30x one triangular solve at 300 k DOFs), so the Jacobian is
    # factorised twice (at zero: the Stokes step; at the Stokes solution) and the second
    # factorisation is kept for the remaining Newton steps; GMRES stalling on it (60 iterations)
    # starts Newton again from the current state with fresh factorisations.
    wrapped = method == "direct" and solver.petsc_options.get("ksp_type", "gmres") != "preonly"
    reuse = wrapped and spec.convection and spec.fluid.model == "newtonian"
    if wrapped:
        opts.update(STEADY_DIRECT)
        if reuse:
            opts["mat_mumps_cntl_7"] = KEPT_FACTOR_BLR_DROP
        opts.update(solver.petsc_options)
    opts.update({"snes_type": "newtonls",
                 "snes_linesearch_type": solver.petsc_options.get("snes_linesearch_type", "basic"),
                 "snes_rtol": solver.newton_rtol, "snes_atol": 1e-12,
                 "snes_max_it": solver.newton_max_iterations})
    problem = fem_petsc.NonlinearProblem(F, w, bcs=s.bcs, P=P, petsc_options_prefix="surgiplan_ns_",
                                         petsc_options=opts)
    snes = problem.solver
    if method == "iterative":
        _fieldsplit(s, snes.getKSP())
    coupling = ResistanceCoupling(s, spec, problem) if any(o.type != "traction" for o in spec.outlets) else None
    q_target = (spec.inlet.flow_rate_mL_s or 0.0) * 1e-6
    re_target = s.reynolds(q_target) if spec.inlet.type == "flow_rate" else 0.0
    fixed = spec.reynolds_steps > 0
    steps = spec.reynolds_steps or max(1, math.ceil(re_target / RE_PER_STEP))
    state = {"cancel": False, "newton": 0, "linear": 0, "refactor": 0, "stamps": [], "steps": [],
             "done": 0.0, "df": 1.0 / steps}

    norms: list[float] = []

    def monitor(snes_, it, fnorm):
        state["newton"] += 1 if it > 0 else 0
        if it == 0:
            norms.clear()
        norms.append(float(fnorm))
        # a stalled Newton solve (the residual not halved over the last STALL_WINDOW steps, far from the
        # tolerance) is stopped at once: the continuation retries it from a smaller flow increment
        # instead of spending the remaining iterations (each a factorisation) on it
        if it >= STALL_WINDOW + 1 and fnorm > 0.5 * norms[it - STALL_WINDOW]:
            state["stalled"] = state.get("stalled", 0) + 1
            state["stop"] = True
        state["stamps"].append(time.perf_counter())
        if reuse and it == 1:  # factorise once more now (at the Stokes solution), then keep it
            _set_lag_preconditioner(snes_, -2)
        if progress is not None and progress.cancelled:
            state["cancel"] = True
            state["stop"] = True
        f_now = min(1.0, state["done"] + state["df"])
        report(progress, 0.05 + 0.9 * (state["done"] + (f_now - state["done"]) * min(it, 5) / 6),
               f"Newton at {100 * f_now:.0f} % of the flow (Re {s.reynolds(q_target * f_now):.0f}), "
               f"iteration {it}, residual {fnorm:.2e}")

    snes.setMonitor(monitor)
    R = PETSc.SNES.ConvergedReason
    start = {}

    def converged(snes_, it, norms):
        """PETSc's default test (absolute, relative, step, iterations, NaN) plus the monitor's stop flag
        (cancel, stall): NEWTONLS copies max_it when it starts, so lowering it from the monitor does not
        end the solve."""
        _xnorm, ynorm, fnorm = norms
        if it == 0:
            start["f0"] = fnorm
            state["stop"] = False
            if "unit_f0" not in state and state["done"] == 0.0 and state.get("f_now"):
                # the first solve starts from rest: its residual is that of the inflow jump to f_now, the
                # scale of the whole problem (per unit flow fraction)
                state["unit_f0"] = fnorm / state["f_now"]
        if not math.isfinite(fnorm):
            return R.DIVERGED_FUNCTION_NANORINF
        if fnorm < 1e-12:
            return R.CONVERGED_FNORM_ABS
        if it > 0 and state.get("stop"):
            return R.DIVERGED_DTOL
        if state.get("ptc") and it >= 1:  # one Newton iteration per pseudo time step
            return R.CONVERGED_ITS
        if it > 0 and fnorm <= solver.newton_rtol * ref_norm(start["f0"]):
            return R.CONVERGED_FNORM_RELATIVE
        if it > 0 and ynorm < 1e-8 * max(_xnorm, 1e-300):
            return R.CONVERGED_SNORM_RELATIVE
        if it >= solver.newton_max_iterations:
            return R.DIVERGED_MAX_IT
        return R.CONVERGED_ITERATING

    def ref_norm(f0: float) -> float:
        """The residual the Newton tolerance is relative to: that of the inflow jump from rest to the current
        flow (measured on the first solve, linear in the flow). Relative to the start of each solve (the jump
        of one continuation increment) the tolerance fell with the increment: on the stenosed pipe halved
        increments asked for 7e-7 where the residual stagnated at 1e-6, so halving could never succeed."""
        if state.get("ptc_f0") is not None:
            f0 = state["ptc_f0"]
        return max(f0, state.get("unit_f0", 0.0) * state.get("f_now", 0.0))

    snes.setConvergenceTest(converged)
    t1 = time.perf_counter()
    history = []
    failures = []
    saved = w.x.array.copy()
    saved_p = [float(c.value) for c in s.p_out]
    ptc_log: list[dict] = []

    def steady_residual() -> float:
        """Norm of the steady residual at the current state (the pseudo-time term vanishes with u_prev = u)."""
        u_prev.x.array[:] = w.x.array[v_dofs]
        x = w.x.petsc_vec
        b = problem.b
        snes.computeFunction(x, b)
        return float(b.norm())

    def pseudo_transient(f, newton) -> tuple[bool, int]:
        """Pseudo-transient continuation at flow fraction ``f`` from the current state: (converged, Newton
        iterations). Leaves the state where it stopped; the caller restores it on failure.

        Each pseudo time step is one Newton iteration on the backward-Euler residual; a step that fails or
        more than doubles the steady residual is undone and retried with a quarter of the time step."""
        U = abs(q_target * f) / s.inlet.area
        t_conv = 2.0 * s.inlet.radius / max(U, 1e-12)  # convective time D / U (s)
        dt = PTC_DT0 * t_conv
        entry = {"factor": f, "reynolds": s.reynolds(q_target * f), "steps": 0, "rejected": 0,
                 "residuals": [], "dt_s": []}
        ptc_log.append(entry)
        r_prev = steady_residual()
        state["ptc_f0"] = r_prev  # the residual at the start of this flow step, as Newton's f0
        progress_ref = [r_prev, 0, 0]  # the residual last halved, at (accepted steps, tries)
        tol = solver.newton_rtol * ref_norm(r_prev)
        back = w.x.array.copy()
        back_p = [float(c.value) for c in s.p_out]
        total = 0
        # full steps: the pseudo time step is the globalisation
        ls = snes.getLineSearch()
        ls_type = ls.getType()
        try:
            state["ptc"] = True
            ls.setType("basic")
            for _k in range(PTC_MAX_STEPS):
                if dt < 1e-3 * PTC_DT0 * t_conv:
                    return False, total
                u_prev.x.array[:] = w.x.array[v_dofs]
                inv_dt.value = 1.0 / dt
                ok = newton(f)
                total += snes.getIterationNumber()
                inv_dt.value = 0.0
                r = steady_residual() if ok else float("nan")
                if not (math.isfinite(r) and r <= PTC_REJECT * r_prev):
                    # the step blew up or made the flow much worse: undo it, shorter pseudo time step
                    w.x.array[:] = back
                    for c, v in zip(s.p_out, back_p, strict=True):
                        c.value = v
                    dt *= PTC_GROWTH[0]
                    entry["rejected"] += 1
                    continue
                entry["steps"] += 1
                entry["residuals"].append(r)
                entry["dt_s"].append(dt)
                if r <= tol:
                    return True, total
                tries = entry["steps"] + entry["rejected"]
                if r <= 0.5 * progress_ref[0]:
                    progress_ref[:] = [r, entry["steps"], tries]
                elif entry["steps"] - progress_ref[1] >= PTC_PLATEAU or tries - progress_ref[2] >= 2 * PTC_PLATEAU:
                    # the residual stopped falling (the flow oscillates in pseudo time): no steady state this
                    # way; a smaller flow increment is cheaper than more pseudo time steps
                    entry["plateau"] = {"residual": r, "target": tol}
                    return False, total
                back = w.x.array.copy()
                back_p = [float(c.value) for c in s.p_out]
                # SER, at least doubled while the residual falls (plain SER grew dt by only 1.2x per step on
                # the stenosed pipe, where the residual first falls slowly); shrunk where it rises
                ratio = r_prev / r
                dt *= min(2.0 * ratio, PTC_GROWTH[1]) if ratio >= 1.0 else max(ratio, PTC_GROWTH[0])
                r_prev = r
                if dt > PTC_DT_NEWTON * t_conv:
                    break
            else:
                return False, total
        finally:
            state["ptc"] = False
            inv_dt.value = 0.0
            ls.setType(ls_type)
        # the pseudo time step is long: plain Newton from here, to the tolerance of the whole flow step
        ok = newton(f)
        total += snes.getIterationNumber()
        entry["newton_finish"] = {"converged": bool(ok), "iterations": snes.getIterationNumber()}
        return ok, total

    def set_flow(f) -> None:
        """Inflow (and pressure inlet, backflow smoothing) at flow fraction ``f`` of the target."""
        s.set_inflow(q_target * f)
        state["f_now"] = f
        u_smooth.value = max(BACKFLOW_SMOOTHING * abs(q_target * f) / s.inlet.area, 1e-6)
        s.p_in.value = (spec.inlet.pressure_Pa or 0.0) * f

    # the physical-time march (flow_march.py): where the continuation stalls ('auto'), or instead of it
    can_march = spec.convection and spec.march != "off" and spec.inlet.type == "flow_rate" and q_target > 0

    def run_march(f_start: float, finish_with_newton: bool) -> dict:
        from types import SimpleNamespace

        from surgiplan.core.simulation import flow_march

        def newton_finish() -> bool:
            set_flow(1.0)
            state["ptc_f0"] = None
            return newton(1.0)

        ctx = SimpleNamespace(s=s, spec=spec, problem=problem, w=w, u_prev=u_prev, inv_dt=inv_dt, v_dofs=v_dofs,
                              coupling=coupling, set_flow=set_flow, steady_residual=steady_residual,
                              newton_finish=newton_finish, q_target=q_target, finish_with_newton=finish_with_newton,
                              tol=solver.newton_rtol * state.get("unit_f0", 0.0))
        rec = flow_march.march(ctx, f_start, progress)
        if coupling is not None:
            coupling.update(w)
        history.append({"factor": 1.0, "reynolds": re_target, "newton_iterations": int(
            rec.get("newton_finish", {}).get("iterations", 0)), "time_march": rec["result"],
            "newton_step_times_s": []})
        state["done"] = 1.0
        return rec

    try:
        if can_march and spec.march == "always":
            # time-resolved at constant inflow from rest: the march's own verdict, no steady Newton at the end
            state["march"] = run_march(0.0, finish_with_newton=False)
        # adaptive continuation in the flow rate (Reynolds number): a step whose Newton solve diverges
        # is undone and retried at half the increment; easy steps let the increment grow again
        while state["done"] < 1.0 - 1e-12:
            f = min(1.0, state["done"] + state["df"])
            s.set_inflow(q_target * f)
            state["f_now"] = f
            u_smooth.value = max(BACKFLOW_SMOOTHING * abs(q_target * f) / s.inlet.area, 1e-6)
            s.p_in.value = (spec.inlet.pressure_Pa or 0.0) * f
            _guess_outlets(s, spec, q_target * f, f)
            reason = 0

            def newton(f=f) -> bool:
                nonlocal reason
                for _attempt in range(2 if reuse else 1):
                    _set_lag_preconditioner(snes, 1)  # fresh factorisations at the start of each solve
                    try:
                        problem.solve()
                    except PETSc.Error as exc:
                        cause = _petsc_failure(snes, exc)
                        if not cause.startswith("MUMPS"):
                            # a Newton step that blew up (Inf/NaN residual, seen at inlet Re 483 on a stenosed
                            # pipe): a failed continuation step, retried from a smaller flow increment
                            state["last_error"] = cause
                            reason = int(PETSc.SNES.ConvergedReason.DIVERGED_FUNCTION_NANORINF)
                            return False
                        raise SolverError(
                            f"the flow solver failed ({cause}) at Re = "
                            f"{s.reynolds(q_target * f):.0f}; the mesh passed the quality check (min quality "
                            f"{quality.min_quality:.2f})",
                            hint="A singular system usually means a missing boundary tag (an open end that is "
                                 "neither inlet nor outlet) or a disconnected piece of mesh.") from exc
                    if state["cancel"]:
                        raise Cancelled("Simulation cancelled during the Newton solve; nothing was written.")
                    state["linear"] += snes.getLinearSolveIterations()
                    state["steps"] += np.diff(state["stamps"]).tolist()
                    state["stamps"] = []
                    if snes.getConvergedReason() != PETSc.SNES.ConvergedReason.DIVERGED_LINEAR_SOLVE:
                        break
                    state["refactor"] += 1  # GMRES stalled on the kept factorisation: start again from here
                reason = snes.getConvergedReason()
                return reason >= 0 and bool(np.all(np.isfinite(w.x.array)))

            ok = newton()
            its = snes.getIterationNumber()
            if not ok and spec.convection and not state["cancel"]:
                # Newton (even with continuation) left its basin: march the flow in pseudo time from the last
                # converged state at this flow before halving the increment
                w.x.array[:] = saved
                for c, v in zip(s.p_out, saved_p, strict=True):
                    c.value = v
                failures.append({"factor": f, "reynolds": s.reynolds(q_target * f), "snes_reason": int(reason),
                                 "then": "pseudo-transient continuation"})
                ok, its = pseudo_transient(f, newton)
                state["ptc_f0"] = None
            if ok and coupling is not None:
                coupling.update(w)  # the outlet pressures of the converged state
            if not ok:
                failures.append({"factor": f, "reynolds": s.reynolds(q_target * f), "snes_reason": int(reason)})
                w.x.array[:] = saved
                for c, v in zip(s.p_out, saved_p, strict=True):
                    c.value = v
                state["df"] /= 2.0
                state["steps"] = []
                # a planned continuation (reynolds_steps) halves its step at most twice: on the native vascular
                # sample each further halving cost ~25 factorisations (Newton crawling, then pseudo time) for
                # flows a few % apart, hours before the message; an automatic one goes down to 1/256
                limit = state["df"] < (0.25 / steps if fixed else 1.0 / 256) or len(failures) > 12
                if can_march and not state["cancel"] and (limit or _drifted_away(ptc_log, f)):
                    # no steady state reached this way, or pseudo time drifted away from one (an unstable
                    # steady state): let the flow evolve in physical time from the last converged state
                    try:
                        state["march"] = run_march(state["done"], finish_with_newton=True)
                    except SolverError as exc:
                        raise SolverError(_continuation_failure(s, q_target, f, state, failures, ptc_log)
                                          + f"; then {exc.message}", hint=exc.hint) from exc
                    break
                if limit:
                    raise SolverError(_continuation_failure(s, q_target, f, state, failures, ptc_log),
                                      hint="The flow may be unsteady at this Reynolds number, or the mesh too coarse "
                                           "for it; refine the mesh or lower the flow rate.")
                continue
            history.append({"factor": f, "reynolds": s.reynolds(q_target * f), "newton_iterations": its,
                            # wall time of each Newton step (Jacobian, factorisation if any, GMRES)
                            "newton_step_times_s": [round(float(d), 3) for d in state["steps"]]})
            state["steps"] = []
            state["done"] = f
            saved = w.x.array.copy()
            saved_p = [float(c.value) for c in s.p_out]
            if its <= 4 and not fixed:
                state["df"] *= 2.0
    finally:
        outlet_info = "traction"
        if coupling is not None:
            outlet_info = coupling.summary(w)
            coupling.destroy()
        # dolfinx's NonlinearProblem leaves its options in the database (its clean-up under a pushed
        # prefix deletes nothing): remove them so they cannot leak into a later solve
        _clear_options("surgiplan_ns_", opts)
    uh = w.sub(0).collapse()
    ph = w.sub(1).collapse()
    uh.name, ph.name = "velocity_m_per_s", "pressure_Pa"
    if not (np.all(np.isfinite(uh.x.array)) and np.all(np.isfinite(ph.x.array))):
        raise SolverError("the flow solution is not finite", hint="Refine the mesh or add continuation steps.")
    info = {"dofs": s.ndofs(), "method": method, "ksp_type": snes.getKSP().getType(),
            "pc_type": snes.getKSP().getPC().getType(), "continuation": history,
            "newton_iterations_total": sum(h["newton_iterations"] for h in history),
            "linear_iterations_total": state["linear"], "ranks": mesh.comm.size,
            "factorisation_reuse": reuse, "reuse_restarts": state["refactor"],
            "time_setup_s": t1 - t0, "time_solve_s": time.perf_counter() - t1,
            "reynolds_inlet": re_target, "continuation_retries": failures,
            "stabilisation": "SUPG + grad-div (residual-based, consistent)" if stabilised else "none",
            "stalled_newton_solves": state.get("stalled", 0),
            "pseudo_transient": ptc_log,
            "flow_regime": (state["march"]["result"] if state.get("march") else "steady"),
            "time_march": state.get("march"),
            "outlets": outlet_info,
            "mesh_quality": quality.to_dict()}
    report(progress, 1.0, f"steady flow solved ({info['newton_iterations_total']} Newton iterations)")
    sol = FlowSolution(uh, ph, tm, spec, info)
    sol.setup = s
    return sol


def _drifted_away(ptc_log: list, f: float) -> bool:
    """Whether the pseudo-transient march at flow fraction ``f`` stopped on a plateau after its steady residual
    had *grown* (last > PTC_DRIFT x the smallest): the march drifts away from a nearby steady state, the sign of
    an unstable one (smaller flow increments do not help there)."""
    e = ptc_log[-1] if ptc_log else None
    if not e or e.get("factor") != f or not e.get("plateau") or len(e["residuals"]) < 3:
        return False
    return e["residuals"][-1] > PTC_DRIFT * min(e["residuals"])


def _continuation_failure(s: _Setup, q_target: float, f: float, state: dict, failures: list,
                          ptc_log: list) -> str:
    """The message of a steady solve that the continuation gave up on: where it stopped (flow in mL/s, inlet
    Reynolds number), how far it got, and whether the pseudo-transient march reached a plateau (the sign of a
    flow without a stable steady state) rather than merely running slowly."""
    q_ml = q_target * 1e6
    done = state["done"]
    msg = (f"Newton did not converge at Re = {s.reynolds(q_target * f):.0f} ({100 * f:.3g} % of the inflow, "
           f"{q_ml * f:.3g} mL/s) even with continuation steps of {100 * state['df'] * 2:.2g} % of the flow "
           f"({len(failures)} retries; last converged at Re = {s.reynolds(q_target * done):.0f}, "
           f"{q_ml * done:.3g} mL/s")
    if state.get("last_error"):
        msg += f"; last PETSc error: {state['last_error']}"
    msg += ")"
    flat = [e for e in ptc_log if e.get("plateau")]
    if flat:
        e = flat[-1]
        msg += (f"; pseudo-time marching at {100 * e['factor']:.3g} % of the inflow stopped falling at a steady "
                f"residual of {e['plateau']['residual']:.2g} (target {e['plateau']['target']:.2g}, "
                f"{e['rejected']} of {e['steps'] + e['rejected']} pseudo time steps undone): the flow increment was "
                "too large for the jet, or the flow has no stable steady state there")
    return msg


def _petsc_failure(snes, exc) -> str:
    """A readable cause of a PETSc error in the linear solve (MUMPS INFOG(1) where available)."""
    try:
        pc = snes.getKSP().getPC()
        if pc.getType() == PETSc.PC.Type.PYTHON:  # resistance outlets: the LU inside Woodbury's preconditioner
            pc = pc.getPythonContext().inner
        mat = pc.getFactorMatrix()
        info = mat.getMumpsInfog(1)
        if info == -10:
            return "MUMPS: the matrix is numerically singular (INFOG(1) = -10)"
        if info in (-8, -9, -11, -13, -14, -19):
            return f"MUMPS ran out of workspace or memory (INFOG(1) = {info})"
        if info < 0:
            return f"MUMPS error INFOG(1) = {info}"
    except Exception:  # noqa: BLE001  (no factor matrix: another PETSc failure)
        pass
    return str(exc).strip().splitlines()[0] if str(exc).strip() else "PETSc error"


def _clear_options(prefix: str, keys) -> None:
    o = PETSc.Options()
    for k in keys:
        if o.hasName(f"{prefix}{k}"):
            o.delValue(f"{prefix}{k}")


def _petsc_library():
    """The loaded libpetsc (ctypes), found through /proc/self/maps; None where that fails."""
    import ctypes

    try:
        with open("/proc/self/maps") as fh:
            paths = {line.split()[-1] for line in fh if "libpetsc.so" in line}
        return ctypes.CDLL(sorted(paths)[0]) if paths else None
    except (OSError, IndexError):
        return None


def _set_lag_preconditioner(snes, lag: int) -> bool:
    """SNESSetLagPreconditioner, which petsc4py does not wrap (1 = rebuild every Newton step,
    -2 = rebuild at the next one then never again). False if it could not be set."""
    import ctypes

    global _PETSC_LIB
    if _PETSC_LIB is None:
        _PETSC_LIB = _petsc_library() or False
    if not _PETSC_LIB:
        return False
    cint = ctypes.c_int64 if np.dtype(PETSc.IntType).itemsize == 8 else ctypes.c_int32
    return _PETSC_LIB.SNESSetLagPreconditioner(ctypes.c_void_p(snes.handle), cint(lag)) == 0


_PETSC_LIB = None


def _resistance(o) -> float:
    return o.resistance_Pa_s_m3 if o.type == "resistance" else (
        o.proximal_resistance_Pa_s_m3 + o.distal_resistance_Pa_s_m3)


def _guess_outlets(s: _Setup, spec: FlowSpec, q_in: float, factor: float) -> list[int]:
    """Outlet pressures before a steady solve: traction values x factor; resistance (and, steady,
    Windkessel) outlets all at P0 + Q / sum(1 / R_i), the pressure of parallel resistances taking the
    whole inflow. Returns the indices of the resistance-type outlets."""
    coupled = [i for i, o in enumerate(spec.outlets) if o.type != "traction"]
    g = sum(1.0 / max(_resistance(spec.outlets[i]), 1e-30) for i in coupled)
    for i, o in enumerate(spec.outlets):
        if o.type == "traction":
            s.p_out[i].value = o.pressure_Pa * factor
        else:
            s.p_out[i].value = o.pressure_Pa + (q_in / g if g > 0 else 0.0)
    return coupled


class ResistanceCoupling:
    """Resistance (and, steady, Windkessel) outlets coupled implicitly into the Newton system.

    The outlet condition p_i = P0_i + R_i Q_i(u) makes the outlet traction term of the residual,
    p_i int_Gi v . n ds, depend on the whole outlet flux Q_i = int_Gi u . n ds = b_i . x (a linear
    functional of the dofs). Its Jacobian is the rank-k term sum_i R_i b_i b_i^T, which is dense on the
    outlet faces and so never assembled: the Newton operator is PETSc's low-rank-correction matrix
    (MATLRC) A + B diag(R) B^T. The preconditioner factorises the sparse A alone and adds the rank-k term
    exactly by the Sherman-Morrison-Woodbury formula (:class:`_WoodburyPC`: k extra triangular solves per
    factorisation), so plain MUMPS (``ksp_type preonly``) stays an exact Newton step. (GMRES around the LU
    of A alone needs k + 1 iterations, but its round-off floor grows with R / R_vessel: at R 1e11 Pa s/m^3
    on a Y pipe it stayed above 1e-8 and Newton failed.) Newton sees the outlet condition exactly
    (quadratic convergence), however large R is against the vessel's own resistance, where the fixed
    point p <- P0 + R Q(p) diverges and an outer loop on the outlet pressures stalls at the inner Newton
    tolerance.

    Units: R in Pa s / m^3, Q in m^3/s, pressures in Pa.
    """

    def __init__(self, s: _Setup, spec: FlowSpec, problem):
        self.s, self.problem = s, problem
        self.idx = [i for i, o in enumerate(spec.outlets) if o.type != "traction"]
        self.R = np.array([_resistance(spec.outlets[i]) for i in self.idx])
        self.P0 = np.array([spec.outlets[i].pressure_Pa for i in self.idx])
        comm = s.tm.mesh.comm
        v, _q = ufl.TestFunctions(s.W)
        A = problem.A
        self.b_full = []
        k = len(self.idx)
        nloc, nglob = A.getLocalSize()[0], A.getSize()[0]
        self.U = PETSc.Mat().createDense([[nloc, nglob], [PETSc.DECIDE, k]], comm=comm)
        self.U.setUp()
        cols = self.U.getDenseArray()
        for j, i in enumerate(self.idx):
            b = fem_petsc.assemble_vector(fem.form(ufl.dot(v, s.n) * s.ds(s.outlet_tags[i])))
            b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
            self.b_full.append(b)
            col = b.array_r.copy()
            for bc in s.bcs:  # Dirichlet rows keep the identity: no coupling there
                dofs, first_ghost = bc.dof_indices()
                col[dofs[:first_ghost]] = 0.0
            cols[:, j] = col
        self.U.assemble()
        self.c = PETSc.Vec().createSeq(k, comm=PETSc.COMM_SELF)
        self.c.array[:] = self.R
        P = problem.P_mat if problem.P_mat is not None else A
        self.op = PETSc.Mat().createLRC(A, self.U, self.c, self.U)
        self.op.setUp()
        snes = problem.solver
        ctx_f = {"u": problem.u, "residual": problem.F, "jacobian": problem.J, "bcs": s.bcs}
        ctx_j = {"u": problem.u, "jacobian": problem.J, "preconditioner": problem.preconditioner, "bcs": s.bcs}

        def residual(snes_, x, b):
            self._set_pressures(x)
            fem_petsc.assemble_residual(snes_, x, b, **ctx_f)

        def jacobian(snes_, x, J, Pm):
            fem_petsc.assemble_jacobian(snes_, x, A, problem.P_mat, **ctx_j)
            self.op.assemble()

        snes.setFunction(residual, problem.b)
        snes.setJacobian(jacobian, self.op, P)
        # the configured preconditioner (MUMPS LU, or the field split) becomes the inner solve of Woodbury's
        ksp = snes.getKSP()
        self.inner = ksp.getPC()
        self.inner.incRef()
        outer = PETSc.PC().create(comm)
        outer.setType(PETSc.PC.Type.PYTHON)
        self.woodbury = _WoodburyPC(self.inner, self.U, self.R)
        outer.setPythonContext(self.woodbury)
        ksp.setPC(outer)
        self.outer = outer

    def flows(self, x) -> np.ndarray:
        """Outlet fluxes Q_i = b_i . x (m^3/s) of a PETSc vector of the mixed space."""
        return np.array([b.dot(x) for b in self.b_full])

    def _set_pressures(self, x) -> np.ndarray:
        p = self.P0 + self.R * self.flows(x)
        for k, i in enumerate(self.idx):
            self.s.p_out[i].value = float(p[k])
        return p

    def update(self, w) -> np.ndarray:
        """Set the outlet pressure constants from the state ``w`` (after a solve)."""
        return self._set_pressures(w.x.petsc_vec)

    def summary(self, w) -> dict:
        """Outlet traction pressures P0 + R Q (Pa) and flows (mL/s) of the state ``w``."""
        q = self.flows(w.x.petsc_vec)
        return {"type": "resistance coupled in the Newton system (rank-k low-rank correction)",
                "pressures_Pa": [float(v) for v in self.P0 + self.R * q], "flows_mL_s": [float(v) * 1e6 for v in q]}

    def destroy(self) -> None:
        self.woodbury.destroy()
        for obj in (self.op, self.U, self.c, *self.b_full, self.inner):
            obj.destroy()


class _WoodburyPC:
    """PETSc python preconditioner for A + U diag(R) U^T from an inner preconditioner of A (Woodbury).

    (A + U C U^T)^-1 = A^-1 - Z (C^-1 + U^T Z)^-1 U^T A^-1, Z = A^-1 U (k inner solves per set-up). With an
    exact inner LU this is the exact inverse; with an approximate one (BLR, a kept factorisation, a field
    split) GMRES corrects it as it corrects the inner preconditioner alone.
    """

    def __init__(self, inner, U, R: np.ndarray):
        self.inner, self.R = inner, np.asarray(R, float)
        cols = U.getDenseArray()
        self.u = []
        for j in range(cols.shape[1]):
            vec = U.createVecLeft()
            vec.array[:] = cols[:, j]
            self.u.append(vec)
        self.z = [u.duplicate() for u in self.u]
        self.S = None

    def setUp(self, pc) -> None:  # noqa: N802 - petsc4py API
        _A, P = pc.getOperators()
        self.inner.setOperators(P, P)
        self.inner.setUp()
        for u, z in zip(self.u, self.z, strict=True):
            self.inner.apply(u, z)
        k = len(self.u)
        self.S = np.diag(1.0 / self.R) + np.array([[self.u[i].dot(self.z[j]) for j in range(k)] for i in range(k)])

    def apply(self, pc, x, y) -> None:
        self.inner.apply(x, y)
        s = np.linalg.solve(self.S, np.array([u.dot(y) for u in self.u]))
        for sj, z in zip(s, self.z, strict=True):
            y.axpy(-float(sj), z)

    def destroy(self, pc=None) -> None:  # PETSc calls it with the PC when the PC is destroyed
        for v in (*self.u, *self.z):
            v.destroy()


def _outlet_iterations(spec: FlowSpec) -> int:
    return 8 if any(o.type != "traction" for o in spec.outlets) else 1


def _update_outlets(s: _Setup, spec: FlowSpec, w, factor: float, steady: bool,
                    dt: float | None = None, wk_state: list | None = None) -> bool:
    """Set outlet pressures from the current flow (resistance / Windkessel); True if changed."""
    changed = False
    for i, (o, tag) in enumerate(zip(spec.outlets, s.outlet_tags, strict=True)):
        if o.type == "traction":
            s.p_out[i].value = o.pressure_Pa * factor
            continue
        qv = s.flux(w.sub(0), tag)
        # the schema guarantees every value a resistance / Windkessel outlet uses
        if o.type == "resistance":
            new = o.pressure_Pa + o.resistance_Pa_s_m3 * qv
        elif steady or wk_state is None:
            new = o.pressure_Pa + (o.proximal_resistance_Pa_s_m3 + o.distal_resistance_Pa_s_m3) * qv
        else:
            new = o.pressure_Pa + o.proximal_resistance_Pa_s_m3 * qv + wk_state[i]
        if abs(new - float(s.p_out[i].value)) > 1e-8 * max(1.0, abs(new)):
            changed = True
        s.p_out[i].value = new
    return changed


#: Largest Courant number |u| dt / h (h: cell diameter, u at the cell's midpoint) a pulsatile step with
#: convection may reach. The convecting velocity is extrapolated (Adams-Bashforth), so a long step does not
#: crash: a pipe run at about twice this gave a wall shear stress 1000x too high (issue 29). The vessel
#: study's own step (Courant 1 against an upper bound of the jet velocity) stays well below it.
MAX_COURANT = 4.0
#: pulsatile steps with convection: GMRES on each step's matrix, preconditioned by an earlier step's MUMPS LU
PULSATILE_LAGGED = {"ksp_type": "gmres", "ksp_gmres_restart": 40, "ksp_max_it": 40, "ksp_rtol": 1e-12,
                    "ksp_atol": 1e-16}
LAG_MAX_ITERATIONS = 12


def solve_pulsatile(tm: TaggedMesh, spec: FlowSpec, solver: SolverSpec | None = None,
                    progress: Progress | None = None, sample=None) -> FlowSolution:
    """Pulsatile flow over ``cycles`` periods by Crank-Nicolson / Adams-Bashforth.

    Inlet value(t) = base x waveform(t) (periodic, linear interpolation) or
    base x cos(2 pi t / T) when ``cosine_amplitude`` is set. ``sample(t, u, p, setup)``
    is called after every step (collective) and may return a dict that is
    appended to ``history["samples"]``.
    """
    solver = solver or SolverSpec()
    puls = spec.pulsatile
    if puls is None:
        raise InputError("a pulsatile solve needs a 'pulsatile' block")
    t0 = time.perf_counter()
    s = _Setup(tm, spec)
    mesh = tm.mesh
    comm = mesh.comm
    dt = puls.period_s / puls.steps_per_cycle
    nsteps = puls.cycles * puls.steps_per_cycle
    rho = fem.Constant(mesh, default_scalar_type(spec.fluid.density_kg_m3))
    k = fem.Constant(mesh, default_scalar_type(dt))
    u_n, u_nm1 = fem.Function(s.V), fem.Function(s.V)
    (u, p), (v, q) = ufl.TrialFunctions(s.W), ufl.TestFunctions(s.W)
    u_star = 1.5 * u_n - 0.5 * u_nm1
    u_mid = 0.5 * (u + u_n)
    mu = viscosity(spec, u_star)

    def conv(a, b):  # skew-symmetric convection of b by a
        return rho * (ufl.dot(ufl.dot(ufl.grad(b), a), v) + 0.5 * ufl.div(a) * ufl.dot(b, v))

    Fm = (rho / k * ufl.dot(u - u_n, v) * ufl.dx
          + _viscous(spec, u_mid, v, mu) * _dx_viscous(spec) - p * ufl.div(v) * ufl.dx
          - q * ufl.div(u) * ufl.dx + s.boundary_terms(v) + s.backflow(u_star, u_mid, v, rho))
    if spec.convection:
        Fm += conv(u_star, u_mid) * ufl.dx
    a_form, L_form = fem.form(ufl.lhs(Fm)), fem.form(ufl.rhs(Fm))
    A = fem_petsc.create_matrix(a_form)
    b = fem_petsc.create_vector(s.W)
    method, opts = _solver_options(s, solver)
    # without convection (and Newtonian) the matrix is the same every step: factorise once
    constant_matrix = (not spec.convection) and spec.fluid.model == "newtonian"
    # with convection the matrix changes a little every step (the extrapolated convecting velocity moves by
    # about the Courant number's share of a cell): GMRES on the new matrix, preconditioned by the LU of an
    # earlier step, which is refactorised only when GMRES needs more than LAG_MAX_ITERATIONS (or fails)
    lagged = method == "direct" and not constant_matrix and "ksp_type" not in solver.petsc_options
    if lagged:
        opts.update(PULSATILE_LAGGED)
    ksp = PETSc.KSP().create(comm)
    ksp.setOptionsPrefix("surgiplan_puls_")
    o = PETSc.Options()
    for key, val in opts.items():
        o[f"surgiplan_puls_{key}"] = val
    ksp.setOperators(A)
    ksp.setFromOptions()
    if method == "iterative":
        _fieldsplit(s, ksp)
    w = fem.Function(s.W)
    base = spec.inlet.flow_rate_mL_s * 1e-6 if spec.inlet.type == "flow_rate" else spec.inlet.pressure_Pa
    wk_state = [0.0 for _ in spec.outlets]

    def inlet_value(t):
        if spec.inlet.cosine_amplitude is not None:
            return base * spec.inlet.cosine_amplitude * math.cos(2 * math.pi * t / puls.period_s)
        if spec.inlet.waveform:
            tt, ff = np.array(spec.inlet.waveform).T
            return base * float(np.interp(t % puls.period_s, tt, ff, period=puls.period_s))
        return base

    factorisations, linear_its = 0, 0
    courant, courant_max = None, 0.0
    if spec.convection:  # the convecting velocity is extrapolated: too long a step gives garbage, not a crash
        h_cell = cell_diameter(mesh)
        courant = fem.Function(h_cell.function_space)
        courant_expr = fem.Expression(ufl.sqrt(ufl.dot(u_n, u_n)) * dt / h_cell,
                                      h_cell.function_space.element.interpolation_points)
        n_owned = mesh.topology.index_map(mesh.topology.dim).size_local
    samples = []
    t = 0.0
    t1 = time.perf_counter()
    for step in range(nsteps):
        t_new = t + dt
        t_half = t + 0.5 * dt
        if spec.inlet.type == "flow_rate":
            s.set_inflow(inlet_value(t_new))
        else:
            s.p_in.value = inlet_value(t_half)
        _update_outlets(s, spec, w, 1.0, steady=False, dt=dt, wk_state=wk_state)
        if step == 0 or not constant_matrix:
            A.zeroEntries()
            fem_petsc.assemble_matrix(A, a_form, bcs=s.bcs)
            A.assemble()
            ksp.setOperators(A)  # a new factorisation only when the matrix changed (and, lagged, when needed)
            if lagged:
                ksp.getPC().setReusePreconditioner(step > 0)
            if step == 0 or not lagged:
                factorisations += 1
        with b.localForm() as bl:
            bl.set(0.0)
        fem_petsc.assemble_vector(b, L_form)
        fem_petsc.apply_lifting(b, [a_form], bcs=[s.bcs])
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        fem_petsc.set_bc(b, s.bcs)
        x_prev = w.x.petsc_vec.copy() if lagged else None
        try:
            ksp.solve(b, w.x.petsc_vec)
            if lagged and step > 0 and (ksp.getConvergedReason() < 0
                                        or ksp.getIterationNumber() > LAG_MAX_ITERATIONS):
                # the kept LU no longer preconditions well: factorise this step's matrix and solve again
                linear_its += ksp.getIterationNumber()
                x_prev.copy(w.x.petsc_vec)
                ksp.getPC().setReusePreconditioner(False)
                ksp.solve(b, w.x.petsc_vec)
                factorisations += 1
        except PETSc.Error as exc:
            raise SolverError(f"the flow solver failed at t = {t_new:.4f} s: {exc}") from exc
        finally:
            if x_prev is not None:
                x_prev.destroy()
        linear_its += ksp.getIterationNumber()
        if ksp.getConvergedReason() < 0:
            raise SolverError(f"the linear solver diverged at t = {t_new:.4f} s",
                              hint="Use solver.method 'direct' or a smaller time step.")
        w.x.scatter_forward()
        u_nm1.x.array[:] = u_n.x.array
        u_n.interpolate(w.sub(0))
        t = t_new
        for i, ob in enumerate(spec.outlets):  # Windkessel capacitor pressure, implicit Euler
            if ob.type == "windkessel":
                qv = s.flux(u_n, s.outlet_tags[i])
                C, Rd = ob.compliance_m3_Pa, ob.distal_resistance_Pa_s_m3
                wk_state[i] = (wk_state[i] + dt * qv / C) / (1.0 + dt / (Rd * C))
        if not np.all(np.isfinite(u_n.x.array)):
            raise SolverError(f"the flow solution blew up at t = {t:.4f} s",
                              hint="Use a smaller time step (more steps_per_cycle).")
        if courant is not None:
            courant.interpolate(courant_expr)
            c_now = comm.allreduce(float(np.max(courant.x.array[:n_owned], initial=0.0)), MPI.MAX)
            courant_max = max(courant_max, c_now)
            if c_now > MAX_COURANT:
                need = math.ceil(puls.steps_per_cycle * c_now)
                raise SolverError(
                    f"the time step is too long for the flow at t = {t:.4f} s: Courant number {c_now:.1f} "
                    f"(|u| dt / cell size; at most {MAX_COURANT:g}); the explicit convection would give wrong "
                    f"velocities and wall shear stress",
                    hint=f"Use about {need} steps per cycle (now {puls.steps_per_cycle}), or a coarser mesh.")
        if sample is not None:
            rec = sample(t, u_n, w.sub(1), s)
            if rec is not None:
                samples.append(rec)
        report(progress, (step + 1) / nsteps, f"time step {step + 1}/{nsteps}, t = {t:.3f} s")
    for key in opts:
        del o[f"surgiplan_puls_{key}"]
    uh = w.sub(0).collapse()
    ph = w.sub(1).collapse()
    uh.name, ph.name = "velocity_m_per_s", "pressure_Pa"
    info = {"dofs": s.ndofs(), "method": method, "time_step_s": dt, "steps": nsteps,
            "scheme": "Crank-Nicolson / Adams-Bashforth convection", "ranks": comm.size,
            "time_setup_s": t1 - t0, "time_solve_s": time.perf_counter() - t1,
            "factorisations": factorisations, "linear_iterations": linear_its,
            "linear_solver": ("GMRES preconditioned by a kept MUMPS LU, refactorised when GMRES needs more than "
                              f"{LAG_MAX_ITERATIONS} iterations") if lagged else opts.get("ksp_type", "")}
    if courant is not None:
        info["max_courant"] = courant_max
    ksp.destroy()
    A.destroy()
    b.destroy()
    sol = FlowSolution(uh, ph, tm, spec, info, {"samples": samples})
    sol.setup = s
    return sol


def wall_shear_stress(sol_u, setup: _Setup, mu_value: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Facet-averaged wall shear stress per wall-adjacent owned cell.

    Returns (wss vectors (n, 3) Pa, wall area per cell (n,) m^2); cells without
    wall faces have area 0. WSS = traction tangential part of 2 mu eps(u) n.
    """
    mesh = setup.tm.mesh
    n = setup.n
    mu = viscosity(setup.spec, sol_u) if mu_value is None else mu_value
    tr = 2.0 * mu * ufl.dot(ufl.sym(ufl.grad(sol_u)), n)
    wss = tr - ufl.dot(tr, n) * n
    Q0 = fem.functionspace(mesh, ("DG", 0, (3,)))
    S0 = fem.functionspace(mesh, ("DG", 0))
    vq, vs = ufl.TestFunction(Q0), ufl.TestFunction(S0)
    dsw = sum((setup.ds(t) for t in setup.wall_tags[1:]), setup.ds(setup.wall_tags[0]))
    vv = fem.assemble_vector(fem.form(ufl.dot(wss, vq) * dsw))
    va = fem.assemble_vector(fem.form(vs * dsw))
    vv.scatter_reverse(la.InsertMode.add)
    va.scatter_reverse(la.InsertMode.add)
    n_owned = mesh.topology.index_map(3).size_local
    vec = vv.array.reshape(-1, 3)[:n_owned]
    area = va.array[:n_owned].copy()
    out = np.zeros_like(vec)
    m = area > 0
    out[m] = vec[m] / area[m, None]
    return out, area


def wss_summary(wss: np.ndarray, area: np.ndarray, comm, low=0.4, high=2.5) -> dict:
    """Area-weighted WSS statistics over the owned wall cells (Pa, mm^2)."""
    mag = np.linalg.norm(wss, axis=1)
    m = area > 0
    a_tot = comm.allreduce(float(area[m].sum()), MPI.SUM)
    mean = comm.allreduce(float((mag[m] * area[m]).sum()), MPI.SUM) / a_tot if a_tot else float("nan")
    return {
        "wall_area_mm2": a_tot * 1e6,
        "wss_mean_Pa": mean,
        "wss_max_Pa": comm.allreduce(float(mag[m].max(initial=0.0)), MPI.MAX),
        f"area_wss_below_{low}_Pa_mm2": comm.allreduce(float(area[m & (mag < low)].sum()), MPI.SUM) * 1e6,
        f"area_wss_above_{high}_Pa_mm2": comm.allreduce(float(area[m & (mag > high)].sum()), MPI.SUM) * 1e6,
    }
