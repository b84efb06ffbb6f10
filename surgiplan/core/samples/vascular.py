"""Contrast CT angiography of the abdominal aorta with a focal right common iliac stenosis.

The infrarenal aorta (tapering), renal artery stumps, the bifurcation and both
common iliac arteries are tubes with exact circular cross-sections; the right
common iliac narrows with a smooth cosine profile to the given percent
diameter stenosis, the plaque filling the space between lumen and wall. The
lumen volume inside the scanned field is integrated numerically with partial-volume
coverage on a 0.5 mm grid (0.25, 0.35 and 0.5 mm grids agree within 0.1 %).
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.samples.anatomy import bone_layers
from surgiplan.core.samples.dicom_writer import SeriesHeader
from surgiplan.core.samples.ground_truth import Truth
from surgiplan.core.samples.lumbar import abdomen_layers, lumbar_spine
from surgiplan.core.samples.phantom import Grid, Layer, coverage
from surgiplan.core.samples.scene import Scene, axial_grid
from surgiplan.core.samples.sdf import Capsule, Shape, Sphere, Subtract, Tube, Union, unit
from surgiplan.core.samples.tissues import COLORS, CT

S1_TOP = np.array([0.0, 25.0, -100.0])
STENOSIS_PERCENT = 65.0  # diameter reduction, %
STENOSIS_LENGTH = 14.0  # mm, full length of the narrowing
WALL_MM = 1.6
CIA_LENGTH = 58.0
CIA_R = {"right": 5.0, "left": 5.2}
AORTA_R_TOP, AORTA_R_BIF = 10.0, 8.5


def stenosis_profile(r_ref: float, s0: float, length: float, percent: float, total: float):
    """Radius (mm) along a tube of length ``total`` (t in [0, 1]): cosine narrowing centred at s0 mm."""

    def fn(t):
        s = np.asarray(t) * total
        u = np.clip((s - s0) / (length / 2), -1.0, 1.0)
        bump = 0.5 * (1.0 + np.cos(np.pi * u))
        return r_ref * (1.0 - percent / 100.0 * bump)

    return fn


def lumen_volume_ml(lumen: Shape, grid: Grid, step: float = 0.5) -> float:
    """Volume (mL) of ``lumen`` inside the grid's z range (between the first and last slice planes
    extended by half a slice), by partial-volume integration on a ``step`` mm grid."""
    lo, hi = lumen.box()
    z0 = grid.origin[2] - 0.5 * grid.spacing[2]
    z1 = grid.origin[2] + (grid.shape[0] - 0.5) * grid.spacing[2]
    lo = np.array([lo[0], lo[1], max(lo[2], z0)])
    hi = np.array([hi[0], hi[1], min(hi[2], z1)])
    xs = np.arange(lo[0], hi[0] + step, step, dtype=np.float32)
    ys = np.arange(lo[1], hi[1] + step, step, dtype=np.float32)
    zs = np.arange(lo[2] + step / 2, hi[2], step, dtype=np.float32)
    total = 0.0
    for k0 in range(0, len(zs), 32):
        z = zs[k0:k0 + 32][:, None, None]
        d = lumen.sdf(xs[None, None, :], ys[None, :, None], z)
        total += float(coverage(d, step).sum(dtype=np.float64))
    return total * step**3 / 1000.0


def build(size: str, seed: int) -> Scene:
    """The aorto-iliac CT angiography scene at ``size`` ('small' or 'full')."""
    verts, sacrum, discs = lumbar_spine(S1_TOP)
    by = {v.name: v for v in verts}
    l3 = by["L3"]
    y_aorta = float(l3.centre[1]) - 16.0 - AORTA_R_TOP - 5.0
    ren_z = float(0.5 * (by["L1"].bottom[0][2] + by["L2"].top[0][2]))
    bif = np.array([8.0, y_aorta + 4.0, float(by["L4"].centre[2])])
    top = np.array([12.0, y_aorta, ren_z + 40.0])
    z0, z1 = bif[2] - 50.0, ren_z + 25.0
    grid = axial_grid((0.0, 20.0), 300.0, (z0, z1), size, small_mm=2.0, small_fov_mm=260.0)

    aorta = Capsule(top, bif, AORTA_R_TOP, AORTA_R_BIF)
    aorta_outer = Capsule(top, bif, AORTA_R_TOP + WALL_MM, AORTA_R_BIF + WALL_MM)
    ren = {}
    for side, sx in (("right", -1.0), ("left", 1.0)):
        o = np.array([top[0] + sx * 6.0, y_aorta + 2.0, ren_z + (2.0 if side == "left" else -3.0)])
        ren[side] = (o, o + np.array([sx * 55.0, 20.0, -6.0]))
    renals = [Capsule(a, b, 3.0, 2.6) for a, b in ren.values()]
    renals_outer = [Capsule(a, b, 3.0 + 1.0, 2.6 + 1.0) for a, b in ren.values()]
    cia, cia_outer, cia_end, sten = {}, {}, {}, None
    for side, sx in (("right", -1.0), ("left", 1.0)):
        d = unit(np.array([sx * 0.48, 0.25, -0.84]))
        end = bif + CIA_LENGTH * d
        cia_end[side] = end
        r = CIA_R[side]
        if side == "right":
            s0 = 26.0
            fn = stenosis_profile(r, s0, STENOSIS_LENGTH, STENOSIS_PERCENT, CIA_LENGTH)
            sten = {"centre": bif + s0 * d, "dir": d, "r_ref": r, "r_min": float(fn(s0 / CIA_LENGTH))}
        else:
            def fn(t, r=r):
                return np.full(np.shape(t), r, np.float32)
        cia[side] = Tube(bif, end + 10 * d, lambda t, fn=fn: fn(np.clip(t * (CIA_LENGTH + 10) / CIA_LENGTH, 0, 1)),
                         r, round_ends=True)
        cia_outer[side] = Capsule(bif, end + 10 * d, r + WALL_MM)
    lumen = Union([aorta, *renals, cia["right"], cia["left"]], k=3.0)
    outer = Union([aorta_outer, *renals_outer, cia_outer["right"], cia_outer["left"]], k=3.0)
    wall = Subtract(outer, lumen)

    truth = Truth()
    lab_lumen = truth.label(1, "aorta_lumen", COLORS["aorta_lumen"])
    lab_wall = truth.label(2, "vessel_wall", COLORS["vessel_wall"])
    lab_vert = truth.label(3, "vertebra", COLORS["vertebra"])
    layers = abdomen_layers(z0, z1, float(l3.centre[1]), contrast=True, kidneys_z=ren_z - 5.0)
    layers += [
        Layer("inferior vena cava", Capsule([-20.0, y_aorta + 2.0, z1 + 10], [-14.0, y_aorta + 6.0, bif[2] - 5], 12.0),
              "blood"),
        Layer("common iliac veins", Union([Capsule([-14.0, y_aorta + 6.0, bif[2] - 5],
                                                   [sx * 45.0, y_aorta + 30.0, z0 - 20], 7.5)
                                           for sx in (-1.0, 1.0)]), "blood"),
        Layer("periaortic fat", Subtract(Capsule(top, bif, AORTA_R_TOP + 6.0, AORTA_R_BIF + 6.0), outer), "fat"),
    ]
    for name, d in discs.items():
        layers.append(Layer(name, d["shape"], "disc"))
    for v in verts:
        layers += bone_layers(v.name, v.shape, lab_vert, cortex_mm=1.2, inner="trabecular_spine")
    layers += bone_layers("sacrum", sacrum, lab_vert, cortex_mm=1.2, inner="trabecular_spine")
    layers += [
        Layer("vessel wall", wall, "vessel_wall", lab_wall),
        Layer("plaque", Subtract(Capsule(bif, cia_end["right"], CIA_R["right"] + 0.2), lumen), "plaque", lab_wall),
        Layer("calcification", Union([Sphere(sten["centre"] + np.array([-1.0, 0.0, 0.0]) * (CIA_R["right"] + 0.4)
                                             + np.array([0.0, 2.0, 0.0]), 1.3),
                                      Sphere(bif + np.array([2.0, -AORTA_R_BIF - 0.6, 12.0]), 1.2)]),
              "calcium", lab_wall),
        Layer("aorta lumen", lumen, "contrast", lab_lumen),
    ]

    c, dvec = sten["centre"], sten["dir"]
    truth.landmark("stenosis_centre", c, "centre of the narrowest cross-section of the right common iliac "
                   "artery, on its centreline")
    truth.axis("stenosis_vessel_axis", c, dvec, "centreline direction of the right common iliac artery at the "
               "stenosis, pointing distally")
    truth.landmark("aortic_bifurcation", bif, "aortic bifurcation: where the aortic and both iliac centrelines meet")
    for side in ("right", "left"):
        truth.landmark(f"renal_artery_origin_{side}", ren[side][0], f"{side} renal artery origin on the aortic "
                       "centreline side (start of the renal centreline)")
        truth.landmark(f"iliac_bifurcation_{side}", cia_end[side], f"{side} common iliac artery end (iliac "
                       "bifurcation) on its centreline; may lie below the scanned field")
        truth.quantity(f"common_iliac_diameter_{side}", 2 * CIA_R[side], "mm", f"{side} common iliac lumen "
                       "diameter away from the stenosis")
    truth.quantity("stenosis_reference_diameter", 2 * sten["r_ref"], "mm", "lumen diameter of the right common "
                   "iliac proximal and distal to the stenosis")
    truth.quantity("stenosis_minimal_diameter", 2 * sten["r_min"], "mm", "minimal lumen diameter at the stenosis")
    truth.quantity("stenosis_percent_diameter", 100 * (1 - sten["r_min"] / sten["r_ref"]), "%",
                   "diameter stenosis: 1 - minimal / reference diameter (NASCET-like)")
    truth.quantity("stenosis_percent_area", 100 * (1 - (sten["r_min"] / sten["r_ref"]) ** 2), "%",
                   "area stenosis: 1 - minimal / reference lumen area")
    truth.quantity("stenosis_length", STENOSIS_LENGTH, "mm", "length of the narrowed segment along the centreline "
                   "(cosine profile: diameter reduced over this length)")
    truth.quantity("aortic_diameter_infrarenal",
                   2 * (AORTA_R_TOP + (AORTA_R_BIF - AORTA_R_TOP) * 40 / np.linalg.norm(top - bif)),
                   "mm", "aortic lumen diameter 40 mm below the top of the modelled aorta "
                   "(just below the renal arteries)")
    truth.quantity("aortic_diameter_bifurcation", 2 * AORTA_R_BIF, "mm", "aortic lumen diameter at the bifurcation")
    truth.quantity("vessel_wall_thickness", WALL_MM, "mm", "thickness of the aortic and iliac wall outside the plaque")
    truth.quantity("lumen_volume", lumen_volume_ml(lumen, grid), "mL", "volume of the aorta_lumen structure "
                   "(aorta, renal stumps, common iliacs) inside the scanned slab (between the outer slice "
                   "boundaries), integrated with partial-volume coverage on a 0.5 mm grid from the analytic surface "
                   "(0.25-0.5 mm grids agree within 0.1 %)")
    header = SeriesHeader(
        modality="CT", patient_name="SYNTHETIC^AORTA", patient_id="SYN-AORTA-0004", patient_sex="M",
        patient_birth_date="19500101", study_description="CTA ABDOMINAL AORTA (synthetic phantom)",
        series_description=f"CTA 1.0 mm ARTERIAL ({size})" if size == "full" else f"CTA 2.0 mm ARTERIAL ({size})",
        body_part="ABDOMEN", patient_position="FFS", uid_entropy=["vascular", size, str(seed)],
        windows=[(150.0, 700.0, "ANGIO"), (40.0, 400.0, "SOFT TISSUE")],
        extra={"KVP": "100", "ConvolutionKernel": "B30f", "XRayTubeCurrent": 280,
               "ContrastBolusAgent": "Iodinated contrast (synthetic)", "ContrastBolusRoute": "IV",
               "ReconstructionDiameter": f"{grid.spacing[0] * grid.shape[2]:.1f}", "GantryDetectorTilt": "0"},
    )
    full = size == "full"
    return Scene(
        name="vascular", grid=grid, layers=layers, tissues=CT, background=-1000.0,
        psf_fwhm_mm=(0.9, 0.9, 1.1) if full else (1.0, 1.0, 1.0),
        noise_sd=18.0 if full else 10.0, header=header, truth=truth,
    )
