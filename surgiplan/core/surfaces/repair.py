"""Watertight check and repair of triangle surfaces.

A surface is *watertight* when every edge is shared by exactly two triangles
(no boundary edges, no non-manifold edges), every vertex's triangles form a
single fan (no non-manifold vertices), and the triangles are consistently
oriented (each directed edge appears once). :func:`watertight_report` counts
each defect; :func:`repair` merges duplicate points, drops degenerate
triangles, keeps the largest connected piece (optionally), fills holes and
orients normals consistently outwards (VTK filters through pyvista).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from surgiplan.core.errors import MeshingError
from surgiplan.core.surfaces.mesh import orient_outwards, signed_volume, triangles
from surgiplan.core.surfaces.metrics import mesh_area


@dataclass
class WatertightReport:
    """Defect counts of a triangle surface; ``watertight`` when all are zero and it is closed."""

    n_points: int
    n_triangles: int
    boundary_edges: int
    non_manifold_edges: int
    non_manifold_vertices: int
    inconsistent_edges: int
    degenerate_triangles: int
    components: int
    euler_characteristic: int
    volume_mm3: float
    area_mm2: float

    @property
    def manifold(self) -> bool:
        return self.non_manifold_edges == 0 and self.non_manifold_vertices == 0

    @property
    def watertight(self) -> bool:
        return (self.n_triangles > 0 and self.boundary_edges == 0 and self.manifold
                and self.inconsistent_edges == 0)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(watertight=self.watertight, manifold=self.manifold)
        return d

    def summary(self) -> str:
        """One or two lines a user can act on."""
        head = (f"{self.n_triangles} triangles, {self.components} piece(s), "
                f"area {self.area_mm2:.1f} mm^2, volume {self.volume_mm3 / 1000:.2f} mL")
        if self.watertight:
            return f"watertight and manifold: {head}"
        issues = []
        if self.n_triangles == 0:
            issues.append("no triangles")
        if self.boundary_edges:
            issues.append(f"{self.boundary_edges} boundary edges (holes)")
        if self.non_manifold_edges:
            issues.append(f"{self.non_manifold_edges} non-manifold edges (shared by > 2 triangles)")
        if self.non_manifold_vertices:
            issues.append(f"{self.non_manifold_vertices} non-manifold vertices")
        if self.inconsistent_edges:
            issues.append(f"{self.inconsistent_edges} edges with inconsistent triangle orientation")
        return f"NOT watertight: {'; '.join(issues)}; {head}"


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of the undirected graph on nodes ``0..n-1`` with edges ``a[i]-b[i]``:
    each node's label is the smallest node of its component.

    Union by the smaller root, then pointer jumping to the root, until no edge joins two
    roots (numpy only; a surface from marching cubes takes 3 rounds). The same partition as
    ``scipy.sparse.csgraph.connected_components``, and the labels sort the components the same
    way (by their smallest node), without importing scipy (0.2 s of CPU in ``surgiplan model``).
    """
    lab = np.arange(n, dtype=np.int64)
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    while len(a):
        la, lb = lab[a], lab[b]
        diff = la != lb
        if not diff.any():
            break
        a, b, la, lb = a[diff], b[diff], la[diff], lb[diff]  # edges within one tree stay within it
        np.minimum.at(lab, np.maximum(la, lb), np.minimum(la, lb))  # hook the larger root
        while True:
            nxt = lab[lab]
            if np.array_equal(nxt, lab):
                break
            lab = nxt
    return lab


@dataclass(frozen=True)
class _EdgeStats:
    """Edges of a triangle list from one sort of its half-edges (``h = corner * nt + t`` runs
    from corner ``c`` of triangle ``t`` to corner ``c + 1``)."""

    edges: int  # distinct undirected edges
    boundary: int  # edges of one triangle
    non_manifold: int  # edges of more than two triangles
    inconsistent: int  # directed edges that occur more than once
    twin: np.ndarray | None  # the opposite half-edge of each, when every edge has exactly two


def _edge_stats(f: np.ndarray) -> _EdgeStats:
    a = f.T.reshape(-1).astype(np.int64)  # half-edge h = c * nt + t: f[t, c] -> f[t, (c + 1) % 3]
    b = f[:, [1, 2, 0]].T.reshape(-1).astype(np.int64)
    m = int(f.max()) + 1
    # undirected key, and the direction in the lowest bit: equal directed edges sort together
    key = (np.minimum(a, b) * m + np.maximum(a, b)) * 2 + (a < b)
    order = np.argsort(key)
    ks = key[order]
    und = ks >> 1
    starts = np.concatenate([[0], np.flatnonzero(und[1:] != und[:-1]) + 1])
    counts = np.diff(np.concatenate([starts, [len(ks)]]))
    n_up = np.add.reduceat(ks & 1, starts)
    inconsistent = int(np.count_nonzero(n_up > 1) + np.count_nonzero(counts - n_up > 1))
    twin = None
    if len(counts) * 2 == len(ks) and not (counts != 2).any():
        twin = np.empty(len(ks), np.int64)
        twin[order[0::2]] = order[1::2]
        twin[order[1::2]] = order[0::2]
    return _EdgeStats(len(counts), int(np.count_nonzero(counts == 1)), int(np.count_nonzero(counts > 2)),
                      inconsistent, twin)


def _non_manifold_vertices_closed(f: np.ndarray, n_points: int, twin: np.ndarray) -> int:
    """:func:`_non_manifold_vertices` of a closed surface whose every edge has two triangles of
    opposite direction and no degenerate triangle.

    Around a vertex the triangles then form cycles: from corner ``(v, t)`` across the edge
    ``v -> next`` to the twin triangle ``t'``, where ``v`` is the corner after the twin
    half-edge's start. The two neighbours of ``(v, t)`` in the fan graph of
    :func:`_non_manifold_vertices` are this step and its inverse, so its components are these
    cycles; each is labelled by its smallest corner by pointer doubling (cycle length at most
    the vertex's triangle count)."""
    nt = len(f)
    n = 3 * nt
    step = ((twin // nt + 1) % 3) * nt + twin % nt
    vert = f.T.reshape(-1).astype(np.int64)
    longest = int(np.bincount(vert, minlength=n_points).max())
    lab = np.arange(n, dtype=np.int64)
    jumps = 1
    while True:
        lab = np.minimum(lab, lab[step])
        jumps *= 2
        if jumps >= longest:
            break
        step = step[step]
    per_vertex = np.bincount(vert[lab == np.arange(n)], minlength=n_points)
    return int(np.count_nonzero(per_vertex > 1))


def _non_manifold_vertices(f: np.ndarray, n_points: int) -> int:
    """Vertices whose incident triangles form more than one edge-connected fan."""
    return int(np.count_nonzero(_fans_per_vertex(f, n_points) > 1))


def _fans_per_vertex(f: np.ndarray, n_points: int) -> np.ndarray:
    """The number of edge-connected fans of triangles around each vertex (0 for unused vertices).

    Nodes are the (vertex, triangle) incidences, numbered ``corner * nt + t`` (corner 0-2 of
    triangle t); two incidences of one vertex are linked when their triangles share an edge at
    it. One sort of 64-bit edge keys, no searches (a 200k-triangle model: 0.5 s, was 2.5 s)."""
    nt = len(f)
    t_all = np.arange(nt, dtype=np.int64)
    pairs = ((0, 1), (1, 2), (2, 0))
    a = np.concatenate([f[:, i] for i, _ in pairs]).astype(np.int64)
    b = np.concatenate([f[:, j] for _, j in pairs]).astype(np.int64)
    # a vertex twice in a (degenerate) triangle: its edges link through its first corner
    first = np.stack([np.zeros(nt, np.int64), np.where(f[:, 1] == f[:, 0], 0, 1),
                      np.where(f[:, 2] == f[:, 0], 0, np.where(f[:, 2] == f[:, 1], 1, 2))], 1)
    na = np.concatenate([first[:, i] * nt + t_all for i, _ in pairs])  # node of (a, t)
    nb = np.concatenate([first[:, j] * nt + t_all for _, j in pairs])  # node of (b, t)
    lo_first = a <= b
    lo_node, hi_node = np.where(lo_first, na, nb), np.where(lo_first, nb, na)
    key = np.minimum(a, b) * (int(n_points) + 1) + np.maximum(a, b)
    order = np.argsort(key, kind="stable")
    key, lo_node, hi_node = key[order], lo_node[order], hi_node[order]
    same = key[1:] == key[:-1]
    rows = np.concatenate([lo_node[:-1][same], hi_node[:-1][same]])
    cols = np.concatenate([lo_node[1:][same], hi_node[1:][same]])
    n = 3 * nt
    lab = _components(n, rows, cols)
    vert = f.T.reshape(-1).astype(np.int64)  # vertex of node corner * nt + t
    fans = np.unique(vert * n + lab)
    return np.bincount(fans // n, minlength=n_points)


def watertight_report(mesh) -> WatertightReport:
    """Count boundary / non-manifold edges, non-manifold vertices, orientation defects, pieces.

    One sort of the half-edges gives the edge counts and, on a closed surface, each
    half-edge's twin, from which the fans around the vertices follow without a graph
    (a 200k-triangle model: 0.13 s of CPU, was 0.5 s with scipy's graph components).
    """
    f = triangles(mesh)
    npts = int(mesh.n_points)
    if len(f) == 0:
        return WatertightReport(npts, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0)
    degenerate = int(np.count_nonzero((f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 0] == f[:, 2])))
    st = _edge_stats(f)
    used = np.bincount(f.ravel(), minlength=npts) > 0
    lab = _components(npts, np.concatenate([f[:, 0], f[:, 1]]), np.concatenate([f[:, 1], f[:, 2]]))
    components = int(np.count_nonzero(lab[used] == np.flatnonzero(used)))  # one root per piece
    euler = int(np.count_nonzero(used)) - st.edges + len(f)
    if st.twin is not None and st.inconsistent == 0 and degenerate == 0:
        nmv = _non_manifold_vertices_closed(f, npts, st.twin)
    else:
        nmv = _non_manifold_vertices(f, npts)
    return WatertightReport(
        n_points=npts, n_triangles=len(f),
        boundary_edges=st.boundary,
        non_manifold_edges=st.non_manifold,
        non_manifold_vertices=nmv,
        inconsistent_edges=st.inconsistent, degenerate_triangles=degenerate,
        components=components, euler_characteristic=int(euler),
        volume_mm3=abs(signed_volume(mesh)), area_mm2=mesh_area(mesh),
    )


def _bad_faces(f: np.ndarray) -> np.ndarray:
    """Boolean per triangle: degenerate, or on an edge shared by more than 2 triangles
    (which also catches duplicated triangles that have neighbours)."""
    bad = (f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 0] == f[:, 2])
    a = np.concatenate([f[:, 0], f[:, 1], f[:, 2]]).astype(np.int64)
    b = np.concatenate([f[:, 1], f[:, 2], f[:, 0]]).astype(np.int64)
    keys = np.minimum(a, b) * (int(f.max()) + 1) + np.maximum(a, b)
    ks = np.sort(keys)  # a sort, not an argsort: most meshes have no edge of 3+ triangles (issue 23, speed)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(ks)) + 1])
    runs = np.diff(np.concatenate([starts, [len(ks)]]))
    over = ks[starts[runs > 2]]  # the keys of edges shared by more than 2 triangles
    if len(over) == 0:
        return bad
    return bad | np.isin(keys, over).reshape(3, -1).any(axis=0)


def _fill_and_orient(m, hole_size_mm: float, single_piece: bool):
    import pyvista as pv
    from vtkmodules.vtkFiltersCore import vtkPolyDataNormals
    from vtkmodules.vtkFiltersModeling import vtkFillHolesFilter

    fh = vtkFillHolesFilter()
    fh.SetInputData(m)
    fh.SetHoleSize(float(hole_size_mm))
    fh.Update()
    m = pv.wrap(fh.GetOutput()).triangulate().clean()
    nf = vtkPolyDataNormals()
    nf.SetInputData(m)
    nf.ConsistencyOn()
    nf.SetAutoOrientNormals(bool(single_piece))
    nf.SplittingOff()
    nf.ComputeCellNormalsOff()
    nf.ComputePointNormalsOn()
    nf.Update()
    return pv.wrap(nf.GetOutput())


def _close_holes_locally(f: np.ndarray) -> np.ndarray | None:
    """Close simple boundary loops by fans that keep the orientation; None if a loop is not simple."""
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    und = np.sort(e, axis=1).astype(np.int64)
    _, inv, counts = np.unique(und[:, 0] * (int(f.max()) + 1) + und[:, 1], return_inverse=True, return_counts=True)
    bnd = e[counts[inv.ravel()] == 1]
    if len(bnd) == 0:
        return f
    starts = bnd[:, 1]
    if len(np.unique(starts)) != len(starts):
        return None  # a vertex on two holes (pinched): leave it to VTK
    nxt = dict(zip(bnd[:, 1].tolist(), bnd[:, 0].tolist(), strict=True))
    new = []
    seen: set[int] = set()
    for v0 in nxt:
        if v0 in seen:
            continue
        loop = [v0]
        seen.add(v0)
        v = nxt[v0]
        while v != v0:
            if v in seen or v not in nxt or len(loop) > 10000:
                return None
            loop.append(v)
            seen.add(v)
            v = nxt[v]
        if len(loop) < 3:
            return None
        new += [(loop[0], loop[i], loop[i + 1]) for i in range(1, len(loop) - 1)]
    return np.concatenate([f, np.asarray(new, f.dtype).reshape(-1, 3)])


#: rings of triangles cut around a pinched hole (a vertex on two holes) before the hole is closed by numpy
PINCH_GROWTH = 6


def _pinch_vertices(f: np.ndarray) -> np.ndarray:
    """Vertices where a hole's boundary is not a simple loop (they start or end more than one
    boundary edge: two holes, or one hole twice, meet there)."""
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]).astype(np.int64)
    m = int(f.max()) + 1
    und = np.minimum(e[:, 0], e[:, 1]) * m + np.maximum(e[:, 0], e[:, 1])
    _, inv, counts = np.unique(und, return_inverse=True, return_counts=True)
    bnd = e[counts[inv.ravel()] == 1]
    if len(bnd) == 0:
        return np.zeros(0, np.int64)
    starts, start_n = np.unique(bnd[:, 0], return_counts=True)
    ends, end_n = np.unique(bnd[:, 1], return_counts=True)
    return np.union1d(starts[start_n > 1], ends[end_n > 1])


def _touching(f: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """Boolean per triangle: it has a corner in ``verts``."""
    return np.isin(f, verts).any(axis=1)


def _close_with_growth(f: np.ndarray) -> np.ndarray | None:
    """Close the holes of ``f`` by fans; where a hole is pinched, cut the triangles around the pinch
    (up to PINCH_GROWTH rings) until every hole is a simple loop. None when that does not happen."""
    for _ in range(PINCH_GROWTH + 1):
        closed = _close_holes_locally(f)
        if closed is not None:
            return closed
        pinch = _pinch_vertices(f)
        if len(pinch) == 0:
            return None
        f = f[~_touching(f, pinch)]
        if len(f) == 0:
            return None
    return None


def fix_non_manifold(mesh, *, hole_size_mm: float = 1e6, max_rounds: int = 4):
    """Remove triangles on non-manifold edges (and duplicates), re-close the holes, keep orientation.

    Quadric decimation occasionally folds a few triangles onto each other; this cuts them out
    and closes the small holes left by fans (numpy). Where two holes share a vertex (pinched),
    the triangles around it are cut too (ring by ring) until each hole is a simple loop, and
    where a repair left two fans meeting at one vertex, their triangles are cut and the holes
    closed the same way; vtkFillHolesFilter + consistent normals is the last resort. A surface
    with nothing to repair is returned as it is (no extra cost).
    """
    import pyvista as pv

    fd = dict(mesh.field_data)
    pts = np.asarray(mesh.points, np.float64)
    f = triangles(mesh)
    changed = False
    for _ in range(max_rounds):
        bad = _bad_faces(f)
        if changed:  # a repair can leave two fans at one vertex: cut them and close the holes again
            bad |= _touching(f, np.flatnonzero(_fans_per_vertex(f, len(pts)) > 1))
        if not bad.any():
            break
        changed = True
        closed = _close_with_growth(f[~bad])
        if closed is None:
            m = pv.PolyData.from_regular_faces(pts, f[~bad]).clean()
            pieces = m.connectivity("all")["RegionId"]
            m = _fill_and_orient(m, hole_size_mm, single_piece=len(pieces) == 0 or int(pieces.max()) == 0)
            pts, f = np.asarray(m.points, np.float64), triangles(m)
        else:
            f = closed
    if not changed:
        return mesh
    used = np.unique(f)
    remap = np.full(len(pts), -1, np.int64)
    remap[used] = np.arange(len(used))
    out = orient_outwards(pv.PolyData.from_regular_faces(pts[used], remap[f]))
    out.field_data.update(fd)
    return out


def repair(mesh, *, largest_component: bool = True, hole_size_mm: float = 1e6):
    """A repaired copy: merged points, no degenerate/duplicate/non-manifold triangles,
    [only the largest piece], holes filled, normals consistently outward.

    ``hole_size_mm``: holes whose bounding radius is below this are closed
    (vtkFillHolesFilter). Raises MeshingError when nothing is left.
    """
    import pyvista as pv

    fd = dict(mesh.field_data)
    m = pv.wrap(mesh).triangulate().clean(tolerance=0.0, absolute=True)
    if m.n_cells == 0:
        raise MeshingError("the surface has no usable triangles")
    f = triangles(m)
    bad = _bad_faces(f)
    if bad.all():
        raise MeshingError("the surface has no usable triangles")
    m = pv.PolyData.from_regular_faces(np.asarray(m.points, np.float64), f[~bad]).clean()
    if largest_component:
        m = m.connectivity("largest").extract_surface(algorithm="dataset_surface").clean()
    m = _fill_and_orient(m, hole_size_mm, single_piece=largest_component)
    m = fix_non_manifold(m, hole_size_mm=hole_size_mm)
    out = orient_outwards(m)
    out.field_data.update(fd)
    return out


@dataclass(frozen=True)
class DebrisRemoval:
    """What :func:`remove_debris` took out: shells (connected pieces) and their volume."""

    shells_before: int
    shells_removed: int
    removed_volume_mm3: float
    cavities_kept: int


def _shell_labels(f: np.ndarray, n_points: int) -> tuple[int, np.ndarray]:
    """Number of edge-connected pieces and the piece of each triangle (pieces numbered in the
    order of their smallest point)."""
    lab = _components(n_points, np.concatenate([f[:, 0], f[:, 1]]), np.concatenate([f[:, 1], f[:, 2]]))
    used, tri_lab = np.unique(lab[f[:, 0]], return_inverse=True)
    return len(used), tri_lab.ravel()


def remove_debris(mesh, *, min_volume_mm3: float = 10.0, min_fraction: float = 0.01):
    """Drop the small loose shells of a surface (marching-cubes debris); returns (mesh, DebrisRemoval).

    A shell (edge-connected piece) is removed when its enclosed volume is below
    ``min_volume_mm3`` or below ``min_fraction`` of the largest shell's. Kept always: the
    largest shell, and the internal cavities of the largest shell (shells oriented
    opposite to it that lie inside it), whatever their size. Point data travels with
    the kept points; field data is kept. The input is not changed; when nothing is
    removed it is returned as it is.

    Examples
    --------
    >>> clean, info = remove_debris(surface)  # doctest: +SKIP
    >>> info.shells_removed  # doctest: +SKIP
    156
    """
    import pyvista as pv

    f = triangles(mesh)
    if len(f) == 0:
        return mesh, DebrisRemoval(0, 0, 0.0, 0)
    n, tri_lab = _shell_labels(f, int(mesh.n_points))
    if n == 1:
        return mesh, DebrisRemoval(1, 0, 0.0, 0)
    p = np.asarray(mesh.points, np.float64)
    p = p - p.mean(axis=0)
    a, b, c = p[f[:, 0]], p[f[:, 1]], p[f[:, 2]]
    vol = np.bincount(tri_lab, np.einsum("ij,ij->i", a, np.cross(b, c)) / 6.0, minlength=n)
    big = int(np.argmax(np.abs(vol)))
    limit = max(float(min_volume_mm3), float(min_fraction) * abs(vol[big]))
    keep = np.abs(vol) >= limit
    keep[big] = True
    cavities = 0
    inverted = np.flatnonzero(~keep & (np.sign(vol) == -np.sign(vol[big])) & (vol != 0))
    if len(inverted):
        # a cavity of the largest shell: oriented against it, with a point inside it
        from vtkmodules.vtkFiltersModeling import vtkSelectEnclosedPoints

        outer = pv.PolyData.from_regular_faces(np.asarray(mesh.points, np.float64), f[tri_lab == big])
        probe = np.asarray(mesh.points, np.float64)[[f[tri_lab == s][0, 0] for s in inverted]]
        sel = vtkSelectEnclosedPoints()
        sel.Initialize(outer)
        inside = np.array([bool(sel.IsInsideSurface(*map(float, q))) for q in probe], bool)
        sel.Complete()
        keep[inverted[inside]] = True
        cavities = int(inside.sum())
    removed = int(np.count_nonzero(~keep))
    info = DebrisRemoval(n, removed, float(np.abs(vol[~keep]).sum()), cavities)
    if removed == 0:
        return mesh, info
    kf = f[keep[tri_lab]]
    used, new_f = np.unique(kf, return_inverse=True)
    out = pv.PolyData.from_regular_faces(np.asarray(mesh.points)[used], new_f.reshape(-1, 3))
    for k in mesh.point_data.keys():
        out.point_data[k] = np.asarray(mesh.point_data[k])[used]
    cell_keep = keep[tri_lab]
    for k in mesh.cell_data.keys():
        out.cell_data[k] = np.asarray(mesh.cell_data[k])[cell_keep]
    out.field_data.update(dict(mesh.field_data))
    return out, info
