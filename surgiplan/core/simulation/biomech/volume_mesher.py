"""Tetrahedral meshing of tagged closed surfaces with gmsh (HXT, Delaunay as fallback).

The surface triangles are kept as they are (discrete gmsh surfaces sharing their nodes, so
regions that touch share one conforming interface); the volumes are filled with tetrahedra
whose size follows a field: ``fine_mm`` within ``fine_band_mm`` of the surfaces named in
``refine_near`` (the implant interface), growing to ``coarse_mm`` farther away.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from surgiplan.core.errors import MeshingError
from surgiplan.core.simulation.biomech.hip_model import TaggedSurfaces

#: gmsh's 2D algorithm for remeshing the parametrized patches (1: MeshAdapt, robust on patches whose
#: parametrization comes from a poor input triangulation; 6: Frontal-Delaunay)
ALGORITHM_2D = 6
#: 3D algorithms tried in turn
ALGORITHMS_3D = ((1, "Delaunay"), (10, "HXT"))


@dataclass
class MeshQuality:
    """Quality figures of a tetrahedral mesh (angles in degrees)."""

    elements: int
    nodes: int
    min_dihedral_deg: float
    p01_dihedral_deg: float  # 1st percentile of the per-element minimum dihedral angle
    max_aspect_ratio: float  # circumradius / (3 inradius): 1 for a regular tetrahedron
    p99_aspect_ratio: float
    elements_per_region: dict = field(default_factory=dict)
    algorithm: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def tet_quality(points: np.ndarray, tets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(minimum dihedral angle in deg, aspect ratio = R / 3r) per tetrahedron."""
    p = points[tets]  # (n, 4, 3)
    faces = [(1, 2, 3), (0, 2, 3), (0, 1, 3), (0, 1, 2)]
    normals, areas = [], []
    for a, b, c in faces:
        n = np.cross(p[:, b] - p[:, a], p[:, c] - p[:, a])
        ar = np.linalg.norm(n, axis=1)
        normals.append(n / np.maximum(ar, 1e-300)[:, None])
        areas.append(0.5 * ar)
    dihedral = []
    for i in range(4):
        for j in range(i + 1, 4):  # faces i and j share the edge opposite to vertices i, j
            cosang = -np.einsum("nd,nd->n", normals[i], normals[j])
            dihedral.append(np.degrees(np.arccos(np.clip(cosang, -1, 1))))
    dmin = np.min(np.stack(dihedral), axis=0)
    vol = np.abs(np.einsum("nd,nd->n", p[:, 1] - p[:, 0], np.cross(p[:, 2] - p[:, 0], p[:, 3] - p[:, 0]))) / 6
    r_in = 3 * vol / np.maximum(np.sum(areas, axis=0), 1e-300)
    # circumradius from the edge lengths: R = sqrt((aA+bB+cC)(aA+bB-cC)(aA-bB+cC)(-aA+bB+cC)) / (24 V)
    e = lambda i, j: np.linalg.norm(p[:, i] - p[:, j], axis=1)  # noqa: E731
    aA, bB, cC = e(0, 1) * e(2, 3), e(0, 2) * e(1, 3), e(0, 3) * e(1, 2)
    prod = (aA + bB + cC) * (aA + bB - cC) * (aA - bB + cC) * (-aA + bB + cC)
    r_circ = np.sqrt(np.maximum(prod, 0)) / np.maximum(24 * vol, 1e-300)
    return dmin, r_circ / np.maximum(3 * r_in, 1e-300)


def mesh_volumes(surf: TaggedSurfaces, *, coarse_mm: float, fine_mm: float, refine_near: tuple[str, ...] = (),
                 fine_band_mm: float = 15.0, feature_angle_deg: float = 40.0, progress=None) -> MeshQuality:
    """Tetrahedra in ``surf``'s volumes, keeping its triangles; when that fails, remeshing them first.

    See :func:`_mesh` (``remesh`` False, then True). The quality report says which way worked.
    """
    first = None
    for remesh in (False, True):
        try:
            q = _mesh(surf, coarse_mm=coarse_mm, fine_mm=fine_mm, refine_near=refine_near,
                      fine_band_mm=fine_band_mm, feature_angle_deg=feature_angle_deg, remesh=remesh)
            q.algorithm += " on the remeshed surfaces" if remesh else " on the input surfaces"
            return q
        except MeshingError as exc:
            first = first or exc
    raise first


def _mesh(surf: TaggedSurfaces, *, coarse_mm: float, fine_mm: float, refine_near: tuple[str, ...],
          fine_band_mm: float, feature_angle_deg: float, remesh: bool) -> MeshQuality:
    """Remesh ``surf`` and fill its volumes with tetrahedra in the current gmsh model (left open).

    The tagged triangles become discrete surfaces; gmsh splits them into patches it can
    parametrize (``classifySurfaces`` at ``feature_angle_deg``; edges shared by three or more
    triangles, such as where an implant meets a cut face, always bound a patch) and remeshes them
    to the size field, so the boolean slivers disappear while the interface stays shared. After the
    volume meshing every boundary triangle is given back its group (that of the nearest input
    triangle), so the physical groups are the input's groups. Physical groups: one volume per
    ``surf.volumes`` key, one surface per group name. Tries HXT first, then Delaunay; raises
    MeshingError naming the volumes and gmsh's messages when both fail. The caller writes the
    model (meshes.write_msh) and calls meshes.finish.
    """
    import gmsh
    from scipy.spatial import cKDTree

    from surgiplan.core.simulation.meshes import _start

    _start("study")
    gmsh.option.setNumber("General.NumThreads", 1)
    names = sorted(surf.groups)
    used = np.zeros(len(surf.points), bool)
    for i, n in enumerate(names):
        tri = surf.groups[n]
        gmsh.model.addDiscreteEntity(2, i + 1)
        nodes = np.unique(tri)
        new = nodes[~used[nodes]]
        used[new] = True
        gmsh.model.mesh.addNodes(2, i + 1, (new + 1).tolist(), surf.points[new].ravel().tolist())
        gmsh.model.mesh.addElementsByType(i + 1, 2, [], (tri + 1).ravel().tolist())
    if remesh:
        try:
            gmsh.model.mesh.classifySurfaces(np.radians(feature_angle_deg), True, True, np.pi)
            gmsh.model.mesh.createGeometry()
        except Exception as exc:  # gmsh raises plain Exception
            raise MeshingError(f"gmsh could not parametrize the study surfaces for remeshing ({exc})",
                               hint="The surfaces may touch themselves; try another element size.") from None
    # which input group each new patch came from (majority of its triangles' nearest input triangles)
    tri_all = np.vstack([surf.groups[n] for n in names])
    grp_all = np.concatenate([np.full(len(surf.groups[n]), i) for i, n in enumerate(names)])
    tree = cKDTree(surf.points[tri_all].mean(axis=1))
    node_tags, coords, _ = gmsh.model.mesh.getNodes()
    xyz = np.zeros((int(node_tags.max()) + 1, 3))
    xyz[node_tags.astype(np.int64)] = coords.reshape(-1, 3)
    patch_group = {}
    for _, t in gmsh.model.getEntities(2):
        _, _, conn = gmsh.model.mesh.getElements(2, t)
        if not conn:
            continue
        c = xyz[np.asarray(conn[0], dtype=np.int64).reshape(-1, 3)].mean(axis=1)
        patch_group[t] = names[int(np.argmax(np.bincount(grp_all[tree.query(c)[1]], minlength=len(names))))]
    vol_tag = {}
    for k, (vname, groups) in enumerate(sorted(surf.volumes.items())):
        loop = gmsh.model.geo.addSurfaceLoop([t for t, gname in patch_group.items() if gname in groups])
        vol_tag[vname] = gmsh.model.geo.addVolume([loop], k + 1)
    gmsh.model.geo.synchronize()
    gmsh.option.setNumber("Mesh.MeshSizeMax", coarse_mm)
    gmsh.option.setNumber("Mesh.MeshSizeMin", min(fine_mm, coarse_mm))
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
    gmsh.option.setNumber("Mesh.Algorithm", ALGORITHM_2D)
    gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
    near = [t for t, gname in patch_group.items() if gname in refine_near]
    if near and fine_mm < coarse_mm:
        dist = gmsh.model.mesh.field.add("Distance")
        gmsh.model.mesh.field.setNumbers(dist, "SurfacesList", near)
        gmsh.model.mesh.field.setNumber(dist, "Sampling", 40)
        thr = gmsh.model.mesh.field.add("Threshold")
        gmsh.model.mesh.field.setNumber(thr, "InField", dist)
        gmsh.model.mesh.field.setNumber(thr, "SizeMin", fine_mm)
        gmsh.model.mesh.field.setNumber(thr, "SizeMax", coarse_mm)
        gmsh.model.mesh.field.setNumber(thr, "DistMin", 0.0)
        gmsh.model.mesh.field.setNumber(thr, "DistMax", fine_band_mm)
        gmsh.model.mesh.field.setAsBackgroundMesh(thr)
    else:
        gmsh.option.setNumber("Mesh.MeshSizeMax", coarse_mm)
    t0 = time.perf_counter()
    errors = []
    algorithm = None
    for alg, label in ALGORITHMS_3D:
        gmsh.option.setNumber("Mesh.Algorithm3D", alg)
        try:
            gmsh.model.mesh.clear([(3, t) for t in vol_tag.values()])
            gmsh.model.mesh.generate(3)
            counts = {v: len(gmsh.model.mesh.getElements(3, t)[1][0]) if gmsh.model.mesh.getElements(3, t)[1]
                      else 0 for v, t in vol_tag.items()}
            if all(c > 0 for c in counts.values()):
                algorithm = label
                break
            errors.append(f"{label}: no tetrahedra in {[v for v, c in counts.items() if c == 0]}")
        except Exception as exc:  # gmsh raises plain Exception
            errors.append(f"{label}: {exc}")
    if algorithm is None:
        raise MeshingError(f"gmsh could not fill the volumes {', '.join(vol_tag)} with tetrahedra ("
                           + "; ".join(errors) + ")",
                           hint="The surfaces may intersect themselves or each other (an implant piercing the "
                                "bone surface at a grazing angle); move the implant or change the element size.")
    seconds = time.perf_counter() - t0
    node_tags, coords, _ = gmsh.model.mesh.getNodes()
    pts = np.zeros((int(node_tags.max()) + 1, 3))
    pts[node_tags.astype(np.int64)] = coords.reshape(-1, 3)
    by_region = {}
    for v, t in vol_tag.items():
        _, _, conn = gmsh.model.mesh.getElements(3, t)
        by_region[v] = np.asarray(conn[0], dtype=np.int64).reshape(-1, 4)
    faces = _boundary_faces(by_region, pts, names, tree, grp_all)
    pts, by_region, faces = _rebuild_model(gmsh, pts, by_region, faces)
    per_region = {v: int(len(c)) for v, c in by_region.items()}
    tets = np.vstack(list(by_region.values()))
    dmin, aspect = tet_quality(pts, tets)
    return MeshQuality(int(len(tets)), int(len(pts) - 1), float(dmin.min()), float(np.percentile(dmin, 1)),
                       float(aspect.max()), float(np.percentile(aspect, 99)), per_region, algorithm, seconds)


def _boundary_faces(by_region: dict, pts: np.ndarray, names: list[str], tree, grp_all) -> dict[str, np.ndarray]:
    """The tetrahedra's boundary triangles by group: faces used once are on the outside (group of the
    nearest input triangle); faces shared by tetrahedra of two regions are the interface. Built from
    the tetrahedra themselves, so they always match (a mesher's Steiner points on a surface can leave
    its triangles out of step with the volume)."""
    faces, owner = [], []
    for k, tets in enumerate(by_region.values()):
        f = np.vstack([tets[:, [0, 2, 1]], tets[:, [0, 1, 3]], tets[:, [0, 3, 2]], tets[:, [1, 2, 3]]])
        faces.append(f)
        owner.append(np.full(len(f), k))
    faces, owner = np.vstack(faces), np.concatenate(owner)
    key = np.sort(faces, axis=1)
    _, inv, cnt = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    once = cnt[inv] == 1
    out = {}
    outer = faces[once]
    grp = grp_all[tree.query(pts[outer].mean(axis=1))[1]]
    for i, n in enumerate(names):
        if n == "interface":
            continue
        sel = outer[grp == i]
        if len(sel):
            out[n] = sel
    if "interface" in names:
        twice = ~once
        # one copy of each shared face, from the first region (the faces of two regions, seen twice)
        first = twice & (owner == 0)
        shared = faces[first]
        shared_key = np.sort(shared, axis=1)
        other = {tuple(k) for k in key[twice & (owner != 0)].tolist()}
        mask = np.array([tuple(k) in other for k in shared_key.tolist()], dtype=bool)
        out["interface"] = shared[mask]
    return out


def _rebuild_model(gmsh, pts: np.ndarray, by_region: dict, faces: dict):
    """A fresh gmsh model with only the referenced nodes (contiguous tags), the tetrahedra by region
    and the boundary triangles by group, each as a physical group of its name."""
    used = np.unique(np.concatenate([t.ravel() for t in by_region.values()]))
    new_id = np.zeros(len(pts), dtype=np.int64)
    new_id[used] = np.arange(1, len(used) + 1)
    gmsh.model.remove()
    gmsh.model.add("study")
    out_regions, out_faces = {}, {}
    gmsh.model.addDiscreteEntity(3, 1)
    gmsh.model.mesh.addNodes(3, 1, new_id[used].tolist(), pts[used].ravel().tolist())
    for k, (v, tets) in enumerate(by_region.items()):
        tag = 1 if k == 0 else gmsh.model.addDiscreteEntity(3, k + 1)
        gmsh.model.mesh.addElementsByType(tag, 4, [], new_id[tets].ravel().tolist())
        gmsh.model.addPhysicalGroup(3, [tag], name=v)
        out_regions[v] = new_id[tets]
    for k, (n, tri) in enumerate(sorted(faces.items())):
        tag = gmsh.model.addDiscreteEntity(2, k + 1)
        gmsh.model.mesh.addElementsByType(tag, 2, [], new_id[tri].ravel().tolist())
        gmsh.model.addPhysicalGroup(2, [tag], name=n)
        out_faces[n] = new_id[tri]
    new_pts = np.zeros((len(used) + 1, 3))
    new_pts[1:] = pts[used]
    return new_pts, out_regions, out_faces
