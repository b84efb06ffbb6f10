"""Hip arthroplasty measurements (LPS mm, degrees), each with its definition.

Landmarks used (case or plan): ``asis_{left,right}``, ``pubic_tubercle_{left,right}``
(pelvic frame, see :func:`surgiplan.core.planning.placement.pelvic_frame`),
``acetabular_centre_*``, ``femoral_head_centre_*``, ``teardrop_*``,
``lesser_trochanter_*``, ``femoral_canal_axis_*`` (point + direction).
Implants: one ``acetabular_cup`` and/or one ``femoral_stem`` of the plan.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.fitting import point_line_distance
from surgiplan.core.planning.measurements.base import (
    Measure,
    MeasureContext,
    MeasurementDef,
    MeasurementResult,
)
from surgiplan.core.planning.placement import pelvic_frame, radiographic_angles

OTHER = {"left": "right", "right": "left"}

D = MeasurementDef
DEFS = (
    D("cup_inclination", "Cup inclination (radiographic)", "deg",
      "Murray's radiographic inclination: angle between the pelvic longitudinal axis and the cup axis "
      "projected onto the coronal plane; coronal plane = anterior pelvic plane (both ASIS and the "
      "mid-point of the pubic tubercles); the scanner's coronal plane when those landmarks are missing."),
    D("cup_anteversion", "Cup anteversion (radiographic)", "deg",
      "Murray's radiographic anteversion: angle between the cup axis and the anterior pelvic plane "
      "(positive = opening faces anterior)."),
    D("cor_shift", "Centre-of-rotation shift", "mm",
      "Distance from the native acetabular centre (sphere fit) to the cup centre."),
    D("cor_shift_medial", "Centre-of-rotation shift, medial", "mm",
      "Cup centre minus native acetabular centre along the pelvic medio-lateral axis (positive = medial)."),
    D("cor_shift_superior", "Centre-of-rotation shift, superior", "mm",
      "Cup centre minus native acetabular centre along the pelvic superior axis (positive = superior)."),
    D("cor_shift_anterior", "Centre-of-rotation shift, anterior", "mm",
      "Cup centre minus native acetabular centre along the APP normal (positive = anterior)."),
    D("leg_length_change", "Leg length change", "mm",
      "Minus the superior component (pelvic frame) of the femur's displacement when the stem's "
      "head centre is reduced into the cup centre (positive = leg longer)."),
    D("leg_length_difference", "Leg length difference vs native side", "mm",
      "Leg length = distance along the pelvic superior axis from the ipsilateral teardrop down to the "
      "lesser trochanter; operated side after reduction minus native contralateral side "
      "(positive = operated leg longer)."),
    D("femoral_offset_change", "Femoral offset change", "mm",
      "Stem femoral offset (perpendicular distance of the prosthetic head centre from the femoral "
      "canal axis) minus the native femoral offset of the same side."),
    D("offset_difference", "Global offset difference vs native side", "mm",
      "Global offset = femoral offset + acetabular offset (hip centre to the pelvic mid-sagittal plane "
      "along the pelvic medio-lateral axis); operated side after reduction minus the native "
      "contralateral side."),
    D("stem_version", "Stem version", "deg",
      "Angle between the stem's neck axis and the pelvic medio-lateral axis, both projected onto the "
      "plane perpendicular to the femoral canal axis (positive = anteversion: neck points anterior)."),
    D("native_femoral_offset", "Native femoral offset", "mm",
      "Perpendicular distance from the femoral head centre (sphere fit) to the femoral canal axis."),
    D("native_leg_length_difference", "Native leg length difference (left - right)", "mm",
      "Left minus right leg length; leg length = distance along the pelvic superior axis from the "
      "ipsilateral teardrop down to the lesser trochanter (positive = left leg longer)."),
    D("native_neck_version", "Native femoral neck version", "deg",
      "Angle between the line from the canal axis to the head centre and the pelvic medio-lateral "
      "axis, in the plane perpendicular to the canal axis (positive = anteversion)."),
)


def _version(neck_dir, canal_dir, pelvis, side) -> float:
    """Signed angle (deg) of a neck direction from the medial direction about the canal axis."""
    medial = pelvis[:3, 0] * (-1.0 if side == "left" else 1.0)  # towards the midline
    n = tf.project_on_plane(neck_dir, canal_dir)
    m = tf.project_on_plane(medial, canal_dir)
    anterior = -pelvis[:3, 1]
    ang = tf.angle_between_deg(n, m)
    return float(ang if n @ anterior >= 0 else -ang)


class HipMeasurements(Measure):
    name = "hip"
    anatomy = "hip"
    definitions = DEFS

    def compute(self, ctx: MeasureContext) -> list[MeasurementResult]:
        out: list[MeasurementResult] = []
        pts = {k: ctx.point(k) for k in ("asis_left", "asis_right", "pubic_tubercle_left",
                                         "pubic_tubercle_right")}
        pelvis = None if any(v is None for v in pts.values()) else pelvic_frame(
            pts["asis_left"], pts["asis_right"], pts["pubic_tubercle_left"], pts["pubic_tubercle_right"])
        no_pelvis = "needs asis_left/right and pubic_tubercle_left/right landmarks"
        x_ml = None if pelvis is None else pelvis[:3, 0]
        sup = None if pelvis is None else pelvis[:3, 2]
        ant = None if pelvis is None else -pelvis[:3, 1]
        mid = None if pelvis is None else pelvis[:3, 3]

        def leg_length(side, lt=None):
            td = ctx.point(f"teardrop_{side}")
            lt = ctx.point(f"lesser_trochanter_{side}") if lt is None else lt
            if pelvis is None or td is None or lt is None:
                return None
            return float((td - lt) @ sup)

        def femoral_offset(side, head):
            ax = ctx.axis(f"femoral_canal_axis_{side}")
            return None if ax is None or head is None else point_line_distance(head, *ax)

        # ---- native quantities
        for side in ("left", "right"):
            head = ctx.point(f"femoral_head_centre_{side}")
            if head is None and ctx.axis(f"femoral_canal_axis_{side}") is None:
                continue
            fo = femoral_offset(side, head)
            out.append(self.result("native_femoral_offset", fo, suffix=f"_{side}") if fo is not None
                       else self.missing("native_femoral_offset", "needs femoral head centre and canal axis",
                                         f"_{side}"))
            ax = ctx.axis(f"femoral_canal_axis_{side}")
            if pelvis is not None and ax is not None and head is not None:
                out.append(self.result("native_neck_version", _version(head - ax[0], ax[1], pelvis, side),
                                       suffix=f"_{side}"))
        ll_l, ll_r = leg_length("left"), leg_length("right")
        if ll_l is not None and ll_r is not None:
            out.append(self.result("native_leg_length_difference", ll_l - ll_r))

        # ---- implants
        cups = ctx.implants_of_kind("acetabular_cup")
        stems = ctx.implants_of_kind("femoral_stem")
        if not cups and not stems:
            return out
        ref = cups[0] if cups else stems[0]
        side = ref.side if ref.side in OTHER else None
        if side is None:
            c = ref.transform[:3, 3]
            cands = [s for s in ("left", "right") if ctx.point(f"acetabular_centre_{s}") is not None]
            side = min(cands, key=lambda s: np.linalg.norm(ctx.point(f"acetabular_centre_{s}") - c),
                       default="left")
        cup_c = None
        if cups:
            g = ctx.geometry(cups[0])
            cup_c, axis = g.anchors["centre"], g.anchors["axis"]
            ref = "anterior pelvic plane" if pelvis is not None else (
                "scanner axes (no pelvic landmarks: " + no_pelvis + ")")
            ri, ra = radiographic_angles(axis, side, pelvis)
            out += [self.result("cup_inclination", ri, implant=cups[0].id, side=side, reference=ref),
                    self.result("cup_anteversion", ra, implant=cups[0].id, side=side, reference=ref)]
            native = ctx.point(f"acetabular_centre_{side}")
            if native is None or pelvis is None:
                out.append(self.missing("cor_shift", f"needs acetabular_centre_{side} and pelvic landmarks"))
            else:
                d = cup_c - native
                medial = -x_ml if side == "left" else x_ml
                out += [self.result("cor_shift", float(np.linalg.norm(d))),
                        self.result("cor_shift_medial", float(d @ medial)),
                        self.result("cor_shift_superior", float(d @ sup)),
                        self.result("cor_shift_anterior", float(d @ ant))]
        if stems:
            st = stems[0]
            g = ctx.geometry(st)
            head = g.anchors["head_centre"]
            ax = ctx.axis(f"femoral_canal_axis_{side}")
            native_head = ctx.point(f"femoral_head_centre_{side}")
            if ax is not None and native_head is not None:
                out.append(self.result("femoral_offset_change",
                                       point_line_distance(head, *ax) - point_line_distance(native_head, *ax)))
            else:
                out.append(self.missing("femoral_offset_change", f"needs femoral_canal_axis_{side} and "
                                        f"femoral_head_centre_{side}"))
            if pelvis is not None and ax is not None:
                out.append(self.result("stem_version", _version(g.anchors["neck_axis"], ax[1], pelvis, side),
                                       implant=st.id))
            centre = cup_c if cup_c is not None else ctx.point(f"acetabular_centre_{side}")
            if centre is not None and pelvis is not None:
                shift = centre - head  # femur displacement on reduction
                out.append(self.result("leg_length_change", float(-(shift @ sup))))
                lt = ctx.point(f"lesser_trochanter_{side}")
                ll_new = leg_length(side, None if lt is None else lt + shift)
                ll_other = leg_length(OTHER[side])
                if ll_new is not None and ll_other is not None:
                    out.append(self.result("leg_length_difference", ll_new - ll_other))
                else:
                    out.append(self.missing("leg_length_difference", "needs teardrops and lesser trochanters"))
                ax_o = ctx.axis(f"femoral_canal_axis_{OTHER[side]}")
                head_o = ctx.point(f"femoral_head_centre_{OTHER[side]}")
                if ax is not None and ax_o is not None and head_o is not None:
                    glob_new = point_line_distance(head, *ax) + abs(float((centre - mid) @ x_ml))
                    glob_o = point_line_distance(head_o, *ax_o) + abs(float((head_o - mid) @ x_ml))
                    out.append(self.result("offset_difference", glob_new - glob_o))
        return out
