"""Analytic shapes as signed distance functions (SDF) in LPS millimetres.

A shape answers ``sdf(x, y, z)``: negative inside, zero on the surface, positive
outside, in mm (exact for spheres, planes and capsules; a close approximation for
ellipsoids, tapered capsules and smooth unions, whose *zero level set* is still
the exact surface the ground truth describes). Each shape also knows an LPS
bounding box so the rasteriser only evaluates it where it can matter.

Formulas follow Inigo Quilez's catalogue of distance functions
(https://iquilezles.org/articles/distfunctions/).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Box = tuple[np.ndarray, np.ndarray]  # (min xyz, max xyz) in LPS mm
FAR = 1.0e4  # value standing in for "far outside" where a shape is culled


def _v(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).reshape(3)


def unit(a) -> np.ndarray:
    """``a`` normalised to length 1."""
    a = _v(a)
    return a / np.linalg.norm(a)


def rotation(axis, angle_deg: float) -> np.ndarray:
    """3x3 rotation matrix about ``axis`` by ``angle_deg`` (right hand rule)."""
    k = unit(axis)
    t = np.radians(angle_deg)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(t) * kx + (1 - np.cos(t)) * kx @ kx


def frame_from(axis_z, hint_x) -> np.ndarray:
    """Orthonormal frame (columns u, v, w) with w along ``axis_z`` and u as close to ``hint_x``."""
    w = unit(axis_z)
    u = _v(hint_x) - np.dot(_v(hint_x), w) * w
    u = unit(u)
    v = np.cross(w, u)
    return np.stack([u, v, w], axis=1)


def boxes_overlap(a: Box, b: Box) -> bool:
    return bool(np.all(a[0] <= b[1]) and np.all(b[0] <= a[1]))


class Shape:
    """Base class: subclasses implement ``_sdf`` and ``box``."""

    def box(self) -> Box:  # pragma: no cover - abstract
        raise NotImplementedError

    def _sdf(self, x, y, z, region: Box | None):  # pragma: no cover - abstract
        raise NotImplementedError

    def sdf(self, x, y, z, region: Box | None = None) -> np.ndarray:
        """Signed distance (mm) at LPS points given as broadcastable arrays x, y, z."""
        if region is not None:
            lo, hi = self.box()
            margin = 25.0
            if not boxes_overlap((lo - margin, hi + margin), region):
                return np.full(np.broadcast_shapes(np.shape(x), np.shape(y), np.shape(z)), FAR, np.float32)
        return self._sdf(x, y, z, region)

    def sdf_points(self, pts) -> np.ndarray:
        """Signed distance at an (N, 3) array of LPS points (mm)."""
        p = np.asarray(pts, dtype=np.float64).reshape(-1, 3)
        return np.asarray(self.sdf(p[:, 0], p[:, 1], p[:, 2]), dtype=np.float64)

    # composition sugar
    def __or__(self, other: Shape) -> Shape:
        return Union([self, other])

    def __sub__(self, other: Shape) -> Shape:
        return Subtract(self, other)

    def __and__(self, other: Shape) -> Shape:
        return Intersect([self, other])


@dataclass
class Sphere(Shape):
    centre: np.ndarray
    radius: float

    def __post_init__(self):
        self.centre = _v(self.centre)

    def box(self) -> Box:
        return self.centre - self.radius, self.centre + self.radius

    def _sdf(self, x, y, z, region):
        c = self.centre
        return np.sqrt((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2) - self.radius


@dataclass
class Ellipsoid(Shape):
    """Ellipsoid with semi-axes ``radii`` along the columns of ``axes`` (3x3, orthonormal)."""

    centre: np.ndarray
    radii: tuple[float, float, float]
    axes: np.ndarray = field(default_factory=lambda: np.eye(3))

    def __post_init__(self):
        self.centre = _v(self.centre)
        self.axes = np.asarray(self.axes, dtype=np.float64).reshape(3, 3)
        self.radii = tuple(float(r) for r in self.radii)

    def box(self) -> Box:
        ext = np.sqrt(((self.axes * np.asarray(self.radii)[None, :]) ** 2).sum(axis=1))
        return self.centre - ext, self.centre + ext

    def _sdf(self, x, y, z, region):
        c, a, r = self.centre, self.axes, self.radii
        dx, dy, dz = x - c[0], y - c[1], z - c[2]
        k0 = 0.0
        k1 = 0.0
        for m in range(3):
            q = dx * a[0, m] + dy * a[1, m] + dz * a[2, m]
            k0 = k0 + (q / r[m]) ** 2
            k1 = k1 + (q / (r[m] * r[m])) ** 2
        k0 = np.sqrt(k0)
        k1 = np.sqrt(k1) + 1e-9
        return k0 * (k0 - 1.0) / k1


@dataclass
class Capsule(Shape):
    """Segment a-b swept by a radius varying linearly from ``ra`` (at a) to ``rb`` (at b).

    The surface is the set of points whose distance to the axis, measured at
    their orthogonal projection onto the segment, equals the local radius.
    """

    a: np.ndarray
    b: np.ndarray
    ra: float
    rb: float | None = None

    def __post_init__(self):
        self.a, self.b = _v(self.a), _v(self.b)
        if self.rb is None:
            self.rb = self.ra

    def box(self) -> Box:
        r = max(self.ra, self.rb)
        return np.minimum(self.a, self.b) - r, np.maximum(self.a, self.b) + r

    def _sdf(self, x, y, z, region):
        a, b = self.a, self.b
        ba = b - a
        L2 = float(ba @ ba)
        px, py, pz = x - a[0], y - a[1], z - a[2]
        h = np.clip((px * ba[0] + py * ba[1] + pz * ba[2]) / L2, 0.0, 1.0)
        d = np.sqrt((px - h * ba[0]) ** 2 + (py - h * ba[1]) ** 2 + (pz - h * ba[2]) ** 2)
        return d - (self.ra + (self.rb - self.ra) * h)


@dataclass
class Tube(Shape):
    """Flat-ended cylinder a-b whose radius follows ``radius_fn(t)`` with t in [0, 1] from a to b.

    The cross-section perpendicular to the axis at t is a disc of radius
    ``radius_fn(t)`` exactly (used for vessels with a stenosis profile).
    ``cap`` rounds the ends (mm, 0 = flat).
    """

    a: np.ndarray
    b: np.ndarray
    radius_fn: object
    rmax: float
    round_ends: bool = True

    def __post_init__(self):
        self.a, self.b = _v(self.a), _v(self.b)

    def box(self) -> Box:
        r = self.rmax
        return np.minimum(self.a, self.b) - r, np.maximum(self.a, self.b) + r

    def _sdf(self, x, y, z, region):
        a, b = self.a, self.b
        ba = b - a
        L = float(np.linalg.norm(ba))
        u = ba / L
        px, py, pz = x - a[0], y - a[1], z - a[2]
        s = px * u[0] + py * u[1] + pz * u[2]
        t = np.clip(s / L, 0.0, 1.0)
        rr = self.radius_fn(t)
        if self.round_ends:
            sc = np.clip(s, 0.0, L)
            d = np.sqrt((px - sc * u[0]) ** 2 + (py - sc * u[1]) ** 2 + (pz - sc * u[2]) ** 2)
            return d - rr
        radial = np.sqrt(np.maximum((px**2 + py**2 + pz**2) - s**2, 0.0))
        dr = radial - rr
        ds = np.maximum(-s, s - L)
        out = np.sqrt(np.maximum(dr, 0) ** 2 + np.maximum(ds, 0) ** 2)
        return out + np.minimum(np.maximum(dr, ds), 0.0)


@dataclass
class RoundBox(Shape):
    """Box of half-extents ``half`` (along the columns of ``axes``) with edges rounded by ``r``."""

    centre: np.ndarray
    half: tuple[float, float, float]
    axes: np.ndarray = field(default_factory=lambda: np.eye(3))
    r: float = 0.0

    def __post_init__(self):
        self.centre = _v(self.centre)
        self.axes = np.asarray(self.axes, dtype=np.float64).reshape(3, 3)

    def box(self) -> Box:
        h = np.asarray(self.half) + self.r
        ext = np.abs(self.axes) @ h
        return self.centre - ext, self.centre + ext

    def _sdf(self, x, y, z, region):
        c, a = self.centre, self.axes
        dx, dy, dz = x - c[0], y - c[1], z - c[2]
        qs = []
        for m in range(3):
            q = np.abs(dx * a[0, m] + dy * a[1, m] + dz * a[2, m]) - (self.half[m] - self.r)
            qs.append(q)
        outside = np.sqrt(sum(np.maximum(q, 0.0) ** 2 for q in qs))
        inside = np.minimum(np.maximum(np.maximum(qs[0], qs[1]), qs[2]), 0.0)
        return outside + inside - self.r


@dataclass
class HalfSpace(Shape):
    """Points with (p - point) . normal <= 0 are inside (normal points outward)."""

    point: np.ndarray
    normal: np.ndarray
    extent: float = 1.0e3

    def __post_init__(self):
        self.point, self.normal = _v(self.point), unit(self.normal)

    def box(self) -> Box:
        return self.point - self.extent, self.point + self.extent

    def _sdf(self, x, y, z, region):
        p, n = self.point, self.normal
        return (x - p[0]) * n[0] + (y - p[1]) * n[1] + (z - p[2]) * n[2]


@dataclass
class EllipticCylinderZ(Shape):
    """Axial elliptic cylinder (body outline): centre (cx, cy), semi-axes (ax, ay), z in [z0, z1].

    ``scale_fn(z)`` (optional) multiplies the semi-axes along z.
    """

    cx: float
    cy: float
    ax: float
    ay: float
    z0: float
    z1: float
    scale_fn: object = None

    def box(self) -> Box:
        s = 1.3 if self.scale_fn is not None else 1.0
        return (
            np.array([self.cx - s * self.ax, self.cy - s * self.ay, self.z0]),
            np.array([self.cx + s * self.ax, self.cy + s * self.ay, self.z1]),
        )

    def _sdf(self, x, y, z, region):
        s = 1.0 if self.scale_fn is None else self.scale_fn(z)
        ax, ay = self.ax * s, self.ay * s
        k0 = np.sqrt(((x - self.cx) / ax) ** 2 + ((y - self.cy) / ay) ** 2)
        k1 = np.sqrt(((x - self.cx) / ax**2) ** 2 + ((y - self.cy) / ay**2) ** 2) + 1e-9
        d2 = k0 * (k0 - 1.0) / k1
        dz = np.maximum(self.z0 - z, z - self.z1)
        return np.maximum(d2, dz)


def smooth_min(a, b, k: float):
    """Polynomial smooth minimum (blend radius ``k`` mm); k <= 0 gives min."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


@dataclass
class Union(Shape):
    parts: list
    k: float = 0.0  # blend radius in mm (fillets between parts)

    def box(self) -> Box:
        los, his = zip(*(p.box() for p in self.parts), strict=True)
        return np.min(los, axis=0), np.max(his, axis=0)

    def _sdf(self, x, y, z, region):
        out = None
        for p in self.parts:
            d = p.sdf(x, y, z, region)
            out = d if out is None else smooth_min(out, d, self.k)
        return out


@dataclass
class Intersect(Shape):
    parts: list

    def box(self) -> Box:
        los, his = zip(*(p.box() for p in self.parts), strict=True)
        return np.max(los, axis=0), np.min(his, axis=0)

    def _sdf(self, x, y, z, region):
        out = None
        for p in self.parts:
            d = p.sdf(x, y, z, region)
            out = d if out is None else np.maximum(out, d)
        return out


@dataclass
class Subtract(Shape):
    """``a`` minus ``b`` (optionally ``b`` grown by ``grow`` mm, to keep a gap)."""

    a: Shape
    b: Shape
    grow: float = 0.0

    def box(self) -> Box:
        return self.a.box()

    def _sdf(self, x, y, z, region):
        da = self.a.sdf(x, y, z, region)
        db = self.b.sdf(x, y, z, region)
        return np.maximum(da, self.grow - db)


@dataclass
class Offset(Shape):
    """``shape`` grown (d > 0) or shrunk (d < 0) by ``d`` mm."""

    shape: Shape
    d: float

    def box(self) -> Box:
        lo, hi = self.shape.box()
        return lo - max(self.d, 0), hi + max(self.d, 0)

    def _sdf(self, x, y, z, region):
        return self.shape.sdf(x, y, z, region) - self.d


def surface_point(shape: Shape, start, direction, max_dist: float = 200.0) -> np.ndarray:
    """The first point where the ray start + t * direction leaves ``shape`` (start inside).

    Bisection on the signed distance to 1e-4 mm. Used to place landmarks exactly
    on an analytic bone surface.
    """
    p0 = _v(start)
    d = unit(direction)
    if shape.sdf_points(p0)[0] >= 0:
        raise ValueError(f"ray start {p0} is not inside the shape")
    lo, hi, n = 0.0, max_dist, int(max_dist / 0.25) + 1
    for _ in range(4):  # each pass narrows the bracket by ~n (to well below 1e-6 mm)
        ts = np.linspace(lo, hi, n)
        vals = shape.sdf_points(p0[None, :] + ts[:, None] * d[None, :])
        idx = np.nonzero(vals >= 0)[0]
        if len(idx) == 0:
            raise ValueError("ray never leaves the shape")
        if idx[0] == 0:
            return p0 + ts[0] * d
        lo, hi, n = ts[idx[0] - 1], ts[idx[0]], 64
    return p0 + 0.5 * (lo + hi) * d


@dataclass
class Transformed(Shape):
    """``shape`` defined in a local frame placed at ``origin`` with axes the columns of ``axes``.

    A world point p has local coordinates ``axes.T @ (p - origin)``; rigid, so distances hold.
    """

    shape: Shape
    origin: np.ndarray
    axes: np.ndarray

    def __post_init__(self):
        self.origin = _v(self.origin)
        self.axes = np.asarray(self.axes, dtype=np.float64).reshape(3, 3)

    def box(self) -> Box:
        lo, hi = self.shape.box()
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        w = corners @ self.axes.T + self.origin
        return w.min(axis=0), w.max(axis=0)

    def _sdf(self, x, y, z, region):
        o, a = self.origin, self.axes.astype(np.float32)
        dx, dy, dz = x - np.float32(o[0]), y - np.float32(o[1]), z - np.float32(o[2])
        lx = dx * a[0, 0] + dy * a[1, 0] + dz * a[2, 0]
        ly = dx * a[0, 1] + dy * a[1, 1] + dz * a[2, 1]
        lz = dx * a[0, 2] + dy * a[1, 2] + dz * a[2, 2]
        return self.shape.sdf(lx, ly, lz, None)
