"""A tiny vessel case for the pre/post-stent tests: a straight CT angiogram tube (LPS, +z superior) with a
40 % diameter cosine stenosis, its ``vessel`` segment, and plan ``A`` with a 6 x 18 mm stent centred on
the lesion along the vessel (plan ``B``: the same stent, for the reuse of the native result)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

R_MM = 2.5  # healthy radius
LENGTH_MM = 40.0  # the tube crosses the whole scan in z (open ends at the scan's edges)
LESION_Z_MM, LESION_LENGTH_MM, SEVERITY = 8.0, 8.0, 0.4  # 12 mm below the inlet
SPACING_MM = 0.5
LUMEN_HU, TISSUE_HU = 350.0, 40.0


def radius_at(z: np.ndarray) -> np.ndarray:
    """Lumen radius (mm) at height z (mm): cosine narrowing to (1 - SEVERITY) R at LESION_Z_MM."""
    u = np.clip((np.asarray(z, float) - LESION_Z_MM) / (LESION_LENGTH_MM / 2), -1.0, 1.0)
    return R_MM * (1.0 - SEVERITY * 0.5 * (1.0 + np.cos(np.pi * u)))


def tiny_vessel_case(root: Path, plans=("A",)):
    """Create and save the case at ``root``; return it."""
    from surgiplan.core.case import Case
    from surgiplan.core.imaging.volume import Volume
    from surgiplan.core.planning.plan import PlacedImplant
    from surgiplan.core.segmentation import Segmentation

    n_xy, n_z = 24, int(LENGTH_MM / SPACING_MM)
    origin = np.array([-(n_xy - 1) / 2 * SPACING_MM, -(n_xy - 1) / 2 * SPACING_MM, -LENGTH_MM / 2 + SPACING_MM / 2])
    k, j, i = np.meshgrid(np.arange(n_z), np.arange(n_xy), np.arange(n_xy), indexing="ij")
    x, y, z = origin[0] + i * SPACING_MM, origin[1] + j * SPACING_MM, origin[2] + k * SPACING_MM
    d = np.hypot(x, y) - radius_at(z)  # signed distance to the wall (mm), < 0 inside
    cover = np.clip(0.5 - d / SPACING_MM, 0.0, 1.0)  # partial volume over one voxel
    hu = (TISSUE_HU + (LUMEN_HU - TISSUE_HU) * cover).astype(np.int16)
    vol = Volume(hu, (SPACING_MM,) * 3, tuple(origin), np.eye(3))
    seg = Segmentation.from_volume(vol)
    seg.add_segment("vessel", d < 0)
    case = Case.new(root, name=Path(root).name)
    case.add_scan("planning", vol, segmentation=seg)
    t = np.eye(4)
    t[:3, 3] = (0.0, 0.0, LESION_Z_MM)
    t[:3, :3] = np.diag([1.0, -1.0, -1.0])  # +z of the stent along the flow (inferior)
    for name in plans:
        case.new_plan(name)
        case.add_implant(name, PlacedImplant("stent", "vascular_stent_be", "6x18", t.copy(), "none", ""))
    case.save()
    return case
