"""Implant sizing rules: which catalog size fits the anatomy (mm).

* hip: the smallest cup covering the bony socket, the liner for a cup and head, the stem
  whose offset is closest to the native femoral offset;
* spine: the longest and thickest pedicle screw the trajectory holds (length <= available
  - 5 mm, diameter <= isthmus - 2 mm);
* vascular: the smallest stent diameter >= the reference vessel diameter, the shortest length
  covering the lesion with ``MARGIN_MM`` at each end.

Used by the demos and by the window's size proposals.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.bone_fields import bone_field
from surgiplan.core.planning.catalog import default_catalog
from surgiplan.core.planning.measurements.spine import isthmus_diameter


def cup_size_for(socket_radius_mm: float, catalog=None) -> str:
    """Smallest cup whose outer diameter covers the bony socket (2 mm press-fit steps)."""
    catalog = catalog or default_catalog()
    sizes = sorted(catalog.get("hip_cup").sizes, key=float)
    for s in sizes:
        if float(s) >= 2 * socket_radius_mm:
            return s
    return sizes[-1]


def liner_size_for(cup_size: str, head: str, catalog=None) -> str:
    """Liner size (``"<cup>/<head diameter>"``) for a cup size and a head option such as ``"32/+4"``."""
    catalog = catalog or default_catalog()
    spec = catalog.get("hip_liner")
    head_d = float(head.split("/")[0])
    fits = [s for s in spec.sizes if spec.size(s)["cup_size"] == cup_size
            and abs(spec.size(s)["inner_diameter"] - head_d) < 1e-6]
    if not fits:
        have = [s for s in spec.sizes if spec.size(s)["cup_size"] == cup_size]
        raise InputError(f"no liner for cup {cup_size} with a {head_d:g} mm head (liners for that cup: "
                         f"{', '.join(have) or 'none'})", hint="Choose another head diameter or cup size.")
    return fits[0]


def stem_size_for(native_offset_mm: float, stem_id: str = "hip_stem_standard", catalog=None) -> str:
    """Stem size whose offset is closest to the native femoral offset."""
    catalog = catalog or default_catalog()
    spec = catalog.get(stem_id)
    return min(spec.sizes, key=lambda s: abs(spec.size(s)["offset"] - native_offset_mm))


def screw_size_for(case, level: str, entry, direction, catalog=None, extra_diameter: float = 0.0) -> str:
    """Catalog size ('DxL') that fits the trajectory: length <= available - 5, diameter <= isthmus - 2."""
    catalog = catalog or default_catalog()
    spec = catalog.get("spine_pedicle_screw")
    field = bone_field(case, level)
    d = tf.unit(direction)
    ts = np.arange(0.0, 90.0, 0.25)
    sdf = field.interpolate(np.asarray(entry) + ts[:, None] * d)
    inside = np.nonzero(sdf < 0)[0]
    if len(inside) == 0:
        raise InputError(f"the trajectory at {level} never enters the bone")
    after = np.nonzero(sdf[inside[0]:] >= 0)[0]
    avail = ts[inside[0] + after[0]] if len(after) else ts[-1]
    width = isthmus_diameter(field, np.asarray(entry, float), d, 3.0, avail - 5.0)
    sizes = [(spec.size(s)["diameter"], spec.size(s)["length"], s) for s in spec.sizes]
    fits = [x for x in sizes if x[1] <= avail - 5.0 and x[0] <= max(width - 2.0, 4.5) + extra_diameter]
    if not fits:
        return min(sizes)[2]
    return max(fits)[2]


MARGIN_MM = 5.0


def _stent_sizes(catalog):
    spec = catalog.get("vascular_stent_be")
    return (spec, sorted({spec.size(s)["diameter"] for s in spec.sizes}),
            sorted({spec.size(s)["length"] for s in spec.sizes}))


def stent_size_for(reference_mm: float, lesion_mm: float, catalog=None, diameter_step: int = 0,
                   length_step: int = 0) -> str:
    """Catalog size 'DxL': smallest D >= reference, smallest L >= lesion + 2 margins, then ``*_step`` sizes up."""
    spec, ds, ls = _stent_sizes(catalog or default_catalog())
    i = next((n for n, d in enumerate(ds) if d >= reference_mm), len(ds) - 1)
    j = next((n for n, x in enumerate(ls) if x >= lesion_mm + 2 * MARGIN_MM), len(ls) - 1)
    d, length = ds[min(i + diameter_step, len(ds) - 1)], ls[min(j + length_step, len(ls) - 1)]
    return next(s for s in spec.sizes if spec.size(s)["diameter"] == d and spec.size(s)["length"] == length)
