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
      "Angle in the vertebra's axial plane between the screw axis (entry to tip) and the vertebra's "
      "mid-sagittal plane; positive = tip converges towards the midline. Vertebral axes: medio-lateral = "
      "scanner x, cranial = from the inferior to the superior end-plate centre (scanner z without them)."),
    D("screw_caudal_angle", "Screw caudal angle", "deg",
      "Angle between the screw axis and the vertebra's axial plane; positive = tip caudal."),
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


def isthmus_diameter(field, entry, d, t0: float, t1: float, step: float = 0.5, rays: int = 24,
                     reach: float = 20.0) -> float:
    """Narrowest bone diameter (mm) around the axis between t0 and t1 mm from the entry.

    At each axis point the inscribed radius of the cross-section is the shortest
    of ``rays`` radial rays (perpendicular to the axis) to the bone surface; the
    result is twice its minimum over the segment (0 if the axis leaves the bone).
    """
    if t1 <= t0:
        return 0.0
    d = d / np.linalg.norm(d)
    u = np.cross(d, [1.0, 0, 0] if abs(d[0]) < 0.9 else [0, 1.0, 0])
    u /= np.linalg.norm(u)
    v = np.cross(d, u)
    ang = np.linspace(0, 2 * np.pi, rays, endpoint=False)
    dirs = np.cos(ang)[:, None] * u + np.sin(ang)[:, None] * v  # (R, 3)
    ts = np.arange(t0, t1 + 1e-9, step)
    rs = np.arange(0.0, reach, 0.1)
    pts = entry + ts[:, None, None, None] * d + rs[None, None, :, None] * dirs[None, :, None, :]
    sdf = field.interpolate(pts.reshape(-1, 3)).reshape(len(ts), rays, len(rs))
    outside = sdf >= 0
    first = np.where(outside.any(2), outside.argmax(2), len(rs) - 1)  # first step outside per ray
    radius = rs[first].min(1)  # inscribed radius per section
    return float(2 * radius.min())


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
            # vertebral frame: x = scanner medio-lateral, cranial = inferior -> superior end-plate
            # centres (orthogonalised), anterior = cranial x left; scanner axes without those landmarks
            sup_c = ctx.point(f"superior_endplate_centre_{imp.bone}")
            inf_c = ctx.point(f"inferior_endplate_centre_{imp.bone}")
            ml = np.array([1.0, 0, 0])
            cranial = np.array([0, 0, 1.0])
            if sup_c is not None and inf_c is not None:
                c = sup_c - inf_c
                cranial = (c - (c @ ml) * ml) / np.linalg.norm(c - (c @ ml) * ml)
            anterior = np.cross(ml, cranial)  # L x S = anterior (-y in LPS)
            dx, da, dc = d @ ml, d @ anterior, d @ cranial
            frame = "vertebral end plates" if sup_c is not None and inf_c is not None else "scanner axes"
            out.append(self.result("screw_medial_angle",
                                   float(np.degrees(np.arctan2(med_sign * dx, da))), suffix=sfx, frame=frame))
            out.append(self.result("screw_caudal_angle",
                                   float(np.degrees(np.arctan2(-dc, np.hypot(da, dx)))), suffix=sfx, frame=frame))
            if mesh is None:
                out += self.missing_rows(("screw_length_margin", "screw_diameter_margin", "screw_breach"),
                                         f"screw {imp.id!r} names no bone model (bone={imp.bone!r})", sfx)
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
                width = isthmus_diameter(field, entry, d, 3.0, min(p["length"], avail))
                out.append(self.result("screw_diameter_margin", width - p["diameter"], suffix=sfx,
                                       available_diameter_mm=width))
            geom = ctx.catalog.get(imp.catalog_id).geometry(imp.size, imp.options)
            samples = ImplantSamples.from_meshes(geom.contact())
            b = screw_breach(field, samples, t, midline_x=mid_x)
            out.append(self.result("screw_breach", b.breach_mm, suffix=sfx, grade=b.grade,
                                   direction=b.direction, location=b.location,
                                   depth_along_screw_mm=b.depth_along_screw_mm))
        return out
