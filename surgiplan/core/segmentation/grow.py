"""Region growing from seeds and separation of touching structures.

* :func:`connected_threshold`: voxels in [low, high] connected to the seeds
  (SimpleITK ConnectedThreshold, 26-connected).
* :func:`confidence_connected`: grows with a range adapted to the seeds'
  neighbourhood statistics (SimpleITK ConfidenceConnected).
* :func:`watershed_from_seeds`: splits a mask into one region per seed group by
  a marker-controlled watershed (scikit-image) on the negative distance to the
  mask boundary; this separates touching bones (femoral head from acetabulum,
  femur from tibia, vertebra from vertebra) where the contact is a narrow neck.

Seeds are voxel indices (k, j, i); :func:`seeds_from_world` converts LPS mm.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.jobs import Progress, report


def seeds_from_world(volume: Volume, points_lps) -> np.ndarray:
    """LPS mm points (n, 3) -> nearest voxel indices (n, 3) as (k, j, i); InputError when outside."""
    ijk = np.round(volume.world_to_index(np.atleast_2d(points_lps))).astype(int)
    kji = ijk[:, ::-1]
    for p, s in zip(np.atleast_2d(points_lps), kji, strict=True):
        if np.any(s < 0) or np.any(s >= volume.array.shape):
            raise InputError(f"seed point {np.round(p, 1).tolist()} mm (LPS) lies outside the scan")
    return kji


def _seed_list(seeds_kji, shape) -> list[tuple[int, int, int]]:
    seeds = np.atleast_2d(np.asarray(seeds_kji, int))
    out = []
    for s in seeds:
        if np.any(s < 0) or np.any(s >= shape):
            raise InputError(f"seed voxel {s.tolist()} (k, j, i) lies outside the grid {shape}")
        out.append((int(s[2]), int(s[1]), int(s[0])))  # ITK order (i, j, k)
    return out


def connected_threshold(volume: Volume, seeds_kji, low: float, high: float, *,
                        full_connectivity: bool = True) -> np.ndarray:
    """Voxels with low <= value <= high connected to any seed (boolean [k, j, i])."""
    import SimpleITK as sitk

    from surgiplan.core.imaging.volume_io import to_sitk

    f = sitk.ConnectedThresholdImageFilter()
    f.SetSeedList(_seed_list(seeds_kji, volume.array.shape))
    f.SetLower(float(low))
    f.SetUpper(float(high))
    f.SetReplaceValue(1)
    if full_connectivity:
        f.SetConnectivity(f.FullConnectivity)
    return sitk.GetArrayFromImage(f.Execute(to_sitk(volume))).astype(bool)


def confidence_connected(volume: Volume, seeds_kji, *, multiplier: float = 2.5, iterations: int = 4,
                         radius: int = 1) -> np.ndarray:
    """Grow from seeds with range mean +/- multiplier x SD of the region, re-estimated ``iterations`` times."""
    import SimpleITK as sitk

    from surgiplan.core.imaging.volume_io import to_sitk

    out = sitk.ConfidenceConnected(
        to_sitk(volume), seedList=_seed_list(seeds_kji, volume.array.shape),
        numberOfIterations=int(iterations), multiplier=float(multiplier),
        initialNeighborhoodRadius=int(radius), replaceValue=1,
    )
    return sitk.GetArrayFromImage(out).astype(bool)


def watershed_from_seeds(
    mask: np.ndarray, seeds: dict[str, np.ndarray | list], spacing, *, smooth_mm: float = 0.0,
    progress: Progress | None = None,
) -> dict[str, np.ndarray]:
    """Split ``mask`` into one region per named seed group (voxel indices (k, j, i)).

    Marker-controlled watershed (``skimage.segmentation.watershed``) on the
    negative Euclidean distance to the background (mm, ``spacing`` (i, j, k)):
    regions meet along the narrowest necks between the seeds. Every voxel of a
    connected component holding seeds goes to one region; components without
    seeds are dropped. Returns name -> boolean mask.
    """
    from skimage.segmentation import watershed

    from surgiplan.core.segmentation.morphology import _crop_pad

    mask = np.asarray(mask, bool)
    box = _crop_pad(mask, (1, 1, 1))
    if box is None:
        raise InputError("cannot split an empty segment")
    sub = mask[box]
    markers = np.zeros(sub.shape, np.int32)
    names = list(seeds)
    if len(names) < 1:
        raise InputError("give at least one seed group")
    offset = np.array([b.start for b in box])
    for n, name in enumerate(names, start=1):
        pts = np.atleast_2d(np.asarray(seeds[name], int)) - offset
        placed = 0
        for p in pts:
            if np.all(p >= 0) and np.all(p < sub.shape) and sub[tuple(p)]:
                markers[tuple(p)] = n
                placed += 1
        if not placed:
            raise InputError(f"no seed of '{name}' lies inside the segment", hint="Place the seed on the structure.")
    report(progress, 0.1, "distance transform")
    sp = tuple(float(s) for s in tuple(spacing)[::-1])
    dist = ndimage.distance_transform_edt(sub, sampling=sp).astype(np.float32)
    if smooth_mm > 0:
        dist = ndimage.gaussian_filter(dist, [smooth_mm / s for s in sp])
    report(progress, 0.4, "watershed")
    lab = watershed(-dist, markers, mask=sub)
    report(progress, 1.0, "done")
    out = {}
    for n, name in enumerate(names, start=1):
        m = np.zeros(mask.shape, bool)
        m[box] = lab == n
        out[name] = m
    return out


def separate_touching(
    mask: np.ndarray, seeds: dict[str, np.ndarray | list], spacing, *, erode_mm=(1.0, 2.0, 3.0, 4.0, 6.0),
    rest: str | None = None, progress: Progress | None = None,
) -> dict[str, np.ndarray]:
    """Split structures touching across thin contacts (joints) into one mask per seed group.

    The mask is shrunk by the smallest margin in ``erode_mm`` (mm) that puts
    every seed group in its own connected core (the thin joint contacts vanish
    first); cores are labelled, and every voxel of ``mask`` goes to the nearest
    core by a watershed on the distance map (the cores' shape is kept, the
    boundary follows the neck). Cores without a seed go to ``rest`` (e.g. the
    pelvis, "everything else") when given, else are dropped.
    """
    from skimage.segmentation import watershed

    from surgiplan.core.segmentation.islands import label_components
    from surgiplan.core.segmentation.morphology import _crop_pad

    mask = np.asarray(mask, bool)
    box = _crop_pad(mask, (1, 1, 1))
    if box is None:
        raise InputError("cannot split an empty segment")
    sub = mask[box]
    offset = np.array([b.start for b in box])
    names = list(seeds)
    pts = {n: np.atleast_2d(np.asarray(seeds[n], int)) - offset for n in names}
    sp = tuple(float(x) for x in tuple(spacing)[::-1])
    # distance to the boundary, with the scan's edge not counting as boundary
    pad = int(np.ceil(max(erode_mm) / min(sp))) + 1
    dist = ndimage.distance_transform_edt(np.pad(sub, pad, mode="edge"), sampling=sp)
    dist = dist[pad:-pad, pad:-pad, pad:-pad]
    chosen = None
    for step, r in enumerate(erode_mm):
        report(progress, 0.1 + 0.5 * step / len(erode_mm), f"shrinking by {r:g} mm")
        core = dist > r
        lab, _ = label_components(core)
        owner: dict[int, str] = {}
        ok = True
        for n in names:
            labs = {int(lab[tuple(p)]) for p in pts[n] if np.all(p >= 0) and np.all(p < sub.shape)}
            labs.discard(0)  # seeds in parts thinner than r vanish; one surviving seed is enough
            if not labs:
                ok = False
                break
            for v in labs:
                if owner.get(v, n) != n:
                    ok = False  # two groups still joined
                owner[v] = n
        if ok:
            chosen = (lab, owner)
            break
    if chosen is None:
        raise InputError(
            f"could not separate {', '.join(names)}: they stay joined (or vanish) after shrinking by "
            f"{', '.join(f'{r:g}' for r in erode_mm)} mm", hint="Place seeds inside each structure or cut the contact.")
    lab, owner = chosen
    groups = names + ([rest] if rest and rest not in names else [])
    markers = np.zeros(sub.shape, np.int32)
    for v in range(1, int(lab.max()) + 1):
        n = owner.get(v, rest)
        if n is not None:
            markers[lab == v] = groups.index(n) + 1
    report(progress, 0.7, "assigning voxels to the nearest core")
    ws = watershed(-dist, markers, mask=sub)
    out = {}
    for idx, n in enumerate(groups, start=1):
        m = np.zeros(mask.shape, bool)
        m[box] = ws == idx
        out[n] = m
    report(progress, 1.0, "separated")
    return out


def split_by_intensity_valleys(
    volume: Volume, mask: np.ndarray, seeds: dict[str, np.ndarray | list], *, sigma_mm: float = 1.0,
    rest: str | None = None, progress: Progress | None = None,
) -> dict[str, np.ndarray]:
    """Split bone ``mask`` at the dark gaps between bones (joint spaces), one part per seed group.

    Marker-controlled watershed (scikit-image) on the negated, Gaussian-smoothed
    CT (``sigma_mm``): fronts from the seeds spread along bright cortex first and
    meet in the darkest valley between two bones, which is the joint space even
    where partial volume bridges it at the bone threshold. Voxels of ``mask``
    not reached through ``mask`` from any seed go to ``rest`` when given.
    """
    from skimage.segmentation import watershed

    from surgiplan.core.segmentation.morphology import _crop_pad

    mask = np.asarray(mask, bool)
    box = _crop_pad(mask, (2, 2, 2))
    if box is None:
        raise InputError("cannot split an empty segment")
    names = list(seeds)
    sub = mask[box]
    offset = np.array([b.start for b in box])
    markers = np.zeros(sub.shape, np.int32)
    for n, name in enumerate(names, start=1):
        placed = 0
        for p in np.atleast_2d(np.asarray(seeds[name], int)) - offset:
            if np.all(p >= 0) and np.all(p < sub.shape) and sub[tuple(p)]:
                markers[tuple(p)] = n
                placed += 1
        if not placed:
            raise InputError(f"no seed of '{name}' lies inside the bone", hint="Place the seed on the structure.")
    report(progress, 0.2, "smoothing")
    sig = [sigma_mm / float(s) for s in tuple(volume.spacing)[::-1]]
    img = ndimage.gaussian_filter(volume.array[box].astype(np.float32), sig)
    report(progress, 0.4, "watershed along the joint spaces")
    lab = watershed(-img, markers, mask=sub)
    out = {}
    for n, name in enumerate(names, start=1):
        m = np.zeros(mask.shape, bool)
        m[box] = lab == n
        out[name] = m
    if rest:
        m = np.zeros(mask.shape, bool)
        m[box] = sub & (lab == 0)
        out[rest] = out.get(rest, np.zeros(mask.shape, bool)) | m
    report(progress, 1.0, "separated")
    return out
