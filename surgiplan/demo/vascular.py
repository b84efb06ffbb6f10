"""Scripted vascular plans: a balloon-expandable stent across the iliac stenosis, two variants.

``build_demo_plans(case)`` measures the common iliac stenosis on the case's
planning CT and its vessel segmentation (:mod:`surgiplan.core.planning.stenosis`,
no ground truth), stores it as case landmarks (``stenosis_centre`` with the
distal vessel axis, ``stenosis_proximal_end``, ``stenosis_distal_end``, source
"auto") and makes

* plan ``A``: stent nominal diameter = the smallest catalog diameter >= the
  reference diameter, length = the shortest catalog length covering the lesion
  with >= 5 mm margin at each end, centred on the lesion, axis along the vessel;
* plan ``B``: one diameter size up and one length size up, same centre and axis;

and returns :func:`~surgiplan.core.planning.comparison.compare_plans` of the two
(rows of :mod:`surgiplan.core.planning.measurements.vascular` included).
Every step is undoable; nothing is saved.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import Progress, report, sub_progress
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.catalog import default_catalog
from surgiplan.core.planning.comparison import Comparison, compare_plans
from surgiplan.core.planning.measurements.vascular import remember_stenosis
from surgiplan.core.planning.plan import PlacedImplant
from surgiplan.core.planning.sizing import MARGIN_MM, stent_size_for
from surgiplan.core.planning.stenosis import Stenosis, find_iliac_stenosis

STENT_ID = "vascular_stent_be"
#: surgeon targets for the comparison (stored in the case settings unless already set)
TARGETS = {"stent_reference_ratio": (100.0, 120.0), "stent_margin_proximal": (MARGIN_MM, 30.0),
           "stent_margin_distal": (MARGIN_MM, 30.0)}






def stent_pose(st: Stenosis) -> np.ndarray:
    """Stent transform: origin at the lesion centre, +z along the vessel (distal), +x towards patient left."""
    return tf.frame(st.lesion_centre, [1.0, 0.0, 0.0] if abs(st.direction[0]) < 0.9 else [0, 1.0, 0],
                    st.direction)


def measure_case_stenosis(case, progress: Progress | None = None) -> Stenosis:
    """Find the iliac stenosis on the case's planning scan and store it as landmarks (one undo step)."""
    from surgiplan.core.imaging.volume_io import read_volume

    if not case.model.scans:
        raise InputError(f"case {case.model.name!r} has no scan", hint="Add the CT angiogram first.")
    scan = case.model.scans[0]
    volume = read_volume(case.root / scan.volume)
    st = find_iliac_stenosis(volume, case.segmentation(scan.name), progress=progress)
    with case.history.group("measure iliac stenosis"):
        case.set_landmark("stenosis_centre", st.centre, st.direction, source="fitted",
                          definition=f"narrowest section of the {st.side} common iliac (centreline point, "
                                     "distal axis); measured on the CT")
        case.set_landmark("stenosis_proximal_end", st.proximal_end, source="fitted",
                          definition="centreline point where the lumen diameter drops below 95 % of the reference")
        case.set_landmark("stenosis_distal_end", st.distal_end, source="fitted",
                          definition="centreline point where the lumen diameter recovers to 95 % of the reference")
    remember_stenosis(case, st)
    return st


def build_demo_plans(case, progress: Progress | None = None, catalog=None) -> Comparison:
    """Measure the iliac stenosis, make plans A (sized to the reference) and B (one size up), compare."""
    catalog = catalog or default_catalog()
    for name in ("A", "B"):
        if name in case.plans:
            raise InputError(f"case {case.model.name!r} already has a plan {name!r}")
    st = measure_case_stenosis(case, progress=sub_progress(progress, 0.0, 0.5))
    t = stent_pose(st)
    size_a = stent_size_for(st.reference_diameter_mm, st.length_mm, catalog)
    size_b = stent_size_for(st.reference_diameter_mm, st.length_mm, catalog, 1, 1)
    report(progress, 0.55, "plan A")
    case.new_plan("A", note=f"stent {size_a} mm: diameter >= reference, >= {MARGIN_MM:g} mm margins")
    case.add_implant("A", PlacedImplant("stent", STENT_ID, size_a, t, st.side, ""))
    report(progress, 0.65, "plan B")
    case.new_plan("B", note=f"stent {size_b} mm: one diameter and one length size up")
    case.add_implant("B", PlacedImplant("stent", STENT_ID, size_b, t.copy(), st.side, ""))
    report(progress, 0.75, "comparing plans")
    targets = {k: v for k, v in TARGETS.items() if k not in case.model.settings.get("targets", {})}
    if targets:  # kept in the case, so that the report and the window judge the stent by them too
        case.model.settings.setdefault("targets", {}).update({k: list(v) for k, v in targets.items()})
        case.dirty = True
    comp = compare_plans(case, ["A", "B"], targets=targets, catalog=catalog)
    report(progress, 1.0, "vascular plans ready")
    return comp
