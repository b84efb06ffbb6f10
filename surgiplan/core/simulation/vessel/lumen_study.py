"""Steady flow through a lumen from another tool: a surface (STL/VTP/OBJ/PLY, LPS mm) or a label map
(.seg.nrrd / NRRD / NIfTI, the first segment = lumen).

The lumen becomes a normalised field on a 0.5 mm grid (a surface: its signed distance, clipped to
+-1 grid step; a label map: its mask blurred by 0.6 voxel, through the same half-maximum field as a
CT, with the blurred mask as the image: a smooth surface instead of the voxel staircase) and then
follows the case studies' path (:func:`build_vessel_model`). Ends:

* a surface with holes: each hole is an open end (its loop's centre and normal);
* a label map or a closed surface: the lumen's ends at the edge of its grid (a label map cut by the
  image's edge) and, when fewer than two, its closed tips (:func:`_tip_ends`): the inlet point itself
  when it is not at an open end (an aortic root), then the points geodesically farthest from the
  centred paths found so far, each kept only when it ends a real vessel (a stub > 20 mm and > 3 own
  radii beyond the parent's wall: a noisy or crescent-shaped lumen, e.g. a dissection's true lumen,
  has many bumps that are not outlets);

the open end nearest ``inlet_lps`` is the inlet, the others are outlets (flow split by Murray's law of
their radii; mean pressure 93 mmHg).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from surgiplan.core.errors import GeometryError, InputError
from surgiplan.core.jobs import Progress, report, sub_progress

SURFACE_SUFFIXES = (".stl", ".vtp", ".obj", ".ply")
STEP_MM = 0.5
MASK_BLUR_VOXELS = 0.6
TIP_MIN_STUB_MM = 20.0
TIP_MIN_STUB_RADII = 3.0
TIP_MIN_RADIUS_MM = 1.0


def _field_from_mask(mask: np.ndarray, spacing, origin, direction):
    from scipy import ndimage as ndi

    from surgiplan.core.imaging.volume import Volume
    from surgiplan.core.vessels.lumen_surface import lumen_field

    # a label map is a staircase: blurred by MASK_BLUR_VOXELS (as a scanner blurs a lumen) its
    # half-maximum is a smooth surface at the mask's edge (a flat edge does not move)
    img = ndi.gaussian_filter(np.where(mask, 300.0, 0.0).astype(np.float32), MASK_BLUR_VOXELS)
    vol = Volume(img, spacing, origin, direction)
    return lumen_field(vol, mask, STEP_MM)


def _field_from_surface(surf):
    """Signed-distance field of a closed surface (holes filled first) on a 0.5 mm grid."""
    import vtk

    from surgiplan.core.vessels.lumen_surface import LumenField

    filled = surf.fill_holes(1e6) if surf.n_open_edges else surf
    filled = filled.triangulate().clean().compute_normals(auto_orient_normals=True, consistent_normals=True)
    lo, hi = np.asarray(filled.bounds[::2]) - 2.0, np.asarray(filled.bounds[1::2]) + 2.0
    n = np.ceil((hi - lo) / STEP_MM).astype(int) + 1
    if np.prod(n) > 60e6:
        raise InputError(f"the lumen surface spans {hi - lo} mm: too large for a {STEP_MM} mm grid",
                         hint="Crop the surface to the vessels of interest.")
    imp = vtk.vtkImplicitPolyDataDistance()
    imp.SetInput(filled)
    img = vtk.vtkSampleFunction()
    img.SetImplicitFunction(imp)
    img.SetModelBounds(lo[0], lo[0] + (n[0] - 1) * STEP_MM, lo[1], lo[1] + (n[1] - 1) * STEP_MM,
                       lo[2], lo[2] + (n[2] - 1) * STEP_MM)
    img.SetSampleDimensions(*n)
    img.ComputeNormalsOff()
    img.Update()
    from vtk.util.numpy_support import vtk_to_numpy

    d = vtk_to_numpy(img.GetOutput().GetPointData().GetScalars()).reshape(n[2], n[1], n[0])
    g = np.clip(-d / (2 * STEP_MM), -0.5, 1.5).astype(np.float32)
    return LumenField(g, lo.astype(float), STEP_MM, np.eye(3)), filled


def _hole_ends(surf):
    from surgiplan.core.vessels.centreline import OpenEnd

    edges = surf.extract_feature_edges(boundary_edges=True, feature_edges=False, manifold_edges=False,
                                       non_manifold_edges=False).strip(join=True)
    ends = []
    lines = edges.lines
    i = 0
    c_all = np.asarray(surf.center)
    while i < len(lines):
        k = lines[i]
        P = edges.points[lines[i + 1:i + 1 + k]]
        i += k + 1
        if len(P) < 3:
            continue
        c = P.mean(axis=0)
        nrm = np.cross(P - c, np.roll(P, -1, axis=0) - c).sum(axis=0)
        area = 0.5 * np.linalg.norm(nrm)
        nrm /= max(np.linalg.norm(nrm), 1e-12)
        if nrm @ (c - c_all) < 0:
            nrm = -nrm
        ends.append(OpenEnd(c, float(area), nrm))
    return ends


def run_lumen_study(lumen: Path, inlet_lps, flow_mL_s: float, *, density: float = 1060.0,
                    viscosity: float = 0.0035, n_ranks: int = 1, out_dir: Path,
                    progress: Progress | None = None, options: dict | None = None) -> dict:
    """Mesh the lumen, solve steady flow, return the summary (also written to ``out_dir/summary.json``).

    ``options``: ``h_max_mm`` (largest cell, mm; default 2.5), ``wall_ratio`` (wall cells / core cells;
    0: no wall refinement).
    """
    from surgiplan.core.fileio import atomic_write_text
    from surgiplan.core.simulation.runner import run_study_process
    from surgiplan.core.simulation.vessel.case_study import setup_facts, verification_status
    from surgiplan.core.simulation.vessel.geometry import build_vessel_model
    from surgiplan.core.simulation.vessel.results import flow_study_dict, json_safe, vessel_results

    lumen = Path(lumen)
    inlet = np.asarray(inlet_lps, float).reshape(-1)
    if inlet.shape != (3,) or not np.all(np.isfinite(inlet)):
        raise InputError(f"the inlet point must be three finite LPS coordinates in mm (got {inlet_lps})")
    if not (np.isfinite(flow_mL_s) and flow_mL_s > 0):
        raise InputError(f"the inlet flow must be a positive number of mL/s (got {flow_mL_s})")
    if not (np.isfinite(density) and np.isfinite(viscosity) and density > 0 and viscosity > 0):
        raise InputError(f"density and viscosity must be positive (got {density} kg/m^3, {viscosity} Pa s)",
                         hint="Blood: --density 1060 --viscosity 0.0035.")
    options = dict(options or {})
    unknown = set(options) - {"h_max_mm", "wall_ratio"}
    if unknown:
        raise InputError(f"unknown lumen-study option(s): {', '.join(sorted(unknown))}",
                         hint="Known: h_max_mm, wall_ratio.")
    from surgiplan.core.simulation.vessel.geometry import WALL_RATIO_DEFAULT

    wall_ratio = options.get("wall_ratio", WALL_RATIO_DEFAULT)
    if wall_ratio is not None:
        try:
            wall_ratio = float(wall_ratio)
        except (TypeError, ValueError):
            wall_ratio = float("nan")
        if not (np.isfinite(wall_ratio) and 0.0 <= wall_ratio <= 1.0):
            raise InputError(f"wall_ratio must be a fraction between 0 and 1 (got {options.get('wall_ratio')})",
                             hint="0 or 1: no wall refinement; 0.33: wall cells a third of the core size.")
        if wall_ratio in (0.0, 1.0):
            wall_ratio = None
    try:
        h_max = float(options.get("h_max_mm", 2.5))
    except (TypeError, ValueError):
        h_max = float("nan")
    if not (np.isfinite(h_max) and 0.2 <= h_max <= 50.0):
        raise InputError(f"h_max_mm must be a cell size in mm between 0.2 and 50 (got {options.get('h_max_mm')})")
    out_dir = Path(out_dir)
    name = lumen.name.lower()
    report(progress, 0.0, f"reading {lumen.name}")
    ends = None
    if name.endswith(SURFACE_SUFFIXES):
        from surgiplan.core.surfaces.mesh_io import read_mesh

        surf = read_mesh(lumen)
        if surf.n_cells < 20:
            raise InputError("the lumen surface has fewer than 20 triangles", path=lumen)
        holes = _hole_ends(surf) if surf.n_open_edges else []
        lf, _ = _field_from_surface(surf)
        if len(holes) >= 2:
            ends = holes
        elif holes:
            raise InputError("the lumen surface has a single opening: a flow needs an inlet and an outlet",
                             path=lumen, hint="Open the outlet ends too, or give a closed surface.")
    elif name.endswith((".nrrd", ".nhdr", ".nii", ".nii.gz")):
        from surgiplan.core.segmentation.segmentation_io import read_segmentation

        seg = read_segmentation(lumen)
        if not seg.segments:
            raise InputError("the label map has no segment", path=lumen)
        mask = np.asarray(seg.mask(seg.segments[0].name), bool)
        lf = _field_from_mask(mask, seg.spacing, seg.origin, seg.direction)
    else:
        raise InputError("unknown lumen file type", path=lumen,
                         hint="Give an STL/VTP/OBJ/PLY surface or a .seg.nrrd/NRRD/NIfTI label map.")
    out_dir.mkdir(parents=True, exist_ok=True)
    if ends is None:
        from surgiplan.core.vessels.centreline import open_ends

        ends = open_ends(lf)
        if len(ends) < 2:
            ends = _tip_ends(lf, inlet, ends)
    try:
        model = build_vessel_model(lf, out_dir, inlet_point=inlet, ends=ends, h_max=h_max, wall_ratio=wall_ratio,
                                   progress=sub_progress(progress, 0.02, 0.4))
    except GeometryError as exc:
        raise GeometryError(f"{lumen}: {exc.message}", hint=exc.hint) from exc
    study, bc = flow_study_dict(model.info, flow_mL_s, 93.0, density=density, viscosity=viscosity,
                                probe_points_mm=model.probe_points_mm, name="lumen")
    bc.update({"density": density, "viscosity": viscosity, "lumen": str(lumen)})
    atomic_write_text(out_dir / "vessel_geometry.json", json.dumps(json_safe({"geometry": model.info,
                                                                              "boundary_conditions": bc}), indent=1))
    sj = out_dir / "study.json"
    atomic_write_text(sj, json.dumps(study, indent=1))
    solver = run_study_process(sj, out_dir, n_ranks, sub_progress(progress, 0.4, 0.95))
    res = vessel_results(out_dir, model.info, bc, solver)
    res["setup"] = setup_facts(model.info, bc, solver)
    res["verification"] = verification_status()
    res["lumen"] = str(lumen)
    res = json_safe(res)
    atomic_write_text(out_dir / "summary.json", json.dumps(res, indent=1))
    report(progress, 1.0, "lumen study done")
    return res


def _tip_ends(lf, inlet_point, ends):
    """Ends of a lumen closed at (some of) its tips: the inlet tip, then successive geodesically farthest
    tips from the centreline paths found so far (see module docstring).

    A tip is an end only when it lies at the end of a real vessel: its stub beyond the parent's wall
    (geodesic distance from the paths minus the parent's radius there) is longer than
    ``TIP_MIN_STUB_RADII`` of its own radius and than ``TIP_MIN_STUB_MM``, and its radius is at least
    ``TIP_MIN_RADIUS_MM``. Bumps of a noisy or crescent-shaped lumen (a dissection's true lumen) fail that.
    """
    from scipy import ndimage as ndi
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    from surgiplan.core.vessels.centreline import OpenEnd

    f = max(1, int(round(1.0 / lf.spacing)))
    inside = lf.values[::f, ::f, ::f] > 0
    h = lf.spacing * f
    pts = np.argwhere(inside)
    if len(pts) < 10:
        raise GeometryError("the lumen is too small")
    edt = ndi.distance_transform_edt(inside) * h
    r_node = edt[tuple(pts.T)]
    ids = -np.ones(inside.shape, np.int64)
    ids[tuple(pts.T)] = np.arange(len(pts))
    rows, cols, w, wc = [], [], [], []
    for o in [(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1) if (a, b, c) > (0, 0, 0)]:
        q = pts + o
        ok = np.all((q >= 0) & (q < inside.shape), axis=1)
        j = ids[tuple(q[ok].T)]
        g = j >= 0
        i0 = ids[tuple(pts[ok][g].T)]
        rows.append(i0)
        cols.append(j[g])
        w.append(np.full(g.sum(), h * np.sqrt(sum(x * x for x in o))))
        wc.append(w[-1] / (0.5 * (r_node[i0] + r_node[j[g]])) ** 2)  # centred paths (as the centrelines)
    n = len(pts)
    rc = (np.concatenate(rows), np.concatenate(cols))
    length = coo_matrix((np.concatenate(w), rc), shape=(n, n)).tocsr()
    centred = coo_matrix((np.concatenate(wc), rc), shape=(n, n)).tocsr()
    xyz = lf.world(pts[:, ::-1].astype(float) * f)
    src = int(np.argmin(np.linalg.norm(xyz - inlet_point, axis=1)))
    # paths from the inlet to the known open ends: the tips are searched away from them
    _, pred = dijkstra(centred, directed=False, indices=src, return_predecessors=True)

    def chain(node, pred_, stop):
        c = [node]
        while c[-1] not in stop and pred_[c[-1]] >= 0:
            c.append(int(pred_[c[-1]]))
        return c

    on_path = {src}
    for e in ends:
        k = int(np.argmin(np.linalg.norm(xyz - e.centre, axis=1)))
        on_path.update(chain(k, pred, {src}))
    # the inlet is a closed tip unless the point lies at a known open end
    at_end = any(np.linalg.norm(e.centre - xyz[src]) < max(10.0, 2.0 * np.sqrt(e.area_mm2 / np.pi)) for e in ends)
    tips = [] if at_end else [src]
    for _ in range(8):
        dist, pr, _ = dijkstra(length, directed=False, indices=sorted(on_path), min_only=True,
                               return_predecessors=True)
        cand = np.where(np.isfinite(dist), dist, -1.0)
        k = int(np.argmax(cand))
        if cand[k] <= 0:
            break
        c = chain(k, pr, on_path)  # tip -> the paths
        attach = c[-1]
        r_parent = float(r_node[attach])
        beyond = np.array(c)[(dist[np.array(c)] > r_parent)]
        r_branch = float(np.median(r_node[beyond])) if len(beyond) else 0.0
        stub = float(cand[k]) - r_parent
        if stub < max(TIP_MIN_STUB_RADII * r_branch, TIP_MIN_STUB_MM) or r_branch < TIP_MIN_RADIUS_MM:
            break
        tips.append(k)
        on_path.update(chain(k, pred, {src}))
    if len(tips) + len(ends) < 2:
        raise GeometryError("could not find two ends of the closed lumen (an inlet and an outlet)",
                            hint="Give a lumen whose outlet reaches the edge of the label map, or a surface "
                                 "with open ends.")
    out = list(ends)
    for t in tips:
        p = xyz[t]
        # outward: from the lumen's local interior (the mean of nearby inside voxels) towards the tip
        near = xyz[np.linalg.norm(xyz - p, axis=1) < 6.0]
        d = p - near.mean(axis=0)
        r = float(max(edt[tuple(pts[t])], h))
        out.append(OpenEnd(p, float(np.pi * r * r), d / max(np.linalg.norm(d), 1e-9), setback_mm=6.0))
    return out
