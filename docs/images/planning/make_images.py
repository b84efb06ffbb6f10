"""Render the planning PNGs of this folder (off-screen pyvista).

    .venv/bin/python docs/images/planning/make_images.py CASE_FOLDER OUT_DIR

CASE_FOLDER is a case with bone models pelvis/femur_left/femur_right and plans A, B
(as made by ``surgiplan.demo.hip.build_demo_plans``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyvista as pv

from surgiplan.core.case import Case
from surgiplan.core.planning.catalog import default_catalog

BONE = (0.93, 0.87, 0.74)
COLOURS = {"shell": (0.55, 0.6, 0.7), "body": (0.7, 0.72, 0.78), "neck": (0.7, 0.72, 0.78),
           "head": (0.95, 0.95, 0.97)}


def render_plan(case: Case, plan: str, out: Path, view: str = "anterior", bone_opacity: float = 0.35,
                title: str | None = None) -> None:
    cat = default_catalog()
    p = pv.Plotter(off_screen=True, window_size=(800, 800))
    p.set_background("white")
    for name in case.model_names:
        p.add_mesh(case.get_model(name), color=BONE, opacity=bone_opacity, smooth_shading=True)
    for imp in case.plan(plan).implants.values():
        g = cat.get(imp.catalog_id).geometry(imp.size, imp.options).transformed(imp.transform)
        for part, mesh in g.parts.items():
            p.add_mesh(mesh, color=COLOURS.get(part, (0.6, 0.65, 0.75)), smooth_shading=True,
                       split_sharp_edges=True,
                       specular=0.6, specular_power=30)
    c = case.implant(plan, "cup").transform[:3, 3]
    if view == "anterior":  # patient facing the viewer: camera anterior (-y), left hip on the right
        p.camera_position = [(c[0] - 60, c[1] - 420, c[2] - 40), (c[0] - 60, c[1], c[2] - 40), (0, 0, 1)]
    else:  # lateral view of the left hip, from the patient's left
        p.camera_position = [(c[0] + 420, c[1], c[2] - 40), (c[0], c[1], c[2] - 40), (0, 0, 1)]
    if title:
        p.add_text(title, font_size=11, color="black")
    p.screenshot(str(out))
    p.close()


def render_generic(case: Case, plan: str, out: Path, direction, distance: float, title: str,
                   models=None, bone_opacity: float = 0.45, up=(0, 0, 1)) -> None:
    """All (or the named) bone models and the plan's implants, camera along ``direction`` (LPS)."""
    import numpy as np

    cat = default_catalog()
    p = pv.Plotter(off_screen=True, window_size=(800, 800))
    p.set_background("white")
    for name in models or case.model_names:
        p.add_mesh(case.get_model(name), color=BONE, opacity=bone_opacity, smooth_shading=True)
    centres = []
    for imp in case.plan(plan).implants.values():
        g = cat.get(imp.catalog_id).geometry(imp.size, imp.options).transformed(imp.transform)
        for part, mesh in g.parts.items():
            p.add_mesh(mesh, color=COLOURS.get(part, (0.6, 0.65, 0.75)), smooth_shading=True,
                       split_sharp_edges=True,
                       specular=0.6, specular_power=30)
        centres.append(imp.transform[:3, 3])
    c = np.mean(centres, axis=0)
    d = np.asarray(direction, float) / np.linalg.norm(direction)
    p.camera_position = [tuple(c + distance * d), tuple(c), up]
    p.add_text(title, font_size=11, color="black")
    p.screenshot(str(out))
    p.close()


if __name__ == "__main__" and len(sys.argv) > 3:
    # knee / spine: make_images.py CASE OUT knee|spine
    case = Case.open(sys.argv[1])
    out = Path(sys.argv[2])
    if sys.argv[3] == "knee":
        render_generic(case, "A", out / "knee_plan_A_anterior.png", (0.35, -1, 0.1), 260,
                       f"knee plan A: {case.plan('A').note}", models=["femur", "tibia", "fibula"])
        render_generic(case, "B", out / "knee_plan_B_lateral.png", (-1, -0.15, 0.05), 260,
                       f"knee plan B from the lateral side: {case.plan('B').note}",
                       models=["femur", "tibia", "fibula"], bone_opacity=0.35)
    else:
        render_generic(case, "A", out / "spine_plan_A_posterior.png", (0.0, 1, 0.25), 260,
                       "spine plan A: L3-L4 pedicle screws on the pedicle axes, rods",
                       models=["L2", "L3", "L4", "L5"], bone_opacity=0.5)
        render_generic(case, "B", out / "spine_plan_B_axial.png", (0.0, 0.05, 1), 220,
                       "spine plan B seen from above: 8 deg more convergent (breach in the comparison)",
                       models=["L3"], bone_opacity=0.4, up=(0, -1, 0))
    sys.exit(0)

if __name__ == "__main__":
    case = Case.open(sys.argv[1])
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    from surgiplan.core.planning.measurements import measure_plan

    for plan in ("A", "B"):
        m = {r.key: r.value for r in measure_plan(case, plan)}
        imps = case.plan(plan).implants
        t = (f"plan {plan}: cup {imps['cup'].size} mm at {m['cup_inclination']:.0f} deg inclination / "
             f"{m['cup_anteversion']:.0f} deg anteversion\nstem {imps['stem'].catalog_id} {imps['stem'].size}, "
             f"head {imps['stem'].options.get('head')}; leg length change {m['leg_length_change']:+.1f} mm")
        render_plan(case, plan, out / f"hip_plan_{plan}_anterior.png", "anterior", title=t)
    render_plan(case, "A", out / "hip_plan_A_lateral.png", "lateral", bone_opacity=0.25,
                title="plan A, left hip seen from the left: cup opening faces the viewer (lateral), "
                      "anterior (left) and down")
