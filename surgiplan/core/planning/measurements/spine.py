"""Pedicle screw measurements (LPS mm, degrees), each with its definition.

For every ``pedicle_screw`` implant whose ``bone`` names a vertebra model of the
case: trajectory angles in the scanner's axial and sagittal planes, how long and
how thick a screw the bone admits along that trajectory, and cortical breach
(:func:`surgiplan.core.planning.interference.screw_breach`).
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.planning.bone_fields import bone_field
from surgiplan.core.planning.interference import ImplantSamples, screw_breach
from surgiplan.core.planning.measurements.base import (
    Measure,
    MeasureContext,
    MeasurementDef,
    MeasurementResult,
)

D = MeasurementDef
DEFS = (
    D("screw_medial_angle", "Screw medial angle", "deg",
      "Angle in the axial plane between the screw axis (entry to tip) and the anterior direction; "
      "positive = tip converges towards the vertebra's mid-sagittal plane."),
    D("screw_caudal_angle", "Screw caudal angle", "deg",
      "Angle in the sagittal plane between the screw axis and the axial plane; positive = tip caudal."),
    D("screw_length_margin", "Screw length margin", "mm",
      "Bone length available along the trajectory (entry to where the axis leaves the bone) minus "
      "the screw length; negative = tip inside bone."),
    D("screw_diameter_margin", "Screw diameter margin", "mm",
      "Narrowest bone diameter around the axis over the screw's length (twice the smallest distance "
      "from the axis to the bone surface, the isthmus) minus the screw diameter."),
    D("screw_breach", "Cortical breach", "mm",
      "Largest distance of the screw shank surface outside the bone (ignoring the first 3 mm at the "
      "entry); Gertzbein-Robbins grade A 0, B < 2, C < 4, D < 6, E >= 6 mm."),
)


class SpineMeasurements(Measure):
    name = "spine"
    anatomy = "spine"
    definitions = DEFS

    def compute(self, ctx: MeasureContext) -> list[MeasurementResult]:
        out: list[MeasurementResult] = []
        for imp in ctx.implants_of_kind("pedicle_screw"):
            sfx = f"_{imp.id}"
            p = ctx.params(imp)
            t = imp.transform
            entry, d = t[:3, 3], t[:3, 2]
            mesh = ctx.model(imp.bone) if imp.bone else None
            mid_x = float(np.mean(mesh.bounds[:2])) if mesh is not None else None
            cen = ctx.point(f"vertebral_body_centre_{imp.bone}")
            if cen is not None:
                mid_x = float(cen[0])
            med_sign = 1.0 if mid_x is None else (1.0 if mid_x - entry[0] >= 0 else -1.0)
            ant = -d[1]
            out.append(self.result("screw_medial_angle",
                                   float(np.degrees(np.arctan2(med_sign * d[0], ant))), suffix=sfx))
            out.append(self.result("screw_caudal_angle",
                                   float(np.degrees(np.arctan2(-d[2], np.hypot(ant, d[0])))), suffix=sfx))
            if mesh is None:
                for k in ("screw_length_margin", "screw_diameter_margin", "screw_breach"):
                    out.append(self.missing(k, f"screw {imp.id!r} names no bone model (bone={imp.bone!r})", sfx))
                continue
            field = bone_field(ctx.case, imp.bone)
            ts = np.arange(0.0, p["length"] + 40.0, 0.25)
            sdf = field.interpolate(entry + ts[:, None] * d)
            inside = np.nonzero(sdf < 0)[0]
            if len(inside) == 0:
                out.append(self.missing("screw_length_margin", "the trajectory never enters the bone", sfx))
            else:
                first = inside[0]
                after = np.nonzero(sdf[first:] >= 0)[0]
                avail = ts[first + after[0]] if len(after) else ts[-1]
                out.append(self.result("screw_length_margin", float(avail - p["length"]), suffix=sfx,
                                       available_length_mm=float(avail)))
                within = (ts >= 3.0) & (ts <= min(p["length"], avail))
                width = 2 * float(-sdf[within].max()) if within.any() else 0.0
                width = max(width, 0.0)
                out.append(self.result("screw_diameter_margin", width - p["diameter"], suffix=sfx,
                                       available_diameter_mm=width))
            geom = ctx.catalog.get(imp.catalog_id).geometry(imp.size, imp.options)
            samples = ImplantSamples.from_meshes(geom.contact())
            b = screw_breach(field, samples, t, midline_x=mid_x)
            out.append(self.result("screw_breach", b.breach_mm, suffix=sfx, grade=b.grade,
                                   direction=b.direction, location=b.location,
                                   depth_along_screw_mm=b.depth_along_screw_mm))
        return out
