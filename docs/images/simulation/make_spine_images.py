"""Render a finished spine study folder: bone von Mises (lateral view) and the screws (from above).

Usage: xvfb-run -a python make_spine_images.py STUDY_FOLDER OUT.png TITLE
"""
import json
import sys

import numpy as np
import pyvista as pv

folder, out, title = sys.argv[1], sys.argv[2], sys.argv[3]
s = pv.read(f"{folder}/surface.vtp")
summ = json.load(open(f"{folder}/summary.json"))
g = pv.read(f"{folder}/results.vtu")
rng = [0, summ["display_fields"][0]["range"][1]]
p = pv.Plotter(shape=(1, 2), window_size=(1600, 800), off_screen=True)
bone = s.threshold(0.5, scalars="region_id", invert=True)
scr = g.threshold(0.5, scalars="region_id").extract_surface(algorithm="dataset_surface")
c = np.array(bone.center)
p.subplot(0, 0)
p.add_mesh(bone, scalars="von_mises_MPa", clim=rng, cmap="turbo", scalar_bar_args={"title": "bone von Mises (MPa)"})
p.add_text(f"{title}\nleft lateral view (anterior to the left)", font_size=10)
p.camera_position = [tuple(c + [250, 0, 0]), tuple(c), (0, 0, 1)]
p.subplot(0, 1)
p.add_mesh(bone, color="lightgrey", opacity=0.25)
vm = np.asarray(scr.cell_data["von_mises_MPa"]) if "von_mises_MPa" in scr.cell_data else None
p.add_mesh(scr, scalars="von_mises_MPa", cmap="turbo", clim=[0, float(np.percentile(vm, 99))],
           scalar_bar_args={"title": "screw von Mises (MPa)"})
p.add_text("screws (bone transparent), seen from above (anterior up)", font_size=10)
p.camera_position = [tuple(c + [0, 0, 250]), tuple(c), (0, -1, 0)]
p.screenshot(out)
