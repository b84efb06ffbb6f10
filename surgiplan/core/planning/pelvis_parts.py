"""The pelvis of a case, whole or in its parts.

The ``hip-bones`` preset returns one ``pelvis`` model when it cannot split it, and the pieces
``hip_bone_left``, ``hip_bone_right`` and ``sacrum`` when the sacroiliac joints and the symphysis
are found (real scans, :mod:`surgiplan.core.segmentation.pelvis_split`). Hip planning works on
either: the landmarks are fitted on the pelvis surface (the union of the parts), and a cup sits in
the hip bone of its side.
"""

from __future__ import annotations

from collections.abc import Iterable

#: The models a split pelvis is made of (LPS mm surfaces, names as the segmentation's).
PELVIS_PARTS: tuple[str, ...] = ("hip_bone_left", "hip_bone_right", "sacrum")


def pelvis_model_names(model_names: Iterable[str]) -> list[str]:
    """The models that make the pelvis: ``["pelvis"]`` when the case has it, else the split parts
    present (at least one hip bone), else ``[]``.

    Parameters
    ----------
    model_names : iterable of str
        The case's model names.
    """
    names = list(model_names)
    if "pelvis" in names:
        return ["pelvis"]
    parts = [p for p in PELVIS_PARTS if p in names]
    return parts if any(p.startswith("hip_bone_") for p in parts) else []


def cup_bone(model_names: Iterable[str], side: str) -> str:
    """The model an acetabular cup on ``side`` sits in: ``pelvis``, else ``hip_bone_<side>``, else ''."""
    names = set(model_names)
    if "pelvis" in names:
        return "pelvis"
    return f"hip_bone_{side}" if f"hip_bone_{side}" in names else ""


def is_pelvis_model(name: str) -> bool:
    """True for ``pelvis`` and its split parts (the anterior-pelvic-plane frame applies to them)."""
    return name == "pelvis" or name in PELVIS_PARTS


def pelvis_surface(case):
    """The case's pelvis as one surface (pyvista PolyData, LPS mm): the ``pelvis`` model, or the
    union (disjoint merge, points not welded) of its split parts.

    Raises
    ------
    InputError
        When the case has neither (the message lists its models and says what to build).
    """
    from surgiplan.core.errors import InputError

    names = pelvis_model_names(case.model_names)
    if not names:
        raise InputError(f"case {case.model.name!r} has no pelvis model (neither 'pelvis' nor "
                         f"'hip_bone_left'/'hip_bone_right'; models: {', '.join(case.model_names) or 'none'})",
                         hint="Build the pelvis models first (Segment: Hip bones, then Models).")
    if names == ["pelvis"]:
        return case.get_model("pelvis")
    meshes = [case.get_model(n) for n in names]
    return meshes[0].append_polydata(*meshes[1:]) if len(meshes) > 1 else meshes[0]
