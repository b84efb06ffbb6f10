"""Metal (implants, screws, prostheses) as its own segment, with its blooming.

Metal is above ``core_hu`` (2500-3000 HU; cortical bone stays below ~2000 HU). Its
reconstruction spreads it over the neighbouring voxels (blooming, partial volume) up to a
millimetre or two: :func:`metal_mask` grows the core by ``bloom_mm`` into voxels still above
``bloom_hu``. Bone presets give this segment to "metal" and treat it as part of the bone it
sits in when they split bones, so a stem never cuts a femur in two.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.imaging.volume import Volume
from surgiplan.core.segmentation import islands, morphology


def metal_mask(volume: Volume, *, core_hu: float = 2500.0, bloom_hu: float = 1200.0, bloom_mm: float = 2.0,
               min_ml: float = 0.02) -> np.ndarray:
    """Metal voxels [k, j, i]: cores above ``core_hu`` of at least ``min_ml`` mL, grown by
    ``bloom_mm`` mm into voxels above ``bloom_hu`` HU. Empty when the scan holds no metal."""
    a = np.asarray(volume.array)
    core = a >= core_hu
    if not core.any():
        return core
    core = islands.remove_small(core, min_ml * 1000.0, volume.spacing)
    if not core.any():
        return core
    grown = morphology.margin(core, bloom_mm, volume.spacing) & (a >= bloom_hu)
    return core | grown


def streak_only(image: np.ndarray, metal: np.ndarray, spacing_kji, candidates: np.ndarray, *, low: float = 150.0,
                reach_mm: float = 30.0, side_mm: tuple[float, ...] = (3.0, 6.0), free_deg: float = 45.0,
                n_dir: int = 32) -> np.ndarray:
    """The ``candidates`` (bool [k, j, i], e.g. voxels above a bone threshold) near ``metal`` that
    are bright only along lines through the metal: its streaks, not bone.

    A metal implant's streaks are lines in the slice plane through the metal (each axial slice is
    reconstructed on its own), a voxel or two wide, that raise soft tissue to 100-900 HU far from
    the implant (issue 23's real hip CT: a dynamic hip screw's plate and lag screw). Bone
    continues in directions that do not run through the metal: a cancellous region in all of
    them, a cortex along itself (around the implant inside the bone). So a candidate within
    ``reach_mm`` of the metal in its slice (and farther than the farthest side sample, where the
    blooming dominates) is a streak when the ``image`` (HU, smoothed) at ``side_mm`` on both sides
    averages at least ``low`` along a line through the metal, and on one side or the other below
    it along every in-plane direction (``n_dir`` of them) at least ``free_deg`` from every line
    through the voxel and the metal. A voxel with no such direction (between two implants) is
    kept. Not found: streaks of a fan closer together than ``side_mm`` (they read as a bright
    region), and broad raised soft tissue. Thin dim bone that runs around the metal (an
    osteoporotic socket wall around a screw tip in the femoral head: 150-230 HU, one voxel of
    3 mm) fails the test like a streak: callers keep such places out of ``candidates``.
    ``spacing_kji``: voxel size (mm) along k, j, i.
    """
    from scipy import ndimage

    sp = np.asarray(spacing_kji, float)[1:]
    out = np.zeros(metal.shape, bool)
    th = np.pi * np.arange(n_dir) / n_dir
    for k in np.nonzero(metal.any(axis=(1, 2)))[0]:
        m2 = metal[k]
        d = ndimage.distance_transform_edt(~m2, sampling=sp)
        pts = np.argwhere(candidates[k] & ~m2 & (d <= reach_mm) & (d > max(side_mm))).astype(float)
        if not len(pts):
            continue
        edge = m2 & ~ndimage.binary_erosion(m2)  # a line through the metal crosses its edge
        vec = (np.argwhere(edge).astype(float)[None, :, :] - pts[:, None, :]) * sp  # mm (j, i) to each edge voxel
        phi = np.arctan2(vec[..., 0], vec[..., 1])
        half = np.arcsin(np.clip(0.5 * float(sp.max()) / np.maximum(np.hypot(vec[..., 0], vec[..., 1]), 1e-6), 0, 1))
        cont = np.zeros((len(pts), n_dir), bool)  # bright on both sides along the direction
        free = np.zeros((len(pts), n_dir), bool)
        through = np.zeros((len(pts), n_dir), bool)
        for a, t in enumerate(th):
            off = np.abs((phi - t + np.pi / 2) % np.pi - np.pi / 2)  # angle between the two lines
            through[:, a] = (off <= half).any(axis=1)
            free[:, a] = off.min(axis=1) >= np.radians(free_deg)
            u = np.array([np.sin(t), np.cos(t)]) / sp  # index units per mm along j, i
            side = [np.mean([ndimage.map_coordinates(image[k], (pts + s * r * u).T, order=1, mode="nearest")
                             for r in side_mm], axis=0) for s in (-1.0, 1.0)]
            cont[:, a] = np.minimum(*side) >= low
        # a streak: bright along a line through the metal, along no line well clear of it
        streak = (cont & through).any(axis=1) & free.any(axis=1) & ~(cont & free).any(axis=1)
        out[k][tuple(pts[streak].astype(int).T)] = True
    return out
