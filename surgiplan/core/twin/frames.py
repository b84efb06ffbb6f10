"""Anatomical axes in which an implant's achieved-minus-planned offset is read.

Every frame is a 3x3 matrix whose columns are unit LPS vectors: patient left, posterior and
superior of the anatomy the implant sits in (the same convention as the pelvic frame of
:mod:`surgiplan.core.planning.placement`):

* pelvis (hip cup, stem): the anterior pelvic plane frame from ``asis_left``/``asis_right`` and
  the pubic tubercles;
* vertebra ``<L>`` (pedicle screw with ``bone = L``): medio-lateral = the scanner's x axis,
  superior = from ``inferior_endplate_centre_<L>`` to ``superior_endplate_centre_<L>``
  (orthogonalised), as the spine measurements use;
* knee components (femoral component, tibial tray, insert): the knee's mechanical frame
  (:func:`surgiplan.core.planning.knee_frame.knee_frame`; superior along the femoral, resp.
  tibial, mechanical axis) when the case has its landmarks;
* otherwise the scanner's LPS axes.

:func:`offset_components` turns an LPS displacement into lateral / anterior / superior
millimetres, lateral meaning away from the midline on the implant's side.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.planning.pelvis_parts import is_pelvis_model
from surgiplan.core.planning.placement import pelvic_frame_from_landmarks


def implant_frame(landmarks: dict, bone: str, catalog_kind: str = "") -> tuple[np.ndarray, str]:
    """(3x3 axes [left, posterior, superior] as columns, name of the frame) for an implant.

    Parameters
    ----------
    landmarks : dict
        Landmarks by name (positions LPS mm), e.g. ``case.all_landmarks(plan)``.
    bone : str
        The implant's bone (``pelvis``, ``femur_left``, ``L4``, ...).
    catalog_kind : str
        The catalog kind (``cup``, ``stem``, ``pedicle_screw``, ...).
    """
    if catalog_kind in ("cup", "liner") or is_pelvis_model(bone):
        app = pelvic_frame_from_landmarks(landmarks)
        if app is not None:
            return app[:3, :3].copy(), "anterior pelvic plane"
    if catalog_kind in KNEE_KINDS:
        knee = _knee_axes(landmarks, catalog_kind)
        if knee is not None:
            return knee
    sup, inf = landmarks.get(f"superior_endplate_centre_{bone}"), landmarks.get(f"inferior_endplate_centre_{bone}")
    if sup is not None and inf is not None:
        ml = np.array([1.0, 0.0, 0.0])
        c = np.asarray(sup.position, float) - np.asarray(inf.position, float)
        c = c - (c @ ml) * ml
        if np.linalg.norm(c) > 1e-6:
            z = c / np.linalg.norm(c)
            y = np.cross(z, ml)  # S x L = posterior
            return np.stack([ml, y, z], axis=1), f"{bone} end plates"
    return np.eye(3), "scanner axes"


KNEE_KINDS = ("femoral_component", "tibial_tray", "tibial_insert")


def _knee_axes(landmarks: dict, kind: str) -> tuple[np.ndarray, str] | None:
    from surgiplan.core.errors import InputError
    from surgiplan.core.planning.knee_frame import knee_frame

    try:
        fr = knee_frame(landmarks, "left")
    except InputError:
        return None
    z = np.asarray(fr.femoral_axis if kind == "femoral_component" else fr.tibial_axis, float)
    z = z / np.linalg.norm(z)
    y = -np.asarray(fr.anterior, float)
    y = y - (y @ z) * z
    y /= np.linalg.norm(y)
    x = np.cross(y, z)  # P x S = L
    name = "femoral mechanical" if kind == "femoral_component" else "tibial mechanical"
    return np.stack([x, y, z], axis=1), name


def side_sign(side: str, position, midline_x: float | None = None) -> float:
    """+1 when patient-left (+x) is lateral for the implant, -1 when it is medial."""
    if side == "left":
        return 1.0
    if side == "right":
        return -1.0
    if midline_x is not None:
        return 1.0 if float(np.asarray(position)[0]) >= midline_x else -1.0
    return 1.0


def offset_components(delta, axes: np.ndarray, lateral_sign: float) -> dict[str, float]:
    """An LPS displacement (mm) as ``{"lateral", "anterior", "superior"}`` mm in ``axes``."""
    local = np.asarray(axes, float).T @ np.asarray(delta, float)
    return {"lateral": float(lateral_sign * local[0]), "anterior": float(-local[1]),
            "superior": float(local[2])}
