"""Coronal sections of the predicted density change (hip-remodelling) of plans A and B at 3/12/24 months.

Usage: python docs/images/twin_remodelling/make_images.py CASE_DIR OUT_DIR
(after ``surgiplan simulate CASE --plan A|B --study hip-remodelling``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pyvista as pv

pv.OFF_SCREEN = True


def section(case: Path, plan: str, month: float, plotter, title: str, bar: bool = False) -> None:
    folder = case / "studies" / f"{plan}--hip-remodelling"
    grid = pv.read(folder / "remodel" / "remodel.vtu")
    setup = json.loads((folder / "setup.json").read_text())
    s = setup["stem"]
    axis = np.asarray(s["axis"], float)
    tip, head = np.asarray(s["tip"], float), np.asarray(s["head_centre"], float)
    medial = (head - tip) - np.dot(head - tip, axis) * axis
    normal = np.cross(axis, medial / np.linalg.norm(medial))  # the stem's coronal plane
    cut = grid.slice(normal=normal, origin=tip)
    name = f"density_change_{month:g}_months_percent"
    plotter.add_mesh(cut, scalars=name, cmap="RdBu", clim=[-40, 40], show_scalar_bar=bar,
                     scalar_bar_args={"title": "density change % (model prediction; red: loss)", "color": "black",
                                      "n_labels": 5, "fmt": "%.0f", "position_x": 0.05, "position_y": 0.02,
                                      "width": 0.9})
    surf = pv.read(folder / "surface.vtp")
    stem = surf.threshold(0.5, scalars="region_id")
    plotter.add_mesh(stem.slice(normal=normal, origin=tip), color="black", line_width=2)
    plotter.add_text(title, font_size=11, color="black")
    plotter.view_vector(normal, viewup=axis)
    plotter.camera.zoom(1.3)


def main(case: Path, out: Path) -> None:
    months = (3.0, 12.0, 24.0)
    p = pv.Plotter(shape=(2, 3), window_size=(1500, 1400), border=False)
    p.set_background("white")
    for i, plan in enumerate(("A", "B")):
        for j, m in enumerate(months):
            p.subplot(i, j)
            section(case, plan, m, p, f"plan {plan}, {m:g} months", bar=(i, j) == (1, 2))
    p.screenshot(str(out / "density_change_sections_A_B.png"))
    p.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
