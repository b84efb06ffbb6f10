"""Automatic knee landmarks from the femur and tibia surface models (LPS mm, +z superior).

A knee CT shows neither the hip nor the ankle: the femoral mechanical axis needs the
hip centre (femoral head sphere fit on a long-leg or hip study, or an imported point)
and the tibial axis the ankle centre; both are inputs here.

* femoral frame: superior = knee centre to hip centre, lateral = the scanner's
  lateral direction made perpendicular to it, anterior = their cross product;
* condylar tips: the most distal point of each condyle along the mechanical axis, the
  minimum of a quadratic height field fitted in a window centred on the tip
  (:func:`condyle_distal_tip`);
* ``knee_centre_femur``: at the level of the most distal condylar tip, medio-laterally
  in the middle of the intercondylar notch (midpoint of the gap between the condyles
  in sections 6-14 mm above that level), antero-posteriorly midway between the two
  condylar tips; refined with the resulting mechanical axis;
* epicondyles: most prominent points medially / laterally along the femoral
  medio-lateral axis (quadratic cap fit);
* tibial plateau plane: plane fit on the flat top of the tibia (cells facing up
  within 12 deg of the tibial axis, near the highest level);
* ``knee_centre_tibia``: centre of the plateau on the fitted plateau plane:
  medio-laterally under the femoral knee centre (the notch faces the intercondylar
  eminence), antero-posteriorly midway between the plateau's anterior and posterior
  edges (tibia 2-8 mm below the plane).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from surgiplan.core.errors import GeometryError, InputError
from surgiplan.core.jobs import Progress, report
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.fitting import extreme_point, fit_plane, prominence_tip
from surgiplan.core.planning.interference import BoneField
from surgiplan.core.planning.plan import Landmark


def _lat(side: str) -> np.ndarray:
    return np.array([1.0 if side == "left" else -1.0, 0.0, 0.0])


def femoral_frame(hip_centre, knee_centre, side: str):
    """(superior, lateral, anterior) unit axes of the femur's mechanical frame (LPS)."""
    z = tf.unit(np.asarray(hip_centre, float) - knee_centre)
    x = tf.unit(tf.project_on_plane(_lat(side), z))
    y = np.cross(z, x)
    if y @ np.array([0.0, -1.0, 0.0]) < 0:
        y = -y
    return z, x, y


def condyle_distal_tip(points: np.ndarray, z: np.ndarray, x: np.ndarray, y: np.ndarray, start: np.ndarray,
                       half_ml_mm: float = 3.5, half_ap_mm: float = 10.0, iterations: int = 12) -> np.ndarray:
    """Most distal point (LPS mm) of the condyle whose lowest region holds ``start``.

    ``z`` is the femoral mechanical axis (proximal), ``x`` the medio-lateral and ``y`` the
    antero-posterior axis (unit vectors). The height along ``z`` of the surface ``points``
    inside an elliptical window centred on the current tip (``half_ml_mm`` across,
    ``half_ap_mm`` along the condyle, which is narrow medio-laterally and long
    antero-posteriorly) is fitted with a quadratic h(u, v); the tip moves to its minimum, back
    on the fitted surface, and the window follows until the tip stops moving (< 1e-4 mm).
    A window centred on the tip, unlike the points within a height cap of the lowest one,
    stays symmetric where one side of the condyle rises gently (toward the notch) and does
    not pull the tip that way. Returns ``start`` when the window holds fewer than 12 points
    or the fit is no bowl.
    """
    p = np.asarray(points, float)
    tip = np.asarray(start, float)
    for _ in range(iterations):
        rel = p - tip
        pu, pv, h = rel @ x, rel @ y, rel @ z
        sel = ((pu / half_ml_mm) ** 2 + (pv / half_ap_mm) ** 2 < 1.0) & (np.abs(h) < 10.0)
        if sel.sum() < 12:
            return np.asarray(start, float)
        u, v = pu[sel], pv[sel]
        a = np.column_stack([np.ones_like(u), u, v, u**2, u * v, v**2])
        c, *_ = np.linalg.lstsq(a, h[sel], rcond=None)
        hess = np.array([[2 * c[3], c[4]], [c[4], 2 * c[5]]])
        if np.any(np.linalg.eigvalsh(hess) <= 0):
            return np.asarray(start, float)
        du, dv = np.linalg.solve(hess, -c[1:3])
        if (du / half_ml_mm) ** 2 + (dv / half_ap_mm) ** 2 > 1.0:  # minimum outside the window: step to its edge
            s = 1.0 / np.hypot(du / half_ml_mm, dv / half_ap_mm)
            du, dv = s * du, s * dv
        hmin = c[0] + c[1] * du + c[2] * dv + c[3] * du**2 + c[4] * du * dv + c[5] * dv**2
        new = tip + du * x + dv * y + hmin * z
        done = np.linalg.norm(new - tip) < 1e-4
        tip = new
        if done:
            break
    return tip


def notch_centre_ml(field: BoneField, origin, z, x, y, levels=(6.0, 8.0, 10.0, 12.0, 14.0),
                    half: float = 45.0, step: float = 0.25) -> float:
    """Medio-lateral position (mm along ``x`` from ``origin``) of the intercondylar notch's middle.

    In sections normal to ``z`` at ``levels`` mm above ``origin``, each row along ``x`` behind
    the trochlea that crosses bone, a gap, then bone again near the middle gives the gap's
    midpoint; the median over rows and levels is returned.
    """
    g = np.arange(-half, half + step / 2, step)
    uu, vv = np.meshgrid(g, g, indexing="ij")  # u along x, v along y (anterior)
    mids = []
    for h in levels:
        o = origin + h * z
        pts = o + uu.ravel()[:, None] * x + vv.ravel()[:, None] * y
        bone = (field.interpolate(pts) < 0).reshape(uu.shape)
        for j in range(bone.shape[1]):
            col = bone[:, j]
            if not col.any():
                continue
            lab, n = ndimage.label(col)
            if n < 2:
                continue
            # the two runs either side of the centre
            centres = np.array([g[lab == k].mean() for k in range(1, n + 1)])
            lo = [k for k in range(n) if centres[k] < 0]
            hi = [k for k in range(n) if centres[k] >= 0]
            if not lo or not hi:
                continue
            a = g[lab == (max(lo, key=lambda k: centres[k]) + 1)].max()
            b = g[lab == (min(hi, key=lambda k: centres[k]) + 1)].min()
            if 8.0 < b - a < 30.0:
                mids.append(0.5 * (a + b))
    if len(mids) < 5:
        raise GeometryError("no intercondylar notch found on the femur model")
    return float(np.median(mids))


def fit_knee_landmarks(femur, tibia, hip_centre, ankle_centre, side: str,
                       progress: Progress | None = None) -> dict[str, Landmark]:
    """Knee centres, condylar tips, epicondyles and plateau of a knee from its bone models."""
    if side not in ("left", "right"):
        raise InputError(f"side must be 'left' or 'right', not {side!r}")
    hip_centre = np.asarray(hip_centre, float)
    ankle_centre = np.asarray(ankle_centre, float)
    fp = np.asarray(femur.points)
    report(progress, 0.05, "femur distance field")
    field = BoneField(femur, spacing=1.0)
    kf = fp[fp[:, 2] < fp[:, 2].min() + 30.0].mean(0)
    for _ in range(3):
        z, x, y = femoral_frame(hip_centre, kf, side)
        rel = (fp - kf)
        ml = rel @ x
        tips = {}
        for cond, sign in (("medial", -1.0), ("lateral", 1.0)):
            mask = (sign * ml > 8.0) & (sign * ml < 45.0)
            start = extreme_point(fp, -z, mask)
            tips[cond] = condyle_distal_tip(fp, z, x, y, start)
        low = min(tips.values(), key=lambda p: p @ z)
        mid_tips = 0.5 * (tips["medial"] + tips["lateral"])
        base = low + ((mid_tips - low) @ y) * y  # distal level, AP midway between the tips
        base = base + ((kf - base) @ x) * x  # keep the current ML estimate
        mlc = notch_centre_ml(field, base, z, x, y)
        kf = base + mlc * x
    report(progress, 0.5, "epicondyles")
    out: dict[str, Landmark] = {
        "knee_centre_femur": Landmark(kf, None, "fitted", "middle of the intercondylar notch at the level of "
                                      "the most distal condylar point, AP midway between the condylar tips"),
        "medial_condyle_distal": Landmark(tips["medial"], None, "fitted",
                                          "most distal point of the medial condyle along the femoral mechanical "
                                          "axis (window-centred quadratic fit of the surface)"),
        "lateral_condyle_distal": Landmark(tips["lateral"], None, "fitted",
                                           "most distal point of the lateral condyle along the femoral mechanical "
                                           "axis (window-centred quadratic fit of the surface)"),
    }
    rel = fp - kf
    near = (rel @ z > 10.0) & (rel @ z < 60.0)
    for name, sign in (("medial_epicondyle", -1.0), ("lateral_epicondyle", 1.0)):
        start = extreme_point(fp, sign * x, near)
        out[name] = Landmark(prominence_tip(fp, sign * x, start, cap_mm=3.0, radius_mm=6.0), None, "fitted",
                             "most prominent point along the femoral medio-lateral axis (quadratic cap fit)")
    report(progress, 0.7, "tibial plateau")
    t_axis = tf.unit(kf - ankle_centre)
    m = tibia.compute_normals(cell_normals=True, point_normals=False, auto_orient_normals=True)
    n = np.asarray(m.cell_data["Normals"])
    cc = np.asarray(m.cell_centers().points)
    top = (cc @ t_axis).max()
    # plane fit on the cell centres of the upward-facing top (a voxel surface's staircase makes
    # normals unreliable there), trimming cells off the plane (spines, rim, carved areas)
    flat = (n @ t_axis > np.cos(np.radians(25.0))) & (cc @ t_axis > top - 25.0)
    if flat.sum() < 20:
        raise GeometryError("no flat tibial plateau found on the tibia model")
    sel = flat
    for tol in (6.0, 4.0, 3.0, 2.0, 1.5, 1.2, 1.0, 1.0):
        pc, pn = fit_plane(cc[sel])
        pn = pn if pn @ t_axis > 0 else -pn
        new_sel = flat & (np.abs((cc - pc) @ pn) < tol)
        if new_sel.sum() < 20:
            break
        sel = new_sel
    # medio-laterally under the notch (it faces the intercondylar eminence), antero-posteriorly
    # midway between the plateau's anterior and posterior edges (tibia 2-8 mm below the plane)
    kt = kf - ((kf - pc) @ pn) * pn
    ap = tf.unit(tf.project_on_plane(y, pn))
    tp = np.asarray(tibia.points)
    h = (tp - pc) @ pn
    v = (tp[(h < -2.0) & (h > -8.0)] - kt) @ ap
    if v.size >= 20:
        kt = kt + 0.5 * (v.min() + v.max()) * ap
    out["knee_centre_tibia"] = Landmark(kt, None, "fitted", "centre of the tibial plateau on the fitted plateau "
                                        "plane: medio-laterally under the femoral knee centre, antero-posteriorly "
                                        "midway between the plateau's anterior and posterior edges")
    out["tibial_plateau"] = Landmark(pc, pn, "fitted", "plane fit on the flat tibial plateau (point, upward normal)")
    report(progress, 1.0, "knee landmarks fitted")
    return out
