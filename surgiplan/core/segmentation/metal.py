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
