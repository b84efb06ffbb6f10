"""From a lumen field to a tagged flow mesh, centrelines, stenosis and the cross-section probes (LPS mm).

One function, :func:`build_vessel_model`, used by the case studies (``vessel-rest``,
``vessel-exercise``) and by :func:`surgiplan.core.simulation.vessel.lumen_study.run_lumen_study`:

1. lumen surface at the local half-maximum (:mod:`surgiplan.core.vessels.lumen_surface`); with a
   stent, the field is first united with the stent's nominal cylinder (tapered ends);
2. open ends, centrelines from the inlet to every outlet, equivalent radius along them, branch points
   and stenoses (:mod:`surgiplan.core.vessels.centreline`) - stenoses are found on the NATIVE lumen
   (so pre- and post-stent studies compare the same sections);
3. ends cut perpendicular to the centreline, flow extensions, caps, gmsh mesh
   (:mod:`surgiplan.core.vessels.flow_mesh`), written to ``mesh.msh`` by a spawned child process
   (:mod:`surgiplan.core.vessels.mesh_child`: a gmsh crash is a MeshingError, not a dead application);
   ``info["timings_s"]``: ``closing_s`` (the coarse surface, cut ends, extensions and caps),
   ``mesh_size_field_s`` (the size field on its grid), ``mesh_classify_s`` (gmsh's surface patches),
   ``mesh_surface_s`` / ``mesh_volume_s`` / ``mesh_repair_s`` / ``mesh_write_s``, ``mesh_process_s``
   (the child's start-up and data transfer) and ``mesh_failed_candidates_s`` when a surface failed;
4. cross-section sample points every ``SECTION_STEP_MM`` along each centreline (the centre and three
   equal-area rings of 8 points in the equivalent circle, those inside the lumen kept): the flow
   study probes them and :func:`surgiplan.core.simulation.vessel.results.vessel_results` turns them
   into the centreline table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from surgiplan.core.errors import GeometryError, InputError, MeshingError
from surgiplan.core.jobs import Progress, report

SECTION_STEP_MM = 2.0
COARSE_MIN_RADIUS_MM = 4.0
WALL_RATIO_DEFAULT = None  # see flow_mesh.WALL_SIZE_RATIO and the measurement in its docstring
RING_FRACTIONS = (np.sqrt(0.5 / 3), np.sqrt(1.5 / 3), np.sqrt(2.5 / 3))


@dataclass
class Stent:
    """A stent: centre and axis (LPS mm), nominal diameter and length (mm)."""

    centre: np.ndarray
    axis: np.ndarray
    diameter_mm: float
    length_mm: float
    name: str = "stent"


@dataclass
class VesselModel:
    msh_path: Path
    info: dict = field(default_factory=dict)
    probe_points_mm: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    surface: object = None


def _section_points(p, t, r) -> np.ndarray:
    e1 = np.cross(t, [1.0, 0.0, 0.0] if abs(t[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(t, e1)
    ang = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    pts = [p]
    for k, f in enumerate(RING_FRACTIONS):
        a = ang + k * np.pi / 8
        pts += list(p + f * r * (np.outer(np.cos(a), e1) + np.outer(np.sin(a), e2)))
    return np.array(pts)


def build_vessel_model(lf, out_dir: Path, *, inlet_point=None, ends=None, stent: Stent | None = None,
                       h_max: float = 2.5, h_min: float = 0.3, wall_ratio: float | None = WALL_RATIO_DEFAULT,
                       progress: Progress | None = None) -> VesselModel:
    """Mesh, centrelines, stenoses and probe points of the lumen field ``lf`` (see module docstring).

    ``wall_ratio``: cells at the wall are this fraction of the core size (None: no wall refinement;
    :func:`surgiplan.core.vessels.flow_mesh.mesh_lumen`).
    """
    from surgiplan.core.vessels import centreline as C
    from surgiplan.core.vessels import flow_mesh as FM
    from surgiplan.core.vessels.lumen_surface import open_with_stent, surface_from_field

    times = {}
    t0 = time.perf_counter()
    report(progress, 0.0, "lumen surface at the half-maximum edge")
    native = surface_from_field(lf)
    times["surface_s"] = time.perf_counter() - t0
    ends = C.open_ends(lf) if ends is None else list(ends)
    if len(ends) < 2:
        raise GeometryError(f"the lumen has {len(ends)} open end(s) at the scan's edge; a flow study needs an "
                            "inlet and at least one outlet",
                            hint="Segment the vessel up to the edges of the scan (the ends are where it leaves "
                                 "the scanned region).")
    if inlet_point is None:  # the most superior (LPS +z) end: the aorta's upstream end
        inlet = max(ends, key=lambda e: e.centre[2])
    else:
        inlet = min(ends, key=lambda e: np.linalg.norm(e.centre - np.asarray(inlet_point, float)))
    outlets = [e for e in ends if e is not inlet]
    report(progress, 0.1, f"centrelines to {len(outlets)} outlet(s)")
    t1 = time.perf_counter()
    cls = C.centrelines(lf, inlet, outlets)
    for cl in cls:
        C.measure_radius(native, cl)
    branches = C.branch_points(cls)
    stenoses = C.find_stenoses(cls, branches)
    times["centrelines_s"] = time.perf_counter() - t1
    # healthy reference radius of each outlet (its median radius over the last 30 mm before the cut):
    # the outlet resistances use it, so a stent does not change them
    ref_r = [float(np.nanmedian(cl.radius_mm[-30:])) for cl in cls]
    surface = native
    if stent is not None:
        report(progress, 0.2, f"opening the lumen with {stent.name}")
        lf = open_with_stent(lf, stent.centre, stent.axis, stent.diameter_mm / 2, stent.length_mm)
        surface = surface_from_field(lf)
        for cl in cls:
            C.measure_radius(surface, cl)
    report(progress, 0.3, "cutting the ends perpendicular to the centrelines")
    cuts = []
    c_in, k_in = FM.end_cut(cls[0].points, cls[0].radius_mm, inlet.outward, True, "inlet", inlet.setback_mm)
    cuts.append(c_in)
    k_out = []
    for i, (cl, o) in enumerate(zip(cls, outlets, strict=True)):
        c, k = FM.end_cut(cl.points, cl.radius_mm, o.outward, False, f"outlet_{i + 1}", o.setback_mm)
        cuts.append(c)
        k_out.append(k)
    t2 = time.perf_counter()
    from scipy.spatial import cKDTree

    allp = np.vstack([cl.points for cl in cls])
    allr = np.concatenate([cl.radius_mm for cl in cls])
    ok = np.isfinite(allr)
    tree, rr = cKDTree(allp[ok]), allr[ok]
    lesions = [(s.point, s.reference_diameter_mm) for s in stenoses]

    def size_fn(x):
        _, i = tree.query(x)
        h = FM.SIZE_PER_RADIUS * rr[i]
        for pt, dref in lesions:
            near = np.linalg.norm(x - pt, axis=1) < 2.0 * dref
            h = np.where(near, np.minimum(h, FM.LESION_SIZE_PER_RADIUS * rr[i]), h)
        return h

    msh = Path(out_dir) / "mesh.msh"
    report(progress, 0.35, "meshing the lumen (gmsh)")
    exts = [FM.INLET_EXTENSION * cuts[0].radius_mm] + [FM.OUTLET_EXTENSION * c.radius_mm for c in cuts[1:]]
    candidates = _meshing_surfaces(lf, surface, rr)
    times["closing_s"] = time.perf_counter() - t2  # the coarse candidate's marching cubes
    failed_s = 0.0
    for i, (how, cand) in enumerate(candidates):
        t3 = time.perf_counter()
        closed = FM.build_closed_surface(cand, cuts, exts)
        times["closing_s"] += time.perf_counter() - t3
        t3 = time.perf_counter()
        try:
            mt, n_tets, boundary = _mesh_in_child(closed, cuts, size_fn, msh, h_min=h_min, h_max=h_max,
                                                  wall_ratio=wall_ratio)
            meshed_from = how
            break
        except MeshingError:
            failed_s += time.perf_counter() - t3
            if i == len(candidates) - 1:
                raise
    times.update({f"mesh_{k}": v for k, v in mt.items()})
    if failed_s:
        times["mesh_failed_candidates_s"] = failed_s
    # probe points: sections every SECTION_STEP_MM between the cuts (inside the closed surface)
    report(progress, 0.92, "cross-section sample points")
    sections = []
    pts = []
    margins = []
    seen = []
    for ci, cl in enumerate(cls):
        last = k_out[ci]
        for k in range(k_in, last + 1, int(round(SECTION_STEP_MM))):
            r = cl.radius_mm[k]
            if not np.isfinite(r):
                continue
            p = cl.points[k]
            dup = next((j for j, q in seen if np.linalg.norm(q - p) < 0.5), None)
            sp = _section_points(p, cl.tangents[k], r)
            sections.append({"centreline": ci, "arc_mm": float(cl.arc_mm[k] - cl.arc_mm[k_in]), "point_mm": p.tolist(),
                             "tangent": cl.tangents[k].tolist(), "radius_mm": float(r),
                             "area_mm2": float(np.pi * r * r),
                             "probe_start": None if dup is not None else len(pts),
                             "same_as": dup})
            if dup is None:
                seen.append((len(sections) - 1, p))
                pts.append(sp)
                # gmsh's re-meshed wall cuts chords inside the surface: keep the samples clear of it
                margins.append(np.full(len(sp), 0.3 + 0.06 * r))
    pts = np.vstack(pts) if pts else np.zeros((0, 3))
    marg = np.concatenate(margins) if margins else np.zeros(0)
    # inside the lumen surface AND inside the mesh (gmsh's coarse re-meshed wall can cut off thin parts)
    inside = _inside(closed, pts, marg) & _inside(_boundary_surface(*boundary), pts, 0.5 * marg)
    cursor = 0
    for s in sections:  # mark the sample points of each section that lie inside the lumen
        if s["probe_start"] is None:
            continue
        n = 1 + 8 * len(RING_FRACTIONS)
        s["inside"] = inside[cursor:cursor + n].tolist()
        cursor += n
    info = {
        "inlet": {"centre_mm": inlet.centre.tolist(), "cut": _cut_dict(cuts[0])},
        "outlets": [{"name": c.name, "cut": _cut_dict(c), "reference_radius_mm": r}
                    for c, r in zip(cuts[1:], ref_r, strict=True)],
        "centrelines": [{"outlet": f"outlet_{cl.outlet + 1}", "points_mm": cl.points.round(3).tolist(),
                         "arc_mm": cl.arc_mm.round(3).tolist(),
                         "radius_mm": [None if not np.isfinite(x) else round(float(x), 3) for x in cl.radius_mm],
                         "inlet_cut_index": k_in, "outlet_cut_index": k_out[i]} for i, cl in enumerate(cls)],
        "branch_points": branches,
        "stenoses": [s.to_dict() for s in stenoses],
        "stent": None if stent is None else {"name": stent.name, "centre_mm": list(map(float, stent.centre)),
                                             "axis": list(map(float, stent.axis)),
                                             "diameter_mm": stent.diameter_mm, "length_mm": stent.length_mm},
        "sections": sections,
        "mesh": {"file": msh.name, "tetrahedra": int(n_tets), "meshed_from": meshed_from,
                 "h_max_mm": h_max, "h_min_mm": h_min, "wall_size_ratio": wall_ratio,
                 "size_per_radius": FM.SIZE_PER_RADIUS, "lesion_size_per_radius": FM.LESION_SIZE_PER_RADIUS,
                 "flow_extensions_radii": {"inlet": FM.INLET_EXTENSION, "outlets": FM.OUTLET_EXTENSION}},
        "timings_s": {k: round(v, 2) for k, v in times.items()},
    }
    keep = pts[inside]
    return VesselModel(msh, info, keep, surface)


def _boundary_surface(points: np.ndarray, tris: np.ndarray):
    """The mesh's boundary triangles as a consistently (outward) oriented surface."""
    import pyvista as pv

    m = pv.PolyData(points, np.hstack([np.full((len(tris), 1), 3), tris]).astype(np.int64)).clean()
    return m.compute_normals(cell_normals=True, point_normals=False, auto_orient_normals=True,
                             consistent_normals=True, split_vertices=False)


def _mesh_in_child(closed, cuts, size_fn, msh: Path, *, h_min: float, h_max: float,
                   wall_ratio: float | None) -> tuple[dict, int, tuple[np.ndarray, np.ndarray]]:
    """:func:`surgiplan.core.vessels.flow_mesh.mesh_lumen` in a spawned child process
    (:mod:`surgiplan.core.vessels.mesh_child`): gmsh can crash (a segmentation fault in its 3D mesher on
    some real lumens) and must not take the application with it, and a forked child of a process holding
    threads (VTK, OpenMP, MPI) can deadlock. The size field is evaluated here on a grid
    (:func:`~surgiplan.core.vessels.flow_mesh.size_grid`) and sent with the surface. Returns (timings (s),
    number of tetrahedra, meshed boundary (points mm, triangles)); MeshingError when gmsh fails or crashes."""
    from surgiplan.core.vessels import flow_mesh as FM
    from surgiplan.core.vessels.mesh_child import mesh_in_child

    t0 = time.perf_counter()
    grid = FM.size_grid(closed, size_fn, h_min, h_max, wall_ratio)
    t_grid = time.perf_counter() - t0
    mt, n, boundary = mesh_in_child(closed, cuts, grid, msh, h_min=h_min, h_max=h_max, wall_ratio=wall_ratio)
    mt["size_field_s"] = mt.get("size_field_s", 0.0) + t_grid
    return mt, n, boundary


def _meshing_surfaces(lf, surface, radii: np.ndarray) -> list[tuple[str, object]]:
    """The lumen surfaces gmsh re-meshes, tried in order: a coarser one first when the fine surface is
    large, the fine one last (gmsh cannot parametrise a patch with folds; a decimation of a thin lumen
    leaves some, the marching cubes on every other grid point does not).

    Coarse: marching cubes on every other grid point (facets of 2 grid steps) when the vessels are wide
    (5th percentile of the equivalent radius >= ``COARSE_MIN_RADIUS_MM``: a facet's chord then loses
    < 1 % of the section's area), else the fine surface decimated by 75 %.
    """
    from surgiplan.core.vessels.lumen_surface import surface_from_field

    if surface.n_cells <= 40_000:
        return [("fine", surface)]
    r5 = float(np.percentile(radii, 5)) if len(radii) else 0.0
    if r5 >= COARSE_MIN_RADIUS_MM:
        coarse = ("marching cubes every 2nd grid point", surface_from_field(lf, step=2))
    else:
        coarse = ("decimated 75 %", surface.decimate(0.75).clean())
    return [coarse, ("fine", surface)]


def _cut_dict(c) -> dict:
    return {"origin_mm": c.origin.tolist(), "normal": c.normal.tolist(), "radius_mm": c.radius_mm,
            "extension_mm": c.extension_mm, "cap_origin_mm": c.cap_origin.tolist()}


def _inside(closed, pts: np.ndarray, margins: np.ndarray) -> np.ndarray:
    """Points inside the closed surface by more than their margin (mm; VTK implicit distance)."""
    import vtk

    if not len(pts):
        return np.zeros(0, bool)
    d = vtk.vtkImplicitPolyDataDistance()
    d.SetInput(closed)
    vals = np.array([d.EvaluateFunction(*p) for p in pts])
    return vals < -margins


def lumen_mask_from_case(case, scan_name: str | None = None) -> tuple[object, np.ndarray]:
    """(planning volume, lumen mask) of a case: the ``vessel`` / ``aorta_lumen`` / ``lumen`` segment."""
    from surgiplan.core.imaging.volume_io import read_volume
    from surgiplan.core.planning.stenosis import VESSEL_SEGMENTS

    if not case.model.scans:
        raise InputError(f"case {case.model.name!r} has no scan", hint="Add the CT angiogram first.")
    scan = case.model.scans[0] if scan_name is None else next(s for s in case.model.scans if s.name == scan_name)
    volume = read_volume(case.root / scan.volume)
    seg = case.segmentation(scan.name)
    names = [s.name for s in seg.segments]
    for n in VESSEL_SEGMENTS:
        if n in names:
            return volume, np.asarray(seg.mask(n), bool)
    raise InputError(f"case {case.model.name!r}: the segmentation has no vessel lumen segment "
                     f"(segments: {', '.join(names) or 'none'})",
                     hint=f"Segment the lumen first (preset 'vessel'); expected one of {', '.join(VESSEL_SEGMENTS)}.")
