"""Render the simulation PNGs of docs/images/simulation (run from the repository root).

    .venv/bin/python docs/images/simulation/make_images.py

1. cantilever_von_mises.png: steel cantilever 200 x 10 x 10 mm, P2, 100 N tip load,
   von Mises stress (MPa) on the deformed shape (displacement x 20).
2. pipe_wall_shear.png: R 4 mm, L 100 mm pipe, 20 mL/s blood with a plug (flat) inlet
   profile, steady Navier-Stokes (Re 964): wall shear stress (Pa) falling along the
   developing boundary layer, over a cut-away showing the axial velocity.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pyvista as pv
from mpi4py import MPI  # noqa: F401

from surgiplan.core.simulation import meshes
from surgiplan.core.simulation.results import read_results
from surgiplan.core.simulation.run_study import run_study

HERE = Path(__file__).resolve().parent


def cantilever(work: Path) -> Path:
    meshes.box(200.0, 10.0, 10.0, 2.5)
    meshes.write_msh(work / "beam.msh")
    meshes.finish()
    study = {"physics": "elasticity", "name": "cantilever", "mesh": {"file": "beam.msh"},
             "elasticity": {"degree": 2, "materials": [{"youngs_modulus_MPa": 210000, "poissons_ratio": 0.3}],
                            "boundary_conditions": [{"type": "fixed", "boundary": "x0"},
                                                    {"type": "force", "boundary": "x1", "force_N": [0, 0, -100]}]}}
    (work / "beam.json").write_text(json.dumps(study))
    summary = run_study(work / "beam.json", work / "beam")
    grid = read_results(work / "beam" / "results.xdmf")
    warped = grid.warp_by_vector("displacement_mm", factor=20.0)
    p = pv.Plotter(off_screen=True, window_size=(1400, 560))
    p.set_background("white")
    p.add_mesh(grid.extract_feature_edges(), color="gray", opacity=0.4)
    p.add_mesh(warped, scalars="von_mises_MPa", cmap="turbo", show_edges=False,
               scalar_bar_args={"title": "von Mises stress (MPa)", "color": "black", "vertical": False,
                                "position_x": 0.25, "position_y": 0.05, "width": 0.5, "height": 0.08,
                                "fmt": "%.0f"})
    tip = summary["boundaries"]["x1"]["mean_displacement_mm"][2]
    p.add_text(f"Steel cantilever 200 x 10 x 10 mm, 100 N tip load (P2, clamped at x = 0)\n"
               f"tip deflection {abs(tip):.4f} mm (shown x 20); peak von Mises "
               f"{summary['regions']['all']['von_mises_peak_MPa']:.0f} MPa at the clamped edge",
               font_size=11, color="black", position="upper_left")
    p.camera_position = [(100, -260, 90), (100, 5, -10), (0, 0, 1)]
    out = HERE / "cantilever_von_mises.png"
    p.screenshot(str(out))
    p.close()
    return out


def pipe(work: Path) -> Path:
    if not (work / "pipe.msh").is_file():
        meshes.pipe(4.0, 100.0, 1.0, 25, order=1, wall_size=0.5)
        meshes.write_msh(work / "pipe.msh")
        meshes.finish()
    study = {"physics": "flow", "name": "pipe", "mesh": {"file": "pipe.msh", "unit": "mm"},
             "flow": {"inlet": {"boundary": "inlet", "flow_rate_mL_s": 20.0, "profile": "plug"},
                      "outlets": [{"boundary": "outlet"}], "walls": ["wall"]}}
    (work / "pipe.json").write_text(json.dumps(study))
    if (work / "pipe" / "summary.json").is_file():  # re-render without re-solving
        summary = json.loads((work / "pipe" / "summary.json").read_text())
    else:
        summary = run_study(work / "pipe.json", work / "pipe")
    grid = read_results(work / "pipe" / "results.xdmf")
    grid.points *= 1000.0  # m -> mm for display
    surf = grid.extract_surface().compute_normals(cell_normals=True, point_normals=False)
    wall = surf.extract_cells(np.where(np.abs(surf.cell_data["Normals"][:, 0]) < 0.5)[0])
    half = wall.clip(normal=(0, 1, 0), origin=(0, 0, 0))  # the far half (y > 0) stays
    cut = grid.slice(normal=(0, 1, 0), origin=(0, 0, 0)).translate((0, 0, -12.0))  # section, shown below
    cut.point_data["axial velocity (m/s)"] = cut.point_data["velocity_m_per_s"][:, 0]
    p = pv.Plotter(off_screen=True, window_size=(1400, 600))
    p.set_background("white")
    p.add_mesh(half, scalars="wall_shear_stress_Pa", cmap="viridis", clim=(1.3, 3.0), ambient=0.35,
               scalar_bar_args={"title": "wall shear stress (Pa)", "color": "black", "vertical": False,
                                "position_x": 0.05, "position_y": 0.05, "width": 0.4, "height": 0.08,
                                "fmt": "%.1f"})
    p.add_mesh(cut, scalars="axial velocity (m/s)", cmap="coolwarm", lighting=False,
               scalar_bar_args={"title": "axial velocity (m/s)", "color": "black", "vertical": False,
                                "position_x": 0.55, "position_y": 0.05, "width": 0.4, "height": 0.08,
                                "fmt": "%.2f"})
    f = summary["final_state"]
    p.add_text(f"Pipe R 4 mm, L 100 mm, blood 20 mL/s, flat inlet profile, Re {f['reynolds_number']:.0f}\n"
               f"WSS mean {f['wss_mean_Pa']:.2f} Pa, max {f['wss_max_Pa']:.2f} Pa (developed Poiseuille: 1.39 Pa); "
               f"pressure drop {f['pressure_drop_Pa']:.1f} Pa ({f['pressure_drop_mmHg']:.2f} mmHg)",
               font_size=11, color="black", position="upper_left")
    p.add_text("axial velocity in the mid-plane (section shown below the pipe)", font_size=9,
               color="black", position=(20, 470))
    p.camera_position = [(50, -95, 30), (50, 0, -6), (0, 0, 1)]
    out = HERE / "pipe_wall_shear.png"
    p.screenshot(str(out))
    p.close()
    return out


if __name__ == "__main__":
    import sys

    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    work.mkdir(parents=True, exist_ok=True)
    for fn in (cantilever, pipe):  # noqa: B007
        print(fn(work))
