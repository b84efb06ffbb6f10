"""The femoral neck resection of a hip plan: level and angle from the fitted landmarks.

The cut is a plane perpendicular to the coronal plane of the proximal femur (the plane through the
canal axis and the head centre). In that plane it runs at ``angle_to_shaft_deg`` (default 45 deg)
to the shaft axis, from the medial calcar up to the lateral side of the neck; it meets the medial
side at ``level_above_lt_mm`` (default 15 mm) above the lesser trochanter, measured along the canal
axis, at the lesser trochanter's distance from the axis. The :class:`Resection`'s normal points
to the kept side (distal-lateral), as every plan resection's does.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.planning.plan import Resection

DEFAULT_LEVEL_ABOVE_LT_MM = 15.0
DEFAULT_ANGLE_TO_SHAFT_DEG = 45.0


def neck_resection(landmarks: dict, side: str, *, level_above_lt_mm: float = DEFAULT_LEVEL_ABOVE_LT_MM,
                   angle_to_shaft_deg: float = DEFAULT_ANGLE_TO_SHAFT_DEG, name: str | None = None) -> Resection:
    """The neck cut of the ``side`` femur (model ``femur_<side>``) from the landmarks (LPS mm).

    Needs ``femoral_head_centre_<side>``, ``femoral_canal_axis_<side>`` (point + direction) and
    ``lesser_trochanter_<side>``. Raises InputError when one is missing or the geometry is
    degenerate, or for an angle outside [20, 70] deg or a level outside [-10, 40] mm.
    """
    if side not in ("left", "right"):
        raise InputError(f"side must be 'left' or 'right' (got {side!r})")
    if not 20.0 <= angle_to_shaft_deg <= 70.0:
        raise InputError(f"neck cut angle {angle_to_shaft_deg:g} deg is outside 20-70 deg to the shaft axis")
    if not -10.0 <= level_above_lt_mm <= 40.0:
        raise InputError(f"neck cut level {level_above_lt_mm:g} mm above the lesser trochanter is outside "
                         "-10 to 40 mm")
    keys = [f"femoral_head_centre_{side}", f"femoral_canal_axis_{side}", f"lesser_trochanter_{side}"]
    missing = [k for k in keys if k not in landmarks]
    if missing:
        raise InputError(f"the neck cut needs the landmarks {', '.join(missing)}",
                         hint="Fit the hip landmarks first.")
    head = np.asarray(landmarks[keys[0]].position, float)
    canal = landmarks[keys[1]]
    if canal.direction is None:
        raise InputError(f"landmark {keys[1]} has no direction")
    a0 = np.asarray(canal.position, float)
    z = np.asarray(canal.direction, float)
    z = z / np.linalg.norm(z)
    if np.dot(head - a0, z) < 0:
        z = -z  # proximal: towards the head
    lt = np.asarray(landmarks[keys[2]].position, float)
    v = head - a0
    medial = v - np.dot(v, z) * z
    if np.linalg.norm(medial) < 5.0:
        raise InputError("the head centre lies on the canal axis; the neck direction is undefined")
    medial /= np.linalg.norm(medial)
    lt_h = np.dot(lt - a0, z)
    lt_r = np.linalg.norm((lt - a0) - lt_h * z)
    origin = a0 + (lt_h + level_above_lt_mm) * z + lt_r * medial
    t = np.radians(angle_to_shaft_deg)
    removed = np.sin(t) * z + np.cos(t) * medial  # towards the head
    return Resection(name or f"neck_cut_{side}", f"femur_{side}", origin, -removed)


def neck_cut_facts(res: Resection, landmarks: dict, side: str) -> dict:
    """Level and angle of a neck cut as a person reads them (for the summary / the CLI)."""
    z = np.asarray(landmarks[f"femoral_canal_axis_{side}"].direction, float)
    z = z / np.linalg.norm(z)
    ang = np.degrees(np.arcsin(min(1.0, abs(float(np.dot(-res.normal, z))))))
    head = np.asarray(landmarks[f"femoral_head_centre_{side}"].position, float)
    return {"model": res.model, "origin_mm": [round(float(x), 2) for x in res.origin],
            "normal_to_kept_side": [round(float(x), 4) for x in res.normal],
            "angle_to_shaft_deg": round(float(ang), 2),
            "head_centre_to_plane_mm": round(float(np.dot(head - res.origin, -res.normal)), 2)}
