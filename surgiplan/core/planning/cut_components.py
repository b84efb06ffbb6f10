"""Knee components move with their cuts: a cut plane changed carries the component seated on it.

The femoral component sits on the distal femoral cut (its anchor origin is the centre of
the distal cut, +z proximal), the tibial tray and the insert on the proximal tibial cut
(origin on the cut, +z proximal): see :mod:`surgiplan.core.planning.catalog.generators`.
When the surgeon changes a cut (depth, varus/valgus, slope, or a drag of the plane), each
of those components gets the rigid motion that keeps it seated: it turns about its own
origin by the smallest rotation taking the old plane normal onto the new one, then slides
along the new normal onto the new plane (its position within the plane is kept). A 2 mm
deeper distal cut therefore moves the femoral component 2 mm proximally.

:func:`compute_cut_move` is the pure part; :func:`apply_cut` sets the resection and moves
the components as one undo step (the window's Resections group and ``surgiplan plan cut``).
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.planning import transforms as tf

#: implant kind -> the resection it is seated on
CUT_OF_KIND: dict[str, str] = {
    "femoral_component": "distal_femur",
    "tibial_tray": "proximal_tibia",
    "tibial_insert": "proximal_tibia",
}


def follow_plane(transform: np.ndarray, old_origin, old_normal, new_origin, new_normal) -> np.ndarray:
    """The pose (4x4, implant -> LPS mm) of an implant seated on a plane that moved.

    Parameters
    ----------
    transform : (4, 4) array
        The implant's pose on the old plane.
    old_origin, old_normal, new_origin, new_normal : array-like (3,)
        The plane before and after (a point, LPS mm, and a normal; any length).

    Returns
    -------
    (4, 4) array
        Turned about the implant origin by the smallest rotation taking ``old_normal`` onto
        ``new_normal``, then moved along ``new_normal`` so that its origin keeps its signed
        distance from the plane (0 for an implant seated on it).
    """
    t = np.asarray(transform, float)
    n0, n1 = tf.unit(old_normal, "old cut normal"), tf.unit(new_normal, "new cut normal")
    p = t[:3, 3]
    height = float((p - np.asarray(old_origin, float)) @ n0)
    r = np.eye(4)
    r[:3, :3] = tf.rotation_aligning(n0, n1)
    r[:3, 3] = p - r[:3, :3] @ p
    out = r @ t
    q = out[:3, 3]
    out[:3, 3] = q + ((np.asarray(new_origin, float) - q) @ n1 + height) * n1
    return out


def components_on_cut(case, plan: str, cut: str, catalog=None) -> list[str]:
    """Ids of the plan's implants seated on resection ``cut`` (by kind, :data:`CUT_OF_KIND`)."""
    from surgiplan.core.errors import InputError
    from surgiplan.core.planning.catalog import default_catalog

    catalog = catalog or default_catalog()
    out = []
    for imp in case.plan(plan).implants.values():
        try:
            kind = catalog.get(imp.catalog_id).model.kind
        except InputError:  # an implant of a catalog entry no longer installed
            continue
        if CUT_OF_KIND.get(kind) == cut:
            out.append(imp.id)
    return out


def compute_cut_move(case, plan: str, resection, catalog=None) -> dict[str, np.ndarray]:
    """New poses of the components seated on ``resection.name`` when it becomes ``resection``.

    Empty when the plan has no such cut yet (a new cut moves nothing) or no component on it.
    """
    old = case.plan(plan).resections.get(resection.name)
    if old is None:
        return {}
    return {iid: follow_plane(case.implant(plan, iid).transform, old.origin, old.normal,
                              resection.origin, resection.normal)
            for iid in components_on_cut(case, plan, resection.name, catalog)}


def apply_cut(case, plan: str, resection, move_components: bool = True, catalog=None,
              description: str | None = None) -> dict[str, np.ndarray]:
    """Set ``resection`` in ``plan`` and move the components seated on it: one undo step.

    Returns the new poses of the components moved (id -> 4x4).
    """
    moves = compute_cut_move(case, plan, resection, catalog) if move_components else {}
    what = description or f"set {resection.name} in {plan}"
    if moves:
        what += f" ({', '.join(moves)} follow{'s' if len(moves) == 1 else ''})"
    with case.history.group(what) as step:
        try:
            case.set_resection(plan, resection)
            for iid, t in moves.items():
                case.set_implant_transform(plan, iid, t, f"{iid} follows {resection.name}")
        except Exception:
            for c in reversed(step.commands):  # leave the plan as it was, record nothing
                c.revert()
            step.commands.clear()
            raise
    return moves
