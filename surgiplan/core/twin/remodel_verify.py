"""Verification of the remodelling rule on the shared case ``bone_remodelling_uniform_bar``.

Every parameter, reference value and tolerance is read from the reference file (none is written
here). The bar is statically determinate, so the FE solve is replaced by U = sigma^2 / (2E); the
rule itself (:func:`surgiplan.core.twin.remodel_rule.step`, the one the hip study uses) is
integrated by explicit Euler with a step of 0.2 time units (the case asks for <= 1) to
``5 x`` the slowest tabulated time-to-99 %. Rows: the equilibrium density (s = 0), both
lazy-zone edges, the final density of every tabulated run and its density at every tabulated time.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.jobs import report
from surgiplan.core.twin.remodel_rule import RemodelParams, uniform_bar_history

CASE = "bone_remodelling_uniform_bar"
#: Euler step (reference time units) of the verification runs
DT = 0.2


def verify_remodelling(cases: dict, progress=None) -> list:
    """Rows (``verify.CaseResult``) of the remodelling rule against the reference case."""
    from surgiplan.core.simulation.verify import _Case, _row

    c = _Case(cases, CASE)
    tol = c.tol
    sigma = c.p("axial_force_F") / c.p("cross_section_A")
    k = c.p("reference_stimulus_k")
    runs = c.c["runs"]
    t_end = 5.0 * max(float(r["time_to_99_percent_of_change"]) for r in runs)
    rows = [_row(c.name, "remodelling", "axial_stress", sigma, c.q("axial_stress"), "MPa", tol)]
    widths = sorted({float(r["lazy_zone_half_width_s"]) for r in runs})
    finals: dict[tuple[float, float], float] = {}
    for j, s in enumerate(widths):
        sel = [r for r in runs if float(r["lazy_zone_half_width_s"]) == s]
        p = RemodelParams(lazy_zone_half_width=s, rate_constant=c.p("rate_constant_B"), reference="constant",
                          reference_stimulus_J_per_g=k, density_min=1e-6, density_max=1e6,
                          modulus_constant=c.p("modulus_constant_C"), modulus_exponent=c.p("exponent_gamma"))
        times = tuple(sorted({float(t) for r in sel for t in r["density_at_times"]}))
        rho0 = np.array([float(r["rho0_g_per_cm3"]) for r in sel])
        final, at = uniform_bar_history(sigma, rho0, k, p, t_end, DT, times)
        for i, r in enumerate(sel):
            label = f"s={s:g} rho0={float(r['rho0_g_per_cm3']):g}"
            finals[(s, float(r["rho0_g_per_cm3"]))] = float(final[i])
            rows.append(_row(c.name, "remodelling", f"final density, {label}", final[i],
                             r["final_density_g_per_cm3"], "g/cm^3", tol))
            for t, ref in r["density_at_times"].items():
                rows.append(_row(c.name, "remodelling", f"density at t={float(t):g}, {label}",
                                 at[float(t)][i], ref, "g/cm^3", tol))
        report(progress, (j + 1) / (len(widths) + 1), f"remodelling s={s:g} verified")
    s0 = c.p("lazy_zone_half_width_s")
    named = [("equilibrium_density", (0.0, 0.8)), ("final_density_no_lazy_zone", (0.0, 1.5)),
             ("lazy_zone_lower_density_edge", (s0, 0.8)), ("final_density_from_0.8", (s0, 0.8)),
             ("final_density_from_1.5", (s0, 1.5)), ("final_density_from_1.5_s0.1", (0.1, 1.5)),
             ("final_density_from_0.8_s0.1", (0.1, 0.8))]
    for name, key in named:
        if key in finals:
            rows.append(_row(c.name, "remodelling", name, finals[key], c.q(name), "g/cm^3", tol))
    # the upper edge of the s = 0.75 lazy zone: a start above it (2.2 g/cm^3) comes down to it
    p = RemodelParams(lazy_zone_half_width=s0, rate_constant=c.p("rate_constant_B"), reference="constant",
                      reference_stimulus_J_per_g=k, density_min=1e-6, density_max=1e6,
                      modulus_constant=c.p("modulus_constant_C"), modulus_exponent=c.p("exponent_gamma"))
    upper, _ = uniform_bar_history(sigma, np.array([2.2]), k, p, 10.0 * t_end, 1.0)
    rows.append(_row(c.name, "remodelling", "lazy_zone_upper_density_edge (from 2.2)", upper[0],
                     c.q("lazy_zone_upper_density_edge"), "g/cm^3", tol))
    report(progress, 1.0, "remodelling verified")
    return rows
