"""Stent measurements across an iliac stenosis (LPS mm, mm, %), each with its definition.

For every ``stent`` implant: the lesion measured on the case's CT angiogram
(:func:`surgiplan.core.planning.stenosis.find_iliac_stenosis`, computed once
per case object and cached), the stent's nominal diameter against the
reference diameter, and how far the stent reaches beyond each end of the lesion
along its own axis.
"""

from __future__ import annotations

import weakref

import numpy as np

from surgiplan.core.errors import SurgiplanError
from surgiplan.core.planning.measurements.base import (
    Measure,
    MeasureContext,
    MeasurementDef,
    MeasurementResult,
)

D = MeasurementDef
DEFS = (
    D("stenosis_percent_diameter", "Measured diameter stenosis", "%",
      "100 x (1 - minimal / reference lumen diameter) of the tightest common iliac lesion, equivalent "
      "diameters 2 sqrt(area / pi) of CT sections perpendicular to the centreline."),
    D("stenosis_reference_diameter", "Reference lumen diameter", "mm",
      "Median equivalent lumen diameter of the same common iliac more than 12 mm from the narrowest section."),
    D("stenosis_minimal_diameter", "Minimal lumen diameter", "mm",
      "Equivalent lumen diameter of the narrowest section."),
    D("stent_reference_ratio", "Stent-to-reference diameter ratio", "%",
      "100 x stent nominal diameter / reference lumen diameter (>= 100 = not undersized)."),
    D("stent_margin_proximal", "Lesion coverage margin, proximal", "mm",
      "Distance along the stent axis from the lesion's proximal end (diameter below 95 % of the "
      "reference) to the stent's proximal end; negative = lesion not covered."),
    D("stent_margin_distal", "Lesion coverage margin, distal", "mm",
      "Distance along the stent axis from the lesion's distal end to the stent's distal end; "
      "negative = lesion not covered."),
)

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def case_stenosis(case):
    """The case's measured iliac stenosis (cached per case object); None when it cannot be measured."""
    if case in _CACHE:
        return _CACHE[case]
    from surgiplan.core.imaging.volume_io import read_volume
    from surgiplan.core.planning.stenosis import find_iliac_stenosis

    try:
        scan = case.model.scans[0]
        st = find_iliac_stenosis(read_volume(case.root / scan.volume), case.segmentation(scan.name))
    except (SurgiplanError, IndexError):
        st = None
    _CACHE[case] = st
    return st


def remember_stenosis(case, stenosis) -> None:
    """Cache a stenosis already measured for ``case`` (the demo measures it once)."""
    _CACHE[case] = stenosis


def coverage_margins(transform: np.ndarray, length_mm: float, proximal_end, distal_end) -> tuple[float, float]:
    """(proximal, distal) margins in mm of a stent (own +z = distal, origin at its centre) over a lesion."""
    o, z = transform[:3, 3], transform[:3, 2]
    a = (np.asarray(proximal_end, float) - o) @ z
    b = (np.asarray(distal_end, float) - o) @ z
    lo, hi = min(a, b), max(a, b)
    return float(lo + length_mm / 2), float(length_mm / 2 - hi)


class VascularMeasurements(Measure):
    name = "vascular"
    anatomy = "vascular"
    definitions = DEFS

    def compute(self, ctx: MeasureContext) -> list[MeasurementResult]:
        out: list[MeasurementResult] = []
        stents = ctx.implants_of_kind("stent")
        if not stents:
            return out
        st = case_stenosis(ctx.case)
        for imp in stents:
            sfx = f"_{imp.id}" if len(stents) > 1 else ""
            if st is None:
                out += self.missing_rows(None, "no iliac stenosis could be measured on the case's scan", sfx)
                continue
            p = ctx.params(imp)
            out.append(self.result("stenosis_percent_diameter", st.percent_diameter, suffix=sfx, side=st.side))
            out.append(self.result("stenosis_reference_diameter", st.reference_diameter_mm, suffix=sfx))
            out.append(self.result("stenosis_minimal_diameter", st.minimal_diameter_mm, suffix=sfx))
            out.append(self.result("stent_reference_ratio", 100.0 * p["diameter"] / st.reference_diameter_mm,
                                   suffix=sfx))
            prox, dist = coverage_margins(imp.transform, p["length"], st.proximal_end, st.distal_end)
            out.append(self.result("stent_margin_proximal", prox, suffix=sfx))
            out.append(self.result("stent_margin_distal", dist, suffix=sfx))
        return out
