"""What the Plan panel shows while something is being dragged, computed with the core.

No Qt here. :func:`preview_pose` lets :func:`measure_plan` see a candidate pose of
one implant without touching the case history (the pose is put back on exit); the
interference rows come from the core's plugin (``measurements/interference.py``).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np


@contextmanager
def preview_pose(case, plan_name: str, implant_id: str | None, transform: np.ndarray | None):
    """Temporarily give implant ``implant_id`` the pose ``transform`` (4x4, implant -> LPS mm).

    Nothing is recorded in the history and the case's dirty flag is not touched;
    the original pose is restored when the block ends (also on errors).
    """
    imp = None
    if implant_id is not None and transform is not None:
        imp = case.plan(plan_name).implants.get(implant_id)
    if imp is None:
        yield
        return
    saved = imp.transform
    imp.transform = np.asarray(transform, float)
    try:
        yield
    finally:
        imp.transform = saved
