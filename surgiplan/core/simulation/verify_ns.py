"""Verification of the convective term: exact and manufactured Navier-Stokes solutions.

Every formula and parameter is READ from ``navier_stokes_exact.json`` (beside
``validation_reference_values.json``, see ``../shared/data/reference/README.md``);
the formulas are evaluated in UFL (and, for the tables, with numpy) so a wrong
solver or a wrong transcription cannot pass. Kinematic form (rho = 1, mu = nu),
Taylor-Hood P2-P1, the same weak form as the steady solver
(:func:`surgiplan.core.simulation.flow.navier_stokes_residual`), solved by Newton.

* Kovasznay (2D, Re 40 and 100) as a one-cell-thick slab (w = 0 and free slip
  on the z faces), Dirichlet velocity on three edges, the exact traction on the
  outflow edge x = 1 (so the pressure constant is the formula's): velocity and
  pressure L2 errors and their orders (expected 3 and 2).
* Ethier-Steinman (3D) at t = 0 on [-1, 1]^3 as a steady problem with the body
  force f = -du/dt = nu d^2 u (the solution is unsteady), Dirichlet velocity on
  the whole boundary and the pressure pinned at a corner: the zero-mean PRESSURE
  error (a Stokes solver gets the velocity right here, not the pressure).
* Manufactured swirling pipe flow (r <= 1, 0 <= z <= 4; meshed along x with
  curved P2 cells) with the body force built in UFL from u and p; the UFL body
  force is first checked against the file's 105 tabulated values.

Tolerances: relative L2 errors at the finest level below ``ERROR_TOL`` (what
this solver achieves on these meshes with a margin), convergence orders within
15 % (velocity) / 25 % (pressure) of the expected ones.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import report

NS_REFERENCE_NAME = "navier_stokes_exact.json"
# relative L2 error allowed at the finest level of the quick run, ~1.5-2.5x what was measured there
# (Kovasznay Re 40/100: u 6.1e-4 / 5.8e-4, p 2.0e-3 / 7.8e-4; Ethier-Steinman nu 1 / 0.01: p 2.2e-2 /
# 9.9e-3, u 8.3e-4 / 3.7e-3; swirling pipe: u 4.8e-3, p 9.4e-3)
ERROR_TOL = {"kovasznay_u": 1.5e-3, "kovasznay_p": 5e-3, "ethier_p": 3.5e-2, "ethier_u": 6e-3,
             "pipe_u": 8e-3, "pipe_p": 2e-2}


def ns_reference_path(validation_path: Path | None) -> Path:
    from surgiplan.core.simulation.verify import default_reference_path

    base = Path(validation_path).parent if validation_path else default_reference_path().parent
    return base / NS_REFERENCE_NAME


def load_ns_reference(path: Path) -> dict:
    if not path.is_file():
        raise InputError("Navier-Stokes reference file not found", path=path,
                         hint="Place navier_stokes_exact.json beside validation_reference_values.json.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        sols = data["solutions"]
        for key in ("ethier_steinman_1994", "kovasznay_1948", "manufactured_swirling_pipe"):
            sols[key]["formulas"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"not a valid Navier-Stokes reference file ({exc})", path=path,
                         hint="Use the shared navier_stokes_exact.json.") from exc
    return sols


def _formula(expr: str) -> str:
    """The formula part of a file entry (a trailing double-space-separated '(comment)' dropped)."""
    import re

    return re.sub(r"\blambda\b", "lam", expr.split("  (")[0].strip())


def _ufl_eval(expr: str, names: dict):
    """Evaluate a formula string of the reference file with UFL (or numpy) functions."""
    import ufl

    expr = _formula(expr)

    if not isinstance(expr, str) or any(tok in expr for tok in ("__", "import", "lambda", ";")):
        raise InputError(f"unexpected formula in the Navier-Stokes reference file: {expr!r}")
    ns = {"exp": ufl.exp, "sin": ufl.sin, "cos": ufl.cos, "sqrt": ufl.sqrt, "pi": math.pi}
    ns.update(names)
    return eval(expr, {"__builtins__": {}}, ns)  # noqa: S307  (file formulas; tokens checked above)


def _np_eval(expr: str, names: dict):
    expr = _formula(expr)
    if any(tok in expr for tok in ("__", "import", "lambda", ";")):
        raise InputError(f"unexpected formula in the Navier-Stokes reference file: {expr!r}")
    ns = {"exp": np.exp, "sin": np.sin, "cos": np.cos, "sqrt": np.sqrt, "pi": math.pi}
    ns.update(names)
    return eval(expr, {"__builtins__": {}}, ns)  # noqa: S307


def solve_exact_problem(mesh, u_ex, p_ex, nu: float, dirichlet_facets, traction_facets=None,
                        slip_facets=None, f=None, convection: bool = True, degree_raise: int = 3,
                        pin_pressure_at=None, nu_continuation=(16.0, 4.0, 1.0), stabilised: bool = True):
    """Steady NS with Dirichlet u = u_ex, exact traction nu grad(u_ex) n - p_ex n on ``traction_facets``,
    w = 0 on ``slip_facets`` (z faces of a slab) and body force ``f``; returns (u, p) (P2, P1).

    ``stabilised`` adds the steady solver's SUPG + grad-div terms (its default with convection), so
    the verified form is the one the vessel studies solve."""
    import basix.ufl
    import ufl
    from dolfinx import fem
    from dolfinx import mesh as dmesh
    from dolfinx.fem import petsc as fem_petsc

    from surgiplan.core.simulation.flow import navier_stokes_residual

    fdim = mesh.topology.dim - 1
    P2 = basix.ufl.element("Lagrange", mesh.basix_cell(), 2, shape=(3,))
    P1 = basix.ufl.element("Lagrange", mesh.basix_cell(), 1)
    W = fem.functionspace(mesh, basix.ufl.mixed_element([P2, P1]))
    V, _ = W.sub(0).collapse()
    ubc = fem.Function(V)
    ubc.interpolate(fem.Expression(u_ex, V.element.interpolation_points))
    dofs = fem.locate_dofs_topological((W.sub(0), V), fdim, dirichlet_facets)
    bcs = [fem.dirichletbc(ubc, dofs, W.sub(0))]
    if slip_facets is not None:
        W2, _ = W.sub(0).sub(2).collapse()
        zero = fem.Function(W2)
        d2 = fem.locate_dofs_topological((W.sub(0).sub(2), W2), fdim, slip_facets)
        bcs.append(fem.dirichletbc(zero, d2, W.sub(0).sub(2)))
    if pin_pressure_at is not None:  # all-Dirichlet velocity: fix the pressure at the vertex nearest a point
        Qs, _ = W.sub(1).collapse()
        pbc = fem.Function(Qs)
        pbc.interpolate(fem.Expression(p_ex, Qs.element.interpolation_points))
        target = np.asarray(pin_pressure_at, float)
        pd = fem.locate_dofs_geometrical((W.sub(1), Qs),
                                         lambda x: np.linalg.norm(x.T - target, axis=1) < 1e-8)
        bcs.append(fem.dirichletbc(pbc, pd, W.sub(1)))
    w = fem.Function(W)
    u, p = ufl.split(w)
    v, q = ufl.TestFunctions(W)
    rho = fem.Constant(mesh, 1.0)
    nu_c = fem.Constant(mesh, float(nu))
    if f is not None and not isinstance(f, ufl.core.expr.Expr):  # a function of the viscosity
        f = f(nu_c)
    F = navier_stokes_residual(u, p, v, q, rho, nu_c, convection, stabilised=stabilised, mesh=mesh, f=f)
    dxq = ufl.dx(metadata={"quadrature_degree": 4 + degree_raise})
    if f is not None:
        F -= ufl.dot(f, v) * dxq
    if traction_facets is not None:
        n = ufl.FacetNormal(mesh)
        tags = dmesh.meshtags(mesh, fdim, np.sort(traction_facets).astype(np.int32),
                              np.ones(len(traction_facets), np.int32))
        ds = ufl.Measure("ds", domain=mesh, subdomain_data=tags, metadata={"quadrature_degree": 4 + degree_raise})
        g = nu_c * ufl.dot(ufl.grad(u_ex), n) - p_ex * n
        F -= ufl.dot(g, v) * ds(1)
    opts = {"snes_type": "newtonls", "snes_linesearch_type": "basic", "snes_rtol": 1e-10, "snes_atol": 1e-12,
            "snes_max_it": 30, "snes_divergence_tolerance": -1,
            "ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
    problem = fem_petsc.NonlinearProblem(F, w, bcs=bcs, petsc_options_prefix="surgiplan_nsv_", petsc_options=opts)
    try:
        problem.solve()
        reason = problem.solver.getConvergedReason()
        if reason < 0 and nu_continuation:
            # continuation in viscosity: each converged solution starts the next, smaller nu
            w.x.array[:] = 0.0
            for m in nu_continuation:
                nu_c.value = float(nu) * m
                problem.solve()
                reason = problem.solver.getConvergedReason()
                if reason < 0:
                    break
    finally:
        from surgiplan.core.simulation.flow import _clear_options

        _clear_options("surgiplan_nsv_", opts)
    if reason < 0:
        from surgiplan.core.errors import SolverError

        raise SolverError(f"Newton did not converge on a verification case (SNES reason {reason})")
    return w.sub(0).collapse(), w.sub(1).collapse()


def _l2(mesh, e) -> float:
    import ufl
    from dolfinx import fem
    from mpi4py import MPI

    dx = ufl.dx(metadata={"quadrature_degree": 8})
    return math.sqrt(mesh.comm.allreduce(fem.assemble_scalar(fem.form(ufl.inner(e, e) * dx)), MPI.SUM))


def _rel_errors(mesh, uh, ph, u_ex, p_ex, pressure_mean_free=False):
    import ufl
    from dolfinx import fem
    from mpi4py import MPI

    eu = _l2(mesh, uh - u_ex) / _l2(mesh, u_ex)
    if pressure_mean_free:
        vol = mesh.comm.allreduce(fem.assemble_scalar(fem.form(fem.Constant(mesh, 1.0) * ufl.dx)), MPI.SUM)
        dx = ufl.dx(metadata={"quadrature_degree": 8})
        c = mesh.comm.allreduce(fem.assemble_scalar(fem.form((ph - p_ex) * dx)), MPI.SUM) / vol
        ep = _l2(mesh, ph - p_ex - c)
        pm = mesh.comm.allreduce(fem.assemble_scalar(fem.form(p_ex * dx)), MPI.SUM) / vol
        return eu, ep / _l2(mesh, p_ex - pm)
    return eu, _l2(mesh, ph - p_ex) / _l2(mesh, p_ex)


def _h(mesh) -> float:
    ncells = mesh.topology.index_map(3).size_global
    import ufl
    from dolfinx import fem
    from mpi4py import MPI

    vol = mesh.comm.allreduce(fem.assemble_scalar(fem.form(fem.Constant(mesh, 1.0) * ufl.dx)), MPI.SUM)
    return (vol / ncells) ** (1 / 3)


def _order(errs, hs) -> float:
    return math.log(errs[-2] / errs[-1]) / math.log(hs[-2] / hs[-1])


def _boundary(mesh, rule):
    """Boundary facets whose MIDPOINT satisfies ``rule`` (a facet touching an edge of another face
    is classified by where it lies, not by its vertices)."""
    from dolfinx import mesh as dmesh

    fdim = mesh.topology.dim - 1
    mesh.topology.create_connectivity(fdim, mesh.topology.dim)
    facets = dmesh.exterior_facet_indices(mesh.topology)
    mid = dmesh.compute_midpoints(mesh, fdim, facets)
    return facets[np.asarray(rule(mid.T), bool)].astype(np.int32)


# ----------------------------------------------------------------------------- Kovasznay
def kovasznay_errors(sol: dict, case: dict, n: int, convection: bool = True) -> tuple[float, float, float]:
    """(velocity, pressure relative L2 errors, h) of one Kovasznay case on an n x 4n/3 x 1 slab."""
    import ufl
    from dolfinx import mesh as dmesh
    from mpi4py import MPI

    fm = sol["formulas"]
    Re = float(case["Re"])
    lam = float(_np_eval(fm["lambda"], {"Re": Re}))
    if not math.isclose(lam, float(case["lambda"]), rel_tol=1e-12):
        raise InputError(f"Kovasznay lambda {lam} from the formula differs from the file's {case['lambda']}")
    nu = float(_np_eval(fm["nu"], {"Re": Re}))
    nx, ny = n, round(n * 4 / 3)
    tz = 1.5 / n
    mesh = dmesh.create_box(MPI.COMM_WORLD, [[-0.5, -0.5, 0.0], [1.0, 1.5, tz]], [nx, ny, 1],
                            dmesh.CellType.tetrahedron)
    X = ufl.SpatialCoordinate(mesh)
    names = {"x": X[0], "y": X[1], "lam": lam, "Re": Re, "nu": nu}
    u_ex = ufl.as_vector([_ufl_eval(fm["u"], names), _ufl_eval(fm["v"], names), 0.0])
    p_ex = _ufl_eval(fm["p"], names)
    eps = 1e-10
    dirichlet = _boundary(mesh, lambda x: np.isclose(x[0], -0.5, atol=eps) | np.isclose(x[1], -0.5, atol=eps)
                          | np.isclose(x[1], 1.5, atol=eps))
    traction = _boundary(mesh, lambda x: np.isclose(x[0], 1.0, atol=eps))
    slip = _boundary(mesh, lambda x: np.isclose(x[2], 0.0, atol=eps) | np.isclose(x[2], tz, atol=eps))
    uh, ph = solve_exact_problem(mesh, u_ex, p_ex, nu, dirichlet, traction, slip, convection=convection)
    eu, ep = _rel_errors(mesh, uh, ph, u_ex, p_ex)
    return eu, ep, 1.5 / n


def verify_kovasznay(sols: dict, quick: bool, progress=None) -> list:
    from surgiplan.core.simulation.verify import _row

    sol = sols["kovasznay_1948"]
    levels = [8, 16] if quick else [8, 16, 32]
    rows = []
    for ci, case in enumerate(sol["cases"]):
        errs_u, errs_p, hs = [], [], []
        for li, n in enumerate(levels):
            report(progress, (ci + li / len(levels)) / len(sol["cases"]), f"Kovasznay Re {case['Re']:g}, n = {n}")
            eu, ep, h = kovasznay_errors(sol, case, n)
            errs_u.append(eu)
            errs_p.append(ep)
            hs.append(h)
        name = f"kovasznay_Re{case['Re']:g}"
        rows += [
            _row(name, "flow", f"velocity relative L2 error (n = {levels[-1]})", errs_u[-1], 0.0, "1",
                 ERROR_TOL["kovasznay_u"], kind="absolute"),
            _row(name, "flow", f"pressure relative L2 error (n = {levels[-1]})", errs_p[-1], 0.0, "1",
                 ERROR_TOL["kovasznay_p"], kind="absolute"),
            _row(f"mesh_convergence_{name}", "flow",
                 f"observed velocity L2 order ({', '.join(f'{e:.2e}' for e in errs_u)})",
                 _order(errs_u, hs), 3.0, "1", 0.15, kind="order"),
            _row(f"mesh_convergence_{name}", "flow",
                 f"observed pressure L2 order ({', '.join(f'{e:.2e}' for e in errs_p)})",
                 _order(errs_p, hs), 2.0, "1", 0.25, kind="order"),
        ]
    return rows


# ----------------------------------------------------------------------------- Ethier-Steinman
def ethier_errors(sol: dict, case: dict, n: int, convection: bool = True) -> tuple[float, float, float]:
    """(velocity, pressure relative L2 errors, h) at t = 0 on [-1, 1]^3 with n^3 x 6 tetrahedra."""
    import ufl
    from dolfinx import mesh as dmesh
    from mpi4py import MPI

    fm = sol["formulas"]
    a, d, nu = float(case["a"]), float(case["d"]), float(case["nu"])
    mesh = dmesh.create_box(MPI.COMM_WORLD, [[-1.0] * 3, [1.0] * 3], [n, n, n], dmesh.CellType.tetrahedron)
    X = ufl.SpatialCoordinate(mesh)
    names = {"x": X[0], "y": X[1], "z": X[2], "a": a, "d": d, "nu": nu, "t": 0.0}
    u_ex = ufl.as_vector([_ufl_eval(fm[k], names) for k in ("u", "v", "w")])
    p_ex = _ufl_eval(fm["p"], names)
    # du/dt at t = 0 from the formula's exp(-nu d^2 t) factor: the steady problem gets f = -du/dt
    def f(nu_c):  # the exact solution is the same for every nu with this force: continuation-safe
        return nu_c * d**2 * u_ex

    eps = 1e-10
    del eps
    dirichlet = _boundary(mesh, lambda x: np.ones(x.shape[1], bool))
    uh, ph = solve_exact_problem(mesh, u_ex, p_ex, nu, dirichlet, f=f, convection=convection,
                                 pin_pressure_at=[-1.0, -1.0, -1.0])
    eu, ep = _rel_errors(mesh, uh, ph, u_ex, p_ex, pressure_mean_free=True)
    return eu, ep, 2.0 / n


def verify_ethier_steinman(sols: dict, quick: bool, progress=None) -> list:
    from surgiplan.core.simulation.verify import _row

    sol = sols["ethier_steinman_1994"]
    rows = []
    check = _check_table_ethier(sol)
    rows.append(_row("ethier_steinman_formulas", "flow", "max |formula - table| (u, v, w, p; both nu, t)",
                     check, 0.0, "1", 1e-12, kind="absolute"))
    for ci, case in enumerate(sol["cases"]):
        # nu = 0.01 (Re ~ 700) has no discrete solution on the 4^3 cube: start at 8
        levels = ([4, 8] if quick else [4, 8, 12]) if case["nu"] >= 0.1 else ([8, 12] if quick else [8, 12, 16])
        eu_l, ep_l, hs = [], [], []
        for li, n in enumerate(levels):
            report(progress, (ci + li / len(levels)) / len(sol["cases"]), f"Ethier-Steinman nu {case['nu']:g}, n = {n}")
            eu, ep, h = ethier_errors(sol, case, n)
            eu_l.append(eu)
            ep_l.append(ep)
            hs.append(h)
        name = f"ethier_steinman_nu{case['nu']:g}"
        rows += [
            _row(name, "flow", f"pressure relative L2 error (n = {levels[-1]})", ep_l[-1], 0.0, "1",
                 ERROR_TOL["ethier_p"], kind="absolute"),
            _row(name, "flow", f"velocity relative L2 error (n = {levels[-1]})", eu_l[-1], 0.0, "1",
                 ERROR_TOL["ethier_u"], kind="absolute"),
            _row(f"mesh_convergence_{name}", "flow",
                 f"observed pressure L2 order ({', '.join(f'{e:.2e}' for e in ep_l)})",
                 _order(ep_l, hs), 2.0, "1", 0.25, kind="order"),
        ]
    return rows


def _check_table_ethier(sol: dict) -> float:
    """Largest difference between the formulas (numpy) and the file's 5x5x5 tables."""
    fm = sol["formulas"]
    worst = 0.0
    for case in sol["cases"]:
        for key, table in case["tables"].items():
            t = float(key.split("=")[1])
            arr = np.asarray(table, float)
            names = {"x": arr[:, 0], "y": arr[:, 1], "z": arr[:, 2], "a": case["a"], "d": case["d"],
                     "nu": case["nu"], "t": t}
            for col, k in ((3, "u"), (4, "v"), (5, "w"), (6, "p")):
                worst = max(worst, float(np.max(np.abs(_np_eval(fm[k], names) - arr[:, col]))))
    return worst


# ----------------------------------------------------------------------------- swirling pipe
def _pipe_mesh(size: float, L: float):
    """Unit-radius cylinder along x (0..L), curved P2 cells; facets: 1 inlet x = 0, 2 outlet x = L, 3 wall."""
    import gmsh
    from mpi4py import MPI

    from surgiplan.core.simulation import meshes
    from surgiplan.core.simulation.volume_mesh_io import mesh_from_gmsh

    meshes._start("mms_pipe")
    gmsh.model.occ.addCylinder(0, 0, 0, L, 0, 0, 1.0)
    gmsh.model.occ.synchronize()
    gmsh.model.addPhysicalGroup(3, [t for _, t in gmsh.model.getEntities(3)], name="fluid")
    meshes._tag_faces({"inlet": lambda c: abs(c[0]) < 1e-6, "outlet": lambda c: abs(c[0] - L) < 1e-6,
                       "wall": lambda c: 1e-6 < c[0] < L - 1e-6})
    meshes._mesh(3, size, 2)
    tm = mesh_from_gmsh(MPI.COMM_WORLD, unit="m")
    meshes.finish()
    return tm


def pipe_body_force(sol: dict, X):
    """(u_ex, p_ex, f) of the manufactured pipe flow in UFL with the pipe axis along x:
    MMS coordinates (x, y, z) = (X[1], X[2], X[0]); physical vectors (w, u, v)."""
    import ufl

    fm = sol["formulas"]
    par = {k: float(v) for k, v in sol["parameters"].items()}
    names = {"x": X[1], "y": X[2], "z": X[0], **{k: par[k] for k in ("U", "eps", "Omega", "k", "nu")}}
    names["r"] = ufl.sqrt(X[1] ** 2 + X[2] ** 2)
    u, v, w = (_ufl_eval(fm[c], names) for c in ("u", "v", "w"))
    u_ex = ufl.as_vector([w, u, v])
    p_ex = _ufl_eval(fm["p"], names)
    nu = par["nu"]
    f = ufl.grad(u_ex) * u_ex - nu * ufl.div(ufl.grad(u_ex)) + ufl.grad(p_ex)
    return u_ex, p_ex, f


def check_pipe_forcing(sol: dict) -> float:
    """Largest relative difference between the UFL body force and the file's tabulated f (105 points)."""
    import ufl
    from dolfinx import fem
    from dolfinx import mesh as dmesh
    from mpi4py import MPI
    from ufl.algorithms import expand_derivatives

    mesh = dmesh.create_unit_cube(MPI.COMM_SELF, 1, 1, 1, dmesh.CellType.tetrahedron)
    X = ufl.SpatialCoordinate(mesh)
    _, _, f = pipe_body_force(sol, X)
    pt = fem.Constant(mesh, np.zeros(3))
    fp = ufl.replace(expand_derivatives(f), {X: pt})
    forms = [fem.form(fp[i] * ufl.dx) for i in range(3)]
    cols = sol["columns"]
    rows = np.asarray(sol["table"] if "table" in sol else sol["tables"], float)
    ix = {c: cols.index(c) for c in cols}
    scale = float(np.max(np.abs(rows[:, [ix["f_x"], ix["f_y"], ix["f_z"]]])))
    worst = 0.0
    for r in rows:
        pt.value[:] = [r[ix["z"]], r[ix["x"]], r[ix["y"]]]
        got = [fem.assemble_scalar(fm) for fm in forms]  # unit cube: the integral is the value
        ref = [r[ix["f_z"]], r[ix["f_x"]], r[ix["f_y"]]]
        worst = max(worst, max(abs(g - e) for g, e in zip(got, ref, strict=True)) / scale)
    return worst


def pipe_errors(sol: dict, size: float, convection: bool = True) -> tuple[float, float, float]:
    import ufl

    L = float(sol["parameters"]["L"])
    tm = _pipe_mesh(size, L)
    mesh = tm.mesh
    X = ufl.SpatialCoordinate(mesh)
    u_ex, p_ex, f = pipe_body_force(sol, X)
    fdim = 2
    inlet, outlet, wall = (tm.facet_tags.find(tm.names[k][1]) for k in ("inlet", "outlet", "wall"))
    dirichlet = np.concatenate([inlet, wall])
    uh, ph = solve_exact_problem(mesh, u_ex, p_ex, float(sol["parameters"]["nu"]), dirichlet, outlet, f=f,
                                 convection=convection)
    del fdim
    eu, ep = _rel_errors(mesh, uh, ph, u_ex, p_ex)
    return eu, ep, _h(mesh)


def verify_swirling_pipe(sols: dict, quick: bool, progress=None) -> list:
    from surgiplan.core.simulation.verify import _row

    sol = sols["manufactured_swirling_pipe"]
    rows = [_row("manufactured_swirling_pipe", "flow", "body force in UFL vs the file's table (max, / max |f|)",
                 check_pipe_forcing(sol), 0.0, "1", 1e-10, kind="absolute")]
    sizes = [0.5, 0.3] if quick else [0.5, 0.3, 0.2]
    eu_l, ep_l, hs = [], [], []
    for li, s in enumerate(sizes):
        report(progress, li / len(sizes), f"swirling pipe, cell size {s}")
        eu, ep, h = pipe_errors(sol, s)
        eu_l.append(eu)
        ep_l.append(ep)
        hs.append(h)
    name = "manufactured_swirling_pipe"
    rows += [
        _row(name, "flow", f"velocity relative L2 error (h = {sizes[-1]})", eu_l[-1], 0.0, "1",
             ERROR_TOL["pipe_u"], kind="absolute"),
        _row(name, "flow", f"pressure relative L2 error (h = {sizes[-1]})", ep_l[-1], 0.0, "1",
             ERROR_TOL["pipe_p"], kind="absolute"),
        _row(f"mesh_convergence_{name}", "flow", f"observed velocity L2 order ({', '.join(f'{e:.2e}' for e in eu_l)})",
             _order(eu_l, hs), 3.0, "1", 0.15, kind="order"),
    ]
    return rows


def verify_navier_stokes(validation_path: Path | None, quick: bool, progress=None) -> list:
    """All three convection cases (rows of :class:`surgiplan.core.simulation.verify.CaseResult`)."""
    from surgiplan.core.jobs import sub_progress

    sols = load_ns_reference(ns_reference_path(validation_path))
    rows = []
    steps = (verify_kovasznay, verify_ethier_steinman, verify_swirling_pipe)
    for k, fn in enumerate(steps):
        rows += fn(sols, quick, sub_progress(progress, k / len(steps), (k + 1) / len(steps)))
    return rows
