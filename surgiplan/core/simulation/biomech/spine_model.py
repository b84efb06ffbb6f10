"""The spine study's geometry: one vertebra with the plan's pedicle screws bonded inside.

The vertebra model is remeshed uniformly; each screw's shank (the bone-contact part of the
catalog model) is remeshed and cut out of the bone with exact booleans (manifold3d), so that the
bone and every screw share their interface triangles (conforming, bonded). The bone's outside is
split into the ``fixed`` inferior end plate, the superior end plate's anterior and posterior
halves (``load_anterior``, ``load_posterior``: the follower load and the flexion moment act there)
and the rest (``bone_surface``). All coordinates LPS mm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyvista as pv

from surgiplan.core.errors import GeometryError, MeshingError
from surgiplan.core.simulation.biomech.hip_model import TaggedSurfaces, _cells_centroids, _normals
from surgiplan.core.simulation.biomech.surface_ops import (
    edge_use,
    manifold_triangles,
    merge_vertices,
    polydata,
    remesh_uniform,
    to_manifold,
    voxel_remesh,
)


@dataclass
class SpineGeometryInput:
    """What the spine model needs (LPS mm): the vertebra surface, its end-plate centres, the
    anterior direction and the screws' bone-contact solids by name (e.g. ``{"left": shank}``)."""

    vertebra: pv.PolyData
    superior_centre: np.ndarray
    inferior_centre: np.ndarray
    anterior: np.ndarray  # approximate anterior direction (made perpendicular to the end-plate normal)
    screws: dict[str, pv.PolyData]
    bone_edge_mm: float = 2.5
    screw_edge_mm: float = 1.5
    endplate_radius_mm: float = 25.0  # in-plane search radius around the end-plate centre
    endplate_band_mm: float = 4.0  # height band around the end-plate centre
    endplate_min_cos: float = 0.7  # triangles whose normal is within ~45 deg of the end-plate normal


def vertebral_frame(superior: np.ndarray, inferior: np.ndarray, anterior: np.ndarray) -> tuple[np.ndarray, ...]:
    """(up, anterior) unit vectors: up from the inferior to the superior end-plate centre."""
    up = np.asarray(superior, float) - np.asarray(inferior, float)
    h = float(np.linalg.norm(up))
    if h < 1.0:
        raise GeometryError("the superior and inferior end-plate centres coincide",
                            hint="Refit the vertebra's end-plate landmarks.")
    up /= h
    ant = np.asarray(anterior, float) - np.dot(anterior, up) * up
    ant /= np.linalg.norm(ant)
    return up, ant


def _endplate(c, nrm, centre, normal, g: SpineGeometryInput) -> np.ndarray:
    rel = c - centre
    h = rel @ normal
    inplane = np.linalg.norm(rel - h[:, None] * normal, axis=1)
    return (nrm @ normal > g.endplate_min_cos) & (np.abs(h) < g.endplate_band_mm) & (inplane < g.endplate_radius_mm)


def build_spine_surfaces(g: SpineGeometryInput) -> TaggedSurfaces:
    """Tagged surfaces of the vertebra with its screws.

    Groups: ``fixed``, ``load_anterior``, ``load_posterior``, ``bone_surface`` and per screw
    ``interface_<name>`` and ``screw_surface_<name>``. Volumes: ``bone`` and ``screw_<name>``.
    Facts include the area centroids of the two loaded halves along the anterior axis (mm from the
    superior end-plate centre), which the load split needs. Raises GeometryError when a screw
    misses the vertebra or an end plate is not found, MeshingError when the booleans do not give
    closed surfaces.
    """
    import manifold3d as m3

    up, ant = vertebral_frame(g.superior_centre, g.inferior_centre, g.anterior)
    bone = to_manifold(remesh_uniform(g.vertebra.triangulate().clean(), g.bone_edge_mm, "the vertebra model"),
                       "the vertebra model")
    parts = bone.decompose()
    if len(parts) > 1:
        bone = max(parts, key=lambda p: p.volume())
    facts = {"bone_volume_mm3": float(bone.volume())}
    screws = {}
    for name, solid in g.screws.items():
        sp, st, _ = manifold_triangles(to_manifold(solid, f"screw {name}"))
        screws[name] = to_manifold(voxel_remesh(polydata(sp, st), g.screw_edge_mm, f"screw {name}"), f"screw {name}")
    names = sorted(screws)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if (screws[a] ^ screws[b]).volume() > 0:
                raise GeometryError(f"screws {a} and {b} intersect", hint="Correct the screw trajectories in the plan.")
    if screws:
        ids = {n: screws[n].original_id() for n in names}
        allscrews = m3.Manifold.batch_boolean([screws[n] for n in names], m3.OpType.Add)
        cavity, union = bone - allscrews, bone + allscrews
        pc, tc, ic = manifold_triangles(cavity)
        pu, tu, iu = manifold_triangles(union)
        bone_ids = ~np.isin(ic, list(ids.values()))
        groups = {"bone_all": tc[bone_ids]}
        for n in names:
            groups[f"interface_{n}"] = tc[ic == ids[n]]
            groups[f"screw_surface_{n}"] = tu[iu == ids[n]] + len(pc)
            if len(groups[f"interface_{n}"]) == 0:
                raise GeometryError(f"screw {n} does not reach into the vertebra",
                                    hint="Check the screw's position in the plan.")
            facts[f"screw_{n}_volume_in_bone_mm3"] = float((bone ^ screws[n]).volume())
        points, groups = merge_vertices(np.vstack([pc, pu]), groups)
    else:
        pts, tri, _ = manifold_triangles(bone)
        points, groups = merge_vertices(pts, {"bone_all": tri})
    checks = {"bone": ["bone_all"] + [f"interface_{n}" for n in names]}
    checks.update({f"screw_{n}": [f"interface_{n}", f"screw_surface_{n}"] for n in names})
    for vol, grp in checks.items():
        use = edge_use(*[groups[k] for k in grp])
        if np.any(use != 2):
            raise MeshingError(f"the {vol} surface is not closed after the booleans "
                               f"({int(np.sum(use != 2))} edges used other than twice)",
                               hint="Try another element size; report the case if it persists.")
    bone_tris = groups.pop("bone_all")
    c, nrm = _cells_centroids(points, bone_tris), _normals(points, bone_tris)
    sup_c, inf_c = np.asarray(g.superior_centre, float), np.asarray(g.inferior_centre, float)
    top = _endplate(c, nrm, sup_c, up, g)
    bottom = _endplate(c, nrm, inf_c, -up, g) & ~top
    front = ((c - sup_c) @ ant) >= 0.0
    groups["fixed"] = bone_tris[bottom]
    groups["load_anterior"] = bone_tris[top & front]
    groups["load_posterior"] = bone_tris[top & ~front]
    groups["bone_surface"] = bone_tris[~top & ~bottom]
    for name in ("fixed", "load_anterior", "load_posterior"):
        if len(groups[name]) < 5:
            raise GeometryError(f"no surface found for the {name.replace('_', ' ')} patch of the vertebra",
                                hint="Check the end-plate landmarks of the level.")
    a = 0.5 * np.linalg.norm(np.cross(points[bone_tris[:, 1]] - points[bone_tris[:, 0]],
                                      points[bone_tris[:, 2]] - points[bone_tris[:, 0]]), axis=1)
    for key, sel in (("anterior", top & front), ("posterior", top & ~front)):
        facts[f"load_{key}_area_mm2"] = float(a[sel].sum())
        facts[f"load_{key}_centroid_ap_mm"] = float(((c[sel] - sup_c) @ ant * a[sel]).sum() / a[sel].sum())
    facts["fixed_area_mm2"] = float(a[bottom].sum())
    facts.update({f"{k}_triangles": int(len(v)) for k, v in groups.items()})
    volumes = {"bone": ["fixed", "load_anterior", "load_posterior", "bone_surface"]
               + [f"interface_{n}" for n in names]}
    volumes.update({f"screw_{n}": [f"interface_{n}", f"screw_surface_{n}"] for n in names})
    return TaggedSurfaces(points, groups, volumes, facts)


def split_load(force_N: float, moment_Nmm: float, r_anterior_mm: float, r_posterior_mm: float) -> tuple[float, float]:
    """Compressive forces (N) on the anterior and posterior halves whose sum is ``force_N`` and whose
    moment about the end-plate centre (along the anterior axis, ``r`` in mm) is ``moment_Nmm``
    (flexion positive: the resultant moves anteriorly by M / F)."""
    if not r_anterior_mm > r_posterior_mm:
        raise GeometryError("the loaded halves of the superior end plate are not anterior / posterior of each other")
    fa = (moment_Nmm - force_N * r_posterior_mm) / (r_anterior_mm - r_posterior_mm)
    return float(fa), float(force_N - fa)
