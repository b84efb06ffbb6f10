"""The hip study's geometry: the proximal femur cropped below the stem, the neck resection, the
stem in its cavity with a conforming (shared) interface, and the tagged load and support patches.

Everything in LPS mm. The bone and the stem are closed triangle surfaces; the exact booleans of
manifold3d give the bone with its cavity (``B - S``) and the union (``B + S``). Their triangles
that come from the stem are the interface (inside the bone) and the stem's free surface (outside
it); both are cut along the same intersection curve, so after merging coincident vertices the bone
volume is bounded by (bone surface + interface) and the stem by (interface + free stem surface):
the interface is one shared triangulation, never a staircase of voxels or centroids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyvista as pv

from surgiplan.core.errors import GeometryError, InputError, MeshingError
from surgiplan.core.simulation.biomech.surface_ops import (
    edge_use,
    manifold_triangles,
    merge_vertices,
    polydata,
    remesh_uniform,
    retriangulate_plane,
    to_manifold,
    voxel_remesh,
)


@dataclass
class TaggedSurfaces:
    """Named triangle groups on shared points, and the volumes they bound (group names)."""

    points: np.ndarray
    groups: dict[str, np.ndarray]
    volumes: dict[str, list[str]]
    facts: dict = field(default_factory=dict)

    def polydata(self) -> pv.PolyData:
        """All groups as one PolyData with a ``group`` cell array (index into ``sorted(groups)``)."""
        names = sorted(self.groups)
        tris = np.vstack([self.groups[n] for n in names])
        gid = np.concatenate([np.full(len(self.groups[n]), i) for i, n in enumerate(names)])
        pd = pv.PolyData(self.points, np.hstack([np.full((len(tris), 1), 3), tris]).ravel())
        pd.cell_data["group"] = gid
        return pd


@dataclass
class HipGeometryInput:
    """What the hip model needs (LPS mm): the femur surface, the planned stem's parts (None: intact),
    the crop plane, the neck resection plane, the load directions and the head/GT sites."""

    femur: pv.PolyData
    shaft_axis: np.ndarray  # unit, proximal
    crop_point: np.ndarray  # on the distal crop plane (normal = shaft_axis, the kept side proximal)
    head_centre: np.ndarray  # where the hip contact force acts (native or implant head)
    head_radius: float
    hip_force_dir: np.ndarray  # unit direction of the force acting on the head
    lateral: np.ndarray  # unit, the femoral frame's lateral axis
    stem_parts: dict[str, pv.PolyData] | None = None
    resection_origin: np.ndarray | None = None
    resection_normal: np.ndarray | None = None  # unit, towards the kept (distal) side
    neck_base: np.ndarray | None = None  # where the stem's neck axis meets its stem axis
    neck_radius: float = 6.0
    bone_edge_mm: float = 3.0
    stem_edge_mm: float = 2.0
    abductor_radius_mm: float = 15.0


def _cells_centroids(points, tris):
    return points[tris].mean(axis=1)


def _normals(points, tris):
    n = np.cross(points[tris[:, 1]] - points[tris[:, 0]], points[tris[:, 2]] - points[tris[:, 0]])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)


def build_hip_surfaces(g: HipGeometryInput) -> TaggedSurfaces:
    """Tagged surfaces of the cropped (and, with a stem, resected and implanted) femur.

    Groups: ``fixed`` (the distal cut face), ``head_load`` (the loaded side of the head),
    ``abductor`` (the greater trochanter patch), ``bone_surface`` (the rest of the bone's outside,
    the resection face included) and, with a stem, ``interface`` and ``stem_surface``.
    Raises GeometryError when the femur does not reach the crop plane or the stem leaves no bone,
    MeshingError when the boolean surfaces cannot be made conforming.
    """
    import manifold3d as m3

    axis = np.asarray(g.shaft_axis, float) / np.linalg.norm(g.shaft_axis)
    crop = np.asarray(g.crop_point, float)
    femur = g.femur.triangulate().clean()
    lowest = float(np.min((np.asarray(femur.points) - crop) @ axis))
    if lowest > -1.0:
        raise GeometryError(
            f"the femur model ends {lowest:.0f} mm above the crop plane (the study keeps the femur down to "
            "a set distance below the stem tip)", hint="Use a scan that covers the femur further down, or "
            "reduce crop_below_tip_mm in the study options.")
    # remesh, cut, then mesh the cut faces again (a cut face straight from the boolean is a fan of
    # slivers)
    bone = to_manifold(remesh_uniform(femur, g.bone_edge_mm, "the femur model"), "the femur model")
    bone = bone.trim_by_plane(axis.tolist(), float(np.dot(axis, crop)))
    if g.resection_origin is not None:
        n = np.asarray(g.resection_normal, float)
        bone = bone.trim_by_plane(n.tolist(), float(np.dot(n, g.resection_origin)))
    parts = bone.decompose()
    if len(parts) > 1:  # debris of the cuts (a trochanter tip cut off by the resection): keep the largest
        bone = max(parts, key=lambda p: p.volume())
    if bone.is_empty() or bone.volume() <= 0:
        raise GeometryError("nothing of the femur is left between the crop and the resection planes")
    bp, bt, _ = manifold_triangles(bone)
    bp, bt = retriangulate_plane(bp, bt, crop, axis, g.bone_edge_mm)
    if g.resection_origin is not None:
        bp, bt = retriangulate_plane(bp, bt, g.resection_origin, g.resection_normal, g.bone_edge_mm)
    bone = to_manifold(polydata(bp, bt), "the cropped femur")
    facts = {"bone_volume_mm3": float(bone.volume())}

    if g.stem_parts:
        stem_parts = {k: to_manifold(p, f"the stem's {k}") for k, p in g.stem_parts.items()}
        if "neck" in stem_parts and g.neck_base is not None:
            # the catalog's neck cylinder starts 8 mm up the neck axis and can float above the sloped
            # shoulder of the body: extend it to the stem axis so that the stem is one solid
            ball = m3.Manifold.sphere(0.9 * g.neck_radius, 32).translate(list(map(float, g.neck_base)))
            stem_parts["neck"] = m3.Manifold.batch_hull([stem_parts["neck"], ball])
        stem = m3.Manifold.batch_boolean(list(stem_parts.values()), m3.OpType.Add)
        if len(stem.decompose()) != 1:
            raise GeometryError(f"the stem's parts ({', '.join(stem_parts)}) do not form one solid",
                                hint="Check the implant's geometry in the catalog.")
        sp, st_, _ = manifold_triangles(stem)
        stem = to_manifold(voxel_remesh(polydata(sp, st_), g.stem_edge_mm, "the stem"), "the stem")
        stem_ids = {stem.original_id()}
        cavity = bone - stem
        union = bone + stem
        pc, tc, ic = manifold_triangles(cavity)
        pu, tu, iu = manifold_triangles(union)
        from_stem_c = np.isin(ic, list(stem_ids))
        from_stem_u = np.isin(iu, list(stem_ids))
        points = np.vstack([pc, pu])
        groups = {"bone_all": tc[~from_stem_c], "interface": tc[from_stem_c],
                  "stem_surface": tu[from_stem_u] + len(pc)}
        points, groups = merge_vertices(points, groups)
        if len(groups["interface"]) == 0:
            raise GeometryError("the planned stem does not reach into the cropped femur",
                                hint="Check the stem's position in the plan.")
        facts["stem_volume_mm3"] = float(stem.volume())
        facts["stem_volume_in_bone_mm3"] = float((bone ^ stem).volume())
    else:
        pts, tri, _ = manifold_triangles(bone)
        points, groups = merge_vertices(pts, {"bone_all": tri})
    for vol, names in (("bone", ["bone_all"] + (["interface"] if g.stem_parts else [])),
                       ("stem", ["interface", "stem_surface"] if g.stem_parts else [])):
        if names:
            use = edge_use(*[groups[k] for k in names])
            if np.any(use != 2):
                raise MeshingError(f"the {vol} surface is not closed after the booleans "
                                   f"({int(np.sum(use != 2))} edges used other than twice)",
                                   hint="Try another element size; report the case if it persists.")

    # split the bone's outside into the fixed cut face, the abductor patch and the rest
    bone_tris = groups.pop("bone_all")
    c = _cells_centroids(points, bone_tris)
    nrm = _normals(points, bone_tris)
    fixed = (np.abs((c - crop) @ axis) < 0.5 * g.bone_edge_mm) & (nrm @ axis < -0.8)
    force_dir = np.asarray(g.hip_force_dir, float) / np.linalg.norm(g.hip_force_dir)
    head = np.zeros(len(bone_tris), bool)
    if not g.stem_parts:  # native head: the side the acetabulum pushes on
        d = np.linalg.norm(c - g.head_centre, axis=1)
        head = (d < g.head_radius + 2.0) & (nrm @ (-force_dir) > 0.5) & ~fixed
    lat = np.asarray(g.lateral, float)
    score = (points @ lat) + (points @ axis)
    on_bone = np.unique(bone_tris[~fixed & ~head])
    far_from_head = np.linalg.norm(points[on_bone] - g.head_centre, axis=1) > g.head_radius + 10.0
    cand = on_bone[far_from_head]
    gt = points[cand[np.argmax(score[cand])]]
    abd = (np.linalg.norm(c - gt, axis=1) < g.abductor_radius_mm) & ~fixed & ~head
    groups["fixed"] = bone_tris[fixed]
    groups["abductor"] = bone_tris[abd]
    groups["bone_surface"] = bone_tris[~fixed & ~abd & ~head]
    if not g.stem_parts:
        groups["head_load"] = bone_tris[head]
    else:
        st = groups.pop("stem_surface")
        cs = _cells_centroids(points, st)
        ns = _normals(points, st)
        on_head = (np.abs(np.linalg.norm(cs - g.head_centre, axis=1) - g.head_radius) < 1.0) & \
            (ns @ (-force_dir) > 0.5)
        groups["head_load"] = st[on_head]
        groups["stem_surface"] = st[~on_head]
    for name in ("fixed", "head_load", "abductor"):
        if len(groups[name]) == 0:
            raise GeometryError(f"no surface found for the {name.replace('_', ' ')} patch",
                                hint="Check the landmarks (head centre, canal axis) and the crop distance.")
    facts.update({f"{k}_triangles": int(len(v)) for k, v in groups.items()})
    facts["greater_trochanter_point_mm"] = [round(float(x), 2) for x in gt]
    volumes = {"bone": ["fixed", "abductor", "bone_surface"] + (["interface"] if g.stem_parts else ["head_load"])}
    if g.stem_parts:
        volumes["stem"] = ["interface", "stem_surface", "head_load"]
    return TaggedSurfaces(points, groups, volumes, facts)


def check_inputs(g: HipGeometryInput) -> None:
    if g.head_radius <= 0:
        raise InputError("the head radius must be > 0 mm")
