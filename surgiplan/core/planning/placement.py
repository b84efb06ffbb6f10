"""Implant placement: exact numeric moves, landmark-driven poses, snapping to a surface.

All transforms are rigid 4x4 (implant frame -> LPS mm); angles in degrees.

Anatomical frames (LPS mm, right-handed):

* pelvic frame (anterior pelvic plane, APP): origin at the mid-point of the two
  ASIS; ``x`` from the right ASIS to the left ASIS (patient left); the APP
  contains both ASIS and the mid-point of the pubic tubercles; ``y`` is its
  normal pointing *posterior*; ``z`` = x cross y points *superior*. (This is LPS
  re-aligned to the pelvis: for an upright pelvis it is the identity rotation.)
* limb frames use the mechanical axes (see :mod:`.measurements.knee`).
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.errors import GeometryError
from surgiplan.core.planning import transforms as tf

#: The landmarks that define the anterior pelvic plane (APP) frame.
PELVIC_LANDMARKS = ("asis_left", "asis_right", "pubic_tubercle_left", "pubic_tubercle_right")


def pelvic_frame_from_landmarks(landmarks: dict) -> np.ndarray | None:
    """:func:`pelvic_frame` of a landmark dict (name -> Landmark), or None without all four.

    Parameters
    ----------
    landmarks : dict
        Landmarks by name (``case.all_landmarks(plan)``); positions LPS mm.

    Returns
    -------
    numpy.ndarray or None
        4x4 APP frame (columns left, posterior, superior; origin mid-ASIS), or None.
    """
    if not all(k in landmarks for k in PELVIC_LANDMARKS):
        return None
    return pelvic_frame(*(landmarks[k].position for k in PELVIC_LANDMARKS))


def pelvic_frame(asis_left, asis_right, pubic_left, pubic_right) -> np.ndarray:
    """4x4 pelvic (APP) frame; columns x (left), y (posterior), z (superior), origin mid-ASIS."""
    al, ar = np.asarray(asis_left, float), np.asarray(asis_right, float)
    pm = (np.asarray(pubic_left, float) + np.asarray(pubic_right, float)) / 2
    x = tf.unit(al - ar, "ASIS right-to-left")
    mid = (al + ar) / 2
    down = pm - mid  # in the APP, from mid-ASIS towards the pubis
    n = np.cross(x, down)  # APP normal; x (left) cross inferior -> ... orient posterior
    n = tf.unit(n, "APP normal (ASIS and pubis collinear?)")
    if n[1] < 0:  # posterior is +y in LPS
        n = -n
    z = np.cross(x, n)
    if z[2] < 0:
        raise GeometryError("pelvic landmarks give an upside-down frame; check ASIS / pubic tubercle labels")
    t = np.eye(4)
    t[:3, 0], t[:3, 1], t[:3, 2], t[:3, 3] = x, n, np.cross(x, n) / np.linalg.norm(np.cross(x, n)), mid
    return t


def acetabular_axis(inclination_deg: float, anteversion_deg: float, side: str,
                    pelvis: np.ndarray | None = None) -> np.ndarray:
    """Unit cup axis (out of the opening) for Murray's *radiographic* inclination/anteversion.

    In the pelvic frame the axis points lateral, anterior and inferior:
    ``(lat*cos(RA)*sin(RI), -sin(RA), -cos(RA)*cos(RI))`` with x/y/z = left/posterior/superior
    and lat = +1 for the left hip, -1 for the right. Returned in LPS.
    """
    ri, ra = np.radians(inclination_deg), np.radians(anteversion_deg)
    lat = 1.0 if side == "left" else -1.0
    a = np.array([lat * np.cos(ra) * np.sin(ri), -np.sin(ra), -np.cos(ra) * np.cos(ri)])
    r = np.eye(3) if pelvis is None else pelvis[:3, :3]
    return r @ a


def radiographic_angles(axis, side: str, pelvis: np.ndarray | None = None) -> tuple[float, float]:
    """Murray's radiographic (inclination, anteversion) in degrees of a cup axis (LPS).

    Anteversion = angle between the axis and the coronal plane (the APP);
    inclination = angle between the axis projected on the coronal plane and the
    longitudinal (inferior) axis.
    """
    r = np.eye(3) if pelvis is None else pelvis[:3, :3]
    a = r.T @ tf.unit(axis, "cup axis")
    lat = 1.0 if side == "left" else -1.0
    ra = np.degrees(np.arcsin(np.clip(-a[1], -1, 1)))
    ri = np.degrees(np.arctan2(lat * a[0], -a[2]))
    return float(ri), float(ra)


def cup_pose(centre, inclination_deg: float, anteversion_deg: float, side: str,
             pelvis: np.ndarray | None = None) -> np.ndarray:
    """Cup transform: centre on ``centre`` (LPS mm), axis at the given radiographic angles."""
    z = acetabular_axis(inclination_deg, anteversion_deg, side, pelvis)
    ref = (np.eye(3) if pelvis is None else pelvis[:3, :3])[:, 2]  # superior, for a stable x
    return tf.frame(centre, np.cross(ref, z) if np.linalg.norm(np.cross(ref, z)) > 1e-6 else [1, 0, 0], z)


def stem_pose(stem_params: dict, canal_point, canal_dir, target_head_centre,
              neck_direction_hint=None, version_change_deg: float = 0.0) -> np.ndarray:
    """Stem transform with its axis on the femoral canal axis.

    The stem axis (own line x = -offset, y = 0) is put on the canal line
    ``canal_point + t*canal_dir`` (proximal direction); the stem's head centre
    (neck length 0) is at the same height along the canal as
    ``target_head_centre``; its neck points towards ``neck_direction_hint``
    (default: towards ``target_head_centre``, i.e. the native neck version)
    rotated by ``version_change_deg`` about the canal axis (positive = more
    anteversion for a left hip, right-hand rule about the proximal axis).
    """
    d = tf.unit(canal_dir, "canal axis")
    p = np.asarray(canal_point, float)
    tgt = np.asarray(target_head_centre, float)
    hint = tgt - p if neck_direction_hint is None else np.asarray(neck_direction_hint, float)
    x = tf.project_on_plane(hint, d)
    x = tf.unit(x, "neck direction (parallel to the canal axis?)")
    if version_change_deg:
        x = tf.rotation_matrix(d, version_change_deg) @ x
    foot = p + ((tgt - p) @ d) * d
    origin = foot + stem_params["offset"] * x
    return tf.frame(origin, x, d)


def screw_pose(entry, target) -> np.ndarray:
    """Pedicle screw transform: origin at ``entry``, +z towards ``target`` (LPS mm)."""
    e, t = np.asarray(entry, float), np.asarray(target, float)
    z = tf.unit(t - e, "screw direction (entry = target?)")
    helper = np.array([1.0, 0, 0]) if abs(z[0]) < 0.9 else np.array([0, 1.0, 0])
    return tf.frame(e, helper, z)


def limb_pose(origin, proximal_axis, anterior_hint) -> np.ndarray:
    """Knee component transform: +z along ``proximal_axis``, +y towards ``anterior_hint``, x = y cross z."""
    z = tf.unit(proximal_axis, "mechanical axis")
    y = tf.unit(tf.project_on_plane(anterior_hint, z), "anterior direction")
    x = np.cross(y, z)
    return tf.frame(origin, x, z)


# ------------------------------------------------------------- numeric moves
def translate(t: np.ndarray, offset_mm, frame: str | np.ndarray = "world") -> np.ndarray:
    """Move by ``offset_mm``: in LPS ('world'), along the implant's own axes ('own'),
    or along the axes of a 4x4 anatomical frame."""
    off = np.asarray(offset_mm, float).reshape(3)
    if isinstance(frame, str):
        if frame == "own":
            off = t[:3, :3] @ off
        elif frame != "world":
            raise GeometryError(f"unknown frame {frame!r} (use 'world', 'own' or a 4x4 frame)")
    else:
        off = np.asarray(frame, float)[:3, :3] @ off
    return tf.translation(off) @ t


def rotate(t: np.ndarray, axis, angle_deg: float, frame: str | np.ndarray = "own",
           centre=None) -> np.ndarray:
    """Rotate by ``angle_deg`` about ``axis`` given in 'own', 'world' or a 4x4 frame's axes.

    ``axis`` may be 'x', 'y', 'z' or a 3-vector; the rotation centre defaults to the
    implant's origin (anchor point).
    """
    if isinstance(axis, str):
        axis = {"x": (1, 0, 0), "y": (0, 1, 0), "z": (0, 0, 1)}[axis]
    a = np.asarray(axis, float)
    if isinstance(frame, str):
        if frame == "own":
            a = t[:3, :3] @ a
        elif frame != "world":
            raise GeometryError(f"unknown frame {frame!r} (use 'world', 'own' or a 4x4 frame)")
    else:
        a = np.asarray(frame, float)[:3, :3] @ a
    c = t[:3, 3] if centre is None else np.asarray(centre, float)
    return tf.rotation(a, angle_deg, c) @ t


def snap_to_surface(t: np.ndarray, mesh, anchor_local=(0, 0, 0), align_axis: str | None = None,
                    outward: bool = True) -> np.ndarray:
    """Move the implant so its anchor point lies on the closest point of ``mesh``.

    With ``align_axis`` ('x'|'y'|'z') the implant is also rotated (about the
    anchor) so that this own axis follows the surface normal there (outward, or
    inward when ``outward`` is False) — e.g. a plate's +z onto the bone normal.
    """
    anchor_w = tf.apply(t, anchor_local)
    idx, closest = mesh.find_closest_cell(anchor_w, return_closest_point=True)
    out = translate(t, np.asarray(closest) - anchor_w, "world")
    if align_axis is not None:
        normals = mesh.compute_normals(cell_normals=True, point_normals=False,
                                       auto_orient_normals=True)
        n = normals.cell_data["Normals"][idx]
        if not outward:
            n = -n
        axis_w = out[:3, :3] @ {"x": np.array([1.0, 0, 0]), "y": np.array([0, 1.0, 0]),
                                "z": np.array([0, 0, 1.0])}[align_axis]
        r = tf.rotation_aligning(axis_w, n)
        rot = np.eye(4)
        rot[:3, :3] = r
        c = np.asarray(closest)
        out = tf.translation(c) @ rot @ tf.translation(-c) @ out
    return out
