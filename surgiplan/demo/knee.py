"""Scripted knee plans: measured resection TKA with mechanically aligned components.

Needs bone models ``femur`` and ``tibia`` and the landmarks ``hip_centre``,
``knee_centre_femur``, ``knee_centre_tibia``, ``ankle_centre`` in the case
(a knee CT does not show the hip and the ankle: they come from a long-leg
study or, for the sample, from its ground truth via :func:`import_landmarks`; the
knee centres and epicondyles are fitted on the models when missing).
Optional ``lateral_epicondyle`` / ``medial_epicondyle`` set the femoral rotation.

:func:`place_knee` cuts the distal femur ``distal_depth`` mm above its most
distal point and the tibia ``tibial_depth`` mm below the higher plateau (both
perpendicular to the mechanical axes, tibia with ``slope`` deg posterior
slope), then seats the femoral component, tray and insert on the cuts.
``build_demo_plans(case)`` makes plan A (9 mm / 9 mm, 3 deg slope) and plan B
(11 mm distal, 6 deg slope, 2 deg valgus tibial cut) and compares them.
"""

from __future__ import annotations

import json
from pathlib import Path

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import Progress, report
from surgiplan.core.planning.catalog import default_catalog
from surgiplan.core.planning.comparison import Comparison, compare_plans
from surgiplan.core.planning.knee_frame import cut_reference_point, knee_frame
from surgiplan.core.planning.placement import limb_pose
from surgiplan.core.planning.plan import PlacedImplant, Resection
from surgiplan.core.planning.resection import plane_from_angles


def import_landmarks(case, ground_truth_json: str | Path, keys=None, source: str = "imported") -> list[str]:
    """Copy landmarks (``landmarks`` and ``axes``) from a ground_truth.json into the case (one undo step)."""
    gt = json.loads(Path(ground_truth_json).read_text(encoding="utf-8"))
    items = {**{k: (v["position"], None, v.get("definition", "")) for k, v in gt.get("landmarks", {}).items()},
             **{k: (v["point"], v["direction"], v.get("definition", "")) for k, v in gt.get("axes", {}).items()}}
    keys = list(items) if keys is None else list(keys)
    with case.history.group("import landmarks"):
        for k in keys:
            pos, d, definition = items[k]
            case.set_landmark(k, pos, d, source=source, definition=definition)
    return keys


def place_knee(case, plan: str, side: str, femoral_size: str = "4", tray_size: str = "4", insert: str = "10",
               distal_depth: float = 9.0, tibial_depth: float = 9.0, slope: float = 3.0,
               tibial_varus: float = 0.0, catalog=None) -> None:
    """Resect and place femoral component, tibial tray and insert in ``plan`` (one undo step)."""
    catalog = catalog or default_catalog()
    fr = knee_frame(case.landmarks, side, owner=f"case {case.model.name!r}")
    kf, kt, f_axis, t_axis, anterior = fr.knee_femur, fr.knee_tibia, fr.femoral_axis, fr.tibial_axis, fr.anterior
    distal = cut_reference_point(case.get_model("femur").points, fr, "femur")
    o_f, n_f = plane_from_angles(distal, f_axis, anterior, distal_depth, side=side, distal=True)
    top = cut_reference_point(case.get_model("tibia").points, fr, "tibia")
    o_t, n_t = plane_from_angles(top, t_axis, anterior, tibial_depth, tibial_varus, slope, side=side,
                                 distal=False)
    t_fem = limb_pose(kf + ((o_f - kf) @ f_axis) * f_axis, f_axis, anterior)
    origin_t = kt + ((o_t - kt) @ n_t) * n_t
    t_tib = limb_pose(origin_t, -n_t, anterior)
    with case.history.group(f"place knee implants in {plan}"):
        case.set_resection(plan, Resection("distal_femur", "femur", o_f, n_f))
        case.set_resection(plan, Resection("proximal_tibia", "tibia", o_t, n_t))
        case.add_implant(plan, PlacedImplant("femoral", "knee_femoral", femoral_size, t_fem, side, "femur"))
        case.add_implant(plan, PlacedImplant("tray", "knee_tibial_tray", tray_size, t_tib, side, "tibia"))
        case.add_implant(plan, PlacedImplant("insert", "knee_insert", insert, t_tib.copy(), side, "",
                                             options={"tray_size": tray_size}))


def import_sample_landmarks(case, anatomy: str, keys) -> list[str]:
    """Import ``keys`` missing from the case from the ``anatomy`` sample's ground truth.

    For the demo on a sample scan only: a knee CT shows neither the hip nor the ankle
    (a long-leg study would), and pedicle entry points are the surgeon's choice.
    """
    missing = [k for k in keys if k not in case.landmarks]
    if not missing:
        return []
    from surgiplan.core.samples import sample_path

    p = sample_path(anatomy, size="small")
    gt = json.loads(Path(p.ground_truth).read_text(encoding="utf-8"))
    have = set(gt.get("landmarks", {})) | set(gt.get("axes", {}))
    return import_landmarks(case, p.ground_truth, [k for k in missing if k in have])


def build_demo_plans(case, side: str = "right", progress: Progress | None = None, catalog=None) -> Comparison:
    """Plans A and B on a knee case (see module docstring) and their comparison.

    The hip and ankle centres lie outside a knee CT: when the case lacks them they are
    imported from the knee sample's ground truth (this demo is meant for the knee sample
    scan; a long-leg study would give them). The knee centres and epicondyles the case
    lacks, and the condyles' distal points, are fitted on the femur and tibia models
    (:mod:`surgiplan.core.planning.auto_knee`).
    """
    from surgiplan.core.planning.auto_knee import fit_knee_landmarks
    from surgiplan.core.planning.auto_landmarks import apply_landmarks

    for m in ("femur", "tibia"):
        if m not in case.model_names:
            raise InputError(f"case {case.model.name!r} has no model {m!r}")
    import_sample_landmarks(case, "knee", ["hip_centre", "ankle_centre"])
    wanted = ("knee_centre_femur", "knee_centre_tibia", "medial_epicondyle", "lateral_epicondyle",
              "medial_condyle_distal", "lateral_condyle_distal")
    if any(k not in case.landmarks for k in wanted):
        L = case.landmarks
        lms = fit_knee_landmarks(case.get_model("femur"), case.get_model("tibia"), L["hip_centre"].position,
                                 L["ankle_centre"].position, side)
        apply_landmarks(case, {k: lms[k] for k in wanted if k not in case.landmarks}, "fit knee landmarks")
    report(progress, 0.1, "plan A")
    case.new_plan("A", note="9 mm distal femur, 9 mm tibia, 3 deg slope")
    place_knee(case, "A", side, catalog=catalog)
    report(progress, 0.4, "plan B")
    case.new_plan("B", note="11 mm distal femur, 6 deg slope, 2 deg valgus tibial cut")
    place_knee(case, "B", side, distal_depth=11.0, slope=6.0, tibial_varus=-2.0, insert="12", catalog=catalog)
    report(progress, 0.7, "comparing")
    comp = compare_plans(case, ["A", "B"], catalog=catalog)
    report(progress, 1.0, "knee plans ready")
    return comp
