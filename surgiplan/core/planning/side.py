"""The operated side of a case or plan (``"left"`` / ``"right"``), decided in one place.

The knee's frame, its lateral/medial compartments, the knee landmark fit and the knee
measurements all need the side; before this module the window defaulted to the right
and the measurements to the left, so lateral and medial could swap between the two.
"""

from __future__ import annotations

import numpy as np

SIDES = ("left", "right")


def operative_side(case, plan: str | None = None, model: str = "femur") -> str:
    """The side a plan operates on.

    In order: the side of the plan's first implant that has one; the case setting
    ``settings["side"]``; else the side of the patient's midline (LPS x = 0) on which the
    ``model``'s centroid lies (+x is the patient's left); else ``"left"``.

    Parameters
    ----------
    case : Case
        The open case.
    plan : str, optional
        Plan name whose implants decide first.
    model : str
        Surface model whose position decides last (default the femur).

    Returns
    -------
    str
        ``"left"`` or ``"right"``.

    Examples
    --------
    >>> operative_side(case, "A")  # doctest: +SKIP
    'right'
    """
    if plan is not None and plan in case.plans:
        for imp in case.plans[plan].implants.values():
            if imp.side in SIDES:
                return imp.side
    side = case.model.settings.get("side")
    if side in SIDES:
        return side
    if model in case.model_names:
        x = float(np.mean(np.asarray(case.get_model(model).points)[:, 0]))
        return "left" if x > 0 else "right"
    return "left"
