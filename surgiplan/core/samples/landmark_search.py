"""Anatomical landmarks found on the generated (implicit) bone surface itself.

Construction points (a bump's centre, a frame origin) are not anatomical landmarks once
shapes are blended: these helpers evaluate the signed distance function densely and
return the surface point that the anatomical definition names (LPS mm).
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.samples.sdf import Shape, unit


def _basis(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to ``d`` and to each other."""
    h = np.array([1.0, 0.0, 0.0]) if abs(d[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = unit(np.cross(d, h))
    return u, np.cross(d, u)


def _inside(shape: Shape, pts: np.ndarray, region) -> np.ndarray:
    """Whether each (N, 3) LPS point lies inside ``shape``; parts far from ``region`` are skipped
    (exact: the shapes prune only parts whose boxes lie > 25 mm away, beyond any blend)."""
    return shape.sdf(pts[:, 0], pts[:, 1], pts[:, 2], region) < 0


def _heights(shape, base, d, lo, hi, region, iters: int) -> np.ndarray | None:
    """Per row of ``base``, the t in [lo, hi] where base + t d leaves ``shape`` (bisection);
    None if the bracket does not straddle the surface for every column."""
    n = len(base)
    a, b = np.full(n, lo), np.full(n, hi)
    if not _inside(shape, base + a[:, None] * d, region).all() or _inside(shape, base + b[:, None] * d, region).any():
        return None
    for _ in range(iters):
        m = 0.5 * (a + b)
        inside = _inside(shape, base + m[:, None] * d, region)
        a, b = np.where(inside, m, a), np.where(inside, b, m)
    return 0.5 * (a + b)


def extreme_surface_point(shape: Shape, direction, centre, radius: float, step: float = 0.5) -> np.ndarray:
    """The point of ``shape`` farthest along ``direction`` within ``radius`` mm of ``centre``.

    Dense sampling of the signed distance on a ``step`` mm grid in the ball picks the
    extreme inside point; then the surface height along ``direction`` is evaluated
    exactly (bisection) on 11 x 11 columns around it, zooming in 4x per round down to
    columns 0.002 mm apart. Raises ValueError if the extreme lies on the ball's boundary (the search
    region holds no local maximum, so it is no prominence).
    """
    d, c = unit(direction), np.asarray(centre, float)
    u, v = _basis(d)
    region = (c - radius - 5.0, c + radius + 5.0)
    g = np.arange(-radius, radius + step / 2, step)
    a, b, t = np.meshgrid(g, g, g, indexing="ij")
    keep = a**2 + b**2 + t**2 <= radius**2
    off = np.stack([a[keep], b[keep], t[keep]], axis=1)
    inside = _inside(shape, c + off[:, 0:1] * u + off[:, 1:2] * v + off[:, 2:3] * d, region)
    if not inside.any():
        raise ValueError(f"no bone within {radius} mm of {c}")
    k = np.argmax(np.where(inside, off[:, 2], -np.inf))
    if np.linalg.norm(off[k]) > radius - 2 * step:
        raise ValueError(f"extreme point along {d} lies on the search boundary around {c}")
    cu, cv, best = off[k]
    w, first = step, True
    for _ in range(60):
        if w < 0.01:  # columns 0.002 mm apart: finer is below the float32 signed-distance noise
            break
        s = np.linspace(-w, w, 11)
        su, sv = (x.ravel() for x in np.meshgrid(cu + s, cv + s, indexing="ij"))
        base = c + su[:, None] * u + sv[:, None] * v
        h = None if first else _heights(shape, base, d, best - 2 * w - 0.01, best + 2 * w + 0.01, region, 22)
        if h is None:  # first round (coarse estimate) or a narrow bracket that missed: wide bracket
            h = _heights(shape, base, d, best - 2 * step - 2 * w, best + 2 * step + 2 * w, region, 30)
        if h is None:
            raise ValueError(f"surface near {c} is not a height field along {d}")
        first = False
        j = int(np.argmax(h))
        cu, cv, best = su[j], sv[j], h[j]
        ju, jv = np.unravel_index(j, (11, 11))
        if 0 < ju < 10 and 0 < jv < 10:
            w /= 4.0  # interior maximum: zoom in; on the edge: re-centre at the same size
    else:
        raise ValueError(f"no converged extreme along {d} near {c}")
    return c + cu * u + cv * v + best * d
