"""Render von Mises and SED-per-Gruen-zone maps of intact vs plan A vs plan B (hip-walking).

    surgiplan simulate CASE --plan A --study hip-walking   (and --plan B)
    xvfb-run -a python docs/images/simulation/make_hip_images.py CASE
"""

import sys

import numpy as np
import pyvista as pv

pv.OFF_SCREEN = True
OUT = "docs/images/simulation"
root = sys.argv[1] + "/studies"


def _bone(vtu):
    g = pv.read(vtu)
    rid = np.asarray(g.cell_data["region_id"]) if "region_id" in g.cell_data else np.zeros(g.n_cells)
    return g.extract_cells(rid == 0).cell_data_to_point_data().extract_surface(algorithm="dataset_surface")


def _stem(vtu):
    g = pv.read(vtu)
    return g.extract_cells(np.asarray(g.cell_data["region_id"]) == 1).extract_surface(algorithm="dataset_surface")


items = [("intact", _bone(f"{root}/A--hip-walking/intact/results.vtu"), None),
         ("plan A", _bone(f"{root}/A--hip-walking/results.vtu"), _stem(f"{root}/A--hip-walking/results.vtu")),
         ("plan B", _bone(f"{root}/B--hip-walking/results.vtu"), _stem(f"{root}/B--hip-walking/results.vtu"))]
for field, label, clim, cmap, fname in (
        ("von_mises_MPa", "von Mises stress (MPa)", (0, 30), "jet", "von_mises_intact_A_B.png"),
        ("sed_change_percent_by_gruen_zone", "SED change vs intact per Gruen zone (%)", (-100, 100), "RdBu",
         "sed_gruen_A_B.png")):
    p = pv.Plotter(shape=(1, 3), window_size=(1500, 900), off_screen=True)
    for k, (name, bone, stem) in enumerate(items):
        p.subplot(0, k)
        if field not in bone.point_data:
            p.add_text(f"{name}: reference (0 %)", font_size=10)
            p.add_mesh(bone, color="lightgrey")
        else:
            p.add_mesh(bone, scalars=field, clim=clim, cmap=cmap,
                       scalar_bar_args={"title": label, "vertical": False, "position_x": 0.1, "width": 0.8})
            p.add_text(name, font_size=12)
        if stem is not None:
            p.add_mesh(stem, color="silver", opacity=0.35)
        p.view_vector((0, -1, 0), viewup=(0, 0, 1))
        p.camera.zoom(1.3)
    p.screenshot(f"{OUT}/{fname}")
    print("saved", fname)
