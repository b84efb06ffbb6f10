"""Scripted spine plans: pedicle screws at two levels plus rods, two variants compared.

Needs vertebra models (``L3``, ``L4`` by default). The landmarks
``pedicle_entry_<L>_<side>``, axes ``pedicle_axis_<L>_<side>`` and the end-plate
centres are fitted on the models (:mod:`surgiplan.core.planning.auto_spine`) unless
the case already has them (placed by the surgeon). Plan A follows the pedicle axes with the longest and
thickest screws that fit (length <= available - 5 mm, diameter <= isthmus - 2 mm);
plan B converges every screw 8 deg more and allows screws 1 mm thicker than that trajectory fits.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import Progress, report, sub_progress
from surgiplan.core.planning import placement as pl
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.catalog import default_catalog
from surgiplan.core.planning.comparison import Comparison, compare_plans
from surgiplan.core.planning.plan import PlacedImplant
from surgiplan.core.planning.sizing import screw_size_for

SIDES = ("left", "right")




def place_screws(case, plan: str, levels=("L3", "L4"), converge_deg: float = 0.0,
                 extra_diameter: float = 0.0, catalog=None) -> None:
    """Screws on the pedicle axes of ``levels`` (both sides) and a rod per side (one undo step)."""
    catalog = catalog or default_catalog()
    L = case.landmarks
    heads = {s: [] for s in SIDES}
    with case.history.group(f"place pedicle screws in {plan}"):
        for lv in levels:
            if lv not in case.model_names:
                raise InputError(f"case {case.model.name!r} has no vertebra model {lv!r}")
            for s in SIDES:
                e_k, a_k = f"pedicle_entry_{lv}_{s}", f"pedicle_axis_{lv}_{s}"
                if e_k not in L or a_k not in L or L[a_k].direction is None:
                    raise InputError(f"case {case.model.name!r} lacks {e_k} / {a_k}")
                e, d = L[e_k].position, L[a_k].direction
                if converge_deg:
                    # rotate the tip towards the midline about the cranial axis
                    sign = 1.0 if s == "left" else -1.0  # left screws turn clockwise seen from above
                    d = tf.rotation_matrix([0, 0, 1], -sign * converge_deg) @ d
                size = screw_size_for(case, lv, e, d, catalog, extra_diameter)
                t = pl.screw_pose(e, e + d)
                case.add_implant(plan, PlacedImplant(f"{lv}_{s}", "spine_pedicle_screw", size, t, s, lv))
                heads[s].append(e - 6.0 * tf.unit(d))
        rods = catalog.get("spine_rod")
        for s in SIDES:
            if len(heads[s]) < 2:
                continue
            a, b = heads[s][0], heads[s][-1]
            span = float(np.linalg.norm(b - a)) + 20.0
            size = min((x for x in rods.sizes if rods.size(x)["diameter"] == 5.5),
                       key=lambda x: abs(rods.size(x)["length"] - span))
            t = tf.frame((a + b) / 2, [1.0, 0, 0], b - a)
            case.add_implant(plan, PlacedImplant(f"rod_{s}", "spine_rod", size, t, s, ""))


def build_demo_plans(case, levels=("L3", "L4"), progress: Progress | None = None, catalog=None,
                     volume=None) -> Comparison:
    """Plans A (on the pedicle axes) and B (8 deg more convergent, oversized screws) and their comparison.

    Pedicle and end-plate landmarks the case lacks are fitted on the vertebra models, refined on
    the CT: ``volume`` (LPS mm) or, when None, the case's scan the models were made from (if any).
    """
    from surgiplan.core.planning.auto_landmarks import apply_landmarks, scan_of_models
    from surgiplan.core.planning.auto_spine import fit_spine_landmarks

    for lv in levels:
        if lv not in case.model_names:
            raise InputError(f"case {case.model.name!r} has no vertebra model {lv!r}")
    need = [lv for lv in levels if any(f"{k}_{lv}_{s}" not in case.landmarks
                                       for s in SIDES for k in ("pedicle_entry", "pedicle_axis"))]
    if need:
        if volume is None:
            volume = scan_of_models(case, need)
        lms = fit_spine_landmarks({lv: case.get_model(lv) for lv in need}, progress=sub_progress(progress, 0, 0.1),
                                  volume=volume)
        apply_landmarks(case, {k: v for k, v in lms.items() if k not in case.landmarks}, "fit pedicle landmarks")
    report(progress, 0.1, "plan A")
    case.new_plan("A", note="screws on the pedicle axes, sized to fit")
    place_screws(case, "A", levels, catalog=catalog)
    report(progress, 0.5, "plan B")
    case.new_plan("B", note="8 deg more convergent, screws 1 mm over the fit")
    place_screws(case, "B", levels, converge_deg=8.0, extra_diameter=1.0, catalog=catalog)
    report(progress, 0.8, "comparing")
    comp = compare_plans(case, ["A", "B"], catalog=catalog)
    report(progress, 1.0, "spine plans ready")
    return comp
