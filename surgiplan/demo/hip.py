"""Scripted hip plans for the demo: fit landmarks, place cup + stem in two plans, compare.

``build_demo_plans(case)`` needs bone models ``pelvis`` and ``femur_left`` (and
``femur_right`` for the native comparisons) in the case. It fits the landmarks
automatically (no ground truth), then makes plan ``A`` (cup at 40 deg
inclination / 15 deg anteversion, stem sized to the native femoral offset) and
plan ``B`` (cup at 45 / 20 deg, one stem size up, high-offset stem) on the left
hip, and returns :func:`~surgiplan.core.planning.comparison.compare_plans` of
the two. Every step is undoable; nothing is saved (call ``case.save()``).
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import Progress, report, sub_progress
from surgiplan.core.planning.auto_landmarks import apply_landmarks, fit_hip_landmarks
from surgiplan.core.planning.catalog import default_catalog
from surgiplan.core.planning.comparison import Comparison, compare_plans
from surgiplan.core.planning.fitting import point_line_distance
from surgiplan.core.planning.placement import cup_pose, pelvic_frame_from_landmarks, stem_pose
from surgiplan.core.planning.plan import PlacedImplant
from surgiplan.core.planning.sizing import cup_size_for, liner_size_for, stem_size_for

SIDE = "left"


def _pelvis_frame(case) -> np.ndarray:
    return pelvic_frame_from_landmarks(case.landmarks)








def place_hip(case, plan: str, inclination: float, anteversion: float, stem_id: str, stem_size: str,
              head: str = "32/0", cup_size: str | None = None, side: str = SIDE, catalog=None) -> None:
    """Place cup (on the fitted acetabular centre) with its liner, and stem (on the canal axis) in ``plan``.

    The liner sits in the cup (same centre and axis) and its bore matches the head's diameter.
    """
    catalog = catalog or default_catalog()
    L = case.landmarks
    need = [f"acetabular_centre_{side}", f"femoral_canal_axis_{side}", "asis_left", "asis_right"]
    missing = [k for k in need if k not in L]
    if missing:
        raise InputError(f"case {case.model.name!r} lacks landmarks {missing}; fit them first")
    centre = L[f"acetabular_centre_{side}"].position
    if cup_size is None:
        r = L.get(f"acetabular_radius_{side}")
        cup_size = cup_size_for(r.position[0] if r is not None else 26.0, catalog)
    canal = L[f"femoral_canal_axis_{side}"]
    stem_p = catalog.get(stem_id).size(stem_size)
    head_centre = L.get(f"femoral_head_centre_{side}", L[f"acetabular_centre_{side}"]).position
    liner_size = liner_size_for(cup_size, head, catalog)
    t_cup = cup_pose(centre, inclination, anteversion, side, _pelvis_frame(case))
    with case.history.group(f"place hip implants in {plan}"):
        case.add_implant(plan, PlacedImplant("cup", "hip_cup", cup_size, t_cup, side=side, bone="pelvis"))
        case.add_implant(plan, PlacedImplant("liner", "hip_liner", liner_size, t_cup.copy(), side=side))
        case.add_implant(plan, PlacedImplant(
            "stem", stem_id, stem_size, stem_pose(stem_p, canal.position, canal.direction, head_centre),
            side=side, bone=f"femur_{side}", options={"head": head}))


def build_demo_plans(case, progress: Progress | None = None, catalog=None) -> Comparison:
    """Fit hip landmarks, make plans A (40/15 deg) and B (45/20 deg, other stem) and compare them."""
    catalog = catalog or default_catalog()
    for m in ("pelvis", f"femur_{SIDE}"):
        if m not in case.model_names:
            raise InputError(f"case {case.model.name!r} has no model {m!r} (models: "
                             f"{', '.join(case.model_names) or 'none'})", hint="Build the bone models first.")
    femurs = {s: case.get_model(f"femur_{s}") for s in ("left", "right") if f"femur_{s}" in case.model_names}
    lms = fit_hip_landmarks(case.get_model("pelvis"), femurs, progress=sub_progress(progress, 0, 0.4))
    apply_landmarks(case, lms, "fit hip landmarks")
    canal = case.landmarks[f"femoral_canal_axis_{SIDE}"]
    native_offset = point_line_distance(case.landmarks[f"femoral_head_centre_{SIDE}"].position,
                                        canal.position, canal.direction)
    size_a = stem_size_for(native_offset, "hip_stem_standard", catalog)
    sizes = catalog.get("hip_stem_high_offset").sizes
    size_b = sizes[min(sizes.index(size_a) + 1, len(sizes) - 1)]
    report(progress, 0.45, "plan A")
    for name in ("A", "B"):
        if name in case.plans:
            raise InputError(f"case {case.model.name!r} already has a plan {name!r}")
    case.new_plan("A", note="cup 40/15 deg, standard-offset stem sized to the native offset")
    place_hip(case, "A", 40.0, 15.0, "hip_stem_standard", size_a, catalog=catalog)
    report(progress, 0.55, "plan B")
    case.new_plan("B", note="cup 45/20 deg, high-offset stem one size up, +4 head")
    place_hip(case, "B", 45.0, 20.0, "hip_stem_high_offset", size_b, head="32/+4", catalog=catalog)
    report(progress, 0.65, "comparing plans (bone distance fields)")
    comp = compare_plans(case, ["A", "B"], catalog=catalog)
    report(progress, 1.0, "hip plans ready")
    return comp
