"""Rigid transforms as 4x4 matrices in patient LPS millimetres.

A placed implant's transform maps points from the implant's own frame (its
anchor frame, mm) to LPS mm: ``p_lps = T @ [p_local, 1]``. Rotations are given
in degrees at every interface and follow the right-hand rule about the axis.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from surgiplan.core.errors import GeometryError

ArrayLike = Sequence[float] | np.ndarray


def identity() -> np.ndarray:
    """The 4x4 identity."""
    return np.eye(4)


def unit(v: ArrayLike, name: str = "vector") -> np.ndarray:
    """``v`` scaled to length 1; GeometryError for a zero or non-finite vector."""
    a = np.asarray(v, dtype=float).reshape(3)
    n = float(np.linalg.norm(a))
    if not np.isfinite(n) or n < 1e-12:
        raise GeometryError(f"{name} {a.tolist()} has no direction (zero length)")
    return a / n


def translation(offset_mm: ArrayLike) -> np.ndarray:
    """4x4 translation by ``offset_mm`` (LPS mm)."""
    t = np.eye(4)
    t[:3, 3] = np.asarray(offset_mm, dtype=float).reshape(3)
    return t


def rotation_matrix(axis: ArrayLike, angle_deg: float) -> np.ndarray:
    """3x3 rotation of ``angle_deg`` degrees about unit ``axis`` (Rodrigues, right hand)."""
    k = unit(axis, "rotation axis")
    a = np.deg2rad(float(angle_deg))
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(a) * kx + (1 - np.cos(a)) * (kx @ kx)


def rotation(axis: ArrayLike, angle_deg: float, centre_mm: ArrayLike = (0, 0, 0)) -> np.ndarray:
    """4x4 rotation of ``angle_deg`` about ``axis`` through the point ``centre_mm`` (LPS)."""
    c = np.asarray(centre_mm, dtype=float).reshape(3)
    r = np.eye(4)
    r[:3, :3] = rotation_matrix(axis, angle_deg)
    r[:3, 3] = c - r[:3, :3] @ c
    return r


def frame(origin: ArrayLike, x_axis: ArrayLike, z_axis: ArrayLike) -> np.ndarray:
    """4x4 transform of a frame with given origin, z axis and (orthogonalised) x axis.

    ``z_axis`` is kept exactly; ``x_axis`` is made orthogonal to it; y = z x x.
    """
    z = unit(z_axis, "z axis")
    x = np.asarray(x_axis, dtype=float).reshape(3)
    x = x - np.dot(x, z) * z
    x = unit(x, "x axis (parallel to z?)")
    y = np.cross(z, x)
    t = np.eye(4)
    t[:3, 0], t[:3, 1], t[:3, 2] = x, y, z
    t[:3, 3] = np.asarray(origin, dtype=float).reshape(3)
    return t


def apply(t: np.ndarray, points: ArrayLike) -> np.ndarray:
    """Apply 4x4 ``t`` to points of shape (3,) or (N, 3) (mm)."""
    p = np.asarray(points, dtype=float)
    return p @ t[:3, :3].T + t[:3, 3]


def apply_vector(t: np.ndarray, vectors: ArrayLike) -> np.ndarray:
    """Rotate direction vectors (3,) or (N, 3) by the rotation part of ``t``."""
    return np.asarray(vectors, dtype=float) @ t[:3, :3].T


def inverse(t: np.ndarray) -> np.ndarray:
    """Inverse of a rigid 4x4 transform."""
    r = t[:3, :3]
    inv = np.eye(4)
    inv[:3, :3] = r.T
    inv[:3, 3] = -r.T @ t[:3, 3]
    return inv


def check_rigid(t: ArrayLike, what: str = "transform", tol: float = 1e-6) -> np.ndarray:
    """Return ``t`` as a float 4x4 array; GeometryError unless it is a proper rigid transform."""
    a = np.asarray(t, dtype=float)
    if a.shape != (4, 4) or not np.all(np.isfinite(a)):
        raise GeometryError(f"{what} must be a finite 4x4 matrix, got shape {a.shape}")
    r = a[:3, :3]
    if (
        np.abs(r.T @ r - np.eye(3)).max() > tol
        or abs(np.linalg.det(r) - 1) > tol
        or np.abs(a[3] - [0, 0, 0, 1]).max() > tol
    ):
        raise GeometryError(
            f"{what} is not a rigid transform (rotation must be orthonormal with determinant +1, "
            "last row 0 0 0 1); re-place the implant"
        )
    return a


def angle_between_deg(a: ArrayLike, b: ArrayLike) -> float:
    """Unsigned angle between two vectors, degrees in [0, 180]."""
    ua, ub = unit(a), unit(b)
    return float(np.degrees(np.arctan2(np.linalg.norm(np.cross(ua, ub)), np.dot(ua, ub))))


def signed_angle_deg(a: ArrayLike, b: ArrayLike, normal: ArrayLike) -> float:
    """Angle from ``a`` to ``b`` measured about ``normal`` (right hand), degrees in (-180, 180].

    Both vectors are first projected onto the plane perpendicular to ``normal``.
    """
    n = unit(normal, "normal")
    pa = project_on_plane(a, n)
    pb = project_on_plane(b, n)
    return float(np.degrees(np.arctan2(np.dot(np.cross(pa, pb), n), np.dot(pa, pb))))


def project_on_plane(v: ArrayLike, normal: ArrayLike) -> np.ndarray:
    """Component of ``v`` perpendicular to ``normal`` (not normalised)."""
    n = unit(normal, "normal")
    a = np.asarray(v, dtype=float).reshape(3)
    return a - np.dot(a, n) * n


def rotation_aligning(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """3x3 rotation taking direction ``a`` onto direction ``b`` (smallest angle)."""
    ua, ub = unit(a), unit(b)
    axis = np.cross(ua, ub)
    s = np.linalg.norm(axis)
    c = float(np.dot(ua, ub))
    if s < 1e-12:
        if c > 0:
            return np.eye(3)
        perp = np.cross(ua, [1.0, 0, 0])
        if np.linalg.norm(perp) < 1e-6:
            perp = np.cross(ua, [0, 1.0, 0])
        return rotation_matrix(perp, 180.0)
    return rotation_matrix(axis, float(np.degrees(np.arctan2(s, c))))
