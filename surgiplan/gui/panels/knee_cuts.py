"""Knee resection planes as the surgeon sets them: depth (mm), varus/valgus and slope (deg).

No Qt here. The core stores a resection as a plane (origin + normal, LPS mm) and
builds it with :func:`surgiplan.core.planning.resection.plane_from_angles`; this
module supplies that function's inputs from the case (the mechanical frame and the
reference bone point of :mod:`surgiplan.core.planning.knee_frame`, as the scripted
plans of :mod:`surgiplan.core.planning.demo_knee` use them) and inverts it, so that a
plane dragged in 3D shows its depth and angles in the numeric fields.
"""

from __future__ import annotations

import numpy as np

# core modules are imported inside the functions: importing surgiplan.core.planning (pydantic)
# while the panels are built, after PySide6, trips shiboken's import hook

#: resection name -> (bone model, distal cut?, default depth mm, default slope deg, label)
CUTS = {
    "distal_femur": ("femur", True, 9.0, 0.0, "Distal femoral cut"),
    "proximal_tibia": ("tibia", False, 9.0, 3.0, "Proximal tibial cut"),
}


def knee_frame(landmarks: dict, side: str):
    """The knee's mechanical frame (core :func:`surgiplan.core.planning.knee_frame.knee_frame`)."""
    from surgiplan.core.planning.knee_frame import knee_frame as core_knee_frame

    return core_knee_frame(landmarks, side, owner="knee cuts")


def reference_point(cut: str, mesh, frame) -> np.ndarray:
    """The bone point the depth is measured from (LPS mm): core
    :func:`~surgiplan.core.planning.knee_frame.cut_reference_point` of the cut's bone."""
    from surgiplan.core.planning.knee_frame import cut_reference_point

    return cut_reference_point(mesh.points, frame, CUTS[cut][0])


def cut_plane(cut: str, frame, point, depth_mm: float, varus_valgus_deg: float,
              slope_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(origin, normal) of the cut, normal towards the kept bone (core ``plane_from_angles``)."""
    from surgiplan.core.planning.resection import plane_from_angles

    return plane_from_angles(point, frame.bone_axis(CUTS[cut][0]), frame.anterior, depth_mm, varus_valgus_deg,
                             slope_deg, side=frame.side, distal=CUTS[cut][1])


def cut_parameters(cut: str, frame, point, origin, normal) -> tuple[float, float, float]:
    """Inverse of :func:`cut_plane`: (depth mm, varus/valgus deg, slope deg) of a plane.

    The depth is measured along the mechanical axis through ``point``.
    """
    from surgiplan.core.planning import transforms as tf

    distal = CUTS[cut][1]
    z = tf.unit(frame.bone_axis(CUTS[cut][0]))
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
