"""Helpers shared by the imaging tests: compare volumes whose axes may run differently."""

from __future__ import annotations

import numpy as np

from surgiplan.core.imaging import Volume


def reorient_like(ours: Volume, ref: Volume) -> Volume:
    """``ours`` with its axes permuted/flipped to run like ``ref``'s (same voxels, same world)."""
    dots = ours.direction.T @ ref.direction  # [our axis, ref axis]
    perm = [int(np.argmax(np.abs(dots[:, a]))) for a in range(3)]
    assert sorted(perm) == [0, 1, 2], f"axes do not correspond: {np.round(dots, 3)}"
    signs = [float(np.sign(dots[perm[a], a])) for a in range(3)]
    ijk = ours.array.transpose(2, 1, 0).transpose(perm)  # [i, j, k] in ref order
    for a in range(3):
        if signs[a] < 0:
            ijk = np.flip(ijk, axis=a)
    arr = np.ascontiguousarray(ijk.transpose(2, 1, 0))
    n_ours = ours.shape_ijk
    start = [0, 0, 0]
    for a in range(3):
        if signs[a] < 0:
            start[perm[a]] = n_ours[perm[a]] - 1
    origin = ours.index_to_world(start)
    direction = np.column_stack([ours.direction[:, perm[a]] * signs[a] for a in range(3)])
    spacing = tuple(ours.spacing[perm[a]] for a in range(3))
    return Volume(arr, spacing=spacing, origin=tuple(origin), direction=direction)
