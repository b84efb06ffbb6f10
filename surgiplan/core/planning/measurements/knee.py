"""Knee arthroplasty measurements (LPS mm, degrees), each with its definition.

Landmarks: ``hip_centre``, ``knee_centre_femur``, ``knee_centre_tibia``,
``ankle_centre``; optional ``epicondyle_medial`` / ``epicondyle_lateral``
(else ``posterior_condyle_medial`` / ``posterior_condyle_lateral``) for rotation.
Implants: ``femoral_component``, ``tibial_tray``; resections named
``distal_femur`` and ``proximal_tibia`` (any others are reported too).
The side (left/right) comes from the implants, else the case setting ``side``.
The coronal plane is the one containing the femoral mechanical axis and the
scanner's medio-lateral (x) axis.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.measurements.base import (
    Measure,
    MeasureContext,
    MeasurementDef,
    MeasurementResult,
)
from surgiplan.core.planning.resection import resection_thickness
from surgiplan.core.planning.side import operative_side

D = MeasurementDef
DEFS = (
    D("hka_native", "Hip-knee-ankle angle (native)", "deg",
      "Angle between the femoral mechanical axis (hip centre to femoral knee centre) and the tibial "
      "mechanical axis (tibial knee centre to ankle centre) in the coronal plane, 180 = neutral, "
      "< 180 = varus."),
    D("mechanical_axis_deviation", "Mechanical axis deviation", "mm",
      "Distance of the knee centre from the hip-ankle line in the coronal plane; positive when the "
      "line passes medial to the knee centre (varus)."),
    D("hka_planned", "Hip-knee-ankle angle (planned)", "deg",
      "180 minus the coronal varus angles of the femoral component (its axis vs the femoral "
      "mechanical axis) and of the tibial tray (tibial mechanical axis vs its axis); < 180 = varus."),
    D("femoral_component_varus", "Femoral component varus/valgus", "deg",
      "Coronal angle of the femoral component's axis from the femoral mechanical axis (positive = varus)."),
    D("tibial_component_varus", "Tibial component varus/valgus", "deg",
      "Coronal angle of the tibial tray's axis from the tibial mechanical axis (positive = varus)."),
    D("tibial_slope", "Tibial slope", "deg",
      "Sagittal angle between the normal of the tibial cut (or tray) and the tibial mechanical axis "
      "(positive = posterior slope: the cut descends posteriorly)."),
    D("femoral_component_rotation", "Femoral component rotation", "deg",
      "Angle between the femoral component's medio-lateral axis and the transepicondylar axis (or "
      "the posterior condylar axis), in the plane perpendicular to the femoral mechanical axis "
      "(positive = external rotation)."),
    D("resection_thickness", "Resection thickness", "mm",
      "Largest distance of the removed bone from the resection plane, per condyle / plateau "
      "compartment: bone more than 10 mm medial or lateral of the sagittal plane through the knee "
      "centre (which leaves out the notch and the tibial spines)."),
)


#: Bone this close to the sagittal plane through the knee centre (mm) is in neither compartment.
CENTRAL_EXCLUSION_MM = 10.0


def compartment_split(knee_centre, side: str) -> dict:
    """The lateral / medial split of a knee for :func:`resection_thickness` / ``resect``.

    Parameters
    ----------
    knee_centre : array_like, shape (3,)
        Knee centre, LPS mm (midway between the femoral and tibial knee centres).
    side : {"left", "right"}
        The operated side (:func:`~surgiplan.core.planning.side.operative_side`): +x (patient
        left) is lateral on a left knee, medial on a right one.

    Returns
    -------
    dict
        ``split_origin``, ``split_normal`` (unit, pointing laterally), ``half_names``
        ``("lateral", "medial")`` and ``exclude_central_mm``.

    Examples
    --------
    >>> compartment_split([0, 0, 0], "right")["split_normal"]
    array([-1.,  0.,  0.])
    """
    lateral = np.array([1.0 if side == "left" else -1.0, 0.0, 0.0])
    return dict(split_origin=np.asarray(knee_centre, float), split_normal=lateral,
                half_names=("lateral", "medial"), exclude_central_mm=CENTRAL_EXCLUSION_MM)


class KneeMeasurements(Measure):
    name = "knee"
    anatomy = "knee"
    definitions = DEFS

    def compute(self, ctx: MeasureContext) -> list[MeasurementResult]:
        out: list[MeasurementResult] = []
        hip, kf, kt, ank = (ctx.point(k) for k in ("hip_centre", "knee_centre_femur",
                                                   "knee_centre_tibia", "ankle_centre"))
        fem = ctx.implants_of_kind("femoral_component")
        tib = ctx.implants_of_kind("tibial_tray")
        side = operative_side(ctx.case, ctx.plan.name)
        if hip is None or kf is None or kt is None or ank is None:
            if fem or tib or ctx.plan.resections:
                out.append(self.missing("hka_native", "needs hip_centre, knee_centre_femur, "
                                        "knee_centre_tibia and ankle_centre"))
            return out
        lat_sign = 1.0 if side == "left" else -1.0
        lateral = np.array([lat_sign, 0.0, 0.0])
        f_axis = tf.unit(hip - kf)  # proximal
        t_axis = tf.unit(kt - ank)  # proximal
        anterior = tf.unit(np.cross(f_axis, [1.0, 0, 0]))  # coronal normal
        if anterior[1] > 0:
            anterior = -anterior

        def varus(distal_a, distal_b) -> float:
            """Coronal angle from direction a to b, positive when b turns medially (varus)."""
            return -lat_sign * tf.signed_angle_deg(distal_a, distal_b, anterior)

        v_native = varus(-f_axis, -t_axis)
        out.append(self.result("hka_native", 180.0 - v_native, side=side))
        knee = (kf + kt) / 2
        line = tf.unit(ank - hip)
        r = knee - hip - ((knee - hip) @ line) * line
        r = tf.project_on_plane(r, anterior)
        out.append(self.result("mechanical_axis_deviation", float(r @ lateral)))
        fv = tv = None
        if fem:
            zc = fem[0].transform[:3, 2]
            fv = varus(-f_axis, -zc)
            out.append(self.result("femoral_component_varus", fv, implant=fem[0].id))
            xc = fem[0].transform[:3, 0]
            for a, b in (("lateral_epicondyle", "medial_epicondyle"),
                         ("lateral_condyle_posterior", "medial_condyle_posterior")):
                pa, pb = ctx.point(a), ctx.point(b)
                if pa is not None and pb is not None:
                    ref = pa - pb  # medial -> lateral
                    comp = xc if xc @ lateral > 0 else -xc
                    ang = tf.signed_angle_deg(ref, comp, f_axis) * lat_sign
                    ref_name = "transepicondylar axis" if "epicondyle" in a else "posterior condylar axis"
                    out.append(self.result("femoral_component_rotation", ang, reference=ref_name))
                    break
        tray_normal = None
        if tib:
            zt = tib[0].transform[:3, 2]
            tv = varus(-zt, -t_axis)
            out.append(self.result("tibial_component_varus", tv, implant=tib[0].id))
            tray_normal = zt
        if fv is not None and tv is not None:
            out.append(self.result("hka_planned", 180.0 - fv - tv))
        res_t = ctx.plan.resections.get("proximal_tibia")
        n_prox = -res_t.normal if res_t is not None else tray_normal
        if n_prox is not None:
            posterior = tf.unit(tf.project_on_plane(-anterior, t_axis))
            slope = np.degrees(np.arctan2(n_prox @ posterior, n_prox @ t_axis))
            out.append(self.result("tibial_slope", float(slope)))
        for name, rs in ctx.plan.resections.items():
            mesh = ctx.model(rs.model)
            if mesh is None:
                out.append(self.missing("resection_thickness", f"model {rs.model!r} not in the case",
                                        f"_{name}"))
                continue
            # from the bone's vertices (no mesh clipping: the thickness is all that is reported)
            res = resection_thickness(mesh.points, rs.origin, rs.normal, **compartment_split(knee, side))
            for half, v in res.by_half_mm.items():
                out.append(self.result("resection_thickness", v, suffix=f"_{name}_{half}", resection=name))
        return out
