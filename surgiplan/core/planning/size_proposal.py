"""Hip size proposals from the anatomy: the cup from the socket, the stem from the canal.

* **Cup**: the smallest catalog cup whose outer diameter reaches the socket diameter plus
  the reaming (``2 * r + reaming_mm``): ``r`` is the acetabular sphere radius of the
  landmark fit (``acetabular_radius_<side>``), else the femoral head sphere radius fitted on
  the femur model (the head fills the socket but for its cartilage).
* **Stem**: the largest stem whose body fits the endosteal canal on an AP view: at every
  level from the stem's tip up to the lesser trochanter (the isthmus and the metaphysis),
  its medio-lateral width is at most the canal width measured on the CT (the inner edge
  of the cortex, first voxel at or above ``cortex_hu`` going outwards from the canal axis
  along the pelvic medio-lateral direction), with the stem seated at depth 0 (its head
  centre level with the native one).

Every proposal comes with the next size down and up, and the numbers it was made from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.planning import transforms as tf

#: Reaming beyond the socket diameter (mm): ~1 mm of subchondral bone per side.
REAMING_MM = 2.0
#: The inner edge of the cortex on CT (HU): between cancellous bone (150-400) and cortex (1200-1900).
CORTEX_HU = 800.0


@dataclass
class SizeProposal:
    """A proposed catalog size with its neighbours and the anatomy it was made from."""

    catalog_id: str
    side: str
    size: str
    smaller: str | None
    larger: str | None
    basis: dict[str, float] = field(default_factory=dict)
    reason: str = ""

    def to_dict(self) -> dict:
        return {"catalog_id": self.catalog_id, "side": self.side, "size": self.size, "smaller": self.smaller,
                "larger": self.larger, "basis": dict(self.basis), "reason": self.reason}


def _neighbours(sizes: list[str], size: str) -> tuple[str | None, str | None]:
    i = sizes.index(size)
    return (sizes[i - 1] if i > 0 else None), (sizes[i + 1] if i + 1 < len(sizes) else None)


def propose_cup(case, plan: str | None, side: str, catalog_id: str = "hip_cup", reaming_mm: float = REAMING_MM,
                catalog=None) -> SizeProposal:
    """The cup for ``side``'s socket: smallest outer diameter >= socket diameter + reaming."""
    from surgiplan.core.planning.catalog import default_catalog

    catalog = catalog or default_catalog()
    spec = catalog.get(catalog_id)
    lms = case.all_landmarks(plan)
    key = f"acetabular_radius_{side}"
    if key in lms:
        r, source = float(lms[key].position[0]), "acetabular sphere fit"
    elif f"femur_{side}" in case.model_names:
        from surgiplan.core.planning.fitting import femoral_head_centre

        r, source = float(femoral_head_centre(np.asarray(case.get_model(f"femur_{side}").points)).radius), \
            "femoral head sphere fit"
    else:
        raise InputError(f"no {side} socket to size a cup for: the case has neither {key} nor a femur_{side} model",
                         hint="Fit the hip landmarks (Plan > Landmarks) first.")
    if not np.isfinite(r) or r <= 0:
        raise InputError(f"the {side} socket radius {r!r} mm is not usable", hint="Fit the hip landmarks again.")
    target = 2 * r + float(reaming_mm)
    sizes = sorted(spec.sizes, key=lambda s: float(spec.size(s)["outer_diameter"]))
    size = next((s for s in sizes if spec.size(s)["outer_diameter"] >= target - 1e-9), sizes[-1])
    lo, hi = _neighbours(sizes, size)
    return SizeProposal(catalog_id, side, size, lo, hi,
                        {"socket_radius_mm": r, "reaming_mm": float(reaming_mm), "target_diameter_mm": target},
                        f"{source}: socket {2 * r:.1f} mm + {reaming_mm:g} mm reaming = {target:.1f} mm")


def canal_widths(volume, point, proximal, medial, levels_mm, cortex_hu: float = CORTEX_HU,
                 max_half_mm: float = 30.0, step_mm: float = 0.25) -> np.ndarray:
    """Endosteal canal width (mm) at ``levels_mm`` along a canal axis, measured on the CT.

    Parameters
    ----------
    volume : Volume
        The CT (HU), LPS mm.
    point, proximal : array-like (3,)
        A point of the canal axis and its unit proximal direction (LPS).
    medial : array-like (3,)
        The medio-lateral direction the width is measured along (made perpendicular to the axis).
    levels_mm : array-like
        Signed distances along ``proximal`` from ``point`` (negative = distal).

    Returns
    -------
    numpy.ndarray
        For each level, the distance between the first voxel at or above ``cortex_hu`` on
        each side of the axis (linear interpolation, sub-step refined); NaN where the cortex
        is not found within ``max_half_mm`` on a side.
    """
    from scipy.ndimage import map_coordinates

    d = tf.unit(proximal, "canal axis")
    m = tf.unit(tf.project_on_plane(medial, d), "medio-lateral direction")
    lv = np.asarray(levels_mm, float).reshape(-1)
    rs = np.arange(0.0, max_half_mm + step_mm, step_mm)
    centres = np.asarray(point, float) + lv[:, None] * d
    out = np.full(len(lv), np.nan)
    half = []
    for sgn in (1.0, -1.0):
        pts = centres[:, None, :] + sgn * rs[None, :, None] * m
        ijk = volume.world_to_index(pts.reshape(-1, 3))
        vals = map_coordinates(np.asarray(volume.array, np.float32), ijk[:, ::-1].T, order=1, mode="constant",
                               cval=-1000.0).reshape(len(lv), len(rs))
        above = vals >= cortex_hu
        first = np.where(above.any(1), above.argmax(1), -1)
        r = np.full(len(lv), np.nan)
        ok = first > 0
        i = first[ok]
        v0, v1 = vals[ok, i - 1], vals[ok, i]
        r[ok] = rs[i - 1] + step_mm * (cortex_hu - v0) / np.maximum(v1 - v0, 1e-6)
        half.append(r)
    out[:] = half[0] + half[1]
    return out


def propose_stem(case, plan: str | None, side: str, catalog_id: str = "hip_stem_standard", volume=None,
                 cortex_hu: float = CORTEX_HU, catalog=None) -> SizeProposal:
    """The largest stem whose medio-lateral width fits the CT's endosteal canal from tip to lesser trochanter.

    ``volume`` is the CT the femur model was made from (read from the case when None).
    """
    from surgiplan.core.planning.auto_landmarks import scan_of_models
    from surgiplan.core.planning.catalog import default_catalog
    from surgiplan.core.planning.catalog.generators import stem_levels, stem_widths
    from surgiplan.core.planning.placement import pelvic_frame_from_landmarks

    catalog = catalog or default_catalog()
    spec = catalog.get(catalog_id)
    lms = case.all_landmarks(plan)
    need = [k for k in (f"femoral_canal_axis_{side}", f"femoral_head_centre_{side}", f"lesser_trochanter_{side}")
            if k not in lms]
    if need:
        raise InputError(f"sizing the {side} stem needs the landmarks {', '.join(need)}",
                         hint="Fit the hip landmarks (Plan > Landmarks) first.")
    if volume is None:
        volume = scan_of_models(case, [f"femur_{side}"])
    if volume is None:
        raise InputError(f"sizing the {side} stem needs the CT the femur_{side} model was made from",
                         hint="Open the case's scan (or save the case with it) and try again.")
    ax = lms[f"femoral_canal_axis_{side}"]
    if ax.direction is None:
        raise InputError(f"landmark femoral_canal_axis_{side} has no direction")
    p = np.asarray(ax.position, float)
    head = np.asarray(lms[f"femoral_head_centre_{side}"].position, float)
    d = tf.unit(ax.direction)
    if (head - p) @ d < 0:
        d = -d
    pelvis = pelvic_frame_from_landmarks(lms)
    ml = (np.eye(3) if pelvis is None else pelvis[:3, :3])[:, 0]
    h_level = float((head - p) @ d)  # native head centre height along the axis from p
    lt_level = float((np.asarray(lms[f"lesser_trochanter_{side}"].position) - p) @ d)
    sizes = sorted(spec.sizes, key=lambda s: float(spec.size(s)["distal_diameter"]))
    rows = []
    for s in sizes:
        prm = spec.size(s)
        z_tip, _ = stem_levels(prm)
        z = np.arange(z_tip + 3.0, lt_level - h_level, 2.0)  # own-frame heights, tip (past its rounding) to LT
        if len(z) == 0:
            continue
        lat, med, _ = stem_widths(prm, z)
        canal = canal_widths(volume, p, d, ml, h_level + z, cortex_hu)
        if np.isnan(canal).mean() > 0.2:
            raise InputError(f"the {side} femoral canal's cortex was not found on the CT along the stem of size {s}",
                             hint="Check the femoral_canal_axis landmark and that the scan is a CT in HU.")
        margin = np.nanmin(canal - (lat + med))
        rows.append((s, float(margin), float(np.nanmin(canal)), float(canal[-1])))
    if not rows:
        raise InputError(f"the {side} lesser trochanter lies below every stem's tip: check the landmarks")
    fits = [r for r in rows if r[1] >= 0]
    best = fits[-1] if fits else rows[0]
    lo, hi = _neighbours(sizes, best[0])
    isthmus = min(r[2] for r in rows)
    meta = rows[-1][3]
    prm = spec.size(best[0])
    return SizeProposal(
        catalog_id, side, best[0], lo, hi,
        {"isthmus_width_mm": isthmus, "metaphysis_width_mm": meta, "fill_margin_mm": best[1],
         "distal_diameter_mm": float(prm["distal_diameter"]), "cortex_hu": float(cortex_hu)},
        f"largest stem inside the endosteal canal from its tip to the lesser trochanter (canal {isthmus:.1f} mm at "
        f"the isthmus, {meta:.1f} mm at the lesser trochanter; margin {best[1]:.1f} mm)"
        + ("" if fits else "; no size fits: the smallest is proposed"))


def propose_hip_sizes(case, plan: str | None, side: str, volume=None, catalog=None) -> dict[str, SizeProposal]:
    """``{"cup": ..., "stem": ...}`` for ``side`` (a part that cannot be proposed is left out)."""
    out: dict[str, SizeProposal] = {}
    try:
        out["cup"] = propose_cup(case, plan, side, catalog=catalog)
    except InputError:
        pass
    try:
        out["stem"] = propose_stem(case, plan, side, volume=volume, catalog=catalog)
    except InputError:
        pass
    return out
