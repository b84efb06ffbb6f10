"""Strain-adaptive bone remodelling: the Huiskes-type rule with a lazy zone, per element.

The rule (Huiskes et al. 1987, J. Biomech. 20:1135; Weinans, Huiskes, Grootenboer 1992,
J. Biomech. 25:1425), per element with apparent density ``rho`` (g/cm^3):

* stimulus ``S = U / rho`` (J/g): strain energy density ``U`` (MPa = mJ/mm^3 = J/cm^3) per unit mass;
* reference stimulus ``k`` (J/g): site-specific (the same element's stimulus in the intact bone,
  the usual choice for a stem: Huiskes 1992, Kerner 1999) or one constant for the whole bone;
* lazy zone of half-width ``s``: no change while ``(1 - s) k <= S <= (1 + s) k``;
* ``d rho / dt = B (S - (1 + s) k)`` above it, ``B (S - (1 - s) k)`` below it (``B`` in
  (g/cm^3)^2 / (MPa time unit));
* ``E = C rho^gamma`` (MPa), the density kept within ``[rho_min, rho_max]``.

Integrated by explicit (forward) Euler; the shared reference case ``bone_remodelling_uniform_bar``
(checked by :mod:`surgiplan.core.twin.remodel_verify`, in ``surgiplan verify``) fixes the rule and
its time scale. Parameter values and their sources: :class:`RemodelParams`. Internal (surface
area) remodelling factors and multiple load cases are not modelled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class RemodelParams:
    """Parameters of the rule (densities g/cm^3, stimuli J/g, time in months).

    Defaults and where they come from:

    * ``lazy_zone_half_width`` 0.75: the lazy-zone width of the reference case (the value used
      in the Huiskes/Kerner stem studies as commonly cited; the papers themselves were not
      re-read here: the search tool found no full text).
    * ``reference``: ``"site-specific"`` (the intact femur's stimulus element by element, the
      approach of Huiskes 1992 / Kerner 1999 for post-operative adaptation) or ``"constant"``
      with ``reference_stimulus_J_per_g`` (Weinans 1992: of order 0.004 J/g).
    * ``rate_constant`` B = 15 (g/cm^3)^2 / (MPa month): Huiskes/Weinans give no physiological time
      unit. We take one month as the unit and set B from disuse: bone with no load (S = 0) at a
      reference stimulus of 0.004 J/g and density 1 g/cm^3 then loses B (1 - s) k = 0.015 g/cm^3,
      1.5 % a month, the hip BMD loss rate of astronauts on the ISS (1.4-1.5 % a month, Lang et al.
      2004, J. Bone Miner. Res. 19:1006, as quoted by later papers). This mapping of iterations to
      months is an assumption, stated in every summary.
    * ``density_min`` 0.01 and ``density_max`` 1.92 g/cm^3: the bounds of the reference case's
      description (``0.01 .. 1.92 g/cm^3 when a solver clips``); an element whose CT density is
      above ``density_max`` keeps its own value as its upper bound.
    * ``modulus_constant`` C and ``modulus_exponent`` gamma: taken from the study's CT law so that
      the starting moduli are exactly the CT-mapped ones (Morgan 2003 femoral neck: 6850, 1.49);
      Carter & Hayes 1977 / Weinans 1992: 3790, 3.
    """

    lazy_zone_half_width: float = 0.75
    rate_constant: float = 15.0
    reference: str = "site-specific"
    reference_stimulus_J_per_g: float = 0.004
    density_min: float = 0.01
    density_max: float = 1.92
    modulus_constant: float = 6850.0
    modulus_exponent: float = 1.49
    time_step_months: float = 1.0

    def __post_init__(self):
        if not 0.0 <= self.lazy_zone_half_width < 1.0:
            raise ValueError(f"lazy_zone_half_width must be in [0, 1) (got {self.lazy_zone_half_width})")
        if self.reference not in ("site-specific", "constant"):
            raise ValueError(f"reference must be 'site-specific' or 'constant' (got {self.reference!r})")
        for name in ("rate_constant", "reference_stimulus_J_per_g", "density_min", "modulus_constant",
                     "modulus_exponent", "time_step_months"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number (got {v})")
        if not self.density_max > self.density_min:
            raise ValueError(f"density_max ({self.density_max}) must exceed density_min ({self.density_min})")

    def to_dict(self) -> dict:
        return asdict(self)


def modulus(rho: np.ndarray, p: RemodelParams) -> np.ndarray:
    """E = C rho^gamma (MPa) for apparent density ``rho`` (g/cm^3)."""
    return p.modulus_constant * np.power(np.asarray(rho, float), p.modulus_exponent)


def density_from_modulus(E: np.ndarray, p: RemodelParams) -> np.ndarray:
    """rho = (E / C)^(1/gamma) (g/cm^3): the inverse of :func:`modulus`."""
    return np.power(np.asarray(E, float) / p.modulus_constant, 1.0 / p.modulus_exponent)


def stimulus(sed_MPa: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """S = U / rho (J/g) from the strain energy density U (MPa = J/cm^3) and rho (g/cm^3)."""
    return np.asarray(sed_MPa, float) / np.asarray(rho, float)


def rate(S: np.ndarray, k: np.ndarray, s: float, B: float) -> np.ndarray:
    """d rho / dt (g/cm^3 per time unit) of the lazy-zone rule."""
    S = np.asarray(S, float)
    k = np.asarray(k, float)
    hi, lo = (1.0 + s) * k, (1.0 - s) * k
    return np.where(S > hi, B * (S - hi), np.where(S < lo, B * (S - lo), 0.0))


def step(rho: np.ndarray, S: np.ndarray, k: np.ndarray, p: RemodelParams, dt: float,
         upper: np.ndarray | None = None) -> np.ndarray:
    """One explicit Euler step of ``dt`` time units; densities clipped to the bounds.

    ``upper`` (per element) replaces ``density_max`` as the upper bound where given.
    """
    new = np.asarray(rho, float) + dt * rate(S, k, p.lazy_zone_half_width, p.rate_constant)
    hi = p.density_max if upper is None else upper
    return np.clip(new, p.density_min, hi)


def uniform_bar_history(sigma_MPa: float, rho0: np.ndarray, k: float, p: RemodelParams, t_end: float,
                        dt: float, times: tuple[float, ...] = ()) -> tuple[np.ndarray, dict[float, np.ndarray]]:
    """Density of a uniform bar under a constant axial stress (statically determinate: sigma does not
    depend on E), integrated by :func:`step` with the FE solve replaced by U = sigma^2 / (2E).

    ``rho0`` may hold several starting densities (integrated together). Returns the densities at
    ``t_end`` and at each of ``times`` (the step that reaches it).
    """
    rho = np.array(rho0, dtype=float)
    n = int(np.ceil(t_end / dt - 1e-9))
    marks = {float(t): int(round(t / dt)) for t in times}
    at: dict[float, np.ndarray] = {}
    for i in range(1, n + 1):
        U = sigma_MPa ** 2 / (2.0 * modulus(rho, p))
        rho = step(rho, stimulus(U, rho), np.full_like(rho, k), p, dt)
        for t, m in marks.items():
            if m == i:
                at[t] = rho.copy()
    return rho, at
