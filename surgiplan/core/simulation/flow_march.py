"""Physical-time march of a steady flow study that Reynolds continuation could not finish (issue 29).

A stenotic jet above a throat Reynolds number of several hundred may have no *stable* symmetric steady
state (Sherwin and Blackburn 2005, J Fluid Mech 533: a steady wall-attachment instability near Re 700 for a
75 % area stenosis, unsteady jets beyond). Newton then stagnates and pseudo-transient continuation, which
shrinks its pseudo time step when the steady residual grows, holds the iterate near the unstable state.
This march lets the flow go where it goes instead:

* backward Euler in physical time (the pseudo-transient step of :func:`surgiplan.core.simulation.flow.
  solve_steady` with a *fixed* step: rho (u - u_n) / dt, one Newton iteration per step, i.e. linearly
  implicit Euler), resistance outlets coupled implicitly as in the steady Newton system, so the step is
  limited by accuracy (the jet's convective time), not by the outlets;
* from the last converged steady state, the inflow ramped linearly to the target over ``MARCH_RAMP_STEPS``
  steps, then held;
* one MUMPS LU kept over many steps as the preconditioner of GMRES on each step's Jacobian, refactorised
  only when GMRES needs more than ``MARCH_LAG_ITERATIONS`` iterations (as the pulsatile solver does);
* watched every step: the steady residual, the outlet flows and the inlet-to-outlet pressure drops.
  A residual that falls to near the Newton tolerance: Newton finishes (a steady, possibly asymmetric
  solution, reported as steady). Drops that oscillate: the fields are averaged over a whole number of
  periods (at least ``MIN_PERIODS``) and reported as time-averaged, with the fluctuation's amplitude.
  Neither within the step budget: a :class:`SolverError` that says so.

Units: SI inside (m, s, Pa); summaries in s, mL/s and mmHg.
"""

from __future__ import annotations

import math
import time

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem import petsc as fem_petsc
from mpi4py import MPI
from petsc4py import PETSc

from surgiplan.core.errors import Cancelled, InputError, SolverError
from surgiplan.core.jobs import Progress, report

MMHG_PA = 133.322387415
#: time step of the march, in convective times of the fastest jet (d / U; see :func:`jet_time`)
MARCH_DT_PER_JET_TIME = 1.0
#: a given time step longer than this many jet times is refused: backward Euler with a long step damps (and
#: can even stabilise) the very instability the march is there to follow
MARCH_MAX_DT_PER_JET_TIME = 10.0
#: steps over which the inflow is ramped from the last converged flow to the target
MARCH_RAMP_STEPS = 20
#: GMRES iterations on the kept LU above which the next step refactorises
MARCH_LAG_ITERATIONS = 25
MARCH_KSP = {"ksp_type": "gmres", "ksp_gmres_restart": 80, "ksp_max_it": 80, "ksp_rtol": 1e-8,
             "ksp_atol": 1e-14, "mat_mumps_icntl_14": 100}
#: Newton is tried when the steady residual is below this many times the Newton tolerance and has fallen
#: over the last 10 steps at least twofold, each step (a state settling, not one passing by an unstable
#: steady state); after a failed try, not again for MARCH_NEWTON_RETRY steps (each try costs factorisations)
MARCH_NEWTON_TRY = 30.0
MARCH_NEWTON_RETRY = 50
#: whole oscillation periods needed before the average is reported
MIN_PERIODS = 3
#: a signal whose peak-to-peak variation over the last third of the march is below this fraction of its
#: scale has settled (the march's state is then the steady state to that accuracy)
SETTLED_REL = 1e-5
#: signal hysteresis for counting mean crossings, as a fraction of the peak-to-peak variation
CROSS_HYSTERESIS = 0.1


def jet_time(u_values: np.ndarray, q_m3s: float, comm) -> tuple[float, float, float]:
    """Convective time d / U of the fastest jet: U the largest velocity magnitude (m/s) of ``u_values``
    ((n, 3), the flow at ``q_m3s``), d = sqrt(4 Q / (pi U)) the diameter of a section carrying the whole
    flow at that speed (m). Returns (d / U in s, U, d)."""
    local = float(np.max(np.linalg.norm(u_values.reshape(-1, 3), axis=1), initial=0.0))
    u_max = comm.allreduce(local, MPI.MAX)
    if not (u_max > 0 and q_m3s > 0):
        raise SolverError("the time march needs a flowing start (the velocity is zero everywhere)",
                          hint="Set flow.march_time_step_s in the study (s).")
    d = math.sqrt(4.0 * q_m3s / (math.pi * u_max))
    return d / u_max, u_max, d


def oscillation(t: np.ndarray, y: np.ndarray) -> dict:
    """Periods of the signal ``y(t)`` (sampled at increasing ``t``): the mean crossings upward, with a
    hysteresis of ``CROSS_HYSTERESIS`` of the peak-to-peak variation. Returns ``periods`` (whole periods
    between the first and last upward crossing), ``window`` (indices [i0, i1) of those periods: the sample
    i1 starts the next period), ``period_s`` (mean), ``mean`` and ``amplitude`` (half the peak-to-peak
    variation over the window) and ``trend`` (mean of the window's second half minus its first, in units
    of the amplitude: near 0 for a settled oscillation)."""
    t, y = np.asarray(t, float), np.asarray(y, float)
    out = {"periods": 0, "window": None, "period_s": None, "mean": float(np.mean(y)) if len(y) else None,
           "amplitude": float(0.5 * np.ptp(y)) if len(y) else None, "trend": None}
    if len(y) < 8:
        return out
    m, span = float(np.mean(y)), float(np.ptp(y))
    if not span > 0:
        return out
    lo, hi = m - CROSS_HYSTERESIS * span, m + CROSS_HYSTERESIS * span
    ups, armed = [], False
    for i, v in enumerate(y):
        if v < lo:
            armed = True
        elif v > hi and armed:
            ups.append(i)
            armed = False
    if len(ups) < 2:
        return out
    i0, i1 = ups[0], ups[-1]
    win = y[i0:i1]
    half = len(win) // 2
    amp = 0.5 * float(np.ptp(win))
    out.update(periods=len(ups) - 1, window=(i0, i1), period_s=float((t[i1] - t[i0]) / (len(ups) - 1)),
               mean=float(np.mean(win)), amplitude=amp,
               trend=float((np.mean(win[half:]) - np.mean(win[:half])) / amp) if amp > 0 and half else None)
    return out


def check_time_step(dt: float, t_jet: float) -> None:
    if dt > MARCH_MAX_DT_PER_JET_TIME * t_jet:
        raise InputError(
            f"flow.march_time_step_s = {dt:g} s is {dt / t_jet:.0f} convective times of the fastest jet "
            f"({1e3 * t_jet:.3g} ms): backward Euler with so long a step damps the jet's instability",
            hint=f"Use at most {MARCH_MAX_DT_PER_JET_TIME * t_jet:.3g} s, or 0 (automatic: "
                 f"{MARCH_DT_PER_JET_TIME * t_jet:.3g} s).")


class _KeptLU:
    """GMRES on each step's Jacobian, preconditioned by a kept MUMPS LU (Woodbury-corrected for the
    resistance outlets' rank-k term), refactorised when GMRES needs more than MARCH_LAG_ITERATIONS."""

    def __init__(self, comm, J, P, coupling):
        from surgiplan.core.simulation.flow import _WoodburyPC

        o = PETSc.Options()
        self.prefix = "surgiplan_march_"
        for k, v in MARCH_KSP.items():
            o[self.prefix + k] = v
        self.ksp = PETSc.KSP().create(comm)
        self.ksp.setOptionsPrefix(self.prefix)
        self.ksp.setOperators(J, P)
        self.ksp.setType("gmres")
        if coupling is None:
            self.lu = self.ksp.getPC()
        else:
            self.lu = PETSc.PC().create(comm)
            self.lu.setOptionsPrefix(self.prefix)
        self.lu.setType("lu")
        self.lu.setFactorSolverType("mumps")
        if coupling is not None:
            self.lu.setFromOptions()
            outer = self.ksp.getPC()
            outer.setType(PETSc.PC.Type.PYTHON)
            self.woodbury = _WoodburyPC(self.lu, coupling.U, coupling.R)
            outer.setPythonContext(self.woodbury)
        self.ksp.setFromOptions()
        self.coupling = coupling
        self.fresh = True
        self.factorisations = 0
        self.iterations = 0

    def _reuse(self, flag: bool) -> None:
        self.ksp.getPC().setReusePreconditioner(flag)
        self.lu.setReusePreconditioner(flag)

    def solve(self, b, dx) -> int:
        dx.set(0.0)
        self._reuse(not self.fresh)
        if self.fresh:
            self.factorisations += 1
        self.ksp.solve(b, dx)
        its = self.ksp.getIterationNumber()
        if not self.fresh and (self.ksp.getConvergedReason() < 0 or its > MARCH_LAG_ITERATIONS):
            self.iterations += its
            self._reuse(False)
            self.factorisations += 1
            dx.set(0.0)
            self.ksp.solve(b, dx)
            its = self.ksp.getIterationNumber()
        self.iterations += its
        self.fresh = False
        if self.ksp.getConvergedReason() < 0:
            raise SolverError(f"the time march's linear solve failed (GMRES reason {self.ksp.getConvergedReason()})",
                              hint="Use a shorter flow.march_time_step_s.")
        return its

    def destroy(self) -> None:
        o = PETSc.Options()
        for k in MARCH_KSP:
            if o.hasName(self.prefix + k):
                o.delValue(self.prefix + k)
        self.ksp.destroy()
        if self.coupling is not None:
            self.woodbury.destroy()
            self.lu.destroy()


def march(ctx, f_start: float, progress: Progress | None = None) -> dict:
    """March ``ctx``'s flow in physical time from the current state (flow fraction ``f_start``) to the
    target flow and on, until it settles (Newton finishes), oscillates (time average) or the step budget
    ends (SolverError). ``ctx`` is the steady solver's context (see ``solve_steady``): ``s`` (set-up), ``spec``,
    ``problem``, ``w``, ``u_prev``, ``inv_dt``, ``v_dofs``, ``coupling``, ``set_flow(f)``, ``steady_residual()``,
    ``newton_finish()`` -> bool, ``tol`` (the Newton tolerance at the target), ``q_target`` (m^3/s),
    ``finish_with_newton`` (False: report the average of the settled window instead).
    Leaves ``ctx.w`` at the steady solution or the time-averaged fields; returns the ``march`` record."""
    s, spec, problem, w = ctx.s, ctx.spec, ctx.problem, ctx.w
    comm = s.tm.mesh.comm
    t0, c0 = time.perf_counter(), time.process_time()
    snes = problem.solver
    x, b = problem.x, problem.b
    J, P, _ = snes.getJacobian()
    t_jet, u_max, d_jet = jet_time(w.x.array[ctx.v_dofs], ctx.q_target * max(f_start, 1e-12), comm) \
        if f_start > 0 else (None, None, None)
    if t_jet is not None:  # the flow at the target: velocities scale with the flow, d does not
        t_jet *= f_start
        u_max /= f_start
    dt = spec.march_time_step_s or (MARCH_DT_PER_JET_TIME * t_jet if t_jet else None)
    if dt is None:
        raise InputError("a time march from rest needs flow.march_time_step_s (s)",
                         hint="About the convective time d / U of the fastest jet, e.g. 0.004 for a 3.6 mm "
                              "jet at 1 m/s.")
    if t_jet is not None:
        check_time_step(dt, t_jet)
    ramp = MARCH_RAMP_STEPS if f_start < 1.0 else 0
    max_steps = spec.march_max_steps
    if max_steps <= ramp + 2 * MIN_PERIODS:
        raise InputError(f"flow.march_max_steps = {max_steps} leaves no time after the {ramp}-step inflow ramp",
                         hint=f"Use at least {ramp + 10 * MIN_PERIODS}.")
    ds = s.ds
    u, p = ufl.split(w)
    f_flow = [fem.form(ufl.dot(u, s.n) * ds(tag)) for tag in s.outlet_tags]
    f_pin = fem.form(p * ds(s.inlet_tag))
    f_pout = [fem.form(p * ds(tag)) for tag in s.outlet_tags]
    area_in = s.inlet.area
    from surgiplan.core.simulation.flow import face_geometry

    areas = [face_geometry(s.tm, tag).area for tag in s.outlet_tags]

    def integral(form):
        return comm.allreduce(fem.assemble_scalar(form), MPI.SUM)

    names = [str(o.boundary) for o in spec.outlets]
    solver = _KeptLU(comm, J, P, ctx.coupling)
    dx = x.duplicate()
    rec = {"time_step_s": dt, "jet_time_s": t_jet, "jet_velocity_m_s": u_max, "jet_diameter_mm":
           None if d_jet is None else 1e3 * d_jet, "from_flow_fraction": f_start, "ramp_steps": ramp,
           "scheme": "backward Euler (one Newton iteration per step), resistance outlets implicit; GMRES on a "
                     f"kept MUMPS LU, refactorised above {MARCH_LAG_ITERATIONS} iterations",
           "outlets": names, "samples": []}
    samples = rec["samples"]
    states = []  # the mixed-space state after each step past the ramp
    ctx.inv_dt.value = 1.0 / dt
    t = 0.0
    result = None
    next_try = ramp
    try:
        for step in range(max_steps):
            if progress is not None and progress.cancelled:
                raise Cancelled("Simulation cancelled during the time march; nothing was written.")
            f = min(1.0, f_start + (1.0 - f_start) * (step + 1) / ramp) if ramp else 1.0
            ctx.set_flow(f)
            ctx.u_prev.x.array[:] = w.x.array[ctx.v_dofs]
            ctx.inv_dt.value = 1.0 / dt
            fem_petsc.assign(w, x)
            snes.computeFunction(x, b)
            snes.computeJacobian(x, J, P)
            its = solver.solve(b, dx)
            x.axpy(-1.0, dx)
            x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
            fem_petsc.assign(x, w)
            w.x.scatter_forward()
            t += dt
            if not np.all(np.isfinite(w.x.array)):
                raise SolverError(f"the time march blew up at t = {t:.4f} s",
                                  hint="Use a shorter flow.march_time_step_s.")
            r = ctx.steady_residual()  # sets u_prev = u: the steady residual at this state
            q = [integral(fm) for fm in f_flow]
            p_in = integral(f_pin) / area_in
            drops = [(p_in - integral(fm) / a) / MMHG_PA for fm, a in zip(f_pout, areas, strict=True)]
            samples.append({"t_s": t, "flow_fraction": f, "steady_residual": r, "gmres_iterations": its,
                            "outlet_flows_mL_s": [v * 1e6 for v in q], "drops_mmHg": drops})
            report(progress, min(0.99, (step + 1) / max_steps),
                   f"time march at {100 * f:.0f} % of the flow: t = {t:.3f} s (step {step + 1}/{max_steps}, "
                   f"{dt * 1e3:.2g} ms), steady residual {r:.2e}, inlet-to-outlet drops "
                   f"{'/'.join(f'{v:.3f}' for v in drops)} mmHg, outlet flows "
                   f"{'/'.join(f'{1e6 * v:.3f}' for v in q)} mL/s")
            if step < ramp:
                continue
            states.append(w.x.array.copy())
            k = len(states)
            res = [sm["steady_residual"] for sm in samples[-10:]]
            if (ctx.finish_with_newton and step >= next_try and r <= MARCH_NEWTON_TRY * ctx.tol
                    and len(res) == 10 and res[-1] <= 0.5 * res[0] and all(np.diff(res) < 0)):
                back = w.x.array.copy()
                ctx.inv_dt.value = 0.0
                ok = ctx.newton_finish()
                if ok:
                    result = "steady"
                    rec["newton_finish"] = {"converged": True, "at_t_s": t,
                                            "iterations": problem.solver.getIterationNumber()}
                    break
                w.x.array[:] = back
                ctx.set_flow(1.0)
                next_try = step + MARCH_NEWTON_RETRY
                rec.setdefault("newton_tries", []).append({"t_s": t, "converged": False})
            if k >= 3 * 4 * MIN_PERIODS and k % 4 == 0:
                verdict = _verdict(samples[-k:], settle_from=k // 3)
                if verdict is not None:
                    result = verdict
                    break
        else:
            k = len(states)
            verdict = _verdict(samples[-k:], settle_from=k // 3) if k >= 4 * MIN_PERIODS else None
            result = verdict
    finally:
        ctx.inv_dt.value = 0.0
        solver.destroy()
        dx.destroy()
    rec.update(steps=len(samples), simulated_time_s=t, factorisations=solver.factorisations,
               gmres_iterations=solver.iterations, wall_s=time.perf_counter() - t0,
               cpu_s=time.process_time() - c0)
    if result == "steady":
        rec["result"] = "steady"
        rec["label"] = (f"steady: the time march ({len(samples)} steps, {t:.3g} s of flow) settled and Newton "
                        "finished")
        return rec
    if result is None:
        last = samples[-1]
        tail = np.array([sm["drops_mmHg"] for sm in samples[-max(1, len(samples) // 3):]])
        ranges = ", ".join(f"{a:.3f}-{b:.3f}" for a, b in zip(tail.min(axis=0), tail.max(axis=0), strict=True))
        raise SolverError(
            f"the time march at the full flow neither settled nor oscillated regularly within {len(samples)} steps "
            f"({t:.3g} s of flow, steady residual {last['steady_residual']:.2g}, target {ctx.tol:.2g}; over the last "
            f"third the inlet-to-outlet drops ranged {ranges} mmHg)",
            hint="Allow more steps (flow.march_max_steps) or compare at a lower flow.")
    # time average over the window: whole periods (oscillating) or the settled last two thirds
    kind, (i0, i1), info = result
    k = len(states)
    base = len(samples) - k
    mean = np.mean(np.asarray(states[i0:i1]), axis=0)
    w.x.array[:] = mean
    w.x.scatter_forward()
    ctx.set_flow(1.0)
    if ctx.coupling is not None:
        ctx.coupling.update(w)
    win = samples[base + i0:base + i1]
    t_from, t_to = win[0]["t_s"] - dt, win[-1]["t_s"]
    drops = np.array([sm["drops_mmHg"] for sm in win])
    flows = np.array([sm["outlet_flows_mL_s"] for sm in win])
    rec["window"] = {"from_s": t_from, "to_s": t_to, "duration_s": t_to - t_from, "steps": i1 - i0, **info}
    rec["fluctuation"] = {
        "drop_mean_mmHg": dict(zip(names, drops.mean(axis=0).tolist(), strict=True)),
        "drop_amplitude_mmHg": dict(zip(names, (0.5 * np.ptp(drops, axis=0)).tolist(), strict=True)),
        "flow_mean_mL_s": dict(zip(names, flows.mean(axis=0).tolist(), strict=True)),
        "flow_amplitude_mL_s": dict(zip(names, (0.5 * np.ptp(flows, axis=0)).tolist(), strict=True)),
        "note": "inlet-to-outlet drops: mean inlet pressure minus mean outlet pressure, every step"}
    amp = max(rec["fluctuation"]["drop_amplitude_mmHg"].values())
    rec["steady_residual_of_mean"] = ctx.steady_residual()
    if kind == "unsteady":
        rec["result"] = "unsteady"
        rec["label"] = (f"unsteady jet: time-averaged over {t_to - t_from:.3g} s of flow ({info['periods']} periods "
                        f"of {1e3 * info['period_s']:.3g} ms), inlet-to-outlet drop varies +-{amp:.2g} mmHg")
    else:
        rec["result"] = "settled"
        rec["label"] = (f"steady: the time march settled (drops vary by less than +-{amp:.2g} mmHg over the last "
                        f"{t_to - t_from:.3g} s of flow); time-averaged over that window")
    return rec


def _verdict(samples: list[dict], settle_from: int):
    """('unsteady' | 'settled', window (i0, i1) in ``samples``, facts) or None (go on marching).

    Settled: every drop and flow varies by less than SETTLED_REL of its scale over the samples from
    ``settle_from`` on (window: those samples). Unsteady: the drop with the largest variation oscillates with
    at least MIN_PERIODS whole periods after ``settle_from`` and no trend (window: those periods)."""
    tail = samples[settle_from:]
    t = np.array([sm["t_s"] for sm in tail])
    drops = np.array([sm["drops_mmHg"] for sm in tail])
    flows = np.array([sm["outlet_flows_mL_s"] for sm in tail])
    scale_d = max(float(np.max(np.abs(drops))), 1e-12)
    scale_q = max(float(np.max(np.abs(flows))), 1e-12)
    if np.max(np.ptp(drops, axis=0)) < SETTLED_REL * scale_d and np.max(np.ptp(flows, axis=0)) < SETTLED_REL * scale_q:
        return "settled", (settle_from, len(samples)), {"periods": 0, "period_s": None}
    j = int(np.argmax(np.ptp(drops, axis=0)))
    osc = oscillation(t, drops[:, j])
    if osc["periods"] >= MIN_PERIODS and osc["trend"] is not None and abs(osc["trend"]) < 0.2:
        i0, i1 = osc["window"]
        return "unsteady", (settle_from + i0, settle_from + i1), {"periods": osc["periods"],
                                                                  "period_s": osc["period_s"],
                                                                  "signal": f"drop to outlet {j}"}
    return None
