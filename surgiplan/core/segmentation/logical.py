"""Logical operations between segment masks (all boolean [k, j, i] on one grid)."""

from __future__ import annotations

import numpy as np

from surgiplan.core.errors import GeometryError, InputError

_OPS = ("union", "intersect", "subtract", "invert", "copy", "clear")


def logical(op: str, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """``union`` (a | b), ``intersect`` (a & b), ``subtract`` (a & ~b), ``invert`` (~a), ``copy`` (b), ``clear``."""
    a = np.asarray(a, bool)
    if op not in _OPS:
        raise InputError(f"unknown logical operation '{op}'", hint=f"Use one of: {', '.join(_OPS)}.")
    if op == "invert":
        return ~a
    if op == "clear":
        return np.zeros_like(a)
    if b is None:
        raise InputError(f"'{op}' needs a second segment")
    b = np.asarray(b, bool)
    if a.shape != b.shape:
        raise GeometryError(f"masks on different grids: {a.shape} and {b.shape} [k, j, i]")
    return {"union": a | b, "intersect": a & b, "subtract": a & ~b, "copy": b.copy()}[op]
