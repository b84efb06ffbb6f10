"""Pictures of the hip joint on a randomised CT phantom: the CT across the joint and the radii read from it,
and the joint space left out of both bones.

Usage::

    python benchmarks/render_hip_phantom_joint.py SEED OUT.png

Left: the mean CT along the rays from the found head's centre that see the joint space (the rays
:func:`head_radius.fit_layers` uses), against the distance from the centre minus the true radius (mm); vertical
lines at the truth (head surface 0, socket surface + gap), the half-way radius (:func:`hip_anatomy.surface_radius`)
and the layer model's radius and socket surface. Right: the coronal slice through the true head centre, CT
(window -200..1200 HU) with the hip-bones preset's femur (lime) and hip bone (red), the truth outlines over them
(cyan: femur, blue: hip bone; half transparent), and the joint-space voxels taken from both
(:func:`head_radius.joint_shell`, yellow).
"""

from __future__ import annotations

import sys

import numpy as np


def main(seed: int, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import ndimage

    from surgiplan.core.fileio import atomic_write_bytes
    from surgiplan.core.samples.ct_phantom import make_ct_phantom
    from surgiplan.core.segmentation import hip_anatomy
    from surgiplan.core.segmentation.bone_fill import smoothed
    from surgiplan.core.segmentation.head_radius import fit_layers, joint_crossings, joint_shell
    from surgiplan.core.segmentation.presets import _midline_column, apply_preset
    from surgiplan.core.segmentation.scan_axes import spacing_kji
    from surgiplan.core.segmentation.table import body_mask

    vol, truth = make_ct_phantom(seed)
    p = truth["params"]
    (femur, c), = truth["femoral_head_centre_lps"].items()
    r_true, gap = truth["femoral_head_radius_mm"][femur], float(p["gap"])
    img = smoothed(vol, 0.6)
    sp = spacing_kji(vol)
    heads = hip_anatomy.find_heads(img, sp, midline_i=_midline_column(vol, body_mask(vol)))
    ci = vol.world_to_index(np.array([c]))[0][::-1]
    h = min(heads, key=lambda h: np.linalg.norm((np.asarray(h.centre) - ci) * sp))
    fit = fit_layers(img, sp, h.centre, h.radius_mm)
    half = hip_anatomy.surface_radius(img, sp, h.centre, h.radius_mm)
    radii = np.arange(max(5.0, h.radius_mm - 8.0), h.radius_mm + 8.0, 0.25)
    vals, _ = hip_anatomy._ray_samples(img, sp, h.centre, radii)
    rows = [x[0] for x in joint_crossings(vals, radii)]
    seg = apply_preset(vol, "hip-bones")

    fig, ax = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [1, 1.1]})
    a = ax[0]
    a.plot(radii - r_true, vals[rows].mean(axis=0), "k-", lw=1.5, label=f"mean CT, {len(rows)} rays that see the joint")
    a.axvline(0.0, color="c", lw=2, label="truth: head surface, socket surface")
    a.axvline(gap, color="c", lw=2)
    if half is not None:
        a.axvline(half - r_true, color="orange", ls="--", label=f"half-way radius: {half - r_true:+.2f} mm")
    if fit is not None:
        a.axvline(fit.radius_mm - r_true, color="m", ls="-", label=f"layer model: {fit.radius_mm - r_true:+.2f} mm, "
                  f"gap {fit.gap_mm:.2f} mm (truth {gap:.2f})")
        a.axvline(fit.radius_mm + fit.gap_mm - r_true, color="m", ls=":")
    a.set_xlim(-7, 8)
    a.set_xlabel("distance from the found centre minus the true radius (mm)")
    a.set_ylabel("smoothed CT (HU)")
    a.set_title(f"phantom {seed}: joint {gap:.2f} mm, cortex {p['cortex']:.2f} mm, slices {p['slice']:.2f} mm")
    a.legend(fontsize=8, loc="lower left")

    j = int(round(ci[1]))
    ct = np.asarray(vol.array, np.float32)[:, j, :]
    b = ax[1]
    ext = [-0.5, ct.shape[1] - 0.5, -0.5, ct.shape[0] - 0.5]
    b.imshow(np.clip((ct + 200) / 1400, 0, 1), cmap="gray", origin="lower", extent=ext,
             aspect=sp[0] / sp[2], interpolation="nearest")

    def edge(m):
        return m & ~ndimage.binary_erosion(m)

    layers = [(seg.mask(femur)[:, j, :], (0.6, 1, 0)),
              (seg.mask("pelvis")[:, j, :] if "pelvis" in seg.names else np.zeros_like(ct, bool), (1, 0, 0)),
              (truth["masks"][femur][:, j, :], (0, 1, 1)), (truth["masks"]["pelvis"][:, j, :], (0.2, 0.4, 1))]
    if fit is not None:
        layers.append((joint_shell(img.shape, sp, h.centre, fit, img=img)[:, j, :], (1, 1, 0)))
    for n, (m, col) in enumerate(layers):
        rgba = np.zeros((*m.shape, 4))
        rgba[..., :3] = col
        rgba[..., 3] = (m if n == 4 else edge(m)) * (0.9 if n == 4 else 0.45 if n >= 2 else 0.9)
        b.imshow(rgba, origin="lower", extent=ext, aspect=sp[0] / sp[2], interpolation="nearest")
    kc, ic = ci[0], ci[2]
    w = (r_true + 20) / sp[2]
    b.set_xlim(ic - w, ic + w)
    b.set_ylim(kc - (r_true + 20) / sp[0], kc + (r_true + 20) / sp[0])
    b.set_title(f"coronal, j = {j}: truth femur cyan, hip bone blue; ours lime / red; joint space taken: yellow",
                fontsize=9)
    b.set_xlabel("i (column)")
    b.set_ylabel("k (slice)")
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write_bytes(out, buf.getvalue())
    print(out)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
