"""Implant-bone interference as a measurement plugin: one definition for every face.

For each implant that names its ``bone`` model: the volume of its bone-contact parts
inside the bone (mm^3) and the signed depth (mm): the deepest penetration of the contact
parts into the bone when they overlap (positive), else minus the smallest gap. The Plan
panel (live, while an implant is dragged), the Compare step, ``plan measure`` and ``plan
compare`` all read these rows.

The bone's signed distance field takes seconds to build; it is cached per model
(:mod:`bone_fields`). ``MeasureContext.cached_only`` (the window) reports a row as
pending instead of building a missing field on the spot; with the field at hand one
implant costs a few milliseconds (the live-drag fast path).
"""

from __future__ import annotations

from surgiplan.core.planning.measurements.base import (
    Measure,
    MeasureContext,
    MeasurementDef,
    MeasurementResult,
)

DEFS = (
    MeasurementDef("interference_volume", "Interference volume", "mm^3",
                   "Volume of the implant's bone-contact parts inside the bone model (interior samples "
                   "of the implant inside the bone's signed distance field)."),
    MeasurementDef("interference_depth", "Interference depth / gap", "mm",
                   "Deepest penetration of the implant's contact parts into the bone (positive), or, "
                   "without contact, minus the smallest gap between implant and bone (negative)."),
)


class InterferenceMeasurements(Measure):
    name = "interference"
    anatomy = "general"
    definitions = DEFS
    #: Needs a distance field per bone (seconds once, then milliseconds).
    expensive = True

    def compute(self, ctx: MeasureContext) -> list[MeasurementResult]:
        from surgiplan.core.planning.bone_fields import (
            bone_field,
            cached_bone_field,
            implant_samples,
        )
        from surgiplan.core.planning.interference import interference

        out: list[MeasurementResult] = []
        for imp in ctx.plan.implants.values():
            if not imp.bone or imp.bone not in ctx.case.model_names:
                continue
            suffix = f"_{imp.id}"
            details = {"implant": imp.id, "bone": imp.bone, "group": "interference"}
            field = (cached_bone_field(ctx.case, imp.bone) if ctx.cached_only
                     else bone_field(ctx.case, imp.bone))
            if field is None:
                why = f"the {imp.bone} distance field is being prepared"
                out.append(self.result("interference_volume", None, suffix=suffix, missing=why, **details))
                continue
            res = interference(field, implant_samples(ctx.catalog, imp), imp.transform)
            depth = res.max_penetration_mm if res.penetration_volume_mm3 > 0 else -res.min_distance_mm
            out.append(self.result("interference_volume", float(res.penetration_volume_mm3), suffix=suffix,
                                   **details))
            out.append(self.result("interference_depth", float(depth), suffix=suffix, **details))
        return out
