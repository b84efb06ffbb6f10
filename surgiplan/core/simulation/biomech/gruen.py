"""The seven Gruen zones of the bone around a femoral stem (Gruen et al. 1979, Clin Orthop 141:17).

Zones in the stem's frame (coronal plane of the stem): the stem length from the resection level
(where the stem axis crosses the neck cut, or the stem shoulder) down to the tip is split in
thirds; lateral of the stem axis are zones 1 (proximal), 2, 3 (distal), medial are 7 (proximal),
6, 5 (distal); zone 4 is the bone below the tip (down to ``below_tip_mm``). Bone farther than
``radius_mm`` from the stem axis is in no zone (0).
"""

from __future__ import annotations

import numpy as np


def gruen_zones(points: np.ndarray, axis_point: np.ndarray, axis: np.ndarray, medial: np.ndarray,
                top: float, tip: float, *, radius_mm: float = 30.0, below_tip_mm: float = 20.0) -> np.ndarray:
    """Zone 1-7 (0: none) of each point (n, 3) LPS mm.

    ``axis`` is the unit stem axis (proximal), ``medial`` the unit direction from the axis towards
    the head (perpendicular to ``axis``); ``top`` and ``tip`` are the heights along ``axis`` (from
    ``axis_point``) of the resection level and of the stem tip.
    """
    d = np.asarray(points, float) - np.asarray(axis_point, float)
    h = d @ axis
    radial = d - np.outer(h, axis)
    r = np.linalg.norm(radial, axis=1)
    side = radial @ medial  # > 0 medial
    zone = np.zeros(len(d), dtype=np.int32)
    t = (top - h) / max(top - tip, 1e-9)  # 0 at the top, 1 at the tip
    along = (t >= 0) & (t <= 1) & (r <= radius_mm)
    third = np.clip((t * 3).astype(int), 0, 2)
    zone[along & (side <= 0)] = 1 + third[along & (side <= 0)]
    zone[along & (side > 0)] = 7 - third[along & (side > 0)]
    below = (h < tip) & (h >= tip - below_tip_mm) & (r <= radius_mm)
    zone[below] = 4
    return zone
