"""The ``bone`` preset before and after contrast blood touching the skeleton is cut off (issue 23).

Usage: ``python benchmarks/render_bone_contrast_v2.py SCAN NAME OUTDIR [--3d]``

Runs ``apply_preset(volume, "bone")`` twice on SCAN (a DICOM folder or a volume file; ``sample:hip``
for a sample scan): ``split_touching=False`` (before: only contrast organs that are pieces of their
own leave ``bone``) and the default (after: :func:`contrast_organs.attached_pools` too). Prints one
JSON line: bone and ``contrast`` mL before and after, the bone removed (mL, and how much of it is
>= 500 and >= 700 HU), its slice range, and where a reference exists:

* the arterial-phase CT (``ct_abdomen_contrast_jpeg2000``): TotalSegmentator's aorta mask
  (``segmentation_reference/ct_abdomen_contrast_aorta_mask.nii.gz``, a model output): the share
  of the reference aorta inside the old bone mask that now lies in ``contrast``;
* the TCIA trunk CT: Dice of the ``contrast`` section against each traced aorta outline
  (``tests/data/tcia_aorta_manual``) on the slices where the old bone held the aorta.

Writes ``OUTDIR/bone_contrast_NAME_v2.png`` (axial slices through the removed bone, coronal and
sagittal: outlines of ``bone`` (green) and ``contrast`` (magenta) after, the bone removed filled red) and with ``--3d``
``OUTDIR/bone_contrast_NAME_3d_v2.png`` (front view before | after; needs a display: ``xvfb-run``).
The images are a benchmark's figures, not surgiplan outputs.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def _load(scan: str):
    from surgiplan.core.segmentation.scan_source import load_scan

    if scan.startswith("sample:"):
        from surgiplan.core.samples import sample_path

        return load_scan(sample_path(scan[7:]).volume)
    return load_scan(scan)


def _tcia_dice(volume, contrast, old_bone) -> list:
    from scipy import ndimage
    from skimage.draw import polygon

    rows = []
    data = json.loads((ROOT / "tests" / "data" / "tcia_aorta_manual" / "tcia_aorta_outlines.json").read_text())
    for s in data["sections"]:
        xy = np.asarray(s["outline_lps_mm"])
        ijk = volume.world_to_index(np.column_stack([xy, np.full(len(xy), s["slice_z_mm"])]))
        k = int(round(float(ijk[0, 2])))
        ref = np.zeros(volume.array.shape[1:], bool)
        rr, cc = polygon(ijk[:, 1], ijk[:, 0], ref.shape)
        ref[rr, cc] = True
        in_bone = float((ref & old_bone[k]).sum() / ref.sum())
        lab, _ = ndimage.label(contrast[k])
        hit = np.unique(lab[ref & (lab > 0)])
        ours = np.isin(lab, hit[hit > 0])
        dice = 2.0 * (ours & ref).sum() / max(ours.sum() + ref.sum(), 1)
        rows.append({"k": k, "vessel": s["vessel"], "ref_in_old_bone": round(in_bone, 3),
                     "dice": round(float(dice), 3)})
    return rows


def _aorta_share(volume, contrast, old_bone) -> dict:
    from surgiplan.core.segmentation.scan_source import load_scan

    ref = np.asarray(load_scan(SHARED / "segmentation_reference" / "ct_abdomen_contrast_aorta_mask.nii.gz").array) > 0
    vv = volume.voxel_volume_mm3 / 1000.0
    in_bone = ref & old_bone
    return {
        "ref_aorta_ml": round(float(ref.sum() * vv), 1),
        "ref_aorta_in_old_bone_ml": round(float(in_bone.sum() * vv), 1),
        "moved_to_contrast": round(float((in_bone & contrast).sum() / max(in_bone.sum(), 1)), 3),
        "ref_aorta_in_new_bone_ml": round(float((ref & old_bone & ~contrast).sum() * vv), 1),
    }


def _show(ax, img, masks, ext, title, removed=None):
    ax.imshow(img, cmap="gray", vmin=-200, vmax=1000, extent=ext, interpolation="nearest")
    if removed is not None and removed.any():  # bone before, not after: red, half transparent
        from matplotlib.colors import ListedColormap

        ax.imshow(np.ma.masked_where(~removed, removed.astype(float)), cmap=ListedColormap(["red"]), alpha=0.45,
                  extent=ext, interpolation="nearest")
    for m, col, lw in masks:
        if m.any():
            ax.contour(m.astype(float), levels=[0.5], colors=col, linewidths=lw, extent=ext, origin="upper")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def main() -> None:
    from surgiplan.core.segmentation.presets import apply_preset

    scan, name, outdir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    v = _load(scan)
    a = np.asarray(v.array)
    vv = v.voxel_volume_mm3 / 1000.0
    t0 = time.perf_counter()
    before = apply_preset(v, "bone", split_touching=False)
    t1 = time.perf_counter()
    after = apply_preset(v, "bone")
    t2 = time.perf_counter()
    empty = np.zeros(a.shape, bool)
    b0 = before.mask("bone")
    c0 = before.mask("contrast") if "contrast" in before.names else empty
    b1 = after.mask("bone")
    c1 = after.mask("contrast") if "contrast" in after.names else empty
    removed = b0 & ~b1
    ks = np.flatnonzero(removed.any(axis=(1, 2)))
    res = {
        "scan": scan,
        "seconds_before_after": [round(t1 - t0, 2), round(t2 - t1, 2)],
        "bone_ml": [round(float(b0.sum() * vv), 1), round(float(b1.sum() * vv), 1)],
        "contrast_ml": [round(float(c0.sum() * vv), 1), round(float(c1.sum() * vv), 1)],
        "bone_removed_ml": round(float(removed.sum() * vv), 1),
        "removed_ge_500_hu_ml": round(float((removed & (a >= 500)).sum() * vv), 1),
        "removed_ge_700_hu_ml": round(float((removed & (a >= 700)).sum() * vv), 1),
        "removed_slices": [int(ks[0]), int(ks[-1])] if len(ks) else None,
        "bone_added_ml": round(float((b1 & ~b0).sum() * vv), 1),
        "doubts": after.metadata.get("preset_doubts", []),
    }
    if "ct_abdomen_spine_tcia" in scan:
        res["tcia_aorta_outlines"] = _tcia_dice(v, c1, b0)
    if "ct_abdomen_contrast_jpeg2000" in scan:
        res["aorta_reference"] = _aorta_share(v, c1, b0)
    print(json.dumps(res), flush=True)

    sp = tuple(v.spacing)
    nz, ny, nx = a.shape
    if removed.any():
        k0, j0, i0 = (int(np.median(c)) for c in np.nonzero(removed))
        k1 = int(np.argmax(removed.sum(axis=(1, 2))))
        k2 = int(np.percentile(ks, 90))
    else:
        k0, j0, i0 = (int(np.median(c)) for c in np.nonzero(b0))
        k1 = k2 = k0
    ax_masks = lambda sl: [(b1[sl], "lime", 0.8), (c1[sl], "magenta", 0.8)]  # noqa: E731
    fig, axs = plt.subplots(2, 3, figsize=(15, 10))
    for ax, k, what in zip(axs[0], (k0, k1, k2), ("middle of removed", "most removed", "upper removed"),
                           strict=True):
        _show(ax, a[k], ax_masks(np.s_[k]), [0, nx * sp[0], ny * sp[1], 0], f"axial k={k} ({what})", removed[k])
    cor = np.s_[::-1, j0, :]
    sag = np.s_[::-1, :, i0]
    _show(axs[1, 0], a[cor], ax_masks(cor), [0, nx * sp[0], nz * sp[2], 0], f"coronal j={j0} (head up)",
          removed[cor])
    _show(axs[1, 1], a[sag], ax_masks(sag), [0, ny * sp[1], nz * sp[2], 0], f"sagittal i={i0} (head up)",
          removed[sag])
    im = np.maximum(np.where(b1, 1.0, 0.0).max(axis=1), np.where(c1 & ~b1, 0.5, 0.0).max(axis=1))[::-1]
    axs[1, 2].imshow(im, cmap="magma", vmin=0, vmax=1, extent=[0, nx * sp[0], nz * sp[2], 0])
    axs[1, 2].set_title("after, projection along y: bone white, contrast purple", fontsize=9)
    fig.suptitle(
        f"{name}: bone {res['bone_ml'][0]} -> {res['bone_ml'][1]} mL, contrast {res['contrast_ml'][0]} -> "
        f"{res['contrast_ml'][1]} mL (outlines: bone green, contrast magenta; red fill: bone removed)",
        fontsize=11,
    )
    fig.tight_layout()
    outdir.mkdir(parents=True, exist_ok=True)
    fig.savefig(outdir / f"bone_contrast_{name}_v2.png", dpi=80)
    if "--3d" in sys.argv:
        _render_3d(v, before, after, outdir / f"bone_contrast_{name}_3d_v2.png")


def _render_3d(v, before, after, out) -> None:
    """Front views: before (bone ivory, contrast magenta) | after."""
    import pyvista as pv

    from surgiplan.core.surfaces.extract import mask_to_surface

    p = pv.Plotter(off_screen=True, window_size=(1400, 900), shape=(1, 2))
    for col, (seg, label) in enumerate(((before, "before"), (after, "after"))):
        p.subplot(0, col)
        for name, color in (("bone", "ivory"), ("contrast", "magenta")):
            if name in seg.names:
                s = mask_to_surface(seg.mask(name), v.spacing, v.origin, v.direction, smooth=True)
                p.add_mesh(s, color=color, smooth_shading=True)
        p.add_text(f"bone preset {label}: bone ivory, contrast magenta (front)", font_size=10)
        p.camera_position = "xz"
        p.camera.zoom(1.3)
    p.link_views()
    p.screenshot(str(out))


if __name__ == "__main__":
    main()
