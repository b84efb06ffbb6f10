"""Implants found in a post-operative CT: metal threshold, then the catalog model fitted to the metal.

For each planned implant that shows in CT (metal: titanium, cobalt-chrome, steel,
tantalum; polyethylene does not), the planned pose is carried into the later scan
through the registration, the scan is cut to the model's box grown by ``margin_mm``,
the metal surface is the iso-surface at ``threshold_hu`` (marching cubes; open
where the scan's edge cuts the implant, so a partly scanned implant gives no false
cap), and the catalog model is fitted to it by trimmed point-to-plane ICP
(:mod:`surgiplan.core.twin.icp`). Streaks and other implants near it are trimmed.
A cup's axis comes from its rim: a scan that cuts off the rim (not the dome) leaves
only part of a sphere, whose centre is found but whose axis is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from surgiplan.core.errors import GeometryError
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.plan import PlacedImplant
from surgiplan.core.twin.icp import IcpResult, icp, sample_surface

#: Default metal threshold (HU): above cortical bone (~1600-1900 HU) and its streaks.
METAL_HU = 2500.0
#: Catalog kinds whose geometry is a body of revolution about the implant's +z axis.
SYMMETRIC_KINDS = ("cup", "liner", "head", "pedicle_screw", "rod", "stent")
_METALS = ("ti", "titanium", "cocr", "cobalt", "steel", "tantalum", "metal")


def shows_in_ct(material: str) -> bool:
    """True for a radio-opaque (metal) implant material, e.g. ``Ti-6Al-4V``, ``CoCr``."""
    m = material.lower().replace("-", " ")
    return any(w in m.split() or m.startswith(w) for w in _METALS) and "uhmwpe" not in m


@dataclass
class FoundImplant:
    """One implant fitted in the later scan: pose in the scan's LPS and fit figures (mm)."""

    id: str
    in_scan: np.ndarray
    fit: IcpResult
    surface_points: int
    cut_by_scan_edge: bool


def metal_surface(volume: Volume, box_lo, box_hi, threshold_hu: float = METAL_HU) -> tuple[np.ndarray, bool]:
    """Iso-surface points (LPS mm) of ``threshold_hu`` in the part of ``volume`` inside an LPS box.

    Returns the points and whether the box reaches past the scan's edge (a partly scanned implant).
    """
    from skimage.measure import marching_cubes

    corners = np.array([[x, y, z] for x in (box_lo[0], box_hi[0]) for y in (box_lo[1], box_hi[1])
                        for z in (box_lo[2], box_hi[2])])
    ijk = volume.world_to_index(corners)
    lo = np.floor(ijk.min(axis=0)).astype(int)
    hi = np.ceil(ijk.max(axis=0)).astype(int) + 1
    n = np.array(volume.shape_ijk)
    cut = bool(np.any(lo < 0) or np.any(hi > n))
    lo, hi = np.maximum(lo, 0), np.minimum(hi, n)
    if np.any(hi - lo < 2):
        return np.zeros((0, 3)), True
    sub = np.asarray(volume.array[lo[2]:hi[2], lo[1]:hi[1], lo[0]:hi[0]], np.float32)
    if sub.max() < threshold_hu:
        return np.zeros((0, 3)), cut
    verts, *_ = marching_cubes(sub, level=float(threshold_hu))
    ijk = verts[:, ::-1] + lo
    return volume.index_to_world(ijk), cut


def find_implant(volume: Volume, implant: PlacedImplant, geometry, guess_in_scan: np.ndarray, *,
                 kind: str = "", threshold_hu: float = METAL_HU, margin_mm: float = 12.0) -> FoundImplant:
    """Fit ``implant``'s catalog geometry (own frame) to the metal of ``volume`` near ``guess_in_scan``.

    Parameters
    ----------
    volume : Volume
        The post-operative CT (HU).
    implant : PlacedImplant
        The planned implant (its id names it in messages).
    geometry : ImplantGeometry
        The implant's catalog geometry in its own frame.
    guess_in_scan : numpy.ndarray
        4x4 own frame -> scan LPS start (the planned pose carried through the registration).
    kind : str
        The catalog kind; bodies of revolution (:data:`SYMMETRIC_KINDS`) keep their planned spin.
    threshold_hu : float
        Metal threshold (HU).
    margin_mm : float
        How far around the planned place to look (mm).
    """
    mesh = geometry.merged()
    pts, normals = sample_surface(mesh, 0.5)
    world = tf.apply(guess_in_scan, pts)
    lo, hi = world.min(axis=0) - margin_mm, world.max(axis=0) + margin_mm
    data, cut = metal_surface(volume, lo, hi, threshold_hu)
    if len(data) < 20:
        raise GeometryError(f"implant {implant.id!r}: no metal above {threshold_hu:g} HU within {margin_mm:g} mm "
                            "of its planned place in the post-operative scan",
                            hint="Check the registration to the planning scan, or lower the metal threshold.")
    if len(data) > 60_000:
        data = data[np.random.default_rng(0).choice(len(data), 60_000, replace=False)]
    symmetric = kind in SYMMETRIC_KINDS
    fit = icp(pts, normals, data, guess_in_scan, max_distance=min(8.0, margin_mm), fix_spin=symmetric)
    if not fit.converged:
        raise GeometryError(f"implant {implant.id!r}: the model fit to the metal did not converge "
                            f"({fit.iterations} iterations, rms {fit.rms_mm:.2f} mm)",
                            hint="Streaks or another implant may hide it; check the scan.")
    return FoundImplant(implant.id, fit.model_to_data, fit, len(data), cut)
