"""Case-level planning operations shared by the CLI, scripts and the GUI.

Each is one undoable step on ``case.history`` and returns what it changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.planning import placement as pl
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.catalog import default_catalog
from surgiplan.core.planning.pelvis_parts import cup_bone
from surgiplan.core.planning.plan import PlacedImplant

PELVIC = pl.PELVIC_LANDMARKS
#: The bone model an implant of a kind is fixed to (``{side}`` filled in), when the case has it.
DEFAULT_BONE = {"acetabular_cup": "pelvis", "acetabular_liner": "pelvis", "femoral_stem": "femur_{side}"}
#: Options a new implant of a kind starts with (a stem carries a 32 mm head at 0 offset).
DEFAULT_OPTIONS = {"femoral_stem": {"head": "32/0"}}
#: Kinds a plan holds once per side: placing another one of the same side replaces it.
ONCE_PER_SIDE = frozenset({"acetabular_cup", "acetabular_liner", "femoral_head", "femoral_stem",
                           "femoral_component", "tibial_tray", "tibial_insert"})
#: Kinds a plan holds once per level and side (the level is the implant's bone, a vertebra
#: model): another one at the same level and side replaces it; one without a level never does.
ONCE_PER_LEVEL_AND_SIDE = frozenset({"pedicle_screw"})
# Every other kind (rods, stents, plates, cages, user kinds) legitimately repeats: never replaced.


def pelvic_frame_of(case, plan: str | None = None) -> np.ndarray | None:
    """The case's pelvic (APP) frame, or None without the four pelvic landmarks."""
    return pl.pelvic_frame_from_landmarks(case.all_landmarks(plan))


def next_implant_id(case, plan: str, base: str) -> str:
    """``base``, or ``base_2``, ``base_3``... : the first id not yet used in the plan."""
    iid, n = base, 2
    while iid in case.plan(plan).implants:
        iid, n = f"{base}_{n}", n + 1
    return iid


def default_bone(case, kind: str, side: str) -> str:
    """The bone model an implant of ``kind`` on ``side`` sits in by default ('' when the case lacks it)."""
    bone = DEFAULT_BONE.get(kind, "").format(side=side)
    if bone == "pelvis":  # a split pelvis: the cup sits in the hip bone of its side
        return cup_bone(case.model_names, side)
    return bone if bone in case.model_names else ""


def _kind_of(catalog, catalog_id: str) -> str | None:
    try:
        return catalog.get(catalog_id).model.kind
    except Exception:  # noqa: BLE001 - an implant of a catalog entry no longer installed
        return None


def implant_to_replace(case, plan: str, catalog_id: str, side: str = "none", bone: str | None = None,
                       catalog=None) -> PlacedImplant | None:
    """The implant of ``plan`` a new ``catalog_id`` implant on ``side`` would replace, or None.

    Decided by kind and side (``ONCE_PER_SIDE``: cups, liners, heads, stems, knee
    components), and also by level for ``ONCE_PER_LEVEL_AND_SIDE`` (pedicle screws: the
    level is the ``bone``, a vertebra model; a screw without one replaces nothing). Kinds
    that repeat (rods, stents, plates, cages) replace nothing. ``bone`` None takes the
    kind's default bone, as :func:`place_implant` does.
    """
    catalog = catalog or default_catalog()
    kind = catalog.get(catalog_id).model.kind
    if kind in ONCE_PER_LEVEL_AND_SIDE:
        level = default_bone(case, kind, side) if bone is None else bone
        if not level:
            return None
    elif kind not in ONCE_PER_SIDE:
        return None
    for imp in case.plan(plan).implants.values():
        if imp.side != side or _kind_of(catalog, imp.catalog_id) != kind:
            continue
        if kind in ONCE_PER_LEVEL_AND_SIDE and imp.bone != level:
            continue
        return imp
    return None


def _landmark(case, plan, name):
    L = case.all_landmarks(plan)
    if name not in L:
        raise InputError(f"case {case.model.name!r} has no landmark {name!r} "
                         f"(landmarks: {', '.join(sorted(L)) or 'none'})")
    return L[name]


def place_implant(case, plan: str, implant_id: str, catalog_id: str, size: str, *,
                  at=None, at_landmark: str | None = None, transform=None,
                  inclination: float | None = None, anteversion: float | None = None,
                  on_canal_axis: bool = False, side: str = "none", bone: str | None = None,
                  options: dict | None = None, start: bool = False, catalog=None,
                  replace_same_kind: bool = False) -> PlacedImplant:
    """Place an implant: at a point / landmark, as a cup at Murray angles, or a stem on the canal axis.

    The one placement workflow of the window and ``surgiplan plan place`` (one undo step).
    ``implant_id`` None takes the next free id from the implant's kind; ``bone`` None
    takes the kind's default bone (``DEFAULT_BONE``) when the case has that model;
    ``options`` None the kind's defaults (``DEFAULT_OPTIONS``).

    * ``replace_same_kind``: when the plan already has the implant this one would replace
      (:func:`implant_to_replace`: same kind and side, and level for pedicle screws), the new
      implant takes its place and its id (so plans compare row by row), removing it in the
      same undo step; ``implant_id`` is then ignored. The window passes True.

    * ``start``: the window's starting pose (:func:`starting_pose.starting_pose`): a cup at
      40/15 deg on ``acetabular_centre_<side>``, a stem on the canal axis, anything else
      at ``at`` (e.g. the crosshair);

    * ``transform``: an explicit 4x4 (own frame -> LPS mm);
    * cups: ``inclination``/``anteversion`` (deg, radiographic, relative to the
      anterior pelvic plane when the case has its landmarks, else the scanner
      axes) about the centre given by ``at``/``at_landmark`` (default
      ``acetabular_centre_<side>``);
    * stems: ``on_canal_axis`` puts the stem axis on ``femoral_canal_axis_<side>``
      with its head level with ``femoral_head_centre_<side>`` (or ``at``/``at_landmark``).
    """
    catalog = catalog or default_catalog()
    spec = catalog.get(catalog_id)
    params = spec.size(size)
    kind = spec.model.kind
    if bone is None:
        bone = default_bone(case, kind, side)
    old = implant_to_replace(case, plan, catalog_id, side, bone, catalog) if replace_same_kind else None
    if old is not None:
        implant_id = old.id
    elif implant_id is None:
        implant_id = next_implant_id(case, plan, kind)
    options = dict(DEFAULT_OPTIONS.get(kind, {}) if options is None else options)
    target = None
    if at_landmark:
        target = _landmark(case, plan, at_landmark).position
    elif at is not None:
        target = np.asarray(at, float).reshape(3)
    if transform is not None:
        t = tf.check_rigid(np.asarray(transform, float).reshape(4, 4))
    elif start:
        from surgiplan.core.planning.starting_pose import starting_pose

        t = starting_pose(case, plan, spec, str(size), side, target if target is not None else np.zeros(3))
    elif inclination is not None or anteversion is not None:
        if spec.model.kind not in ("acetabular_cup", "acetabular_liner"):
            raise InputError(f"--inclination/--anteversion apply to cups, not {spec.model.kind} {catalog_id!r}")
        if side not in ("left", "right"):
            raise InputError("a cup placed by angles needs --side left or right")
        if target is None:
            target = _landmark(case, plan, f"acetabular_centre_{side}").position
        t = pl.cup_pose(target, inclination or 0.0, anteversion or 0.0, side, pelvic_frame_of(case, plan))
    elif on_canal_axis:
        if spec.model.kind != "femoral_stem":
            raise InputError(f"--canal-axis applies to femoral stems, not {catalog_id!r}")
        if side not in ("left", "right"):
            raise InputError("a stem on the canal axis needs --side left or right")
        axis = _landmark(case, plan, f"femoral_canal_axis_{side}")
        if axis.direction is None:
            raise InputError(f"landmark femoral_canal_axis_{side} has no direction")
        if target is None:
            target = _landmark(case, plan, f"femoral_head_centre_{side}").position
        t = pl.stem_pose(params, axis.position, axis.direction, target)
    elif target is not None:
        t = tf.translation(target)
    else:
        raise InputError("say where: a transform, --at X,Y,Z, --at-landmark NAME, cup angles or --canal-axis")
    imp = PlacedImplant(implant_id, catalog_id, str(size), t, side=side, bone=bone, options=options)
    if bone and bone not in case.model_names:
        raise InputError(f"case {case.model.name!r} has no bone model {bone!r} "
                         f"(models: {', '.join(case.model_names) or 'none'})")
    if old is None:
        return case.add_implant(plan, imp)
    imp.transform = tf.check_rigid(imp.transform)
    with case.history.group(f"replace {old.id} ({old.catalog_id} size {old.size}) with "
                            f"{catalog_id} size {imp.size} in {plan}") as step:
        try:
            case.remove_implant(plan, old.id)
            case.add_implant(plan, imp)
        except Exception:
            for c in reversed(step.commands):  # leave the plan as it was, record nothing
                c.revert()
            step.commands.clear()
            raise
    return imp


def move_implant(case, plan: str, implant_id: str, *, translate=None, rotate: tuple | None = None,
                 frame: str = "own", snap_to: str | None = None, align_axis: str | None = None
                 ) -> np.ndarray:
    """Move an implant by numbers (mm, degrees) in its own, the world or the pelvic frame, or snap it.

    ``rotate`` is ``(axis, degrees)`` with axis 'x'|'y'|'z' or a 3-vector, about the
    implant's origin. ``snap_to`` names a bone model: the origin moves onto its closest
    surface point (optionally aligning an own axis with the surface normal).
    Returns the new transform.
    """
    imp = case.implant(plan, implant_id)
    f: str | np.ndarray = frame
    if frame == "pelvis":
        f = pelvic_frame_of(case, plan)
        if f is None:
            raise InputError("the pelvic frame needs asis_left/right and pubic_tubercle_left/right landmarks")
    elif frame not in ("own", "world"):
        raise InputError(f"unknown frame {frame!r}: use own, world or pelvis")
    t = imp.transform.copy()
    what = []
    if translate is not None:
        t = pl.translate(t, translate, f)
        what.append(f"translate {list(np.round(np.asarray(translate, float), 3))} mm ({frame})")
    if rotate is not None:
        axis, deg = rotate
        t = pl.rotate(t, axis, float(deg), f)
        what.append(f"rotate {deg} deg about {axis} ({frame})")
    if snap_to:
        t = pl.snap_to_surface(t, case.get_model(snap_to), align_axis=align_axis)
        what.append(f"snap to {snap_to}")
    if not what:
        raise InputError("nothing to do: give --translate, --rotate or --snap-to")
    case.set_implant_transform(plan, implant_id, t, f"move {implant_id} in {plan}: " + ", ".join(what))
    return t


@contextmanager
def preview_pose(case, plan_name: str, implant_id: str | None, transform: np.ndarray | None) -> Iterator[None]:
    """Temporarily give implant ``implant_id`` the pose ``transform`` (4x4, implant -> LPS mm).

    For what-if measurements while an implant is dragged (``measure_plan`` inside the block):
    nothing is recorded in the history, the case's dirty flag is not touched, and the
    original pose is restored when the block ends (also on errors).

    Examples
    --------
    >>> with preview_pose(case, "A", "cup", candidate):  # doctest: +SKIP
    ...     rows = measure_plan(case, "A", cached_only=True)
    """
    imp = None
    if implant_id is not None and transform is not None:
        imp = case.plan(plan_name).implants.get(implant_id)
    if imp is None:
        yield
        return
    saved = imp.transform
    imp.transform = np.asarray(transform, float)
    try:
        yield
    finally:
        imp.transform = saved
