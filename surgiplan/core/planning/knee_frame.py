"""The mechanical frame of a knee and the bone points its resection depths are measured from.

One definition shared by the scripted knee plans (:mod:`surgiplan.demo.knee`)
and the Plan panel's knee cuts (``surgiplan.gui.panels.knee_cuts``). Positions are LPS mm,
axes unit vectors in LPS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.planning import transforms as tf

#: landmarks the frame is built from (LPS mm)
KNEE_FRAME_LANDMARKS = ("hip_centre", "knee_centre_femur", "knee_centre_tibia", "ankle_centre")


@dataclass(frozen=True)
class KneeFrame:
    """Mechanical axes of one knee (LPS unit vectors) and its two knee centres (LPS mm).

    ``femoral_axis``: femoral knee centre to hip centre (proximal); ``tibial_axis``: ankle
    centre to tibial knee centre (proximal); ``lateral``: medial to lateral epicondyle when
    both are known, else the patient's lateral direction (+x LPS for a left knee, -x for a
    right one), made perpendicular to the femoral axis; ``anterior``: perpendicular to the
    femoral axis and ``lateral``, pointing anteriorly (-y LPS); ``side``: "left" or "right".
    """

    femoral_axis: np.ndarray
    tibial_axis: np.ndarray
    anterior: np.ndarray
    lateral: np.ndarray
    knee_femur: np.ndarray
    knee_tibia: np.ndarray
    side: str

    def bone_axis(self, bone: str) -> np.ndarray:
        """The mechanical axis (unit, proximal) of ``bone``: "femur" or "tibia"."""
        if bone not in ("femur", "tibia"):
            raise InputError(f"a knee frame has femur and tibia axes, not {bone!r}")
        return self.femoral_axis if bone == "femur" else self.tibial_axis


def knee_frame(landmarks: Mapping, side: str, owner: str = "knee frame") -> KneeFrame:
    """The knee's mechanical frame from ``landmarks`` (name -> object with ``.position``, LPS mm).

    Needs ``hip_centre``, ``knee_centre_femur``, ``knee_centre_tibia`` and ``ankle_centre``;
    ``medial_epicondyle`` and ``lateral_epicondyle`` set the medio-lateral axis when both are
    present (femoral rotation follows the transepicondylar axis). ``owner`` names where the
    landmarks come from in the error raised when some are missing (e.g. "case 'Knee'").
    """
    if side not in ("left", "right"):
        raise InputError(f"the knee side must be 'left' or 'right', not {side!r}")
    missing = [k for k in KNEE_FRAME_LANDMARKS if k not in landmarks]
    if missing:
        raise InputError(f"{owner}: missing the knee landmarks {', '.join(missing)}",
                         hint="Place them (Landmarks), fit them on the models, or import them "
                              "(a long-leg study gives the hip and ankle centres).")
    hip, kf, kt, ank = (np.asarray(landmarks[k].position, float) for k in KNEE_FRAME_LANDMARKS)
    f_axis, t_axis = tf.unit(hip - kf), tf.unit(kt - ank)
    lateral = np.array([1.0 if side == "left" else -1.0, 0.0, 0.0])
    if "lateral_epicondyle" in landmarks and "medial_epicondyle" in landmarks:
        lateral = (np.asarray(landmarks["lateral_epicondyle"].position, float)
                   - np.asarray(landmarks["medial_epicondyle"].position, float))
    anterior = np.cross(f_axis, lateral)
    if anterior[1] > 0:  # anterior is -y in LPS
        anterior = -anterior
    return KneeFrame(f_axis, t_axis, tf.unit(anterior), tf.unit(tf.project_on_plane(lateral, f_axis)),
                     kf, kt, side)


def cut_reference_point(points, frame: KneeFrame, bone: str) -> np.ndarray:
    """The bone point (LPS mm) a resection depth is measured from.

    Femur: the most distal vertex of ``points`` (N x 3, LPS mm) along the femoral mechanical
    axis (the distal cut removes ``depth`` mm from the more prominent condyle). Tibia: the
    highest vertex along the tibial axis among those 10-35 mm medial or lateral of the tibial
    knee centre and within 15 mm of its level (the higher plateau, not the spines); all
    vertices when none lie there.
    """
    pts = np.asarray(points, float)
    axis = frame.bone_axis(bone)
    if bone == "femur":
        return pts[np.argmin(pts @ axis)]
    rel = pts - frame.knee_tibia
    ml = np.abs(rel @ frame.lateral)
    near = (ml > 10.0) & (ml < 35.0) & (np.abs(rel @ axis) < 15.0)
    if not near.any():
        near = np.ones(len(pts), bool)
    return pts[near][np.argmax(pts[near] @ axis)]
