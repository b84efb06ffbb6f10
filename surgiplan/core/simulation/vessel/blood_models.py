"""The blood model of a vessel study from its ``viscosity`` option.

``viscosity`` is a Newtonian viscosity in Pa s (default 0.0035) or ``carreau-yasuda`` (also
``carreau_yasuda``): shear-thinning blood, mu = mu_inf + (mu0 - mu_inf) (1 + (lambda gamma)^a)^((n - 1) / a)
with the schema's constants (mu0 0.056 Pa s, mu_inf 0.00345 Pa s, lambda 3.313 s, n 0.3568, a 2; Cho &
Kensey 1991 as used by Gijsen et al. 1999, J Biomech 32:601). The Reynolds numbers of a Carreau-Yasuda
study use ``reference_viscosity`` (mu_inf by default: the high-shear limit that a large artery sees).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from surgiplan.core.errors import InputError

CARREAU_NAMES = ("carreau-yasuda", "carreau_yasuda")


@dataclass(frozen=True)
class BloodModel:
    model: str  # "newtonian" | "carreau_yasuda"
    viscosity_Pa_s: float  # Newtonian viscosity, or the reference viscosity of the Reynolds number
    density_kg_m3: float

    def fluid(self) -> dict:
        """The study file's ``flow.fluid`` block."""
        d = {"density_kg_m3": self.density_kg_m3, "viscosity_Pa_s": self.viscosity_Pa_s}
        if self.model != "newtonian":
            d["model"] = self.model
        return d

    def label(self) -> str:
        if self.model == "newtonian":
            return f"Newtonian, {self.density_kg_m3:g} kg/m^3, {1e3 * self.viscosity_Pa_s:g} mPa s"
        return (f"Carreau-Yasuda (shear-thinning; mu0 56 mPa s, mu_inf 3.45 mPa s, lambda 3.313 s, n 0.3568, "
                f"a 2; Cho & Kensey 1991), {self.density_kg_m3:g} kg/m^3")


def blood_model(options: dict | None) -> BloodModel:
    """The blood model of a study's ``options`` (``viscosity``, ``density``); InputError naming the option."""
    options = options or {}
    raw_rho = options.get("density", 1060.0)
    try:
        rho = float(raw_rho)
    except (TypeError, ValueError):
        rho = float("nan")
    if not (math.isfinite(rho) and 0 < rho <= 1e5):
        raise InputError(f"option density={raw_rho!r} is not a density in kg/m^3",
                         hint="Blood: density=1060.")
    raw = options.get("viscosity", 0.0035)
    if isinstance(raw, str) and raw.strip().lower() in CARREAU_NAMES:
        ref = options.get("reference_viscosity", 0.00345)
        try:
            ref = float(ref)
        except (TypeError, ValueError):
            ref = float("nan")
        if not (math.isfinite(ref) and 0 < ref <= 1e3):
            raise InputError(f"option reference_viscosity={options.get('reference_viscosity')!r} is not a "
                             "viscosity in Pa s", hint="e.g. reference_viscosity=0.00345")
        return BloodModel("carreau_yasuda", ref, rho)
    try:
        mu = float(raw)
    except (TypeError, ValueError):
        mu = float("nan")
    if isinstance(raw, bool) or not (math.isfinite(mu) and 0 < mu <= 1e3):
        raise InputError(f"option viscosity={raw!r} is neither a viscosity in Pa s nor a blood model",
                         hint="Give e.g. viscosity=0.0035 (Newtonian) or viscosity=carreau-yasuda.")
    return BloodModel("newtonian", mu, rho)


def apply_blood_model(study: dict, blood: BloodModel) -> dict:
    """Set ``study['flow']['fluid']`` (the steady solver switches its SUPG term off by itself for a
    non-Newtonian fluid: its strong residual assumes a constant viscosity)."""
    study["flow"]["fluid"] = blood.fluid()
    return study
