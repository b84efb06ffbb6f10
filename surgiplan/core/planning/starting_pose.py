"""Where a newly placed implant starts, and landmarks taken from a sample scan's ground truth.

Used by the desktop window's Plan panel (and usable from scripts): the user then
moves the implant with handles, numeric fields or nudges. Positions LPS mm,
angles in degrees.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.placement import cup_pose, pelvic_frame_from_landmarks, stem_pose

#: Radiographic cup angles a new cup starts at (Lewinnek's safe-zone centre), degrees.
CUP_START_INCLINATION_DEG = 40.0
CUP_START_ANTEVERSION_DEG = 15.0


def starting_pose(case, plan_name: str, spec, size: str, side: str, fallback_point) -> np.ndarray:
    """4x4 transform (implant frame -> LPS mm) for a new implant of catalog ``spec`` / ``size``.

    * acetabular cup: centred on ``acetabular_centre_<side>`` at 40 deg inclination and
      15 deg anteversion in the pelvic frame (when the ASIS/pubic landmarks exist);
    * femoral stem: on ``femoral_canal_axis_<side>`` with its head centre level with
      ``femoral_head_centre_<side>`` (:func:`placement.stem_pose`);
    * anything else, or when those landmarks are missing: at ``fallback_point``
      (e.g. the crosshair), axes along L, P, S.
    """
    lm = case.all_landmarks(plan_name)
    kind = spec.model.kind
    p = np.asarray(fallback_point, dtype=float)
    if kind == "acetabular_cup":
        centre = lm[f"acetabular_centre_{side}"].position if f"acetabular_centre_{side}" in lm else p
        return cup_pose(centre, CUP_START_INCLINATION_DEG, CUP_START_ANTEVERSION_DEG, side,
                        pelvic_frame_from_landmarks(lm))
    canal, head = lm.get(f"femoral_canal_axis_{side}"), lm.get(f"femoral_head_centre_{side}")
    if kind == "femoral_stem" and canal is not None and canal.direction is not None and head is not None:
        return stem_pose(spec.size(size), canal.position, canal.direction, head.position)
    return tf.frame(p, [1.0, 0.0, 0.0], [0.0, 0.0, 1.0])


def ground_truth_landmarks(gt: dict) -> dict[str, tuple[np.ndarray, np.ndarray | None, str]]:
    """name -> (position LPS mm, unit direction or None, definition) from a sample's ground_truth.json.

    Takes every entry of ``landmarks`` and every axis of ``axes`` whose name ends in
    ``_axis_left`` / ``_axis_right`` (e.g. the femoral canal axes).
    """
    out: dict[str, tuple[np.ndarray, np.ndarray | None, str]] = {}
    for name, v in (gt.get("landmarks") or {}).items():
        if isinstance(v, dict) and "position" in v:
            d = v.get("direction")
            out[name] = (np.asarray(v["position"], float), None if d is None else np.asarray(d, float),
                         str(v.get("definition", "")))
    for name, v in (gt.get("axes") or {}).items():
        if isinstance(v, dict) and "point" in v and "direction" in v and (
                name.endswith("_left") or name.endswith("_right")):
            out[name] = (np.asarray(v["point"], float), np.asarray(v["direction"], float),
                         str(v.get("definition", "")))
    return out
