"""Case study ``vessel-pulsatile``: pulsatile blood flow through the case's lumen over a few cardiac cycles,
reporting the last one: time-averaged wall shear stress (TAWSS) and oscillatory shear index (OSI) on the
wall, beside the steady studies' centreline table and lesion pressures (at the end of the last cycle).

Set-up: the ``vessel-rest`` model (:mod:`surgiplan.core.simulation.vessel.case_study`: the same lumen, stent,
mesh, Murray split and outlet resistances), with the inflow ``mean flow x waveform(t)``:

* :func:`infrarenal_waveform`: a smooth resting infrarenal-aorta waveform, period 1 s, normalised to a
  mean of 1: systolic peak 4.25 x the mean at 0.16 s, a reversal to -0.80 x the mean at 0.36 s (end
  systole / early diastole, backward flow over 10 % of the cycle), a small forward diastolic flow. Its
  features follow the MRI measurements of the resting infrarenal aorta: retrograde flow at end systole
  and early diastole, largest just below the renal arteries (Mostbeck et al. 1993, J Magn Reson Imaging
  3:617; Moore & Ku 1994, J Biomech Eng 116:107, resting infrarenal waveform with peak several times the
  mean). It is a
  two-Gaussian approximation with those landmarks, not digitised data; give ``waveform`` (a list of
  [t_s, factor] pairs over one period) for a patient's own;
* ``cycles`` (default 3; the first ones wash out the start from rest) and ``steps_per_cycle``: by default
  from a Courant number of 1 at the peak jet through the narrowest section (peak flow over the minimal
  lumen area, against the smallest cell there, ``LESION_SIZE_PER_RADIUS`` x the minimal radius): the
  solver's convecting velocity is extrapolated (Adams-Bashforth), and a pipe run at Courant 3.3 gave a
  wall shear 1000x too high; at least 48 steps. On a tight stenosis this is thousands of steps per
  cycle (the vascular sample's 3.6 mm lesion: 15 700 at 20 mL/s mean), each a MUMPS factorisation;
* outlets: the steady study's resistances p_i = R_i Q_i (explicit in time: stable for time steps well
  below the outlet's inertance / resistance time, ~3 ms for the iliac legs, which the Courant step is).

Options (``--option KEY=VALUE``): ``flow_mL_s`` (mean), ``period_s``, ``cycles``, ``steps_per_cycle``,
``waveform``, and the steady study's (``viscosity`` incl. ``carreau-yasuda``, ``density``, ``split``,
``h_max_mm``, ``stent``, ``mean_pressure_mmHg``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import Progress, report, sub_progress

SUPPORTED_STUDIES = ("vessel-pulsatile",)
DEFAULTS = {"flow_mL_s": 20.0, "mean_pressure_mmHg": 93.0, "period_s": 1.0, "cycles": 3}
MIN_STEPS = 48
MAX_STEPS_PER_CYCLE = 20_000
WAVEFORM_POINTS = 50
WAVEFORM_SOURCE = ("resting infrarenal aorta, two-Gaussian approximation with the MRI landmarks of Mostbeck "
                   "1993 (JMRI 3:617) and Moore & Ku 1994 (J Biomech Eng 116:107); mean 1")


def infrarenal_waveform(n: int = WAVEFORM_POINTS) -> list[tuple[float, float]]:
    """(t / period, factor) pairs at n equal steps over one period, mean factor exactly 1 (see module doc)."""
    t = np.arange(n) / n

    def bump(c, w):
        d = (t - c + 0.5) % 1.0 - 0.5  # periodic
        return np.exp(-(d / w) ** 2)

    f = 0.22 + bump(0.16, 0.065) - 0.45 * bump(0.36, 0.06)
    f = f / f.mean()  # the solver interpolates linearly and periodically: its mean is the samples' mean
    return [(float(a), float(b)) for a, b in zip(t, f, strict=True)]


def _number(options: dict, key: str, default, lo: float, hi: float, integer: bool = False):
    raw = options.get(key, default)
    try:
        v = float(raw)
    except (TypeError, ValueError):
        v = float("nan")
    if isinstance(raw, bool) or not (math.isfinite(v) and lo <= v <= hi) or (integer and v != int(v)):
        kind = "a whole number" if integer else "a number"
        raise InputError(f"option {key}={raw!r} must be {kind} in [{lo:g}, {hi:g}]")
    return int(v) if integer else v


def pulsatile_settings(options: dict) -> dict:
    """Period, cycles, waveform (t s, factor) and the optional step count from ``options`` (checked)."""
    period = _number(options, "period_s", DEFAULTS["period_s"], 0.2, 5.0)
    cycles = _number(options, "cycles", DEFAULTS["cycles"], 1, 20, integer=True)
    steps = options.get("steps_per_cycle")
    if steps is not None:
        steps = _number(options, "steps_per_cycle", steps, 4, MAX_STEPS_PER_CYCLE, integer=True)
    wf = options.get("waveform")
    if wf is None:
        wave = [(t * period, f) for t, f in infrarenal_waveform()]
        source = WAVEFORM_SOURCE
    else:
        try:
            arr = np.asarray(wf, float)
        except (TypeError, ValueError):
            arr = np.zeros((0,))
        if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) < 2 or not np.all(np.isfinite(arr)) \
                or np.any(np.diff(arr[:, 0]) <= 0) or arr[0, 0] < 0 or arr[-1, 0] > period:
            raise InputError("option waveform must be [[t_s, factor], ...] with at least two pairs, times "
                             f"increasing within one period (0 .. {period:g} s)")
        mean = float(np.mean(arr[:, 1]))
        if not mean > 0:
            raise InputError("option waveform has no forward mean flow (mean factor <= 0)")
        wave = [(float(t), float(f) / mean) for t, f in arr]
        source = "given by the user (normalised to mean 1)"
    return {"period_s": period, "cycles": cycles, "steps_per_cycle": steps, "waveform": wave,
            "waveform_source": source}


def courant_steps(info: dict, flow_mL_s: float, settings: dict) -> tuple[int, dict]:
    """Steps per cycle for a Courant number of 1 at the peak flow through the narrowest lumen section."""
    from surgiplan.core.vessels.flow_mesh import LESION_SIZE_PER_RADIUS

    radii = [r for cl in info["centrelines"] for r in cl["radius_mm"][cl["inlet_cut_index"]:cl["outlet_cut_index"] + 1]
             if r is not None]
    r_min = min(radii) * 1e-3
    peak = max(f for _, f in settings["waveform"]) * flow_mL_s * 1e-6
    # the whole inflow through the narrowest section is an upper bound (a branch takes only its share)
    u_peak = peak / (math.pi * r_min**2)
    h = LESION_SIZE_PER_RADIUS * r_min
    steps = max(MIN_STEPS, math.ceil(settings["period_s"] * u_peak / h))
    return steps, {"narrowest_radius_mm": r_min * 1e3, "peak_velocity_bound_m_s": u_peak, "cell_mm": h * 1e3}


def pulsatile_study_dict(study: dict, settings: dict, steps: int, flow_mL_s: float) -> dict:
    """The steady vessel study file turned pulsatile (a new dict; ``flow_mL_s`` is the mean flow)."""
    out = json.loads(json.dumps(study))
    out["name"] = "vessel-pulsatile"
    fl = out["flow"]
    fl["inlet"]["flow_rate_mL_s"] = flow_mL_s
    fl["inlet"]["waveform"] = [list(p) for p in settings["waveform"]]
    fl["pulsatile"] = {"period_s": settings["period_s"], "cycles": settings["cycles"], "steps_per_cycle": steps}
    # the steady solve's options (Newton line search) mean nothing to the linear time steps: a fresh MUMPS LU
    out["solver"] = {"method": "direct"}
    out.setdefault("outputs", {})
    return out


def prepare(case, plan_name: str, study: str, out_dir: Path, progress: Progress | None, options: dict) -> Path:
    from surgiplan.core.fileio import atomic_write_text
    from surgiplan.core.simulation.study_schema import parse_study
    from surgiplan.core.simulation.vessel import case_study as steady

    if study not in SUPPORTED_STUDIES:
        raise InputError(f"unknown pulsatile vessel study {study!r}", hint="Use vessel-pulsatile.")
    options = dict(options or {})
    settings = pulsatile_settings(options)  # checked before the (slow) vessel model
    flow = _number(options, "flow_mL_s", DEFAULTS["flow_mL_s"], 1e-3, 1e4)
    options["flow_mL_s"] = flow
    options.setdefault("mean_pressure_mmHg", DEFAULTS["mean_pressure_mmHg"])
    out_dir = Path(out_dir)
    path = steady.prepare(case, plan_name, "vessel-rest", out_dir, sub_progress(progress, 0.0, 0.95), options)
    report(progress, 0.96, "pulsatile set-up")
    geo = json.loads((out_dir / steady.GEOMETRY_FILE).read_text(encoding="utf-8"))
    auto, cfl = courant_steps(geo["geometry"], flow, settings)
    steps = settings["steps_per_cycle"] or min(auto, MAX_STEPS_PER_CYCLE)
    sd = pulsatile_study_dict(json.loads(path.read_text(encoding="utf-8")), settings, steps, flow)
    text = json.dumps(sd, indent=1)
    parse_study(text, path)  # refuse here, not in the child process
    bc = geo["boundary_conditions"]
    bc.update({"study": study, "pulsatile": {
        "period_s": settings["period_s"], "cycles": settings["cycles"], "steps_per_cycle": steps,
        "time_step_ms": 1e3 * settings["period_s"] / steps, "mean_flow_mL_s": flow,
        "peak_flow_mL_s": flow * max(f for _, f in settings["waveform"]),
        "min_flow_mL_s": flow * min(f for _, f in settings["waveform"]),
        "waveform_source": settings["waveform_source"], "courant": cfl, "courant_steps": auto}})
    atomic_write_text(out_dir / steady.GEOMETRY_FILE, json.dumps(geo, indent=1))
    atomic_write_text(path, text)
    report(progress, 1.0, f"pulsatile vessel study ready ({settings['cycles']} x {steps} steps)")
    return path


def finish(case, plan_name: str, study: str, out_dir: Path, summary: dict, progress: Progress | None) -> dict:
    from surgiplan.core.simulation.vessel import case_study as steady
    from surgiplan.core.simulation.vessel.results import json_safe

    out_dir = Path(out_dir)
    res = steady.finish(case, plan_name, "vessel-rest", out_dir, summary, sub_progress(progress, 0.0, 0.8))
    res["study"] = study
    geo = json.loads((out_dir / steady.GEOMETRY_FILE).read_text(encoding="utf-8"))
    puls = geo["boundary_conditions"].get("pulsatile", {})
    report(progress, 0.85, "TAWSS and OSI on the wall")
    cyc = add_cycle_fields(out_dir, res)
    res["wall_shear_cycle"] = {"anatomical_wall": cyc, "all_wall_cells": summary.get("wall_shear_cycle", {})}
    res["pulsatile"] = dict(puls, last_cycle_mean_inlet_flow_mL_s=summary.get("last_cycle_mean_inlet_flow_mL_per_s"))
    res["setup"]["inflow"] = (f"pulsatile: mean {puls.get('mean_flow_mL_s', 0):g} mL/s x waveform "
                              f"({puls.get('waveform_source', '')}), peak {puls.get('peak_flow_mL_s', 0):.1f}, "
                              f"minimum {puls.get('min_flow_mL_s', 0):.1f} mL/s; developed (parabolic) profile")
    res["setup"]["time"] = (f"{puls.get('cycles')} cycles of {puls.get('period_s')} s, "
                            f"{puls.get('steps_per_cycle')} steps per cycle ({puls.get('time_step_ms', 0):.3g} ms; "
                            "Crank-Nicolson, explicit Adams-Bashforth convection); results of the last cycle; "
                            "centreline table and lesion pressures at its end (end diastole)")
    report(progress, 1.0, "pulsatile vessel study done")
    return json_safe(res)


def add_cycle_fields(out_dir: Path, summary: dict) -> dict:
    """Put ``tawss_Pa`` and ``osi`` (from ``results.xdmf``) on ``surface.vtp``, add their display fields and
    key results to ``summary`` (in place); return the anatomical wall's TAWSS/OSI statistics."""
    import pyvista as pv
    from scipy.spatial import cKDTree

    from surgiplan.core.simulation.results import read_results
    from surgiplan.core.simulation.vessel.results import write_vtp
    from surgiplan.core.simulation.vessel.wall_shear_cycle import OSI_HIGH, TAWSS_LOW

    out_dir = Path(out_dir)
    grid = read_results(out_dir / "results.xdmf")
    if "tawss_Pa" not in grid.cell_data or "osi" not in grid.cell_data:
        raise InputError("results.xdmf holds no tawss_Pa / osi fields (not a pulsatile run?)",
                         path=out_dir / "results.xdmf")
    wall = grid.extract_surface(algorithm="dataset_surface")
    surf = pv.read(str(out_dir / "surface.vtp"))  # written by the steady finish (our own file)
    # the display surface's faces are faces of the solved mesh (mm): nearest face centre
    _d, idx = cKDTree(wall.cell_centers().points * 1e3).query(surf.cell_centers().points)
    for name in ("tawss_Pa", "osi"):
        surf.cell_data[name] = np.asarray(wall.cell_data[name])[idx]
    pd = surf.cell_data_to_point_data(pass_cell_data=True)
    for name in ("tawss_Pa", "osi"):
        surf.point_data[name] = np.asarray(pd.point_data[name])
    write_vtp(out_dir / "surface.vtp", surf)
    a = np.asarray(surf.compute_cell_sizes(length=False, volume=False).cell_data["Area"])
    anat = np.asarray(surf.cell_data["anatomy"], bool) if "anatomy" in surf.cell_data else np.ones(len(a), bool)
    m = anat & (a > 0)
    tw, osi = np.asarray(surf.cell_data["tawss_Pa"]), np.asarray(surf.cell_data["osi"])
    stats = {"tawss_mean_Pa": float((tw[m] * a[m]).sum() / a[m].sum()), "tawss_max_Pa": float(tw[m].max()),
             "osi_mean": float((osi[m] * a[m]).sum() / a[m].sum()), "osi_max": float(osi[m].max()),
             f"area_osi_above_{OSI_HIGH}_mm2": float(a[m & (osi > OSI_HIGH)].sum()),
             f"area_tawss_below_{TAWSS_LOW}_Pa_mm2": float(a[m & (tw < TAWSS_LOW)].sum()),
             "wall_area_mm2": float(a[m].sum())}
    summary.setdefault("display_fields", []).extend([
        {"name": "tawss_Pa", "label": "time-averaged wall shear stress", "unit": "Pa",
         "range": [0.0, float(np.percentile(surf.point_data["tawss_Pa"], 99))]},
        {"name": "osi", "label": "oscillatory shear index", "unit": "1", "range": [0.0, 0.5]}])
    where = "vessel wall, last cycle"
    summary.setdefault("key_results", []).extend([
        {"label": "time-averaged WSS (mean)", "value": round(stats["tawss_mean_Pa"], 3), "unit": "Pa", "region": where},
        {"label": "time-averaged WSS (max)", "value": round(stats["tawss_max_Pa"], 3), "unit": "Pa", "region": where},
        {"label": "oscillatory shear index (mean)", "value": round(stats["osi_mean"], 4), "unit": "1", "region": where},
        {"label": f"wall area with OSI > {OSI_HIGH}", "value": round(stats[f"area_osi_above_{OSI_HIGH}_mm2"], 1),
         "unit": "mm^2", "region": where},
        {"label": f"wall area with TAWSS < {TAWSS_LOW} Pa",
         "value": round(stats[f"area_tawss_below_{TAWSS_LOW}_Pa_mm2"], 1), "unit": "mm^2", "region": where}])
    return stats
