"""Planar bone resections: cut a model with a plane and report what is removed.

A resection plane is a point ``origin`` (LPS mm) and a unit ``normal`` pointing
to the side that is *kept*. The resected thickness is the largest distance
(mm) of the removed bone from the plane, i.e. how far the bone reaches beyond
the cut; it can be split into two halves (e.g. medial and lateral condyle) by a
second plane.

:func:`resection_thickness` gives the thicknesses from the bone's vertices alone
(the farthest removed bone is always a vertex: clipping adds points on the plane
only), a few milliseconds for a 200k-triangle bone; :func:`resect` also cuts the
mesh (kept and removed parts, removed volume) for display, at VTK clipping cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyvista as pv

from surgiplan.core.planning import transforms as tf


@dataclass
class ResectionResult:
    kept: pv.PolyData  # capped where possible (closed input)
    removed: pv.PolyData
    thickness_mm: float  # max distance of removed bone from the plane
    removed_volume_mm3: float
    thickness_by_half_mm: dict[str, float]

    def to_dict(self) -> dict:
        return {"thickness_mm": self.thickness_mm, "removed_volume_mm3": self.removed_volume_mm3,
                "thickness_by_half_mm": dict(self.thickness_by_half_mm)}


@dataclass(frozen=True)
class ResectionThickness:
    thickness_mm: float  # max distance of removed bone from the plane (0 when nothing is removed)
    by_half_mm: dict[str, float]  # the same per half of the bone (empty without a splitting plane)


def resection_thickness(points, origin, normal, split_origin=None, split_normal=None,
                        half_names: tuple[str, str] = ("positive", "negative"),
                        exclude_central_mm: float = 0.0) -> ResectionThickness:
    """Resected thickness (mm) of a planar cut from the bone's vertices ``points`` (N x 3, LPS mm).

    ``normal`` points to the kept side. The thickness is the largest signed distance of a
    vertex beyond the plane, ``max(0, max(-(p - origin) . normal))``; with a splitting plane
    (``split_origin``, ``split_normal``) also per half: vertices at signed distance
    ``>= exclude_central_mm`` from it (first name of ``half_names``) and ``< -exclude_central_mm``
    (second name), which leaves out e.g. the intercondylar notch or the tibial spines.
    """
    p = np.asarray(points, float)
    o = np.asarray(origin, float)
    n = tf.unit(normal, "resection normal")
    depth = (o - p) @ n
    thick = float(max(0.0, depth.max())) if len(depth) else 0.0
    halves: dict[str, float] = {}
    if split_origin is not None and split_normal is not None:
        s = (p - np.asarray(split_origin, float)) @ tf.unit(split_normal)
        e = exclude_central_mm
        for name, mask in zip(half_names, (s >= e, s < -e), strict=True):
            halves[name] = float(max(0.0, depth[mask].max())) if mask.any() else 0.0
    return ResectionThickness(thick, halves)


def plane_from_angles(point, axis, anterior, depth_mm: float, varus_valgus_deg: float = 0.0,
                      slope_deg: float = 0.0, side: str = "left", distal: bool = True):
    """Cut plane at ``depth_mm`` from ``point`` along a bone's mechanical ``axis``.

    ``axis`` is the unit mechanical axis pointing proximally; ``distal=True`` is a
    distal femoral cut (normal +axis, the shaft is kept), ``False`` a proximal
    tibial cut (normal -axis). The plane passes
    ``depth_mm`` proximal (femur) / distal (tibia) of ``point`` (the most
    distal condyle point, or the lowest tibial plateau point). Varus/valgus
    tilts it about the anterior axis, slope about the medio-lateral axis
    (positive slope = posterior side lower).
    Returns ``(origin, normal)`` with the normal towards the kept bone.
    """
    z = tf.unit(axis)
    y = tf.unit(tf.project_on_plane(anterior, z))
    x = np.cross(y, z)
    # distal femur: the condyles below the cut go, the shaft above stays -> normal proximal (+z);
    # proximal tibia: the plateau above the cut goes, the shaft below stays -> normal distal (-z)
    n = z.copy() if distal else -z
    origin = np.asarray(point, float) + (depth_mm if distal else -depth_mm) * z
    lat = 1.0 if side == "left" else -1.0
    n = tf.rotation_matrix(y, lat * varus_valgus_deg) @ n
    n = tf.rotation_matrix(x, slope_deg) @ n
    return origin, n


def resect(mesh: pv.PolyData, origin, normal, split_origin=None, split_normal=None,
           half_names: tuple[str, str] = ("positive", "negative"), exclude_central_mm: float = 0.0
           ) -> ResectionResult:
    """Cut ``mesh`` by the plane; normal points to the kept side.

    The thicknesses are those of :func:`resection_thickness` (per half, bone within
    ``exclude_central_mm`` of the splitting plane is ignored, e.g. the tibial spines or the
    intercondylar notch); use that function alone when the cut meshes are not needed.
    """
    o = np.asarray(origin, float)
    n = tf.unit(normal, "resection normal")
    m = mesh.triangulate()
    closed = m.n_open_edges == 0  # one edge count for both halves (150 ms at 200k triangles)
    kept = m.clip_closed_surface(normal=n, origin=o) if closed else m.clip(normal=n, origin=o, invert=False)
    removed = m.clip_closed_surface(normal=-n, origin=o) if closed else m.clip(normal=-n, origin=o, invert=False)
    t = resection_thickness(m.points, o, n, split_origin, split_normal, half_names, exclude_central_mm)
    vol = float(abs(removed.volume)) if removed.n_cells and removed.n_open_edges == 0 else 0.0
    return ResectionResult(kept, removed, t.thickness_mm, vol, dict(t.by_half_mm))
