"""Render the knee sample's femur from distal with the fitted distal condylar points (red) and the
ground truth (green): ``python docs/images/planning/render_knee_condyles.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyvista as pv

from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.auto_knee import fit_knee_landmarks
from surgiplan.core.samples import sample_path
from surgiplan.core.segmentation import read_segmentation
from surgiplan.core.surfaces import segment_to_surface

OUT = Path(__file__).parent / "knee_condyle_tips_distal.png"
KEYS = ("medial_condyle_distal", "lateral_condyle_distal", "knee_centre_femur")


def main() -> None:
    p = sample_path("knee", size="small")
    seg = read_segmentation(p.labels, labels_json=p.labels_json)
    femur, tibia = (segment_to_surface(seg, n) for n in ("femur", "tibia"))
    gt = p.load_ground_truth()["landmarks"]
    lms = fit_knee_landmarks(femur, tibia, gt["hip_centre"]["position"], gt["ankle_centre"]["position"], "right")
    kf = np.array(gt["knee_centre_femur"]["position"])
    z = tf.unit(np.array(gt["hip_centre"]["position"]) - kf)
    # height along the mechanical axis as colour: the distal surface's lowest 6 mm
    h = (np.asarray(femur.points) - kf) @ z
    femur["height above the distal level (mm)"] = np.clip(h - h.min(), 0, 6)
    pl = pv.Plotter(off_screen=True, window_size=(900, 720))
    pl.set_background("white")
    pl.add_mesh(femur, scalars="height above the distal level (mm)", cmap="bone", smooth_shading=True,
                scalar_bar_args={"color": "black", "title_font_size": 14, "label_font_size": 12})
    for k in KEYS:
        a, g = lms[k].position, np.array(gt[k]["position"])
        pl.add_mesh(pv.Sphere(radius=0.55, center=a - 0.5 * z), color="red")
        pl.add_mesh(pv.Sphere(radius=1.1, center=g - 0.5 * z), color="lime", opacity=0.45)
        pl.add_point_labels(np.array([a - 2.0 * z]), [f"{k}: {np.linalg.norm(a - g):.2f} mm"], font_size=13,
                            point_size=1, shape_opacity=0.7, always_visible=True)
    pl.add_text("Knee sample femur from distal (along the mechanical axis, anterior up)\n"
                "red: fitted   green: sample ground truth", font_size=11, color="black")
    pl.camera_position = [tuple(kf - 200 * z), tuple(kf), (0, -1, 0)]
    pl.camera.zoom(1.6)
    pl.screenshot(str(OUT))
    pl.close()


if __name__ == "__main__":
    main()
