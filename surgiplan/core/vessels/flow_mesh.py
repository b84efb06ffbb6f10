"""Tagged tetrahedral flow mesh of a lumen: ends cut perpendicular to the centreline, flow
extensions, caps, gmsh volume mesh graded by the local radius and refined at the lesion (LPS mm).

1. each open end is cut by the plane perpendicular to its centreline's end tangent, set back from the
   scan's edge far enough that the whole section lies inside the scanned lumen;
2. the cut section is extruded along the tangent (a straight flow extension of the same section:
   ``INLET_EXTENSION`` / ``OUTLET_EXTENSION`` equivalent radii) so the developed inlet profile and
   the outlet condition act away from the anatomy;
3. the ends are capped (flat); gmsh re-meshes the surface (wall + caps classified by the 40 deg
   edges) and fills it with tetrahedra of size ``SIZE_PER_RADIUS`` x the local equivalent radius
   (between ``h_min`` and ``h_max``), ``LESION_SIZE_PER_RADIUS`` within 2 reference diameters of a
   stenosis; Netgen optimisation; the quality check follows in the solver.

Wall refinement (``wall_ratio`` of :func:`mesh_lumen`, off by default): cells at the wall a fraction of
the core size, growing linearly to it over one core cell. Straight tube R 3 mm, Poiseuille WSS
4 mu Q / (pi R^3), wall area 10 mm from the cuts (loaded machine, one run each):

=========================  ======  =========  ========  ========
mesh                       DOFs    mean WSS   rms       max
=========================  ======  =========  ========  ========
core 0.45 R (default)       78 k   +3.7 %     5.5 %     +47 %
core 0.30 R                129 k   +1.8 %     3.0 %     +14 %
core 0.23 R                183 k   +1.2 %     2.5 %     +33 %
core 0.45 R, wall 1/3      230 k   +0.9 %     2.2 %     +10 %
=========================  ======  =========  ========  ========

At similar DOFs the wall-refined mesh is a little better on the mean and much better on the maximum
(no spike), but it triples the DOFs of the default mesh, so it stays an option
(``--option wall_ratio=0.33``).

Physical names: volume ``fluid``; faces ``inlet``, ``outlet_1`` ... (in the order of the outlets
given), ``wall``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from surgiplan.core.errors import MeshingError

INLET_EXTENSION = 3.0
OUTLET_EXTENSION = 5.0
SIZE_PER_RADIUS = 0.45
LESION_SIZE_PER_RADIUS = 0.3
WALL_SIZE_RATIO = 1.0 / 3.0
WALL_BAND_CELLS = 1.0
CLASSIFY_ANGLES_DEG = (40.0, 70.0)  # gmsh's surface classification, tried in this order


@dataclass
class Cut:
    """An end section: plane origin (on the centreline), unit normal pointing OUT of the domain."""

    origin: np.ndarray
    normal: np.ndarray
    radius_mm: float
    name: str
    extension_mm: float = 0.0

    @property
    def cap_origin(self) -> np.ndarray:
        return self.origin + self.extension_mm * self.normal


def end_cut(cl_points: np.ndarray, cl_radius: np.ndarray, face_normal: np.ndarray, at_start: bool,
            name: str, setback_mm: float = 0.0) -> tuple[Cut, int]:
    """Where to cut an end: walk in from the scan face until the perpendicular section lies inside."""
    n = len(cl_points)
    order = range(n) if at_start else range(n - 1, -1, -1)
    r_end = float(np.nanmedian(cl_radius[:10] if at_start else cl_radius[-10:]))
    face_pt = cl_points[0] if at_start else cl_points[-1]
    for k in order:
        seg = cl_points[min(k + 6, n - 1)] - cl_points[max(k - 6, 0)]
        t = seg / np.linalg.norm(seg)
        outward = -t if at_start else t
        cos = abs(float(outward @ face_normal))
        sin = np.sqrt(max(0.0, 1.0 - cos * cos))
        # the section's farthest point reaches r sin(angle) further out than its centre
        need = r_end * sin / max(cos, 0.2) + 1.5 + setback_mm
        depth = float((face_pt - cl_points[k]) @ face_normal)
        if depth >= need:
            return Cut(cl_points[k].copy(), outward, r_end, name), k
    raise MeshingError(f"the vessel end {name!r} is too short to cut perpendicular to its centreline",
                       hint="Include more of the vessel in the scan or the lumen segmentation.")


def _clip_end(surface, cut: Cut):
    """Remove the part of ``surface`` beyond the cut plane within 3 radii of the cut's origin."""
    import vtk

    plane = vtk.vtkPlane()
    plane.SetOrigin(*cut.origin)
    plane.SetNormal(*(-cut.normal))  # > 0 on the kept (inner) side
    sphere = vtk.vtkSphere()
    sphere.SetCenter(*cut.origin)
    sphere.SetRadius(max(3.0 * cut.radius_mm, cut.radius_mm + 8.0))
    both = vtk.vtkImplicitBoolean()
    both.SetOperationTypeToIntersection()  # max(plane, sphere): < 0 only beyond the plane AND near the end
    both.AddFunction(plane)
    both.AddFunction(sphere)
    clip = vtk.vtkClipPolyData()
    clip.SetInputData(surface)
    clip.SetClipFunction(both)
    clip.SetValue(0.0)
    clip.Update()
    import pyvista as pv

    return pv.wrap(clip.GetOutput()).triangulate().clean()


def _n_boundary_loops(surface) -> int:
    edges = surface.extract_feature_edges(boundary_edges=True, feature_edges=False, manifold_edges=False,
                                          non_manifold_edges=False)
    if not edges.n_cells:
        return 0
    return int(len(np.unique(edges.connectivity().point_data["RegionId"])))


def _clip_whole_end(surface, cut: Cut):
    """Remove the piece of ``surface`` beyond the cut plane that holds the end (the connected part beyond
    the plane nearest the cut's origin), however far it reaches; other parts beyond the plane stay."""
    import pyvista as pv
    import vtk

    plane = vtk.vtkPlane()
    plane.SetOrigin(*cut.origin)
    plane.SetNormal(*(-cut.normal))
    clip = vtk.vtkClipPolyData()
    clip.SetInputData(surface)
    clip.SetClipFunction(plane)
    clip.SetValue(0.0)
    clip.GenerateClippedOutputOn()
    clip.Update()
    kept = pv.wrap(clip.GetOutput()).triangulate()
    beyond = pv.wrap(clip.GetClippedOutput()).triangulate()
    if not beyond.n_cells:
        return kept.clean()
    conn = beyond.connectivity("all")
    d = np.linalg.norm(np.asarray(conn.points) - cut.origin, axis=1)
    end_id = np.asarray(conn.point_data["RegionId"])[int(np.argmin(d))]
    others = conn.extract_cells(np.flatnonzero(np.asarray(conn.cell_data["RegionId"]) != end_id))
    if others.n_cells:
        kept = kept.merge(others.extract_surface(algorithm="dataset_surface").triangulate())
    return kept.clean(tolerance=1e-9, absolute=True)


def _boundary_loop(surface, cut: Cut) -> np.ndarray:
    """The ordered open-boundary loop of ``surface`` lying in the cut plane."""
    edges = surface.extract_feature_edges(boundary_edges=True, feature_edges=False, manifold_edges=False,
                                          non_manifold_edges=False).strip(join=True)
    best = None
    lines = edges.lines
    i = 0
    while i < len(lines):
        n = lines[i]
        ids = lines[i + 1:i + 1 + n]
        i += n + 1
        P = edges.points[ids]
        off = np.abs((P - cut.origin) @ cut.normal).max()
        if off < 1e-3 + 0.02 * cut.radius_mm and np.linalg.norm(P.mean(axis=0) - cut.origin) < 2 * cut.radius_mm:
            if best is None or len(P) > len(best):
                best = P
    if best is None:
        raise MeshingError(f"could not find the cut section of the vessel end {cut.name!r}",
                           hint="The end may touch another vessel; segment a longer piece of it.")
    if np.linalg.norm(best[0] - best[-1]) < 1e-9:
        best = best[:-1]
    return best


def _tube_and_cap(loop: np.ndarray, cut: Cut, length: float):
    """Triangles of the straight extension of ``loop`` by ``length`` along the cut normal, and of its flat cap."""
    n = len(loop)
    far = loop + length * cut.normal
    layers = max(1, int(np.ceil(length / max(0.5, 0.6 * cut.radius_mm))))
    rings = [loop + (f * length) * cut.normal for f in np.linspace(0.0, 1.0, layers + 1)]
    pts = np.vstack(rings)
    tris = []
    for L in range(layers):
        a0, b0 = L * n, (L + 1) * n
        for k in range(n):
            k1 = (k + 1) % n
            tris += [[a0 + k, a0 + k1, b0 + k1], [a0 + k, b0 + k1, b0 + k]]
    centre = far.mean(axis=0)
    c_id = len(pts)
    pts = np.vstack([pts, centre])
    last = layers * n
    cap = [[last + k, last + (k + 1) % n, c_id] for k in range(n)]
    return pts, np.array(tris), np.array(cap)


def build_closed_surface(surface, cuts: list[Cut], extensions: list[float]):
    """Clip every end, add the flow extensions and caps. Returns (points, wall_tris, [cap_tris per cut]),
    with consistent outward orientation."""
    import pyvista as pv

    s = surface
    for c in cuts:
        s = _clip_end(s, c)
    if _n_boundary_loops(s) > len(cuts):
        # an end wider or more oblique than the sphere: a rim of it beyond the plane stayed (an open loop
        # at the scan's face, as at the real right iliac); remove the whole piece beyond each plane
        s = surface
        for c in cuts:
            s = _clip_whole_end(s, c)
    loops = [_boundary_loop(s, c) for c in cuts]
    pts = [np.asarray(s.points)]
    wall = [s.faces.reshape(-1, 4)[:, 1:]]
    caps = []
    offset = s.n_points
    for c, loop, ext in zip(cuts, loops, extensions, strict=True):
        c.extension_mm = float(ext)
        p, t, cap = _tube_and_cap(loop, c, ext)
        pts.append(p)
        wall.append(t + offset)
        caps.append(cap + offset)
        offset += len(p)
    P = np.vstack(pts)
    W = np.vstack(wall)
    # merge the duplicated loop points (clean) and fix orientation with VTK's normals filter
    allt = np.vstack([W] + caps)
    label = np.concatenate([np.zeros(len(W), int)] + [np.full(len(cp), i + 1) for i, cp in enumerate(caps)])
    m = pv.PolyData(P, np.hstack([np.full((len(allt), 1), 3), allt]).astype(np.int64))
    m.cell_data["patch"] = label
    m = m.clean(tolerance=1e-6, absolute=False)
    m = m.compute_normals(cell_normals=True, point_normals=False, auto_orient_normals=True,
                          consistent_normals=True, split_vertices=False)
    if m.n_open_edges if hasattr(m, "n_open_edges") else 0:
        raise MeshingError(f"the capped vessel surface has {m.n_open_edges} open edges",
                           hint="The lumen surface may self-intersect near an end.")
    return m


@dataclass
class ClosedSurface:
    """A closed triangulated surface in plain arrays (picklable without VTK): points (n, 3) in LPS mm,
    triangles (m, 3) of point indices, and ``patch`` (m,): 0 wall, i > 0 the cap of cut i - 1."""

    points: np.ndarray
    tris: np.ndarray
    patch: np.ndarray

    @classmethod
    def of(cls, closed) -> ClosedSurface:
        """From the pyvista surface of :func:`build_closed_surface` (or a ClosedSurface, returned as is)."""
        if isinstance(closed, cls):
            return closed
        # the points keep VTK's precision (float32): the size grid's corner, and so the mesh, as before
        return cls(np.asarray(closed.points).copy(), np.asarray(closed.faces).reshape(-1, 4)[:, 1:].copy(),
                   np.asarray(closed.cell_data["patch"]).copy())


@dataclass
class SizeGrid:
    """The target cell size (mm) on a regular grid: ``sizes[i, j, k]`` at ``lo + step * (i, j, k)`` (LPS mm)."""

    lo: np.ndarray
    step: float
    sizes: np.ndarray


def size_grid(closed, size_fn, h_min: float = 0.3, h_max: float = 3.0, wall_ratio: float | None = None,
              wall_band: float = WALL_BAND_CELLS) -> SizeGrid:
    """The size field of :func:`mesh_lumen` on a grid around ``closed`` (2 mm margin).

    ``size_fn(points (n, 3) mm) -> sizes (n,) mm`` is the core size, clipped to [``h_min``, ``h_max``];
    with ``wall_ratio`` the cells at the wall are that fraction of it, growing linearly to the core size
    over ``wall_band`` core cells (distance to the wall's vertices). Grid step 1 mm, or the smallest wall
    cell with wall refinement (at least the step that keeps the grid under ~16 M points).
    """
    cs = ClosedSurface.of(closed)
    lo = cs.points.min(axis=0) - 2.0
    hi = cs.points.max(axis=0) + 2.0
    step = 1.0
    if wall_ratio is not None:
        h_wall = max(h_min, float(np.min(np.clip(size_fn(cs.points), h_min, h_max))) * wall_ratio)
        step = float(np.clip(h_wall, (np.prod(hi - lo) / 16e6) ** (1 / 3), 1.0))
    n = np.ceil((hi - lo) / step).astype(int) + 1
    g = np.stack(np.meshgrid(*[lo[a] + step * np.arange(n[a]) for a in range(3)], indexing="ij"), axis=-1)
    g = g.reshape(-1, 3)
    grid = np.clip(size_fn(g), h_min, h_max)
    if wall_ratio is not None:
        from scipy.spatial import cKDTree

        wall_pts = cs.points[np.unique(cs.tris[cs.patch == 0])]
        d, _ = cKDTree(wall_pts).query(g, workers=1)
        grid = grid * (wall_ratio + (1.0 - wall_ratio) * np.clip(d / (wall_band * grid), 0.0, 1.0))
        grid = np.maximum(grid, h_min)
    return SizeGrid(lo, step, np.asarray(grid, float).reshape(tuple(n)))


def mesh_lumen(closed, cuts: list[Cut], size_fn, msh_path=None, h_min: float = 0.3, h_max: float = 3.0,
               progress=None, wall_ratio: float | None = None, wall_band: float = WALL_BAND_CELLS):
    """gmsh tetrahedral mesh of the closed surface (``patch`` cell data: 0 wall, i > 0 cut i - 1).

    ``closed``: the pyvista surface of :func:`build_closed_surface` or a :class:`ClosedSurface`.
    ``size_fn(points (n, 3)) -> sizes (n,)`` gives the target edge length (mm) in the core of the lumen,
    or a :class:`SizeGrid` made beforehand by :func:`size_grid` (then ``h_min``, ``h_max``, ``wall_ratio``
    and ``wall_band`` are already in it). ``wall_ratio`` (e.g. 1/3): cells at the wall are that fraction of
    the core size, growing linearly to the core size over ``wall_band`` core cells from the wall (distance
    to the wall's vertices); None: no wall refinement. Leaves the model in gmsh (call
    :func:`surgiplan.core.simulation.meshes.finish`); writes ``msh_path`` when given. Returns the timings
    (s): ``classify_s`` (gmsh's surface classification), ``size_field_s``, ``surface_s``, ``volume_s``,
    ``repair_s``, ``write_s``, and ``repair_passes`` (a count).
    """
    import time

    import gmsh

    from surgiplan.core.jobs import report
    from surgiplan.core.simulation import meshes

    cs = ClosedSurface.of(closed)
    t0 = time.perf_counter()
    # split at the sharp cap rims (40 deg), patches that can be re-parametrised, then re-mesh them; a
    # rough wall (3 mm slices of a real CT: thousands of wall edges above 40 deg, the TCIA aorta's wall
    # fell into ~1000 patches gmsh could not parametrise) is classified again at 70 deg (the cap rims are
    # 90 deg)
    for angle in CLASSIFY_ANGLES_DEG:
        meshes._start("vessel")
        gmsh.option.setNumber("General.NumThreads", 1)
        tag = gmsh.model.addDiscreteEntity(2)
        gmsh.model.mesh.addNodes(2, tag, np.arange(1, len(cs.points) + 1), cs.points.ravel())
        gmsh.model.mesh.addElementsByType(tag, 2, [], (cs.tris + 1).ravel())
        try:
            gmsh.model.mesh.classifySurfaces(angle * np.pi / 180, True, True, np.pi)
            gmsh.model.mesh.createGeometry()
            break
        except Exception as exc:  # gmsh raises plain Exception
            if angle == CLASSIFY_ANGLES_DEG[-1]:
                raise MeshingError(f"gmsh could not parametrise the vessel surface: {exc}",
                                   hint="The lumen surface may fold or self-intersect; smooth the segmentation."
                                   ) from exc
    ents = gmsh.model.getEntities(2)
    tagged = {"wall": []}
    for c in cuts:
        tagged[c.name] = []
    for _, t in ents:  # a cap's nodes all lie on its plane
        _, coords, _ = gmsh.model.mesh.getNodes(2, t, includeBoundary=True)
        xyz = np.asarray(coords).reshape(-1, 3)
        name = "wall"
        for c in cuts:
            if len(xyz) and np.all(np.abs((xyz - c.cap_origin) @ c.normal) < 1e-3 * max(1.0, c.radius_mm)):
                name = c.name
        tagged[name].append(t)
    loop = gmsh.model.geo.addSurfaceLoop([t for _, t in ents])
    vol = gmsh.model.geo.addVolume([loop])
    gmsh.model.geo.synchronize()
    gmsh.model.addPhysicalGroup(3, [vol], name="fluid")
    for name, ts in tagged.items():
        if not ts:
            raise MeshingError(f"no surface of the vessel mesh is the {name!r} face")
        gmsh.model.addPhysicalGroup(2, ts, name=name)
    timings = {"classify_s": time.perf_counter() - t0}

    gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
    gmsh.option.setNumber("Mesh.Algorithm", 6)
    gmsh.option.setNumber("Mesh.Algorithm3D", 1)
    # the size field on a grid (numpy), looked up in gmsh's size callback without numpy calls
    t0 = time.perf_counter()
    sg = size_fn if isinstance(size_fn, SizeGrid) else size_grid(cs, size_fn, h_min, h_max, wall_ratio, wall_band)
    step = float(sg.step)
    flat = sg.sizes.ravel().tolist()
    nx, ny, nz = (int(v) for v in sg.sizes.shape)
    x0, y0, z0 = (float(v) for v in sg.lo)
    timings["size_field_s"] = time.perf_counter() - t0

    def cb(dim, tag, x, y, z, lc):
        i = min(max(int((x - x0) / step + 0.5), 0), nx - 1)
        j = min(max(int((y - y0) / step + 0.5), 0), ny - 1)
        k = min(max(int((z - z0) / step + 0.5), 0), nz - 1)
        return flat[(i * ny + j) * nz + k]

    gmsh.model.mesh.setSizeCallback(cb)
    gmsh.option.setNumber("Mesh.Optimize", 1)
    gmsh.option.setNumber("Mesh.OptimizeNetgen", 1)
    try:
        t1 = time.perf_counter()
        report(progress, 0.2, "meshing the vessel wall and ends")
        gmsh.model.mesh.generate(2)
        t2 = time.perf_counter()
        report(progress, 0.4, "filling the vessel with tetrahedra")
        gmsh.model.mesh.generate(3)
        timings.update({"surface_s": t2 - t1, "volume_s": time.perf_counter() - t2})
        t3 = time.perf_counter()
        timings["repair_passes"] = _repair_slivers()
        timings["repair_s"] = time.perf_counter() - t3
    except MeshingError:
        raise
    except Exception as exc:  # gmsh raises plain Exception
        raise MeshingError(f"gmsh could not mesh the vessel: {exc}",
                           hint="The lumen surface may self-intersect; check the segmentation.") from exc
    t4 = time.perf_counter()
    if msh_path is not None:
        meshes.write_msh(msh_path)
    timings["write_s"] = time.perf_counter() - t4
    return timings


def _min_quality() -> float:
    import gmsh

    from surgiplan.core.simulation.mesh_quality import tet_quality

    tags, coords, _ = gmsh.model.mesh.getNodes()
    pos = np.zeros((int(tags.max()) + 1, 3))
    pos[tags.astype(np.int64)] = np.asarray(coords).reshape(-1, 3)
    _, nodes = gmsh.model.mesh.getElementsByType(4)
    q = tet_quality(pos[np.asarray(nodes, np.int64).reshape(-1, 4)])
    return float(q.min()) if len(q) else 1.0


def _repair_slivers(target: float = 0.01, passes: int = 2) -> int:
    """Automatic repair: gmsh's and Netgen's optimisers again, then (a sliver whose four vertices lie on
    the wall cannot be moved) the volume re-meshed by HXT and by the frontal mesher, until no tetrahedron
    is below ``target`` (the solver refuses < 0.005). Returns the passes used; MeshingError if it stays bad."""
    import gmsh

    used = 0
    for algo in (None, 10, 4):
        if algo is not None:
            vols = gmsh.model.getEntities(3)
            gmsh.model.mesh.clear(vols)
            gmsh.option.setNumber("Mesh.Algorithm3D", algo)
            gmsh.model.mesh.generate(3)
        for _ in range(passes):
            if _min_quality() >= target:
                return used
            used += 1
            gmsh.model.mesh.optimize("", force=True)
            gmsh.model.mesh.optimize("Netgen", force=True)
    q = _min_quality()
    if q < 0.0075:
        raise MeshingError(f"the vessel mesh keeps a sliver tetrahedron (quality {q:.3g}) after {used} "
                           "optimisation passes and two other volume meshers",
                           hint="Try a different largest cell size (h_max_mm).")
    return used
