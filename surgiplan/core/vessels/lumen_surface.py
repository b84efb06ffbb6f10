"""Lumen surface at the lumen's true edge: the local half-maximum between contrast lumen and wall.

A global threshold puts the edge of a narrow lumen too far out or in: the blur of the scanner's point
spread lowers the peak of a narrow lumen and the wall/plaque around it is not fat. Here, inside a
band around the segmentation's lumen mask:

* lumen level L(x): Gaussian-weighted mean HU of the mask eroded by one voxel (sigma 6 mm; normalised
  convolution, so it follows contrast that fades along the vessel);
* background B(x): the same over the shell 1-3 voxels outside the mask, keeping soft tissue (wall,
  plaque, blood-like: above -30 HU, below half-way to the lumen; fat and calcium left out);
* calcium: voxels with g above ``CALCIUM_G`` (HU beyond B + 1.5 (L - B)) outside the mask's core
  count as wall (g = -1/2); on the vascular sample the nodule 2.35 mm from the narrowest lumen had
  pulled the edge out: throat diameter 3.556 -> 3.535 mm at the true section (truth 3.50 mm);
* the normalised field g = (HU - B) / (L - B) - 1/2, resampled with cubic splines on a finer grid
  (``step_mm``), whose zero level is the half-maximum surface (marching cubes); where the mask band
  ends g is -1/2.

The virtual stent (:func:`open_with_stent`) is a union with a smoothed cylinder in the same field.
All positions LPS mm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from surgiplan.core.errors import GeometryError, InputError

SIGMA_MM = 6.0
SOFT_MIN_HU = -30.0
G_CAP = 1.5
CALCIUM_G = 1.0  # g above this (HU beyond 1.5 x the lumen contrast) outside the mask core: calcium
CALCIUM_DILATE = 0
REACH_MM = 2.0  # the edge at most this far outside the lumen mask (a touching bright vein is not lumen)


@dataclass
class LumenField:
    """Normalised lumen field on a regular grid: value (k, j, i) float32, origin/spacing LPS mm, axes
    along the scan's index axes (``direction`` columns)."""

    values: np.ndarray
    origin: np.ndarray
    spacing: float
    direction: np.ndarray
    topology: dict = field(default_factory=dict)

    def world(self, ijk: np.ndarray) -> np.ndarray:
        return np.asarray(ijk, float) * self.spacing @ self.direction.T + self.origin

    def index(self, xyz: np.ndarray) -> np.ndarray:
        return (np.asarray(xyz, float) - self.origin) @ self.direction / self.spacing

    def grid_points(self) -> np.ndarray:
        """LPS mm of every grid point, shape (k, j, i, 3)."""
        nk, nj, ni = self.values.shape
        kk, jj, ii = np.meshgrid(np.arange(nk), np.arange(nj), np.arange(ni), indexing="ij")
        return self.world(np.stack([ii, jj, kk], axis=-1).reshape(-1, 3)).reshape(nk, nj, ni, 3)


def _smooth_mean(values: np.ndarray, weights: np.ndarray, sigma_vox) -> np.ndarray:
    num = ndi.gaussian_filter(values * weights, sigma_vox, mode="nearest")
    den = ndi.gaussian_filter(weights.astype(np.float32), sigma_vox, mode="nearest")
    return num / np.maximum(den, 1e-6), den


def lumen_field(volume, mask: np.ndarray, step_mm: float = 0.5, band_mm: float = 4.0, tree: bool = True,
                reach_mm: float | None = REACH_MM) -> LumenField:
    """The half-maximum field of the lumen ``mask`` (bool, the volume's [k, j, i] grid) on a ``step_mm`` grid.

    ``reach_mm``: the half-maximum edge is taken at most this far outside the mask (None: anywhere in the
    ``band_mm`` band); the band still sets the background level.

    ``tree``: the inside (field > 0 on the fine grid) is cut to one tree of tubes without tunnels or
    cavities, other pieces dropped (:func:`surgiplan.core.vessels.topology.tree_topology`; the figures
    in ``LumenField.topology``).
    """
    topology: dict = {}
    mask = np.asarray(mask, bool)
    if mask.shape != volume.array.shape:
        raise InputError(f"the lumen mask {mask.shape} does not match the scan {volume.array.shape}",
                         hint="Use the segmentation of this scan.")
    if mask.sum() < 20:
        raise InputError("the lumen mask is empty or too small to build a vessel surface",
                         hint="Segment the contrast-filled lumen first (preset 'vessel').")
    hu = np.asarray(volume.array, np.float32)
    sp = np.asarray(volume.spacing, float)  # (si, sj, sk)
    sig = [SIGMA_MM / sp[2], SIGMA_MM / sp[1], SIGMA_MM / sp[0]]
    core = ndi.binary_erosion(mask, iterations=1)
    if core.sum() < 10:
        core = mask
    lum, _ = _smooth_mean(hu, core.astype(np.float32), sig)
    lumen_median = float(np.median(hu[core]))
    d1 = ndi.binary_dilation(mask, iterations=1)
    shell = ndi.binary_dilation(mask, iterations=3) & ~d1
    soft = shell & (hu > SOFT_MIN_HU) & (hu < 0.5 * (SOFT_MIN_HU + lumen_median))
    if soft.sum() < 10:
        soft = shell
    bg, w_bg = _smooth_mean(np.clip(hu, SOFT_MIN_HU, None), soft.astype(np.float32), sig)
    bg_global = float(np.median(hu[soft])) if soft.any() else 0.0
    bg = np.where(w_bg > 1e-3, bg, bg_global)
    contrast = np.maximum(lum - bg, 50.0)
    g = (hu - bg) / contrast - 0.5
    if CALCIUM_G is not None:
        # calcium (far brighter than the lumen, outside the mask's core) is wall, not lumen
        calc = (g > CALCIUM_G) & ~core
        if CALCIUM_DILATE:
            calc = ndi.binary_dilation(calc, iterations=CALCIUM_DILATE) & ~core
        g = np.where(calc, -0.5, g)
    band_vox = max(1, int(np.ceil(band_mm / sp.min())))
    band = ndi.binary_dilation(mask, iterations=band_vox)
    g = np.where(band, np.clip(g, -0.5, G_CAP), -0.5).astype(np.float32)
    if reach_mm is not None:
        # a bright neighbour the mask left out (an iliac vein pressed against its artery, above the
        # half-way level in a late phase) is not lumen: the edge lies at most reach_mm outside the mask
        idx = np.argwhere(band)
        lo_b, hi_b = idx.min(axis=0), idx.max(axis=0) + 1
        box = tuple(slice(a, b) for a, b in zip(lo_b, hi_b, strict=True))
        far = ndi.distance_transform_edt(~mask[box], sampling=sp[::-1]) > reach_mm
        g[box][far] = -0.5
    # crop to the band and resample on the fine grid
    idx = np.argwhere(band)
    lo = np.maximum(idx.min(axis=0) - 2, 0)
    hi = np.minimum(idx.max(axis=0) + 3, np.array(mask.shape))
    sub = g[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    d = np.asarray(volume.direction, float)
    if not np.allclose(np.abs(d), np.eye(3), atol=1e-6) and abs(np.linalg.det(d)) < 0.999:
        raise GeometryError("the scan's axes are not orthonormal")
    # fine grid: isotropic step along the scan's index axes
    ext = (hi - lo - 1) * sp[::-1]  # (k, j, i) extent in mm
    n = np.maximum(2, np.floor(ext / step_mm).astype(int) + 1)
    if np.prod(n) > 120e6:
        raise InputError(f"the vessel region is too large for a {step_mm} mm lumen grid ({np.prod(n):.3g} points)",
                         hint="Crop the scan to the vessels of interest or use a coarser step.")
    coords = [np.arange(n[a]) * step_mm / sp[::-1][a] for a in range(3)]
    kk, jj, ii = np.meshgrid(*coords, indexing="ij", sparse=True)
    fine = np.empty(tuple(n), np.float32)
    spline = ndi.spline_filter(sub, order=3, mode="nearest")
    for k0 in range(0, n[0], 32):  # in slabs to bound memory
        kb = np.broadcast_to(kk[k0:k0 + 32], (min(32, n[0] - k0), n[1], n[2]))
        fine[k0:k0 + 32] = ndi.map_coordinates(
            spline, [kb, np.broadcast_to(jj, kb.shape), np.broadcast_to(ii, kb.shape)],
            order=3, mode="nearest", prefilter=False)
    if tree:
        # one tree of tubes: a bright neighbour touching the lumen (an iliac vein) joins the half-maximum
        # level over thin bridges, and the spline between 3 mm slices adds small handles; gmsh cannot
        # parametrise a wall with handles. Cut them where thinnest, on the grid marching cubes uses.
        from surgiplan.core.vessels.topology import tree_topology

        inside = fine > 0
        fix = tree_topology(inside, (step_mm,) * 3)
        cut = inside & ~fix.mask
        fine[cut] = -0.5
        topology.update(euler_before=fix.euler_before, euler_after=fix.euler_after,
                        voxels_cut=int(cut.sum()), core_depth_mm=fix.core_depth_mm,
                        components_dropped=fix.components_dropped)
        del inside, cut, fix
    origin = volume.index_to_world([lo[2], lo[1], lo[0]])
    return LumenField(fine, np.asarray(origin, float), float(step_mm), d, topology)


def open_with_stent(field: LumenField, axis_point, axis_dir, radius_mm: float, length_mm: float,
                    taper_mm: float = 2.0) -> LumenField:
    """The field united with a stent: a cylinder of ``radius_mm`` over ``length_mm`` centred on
    ``axis_point`` along ``axis_dir``, its radius easing to zero over ``taper_mm`` past each end
    (a cosine taper), so the opened lumen blends into the native one."""
    d = np.asarray(axis_dir, float)
    d = d / np.linalg.norm(d)
    pts = field.grid_points() - np.asarray(axis_point, float)
    t = pts @ d
    rho = np.linalg.norm(pts - t[..., None] * d, axis=-1)
    half = 0.5 * length_mm
    over = np.clip((np.abs(t) - half) / taper_mm, 0.0, 1.0)
    r = radius_mm * 0.5 * (1.0 + np.cos(np.pi * over))
    r = np.where(np.abs(t) > half + taper_mm, 0.0, r)
    # the same slope as a blurred edge: 1 per (2 voxels) of the fine grid
    s = np.clip((r - rho) / (2 * field.spacing), -0.5, 1.5) - 0.0
    s = np.where(r > 0, s, -0.5).astype(np.float32)
    return LumenField(np.maximum(field.values, s), field.origin, field.spacing, field.direction,
                      {**field.topology, "stent": True})


def surface_from_field(field: LumenField, seed_xyz=None, step: int = 1, tree: bool = True):
    """Zero-level surface of the field (pyvista PolyData, LPS mm), the component nearest ``seed_xyz``
    (or the largest), lightly smoothed (Taubin, its volume kept); ``step`` > 1: marching cubes on every
    ``step``-th grid point (triangles of about ``step`` x the grid spacing, without the folds a
    decimation leaves). ``tree``: the surface is one tree of tubes without handles (a sphere with open
    ends once cut): the inside on the grid used is cut by
    :func:`surgiplan.core.vessels.topology.tree_topology` unless :func:`lumen_field` already did it on
    this grid, and marching cubes joins diagonal contacts
    (:func:`~surgiplan.core.vessels.topology.well_joined_values`)."""
    import pyvista as pv
    from skimage.measure import marching_cubes

    from surgiplan.core.vessels.topology import tree_surface_voxels

    step = int(step)
    vals = np.pad(field.values[::step, ::step, ::step], 1, constant_values=-0.5)
    if vals.max() <= 0:
        raise GeometryError("the lumen field has no inside: no contrast above the wall level",
                            hint="Check the scan is a contrast CT and the lumen mask lies on the vessel.")
    if tree:
        # one tree of tubes on the grid marching cubes uses (a coarser grid or a stent can join pieces),
        # without diagonal-only contacts (marching cubes then keeps the voxels' topology)
        inside = vals > 0
        need_cut = step > 1 or field.topology.get("euler_after") != 1 or bool(field.topology.get("stent"))
        keep, _info = tree_surface_voxels(inside, field.spacing * step, cut=need_cut)
        # just across zero where a voxel joins (the surface moves by a fraction of a grid step); a voxel
        # left out is mirrored (a cut bridge, well inside the level, becomes well outside)
        vals[keep & ~inside] = 0.02
        gone = inside & ~keep
        vals[gone] = np.minimum(-0.02, -vals[gone])
        del inside, keep, gone
    verts, faces, _, _ = marching_cubes(vals, 0.0, allow_degenerate=False)
    kji = (verts - 1.0) * step
    xyz = field.world(kji[:, ::-1])
    if np.linalg.det(field.direction) < 0:
        faces = faces[:, ::-1]
    mesh = pv.PolyData(xyz, np.hstack([np.full((len(faces), 1), 3), faces]).astype(np.int64))
    mesh = mesh.clean()
    if seed_xyz is not None:
        conn = mesh.connectivity("closest", closest_point=seed_xyz)
    else:
        conn = mesh.connectivity("largest")
    surf = conn.extract_surface(algorithm="dataset_surface").triangulate().clean()
    surf = surf.smooth_taubin(n_iter=20, pass_band=0.1)
    # outward normals (positive enclosed volume)
    if _signed_volume(surf) < 0:
        surf = surf.flip_faces()
    return surf


def _signed_volume(surf) -> float:
    f = surf.faces.reshape(-1, 4)[:, 1:]
    p = surf.points[f]
    return float(np.einsum("ij,ij->i", p[:, 0], np.cross(p[:, 1], p[:, 2])).sum() / 6.0)
