"""Helpers shared by the anatomy generators: bone layering and clinical angle definitions.

LPS: +x patient left, +y posterior, +z superior. Angles in degrees.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.samples.phantom import Layer
from surgiplan.core.samples.sdf import HalfSpace, Shape, unit

ANTERIOR = np.array([0.0, -1.0, 0.0])
POSTERIOR = np.array([0.0, 1.0, 0.0])
SUPERIOR = np.array([0.0, 0.0, 1.0])
INFERIOR = np.array([0.0, 0.0, -1.0])


def lateral(side: str) -> np.ndarray:
    """LPS unit vector pointing away from the midline on ``side`` ('left' is +x, 'right' is -x)."""
    return np.array([1.0 if side == "left" else -1.0, 0.0, 0.0])


def bone_layers(
    name: str,
    shape: Shape,
    label: int,
    *,
    cortex_mm: float,
    inner: str = "trabecular",
    canal: Shape | None = None,
    diaphysis: HalfSpace | None = None,
    dense: Shape | None = None,
    dense_tissue: str = "trabecular_dense",
) -> list[Layer]:
    """A bone as layers: cortical shell of ``cortex_mm``, cancellous core, optional thick
    diaphyseal cortex (inside ``diaphysis``), fatty medullary ``canal`` and a ``dense`` region."""
    parts: list = [(cortex_mm, None, inner)]
    if dense is not None:
        parts.append((cortex_mm, dense, dense_tissue))
    if diaphysis is not None:
        parts.append((cortex_mm, diaphysis, "cortical"))
    if canal is not None:
        parts.append((cortex_mm, canal, "marrow"))
    return [Layer(name, shape, "cortical", label, parts)]


def murray_radiographic(axis, left_right, anterior) -> tuple[float, float]:
    """Radiographic inclination and anteversion (deg, Murray 1993) of a cup axis.

    ``axis`` points out of the cup opening; ``left_right`` and ``anterior`` are the
    patient's (pelvic) medio-lateral and anterior unit vectors; longitudinal is
    their cross product. Inclination: angle between the longitudinal axis and the
    cup axis projected on the coronal plane. Anteversion: angle between the cup
    axis and the coronal plane.
    """
    n = unit(axis)
    x = unit(left_right)
    a = unit(anterior - np.dot(anterior, x) * x)
    s = np.cross(x, a)
    nx, ns, na = abs(float(n @ x)), abs(float(n @ s)), float(n @ a)
    ri = np.degrees(np.arctan2(nx, ns))
    ra = np.degrees(np.arcsin(np.clip(na, -1, 1)))
    return float(ri), float(ra)


def cup_axis(side: str, inclination: float, anteversion: float) -> np.ndarray:
    """Cup opening axis (LPS) from Murray radiographic angles in the scanner frame."""
    ri, ra = np.radians(inclination), np.radians(anteversion)
    return (
        lateral(side) * np.sin(ri) * np.cos(ra)
        + ANTERIOR * np.sin(ra)
        + INFERIOR * np.cos(ri) * np.cos(ra)
    )


def angle_between(u, v) -> float:
    """Angle (deg) between two vectors."""
    u, v = unit(u), unit(v)
    return float(np.degrees(np.arccos(np.clip(u @ v, -1.0, 1.0))))


def project(v, normal) -> np.ndarray:
    """``v`` projected onto the plane of unit ``normal``."""
    n = unit(normal)
    v = np.asarray(v, float)
    return v - (v @ n) * n
