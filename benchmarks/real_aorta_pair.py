"""Pre- and post-stent flow on the real aorta of the shared TCIA trunk CT, from the plan, in one call.

    .venv/bin/python benchmarks/real_aorta_pair.py OUT_DIR [--h-max 3.5] [--flow 20] [--np 2] [--stage case|pair]

Stage ``case`` (about 2 min): DICOM -> ``vessel`` preset -> case with the planning scan, its
segmentation and the vessel model; stage ``plan``: the narrowest section on the lumen's centrelines
(the study's own stenosis detection) and plan A with a catalog stent there (the vascular demo's iliac
stenosis measurement follows the right iliac over only 3 slices on this CT and gives up); stage
``pair``: :func:`surgiplan.core.simulation.vessel.case_study.run_pre_post` on plan A,
``vessel-rest`` (native + stented, the same inflow and Murray resistances), as
``surgiplan simulate OUT_DIR/case --plan A --study vessel-rest --np 2 --option h_max_mm=3.5`` does.
Prints the figures; ``OUT_DIR/pair_summary.json`` holds the pre/post rows. Needs ../shared/data.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

CT = Path(__file__).resolve().parents[2] / "shared" / "data" / "ct" / "ct_abdomen_spine_tcia" / "dicom"


def build_case(out: Path):
    """DICOM -> vessel preset -> case (planning scan, segmentation, vessel model); saved."""
    from surgiplan.core.case import Case
    from surgiplan.core.segmentation.presets import apply_preset
    from surgiplan.core.segmentation.scan_source import load_scan
    from surgiplan.core.surfaces.models import build_models

    t0 = time.perf_counter()
    volume = load_scan(CT)
    seg = apply_preset(volume, "vessel")
    print(f"vessel preset: {time.perf_counter() - t0:.0f} s, segments {[s.name for s in seg.segments]}")
    case = Case.new(out / "case", name="tcia_trunk")
    case.add_scan("planning", volume, segmentation=seg)
    for m in build_models(seg, ["vessel"], smooth=True, decimate_to=200_000):
        case.add_model(m.name, m.mesh, scan="planning", segment=m.name)
    case.save()


def build_plan(out: Path):
    """Plan A: a stent at the narrowest section the vessel model's centrelines find (the same detection
    the flow study reports), sized as the vascular sample's plan A (smallest catalog diameter >= the
    healthy reference, shortest length covering the lesion with 5 mm margins), axis along the vessel."""
    import numpy as np

    from surgiplan.core.case import Case
    from surgiplan.core.planning import transforms as tf
    from surgiplan.core.planning.plan import PlacedImplant
    from surgiplan.core.planning.sizing import stent_size_for
    from surgiplan.core.simulation.vessel.geometry import lumen_mask_from_case
    from surgiplan.core.vessels import centreline as C
    from surgiplan.core.vessels.lumen_surface import lumen_field, surface_from_field
    from surgiplan.demo.vascular import STENT_ID

    t0 = time.perf_counter()
    case = Case.open(out / "case")
    volume, mask = lumen_mask_from_case(case)
    lf = lumen_field(volume, mask)
    print("lumen field topology:", lf.topology)
    surf = surface_from_field(lf)
    ends = C.open_ends(lf)
    inlet = max(ends, key=lambda e: e.centre[2])
    outlets = [e for e in ends if e is not inlet]
    cls = C.centrelines(lf, inlet, outlets)
    for cl in cls:
        C.measure_radius(surf, cl)
    found = C.find_stenoses(cls, C.branch_points(cls))
    for s in found:
        print(f"narrowing: {s.percent_diameter:.1f} % diameter ({s.minimal_diameter_mm:.1f} vs "
              f"{s.reference_diameter_mm:.1f} mm), {s.percent_area:.1f} % area, at {np.round(s.point, 1)} mm, "
              f"length {s.length_mm:.1f} mm, centreline {s.centreline}")
    st = max(found, key=lambda s: s.percent_diameter)
    size = stent_size_for(st.reference_diameter_mm, st.length_mm)
    x = [1.0, 0.0, 0.0] if abs(st.direction[0]) < 0.9 else [0.0, 1.0, 0.0]
    pose = tf.frame(st.point, x, st.direction)
    if "A" not in case.plans:
        case.new_plan("A", note=f"stent {size} mm at the narrowest section ({st.percent_diameter:.0f} % diameter)")
        case.add_implant("A", PlacedImplant("stent", STENT_ID, size, pose, "none", ""))
    case.save()
    from surgiplan.core.fileio import atomic_write_text

    atomic_write_text(out / "stenosis.json", json.dumps({"narrowings": [s.to_dict() for s in found],
                                                         "stent": {"size": size, "centre_mm": st.point.tolist(),
                                                                   "axis": st.direction.tolist()},
                                                         "topology": lf.topology}, indent=1, default=float))
    print(f"plan A: stent {size} at {np.round(st.point, 1)}; {time.perf_counter() - t0:.0f} s")


def run_pair(out: Path, h_max: float, flow: float, n_ranks: int):
    from surgiplan.core.simulation.vessel.case_study import run_pre_post

    t0 = time.perf_counter()
    s = run_pre_post(out / "case", "A", "vessel-rest", n_ranks=n_ranks,
                     options={"h_max_mm": h_max, "flow_mL_s": flow})
    pp = s.get("pre_post", {})
    from surgiplan.core.fileio import atomic_write_text

    atomic_write_text(out / "pair_summary.json", json.dumps({"wall_s": time.perf_counter() - t0, "pre_post": pp,
                                                             "solver": s.get("solver")}, indent=1, default=str))
    print(f"pair: {time.perf_counter() - t0:.0f} s wall; native {pp.get('native', {}).get('status')}")
    for r in pp.get("rows", []):
        print(f"  {r['quantity']:45s} {r.get('region') or '':12s} {r['pre']!s:>12} -> {r['post']!s:>12} {r['unit']}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--h-max", type=float, default=3.5)
    ap.add_argument("--flow", type=float, default=20.0)
    ap.add_argument("--np", type=int, default=2)
    ap.add_argument("--stage", choices=["case", "plan", "pair", "all"], default="all")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    if a.stage in ("case", "all"):
        build_case(a.out)
    if a.stage in ("plan", "all"):
        build_plan(a.out)
    if a.stage in ("pair", "all"):
        run_pair(a.out, a.h_max, a.flow, a.np)


if __name__ == "__main__":
    main()
