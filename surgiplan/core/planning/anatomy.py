"""The anatomy registry: what each anatomy surgiplan plans brings (models, landmarks, preset).

One table instead of constants spread over the window's panels: which bone models a
case of the anatomy holds, which landmarks the surgeon sets or the fit produces, which
segmentation preset finds its bones, what the landmark fit button says, and how to tell
the anatomy of an open case. Adding an anatomy starts here (docs/architecture.md).

Examples
--------
>>> ANATOMIES["knee"].models
('femur', 'tibia', 'fibula', 'patella')
>>> anatomy_of_models(["L3", "L4"])
'spine'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Anatomy:
    """What one anatomy brings: names are those of the case's models and landmarks."""

    name: str
    label: str
    models: tuple[str, ...]
    landmarks: tuple[str, ...]
    preset: str
    fit_label: str
    fit_tooltip: str


ANATOMIES: dict[str, Anatomy] = {a.name: a for a in (
    Anatomy("hip", "Hip", ("pelvis", "femur_left", "femur_right"),
            ("acetabular_centre_left", "acetabular_centre_right", "femoral_head_centre_left",
             "femoral_head_centre_right", "asis_left", "asis_right", "pubic_tubercle_left",
             "pubic_tubercle_right", "teardrop_left", "teardrop_right", "lesser_trochanter_left",
             "lesser_trochanter_right"),
            "hip-bones", "Fit hip landmarks from the models",
            "Femoral heads, acetabular centres and axes, teardrops, lesser trochanters, canal axes from "
            "the pelvis and femur models"),
    Anatomy("knee", "Knee", ("femur", "tibia", "fibula", "patella"),
            ("hip_centre", "knee_centre_femur", "knee_centre_tibia", "ankle_centre", "medial_epicondyle",
             "lateral_epicondyle"),
            "knee-bones", "Fit knee landmarks from the models",
            "Knee centres, condylar tips, epicondyles and tibial plateau from the femur and tibia models "
            "(needs the hip and ankle centres)"),
    Anatomy("spine", "Lumbar spine", ("L1", "L2", "L3", "L4", "L5", "sacrum"),
            tuple(f"pedicle_{what}_{lv}_{side}" for lv in ("L1", "L2", "L3", "L4", "L5")
                  for side in ("left", "right") for what in ("entry", "axis")),
            "spine-bones", "Fit spine landmarks from the models",
            "Pedicle entry points, isthmus centres and axes from the vertebra models (L1..L5)"),
    Anatomy("vascular", "Vessels", ("vessel",),
            ("stenosis_centre", "stenosis_proximal_end", "stenosis_distal_end"), "vessel", "", ""),
)}

#: Bone names offered as separation targets (every anatomy's models, in registry order).
BONE_NAMES: tuple[str, ...] = tuple(dict.fromkeys(m for a in ANATOMIES.values() for m in a.models
                                                  if m != "vessel"))
#: The lumbar vertebrae (spine models that take pedicle landmarks).
SPINE_LEVELS: tuple[str, ...] = ("L1", "L2", "L3", "L4", "L5")


def anatomy_of_models(model_names: Iterable[str], sample: str = "") -> str:
    """The anatomy of a case from its models (or a sample scan's name): spine, knee, else hip.

    Parameters
    ----------
    model_names : iterable of str
        The case's model names.
    sample : str
        The sample scan's name when the scan is one (``"knee"``, ``"spine-full"``...).
    """
    names = set(model_names)
    if sample.startswith("spine") or names & set(SPINE_LEVELS):
        return "spine"
    if sample.startswith("knee") or {"femur", "tibia"} <= names:
        return "knee"
    if sample.startswith("vascular") or "vessel" in names:
        return "vascular"
    return "hip"
