"""repair._non_manifold_vertices against a direct count of each vertex's edge-connected triangle fans."""

from __future__ import annotations

import numpy as np
import pyvista as pv

from surgiplan.core.surfaces.repair import _non_manifold_vertices, watertight_report


def _fans_reference(f: np.ndarray, n_points: int) -> int:
    """Per vertex: its triangles, joined when two share an edge through the vertex (union-find)."""
    bad = 0
    for v in range(n_points):
        tris = [t for t in range(len(f)) if v in f[t]]
        if len(tris) < 2:
            continue
        parent = {t: t for t in tris}

        def root(t, parent=parent):
            while parent[t] != t:
                t = parent[t]
            return t

        for i, t1 in enumerate(tris):
            for t2 in tris[i + 1:]:
                shared = (set(f[t1]) & set(f[t2])) - {v}
                if shared:
                    parent[root(t1)] = root(t2)
        bad += len({root(t) for t in tris}) > 1
    return bad


def test_non_manifold_vertices_matches_a_direct_count():
    rng = np.random.default_rng(3)
    for _ in range(150):
        n = int(rng.integers(4, 25))
        f = rng.integers(0, n, (int(rng.integers(1, 40)), 3))
        f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
        if len(f):
            assert _non_manifold_vertices(f, n) == _fans_reference(f, n)


def test_bow_tie_and_closed_sphere():
    # two tetrahedra touching at one vertex: that vertex is non-manifold, nothing else
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, 0, 0], [0, -1, 0], [0, 0, -1.0]])
    f = np.array([[0, 1, 2], [0, 2, 3], [0, 3, 1], [1, 3, 2], [0, 4, 5], [0, 5, 6], [0, 6, 4], [4, 6, 5]])
    assert _non_manifold_vertices(f, 7) == 1
    mesh = pv.PolyData(pts, np.hstack([np.full((len(f), 1), 3), f]))
    assert watertight_report(mesh).non_manifold_vertices == 1
    sphere = pv.Sphere(theta_resolution=40, phi_resolution=40).triangulate().clean()
    rep = watertight_report(sphere)
    assert rep.watertight and rep.non_manifold_vertices == 0
