"""Per-slice panels of the hip-bones preset on the issue's real hip CT against the v2 reference.

Usage::

    python benchmarks/render_hip_real_v2_slices.py [OUT_FOLDER]   (default docs/images/segmentation)

TotalSegmentator's example CT (``SURGIPLAN_EXTRA_DATA``/totalseg_example_ct, see
tests/data/hip_reference_totalseg_ct_v2/README.md). Per side, every slice v2 traced: the CT
(-150..500 HU), v2's outlines (solid: femur lime, hip bone orange), the preset's (dashed: femur
magenta, hip bone cyan), TotalSegmentator's hip bone (dotted red, a third reader) and, filled
yellow, the marrow that v2's own hip outline encloses in coronal and sagittal slices but v2 left
out (tests/core/segmentation/test_hip_real_reference_v2.py::v2_hip_filled). Titles: Dice per
slice against v2. A third image shows that marrow in a sagittal and a coronal slice; a fourth the
left femur by the dynamic hip screw on k 0-11 with the metal's streaks (:func:`metal.streak_only`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / max(int(a.sum() + b.sum()), 1))


def main() -> None:
    from surgiplan.core.fileio import atomic_write
    from surgiplan.core.segmentation.presets import apply_preset
    from surgiplan.core.segmentation.scan_source import load_scan
    from tests.core.segmentation.test_anatomy_presets_real import extra_data
    from tests.core.segmentation.test_hip_real_reference_v2 import v2_hip_filled, v2_slices

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images" / "segmentation"
    vol = load_scan(extra_data("totalseg_example_ct", "example_ct.nii.gz"))
    ct = np.asarray(vol.array)
    seg = apply_preset(vol, "hip-bones")
    ts_dir = extra_data("totalseg_v1_bones_5de6e4dc")
    ref, filled = v2_slices(ct), v2_hip_filled(ct)
    grid = np.arange(ct.shape[2]), np.arange(ct.shape[1])

    def contour(ax, m, colour, style, width=1.4):
        if m.any():
            ax.contour(*grid, m.astype(float), [0.5], colors=colour, linestyles=style, linewidths=width)

    figs = {}
    for side, cols in (("right", (66, 102)), ("left", (18, 52))):
        fem, hip = seg.mask(f"femur_{side}"), seg.mask(f"hip_bone_{side}")
        ts = np.asarray(load_scan(ts_dir / f"hip_{side}.nii.gz").array) > 0
        ks = sorted(k for k in ref if f"hip_{side}" in ref[k])
        n = len(ks)
        fig, axs = plt.subplots((n + 4) // 5, 5, figsize=(20, 4.3 * ((n + 4) // 5)))
        for ax in axs.flat:
            ax.axis("off")
        for ax, k in zip(axs.flat, ks, strict=False):
            rf, rh = ref[k][f"femur_{side}"], ref[k][f"hip_{side}"]
            ax.imshow(ct[k], cmap="gray", vmin=-150, vmax=500, interpolation="nearest")
            marrow = filled[k][f"hip_{side}"] & ~rh
            ov = np.zeros((*ct.shape[1:], 4))
            ov[marrow] = (1.0, 0.9, 0.0, 0.45)
            ax.imshow(ov, interpolation="nearest")
            contour(ax, rf, "lime", "solid")
            contour(ax, rh, "orange", "solid")
            contour(ax, ts[k], "red", "dotted", 1.0)
            contour(ax, fem[k], "magenta", "dashed")
            contour(ax, hip[k], "cyan", "dashed")
            ax.set_xlim(cols[0] - 0.5, cols[1] - 0.5)
            ax.set_ylim(61.5, 21.5)
            ax.set_title(f"k={k}: femur {_dice(rf, fem[k]):.2f}, hip {_dice(rh, hip[k]):.2f} "
                         f"(filled {_dice(filled[k][f'hip_{side}'], hip[k]):.2f})", fontsize=10)
        fig.suptitle(f"{side} hip, hip-bones preset (dashed: femur magenta, hip bone cyan) vs reference v2 (solid: "
                     "femur lime, hip bone orange); dotted red: TotalSegmentator's hip bone; yellow: marrow inside "
                     "v2's own hip outline (coronal/sagittal) that v2 leaves out. Dice vs v2 (vs v2 filled)",
                     fontsize=10)
        fig.tight_layout()
        figs[f"real_hip_v2_slices_{side}.png"] = fig
    # the marrow behind the right head: enclosed across the planes
    hip, ts = seg.mask("hip_bone_right"), np.asarray(load_scan(ts_dir / "hip_right.nii.gz").array) > 0
    ks = sorted(k for k in ref if "hip_right" in ref[k])
    v2h = np.zeros(ct.shape, bool)
    v2f = np.zeros(ct.shape, bool)
    v2m = np.zeros(ct.shape, bool)
    for k in ks:
        v2h[k], v2f[k] = ref[k]["hip_right"], ref[k]["femur_right"]
        v2m[k] = filled[k]["hip_right"] & ~v2h[k]
    fig, axs = plt.subplots(1, 3, figsize=(18, 6))
    for ax, (title, cut, extent) in zip(axs, (
            ("axial k=14", (14, slice(None), slice(None)), ((66, 102), (61.5, 21.5))),
            ("sagittal i=82 (rows k, head up; columns j)", (slice(None), slice(None), 82), ((20, 62), (1.5, 25.5))),
            ("coronal j=33 (rows k, head up; columns i)", (slice(None), 33, slice(None)), ((66, 102), (1.5, 25.5)))),
            strict=True):
        img = ct[cut]
        ax.imshow(img, cmap="gray", vmin=-150, vmax=500, interpolation="nearest", origin="upper")
        ov = np.zeros((*img.shape, 4))
        ov[v2m[cut]] = (1.0, 0.9, 0.0, 0.45)
        ax.imshow(ov, interpolation="nearest", origin="upper")
        g = np.arange(img.shape[1]), np.arange(img.shape[0])
        for m, colour, style in ((v2h, "orange", "solid"), (v2f, "lime", "solid"), (ts, "red", "dotted"),
                                 (hip, "cyan", "dashed")):
            if m[cut].any():
                ax.contour(*g, m[cut].astype(float), [0.5], colors=colour, linestyles=style, linewidths=1.4)
        ax.set_xlim(extent[0][0] - 0.5, extent[0][1] - 0.5)
        ax.set_ylim(*extent[1])
        ax.set_title(title)
    fig.suptitle("right hip: the posterior column's fatty marrow (yellow, median 55 HU) is enclosed by v2's own hip "
                 "outline (orange) across the planes; TotalSegmentator (dotted red) and the preset (dashed cyan) "
                 "count it as hip bone", fontsize=10)
    fig.tight_layout()
    figs["real_hip_v2_marrow_right.png"] = fig
    # the left femur by the dynamic hip screw (k 0-11, below v2's slices): the preset's femur against
    # TotalSegmentator's (model output; it counts the metal as femur) and the streaks kept out of the bone
    from surgiplan.core.segmentation.bone_fill import smoothed
    from surgiplan.core.segmentation.metal import streak_only
    from surgiplan.core.segmentation.scan_axes import spacing_kji

    fem, metal = seg.mask("femur_left"), seg.mask("metal")
    ts = np.asarray(load_scan(ts_dir / "femur_left.nii.gz").array) > 0
    img = smoothed(vol, 0.6)
    streaks = streak_only(img, metal, spacing_kji(vol), img >= 150.0)
    fig, axs = plt.subplots(3, 4, figsize=(20, 15))
    for ax, k in zip(axs.flat, range(12), strict=True):
        ax.imshow(ct[k], cmap="gray", vmin=-250, vmax=750, interpolation="nearest")
        ov = np.zeros((*ct.shape[1:], 4))
        ov[streaks[k]] = (1.0, 0.15, 0.15, 0.6)
        ax.imshow(ov, interpolation="nearest")
        contour(ax, fem[k], "magenta", "solid", 1.8)
        contour(ax, ts[k], "orange", "dotted", 1.8)
        contour(ax, metal[k], "yellow", "solid", 1.2)
        ax.set_xlim(-0.5, 47.5)
        ax.set_ylim(61.5, 13.5)
        ax.set_title(f"k={k}: preset {int(fem[k].sum())}, TotalSeg. {int(ts[k].sum())} "
                     f"({int((ts[k] & ~metal[k]).sum())} w/o metal) voxels", fontsize=10)
    fig.suptitle("left femur by the dynamic hip screw (k 0-11): hip-bones preset (magenta), TotalSegmentator "
                 "(dotted orange, metal included), metal (yellow),\nstreak voxels kept out of the bone "
                 "(red; inside the femur they are filled back as its marrow)", fontsize=12)
    fig.tight_layout()
    figs["real_hip_left_metal_k00-11.png"] = fig
    for name, f in figs.items():
        atomic_write(out / name, lambda p, f=f: f.savefig(p, format="png", dpi=55))
        print(out / name)


if __name__ == "__main__":
    main()
