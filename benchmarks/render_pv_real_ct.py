"""Slices of a real CT with the ``bone`` preset's two surfaces: fixed 200 HU (red) and partial volume (green).

Usage: ``python benchmarks/render_pv_real_ct.py SCAN OUT.png [metal]`` (``metal``: the axial slice with
the most metal instead of the one at the upper quarter of bone). One axial slice, three 40 mm zooms
where the surfaces differ most (and the bone's edge is), a sagittal slice through the spine column and a
coronal one; prints the volumes, the voxels added and removed, the farthest growth beyond the 200 HU
bone (voxels) and the times (one run each: not a benchmark, see bench_bone_partial_volume.py --real).
The images of docs/bone_surface_partial_volume.md come from here.
"""

from __future__ import annotations

import json
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402


def outline(ax, img, m1, m2, ext, title, win=(-300, 1300)):
    ax.imshow(img, cmap="gray", vmin=win[0], vmax=win[1], extent=ext, interpolation="nearest")
    ax.contour(m1.astype(float), levels=[0.5], colors="red", linewidths=0.9, extent=ext, origin="upper")
    ax.contour(m2.astype(float), levels=[0.5], colors="lime", linewidths=0.9, extent=ext, origin="upper")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def main() -> None:
    from surgiplan.core.segmentation.partial_volume import partial_volume_bone
    from surgiplan.core.segmentation.presets import bone_mask
    from surgiplan.core.segmentation.scan_source import load_scan

    path, out = sys.argv[1], sys.argv[2]
    v = load_scan(path)
    a = np.asarray(v.array)
    vv = v.voxel_volume_mm3 / 1000
    t = time.perf_counter()
    plain = bone_mask(v, 200.0, 1.0, fill_marrow=False)
    tp = time.perf_counter() - t
    t = time.perf_counter()
    pv = partial_volume_bone(v)
    tpv = time.perf_counter() - t
    res = {"scan": path, "shape": a.shape, "plain_s": round(tp, 2), "pv_s": round(tpv, 2),
           "plain_ml": round(plain.sum() * vv, 1), "pv_ml": round(pv.sum() * vv, 1),
           "change_pct": round(100 * (pv.sum() / plain.sum() - 1), 1),
           "added_ml": round((pv & ~plain).sum() * vv, 1), "removed_ml": round((plain & ~pv).sum() * vv, 1)}
    if (pv & ~plain).any():
        res["max_growth_vox"] = round(float(ndimage.distance_transform_edt(~plain)[pv & ~plain].max()), 2)
    print(json.dumps(res), flush=True)
    sp = tuple(v.spacing)
    diff = pv ^ plain
    ks = np.argsort(plain.sum(axis=(1, 2)))[::-1]
    k = int(ks[len(ks) // 4]) if len(ks) > 4 else int(ks[0])
    if len(sys.argv) > 3 and sys.argv[3] == "metal" and (a > 2500).any():
        k = int(np.argmax((a > 2500).sum(axis=(1, 2))))
    fig, axs = plt.subplots(2, 3, figsize=(15, 10))
    ny, nx = a.shape[1], a.shape[2]
    outline(axs[0, 0], a[k], plain[k], pv[k], [0, nx * sp[0], ny * sp[1], 0],
            f"axial k={k} (red 200 HU, green partial volume)")
    edge = plain[k] & ~ndimage.binary_erosion(plain[k])
    dk = ndimage.uniform_filter(diff[k].astype(np.float32) + 0.3 * edge, size=max(3, int(40 / sp[0])))
    for n in range(3):
        j, i = np.unravel_index(int(np.argmax(dk)), dk.shape)
        h = int(25 / sp[0])
        dk[max(0, j - 2 * h):j + 2 * h, max(0, i - 2 * h):i + 2 * h] = -1
        h = int(20 / sp[0])
        sl = (slice(max(0, j - h), j + h), slice(max(0, i - h), i + h))
        ext = [sl[1].start * sp[0], sl[1].stop * sp[0], sl[0].stop * sp[1], sl[0].start * sp[1]]
        outline(axs[0, 1 + n] if n < 2 else axs[1, 0], a[k][sl], plain[k][sl], pv[k][sl], ext,
                f"zoom 40 mm at (i={i}, j={j})")
        axs[0, 0].add_patch(plt.Rectangle((ext[0], ext[3]), ext[1] - ext[0], ext[2] - ext[3], fill=False,
                                          color="yellow"))
    col = plain[:, :, nx // 3: 2 * nx // 3].sum(axis=(0, 1))
    i0 = nx // 3 + int(np.argmax(col))
    outline(axs[1, 1], a[:, :, i0][::-1], plain[:, :, i0][::-1], pv[:, :, i0][::-1],
            [0, ny * sp[1], a.shape[0] * sp[2], 0], f"sagittal i={i0} (head up)")
    jj = int(np.argmax(plain[:, :, i0].sum(axis=0)))
    outline(axs[1, 2], a[:, jj, :][::-1], plain[:, jj, :][::-1], pv[:, jj, :][::-1],
            [0, nx * sp[0], a.shape[0] * sp[2], 0], f"coronal j={jj} (head up)")
    fig.suptitle(f"{path.rstrip('/').split('/')[-1]}: 200 HU {res['plain_ml']} mL, partial volume {res['pv_ml']} mL "
                 f"({res['change_pct']:+} %)", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=80)  # a benchmark's figure, not a surgiplan output


if __name__ == "__main__":
    main()
