"""Slices of a real CT with the ``bone`` preset's two segments: ``bone`` (green) and ``contrast`` (magenta).

Usage: ``python benchmarks/render_bone_contrast.py SCAN OUT.png [OUT_3D.png]`` (the 3D view, front and
back, of both segments' smoothed surfaces, needs a display: ``xvfb-run``). Runs ``apply_preset(volume, "bone")``
and shows three axial slices (through the largest ``contrast`` piece, the slice with the most
``contrast`` and the one with the most bone), a coronal and a sagittal slice through the largest
``contrast`` piece (or the bone's middle when there is none); prints the segments' volumes and the
preset's doubts (JSON). The contrast-organ images of docs/bone_surface_partial_volume.md come from here.
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def show(ax, img, masks, ext, title):
    ax.imshow(img, cmap="gray", vmin=-200, vmax=1000, extent=ext, interpolation="nearest")
    for m, col in masks:
        if m.any():
            ax.contour(m.astype(float), levels=[0.5], colors=col, linewidths=0.8, extent=ext, origin="upper")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def main() -> None:
    import mpi4py.MPI  # noqa: F401 - before any dolfinx import the package may pull in

    from surgiplan.core.segmentation.presets import apply_preset
    from surgiplan.core.segmentation.scan_source import load_scan

    path, out = sys.argv[1], sys.argv[2]
    v = load_scan(path)
    a = np.asarray(v.array)
    seg = apply_preset(v, "bone")
    vv = v.voxel_volume_mm3 / 1000
    bone = seg.mask("bone")
    con = seg.mask("contrast") if "contrast" in seg.names else np.zeros_like(bone)
    res = {
        "scan": path,
        "bone_ml": round(bone.sum() * vv, 1),
        "contrast_ml": round(con.sum() * vv, 1),
        "doubts": seg.metadata.get("preset_doubts", []),
    }
    print(json.dumps(res), flush=True)
    sp = tuple(v.spacing)
    ny, nx, nz = a.shape[1], a.shape[2], a.shape[0]
    if con.any():
        k0, j0, i0 = (int(np.median(c)) for c in np.nonzero(con))
        k1 = int(np.argmax(con.sum(axis=(1, 2))))
    else:
        k0, j0, i0 = (int(np.median(c)) for c in np.nonzero(bone))
        k1 = k0
    k2 = int(np.argmax(bone.sum(axis=(1, 2))))
    masks = lambda sl: [(bone[sl], "lime"), (con[sl], "magenta")]  # noqa: E731
    fig, axs = plt.subplots(2, 3, figsize=(15, 10))
    for ax, k, what in zip(axs[0], (k0, k1, k2), ("contrast middle", "most contrast", "most bone"), strict=True):
        show(ax, a[k], masks(np.s_[k]), [0, nx * sp[0], ny * sp[1], 0], f"axial k={k} ({what})")
    show(
        axs[1, 0],
        a[:, j0, :][::-1],
        [(bone[:, j0, :][::-1], "lime"), (con[:, j0, :][::-1], "magenta")],
        [0, nx * sp[0], nz * sp[2], 0],
        f"coronal j={j0} (head up)",
    )
    show(
        axs[1, 1],
        a[:, :, i0][::-1],
        [(bone[:, :, i0][::-1], "lime"), (con[:, :, i0][::-1], "magenta")],
        [0, ny * sp[1], nz * sp[2], 0],
        f"sagittal i={i0} (head up)",
    )
    im = np.maximum(np.where(bone, 1.0, 0.0).max(axis=1), np.where(con, 0.5, 0.0).max(axis=1))[::-1]
    axs[1, 2].imshow(im, cmap="magma", vmin=0, vmax=1, extent=[0, nx * sp[0], nz * sp[2], 0])
    axs[1, 2].set_title("projection along y: bone white, contrast purple", fontsize=9)
    fig.suptitle(
        f"{path.rstrip('/').split('/')[-1]}: bone {res['bone_ml']} mL (green), contrast "
        f"{res['contrast_ml']} mL (magenta)",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=80)  # a benchmark's figure, not a surgiplan output
    if len(sys.argv) > 3:
        render_3d(v, seg, sys.argv[3])


def render_3d(v, seg, out) -> None:
    """Front and back views of the ``bone`` (ivory) and ``contrast`` (magenta) surfaces."""
    import pyvista as pv

    from surgiplan.core.surfaces.extract import mask_to_surface

    p = pv.Plotter(off_screen=True, window_size=(1400, 1000), shape=(1, 2))
    for col, view in enumerate(("front", "back")):
        p.subplot(0, col)
        for name, color in (("bone", "ivory"), ("contrast", "magenta")):
            if name in seg.names:
                s = mask_to_surface(seg.mask(name), v.spacing, v.origin, v.direction, smooth=True)
                p.add_mesh(s, color=color, smooth_shading=True)
        p.add_text(f"bone preset ({view}): bone ivory, contrast magenta", font_size=10)
        p.camera_position = "xz"
        if view == "back":
            p.camera.azimuth = 180
        p.camera.zoom(1.3)
    p.screenshot(out)  # a benchmark's figure, not a surgiplan output


if __name__ == "__main__":
    main()
