"""Typed hip angles: a cup's inclination/anteversion and a stem's version/depth -> implant pose.

The surgeon types the numbers; :func:`compute_hip_pose` turns them into the new 4x4
transform (implant frame -> LPS mm) in the pelvic frame built from the case's landmarks
(:func:`surgiplan.core.planning.placement.pelvic_frame`: anterior pelvic plane); the
scanner axes stand in when the four pelvic landmarks are missing (the readout says so).
:func:`set_hip_angles` applies it as one undo step (the window's Plan panel and
``surgiplan plan set-angles``); :func:`hip_angles` is what both show.

Cup angle conventions (Murray DW, *The definition and measurement of acetabular
orientation*, J Bone Joint Surg Br 1993;75-B:228-232), with the cup axis ``a`` out of
the opening written in (lateral, anterior, superior) components of the pelvic frame:

* **radiographic** (coronal plane): anteversion = angle between ``a`` and the coronal
  plane, ``asin(a_ant)``; inclination = angle between the longitudinal axis and ``a``
  projected on the coronal plane, ``atan2(a_lat, -a_sup)``;
* **operative** (sagittal plane): inclination = angle between ``a`` and the sagittal
  plane, ``asin(a_lat)``; anteversion = angle between the longitudinal axis and ``a``
  projected on the sagittal plane, ``atan2(a_ant, -a_sup)``;
* **anatomical** (transverse plane): inclination = angle between ``a`` and the
  longitudinal axis, ``acos(-a_sup)``; anteversion = angle between the transverse
  (medio-lateral) axis and ``a`` projected on the transverse plane, ``atan2(a_ant, a_lat)``.

Murray's conversions follow (``tan AA = tan RA / sin RI``, ``cos AI = cos RI cos RA``,
``sin OI = sin RI cos RA``, ``tan OA = tan RA / cos RI``).

Stem: **version** is the stem_version measurement (angle between the neck axis and the
pelvic medio-lateral axis, both projected on the plane perpendicular to the femoral canal
axis; positive = anteversion); **depth** is how far (mm, along the canal axis) the
prosthetic head centre (with its head option) sits distal to the native femoral head centre
(0 = level with it; positive = deeper, shortens the leg). Setting either puts the stem axis
on ``femoral_canal_axis_<side>``.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.placement import pelvic_frame_from_landmarks

CONVENTIONS = ("radiographic", "operative", "anatomical")
CUP_KINDS = ("acetabular_cup", "acetabular_liner")


def _basis(side: str, pelvis: np.ndarray | None) -> np.ndarray:
    """3x3 columns (lateral, anterior, superior) in LPS for ``side`` in the pelvic frame."""
    r = np.eye(3) if pelvis is None else np.asarray(pelvis, float)[:3, :3]
    lat = 1.0 if side == "left" else -1.0
    return np.column_stack([lat * r[:, 0], -r[:, 1], r[:, 2]])


def _check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise InputError(f"unknown cup angle convention {convention!r}",
                         hint=f"Use one of: {', '.join(CONVENTIONS)} (Murray 1993).")
    return convention


def cup_axis(inclination_deg: float, anteversion_deg: float, side: str, convention: str = "radiographic",
             pelvis: np.ndarray | None = None) -> np.ndarray:
    """Unit cup axis (LPS, out of the opening) for angles in one of Murray's conventions.

    Parameters
    ----------
    inclination_deg, anteversion_deg : float
        The angles in degrees.
    side : {"left", "right"}
        The operated hip.
    convention : {"radiographic", "operative", "anatomical"}
        Murray's (1993) definition the angles follow.
    pelvis : (4, 4) array, optional
        The pelvic (APP) frame; the scanner axes when None.
    """
    i, v = np.radians(float(inclination_deg)), np.radians(float(anteversion_deg))
    c = _check_convention(convention)
    if c == "radiographic":
        a = [np.cos(v) * np.sin(i), np.sin(v), -np.cos(v) * np.cos(i)]
    elif c == "operative":
        a = [np.sin(i), np.cos(i) * np.sin(v), -np.cos(i) * np.cos(v)]
    else:
        a = [np.sin(i) * np.cos(v), np.sin(i) * np.sin(v), -np.cos(i)]
    return tf.unit(_basis(side, pelvis) @ np.asarray(a))


def cup_angles(axis, side: str, pelvis: np.ndarray | None = None) -> dict[str, tuple[float, float]]:
    """(inclination, anteversion) in degrees of a cup axis (LPS) in each of Murray's conventions."""
    lat, ant, sup = _basis(side, pelvis).T @ tf.unit(axis, "cup axis")
    return {
        "radiographic": (float(np.degrees(np.arctan2(lat, -sup))),
                         float(np.degrees(np.arcsin(np.clip(ant, -1, 1))))),
        "operative": (float(np.degrees(np.arcsin(np.clip(lat, -1, 1)))),
                      float(np.degrees(np.arctan2(ant, -sup)))),
        "anatomical": (float(np.degrees(np.arccos(np.clip(-sup, -1, 1)))),
                       float(np.degrees(np.arctan2(ant, lat)))),
    }


def convert_cup_angles(inclination_deg: float, anteversion_deg: float, source: str, target: str
                       ) -> tuple[float, float]:
    """Murray's conversion of (inclination, anteversion) between conventions (degrees)."""
    a = cup_axis(inclination_deg, anteversion_deg, "left", source)
    return cup_angles(a, "left")[_check_convention(target)]


# ------------------------------------------------------------------ case side
def _implant_side(case, plan: str, imp) -> str:
    if imp.side in ("left", "right"):
        return imp.side
    lms = case.all_landmarks(plan)
    c = imp.transform[:3, 3]
    cands = [s for s in ("left", "right") if f"acetabular_centre_{s}" in lms]
    if not cands:
        raise InputError(f"implant {imp.id!r} has no side and the case has no acetabular centres",
                         hint="Place the implant with side left or right.")
    return min(cands, key=lambda s: float(np.linalg.norm(lms[f"acetabular_centre_{s}"].position - c)))


def _canal(case, plan: str, side: str, imp, params) -> tuple[np.ndarray, np.ndarray, bool]:
    """(point, unit proximal direction, from the landmark?) of the femoral canal axis."""
    lms = case.all_landmarks(plan)
    ax = lms.get(f"femoral_canal_axis_{side}")
    if ax is not None and ax.direction is not None:
        p, d = np.asarray(ax.position, float), tf.unit(ax.direction, f"femoral_canal_axis_{side}")
        head = lms.get(f"femoral_head_centre_{side}")
        ref = head.position if head is not None else imp.transform[:3, 3]
        if (np.asarray(ref) - p) @ d < 0:  # the landmark may point distally: make it proximal
            d = -d
        return p, d, True
    t = imp.transform
    return t[:3, 3] - params["offset"] * t[:3, 0], t[:3, 2].copy(), False


def _stem_frame_vectors(d: np.ndarray, side: str, pelvis: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(medial, anterior) unit vectors in the plane perpendicular to the canal direction ``d``."""
    b = _basis(side, pelvis)
    m = tf.unit(tf.project_on_plane(-b[:, 0], d), "medial direction (canal axis medio-lateral?)")
    a = tf.project_on_plane(b[:, 1], d)
    a = tf.unit(a - (a @ m) * m, "anterior direction")
    return m, a


def _stem_state(case, plan: str, imp, catalog):
    spec = catalog.get(imp.catalog_id)
    params = spec.size(imp.size)
    geo = spec.geometry(imp.size, imp.options or None)
    return params, np.asarray(geo.anchors["head_centre"], float)


def hip_angles(case, plan: str, implant_id: str, convention: str = "radiographic", catalog=None) -> dict:
    """What the window and ``plan set-angles --json`` show for a cup or stem.

    Returns
    -------
    dict
        ``implant``, ``kind``, ``side``, ``reference`` (the frame the angles are in) and,
        for a cup or liner: ``convention``, ``inclination_deg``, ``anteversion_deg`` (in that
        convention), ``conventions`` (every convention's pair); for a stem: ``version_deg``,
        ``depth_mm`` (None without ``femoral_head_centre_<side>``).
    """
    from surgiplan.core.planning.catalog import default_catalog

    catalog = catalog or default_catalog()
    imp = case.implant(plan, implant_id)
    kind = catalog.get(imp.catalog_id).model.kind
    side = _implant_side(case, plan, imp)
    lms = case.all_landmarks(plan)
    pelvis = pelvic_frame_from_landmarks(lms)
    ref = "anterior pelvic plane" if pelvis is not None else (
        "scanner axes (no asis_left/right and pubic_tubercle_left/right landmarks)")
    out: dict = {"implant": imp.id, "kind": kind, "side": side, "reference": ref}
    if kind in CUP_KINDS:
        angs = cup_angles(imp.transform[:3, 2], side, pelvis)
        inc, av = angs[_check_convention(convention)]
        out.update(convention=convention, inclination_deg=inc, anteversion_deg=av,
                   conventions={k: {"inclination_deg": v[0], "anteversion_deg": v[1]} for k, v in angs.items()})
        return out
    if kind != "femoral_stem":
        raise InputError(f"implant {imp.id!r} is a {kind.replace('_', ' ')}: typed angles apply to cups, "
                         "liners and femoral stems")
    params, head_local = _stem_state(case, plan, imp, catalog)
    p, d, _ = _canal(case, plan, side, imp, params)
    m, a = _stem_frame_vectors(d, side, pelvis)
    x = tf.project_on_plane(imp.transform[:3, 0], d)
    version = float(np.degrees(np.arctan2(x @ a, x @ m)))
    head_world = tf.apply(imp.transform, head_local)
    native = lms.get(f"femoral_head_centre_{side}")
    depth = None if native is None else float((native.position - head_world) @ d)
    out.update(version_deg=version, depth_mm=depth)
    return out


def compute_hip_pose(case, plan: str, implant_id: str, *, inclination: float | None = None,
                     anteversion: float | None = None, convention: str = "radiographic",
                     version: float | None = None, depth: float | None = None, catalog=None) -> np.ndarray:
    """The new transform (4x4, implant frame -> LPS mm) of a cup or stem from typed angles.

    Pure: the case is not changed. A value left None keeps the implant's current one.

    Parameters
    ----------
    inclination, anteversion : float, optional
        Cup (or liner) angles, degrees, in ``convention`` (Murray 1993); the cup turns
        about its centre.
    version : float, optional
        Stem version, degrees (positive = anteversion), about the femoral canal axis.
    depth : float, optional
        Stem depth, mm: prosthetic head centre distal to the native head centre along
        the canal axis (needs ``femoral_head_centre_<side>``).
    """
    from surgiplan.core.planning.catalog import default_catalog

    catalog = catalog or default_catalog()
    imp = case.implant(plan, implant_id)
    kind = catalog.get(imp.catalog_id).model.kind
    now = hip_angles(case, plan, implant_id, convention, catalog)
    side = now["side"]
    pelvis = pelvic_frame_from_landmarks(case.all_landmarks(plan))
    for name, v in (("inclination", inclination), ("anteversion", anteversion), ("version", version),
                    ("depth", depth)):
        if v is not None and not np.isfinite(float(v)):
            raise InputError(f"{name} must be a finite number, got {v!r}")
    if kind in CUP_KINDS:
        if version is not None or depth is not None:
            raise InputError(f"{imp.id!r} is a cup: give --inclination/--anteversion, not --version/--depth")
        if inclination is None and anteversion is None:
            raise InputError("nothing to set: give the cup's inclination and/or anteversion")
        inc = now["inclination_deg"] if inclination is None else float(inclination)
        av = now["anteversion_deg"] if anteversion is None else float(anteversion)
        if not (0.0 <= inc <= 90.0 and -45.0 <= av <= 60.0):
            raise InputError(f"cup angles {inc:g}/{av:g} deg are outside 0..90 (inclination) and -45..60 "
                             "(anteversion)", hint="Type the angles in degrees, e.g. 40 and 15.")
        z = cup_axis(inc, av, side, convention, pelvis)
        sup = (np.eye(3) if pelvis is None else pelvis[:3, :3])[:, 2]
        x = np.cross(sup, z) if np.linalg.norm(np.cross(sup, z)) > 1e-6 else np.array([1.0, 0, 0])
        return tf.frame(imp.transform[:3, 3], x, z)
    if inclination is not None or anteversion is not None:
        raise InputError(f"{imp.id!r} is a femoral stem: give --version/--depth, not cup angles")
    if version is None and depth is None:
        raise InputError("nothing to set: give the stem's version and/or depth")
    params, head_local = _stem_state(case, plan, imp, catalog)
    p, d, _ = _canal(case, plan, side, imp, params)
    m, a = _stem_frame_vectors(d, side, pelvis)
    ver = np.radians(now["version_deg"] if version is None else float(version))
    x = np.cos(ver) * m + np.sin(ver) * a
    lms = case.all_landmarks(plan)
    if depth is None:
        # keep the head centre's height along the canal
        level = float((tf.apply(imp.transform, head_local) - p) @ d)
    else:
        native = lms.get(f"femoral_head_centre_{side}")
        if native is None:
            raise InputError(f"stem depth is measured from femoral_head_centre_{side}, which the case lacks",
                             hint="Fit the hip landmarks (Plan > Landmarks) first.")
        level = float((native.position - p) @ d) - float(depth)
    # own frame: stem axis is x = -offset; head centre at (hx, 0, hz) -> origin level = level - hz
    foot = p + (level - head_local[2]) * d
    return tf.frame(foot + params["offset"] * x, x, d)


def set_hip_angles(case, plan: str, implant_id: str, *, inclination: float | None = None,
                   anteversion: float | None = None, convention: str = "radiographic",
                   version: float | None = None, depth: float | None = None, catalog=None) -> dict:
    """Apply :func:`compute_hip_pose` as one undo step; returns :func:`hip_angles` afterwards.

    A liner sitting in the cup (same side, centre within 1 mm) turns with it in the same step.

    Examples
    --------
    >>> set_hip_angles(case, "A", "acetabular_cup", inclination=42, anteversion=18)  # doctest: +SKIP
    """
    from surgiplan.core.planning.catalog import default_catalog

    catalog = catalog or default_catalog()
    t = compute_hip_pose(case, plan, implant_id, inclination=inclination, anteversion=anteversion,
                         convention=convention, version=version, depth=depth, catalog=catalog)
    imp = case.implant(plan, implant_id)
    kind = catalog.get(imp.catalog_id).model.kind
    what = (f"set {imp.id} to {inclination}/{anteversion} deg ({convention})" if kind in CUP_KINDS
            else f"set {imp.id} version {version} deg, depth {depth} mm")
    followers = []
    if kind == "acetabular_cup":
        for other in case.plan(plan).implants.values():
            if other.id != imp.id and other.side == imp.side and np.linalg.norm(
                    other.transform[:3, 3] - imp.transform[:3, 3]) < 1.0:
                try:
                    if catalog.get(other.catalog_id).model.kind == "acetabular_liner":
                        followers.append(other.id)
                except InputError:
                    continue
    with case.history.group(what):
        case.set_implant_transform(plan, implant_id, t, what)
        for f in followers:
            case.set_implant_transform(plan, f, t, f"{what} (liner follows)")
    return hip_angles(case, plan, implant_id, convention, catalog)
