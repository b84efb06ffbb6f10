"""Triangle-surface operations for study geometry: remeshing, exact booleans, vertex merging.

Booleans use manifold3d (exact, robust: the result of a boolean of two closed manifolds is a
closed manifold); uniform remeshing uses pyacvd (Voronoi clustering) so that the volume
mesher starts from well-shaped triangles of the wanted size.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv

from surgiplan.core.errors import GeometryError, MeshingError


def faces_of(mesh: pv.PolyData) -> np.ndarray:
    """(m, 3) triangle vertex indices of an all-triangle PolyData."""
    return np.asarray(mesh.faces).reshape(-1, 4)[:, 1:].astype(np.int64)


def polydata(points: np.ndarray, tris: np.ndarray) -> pv.PolyData:
    tris = np.asarray(tris, dtype=np.int64).reshape(-1, 3)
    return pv.PolyData(np.asarray(points, dtype=float), np.hstack([np.full((len(tris), 1), 3), tris]).ravel())


def triangles_only(mesh: pv.PolyData) -> pv.PolyData:
    """The triangles of ``mesh`` alone, cleaned (cleaning turns collapsed triangles into lines and
    points, which the clustering refuses: they are dropped)."""
    mesh = mesh.triangulate().clean()
    if mesh.is_all_triangles:
        return mesh
    faces = np.asarray(mesh.faces)
    tri = []
    k = 0
    while k < len(faces):  # polys only: lines and vertices are not in .faces
        n = int(faces[k])
        if n == 3:
            tri.append(faces[k + 1:k + 4])
        k += n + 1
    return polydata(np.asarray(mesh.points), np.asarray(tri, dtype=np.int64).reshape(-1, 3)).clean()


def voxel_remesh(mesh: pv.PolyData, edge_mm: float, name: str = "surface") -> pv.PolyData:
    """A closed surface rebuilt through a voxel mask of edge_mm / 4: contoured, Taubin-smoothed and
    remeshed to ``edge_mm`` (sharp edges and fan caps become well-shaped triangles; corners are
    rounded by about the voxel size)."""
    mask = mesh.triangulate().clean().voxelize_binary_mask(spacing=edge_mm / 4.0)
    mask = mask.pad_image(0, pad_size=2)
    key = mask.array_names[0]
    mask[key] = np.asarray(mask[key], dtype=np.float32)
    iso = mask.contour([0.5], scalars=key).triangulate().clean()
    iso = iso.smooth_taubin(n_iter=30, pass_band=0.1)
    out = remesh_uniform(iso, edge_mm, name, fallback=False)
    if out is None:
        raise MeshingError(f"{name} could not be remeshed into a closed surface",
                           hint="Try another element size.")
    return out


def remesh_uniform(mesh: pv.PolyData, edge_mm: float, name: str = "surface", fallback: bool = True):
    """A closed surface remeshed to near-equilateral triangles of edge ~``edge_mm`` (pyacvd).

    When the clustering does not give a closed manifold (it can pinch thin or sharp-edged parts),
    the surface is rebuilt through a voxel mask (:func:`voxel_remesh`); with ``fallback`` False,
    None is returned instead.
    """
    import pyacvd

    mesh = triangles_only(mesh)
    n = int(mesh.area / (0.433 * edge_mm * edge_mm))
    if n < 50:
        raise MeshingError(f"{name} is too small ({mesh.area:.0f} mm^2) for elements of {edge_mm:g} mm",
                           hint="Use a smaller element size.")
    import warnings

    with warnings.catch_warnings():  # pyacvd 0.4 uses a pyvista attribute pyvista 0.49 deprecates
        warnings.simplefilter("ignore")
        cl = pyacvd.Clustering(mesh)
        k = 0
        while mesh.n_points * 4 ** k < 2 * n and k < 4:
            k += 1
        if k:
            cl.subdivide(k)
        cl.cluster(n)
        out = cl.create_mesh(moveclus=False, clean=False).clean()
    if out.n_cells and out.is_manifold and _is_closed_manifold(out):
        return out
    return voxel_remesh(mesh, edge_mm, name) if fallback else None


def _is_closed_manifold(mesh: pv.PolyData) -> bool:
    import manifold3d as m3

    m = m3.Mesh64(vert_properties=np.asarray(mesh.points, dtype=np.float64),
                  tri_verts=faces_of(mesh).astype(np.uint64))
    m.merge()
    return m3.Manifold(m).status() == m3.Error.NoError


def to_manifold(mesh: pv.PolyData, name: str):
    """A manifold3d Manifold (with its own original id) of a closed triangle surface."""
    import manifold3d as m3

    mesh = mesh.triangulate().clean()
    m = m3.Mesh64(vert_properties=np.asarray(mesh.points, dtype=np.float64),
                  tri_verts=faces_of(mesh).astype(np.uint64))
    m.merge()
    man = m3.Manifold(m)
    if man.status() != m3.Error.NoError or man.is_empty():
        raise GeometryError(f"{name} is not a closed, manifold surface ({man.status().name})",
                            hint="Repair the model (surgiplan model repair) or rebuild it from the segmentation.")
    return man.as_original()


def manifold_triangles(man) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points, triangles, original id per triangle) of a Manifold."""
    mm = man.to_mesh64()
    pts = np.asarray(mm.vert_properties, dtype=float)[:, :3]
    tri = np.asarray(mm.tri_verts, dtype=np.int64).reshape(-1, 3)
    ids = np.zeros(len(tri), dtype=np.int64)
    run_id = np.asarray(mm.run_original_id)
    run_start = np.asarray(mm.run_index) // 3
    for k in range(len(run_id)):
        ids[run_start[k]:run_start[k + 1]] = run_id[k]
    return pts, tri, ids


def merge_vertices(points: np.ndarray, groups: dict[str, np.ndarray], tol: float = 1e-6):
    """Merge points closer than ``tol`` (mm); drop the triangles that collapse. Returns (points, groups)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    pairs = cKDTree(points).query_pairs(tol, output_type="ndarray")
    n = len(points)
    g = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) else \
        coo_matrix((n, n))
    _, label = connected_components(g, directed=False)
    first = np.full(label.max() + 1, -1)
    for i in range(n - 1, -1, -1):
        first[label[i]] = i
    keep = np.unique(first)
    remap = np.searchsorted(keep, first[label])
    out = {}
    for name, tri in groups.items():
        t = remap[tri]
        ok = (t[:, 0] != t[:, 1]) & (t[:, 1] != t[:, 2]) & (t[:, 0] != t[:, 2])
        out[name] = t[ok]
    return points[keep], out


def edge_use(*groups: np.ndarray) -> np.ndarray:
    """How many times each edge of the union of the triangle sets is used (bincount of the counts)."""
    f = np.vstack(groups)
    e = np.sort(np.vstack([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    _, cnt = np.unique(e, axis=0, return_counts=True)
    return cnt


def _inside_polygon(poly: np.ndarray, p: np.ndarray) -> bool:
    """Even-odd ray casting: is the 2D point ``p`` inside the closed polygon ``poly`` (n, 2)?"""
    x, y = poly[:, 0], poly[:, 1]
    x2, y2 = np.roll(x, -1), np.roll(y, -1)
    cross = (y > p[1]) != (y2 > p[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = x + (p[1] - y) * (x2 - x) / (y2 - y)
    return bool(np.sum(cross & (p[0] < xi)) % 2)


def _loops(edges: np.ndarray) -> list[list[int]]:
    """Closed vertex loops of a set of boundary edges (each vertex on two edges)."""
    from collections import defaultdict

    nxt = defaultdict(list)
    for a, b in edges:
        nxt[a].append(b)
        nxt[b].append(a)
    seen, loops = set(), []
    for start in list(nxt):
        if start in seen:
            continue
        loop, prev, cur = [start], None, start
        seen.add(start)
        while True:
            cand = [v for v in nxt[cur] if v != prev]
            if not cand:
                break
            prev, cur = cur, cand[0]
            if cur == start:
                break
            if cur in seen:
                raise GeometryError("a cut face's boundary is not a set of simple loops")
            seen.add(cur)
            loop.append(cur)
        loops.append(loop)
    return loops


def retriangulate_plane(points: np.ndarray, tris: np.ndarray, origin, normal, edge_mm: float,
                        tol: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """Replace the triangles lying on a plane (a cut face, a fan of slivers) by a quality mesh of
    edge ~``edge_mm`` (gmsh, Frontal-Delaunay), keeping the face's boundary vertices, so the rest of
    the surface stays attached. Returns (points, triangles)."""
    import gmsh

    normal = np.asarray(normal, float) / np.linalg.norm(normal)
    d = (points - np.asarray(origin, float)) @ normal
    on = np.all(np.abs(d[tris]) < tol, axis=1)
    if not np.any(on):
        return points, tris
    cap, rest = tris[on], tris[~on]
    e = np.sort(np.vstack([cap[:, [0, 1]], cap[:, [1, 2]], cap[:, [2, 0]]]), axis=1)
    ue, cnt = np.unique(e, axis=0, return_counts=True)
    loops = _loops(ue[cnt == 1])
    # a 2D frame in the plane
    u = np.cross(normal, [1.0, 0, 0] if abs(normal[0]) < 0.9 else [0, 1.0, 0])
    u /= np.linalg.norm(u)
    v = np.cross(normal, u)
    uv = np.column_stack([(points - origin) @ u, (points - origin) @ v])

    def area(loop):
        p = uv[loop]
        return 0.5 * float(np.sum(p[:, 0] * np.roll(p[:, 1], -1) - np.roll(p[:, 0], -1) * p[:, 1]))

    # outer loops (largest |area| first) and the holes inside them
    loops.sort(key=lambda lp: -abs(area(lp)))
    groups: list[list[list[int]]] = []
    for lp in loops:
        for gr in groups:
            if _inside_polygon(uv[gr[0]], uv[lp[0]]):
                gr.append(lp)
                break
        else:
            groups.append([lp])
    initialized = gmsh.isInitialized()
    if not initialized:
        gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    new_pts, new_tris = [points], [rest]
    n0 = len(points)
    try:
        for gr in groups:
            gmsh.model.add("cap")
            curve_loops = []
            for lp in gr:
                pt = [gmsh.model.geo.addPoint(float(uv[i, 0]), float(uv[i, 1]), 0.0, edge_mm) for i in lp]
                lines = [gmsh.model.geo.addLine(pt[k], pt[(k + 1) % len(pt)]) for k in range(len(pt))]
                curve_loops.append(gmsh.model.geo.addCurveLoop(lines))
            gmsh.model.geo.addPlaneSurface(curve_loops)
            gmsh.model.geo.synchronize()
            for _, c in gmsh.model.getEntities(1):
                gmsh.model.mesh.setTransfiniteCurve(c, 2)  # keep the boundary vertices, add none
            gmsh.option.setNumber("Mesh.MeshSizeMax", edge_mm)
            gmsh.option.setNumber("Mesh.MeshSizeMin", 0.0)
            gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
            gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
            gmsh.option.setNumber("Mesh.Algorithm", 6)
            gmsh.model.mesh.generate(2)
            tags, xyz, _ = gmsh.model.mesh.getNodes()
            xyz = xyz.reshape(-1, 3)
            # boundary nodes are the gmsh points, tagged in loop order: map them back to our vertices
            ids = np.empty(int(tags.max()) + 1, dtype=np.int64)
            order = [i for lp in gr for i in lp]
            point_tags = [t for _, t in gmsh.model.getEntities(0)]
            boundary_nodes = set()
            for t, i in zip(point_tags, order, strict=True):
                nt, _, _ = gmsh.model.mesh.getNodes(0, t)
                ids[int(nt[0])] = i
                boundary_nodes.add(int(nt[0]))
            inner = [int(t) for t in tags if int(t) not in boundary_nodes]
            k0 = n0 + sum(len(p) for p in new_pts[1:])
            pos = {int(t): j for j, t in enumerate(tags)}
            ids[inner] = k0 + np.arange(len(inner))
            q = np.array([xyz[pos[t]] for t in inner]).reshape(-1, 3)
            new_pts.append(origin + q[:, :1] * u + q[:, 1:2] * v if len(q) else np.zeros((0, 3)))
            _, _, conn = gmsh.model.mesh.getElements(2)
            t3 = ids[np.asarray(conn[0], dtype=np.int64).reshape(-1, 3)]
            # orientation: the cap's outward normal is the input cap triangles' one
            ref = np.cross(points[cap[0, 1]] - points[cap[0, 0]], points[cap[0, 2]] - points[cap[0, 0]]) @ normal
            allp = np.vstack(new_pts)
            got = np.cross(allp[t3[:, 1]] - allp[t3[:, 0]], allp[t3[:, 2]] - allp[t3[:, 0]]) @ normal
            t3 = np.where((got * ref < 0)[:, None], t3[:, [0, 2, 1]], t3)
            new_tris.append(t3)
            gmsh.model.remove()
    finally:
        if not initialized:
            gmsh.finalize()
    return np.vstack(new_pts), np.vstack(new_tris)
