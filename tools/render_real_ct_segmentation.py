"""Render the anatomy presets' results on the issue-23 real CT (TotalSegmentator's example CT) for
the team to look at: spine levels against TotalSegmentator's labels (sagittal, coronal, axial
outlines; 3D) and the femoral heads fitted from one click against the hand reference.

Usage: ``.venv/bin/python tools/render_real_ct_segmentation.py [OUT_DIR]`` (default
docs/images/segmentation); needs ``SURGIPLAN_EXTRA_DATA``/totalseg_example_ct (see its README).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from surgiplan.core.segmentation.presets import apply_preset  # noqa: E402
from surgiplan.core.segmentation.scan_source import load_scan  # noqa: E402

LEVELS = {"sacrum": 26, "L5": 27, "L4": 28, "L3": 29, "L2": 30, "L1": 31}
COLORS = {"sacrum": "#e6c300", "L5": "#00c8c8", "L4": "#d040d0", "L3": "#40d040", "L2": "#ff8c00", "L1": "#4080ff"}


def _outlines(ax, img, ours: dict, ref: np.ndarray | None, title: str, origin="upper"):
    ax.imshow(img, cmap="gray", vmin=-200, vmax=700, origin=origin, interpolation="nearest")
    for name, m in ours.items():
        if m.any():
            ax.contour(m, [0.5], colors=COLORS[name], linewidths=1.6)
    if ref is not None:
        for code in LEVELS.values():
            if (ref == code).any():
                ax.contour(ref == code, [0.5], colors="red", linewidths=0.7, linestyles="dashed")
    ax.set_title(title, fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])


def spine(folder: Path, out: Path) -> None:
    vol = load_scan(folder / "example_ct.nii.gz")
    ref = np.asarray(load_scan(folder / "example_ct_totalseg_vertebrae.nii.gz").array).astype(int)
    seg = apply_preset(vol, "spine-bones")
    a = np.asarray(vol.array)
    ours = {n: seg.mask(n) for n in LEVELS if n in seg.names}
    dice = {n: 2 * (ref == c)[ours[n]].sum() / ((ref == c).sum() + ours[n].sum()) for n, c in LEVELS.items()
            if n in ours and n != "sacrum"}
    mid_i = int(np.median(np.nonzero(ref > 0)[2]))
    mid_j = int(np.median(np.nonzero((ref >= 27) & (ref <= 31))[1]))
    fig = plt.figure(figsize=(18, 11))
    g = fig.add_gridspec(2, 4)
    ax = fig.add_subplot(g[:, 0])
    # sagittal: k up, anterior (+j here) to the right
    _outlines(ax, a[:, :, mid_i], {n: m[:, :, mid_i] for n, m in ours.items()}, ref[:, :, mid_i],
              f"sagittal (column {mid_i})", origin="lower")
    ax.set_xlim(0, 75)
    ax.set_ylim(25, 111)
    ax = fig.add_subplot(g[:, 1])
    _outlines(ax, a[:, mid_j, :], {n: m[:, mid_j, :] for n, m in ours.items()}, ref[:, mid_j, :],
              f"coronal (row {mid_j})", origin="lower")
    ax.set_xlim(20, 100)
    ax.set_ylim(25, 111)
    for n, k in enumerate((47, 61, 72, 85)):
        ax = fig.add_subplot(g[n // 2, 2 + n % 2])
        _outlines(ax, a[k], {q: m[k] for q, m in ours.items()}, ref[k], f"axial slice {k}")
        ax.set_xlim(25, 95)
        ax.set_ylim(70, 15)
    text = "  ".join(f"{n} {d:.3f}" for n, d in dice.items())
    fig.suptitle("spine-bones on TotalSegmentator's example CT (osteoporotic, 3 mm): ours solid, "
                 f"TotalSegmentator's labels red dashed.  3D Dice: {text}", fontsize=12)
    handles = [plt.Line2D([], [], color=c, lw=2, label=n) for n, c in COLORS.items()]
    fig.legend(handles=handles, loc="lower center", ncol=6)
    fig.tight_layout(rect=(0, 0.04, 1, 0.96))
    fig.savefig(out / "spine_osteoporotic_slices.png", dpi=80)
    plt.close(fig)
    _spine_3d(vol, ours, out / "spine_osteoporotic_3d.png")
    print("Dice", {n: round(float(d), 3) for n, d in dice.items()})


def _spine_3d(vol, ours: dict, path: Path) -> None:
    import pyvista as pv

    from surgiplan.core.surfaces.extract import mask_to_surface

    pv.OFF_SCREEN = True
    p = pv.Plotter(off_screen=True, window_size=(1000, 1100))
    p.set_background("white")
    for name, m in ours.items():
        surf = mask_to_surface(m, vol.spacing, vol.origin, vol.direction)
        p.add_mesh(surf, color=COLORS[name], smooth_shading=True)
        c = np.asarray(surf.center)
        p.add_point_labels([c + np.array([70.0, 0, 0])], [name], font_size=20, shape=None, text_color="black",
                           show_points=False)
    p.view_vector((1.0, -0.6, 0.15), viewup=(0, 0, 1))  # from the patient's left front
    p.screenshot(str(path))
    p.close()


def hip_heads(folder: Path, out: Path) -> None:
    from surgiplan.core.segmentation import hip_anatomy
    from surgiplan.core.segmentation.bone_fill import smoothed
    from surgiplan.core.segmentation.scan_axes import spacing_kji
    from tests.core.segmentation.test_hip_real_reference import reference_slices

    vol = load_scan(folder / "example_ct.nii.gz")
    a = np.asarray(vol.array)
    sp = spacing_kji(vol)
    img = smoothed(vol, 0.6)
    heads = {n: hip_anatomy.head_from_seed(img, sp, c) for n, c in
             (("femur_left", (14, 44, 33)), ("femur_right", (15, 45, 88)))}
    ref = reference_slices(a)
    fig, axes = plt.subplots(1, len(ref), figsize=(5 * len(ref), 4.2))
    t = np.linspace(0, 2 * np.pi, 120)
    for ax, (k, masks) in zip(axes, sorted(ref.items()), strict=True):
        ax.imshow(a[k], cmap="gray", vmin=-100, vmax=600, interpolation="nearest")
        for name, col in (("hip_left", "#e6c300"), ("hip_right", "#ff8c00")):
            ax.contour(masks[name], [0.5], colors=col, linewidths=1.0)
        for name, col in (("femur_left", "#00c8c8"), ("femur_right", "#d040d0")):
            ax.contour(masks[name], [0.5], colors="red", linewidths=1.0, linestyles="dashed")
            h = heads[name]
            dk = (k - h.centre[0]) * sp[0]
            if abs(dk) < h.radius_mm:
                r = np.sqrt(h.radius_mm**2 - dk**2) / sp[1]
                ax.plot(h.centre[2] + r * np.cos(t), h.centre[1] + r * np.sin(t), color=col, lw=1.6)
        ax.set_xlim(12, 108)
        ax.set_ylim(66, 24)
        ax.set_title(f"axial slice {k}")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Femoral heads fitted from one click (solid) against the hand reference (red dashed; hip bone "
                 "yellow/orange); patient's left on the image's left", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(out / "hip_real_heads_from_click.png", dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/images/segmentation")
    folder = Path(os.environ.get("SURGIPLAN_EXTRA_DATA", "/work/extra_data")) / "totalseg_example_ct"
    out.mkdir(parents=True, exist_ok=True)
    spine(folder, out)
    hip_heads(folder, out)
