"""Knee resection planes as the surgeon sets them: depth (mm), varus/valgus and slope (deg).

No Qt here. The core stores a resection as a plane (origin + normal, LPS mm) and
builds it with :func:`surgiplan.core.planning.resection.plane_from_angles`; this
module supplies that function's inputs from the case (mechanical axes from the
landmarks, the reference bone point) and inverts it, so that a plane dragged in
3D shows its depth and angles in the numeric fields. The axis construction is
the one of :mod:`surgiplan.core.planning.demo_knee` (``place_knee``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# core modules are imported inside the functions: importing surgiplan.core.planning (pydantic)
# while the panels are built, after PySide6, trips shiboken's import hook

NEEDED = ("hip_centre", "knee_centre_femur", "knee_centre_tibia", "ankle_centre")

#: resection name -> (bone model, distal cut?, default depth mm, default slope deg, label)
CUTS = {
    "distal_femur": ("femur", True, 9.0, 0.0, "Distal femoral cut"),
    "proximal_tibia": ("tibia", False, 9.0, 3.0, "Proximal tibial cut"),
}


@dataclass(frozen=True)
class KneeFrame:
    """Mechanical axes of a knee (LPS, unit vectors pointing proximal / anterior / lateral)."""

    femoral_axis: np.ndarray
    tibial_axis: np.ndarray
    anterior: np.ndarray
    lateral: np.ndarray
    knee_femur: np.ndarray
    knee_tibia: np.ndarray
    side: str

    def axis(self, cut: str) -> np.ndarray:
        return self.femoral_axis if CUTS[cut][1] else self.tibial_axis


def knee_frame(landmarks: dict, side: str) -> KneeFrame:
    """Axes from the hip, knee and ankle centres (and epicondyles when present)."""
    from surgiplan.core.errors import InputError
    from surgiplan.core.planning import transforms as tf

    missing = [k for k in NEEDED if k not in landmarks]
    if missing:
        raise InputError(f"the knee cuts need the landmarks {', '.join(missing)}",
                         hint="Place them (Landmarks) or take them from the sample's ground truth.")
    hip, kf, kt, ank = (np.asarray(landmarks[k].position, float) for k in NEEDED)
    f_axis, t_axis = tf.unit(hip - kf), tf.unit(kt - ank)
    lateral = np.array([1.0 if side == "left" else -1.0, 0, 0])
    if "lateral_epicondyle" in landmarks and "medial_epicondyle" in landmarks:
        lateral = landmarks["lateral_epicondyle"].position - landmarks["medial_epicondyle"].position
    anterior = np.cross(f_axis, lateral)
    if anterior[1] > 0:  # anterior is -y in LPS
        anterior = -anterior
    return KneeFrame(f_axis, t_axis, tf.unit(anterior), tf.unit(tf.project_on_plane(lateral, f_axis)),
                     kf, kt, side)


def reference_point(cut: str, mesh, frame: KneeFrame) -> np.ndarray:
    """The bone point the depth is measured from (LPS mm): the most distal femoral point
    along the femoral axis, or the highest tibial plateau point 10-35 mm off the centre."""
    pts = np.asarray(mesh.points, float)
    if CUTS[cut][1]:
        return pts[np.argmin(pts @ frame.femoral_axis)]
    kt, axis = frame.knee_tibia, frame.tibial_axis
    ml = (pts - kt) @ frame.lateral
    near = (np.abs(ml) > 10) & (np.abs(ml) < 35) & (np.abs((pts - kt) @ axis) < 15)
    if not near.any():
        near = np.ones(len(pts), bool)
    return pts[near][np.argmax(pts[near] @ axis)]


def cut_plane(cut: str, frame: KneeFrame, point, depth_mm: float, varus_valgus_deg: float,
              slope_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(origin, normal) of the cut, normal towards the kept bone (core ``plane_from_angles``)."""
    from surgiplan.core.planning.resection import plane_from_angles

    return plane_from_angles(point, frame.axis(cut), frame.anterior, depth_mm, varus_valgus_deg,
                             slope_deg, side=frame.side, distal=CUTS[cut][1])


def cut_parameters(cut: str, frame: KneeFrame, point, origin, normal) -> tuple[float, float, float]:
    """Inverse of :func:`cut_plane`: (depth mm, varus/valgus deg, slope deg) of a plane.

    The depth is measured along the mechanical axis through ``point``.
    """
    from surgiplan.core.planning import transforms as tf

    distal = CUTS[cut][1]
    z = tf.unit(frame.axis(cut))
    y = tf.unit(tf.project_on_plane(frame.anterior, z))
    x = np.cross(y, z)
    n = tf.unit(normal)
    z0 = z if distal else -z
    # n = R_x(slope) R_y(lat * vv) z0 (rotations about the frame's x and y, see plane_from_angles)
    sa = float(np.clip((n @ x) / (np.cross(y, z0) @ x), -1.0, 1.0))
    a = np.arcsin(sa)
    s = np.arctan2((n @ y) / (np.cross(x, z0) @ y), (n @ z) / (z0 @ z))
    lat = 1.0 if frame.side == "left" else -1.0
    t = (np.asarray(origin, float) - np.asarray(point, float)) @ n / (z @ n)
    depth = t if distal else -t
    return float(depth), float(np.degrees(a) * lat), float(np.degrees(s))
