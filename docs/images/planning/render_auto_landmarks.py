"""Render the automatic landmarks (red) beside the sample ground truth (green) on the hip, knee
and spine sample models: ``python docs/images/planning/render_auto_landmarks.py``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyvista as pv

from surgiplan.core.planning.auto_knee import fit_knee_landmarks
from surgiplan.core.planning.auto_landmarks import fit_hip_landmarks
from surgiplan.core.planning.auto_spine import fit_spine_landmarks
from surgiplan.core.samples import sample_path
from surgiplan.core.segmentation import read_segmentation
from surgiplan.core.surfaces import segment_to_surface

OUT = Path(__file__).parent
BONE = (0.93, 0.87, 0.74)


def _models(name, segments):
    p = sample_path(name, size="small")
    seg = read_segmentation(p.labels, labels_json=p.labels_json)
    return {s: segment_to_surface(seg, s) for s in segments}, p.load_ground_truth()


def _scene(models, lms, gt, keys, camera, path, title, axes=(), radius=2.2, labels=True):
    pl = pv.Plotter(off_screen=True, window_size=(1100, 900))
    pl.set_background("white")
    for m in models.values():
        pl.add_mesh(m, color=BONE, opacity=0.55, smooth_shading=True)
    pts, names = [], []
    for k in keys:
        a = lms[k].position
        pl.add_mesh(pv.Sphere(radius=radius, center=a), color="red")
        g = gt["landmarks"].get(k, {}).get("position")
        if g is not None:
            pl.add_mesh(pv.Sphere(radius=radius * 0.6, center=g), color="green")
            err = np.linalg.norm(a - g)
            names.append(f"{k} {err:.1f} mm")
        else:
            names.append(k)
        pts.append(a)
    for k in axes:
        lm = lms[k]
        pl.add_mesh(pv.Line(lm.position - 5 * lm.direction, lm.position + 45 * lm.direction), color="red",
                    line_width=4)
        g = gt["axes"].get(k)
        if g is not None:
            p0, d = np.array(g["point"]), np.array(g["direction"])
            pl.add_mesh(pv.Line(p0 - 5 * d, p0 + 45 * d), color="green", line_width=2)
    if labels:
        pl.add_point_labels(np.array(pts), names, font_size=12, point_size=1, shape_opacity=0.6,
                            always_visible=True)
    pl.add_text(title + "\nred: automatic   green: sample ground truth", font_size=11, color="black")
    pl.camera_position = camera
    pl.screenshot(str(path))
    pl.close()


def main() -> None:
    models, gt = _models("hip", ("pelvis", "femur_left", "femur_right"))
    lms = fit_hip_landmarks(models["pelvis"], {s: models[f"femur_{s}"] for s in ("left", "right")})
    keys = [k for k in lms if k in gt["landmarks"]]
    _scene(models, lms, gt, keys, [(0, -650, 60), (0, 0, -20), (0, 0, 1)], OUT / "auto_landmarks_hip.png",
           "Hip sample: automatic landmarks (anterior view)", axes=("femoral_canal_axis_left",
                                                                  "femoral_canal_axis_right"))
    models, gt = _models("knee", ("femur", "tibia", "fibula"))
    L = gt["landmarks"]
    lms = fit_knee_landmarks(models["femur"], models["tibia"], L["hip_centre"]["position"],
                             L["ankle_centre"]["position"], "right")
    keys = ["knee_centre_femur", "knee_centre_tibia", "medial_epicondyle", "lateral_epicondyle",
            "medial_condyle_distal", "lateral_condyle_distal"]
    c = np.array(L["knee_centre_femur"]["position"])
    _scene(models, lms, gt, keys, [tuple(c + [-120, -300, 60]), tuple(c), (0, 0, 1)],
           OUT / "auto_landmarks_knee.png", "Knee sample: automatic knee landmarks (anteromedial view)",
           radius=1.6)
    models, gt = _models("spine", ("L3", "L4"))
    lms = fit_spine_landmarks(models)
    keys = [f"pedicle_entry_{lv}_{s}" for lv in ("L3", "L4") for s in ("left", "right")]
    axes = [f"pedicle_axis_{lv}_{s}" for lv in ("L3", "L4") for s in ("left", "right")]
    c = np.mean([lms[k].position for k in keys], axis=0)
    _scene(models, lms, gt, keys, [tuple(c + [0, 320, 40]), tuple(c + [0, -20, 0]), (0, 0, 1)],
           OUT / "auto_landmarks_spine.png", "Spine sample L3-L4: pedicle entry points and axes "
           "(posterior view)", axes=axes, radius=1.3)
    up = lms["superior_endplate_centre_L4"].position - lms["inferior_endplate_centre_L4"].position
    c4 = lms["vertebral_body_centre_L4"].position
    k4 = [k for k in keys if "L4" in k]
    _scene({"L4": models["L4"]}, lms, gt, k4, [tuple(c4 + 260 * up / np.linalg.norm(up)), tuple(c4 + [0, 25, 0]),
                                               (0, -1, 0)],
           OUT / "auto_landmarks_spine_L4_axial.png", "Spine sample L4 seen from above: pedicle axes",
           axes=[a for a in axes if "L4" in a], radius=1.0)

if __name__ == "__main__":
    main()
