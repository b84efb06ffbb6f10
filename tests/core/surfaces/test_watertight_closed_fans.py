"""The fast paths of repair.watertight_report (issue 23, speed) against the graph methods they replace.

``_components`` (numpy union-find) against scipy's graph components, and the fan count of a
closed surface from half-edge twins (``_non_manifold_vertices_closed``) against the general
fan graph (``_non_manifold_vertices``) and a direct per-vertex count.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from surgiplan.core.surfaces.mesh import triangles
from surgiplan.core.surfaces.repair import (
    _components,
    _edge_stats,
    _non_manifold_vertices,
    _non_manifold_vertices_closed,
    _shell_labels,
    watertight_report,
)
from tests.core.surfaces.test_non_manifold_vertices import _fans_reference


def test_components_are_scipys_with_the_smallest_node_as_label():
    rng = np.random.default_rng(11)
    for _ in range(200):
        n = int(rng.integers(1, 300))
        m = int(rng.integers(0, 2 * n))
        a, b = rng.integers(0, n, m), rng.integers(0, n, m)
        lab = _components(n, a, b)
        k, ref = connected_components(coo_matrix((np.ones(m), (a, b)), shape=(n, n)), directed=False)
        # same partition, and each label is its component's smallest node
        assert len(np.unique(lab)) == k
        assert np.array_equal(np.unique(ref, return_inverse=True)[1], np.unique(lab, return_inverse=True)[1])
        first = np.full(k, n)
        np.minimum.at(first, ref, np.arange(n))
        assert np.array_equal(lab, first[ref])


def _closed_meshes():
    """Closed, consistently oriented surfaces, some with vertices where pieces touch."""
    cube = pv.Cube().triangulate().clean()
    yield "sphere", pv.Sphere(theta_resolution=30, phi_resolution=20).triangulate().clean()
    yield "torus", pv.ParametricTorus(u_res=20, v_res=20, w_res=20).triangulate().clean()
    yield "two apart", cube.merge(pv.Cube(center=(3, 0, 0)).triangulate().clean())
    yield "corner to corner", cube.merge(pv.Cube(center=(1, 1, 1)).triangulate().clean()).clean()
    # three tetrahedra sharing one apex: a vertex with three fans
    pts = np.array(
        [
            [0, 0, 0],
            [1, 0, 0],
            [0, 1, 0],
            [0, 0, 1],
            [-1, 0, 0],
            [0, -1, 0],
            [0, 0, -1.0],
            [1, -1, 1],
            [1, -1, 2],
            [2, -1, 1.0],
        ]
    )
    f = np.array(
        [[0, a, b] for a, b, _ in [(1, 2, 3), (4, 5, 6), (7, 8, 9)]]
        + [[0, b, c] for _, b, c in [(1, 2, 3), (4, 5, 6), (7, 8, 9)]]
        + [[0, c, a] for a, _, c in [(1, 2, 3), (4, 5, 6), (7, 8, 9)]]
        + [[a, c, b] for a, b, c in [(1, 2, 3), (4, 5, 6), (7, 8, 9)]]
    )
    yield "three at an apex", pv.PolyData(pts, np.hstack([np.full((len(f), 1), 3), f]))
    # two tetrahedra touching at a vertex (the bow tie of test_non_manifold_vertices)
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, 0, 0], [0, -1, 0], [0, 0, -1.0]])
    f = np.array([[0, 1, 2], [0, 2, 3], [0, 3, 1], [1, 3, 2], [0, 4, 5], [0, 5, 6], [0, 6, 4], [4, 6, 5]])
    yield "bow tie", pv.PolyData(pts, np.hstack([np.full((len(f), 1), 3), f]))


def test_closed_fans_match_the_fan_graph_and_a_direct_count():
    checked = 0
    for name, mesh in _closed_meshes():
        f = triangles(mesh)
        st = _edge_stats(f)
        if st.twin is None or st.inconsistent:
            continue  # not a closed, consistently oriented surface: the general path is used
        fast = _non_manifold_vertices_closed(f, mesh.n_points, st.twin)
        assert fast == _non_manifold_vertices(f, mesh.n_points), name
        if len(f) < 400:
            assert fast == _fans_reference(f, mesh.n_points), name
        checked += 1
    assert checked == 6  # the fast path was exercised, on touching pieces too
    three = dict(_closed_meshes())["three at an apex"]
    assert watertight_report(three).non_manifold_vertices == 1
    assert _non_manifold_vertices_closed(triangles(three), 10, _edge_stats(triangles(three)).twin) == 1


def test_report_counts_on_known_surfaces():
    rep = watertight_report(pv.ParametricTorus(u_res=20, v_res=20, w_res=20).triangulate().clean())
    assert rep.watertight and rep.components == 1 and rep.euler_characteristic == 0
    two = dict(_closed_meshes())["corner to corner"]
    rep = watertight_report(two)
    assert rep.components == 1 and rep.non_manifold_vertices == 1 and rep.boundary_edges == 0
    apart = dict(_closed_meshes())["two apart"]
    n, lab = _shell_labels(triangles(apart), apart.n_points)
    assert n == 2 and watertight_report(apart).components == 2
    assert np.array_equal(np.bincount(lab), [12, 12])
    # a flipped triangle: 3 inconsistent edges, found by the general path
    s = pv.Sphere().triangulate().clean()
    f = triangles(s).copy()
    f[5] = f[5, [1, 0, 2]]
    rep = watertight_report(pv.PolyData.from_regular_faces(s.points, f))
    assert rep.inconsistent_edges == 3 and not rep.watertight
