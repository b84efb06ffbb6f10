"""Flow features against analytic results: Carreau-Yasuda pipe flow, resistance and
three-element Windkessel outlets, and the iterative solver path against the direct one.

Small pipes (R 4 mm), one rank, in-process; SI units inside the solver.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from mpi4py import MPI
from scipy import integrate, optimize

from surgiplan.core.simulation import meshes
from surgiplan.core.simulation.fields import probe
from surgiplan.core.simulation.flow import face_geometry, solve_pulsatile, solve_steady
from surgiplan.core.simulation.flow_study import flow_quantities
from surgiplan.core.simulation.study_schema import FlowSpec, SolverSpec
from surgiplan.core.simulation.volume_mesh_io import read_tagged_mesh

R_M = 4e-3  # pipe radius (m)


@pytest.fixture(scope="module")
def long_pipe(tmp_path_factory):
    """R 4 mm, L 40 mm: long enough for a developed middle section."""
    path = tmp_path_factory.mktemp("flow_models") / "long_pipe.msh"
    meshes.pipe(4.0, 40.0, 1.0, 10, order=1)
    meshes.write_msh(path)
    meshes.finish()
    return path


def _mesh(path):
    return read_tagged_mesh(path, MPI.COMM_WORLD).scaled(1e-3, "m")


def _spec(**over) -> FlowSpec:
    d = {"inlet": {"boundary": "inlet", "flow_rate_mL_s": 5.0}, "outlets": [{"boundary": "outlet"}],
         "walls": ["wall"]}
    d.update(over)
    return FlowSpec.model_validate(d)


# ---- Carreau-Yasuda ---------------------------------------------------------------------------

def carreau_yasuda(gamma, fl):
    return fl.mu_inf_Pa_s + (fl.mu0_Pa_s - fl.mu_inf_Pa_s) * (1 + (fl.lambda_s * gamma) ** fl.a) ** (
        (fl.n - 1) / fl.a)


def developed_flow_rate(G: float, fl, R: float) -> float:
    """Flow rate (m^3/s) of developed pipe flow under pressure gradient G (Pa/m).

    Shear stress tau(r) = G r / 2 = mu(gamma) gamma gives the shear rate gamma(r) (root finding,
    the stress is monotone in gamma); Q = pi int_0^R r^2 gamma(r) dr (integration by parts of
    2 pi int r u dr with u(R) = 0)."""
    def gamma(r):
        tau = 0.5 * G * r
        if tau == 0:
            return 0.0
        return optimize.brentq(lambda g: carreau_yasuda(g, fl) * g - tau, 0.0, tau / fl.mu_inf_Pa_s + 1.0,
                               xtol=1e-14, rtol=1e-13)
    return math.pi * integrate.quad(lambda r: r * r * gamma(r), 0.0, R, epsabs=0, epsrel=1e-10)[0]


def developed_gradient(Q: float, fl, R: float) -> float:
    """Pressure gradient (Pa/m) that drives Q (m^3/s) through the developed pipe of radius R (m)."""
    G_newt = 8 * fl.mu_inf_Pa_s * Q / (math.pi * R**4)
    return optimize.brentq(lambda G: developed_flow_rate(G, fl, R) - Q, G_newt * 0.5, G_newt * 100, rtol=1e-10)


def _radius(sol) -> float:
    """Equivalent radius sqrt(A / pi) (m) of the meshed (polygonal) cross-section: the polygon's
    area is ~1 % below the circle's, which alone moves a Poiseuille gradient by ~2 %."""
    return sol.setup.inlet.radius


def _centreline_gradient(sol) -> float:
    """-dp/dx (Pa/m) on the axis between x = 14 and 26 mm (away from the inlet and outlet)."""
    pts = np.array([[0.014, 0.0, 0.0], [0.026, 0.0, 0.0]])
    p = probe(sol.p, pts)[:, 0]
    return (p[0] - p[1]) / 0.012


def test_reference_quadrature_reproduces_poiseuille():
    fl = FlowSpec.model_validate({"inlet": {"boundary": 1, "flow_rate_mL_s": 1}, "outlets": [{"boundary": 2}],
                                  "walls": [3], "fluid": {"model": "carreau_yasuda", "mu0_Pa_s": 0.004,
                                                          "mu_inf_Pa_s": 0.004}}).fluid
    G = 1000.0
    assert developed_flow_rate(G, fl, R_M) == pytest.approx(math.pi * G * R_M**4 / (8 * 0.004), rel=1e-9)


def test_carreau_yasuda_pipe_matches_the_developed_quadrature(long_pipe):
    spec = _spec(fluid={"model": "carreau_yasuda"}, convection=False)
    sol = solve_steady(_mesh(long_pipe), spec, SolverSpec(method="direct"))
    Q, R = 5e-6, _radius(sol)
    G_ref = developed_gradient(Q, spec.fluid, R)
    G_fe = _centreline_gradient(sol)
    # the shear-thinning fluid really differs from both Newtonian limits here
    assert G_ref > 1.3 * 8 * spec.fluid.mu_inf_Pa_s * Q / (math.pi * R**4)
    assert G_ref < 0.5 * 8 * spec.fluid.mu0_Pa_s * Q / (math.pi * R**4)
    assert G_fe == pytest.approx(G_ref, rel=0.01)  # observed 0.10 %
    assert sol.info["newton_iterations_total"] >= 3  # a genuinely nonlinear solve


def test_carreau_yasuda_limit_mu0_equal_mu_inf_is_newtonian(long_pipe):
    mu = 0.0035
    spec = _spec(fluid={"model": "carreau_yasuda", "mu0_Pa_s": mu, "mu_inf_Pa_s": mu}, convection=False)
    sol = solve_steady(_mesh(long_pipe), spec, SolverSpec(method="direct"))
    assert _centreline_gradient(sol) == pytest.approx(8 * mu * 5e-6 / (math.pi * _radius(sol)**4), rel=0.005)


# ---- resistance and Windkessel outlets --------------------------------------------------------

def _outlet_pressure(sol) -> float:
    s = sol.setup
    return s.mean(sol.p, s.outlet_tags[0], face_geometry(sol.tagged, s.outlet_tags[0]).area)


@pytest.mark.parametrize("outlet, R_total", [
    ({"type": "resistance", "resistance_Pa_s_m3": 1e8}, 1e8),
    ({"type": "windkessel", "proximal_resistance_Pa_s_m3": 2e7, "compliance_m3_Pa": 1e-9,
      "distal_resistance_Pa_s_m3": 8e7}, 1e8)])
def test_steady_resistance_outlet_pressure_is_q_times_r(pipe_msh, outlet, R_total):
    spec = _spec(outlets=[{"boundary": "outlet", **outlet}])
    sol = solve_steady(_mesh(pipe_msh), spec, SolverSpec(method="direct"))
    q = flow_quantities(sol)
    Q = q["outlet_flow_mL_per_s"]["outlet"] * 1e-6
    assert Q == pytest.approx(5e-6, rel=1e-9)
    assert _outlet_pressure(sol) == pytest.approx(Q * R_total, rel=1e-3)  # 500 Pa
    # inlet pressure = outlet pressure + Poiseuille drop (R 4 mm, L 20 mm, developed inlet)
    dp_pois = 8 * 0.0035 * 0.020 * Q / (math.pi * _radius(sol)**4)
    assert q["pressure_drop_Pa"] == pytest.approx(dp_pois, rel=0.03)


def windkessel_pressure(t, Q0, omega, Rp, C, Rd):
    """p(t) = Rp Q + Pc for Q = Q0 cos(omega t), C dPc/dt = Q - Pc/Rd, Pc(0) = 0 (exact)."""
    tau = Rd * C
    H = Rd / (1 + 1j * omega * tau)
    pc = np.real(Q0 * H * np.exp(1j * omega * t)) - np.real(Q0 * H) * np.exp(-t / tau)
    return Rp * Q0 * np.cos(omega * t) + pc


def test_windkessel_sinusoidal_inflow_matches_the_ode(pipe_msh):
    Rp, C, Rd, T, n = 1e7, 1e-9, 1e8, 1.0, 100
    spec = _spec(inlet={"boundary": "inlet", "flow_rate_mL_s": 5.0, "cosine_amplitude": 1.0},
                 outlets=[{"boundary": "outlet", "type": "windkessel", "proximal_resistance_Pa_s_m3": Rp,
                           "compliance_m3_Pa": C, "distal_resistance_Pa_s_m3": Rd}],
                 convection=False, pulsatile={"period_s": T, "cycles": 2, "steps_per_cycle": n})

    def sample(t, u, p, s):
        return {"t": t, "q": s.flux(u, s.outlet_tags[0]), "p_out": float(s.p_out[0].value)}

    sol = solve_pulsatile(_mesh(pipe_msh), spec, SolverSpec(method="direct"), sample=sample)
    rows = sol.history["samples"]
    t = np.array([r["t"] for r in rows])
    dt = T / n
    q = np.array([r["q"] for r in rows])
    assert np.max(np.abs(q - 5e-6 * np.cos(2 * np.pi * t / T))) < 1e-3 * 5e-6  # outflow = inflow
    # the outlet pressure of the step to t was set from the state at t - dt (one step lag)
    p_fe = np.array([r["p_out"] for r in rows])
    p_ex = windkessel_pressure(t - dt, 5e-6, 2 * np.pi / T, Rp, C, Rd)
    last = slice(n, None)
    amp = np.max(np.abs(p_ex[last]))
    assert amp > 400  # Pa
    err = np.max(np.abs(p_fe[last] - p_ex[last])) / amp
    assert err < 0.02, f"Windkessel outlet pressure off by {err:.3%} of its amplitude"


# ---- iterative vs direct ----------------------------------------------------------------------

@pytest.mark.parametrize("convection, q_mL_s", [(False, 20.0), (True, 1.0)])
def test_iterative_solver_agrees_with_direct(pipe_msh, convection, q_mL_s):
    """Stokes (two continuation steps) and Navier-Stokes at Re ~ 50 (the block preconditioner of the
    iterative path does not converge at Re ~ 250 on this coarse mesh: docs/simulation.md)."""
    spec = _spec(convection=convection, inlet={"boundary": "inlet", "flow_rate_mL_s": q_mL_s, "profile": "plug"})
    res = {}
    for method in ("direct", "iterative"):
        sol = solve_steady(_mesh(pipe_msh), spec, SolverSpec(method=method))
        res[method] = (sol, flow_quantities(sol))
        assert sol.info["method"] == method
    (sd, qd), (si, qi) = res["direct"], res["iterative"]
    assert si.info["ksp_type"] != "preonly" and si.info["pc_type"] == "fieldsplit"
    assert qi["pressure_drop_Pa"] == pytest.approx(qd["pressure_drop_Pa"], rel=1e-6)
    assert qi["wss_mean_Pa"] == pytest.approx(qd["wss_mean_Pa"], rel=1e-6)
    du = np.max(np.abs(si.u.x.array - sd.u.x.array)) / np.max(np.abs(sd.u.x.array))
    assert du < 1e-6


def test_kept_factorisation_gives_the_plain_mumps_answer(pipe_msh):
    """Navier-Stokes at Re ~ 490 (plug inlet): the default direct path (BLR factorisation kept after
    Newton step 1, GMRES) against MUMPS refactorising every Newton step (``ksp_type preonly``)."""
    spec = _spec(inlet={"boundary": "inlet", "flow_rate_mL_s": 10.0, "profile": "plug"})
    kept = solve_steady(_mesh(pipe_msh), spec, SolverSpec(method="direct"))
    plain = solve_steady(_mesh(pipe_msh), spec, SolverSpec(method="direct", petsc_options={"ksp_type": "preonly"}))
    assert kept.info["factorisation_reuse"] and not plain.info["factorisation_reuse"]
    assert kept.info["ksp_type"] == "gmres" and plain.info["ksp_type"] == "preonly"
    assert kept.info["newton_iterations_total"] >= 3
    # later Newton steps really ran GMRES on the kept (older) factorisation
    assert kept.info["linear_iterations_total"] > kept.info["newton_iterations_total"] + 3
    du = np.max(np.abs(kept.u.x.array - plain.u.x.array)) / np.max(np.abs(plain.u.x.array))
    assert du < 1e-7
    assert flow_quantities(kept)["pressure_drop_Pa"] == pytest.approx(
        flow_quantities(plain)["pressure_drop_Pa"], rel=1e-7)
    steps = kept.info["continuation"][0]["newton_step_times_s"]
    assert len(steps) == kept.info["continuation"][0]["newton_iterations"] and min(steps) > 0
    # the solver's PETSc options do not stay in the database for a later solve
    from petsc4py import PETSc

    assert not [k for k in PETSc.Options().getAll() if k.startswith("surgiplan_ns_")]
