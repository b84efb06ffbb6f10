"""CT numbers to bone density to Young's modulus (HU -> g/cm^3 -> MPa), integrated per element.

The chain (the one the shared reference case ``hu_density_modulus_mapping`` tabulates):

1. ``rho_QCT = intercept + slope * HU`` (g/cm^3, K2HPO4-equivalent): a linear calibration.
   The default (slope 0.0008 g/cm^3 per HU, intercept 0) is an *assumed example*, not a published
   calibration: a real scan needs its phantom's rods. Both numbers are settable in the study file.
2. ``rho_ash = 0.877 rho_QCT + 0.079`` (Schileo et al. 2008, J. Biomech. 41:2483).
3. ``rho_app = rho_ash / 0.6`` (ash fraction 0.6, Schileo et al. 2008).
4. ``E`` (MPa) by a published power law:

   * ``morgan2003_femoral_neck``: ``6850 rho_app^1.49`` (Morgan, Bayraktar, Keaveny 2003,
     J. Biomech. 36:897, femoral neck);
   * ``morgan2003_pooled``: ``8920 rho_app^1.83`` (same paper, pooled sites);
   * ``keyak_falkinstein2003``: ``14664 rho_ash^1.49`` (Keyak, Falkinstein 2003, Med. Eng. Phys.
     25:781);
   * ``carter_hayes1977``: ``3790 eps_dot^0.06 rho_app^3`` (Carter, Hayes 1977, JBJS 59:954;
     strain rate eps_dot in 1/s).

   A density <= 0 (air, fat) has no modulus by these laws: the result is clipped to
   ``min_modulus_MPa``.

:func:`cell_modulus` integrates E (not HU) over each tetrahedron with a Gauss rule: the element's
modulus is the volume average of E(HU(x)) with HU trilinearly interpolated in the CT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LAWS = ("morgan2003_femoral_neck", "morgan2003_pooled", "keyak_falkinstein2003", "carter_hayes1977")


@dataclass(frozen=True)
class BoneMapping:
    """Parameters of the HU -> E chain (densities g/cm^3, moduli MPa)."""

    law: str = "morgan2003_femoral_neck"
    calibration_slope_g_cm3_per_HU: float = 0.0008
    calibration_intercept_g_cm3: float = 0.0
    ash_slope: float = 0.877
    ash_intercept_g_cm3: float = 0.079
    ash_to_apparent: float = 0.6
    strain_rate_per_s: float = 1.0
    min_modulus_MPa: float = 10.0

    def __post_init__(self):
        if self.law not in LAWS:
            raise ValueError(f"unknown modulus law {self.law!r}; choose from {', '.join(LAWS)}")
        if not (self.ash_to_apparent > 0 and self.min_modulus_MPa > 0 and self.strain_rate_per_s > 0):
            raise ValueError("ash_to_apparent, min_modulus_MPa and strain_rate_per_s must be > 0")

    def describe(self) -> str:
        law = {
            "morgan2003_femoral_neck": "E = 6850 rho_app^1.49 (Morgan et al. 2003, femoral neck)",
            "morgan2003_pooled": "E = 8920 rho_app^1.83 (Morgan et al. 2003, pooled)",
            "keyak_falkinstein2003": "E = 14664 rho_ash^1.49 (Keyak & Falkinstein 2003)",
            "carter_hayes1977": f"E = 3790 ({self.strain_rate_per_s:g}/s)^0.06 rho_app^3 (Carter & Hayes 1977)",
        }[self.law]
        return (f"rho_QCT = {self.calibration_intercept_g_cm3:g} + {self.calibration_slope_g_cm3_per_HU:g} HU; "
                f"rho_ash = {self.ash_slope:g} rho_QCT + {self.ash_intercept_g_cm3:g}; "
                f"rho_app = rho_ash / {self.ash_to_apparent:g}; {law}; E >= {self.min_modulus_MPa:g} MPa")


def densities(hu: np.ndarray, m: BoneMapping) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rho_QCT, rho_ash, rho_app) in g/cm^3 for CT numbers ``hu``."""
    hu = np.asarray(hu, dtype=float)
    qct = m.calibration_intercept_g_cm3 + m.calibration_slope_g_cm3_per_HU * hu
    ash = m.ash_slope * qct + m.ash_intercept_g_cm3
    return qct, ash, ash / m.ash_to_apparent


def modulus_unclipped(hu: np.ndarray, m: BoneMapping) -> np.ndarray:
    """E (MPa) by the law; NaN where the density is <= 0 (the law has no value there)."""
    _, ash, app = densities(hu, m)
    with np.errstate(invalid="ignore"):
        if m.law == "morgan2003_femoral_neck":
            e = 6850.0 * np.power(app, 1.49)
        elif m.law == "morgan2003_pooled":
            e = 8920.0 * np.power(app, 1.83)
        elif m.law == "keyak_falkinstein2003":
            e = 14664.0 * np.power(ash, 1.49)
        else:
            e = 3790.0 * m.strain_rate_per_s ** 0.06 * np.power(app, 3.0)
    return np.where(app > 0, e, np.nan)


def modulus(hu: np.ndarray, m: BoneMapping) -> np.ndarray:
    """E (MPa) clipped below at ``min_modulus_MPa`` (also where the density is <= 0)."""
    e = modulus_unclipped(hu, m)
    return np.where(np.isfinite(e), np.maximum(e, m.min_modulus_MPa), m.min_modulus_MPa)


def sample_hu(volume, points_lps: np.ndarray, outside_hu: float = -1000.0) -> np.ndarray:
    """CT values (HU) trilinearly interpolated at ``points_lps`` (n, 3) mm; ``outside_hu`` outside."""
    from scipy.ndimage import map_coordinates

    ijk = volume.world_to_index(np.asarray(points_lps, dtype=float).reshape(-1, 3))
    coords = np.stack([ijk[:, 2], ijk[:, 1], ijk[:, 0]])  # array is [k, j, i]
    return map_coordinates(np.asarray(volume.array, dtype=np.float32), coords, order=1, mode="constant",
                           cval=outside_hu)


def tet_quadrature(degree: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss points (barycentric, (q, 4)) and weights (summing to 1) on a tetrahedron (basix)."""
    import basix

    pts, wts = basix.make_quadrature(basix.CellType.tetrahedron, degree)
    pts = np.asarray(pts)
    bary = np.column_stack([1.0 - pts.sum(axis=1), pts])
    wts = np.asarray(wts)
    return bary, wts / wts.sum()


def cell_modulus(tets_xyz: np.ndarray, volume, m: BoneMapping, degree: int = 3) -> np.ndarray:
    """Volume-averaged E (MPa) of each tetrahedron ``tets_xyz`` (n, 4, 3) mm in ``volume`` (HU).

    E is evaluated at the Gauss points of a rule exact for polynomials of ``degree`` and averaged
    (the law is applied before averaging: the modulus is integrated, not the HU).
    """
    tets_xyz = np.asarray(tets_xyz, dtype=float)
    bary, w = tet_quadrature(degree)
    pts = np.einsum("qa,nad->nqd", bary, tets_xyz)
    e = modulus(sample_hu(volume, pts.reshape(-1, 3)), m).reshape(len(tets_xyz), len(w))
    return e @ w
