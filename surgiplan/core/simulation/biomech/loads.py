"""Load presets (``resources/loads/*.json``) turned into forces in LPS for a case.

The hip presets are given in the femoral frame of Bergmann et al. 2016 in % body weight;
:func:`femoral_frame` builds that frame from the case's fitted landmarks and
:func:`hip_loads` returns the hip contact and abductor forces in N (LPS) with their sources.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from surgiplan.core.errors import InputError

G = 9.81  # m/s^2


def loads_path(anatomy: str) -> Path:
    from surgiplan.core.planning.catalog.loader import resources_dir

    return resources_dir() / "loads" / f"{anatomy}.json"


def load_presets(anatomy: str) -> dict:
    p = loads_path(anatomy)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the {anatomy} load presets ({exc})", path=p,
                         hint="Restore the file from the installation.") from None


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    n = float(np.linalg.norm(v))
    if not n > 0:
        raise InputError("a direction of zero length in the femoral frame")
    return v / n


@dataclass
class FemoralFrame:
    """Origin (head centre) and unit axes lateral (x), anterior (y), proximal (z) in LPS."""

    origin: np.ndarray
    lateral: np.ndarray
    anterior: np.ndarray
    proximal: np.ndarray

    def to_lps(self, v) -> np.ndarray:
        v = np.asarray(v, dtype=float)
        return v[0] * self.lateral + v[1] * self.anterior + v[2] * self.proximal


def femoral_frame(landmarks: dict, side: str) -> FemoralFrame:
    """The Bergmann 2016 femoral frame of ``side`` from fitted landmarks (see resources/loads/hip.json)."""
    need = [f"femoral_head_centre_{side}", f"femoral_canal_axis_{side}"]
    missing = [k for k in need if k not in landmarks]
    if missing:
        raise InputError(f"the case lacks the landmarks {', '.join(missing)} that define the femoral frame",
                         hint="Fit the hip landmarks first (surgiplan plan fit or the window's Landmarks step).")
    origin = np.asarray(landmarks[need[0]].position, dtype=float)
    axis = landmarks[need[1]].direction
    if axis is None:
        raise InputError(f"landmark {need[1]} has no direction")
    z = _unit(axis)
    if z[2] < 0:  # proximal = towards the head (superior)
        z = -z
    lat_lps = np.array([1.0, 0.0, 0.0]) if side == "left" else np.array([-1.0, 0.0, 0.0])
    x = _unit(lat_lps - np.dot(lat_lps, z) * z)
    ant = np.array([0.0, -1.0, 0.0])
    y = _unit(ant - np.dot(ant, z) * z - np.dot(ant, x) * x)
    return FemoralFrame(origin, x, y, z)


@dataclass
class HipLoads:
    """Forces in N (LPS), body weight in N, and the facts a summary states."""

    body_weight_N: float
    hip_contact_N: np.ndarray
    abductor_N: np.ndarray
    facts: dict = field(default_factory=dict)


def body_mass_kg(case, default: float) -> tuple[float, str]:
    m = case.model.settings.get("patient_mass_kg") if case is not None else None
    try:
        if m is not None and 20.0 <= float(m) <= 400.0:
            return float(m), "case settings 'patient_mass_kg'"
    except (TypeError, ValueError):
        pass
    return float(default), "default (the case records no patient mass)"


def hip_loads(preset: str, frame: FemoralFrame, mass_kg: float, *, mass_source: str = "") -> HipLoads:
    """Hip contact and abductor forces of ``preset`` ('walking', 'stairs') in N, LPS."""
    data = load_presets("hip")
    presets = data.get("presets", {})
    if preset not in presets:
        raise InputError(f"unknown hip load preset {preset!r} (known: {', '.join(presets)})", path=loads_path("hip"))
    p = presets[preset]
    bw = mass_kg * G
    hc = frame.to_lps(np.asarray(p["hip_contact_percent_bw"], float) / 100.0 * bw)
    ab = frame.to_lps(np.asarray(p["abductor_percent_bw"], float) / 100.0 * bw)
    facts = {
        "load_preset": f"hip {preset}: {p['description']}",
        "body_weight": f"{bw:.0f} N ({mass_kg:g} kg; {mass_source or 'given'})",
        "hip_contact_force": (f"{np.linalg.norm(hc):.0f} N = {np.linalg.norm(p['hip_contact_percent_bw']):.0f} %BW "
                              f"({', '.join(f'{v:g}' for v in p['hip_contact_percent_bw'])} %BW lateral, anterior, "
                              "proximal in the femoral frame)"),
        "hip_contact_source": p["hip_contact_source"],
        "abductor_force": (f"{np.linalg.norm(ab):.0f} N ({', '.join(f'{v:g}' for v in p['abductor_percent_bw'])} %BW "
                           "lateral, anterior, proximal)"),
        "abductor_source": p["abductor_source"],
        "frame": data["frame"]["definition_here"],
    }
    return HipLoads(bw, hc, ab, facts)
