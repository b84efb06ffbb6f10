"""Knee resection planes as the surgeon sets them: depth (mm), varus/valgus and slope (deg).

The core stores a resection as a plane (origin + normal, LPS mm) and builds it with
:func:`surgiplan.core.planning.resection.plane_from_angles`; this module supplies that
function's inputs from the case (the mechanical frame and the reference bone point of
:mod:`surgiplan.core.planning.knee_frame`, as the scripted plans of
:mod:`surgiplan.demo.knee` use them) and inverts it, so that a plane dragged
in 3D shows its depth and angles in the numeric fields. :func:`set_knee_cut` is the
workflow of the window's Resections group and of ``surgiplan plan cut`` (one undo step);
:func:`knee_cut_readout` is what both show.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.knee_frame import cut_reference_point
from surgiplan.core.planning.knee_frame import knee_frame as core_knee_frame
from surgiplan.core.planning.resection import plane_from_angles

#: resection name -> (bone model, distal cut?, default depth mm, default slope deg, label)
CUTS = {
    "distal_femur": ("femur", True, 9.0, 0.0, "Distal femoral cut"),
    "proximal_tibia": ("tibia", False, 9.0, 3.0, "Proximal tibial cut"),
}


def knee_frame(landmarks: dict, side: str):
    """The knee's mechanical frame (:func:`surgiplan.core.planning.knee_frame.knee_frame`)."""
    return core_knee_frame(landmarks, side, owner="knee cuts")


def reference_point(cut: str, mesh, frame) -> np.ndarray:
    """The bone point the depth is measured from (LPS mm): core
    :func:`~surgiplan.core.planning.knee_frame.cut_reference_point` of the cut's bone."""
    return cut_reference_point(mesh.points, frame, CUTS[cut][0])


def cut_plane(cut: str, frame, point, depth_mm: float, varus_valgus_deg: float,
              slope_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(origin, normal) of the cut, normal towards the kept bone (core ``plane_from_angles``)."""
    return plane_from_angles(point, frame.bone_axis(CUTS[cut][0]), frame.anterior, depth_mm, varus_valgus_deg,
                             slope_deg, side=frame.side, distal=CUTS[cut][1])


def cut_parameters(cut: str, frame, point, origin, normal) -> tuple[float, float, float]:
    """Inverse of :func:`cut_plane`: (depth mm, varus/valgus deg, slope deg) of a plane.

    The depth is measured along the mechanical axis through ``point``.
    """
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


def cut_geometry(case, plan: str, cut: str):
    """(knee frame, reference point LPS mm, bone mesh) of ``cut`` in ``plan``.

    The side is :func:`~surgiplan.core.planning.side.operative_side`; InputError naming what
    is missing (the cut's bone model, the knee landmarks).
    """
    from surgiplan.core.errors import InputError
    from surgiplan.core.planning.side import operative_side

    if cut not in CUTS:
        raise InputError(f"unknown knee cut {cut!r}", hint=f"Use one of: {', '.join(CUTS)}.")
    bone = CUTS[cut][0]
    if bone not in case.model_names:
        raise InputError(f"case {case.model.name!r} has no {bone} model for the {CUTS[cut][4].lower()}",
                         hint=f"Build the {bone} model first (Models).")
    frame = knee_frame(case.all_landmarks(plan), operative_side(case, plan))
    mesh = case.get_model(bone)
    return frame, reference_point(cut, mesh, frame), mesh


def set_knee_cut(case, plan: str, cut: str, depth_mm: float | None = None,
                 varus_valgus_deg: float = 0.0, slope_deg: float | None = None, move_components: bool = True):
    """Put knee cut ``cut`` into ``plan`` at a depth and angles (one undo step); returns the Resection.

    The components seated on the cut (femoral component on the distal femoral cut, tibial
    tray and insert on the tibial cut) move with it in the same step
    (:func:`surgiplan.core.planning.cut_components.apply_cut`) unless ``move_components`` is False.

    Parameters
    ----------
    case, plan : Case, str
        The plan to edit (not locked).
    cut : {"distal_femur", "proximal_tibia"}
        Which cut.
    depth_mm : float, optional
        Resection depth from the cut's reference bone point along the mechanical axis (mm);
        the cut's default (9 mm) when None.
    varus_valgus_deg : float
        Coronal angle (deg, positive varus).
    slope_deg : float, optional
        Sagittal angle (deg, positive posterior slope); the cut's default when None.

    Examples
    --------
    >>> set_knee_cut(case, "A", "proximal_tibia", 8.0, 0.0, 5.0)  # doctest: +SKIP
    """
    from surgiplan.core.planning.plan import Resection

    depth = CUTS[cut][2] if depth_mm is None and cut in CUTS else depth_mm
    slope = CUTS[cut][3] if slope_deg is None and cut in CUTS else slope_deg
    frame, point, _ = cut_geometry(case, plan, cut)
    o, n = cut_plane(cut, frame, point, float(depth), float(varus_valgus_deg), float(slope))
    rs = Resection(cut, CUTS[cut][0], o, n)
    from surgiplan.core.planning.cut_components import apply_cut

    apply_cut(case, plan, rs, move_components,
              description=f"{CUTS[cut][4].lower()} at {float(depth):g} mm in {plan}")
    return rs


@dataclass(frozen=True)
class KneeCutReadout:
    """What the window and ``plan cut --json`` show for a knee cut."""

    cut: str
    depth_mm: float
    varus_valgus_deg: float
    slope_deg: float
    thickness_mm: dict[str, float]  # lateral / medial: deepest removed bone per compartment
    origin: tuple[float, float, float]
    normal: tuple[float, float, float]

    def to_dict(self) -> dict:
        return {"cut": self.cut, "depth_mm": self.depth_mm, "varus_valgus_deg": self.varus_valgus_deg,
                "slope_deg": self.slope_deg, "thickness_mm": dict(self.thickness_mm),
                "origin": list(self.origin), "normal": list(self.normal)}


def knee_cut_readout(case, plan: str, cut: str, origin=None, normal=None) -> KneeCutReadout:
    """Depth, angles and per-compartment thickness of the plan's cut (or of a candidate plane)."""
    from surgiplan.core.errors import InputError
    from surgiplan.core.planning.measurements.knee import compartment_split
    from surgiplan.core.planning.resection import resection_thickness

    frame, point, mesh = cut_geometry(case, plan, cut)
    if origin is None or normal is None:
        rs = case.plan(plan).resections.get(cut)
        if rs is None:
            raise InputError(f"plan {plan!r} has no {cut} cut")
        origin, normal = rs.origin, rs.normal
    origin, normal = np.asarray(origin, float), tf.unit(np.asarray(normal, float))
    depth, vv, slope = cut_parameters(cut, frame, point, origin, normal)
    knee = (frame.knee_femur + frame.knee_tibia) / 2
    h = resection_thickness(mesh.points, origin, normal, **compartment_split(knee, frame.side)).by_half_mm
    return KneeCutReadout(cut, depth, vv, slope, {k: float(v) for k, v in h.items()},
                          tuple(float(x) for x in origin), tuple(float(x) for x in normal))
