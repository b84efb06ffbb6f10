"""Lumbar spine CT: L1-L5 with bodies, pedicles, laminae, processes, discs, sacrum; lordosis.

Pedicle axes, widths and entry points are exact: each pedicle is an elliptic
cylinder of known transverse width and height around a known axis, and the
entry point is where that axis leaves the posterior bone surface.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.samples.anatomy import angle_between, bone_layers, project
from surgiplan.core.samples.dicom_writer import SeriesHeader
from surgiplan.core.samples.ground_truth import Truth
from surgiplan.core.samples.lumbar import LEVELS, TILT, abdomen_layers, lumbar_spine, pedicle_truth
from surgiplan.core.samples.phantom import Layer
from surgiplan.core.samples.scene import Scene, axial_grid
from surgiplan.core.samples.sdf import rotation
from surgiplan.core.samples.tissues import COLORS, CT

S1_TOP = np.array([0.0, 25.0, -100.0])


def build(size: str, seed: int) -> Scene:
    """The lumbar spine CT scene at ``size`` ('small' or 'full')."""
    verts, sacrum, discs = lumbar_spine(S1_TOP)
    z0 = S1_TOP[2] - 40.0
    z1 = float(verts[0].top[0][2]) + 12.0
    grid = axial_grid((0.0, 40.0), 250.0, (z0, z1), size, small_mm=2.0)
    truth = Truth()
    labels = {}
    for i, name in enumerate(LEVELS):
        labels[name] = truth.label(i + 1, name, COLORS["vertebra"])
    for i, name in enumerate(discs):
        labels[name] = truth.label(6 + i, name, COLORS["disc"])
    labels["sacrum"] = truth.label(11, "sacrum", COLORS["bone"])
    layers = abdomen_layers(z0, z1, float(verts[2].centre[1]), contrast=False,
                            kidneys_z=float(verts[1].centre[2]))
    layers += [
        Layer("aorta", Capsule_z(12.0, float(verts[2].centre[1]) - 30.0, 11.0, z0 - 5, z1 + 5), "blood"),
        Layer("inferior vena cava", Capsule_z(-22.0, float(verts[2].centre[1]) - 28.0, 12.0, z0 - 5, z1 + 5), "blood"),
    ]
    for name, d in discs.items():
        layers.append(Layer(name, d["shape"], "disc", labels[name]))
        layers.append(Layer(f"{name} nucleus", d["nucleus"], "nucleus"))
    for v in verts:
        layers += bone_layers(v.name, v.shape, labels[v.name], cortex_mm=1.2,
                              inner="trabecular_spine")
    layers += bone_layers("sacrum", sacrum, labels["sacrum"], cortex_mm=1.2, inner="trabecular_spine")

    for v in verts:
        truth.landmark(f"vertebral_body_centre_{v.name}", v.centre, f"centre of the {v.name} vertebral body")
        truth.landmark(f"superior_endplate_centre_{v.name}", v.top[0], f"centre of the {v.name} superior end plate")
        truth.landmark(f"inferior_endplate_centre_{v.name}", v.bottom[0], f"centre of the {v.name} inferior end plate")
        for side in ("left", "right"):
            p = pedicle_truth(v, side)
            key = f"{v.name}_{side}"
            truth.landmark(f"pedicle_entry_{key}", p["entry"], f"{side} {v.name} pedicle entry point: where the "
                           "pedicle axis leaves the posterior bone surface (on the vertebra surface)")
            truth.landmark(f"pedicle_isthmus_{key}", p["isthmus"], f"centre of the {side} {v.name} pedicle isthmus")
            truth.axis(f"pedicle_axis_{key}", p["entry"], p["axis"], f"{side} {v.name} pedicle axis from the entry "
                       "point through the isthmus centre into the body (ideal screw trajectory)")
            truth.quantity(f"pedicle_width_{key}", p["width"], "mm", f"{side} {v.name} pedicle outer transverse width "
                           "at the isthmus, perpendicular to the pedicle axis")
            truth.quantity(f"pedicle_height_{key}", p["height"], "mm", f"{side} {v.name} pedicle outer "
                           "cranio-caudal height at the isthmus")
            truth.quantity(f"pedicle_screw_length_{key}", float(np.linalg.norm(p["exit"] - p["entry"])), "mm",
                           f"{side} {v.name}: distance along the pedicle axis from the entry point to the anterior "
                           "cortex of the body (bicortical length)")
            ax = p["axis"]
            up = v.frame[:, 2]
            med = angle_between(project(ax, up), -v.frame[:, 1])
            truth.quantity(f"pedicle_medial_angle_{key}", med, "deg", f"{side} {v.name} transverse (medial) "
                           "angle: between the pedicle axis and the vertebra's sagittal plane, in its axial plane")
            truth.quantity(f"pedicle_sagittal_angle_{key}", float(np.degrees(np.arcsin(np.clip(ax @ up, -1, 1)))),
                           "deg", f"{side} {v.name}: angle between the pedicle axis and the {v.name} superior end "
                           "plate (positive = cranial)")
    for name, d in discs.items():
        truth.quantity(f"disc_height_{name[5:]}", d["height"], "mm", f"{name}: distance between the centres of "
                       "the adjacent end plates")
    s1_n = rotation([1.0, 0.0, 0.0], TILT["S1"])[:, 2]
    lordosis = angle_between(project(verts[0].top[1], [1, 0, 0]), project(s1_n, [1, 0, 0]))
    truth.landmark("sacral_endplate_centre", S1_TOP, "centre of the S1 superior end plate")
    truth.quantity("lumbar_lordosis_L1_S1", lordosis, "deg", "Cobb angle between the L1 superior and the S1 "
                   "superior end plates in the sagittal plane")
    truth.quantity("sacral_slope", angle_between(project(s1_n, [1, 0, 0]), [0, 0, 1]), "deg",
                   "angle between the S1 end plate and the horizontal (axial) plane")
    header = SeriesHeader(
        modality="CT", patient_name="SYNTHETIC^SPINE", patient_id="SYN-SPINE-0003", patient_sex="F",
        patient_birth_date="19700101", study_description="CT LUMBAR SPINE (synthetic phantom)",
        series_description=f"L-Spine 1.0 mm BONE ({size})" if size == "full" else f"L-Spine 2.0 mm ({size})",
        body_part="LSPINE", patient_position="HFS", uid_entropy=["spine", size, str(seed)],
        windows=[(500.0, 2000.0, "BONE"), (40.0, 400.0, "SOFT TISSUE")],
        extra={"KVP": "120", "ConvolutionKernel": "B60s", "XRayTubeCurrent": 300,
               "ReconstructionDiameter": f"{grid.spacing[0] * grid.shape[2]:.1f}", "GantryDetectorTilt": "0"},
    )
    full = size == "full"
    return Scene(
        name="spine", grid=grid, layers=layers, tissues=CT, background=-1000.0,
        psf_fwhm_mm=(0.8, 0.8, 1.1) if full else (1.0, 1.0, 1.0),
        noise_sd=22.0 if full else 11.0, header=header, truth=truth,
    )


def Capsule_z(x: float, y: float, r: float, z0: float, z1: float):  # noqa: N802
    """A vertical vessel (capsule) at (x, y) from z0 to z1 (mm)."""
    from surgiplan.core.samples.sdf import Capsule

    return Capsule([x, y, z0], [x, y, z1], r)
