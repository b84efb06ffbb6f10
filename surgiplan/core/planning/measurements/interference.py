"""Implant-bone interference as a measurement plugin: one definition for every face.

What a surgeon checks depends on the implant (issue 28 #9):

* implants seated in bone by reaming or broaching (acetabular cup, femoral stem): the
  volume of bone they occupy is the bone to remove, not an alarm
  (``interference_volume``, named "bone to remove"); a cup reports its **coverage** (the
  share of its outer shell's area touching bone, %), a stem its **cortex breach** (how far
  the distal two thirds of its surface pass outside the femur, mm; 0 = contained; not judged
  where the femur model ends because the scan does);
* every other implant (knee components on resected bone, plates, screws' heads...):
  **penetration** volume of its contact parts inside the bone (mm^3) and the signed depth
  (mm): the deepest penetration (positive) or minus the smallest gap.

The Plan panel (live while dragging), Compare, ``plan measure`` and ``plan compare`` read
these rows. A bone's signed distance field takes seconds to build and is cached per model
(:mod:`bone_fields`); ``MeasureContext.cached_only`` (the window) reports a row as pending
instead of building a missing field; with the field at hand an implant costs milliseconds.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.planning.measurements.base import Measure, MeasureContext, MeasurementDef, MeasurementResult

#: Implant kinds seated inside bone on purpose (their "interference" is bone to remove).
SEATED_KINDS = ("acetabular_cup", "femoral_stem")
#: A cup's outer surface within this distance of bone counts as covered (mm).
COVERAGE_TOLERANCE_MM = 1.0

DEFS = (
    MeasurementDef("interference_volume", "Interference volume", "mm^3",
                   "Volume of the implant's bone-contact parts inside the bone model (interior samples "
                   "of the implant inside the bone's signed distance field). For a cup or stem this is "
                   "the bone to remove by reaming or broaching."),
    MeasurementDef("interference_depth", "Interference depth / gap", "mm",
                   "Deepest penetration of the implant's contact parts into the bone (positive), or, "
                   "without contact, minus the smallest gap between implant and bone (negative)."),
    MeasurementDef("cup_coverage", "Cup coverage", "%",
                   f"Share of the cup's outer shell area lying inside the pelvis or within "
                   f"{COVERAGE_TOLERANCE_MM:g} mm of it (bony coverage of the cup)."),
    MeasurementDef("stem_cortex_breach", "Stem cortex breach", "mm",
                   "Largest distance by which the distal two thirds of the stem's surface lie outside "
                   "the femur model (a perforated cortex); 0 when the stem is contained."),
)


def cup_coverage(field, geometry_meshes, centre, axis, outer_radius: float) -> float:
    """Area-weighted share (%) of a posed cup's outer shell within tolerance of the bone."""
    import pyvista as pv

    shells = [m.triangulate() for m in geometry_meshes]
    mesh = pv.merge(shells) if len(shells) > 1 else shells[0]
    sizes = mesh.compute_cell_sizes(length=False, volume=False)
    centres = np.asarray(mesh.cell_centers().points)
    area = np.asarray(sizes["Area"])
    rel = centres - np.asarray(centre, float)
    outer = (np.linalg.norm(rel, axis=1) > outer_radius - 0.75) & (rel @ np.asarray(axis, float) < 0)
    if not outer.any():
        return float("nan")
    covered = field.interpolate(centres[outer]) <= COVERAGE_TOLERANCE_MM
    return float(100.0 * area[outer][covered].sum() / area[outer].sum())


def stem_cortex_breach(field, samples, transform, bone_points=None, end_margin_mm: float = 3.0
                       ) -> tuple[float, float]:
    """(breach mm >= 0, mm of stem beyond the bone model's distal end) of a posed stem.

    The breach is the largest distance by which the distal two thirds of the stem's surface
    lie outside the bone. Where the bone model ends (a scan's field of view cuts the femur
    short, ``bone_points`` given), the last ``end_margin_mm`` and anything beyond are not
    judged: a truncated model is not a perforated cortex; how far the stem reaches past it is
    returned instead.
    """
    s = np.asarray(samples.surface)
    z = s[:, 2]  # the stem frame's +z is proximal
    distal = s[z <= z.min() + (z.max() - z.min()) * 2.0 / 3.0]
    if not len(distal):
        return 0.0, 0.0
    t = np.asarray(transform, float)
    world = distal @ t[:3, :3].T + t[:3, 3]
    beyond = 0.0
    if bone_points is not None and len(bone_points):
        axis = t[:3, 2]
        end = float((np.asarray(bone_points, float) @ axis).min())  # the model's distal end
        along = world @ axis
        beyond = float(max(0.0, end - along.min()))
        world = world[along >= end + end_margin_mm]
        if not len(world):
            return 0.0, beyond
    d = field.interpolate(world)
    return float(max(0.0, d.max())), beyond


class InterferenceMeasurements(Measure):
    name = "interference"
    anatomy = "general"
    definitions = DEFS
    #: Needs a distance field per bone (seconds once, then milliseconds).
    expensive = True

    def compute(self, ctx: MeasureContext) -> list[MeasurementResult]:
        from surgiplan.core.planning.bone_fields import bone_field, cached_bone_field, implant_samples
        from surgiplan.core.planning.interference import interference

        out: list[MeasurementResult] = []
        for imp in ctx.plan.implants.values():
            if not imp.bone or imp.bone not in ctx.case.model_names:
                continue
            suffix = f"_{imp.id}"
            kind = ctx.kind(imp) if imp.catalog_id in ctx.catalog else ""
            details = {"implant": imp.id, "bone": imp.bone, "group": "interference"}
            field = (cached_bone_field(ctx.case, imp.bone) if ctx.cached_only
                     else bone_field(ctx.case, imp.bone))
            if field is None:
                why = f"the {imp.bone} distance field is being prepared"
                out.append(self.result("interference_volume", None, suffix=suffix, missing=why, **details))
                continue
            samples = implant_samples(ctx.catalog, imp)
            res = interference(field, samples, imp.transform)
            volume = self.result("interference_volume", float(res.penetration_volume_mm3), suffix=suffix,
                                 **details)
            if kind in SEATED_KINDS:
                volume.name = f"Bone to remove (reaming / broaching) ({imp.id})"
                out.append(volume)
                if kind == "acetabular_cup":
                    geom = ctx.geometry(imp)
                    contact = [geom.parts[n] for n in (geom.contact_parts or tuple(geom.parts))]
                    r = float(ctx.params(imp)["outer_diameter"]) / 2.0
                    value = cup_coverage(field, contact, imp.transform[:3, 3], imp.transform[:3, 2], r)
                    out.append(self.result("cup_coverage", value, suffix=suffix, **details))
                else:
                    bone = ctx.model(imp.bone)
                    breach, beyond = stem_cortex_breach(field, samples, imp.transform,
                                                        None if bone is None else bone.points)
                    row = self.result("stem_cortex_breach", breach, suffix=suffix, **details,
                                      beyond_model_end_mm=round(beyond, 2))
                    if beyond > 0:
                        row.definition += (f" The stem reaches {beyond:.1f} mm past the end of the {imp.bone} "
                                           "model (the scan ends there): not judged there.")
                    out.append(row)
                continue
            depth = res.max_penetration_mm if res.penetration_volume_mm3 > 0 else -res.min_distance_mm
            out.append(volume)
            out.append(self.result("interference_depth", float(depth), suffix=suffix, **details))
        return out
