"""Trace the reference outlines of tcia_aorta_outlines.json (see README.md in this folder).

Run from the repository root: ``.venv/bin/python tests/data/tcia_aorta_manual/trace_reference.py``.
The centres were placed by eye on zoomed renders of the slices; each outline is cast along 72 rays
from its centre to the half-way level between the lumen (median of the 5 x 5 pixels at the centre)
and soft tissue (40 HU), the edge a reader sets with a window centred there. Positions in LPS mm.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import ndimage

#: slice index k -> centres (row j, column i) placed by eye, with the vessel they are in
CENTRES = {
    25: [((235, 254), "right common iliac artery"), ((243, 275), "left common iliac artery")],
    40: [((238, 265), "infrarenal aorta")],
    55: [((246, 271), "infrarenal aorta")],
    70: [((258, 280), "aorta at the renal arteries")],
    90: [((272, 282), "aorta at the diaphragm")],
    110: [((283, 285), "descending thoracic aorta")],
    130: [((286, 282), "descending thoracic aorta")],
}
#: the iliac arteries lower down, where each touches its vein (as bright as the late phase makes it):
#: these rays also stop in the darker wall between artery and vein (:func:`outline`, ``valley``)
ILIAC_CENTRES = {
    14: [((250, 233), "right common iliac artery"), ((245, 281), "left common iliac artery")],
    16: [((248, 235), "right common iliac artery"), ((244, 281), "left common iliac artery")],
    18: [((246, 237), "right common iliac artery"), ((243, 279), "left common iliac artery")],
    20: [((241, 239), "right common iliac artery"), ((243, 277), "left common iliac artery")],
}
VALLEY_HU = 15.0  # the wall between artery and vein: this much below the lumen's core, then rising again
TISSUE_HU = 40.0
RAYS = 72
MAX_MM = 20.0


def outline(hu: np.ndarray, centre, px_mm: float, valley: bool = False) -> np.ndarray:
    """(RAYS, 2) outline (row, column, pixels) of the bright lumen around ``centre`` in slice ``hu``.

    ``valley``: a ray also stops at the first dip of its profile (lowest over +-2 pixels) that lies
    ``VALLEY_HU`` below the core and is followed within 3 pixels by a rise of >= 8 HU: the thin
    wall between an artery and the vein it touches, where the vein stays above the half-way level;
    the radius is then median-filtered over 5 rays instead of 3 (a ray that slips through the wall
    at a noisy pixel does not make a spur into the vein).
    """
    j, i = centre
    core = float(np.median(hu[j - 2 : j + 3, i - 2 : i + 3]))
    level = 0.5 * (core + TISSUE_HU)
    step = 0.25
    r = np.arange(0.0, MAX_MM / px_mm, step)
    ang = np.linspace(0.0, 2.0 * np.pi, RAYS, endpoint=False)
    rows = j + np.sin(ang)[:, None] * r[None, :]
    cols = i + np.cos(ang)[:, None] * r[None, :]
    prof = ndimage.map_coordinates(hu.astype(float), [rows, cols], order=1)
    below = prof < level
    first = np.where(below.any(axis=1), below.argmax(axis=1), len(r) - 1)
    if valley:
        w, ahead = int(round(2.0 / step)), int(round(3.0 / step))
        for n in range(RAYS):
            p = prof[n]
            for q in range(w, first[n]):
                if p[q] > core - VALLEY_HU or p[q] > p[max(0, q - w) : q + w + 1].min():
                    continue
                if p[q + 1 : q + 1 + ahead].max() - p[q] >= 8.0:
                    first[n] = q
                    break
    radius = (first - 0.5) * step  # the crossing lies between the last sample above and the first below
    # one noisy pixel does not make a spike
    radius = ndimage.median_filter(radius, size=5 if valley else 3, mode="wrap")
    return np.stack([j + np.sin(ang) * radius, i + np.cos(ang) * radius], axis=1)


def main() -> None:
    import mpi4py.MPI  # noqa: F401 - before dolfinx, as everywhere

    from surgiplan.core.segmentation.scan_source import load_scan

    here = Path(__file__).resolve().parent
    volume = load_scan(here.parents[2].parent / "shared" / "data" / "ct" / "ct_abdomen_spine_tcia" / "dicom")
    px = float(volume.spacing[0])
    sections = []
    todo = [(k, c, False) for k, cs in CENTRES.items() for c in cs]
    todo += [(k, c, True) for k, cs in ILIAC_CENTRES.items() for c in cs]
    for k, ((j, i), name), valley in todo:
        ji = outline(volume.array[k], (j, i), px, valley=valley)
        ijk = np.column_stack([ji[:, 1], ji[:, 0], np.full(len(ji), k)])
        lps = volume.index_to_world(ijk)
        sections.append(
            {
                "vessel": name,
                "slice_z_mm": round(float(lps[0, 2]), 3),
                "outline_lps_mm": [[round(float(x), 2), round(float(y), 2)] for x, y, _ in lps],
                **({"rays": "half-maximum, stopped in the wall at the vein"} if valley else {}),
            }
        )
    doc = {"ct": "ct/ct_abdomen_spine_tcia", "frame": "LPS mm", "method": "see README.md", "sections": sections}
    (here / "tcia_aorta_outlines.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{len(sections)} outlines written")


if __name__ == "__main__":
    main()
