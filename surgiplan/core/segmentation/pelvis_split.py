"""The pelvis split into left hip bone, right hip bone and sacrum (issue 23), from the femoral
heads the hip preset found.

A seeded watershed on :func:`seeded.valley_depth` (high only in narrow dark gaps between brighter
bone: the sacroiliac joints either side of the sacrum, the pubic symphysis at the midline, the
discs) inside the pelvis mask, from four markers:

* each hip bone: the socket, a shell 3-12 mm beyond its femoral head's sphere, upper half;
* the sacrum: bone within ``sacrum_half_width_mm`` of the midline column, posterior of the heads'
  centres, from ``sacrum_from_mm`` to ``sacrum_to_mm`` above them (S2-S4: the pubic symphysis is
  anterior and at the heads' level, so it never seeds the sacrum);
* the lumbar spine, when in view: the same midline strip from ``spine_from_mm`` above the heads
  (L4 and up), so that the spine is not called sacrum.

The fronts meet in the joint spaces. Bone connected to none of the markers (ribs) stays with the
rest. Index space [k, j, i] with k up (``scan_axes`` gives the sign), j anterior when
``ant_sign`` is +1.

With ``lumbar`` (the vertebrae L5 and up from :func:`spine_anatomy.find_vertebrae`, split at
the discs found along the body column), they seed the lumbar spine and the sacrum's marker stays
clear of them: the L5-S1 disc is the boundary. Without it the L5-S1 and L4-L5 discs are valleys
of equal depth and the sacrum took 57 % of TotalSegmentator's L5 on the example CT (3 mm,
osteoporotic), where the split gave hip bones of 319 and 326 mL (adult hip bone ~300-450 mL).
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.jobs import Progress, report
from surgiplan.core.segmentation.hip_anatomy import Head
from surgiplan.core.segmentation.plausibility import MAX_LR_RATIO


def split_pelvis(ct: np.ndarray, pelvis: np.ndarray, sp, heads: list[Head], midline_i: float, *,
                 up_sign: int = 1, ant_sign: int = 1, sacrum_half_width_mm: float = 20.0,
                 sacrum_from_mm: float = 20.0, sacrum_to_mm: float = 100.0, spine_from_mm: float = 150.0,
                 compactness: float = 0.0, lumbar: np.ndarray | None = None,
                 progress: Progress | None = None) -> dict[str, np.ndarray]:
    """{"hip_bone_low_i", "hip_bone_high_i", "sacrum", "spine", "rest"} masks of ``pelvis``.

    Parameters
    ----------
    ct : ndarray
        CT in HU, [k, j, i].
    pelvis : ndarray of bool
        Everything bone but the femurs (the hip preset's ``pelvis``).
    sp : sequence of float
        Spacing (k, j, i) in mm.
    heads : list of Head
        The two femoral heads (index centres, radius mm), one either side of ``midline_i``.
    midline_i : float
        Array column of the body's midline.
    up_sign, ant_sign : int
        +1 when k grows upwards (j grows anteriorly), else -1.

    compactness : float
        skimage's compact watershed (0: plain). Tried 0.5-3 on the real CT and the hip sample:
        no value helped both, so 0.
    lumbar : ndarray of bool, optional
        The lumbar vertebrae (L5 and up) split at their discs by
        :func:`spine_anatomy.find_vertebrae`: they seed the spine, and the sacrum's marker stays
        below them, so the L5-S1 disc (a valley as deep as any other disc) is the boundary.

    Returns
    -------
    dict of ndarray of bool
        The hip bone on the low-i and on the high-i side of the midline (the caller names them
        left/right from the direction matrix), the sacrum, the lumbar spine above it, and the
        bone reached by no marker.

    Raises
    ------
    InputError
        ``ct`` or ``lumbar`` not on the pelvis' grid; not two heads either side of the midline; or
        the two hip bones differ by more than
        :data:`plausibility.MAX_LR_RATIO` in volume (no joint spaces seen: surgiplan's own hip
        sample, whose pelvis is one ring without sacroiliac joints, gives 57 and 198 mL).
    """
    from skimage.segmentation import watershed

    from surgiplan.core.errors import InputError
    from surgiplan.core.segmentation.seeded import valley_depth

    if len(heads) != 2 or (heads[0].centre[2] - midline_i) * (heads[1].centre[2] - midline_i) >= 0:
        raise InputError("pelvis split: needs both femoral heads, one either side of the midline",
                         hint="Segment both hips with the hip-bones preset (or seeds) first.")
    for what, arr in (("the CT", ct), ("the lumbar spine mask", lumbar)):
        if arr is not None and np.shape(arr) != np.shape(pelvis):
            raise InputError(f"pelvis split: {what} is {np.shape(arr)} voxels, the pelvis mask {np.shape(pelvis)}",
                             hint="Pass masks made on the same scan grid as the CT.")
    sp = np.asarray(sp, float)
    report(progress, 0.0, "pelvis: markers in the sockets and along the midline")
    kk, jj, ii = np.indices(pelvis.shape, sparse=True)
    markers = np.zeros(pelvis.shape, np.int32)
    heads = sorted(heads, key=lambda h: h.centre[2])
    for n, h in enumerate(heads, start=1):
        c = np.asarray(h.centre)
        d = np.sqrt(((kk - c[0]) * sp[0]) ** 2 + ((jj - c[1]) * sp[1]) ** 2 + ((ii - c[2]) * sp[2]) ** 2)
        markers[pelvis & (d >= h.radius_mm + 3.0) & (d <= h.radius_mm + 12.0) & (up_sign * (kk - c[0]) >= 0)] = n
    hk = float(np.mean([h.centre[0] for h in heads]))
    hj = float(np.mean([h.centre[1] for h in heads]))
    up = up_sign * (kk - hk) * sp[0]
    strip = pelvis & (np.abs(ii - midline_i) * sp[2] <= sacrum_half_width_mm) & (ant_sign * (jj - hj) <= 0)
    sacrum_strip = strip & (up >= sacrum_from_mm) & (up <= sacrum_to_mm) & (markers == 0)
    if lumbar is not None and lumbar.any():
        from scipy import ndimage

        near = ndimage.binary_dilation(lumbar, iterations=2)
        markers[pelvis & lumbar & (markers == 0)] = 4
        sacrum_strip &= ~near
    markers[sacrum_strip] = 3
    markers[strip & (up >= spine_from_mm) & (markers == 0)] = 4
    report(progress, 0.3, "pelvis: watershed along the sacroiliac joints and the symphysis")
    lab = watershed(valley_depth(ct, sp), markers, mask=pelvis, compactness=compactness)
    out = {name: lab == n for n, name in enumerate(("hip_bone_low_i", "hip_bone_high_i", "sacrum", "spine"), start=1)}
    out["rest"] = pelvis & (lab == 0)
    a, b = int(out["hip_bone_low_i"].sum()), int(out["hip_bone_high_i"].sum())
    if min(a, b) == 0 or max(a, b) / min(a, b) > MAX_LR_RATIO:
        raise InputError(f"pelvis split: the hip bones came out {a} and {b} voxels (more than {MAX_LR_RATIO:g}x "
                         "apart): the sacroiliac joints or the symphysis were not seen as joint spaces",
                         hint="Place one seed in each hip bone and one in the sacrum and separate from seeds.")
    report(progress, 1.0, "pelvis split")
    return out
