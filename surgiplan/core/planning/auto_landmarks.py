"""Automatic anatomical landmarks from bone surface models (LPS mm, +z superior).

Hip (models ``pelvis``, ``femur_left``, ``femur_right``):

* femoral head centre: sphere fit on the proximal femur (:func:`femoral_head_centre`);
* acetabular centre and radius: sphere fit on the socket lining around the head (pelvis
  points whose outward normal points at the head centre);
* acetabular axis: the area-weighted sum of the socket's surface normals (pointing
  into the cavity) — for a hemispherical socket this is exactly pi r^2 times the
  axis out of the opening, whatever the triangulation;
* teardrop (proxy): the inferomedial point of the socket rim on the opening plane,
  in the direction (-lateral cos RI + inferior sin RI) projected on that plane;
* ASIS / pubic tubercle: most anterior pelvis point above the acetabulum (lateral
  half) / below it (near the midline);
* lesser trochanter: most posteromedial femur point 45-110 mm below the head centre;
* femoral canal axis: centroids of shaft sections (pointing proximally).
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import Progress, report
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.anatomy import SPINE_LEVELS
from surgiplan.core.planning.fitting import (
    acetabular_centre,
    extreme_point,
    femoral_canal_axis,
    femoral_head_centre,
    prominence_tip,
)
from surgiplan.core.planning.pelvis_parts import pelvis_model_names, pelvis_surface
from surgiplan.core.planning.placement import pelvic_frame, radiographic_angles
from surgiplan.core.planning.plan import Landmark

SIDES = ("left", "right")
LAT = {"left": 1.0, "right": -1.0}  # +x is patient left (LPS)


def socket_axis(pelvis, centre: np.ndarray, radius: float, tol_mm: float = 1.5) -> np.ndarray:
    """Unit axis out of a hemispherical socket: area-weighted normals of the socket cells."""
    m = pelvis.compute_normals(cell_normals=True, point_normals=False, auto_orient_normals=False)
    cc = m.cell_centers().points
    d = np.linalg.norm(cc - centre, axis=1)
    sel = np.abs(d - radius) < tol_mm
    if sel.sum() < 20:
        raise InputError("no socket surface found around the acetabular centre")
    areas = m.compute_cell_sizes(length=False, volume=False)["Area"][sel]
    n = m.cell_data["Normals"][sel]
    # outward normals of the bone point into the cavity, i.e. towards the centre
    inward = np.sign(np.sum(n * (centre - cc[sel]), axis=1)).mean()
    s = (n * areas[:, None]).sum(0) * (1.0 if inward > 0 else -1.0)
    return tf.unit(s)


def fit_hip_landmarks(pelvis, femurs: dict[str, object], progress: Progress | None = None
                      ) -> dict[str, Landmark]:
    """Hip landmarks from the pelvis and femur models (any side missing is skipped)."""
    out: dict[str, Landmark] = {}
    pp = np.asarray(pelvis.points)
    pn = np.asarray(pelvis.compute_normals(point_normals=True, cell_normals=False,
                                           auto_orient_normals=True).point_data["Normals"])
    heads = {}
    for i, side in enumerate(SIDES):
        fem = femurs.get(side)
        if fem is None:
            continue
        report(progress, 0.1 + 0.3 * i, f"fitting the {side} femoral head")
        h = femoral_head_centre(np.asarray(fem.points))
        heads[side] = h
        out[f"femoral_head_centre_{side}"] = Landmark(h.centre, None, "fitted",
                                                      f"sphere fit on the {side} femoral head (r = {h.radius:.1f} mm)")
        # the socket lining faces the head: keep pelvis points whose outward normal points
        # at the head centre (drops bridges or rim bone a coarse segmentation may add)
        to_c = h.centre - pp
        dist = np.linalg.norm(to_c, axis=1)
        facing = np.einsum("ij,ij->i", pn, to_c) / np.maximum(dist, 1e-9) > 0.9
        a = acetabular_centre(pp[facing], h.centre, h.radius)
        out[f"acetabular_centre_{side}"] = Landmark(a.centre, None, "fitted",
                                                    f"sphere fit on the {side} acetabular socket "
                                                    f"(r = {a.radius:.1f} mm)")
        axis = socket_axis(pelvis, a.centre, a.radius)
        out[f"acetabular_axis_{side}"] = Landmark(a.centre, axis, "fitted",
                                                  "acetabular opening axis (area-weighted socket normals)")
        out[f"acetabular_radius_{side}"] = Landmark(np.array([a.radius, 0, 0]), None, "fitted",
                                                    "x = socket radius in mm (not a position)")
        p, d = femoral_canal_axis(fem, h.centre, start_mm=95.0)
        out[f"femoral_canal_axis_{side}"] = Landmark(p, d, "fitted",
                                                     "line through shaft section centroids, pointing proximally")
        medial = np.array([-LAT[side], 0.0, 0.0])
        pm = tf.unit(tf.project_on_plane(medial + np.array([0, 1.0, 0]), d))
        fp = np.asarray(fem.points)
        below = (h.centre - fp) @ d
        lt = extreme_point(fp, pm, (below > 45) & (below < 110))
        out[f"lesser_trochanter_{side}"] = Landmark(
            prominence_tip(fp, pm, lt, cap_mm=3.0, radius_mm=8.0), None, "fitted",
            "tip (most posteromedial point, perpendicular to the canal axis) of the prominence "
            "45-110 mm below the head centre, by a quadratic fit of its cap")
        report(progress, 0.25 + 0.3 * i, f"{side} hip fitted")
    if not heads:
        raise InputError("no femur model: cannot fit hip landmarks")
    ac_z = np.mean([out[f"acetabular_centre_{s}"].position[2] for s in heads])
    mid_x = float(np.mean(pp[:, 0]))
    anterior = np.array([0, -1.0, 0])
    for side in SIDES:
        lat = (pp[:, 0] - mid_x) * LAT[side]
        asis = extreme_point(pp, anterior, (pp[:, 2] > ac_z + 40) & (lat > 40))
        out[f"asis_{side}"] = Landmark(prominence_tip(pp, anterior, asis, cap_mm=3.0, radius_mm=6.0),
                                       None, "fitted", "most anterior point (scanner anterior) of the pelvis "
                                       "> 40 mm above the acetabula, by a quadratic fit of the prominence's cap")
        tub = extreme_point(pp, anterior, (pp[:, 2] < ac_z - 15) & (lat > 8) & (lat < 45))
        out[f"pubic_tubercle_{side}"] = Landmark(
            prominence_tip(pp, anterior, tub, cap_mm=3.0, radius_mm=6.0), None, "fitted",
            "most anterior point of the pelvis below the acetabula, 8-45 mm from the midline "
            "(quadratic fit of the tubercle's cap)")
    frame = pelvic_frame(out["asis_left"].position, out["asis_right"].position,
                         out["pubic_tubercle_left"].position, out["pubic_tubercle_right"].position)
    for side in heads:
        c = out[f"acetabular_centre_{side}"].position
        n = out[f"acetabular_axis_{side}"].direction
        r = out[f"acetabular_radius_{side}"].position[0]
        ri, _ = radiographic_angles(n, side, frame)
        lat = np.array([LAT[side], 0, 0])
        dd = -lat * np.cos(np.radians(ri)) + np.array([0, 0, -1.0]) * np.sin(np.radians(ri))
        dd = tf.unit(dd - (dd @ n) * n)
        out[f"teardrop_{side}"] = Landmark(c + r * dd, None, "fitted",
                                           "inferomedial point of the socket rim on the opening plane")
    report(progress, 1.0, "hip landmarks fitted")
    return out


def apply_landmarks(case, landmarks: dict[str, Landmark], description: str = "fit landmarks") -> None:
    """Set ``landmarks`` on the case as one undo step."""
    with case.history.group(description):
        for k, lm in landmarks.items():
            case.set_landmark(k, lm.position, lm.direction, source=lm.source, definition=lm.definition)


def scan_of_models(case, names, loaded: dict | None = None):
    """The scan (Volume, LPS mm) all the models ``names`` were made from, or None.

    ``loaded`` maps scan names to volumes already in memory (the window's open scan, which
    may not be saved yet); otherwise the scan is read from the case folder. None when the
    models come from several scans, none, or a scan that is neither loaded nor saved.
    """
    from surgiplan.core.imaging.volume_io import read_volume

    scans = {m.scan for m in case.model.models if m.name in names}
    if len(scans) != 1 or not next(iter(scans)):
        return None
    name = next(iter(scans))
    if loaded and loaded.get(name) is not None:
        return loaded[name]
    for sm in case.model.scans:
        if sm.name == name and (case.root / sm.volume).is_file():
            return read_volume(case.root / sm.volume)
    return None


def check_landmark_inputs(case, anatomy: str = "hip", plan: str | None = None) -> None:
    """InputError (with a hint saying what to build or set) when ``anatomy``'s fit lacks inputs.

    Fast (no fitting): the window calls it before starting the worker.
    """
    names = case.model_names
    if anatomy == "spine":
        if not any(n in SPINE_LEVELS for n in names):
            raise InputError(f"case {case.model.name!r} has no vertebra model (L1..L5) "
                             f"(models: {', '.join(names) or 'none'})",
                             hint="Build the vertebra models (L1..L5) first (Segment, then Models).")
    elif anatomy == "knee":
        L = case.all_landmarks(plan)
        missing = [m for m in ("femur", "tibia") if m not in names]
        missing += [k for k in ("hip_centre", "ankle_centre") if k not in L]
        if missing:
            raise InputError(f"case {case.model.name!r} lacks {', '.join(missing)} for the knee landmarks",
                             hint="Build the femur and tibia models; set the hip and ankle centres (they "
                                  "lie outside a knee CT: from a long-leg or hip/ankle study, "
                                  "case set-landmark) first.")
    elif anatomy == "hip":
        if not pelvis_model_names(names) or not any(f"femur_{s}" in names for s in SIDES):
            raise InputError(f"case {case.model.name!r} needs the models 'pelvis' (or the hip bones "
                             f"'hip_bone_left'/'hip_bone_right') and a femur "
                             f"(models: {', '.join(names) or 'none'})",
                             hint="Build the pelvis and femur models first (Segment: Hip bones, then Models).")
    else:
        raise InputError(f"automatic landmarks exist for the hip, knee and spine only, not {anatomy!r}",
                         hint="Place the landmarks with `set_landmark` or in the window.")


def compute_case_landmarks(case, anatomy: str = "hip", plan: str | None = None,
                           loaded_scans: dict | None = None,
                           progress: Progress | None = None) -> dict[str, Landmark]:
    """Fit the landmarks of ``anatomy`` on the case's models without changing the case.

    The compute half of the workflow (safe in a worker thread); :func:`apply_landmarks`
    is the apply half (one undo step); :func:`fit_case_landmarks` does both. The window
    and ``surgiplan case fit-landmarks`` call this same function.

    Parameters
    ----------
    case : Case
        The open case; its models (LPS mm) are read, nothing is written.
    anatomy : {"hip", "knee", "spine"}
        Which landmark set to fit.
    plan : str, optional
        Plan whose own landmarks override the case's (the knee reads the hip and ankle
        centres from ``case.all_landmarks(plan)``) and whose implants decide the side.
    loaded_scans : dict, optional
        Scans already in memory by name (see :func:`scan_of_models`); the spine fit refines
        on the scan the vertebrae were segmented from.
    progress : Progress, optional
        Progress and cancel.

    Returns
    -------
    dict[str, Landmark]
        Landmark name -> fitted landmark (positions in LPS mm, unit directions).

    Examples
    --------
    >>> lms = compute_case_landmarks(case, "hip")  # doctest: +SKIP
    >>> apply_landmarks(case, lms, "fit hip landmarks")  # doctest: +SKIP
    """
    check_landmark_inputs(case, anatomy, plan)
    if anatomy == "spine":
        from surgiplan.core.planning.auto_spine import fit_spine_landmarks

        levels = [n for n in case.model_names if n in SPINE_LEVELS]
        # refined on the CT the vertebrae were segmented from (sub-voxel pedicle walls)
        return fit_spine_landmarks({lv: case.get_model(lv) for lv in levels}, progress,
                                   volume=scan_of_models(case, levels, loaded_scans))
    if anatomy == "knee":
        from surgiplan.core.planning.auto_knee import fit_knee_landmarks
        from surgiplan.core.planning.side import operative_side

        L = case.all_landmarks(plan)
        return fit_knee_landmarks(case.get_model("femur"), case.get_model("tibia"), L["hip_centre"].position,
                                  L["ankle_centre"].position, operative_side(case, plan), progress)
    femurs = {s: case.get_model(f"femur_{s}") for s in SIDES if f"femur_{s}" in case.model_names}
    return fit_hip_landmarks(pelvis_surface(case), femurs, progress)


def fit_case_landmarks(case, anatomy: str = "hip", progress: Progress | None = None,
                       plan: str | None = None) -> dict[str, Landmark]:
    """Fit the landmarks of ``anatomy`` on the case's models and set them (one undo step).

    :func:`compute_case_landmarks` followed by :func:`apply_landmarks`.
    """
    lms = compute_case_landmarks(case, anatomy, plan=plan, progress=progress)
    apply_landmarks(case, lms, f"fit {anatomy} landmarks")
    return lms
