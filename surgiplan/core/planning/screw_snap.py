"""A pedicle screw placed by hand snaps to the level and the pedicle under the cursor.

:func:`snap_screw` (pure) takes the point the surgeon clicked (LPS mm, e.g. on a vertebra in
the 3D view or the slice crosshair) and finds

* the **level**: the vertebra model (L1..L5) whose surface is nearest the point;
* the **side**: the pedicle (left / right) whose entry point is nearest;
* the **trajectory**: the pedicle axis of that level and side, from the case's spine
  landmarks (``pedicle_entry_<L>_<side>`` and ``pedicle_axis_<L>_<side>``) or, when the case
  has none for the level, fitted on the vertebra model then
  (:func:`surgiplan.core.planning.auto_spine.fit_spine_landmarks`);
* the **size** (the longest and thickest the trajectory holds, :func:`sizing.screw_size_for`)
  unless one is given, the screw **pose** (origin at the entry point, +z along the axis) and
  its cortical **breach** (:func:`surgiplan.core.planning.interference.screw_breach`,
  Gertzbein-Robbins grade).

:func:`place_snapped_screw` puts it into a plan as one undo step (replacing the screw of the
same level and side).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.anatomy import SPINE_LEVELS

SCREW_ID = "spine_pedicle_screw"


@dataclass
class ScrewSnap:
    """Where a clicked point snaps: level, side, trajectory (LPS mm), size, pose, breach."""

    level: str
    side: str
    entry: np.ndarray
    direction: np.ndarray
    size: str
    transform: np.ndarray
    breach_mm: float
    grade: str
    breach_direction: str
    distance_to_level_mm: float
    trajectory_source: str  # "landmarks" or "fitted now"
    fitted: dict = field(default_factory=dict, repr=False)  # landmarks fitted now (name -> Landmark)

    def to_dict(self) -> dict:
        return {"level": self.level, "side": self.side, "entry": self.entry.tolist(),
                "direction": self.direction.tolist(), "size": self.size, "transform": self.transform.tolist(),
                "breach_mm": self.breach_mm, "grade": self.grade, "breach_direction": self.breach_direction,
                "distance_to_level_mm": self.distance_to_level_mm, "trajectory_source": self.trajectory_source}


def nearest_level(case, point) -> tuple[str, float]:
    """(vertebra model, distance mm) of the case's lumbar vertebra whose surface is nearest ``point``."""
    p = np.asarray(point, float).reshape(3)
    levels = [lv for lv in SPINE_LEVELS if lv in case.model_names]
    if not levels:
        raise InputError(f"case {case.model.name!r} has no vertebra model ({', '.join(SPINE_LEVELS)})",
                         hint="Build the spine models first (Models).")
    best = None
    for lv in levels:
        _, q = case.get_model(lv).find_closest_cell(p, return_closest_point=True)
        d = float(np.linalg.norm(np.asarray(q) - p))
        if best is None or d < best[1]:
            best = (lv, d)
    return best


def _trajectory(case, plan, level: str, point: np.ndarray):
    """(side, entry, unit direction, source, fitted landmarks) of the pedicle nearest ``point``."""
    lms = case.all_landmarks(plan)
    fitted = {}
    have = all(f"pedicle_entry_{level}_{s}" in lms and f"pedicle_axis_{level}_{s}" in lms
               and lms[f"pedicle_axis_{level}_{s}"].direction is not None for s in ("left", "right"))
    source = "landmarks"
    if not have:
        from surgiplan.core.planning.auto_spine import fit_spine_landmarks

        fitted = fit_spine_landmarks({level: case.get_model(level)})
        lms = {**lms, **fitted}
        source = "fitted now"
    side = min(("left", "right"),
               key=lambda s: float(np.linalg.norm(lms[f"pedicle_entry_{level}_{s}"].position - point)))
    entry = np.asarray(lms[f"pedicle_entry_{level}_{side}"].position, float)
    d = tf.unit(lms[f"pedicle_axis_{level}_{side}"].direction, f"pedicle_axis_{level}_{side}")
    body = lms.get(f"vertebral_body_centre_{level}")
    if body is not None and (np.asarray(body.position) - entry) @ d < 0:
        d = -d  # into the body
    return side, entry, d, source, fitted


def snap_screw(case, plan: str | None, point, size: str | None = None, catalog_id: str = SCREW_ID,
               catalog=None) -> ScrewSnap:
    """Snap a screw to the level and pedicle nearest ``point`` (LPS mm); pure (the case is unchanged).

    Parameters
    ----------
    point : array-like (3,)
        The clicked point, LPS mm.
    size : str, optional
        Catalog size ("DxL"); the longest and thickest the trajectory holds when None.
    """
    from surgiplan.core.planning.bone_fields import bone_field
    from surgiplan.core.planning.catalog import default_catalog
    from surgiplan.core.planning.interference import ImplantSamples, screw_breach
    from surgiplan.core.planning.sizing import screw_size_for

    catalog = catalog or default_catalog()
    p = np.asarray(point, float).reshape(3)
    if not np.all(np.isfinite(p)):
        raise InputError(f"the clicked point {p.tolist()} is not a finite position")
    level, dist = nearest_level(case, p)
    side, entry, d, source, fitted = _trajectory(case, plan, level, p)
    spec = catalog.get(catalog_id)
    if size is None:
        size = screw_size_for(case, level, entry, d, catalog)
    spec.size(size)
    from surgiplan.core.planning.placement import screw_pose

    t = screw_pose(entry, entry + d)
    lms = {**case.all_landmarks(plan), **fitted}
    body = lms.get(f"vertebral_body_centre_{level}")
    geom = spec.geometry(size)
    b = screw_breach(bone_field(case, level), ImplantSamples.from_meshes(geom.contact()), t,
                     midline_x=None if body is None else float(body.position[0]))
    return ScrewSnap(level, side, entry, d, str(size), t, float(b.breach_mm), b.grade, b.direction, dist, source,
                     fitted)


def place_snapped_screw(case, plan: str, snap: ScrewSnap, catalog_id: str = SCREW_ID, catalog=None):
    """Put the snapped screw into ``plan`` (one undo step; the screw of the same level and side is replaced)."""
    from surgiplan.core.planning.operations import place_implant

    return place_implant(case, plan, f"screw_{snap.level}_{snap.side}", catalog_id, snap.size,
                         transform=snap.transform, side=snap.side, bone=snap.level, catalog=catalog,
                         replace_same_kind=True)
