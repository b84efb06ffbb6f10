"""Render the hip-bones preset on the issue-23 real CT (TotalSegmentator's example CT) for the team
to look at: zoomed axial slices through both hips (femur, hip bone and the hand reference's head
circles), coronal slices through the heads, axial slices through the iliac wings (the spanned
holes in red), and a 3D view of all pieces from the front.

Usage: ``.venv/bin/python tools/render_real_hip_segmentation.py [OUT_DIR]`` (default
docs/images/segmentation; run under ``xvfb-run`` for the 3D view); needs
``SURGIPLAN_EXTRA_DATA``/totalseg_example_ct (see its README).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from surgiplan.core.segmentation.presets import apply_preset  # noqa: E402
from surgiplan.core.segmentation.scan_source import load_scan  # noqa: E402

COLORS = {"femur_left": "#00d000", "femur_right": "#00c8ff", "hip_bone_left": "#ff8c00",
          "hip_bone_right": "#d040d0", "sacrum": "#e6c300", "lumbar_spine": "#ff4040", "pelvis": "#e6c300",
          "metal": "#ff0000", "other_bone": "#888888"}
REF = Path(__file__).parents[1] / "tests" / "data" / "hip_reference_totalseg_ct" / "femoral_head_circles.json"


def _outline(ax, img, masks: dict, title: str, origin="upper", vmin=-100, vmax=500):
    ax.imshow(img, cmap="gray", vmin=vmin, vmax=vmax, origin=origin, interpolation="nearest")
    for name, m in masks.items():
        if m.any():
            ax.contour(m.astype(float), [0.5], colors=COLORS.get(name, "w"), linewidths=1.4)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def slices(vol, seg, out: Path, without_wing_fill=None) -> None:
    a = np.asarray(vol.array)
    ms = {n: seg.mask(n) for n in seg.names if n not in ("other_bone",)}
    ref = json.loads(REF.read_text())
    ks = (6, 10, 13, 15, 17, 19)
    fig, axes = plt.subplots(4, len(ks), figsize=(3.3 * len(ks), 14))
    for row, (side, isl) in enumerate((("femur_left", slice(8, 56)), ("femur_right", slice(66, 114)))):
        for ax, k in zip(axes[row], ks, strict=True):
            _outline(ax, a[k, 22:70, isl], {n: m[k, 22:70, isl] for n, m in ms.items()},
                     f"{side.replace('femur_', '')} hip, axial {k}")
            if str(k) in ref[side]:
                cj, ci, r = ref[side][str(k)]
                ax.add_patch(plt.Circle((ci - isl.start, cj - 22), r, fill=False, ls="--", color="white", lw=1))
    for ax, (j, isl) in zip(axes[2, :4], ((40, slice(6, 60)), (46, slice(6, 60)), (40, slice(62, 116)),
                                           (46, slice(62, 116))), strict=True):
        _outline(ax, a[:36, j, isl], {n: m[:36, j, isl] for n, m in ms.items()}, f"coronal row {j}", origin="lower")
    added = None
    if without_wing_fill is not None:
        added = (seg.mask("hip_bone_left") | seg.mask("hip_bone_right")) & ~without_wing_fill
        ms_wing = {n: ms[n] for n in ("hip_bone_left", "hip_bone_right", "sacrum", "lumbar_spine") if n in ms}
    for ax in axes[2, 4:]:
        ax.axis("off")
    for ax, k in zip(axes[3], (40, 44, 47, 50, 53, 56), strict=True):
        if added is None:
            ax.axis("off")
            continue
        _outline(ax, a[k, 10:90, :], {n: m[k, 10:90, :] for n, m in ms_wing.items()}, f"iliac wings, axial {k}")
        if added[k].any():
            ax.contour(added[k, 10:90, :].astype(float), [0.5], colors="red", linewidths=1.6)
    fig.suptitle("hip-bones on TotalSegmentator's example CT (osteoporotic, 3 mm): femur_left green, femur_right "
                 "cyan, hip_bone_left orange, hip_bone_right magenta, sacrum yellow, lumbar spine red outline, "
                 "white dashed: hand reference head circles; bottom row: wing holes spanned (red)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(out / "hip_real_osteoporotic_slices.png", dpi=70)
    plt.close(fig)


def view_3d(vol, seg, path: Path) -> None:
    import pyvista as pv

    from surgiplan.core.surfaces.extract import mask_to_surface

    pv.OFF_SCREEN = True
    p = pv.Plotter(off_screen=True, window_size=(1100, 1000))
    p.set_background("white")
    for name in seg.names:
        m = seg.mask(name)
        if m.any():
            p.add_mesh(mask_to_surface(m, vol.spacing, vol.origin, vol.direction), color=COLORS.get(name, "#aaaaaa"),
                       smooth_shading=True, label=name)
    p.add_legend(bcolor="white", size=(0.22, 0.25))
    p.add_text("hip-bones preset, TotalSegmentator example CT (anterior view)", font_size=12, color="black")
    p.view_vector((0, -1, 0.05), viewup=(0, 0, 1))
    p.screenshot(str(path))
    p.close()


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/images/segmentation")
    folder = Path(os.environ.get("SURGIPLAN_EXTRA_DATA", "/work/extra_data")) / "totalseg_example_ct"
    out.mkdir(parents=True, exist_ok=True)
    vol = load_scan(folder / "example_ct.nii.gz")
    seg = apply_preset(vol, "hip-bones")
    from surgiplan.core.segmentation import presets

    keep = presets._fill_wing_holes
    presets._fill_wing_holes = lambda pelvis, *a, **k: pelvis  # the same preset without the wing fill
    try:
        plain = apply_preset(vol, "hip-bones")
    finally:
        presets._fill_wing_holes = keep
    before = plain.mask("hip_bone_left") | plain.mask("hip_bone_right")
    slices(vol, seg, out, without_wing_fill=before)
    view_3d(vol, seg, out / "hip_real_osteoporotic_3d.png")
    vml = seg.voxel_volume_mm3 / 1000.0
    print({n: round(float(seg.mask(n).sum() * vml), 1) for n in seg.names})
