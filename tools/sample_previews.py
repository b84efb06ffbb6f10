"""Render PNG previews of generated samples: slices (axial/coronal/sagittal) and a 3D view.

    .venv/bin/python tools/sample_previews.py NAME [--size small|full] [--out DIR] [--no-3d]

Slices are resampled to isotropic display pixels in LPS; label outlines are drawn
in colour on the right-hand column so geometry and ground truth can be compared.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from surgiplan.core.imaging import read_volume  # noqa: E402
from surgiplan.core.samples import generate_sample, samples_root  # noqa: E402


def _lps_cube(vol):
    """Array reordered to [z, y, x] (S up, P down in display conventions handled by callers)."""
    a = vol.array
    d = vol.direction
    # permute index axes (i, j, k) so they map onto (x, y, z)
    perm = [int(np.argmax(np.abs(d[:, c]))) for c in range(3)]  # world axis of index axis c
    order = [None, None, None]
    for c, w in enumerate(perm):
        order[w] = c
    # array axes are [k, j, i] -> index axis c is array axis 2 - c
    arr = np.transpose(a, [2 - order[2], 2 - order[1], 2 - order[0]])
    spacing = [vol.spacing[order[w]] for w in range(3)]  # x, y, z
    for w in range(3):
        c = order[w]
        if d[w, c] < 0:
            arr = np.flip(arr, axis=2 - w)
    origin = vol.bounds()[0]
    return arr, spacing, origin


FOCUS = {"hip": "femoral_head_centre_right", "knee": "knee_centre_femur", "knee_mri": "knee_centre_femur",
         "spine": "vertebral_body_centre_L3", "vascular": "stenosis_centre"}


VIEWS = {"hip": (0.0, -1.0, 0.3), "knee": (-0.6, -1.0, 0.15), "knee_mri": (-1.0, -0.2, 0.1),
         "spine": (-1.0, -0.35, 0.1), "vascular": (0.2, -1.0, 0.2)}


def previews(root: Path, out: Path, name: str, window=(400, 1800), soft=(40, 400), three_d=True,
             pts_key=None) -> list[Path]:
    vol = read_volume(root / "volume.nrrd")
    lab = read_volume(root / "ground_truth" / "labels.nrrd")
    arr, sp, org = _lps_cube(vol)
    larr, _, _ = _lps_cube(lab)
    nz, ny, nx = arr.shape
    gt = __import__("json").loads((root / "ground_truth" / "ground_truth.json").read_text())
    mod = gt.get("modality", "CT")
    if mod == "MR":
        hi = np.percentile(arr, 99.5)
        window = (hi / 2, hi)
        soft = window
    # a focus point: first landmark
    key = FOCUS.get(gt["name"])
    if key in gt["landmarks"]:
        focus = np.array(gt["landmarks"][key]["position"])
    else:
        focus = np.array(org) + np.array(sp) * np.array([nx, ny, nz]) / 2
    fi = np.clip(np.round((focus - org) / sp).astype(int), 0, [nx - 1, ny - 1, nz - 1])

    def win(img, w):
        c, wd = w
        return np.clip((img - (c - wd / 2)) / wd, 0, 1)

    views = []
    for k in (int(0.15 * (nz - 1)), int(fi[2]), int(0.85 * (nz - 1))):
        views.append((f"axial z={org[2] + k * sp[2]:.0f} mm", arr[k], larr[k], (sp[0], sp[1]), False))
    views.append((f"coronal y={org[1] + fi[1] * sp[1]:.0f} mm", arr[:, fi[1], :], larr[:, fi[1], :],
                  (sp[0], sp[2]), True))
    views.append((f"sagittal x={org[0] + fi[0] * sp[0]:.0f} mm", arr[:, :, fi[0]], larr[:, :, fi[0]],
                  (sp[1], sp[2]), True))
    fig, axes = plt.subplots(2, len(views), figsize=(4 * len(views), 8), dpi=80)
    for c, (title, img, limg, (sw, sh), flipud) in enumerate(views):
        # radiological display: patient right on the viewer's left -> x increasing to the right
        ext = [0, img.shape[1] * sw, 0, img.shape[0] * sh]
        im = img[::-1] if flipud else img
        lm = limg[::-1] if flipud else limg
        axes[0, c].imshow(win(im, window), cmap="gray", extent=ext, interpolation="bilinear")
        axes[0, c].set_title(title + (" (bone)" if mod == "CT" else ""), fontsize=9)
        axes[1, c].imshow(win(im, soft), cmap="gray", extent=ext, interpolation="bilinear")
        if lm.max() > 0:
            axes[1, c].contour(lm, levels=np.arange(0.5, lm.max() + 1), extent=ext, origin="upper",
                               linewidths=0.6, cmap="tab10")
        axes[1, c].set_title("soft tissue + labels" if mod == "CT" else "labels", fontsize=9)
        for r in range(2):
            axes[r, c].set_axis_off()
    fig.suptitle(f"{gt['name']} ({gt['size']}): {gt.get('description', '')}", fontsize=10)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    slices_png = out / f"{name}_slices.png"
    fig.savefig(slices_png)
    plt.close(fig)
    made = [slices_png]
    if three_d:
        made.append(render_3d(lab, gt, out / f"{name}_3d.png"))
    return made


def render_3d(lab, gt, png: Path) -> Path:
    import pyvista as pv

    from surgiplan.core.imaging.volume_io import to_sitk  # noqa: F401

    img = pv.ImageData(dimensions=lab.shape_ijk, spacing=lab.spacing, origin=(0, 0, 0))
    img.point_data["l"] = lab.array.transpose(2, 1, 0).ravel(order="F")
    pl = pv.Plotter(off_screen=True, window_size=(900, 900))
    pl.set_background("white")
    m = lab.direction
    for value, info in gt["labels"].items():
        v = int(value)
        surf = img.contour([0.5], scalars=(img.point_data["l"] == v).astype(np.float32))
        if surf.n_points == 0:
            continue
        pts = surf.points @ m.T + np.asarray(lab.origin)
        surf.points = pts
        surf = surf.smooth_taubin(n_iter=20, pass_band=0.1)
        color = np.array(info["color"]) / 255.0
        if info["name"] == "vessel_wall":
            continue  # the lumen tells the story; a translucent wall only blurs it
        pl.add_mesh(surf, color=color, smooth_shading=True)
    lo, hi = lab.bounds()
    for lm in gt["landmarks"].values():
        p = np.asarray(lm["position"])
        if np.all(p >= lo) and np.all(p <= hi):
            pl.add_mesh(pv.Sphere(radius=2.0, center=p), color="red")
    # anterior view, slightly from above and from the patient's right (patient right on the viewer's left)
    pl.reset_camera()
    fp = np.array(pl.camera.focal_point)
    dist = np.linalg.norm(np.array(pl.camera.position) - fp)
    view = VIEWS.get(gt["name"], (-0.35, -1.0, 0.35))
    pl.camera.position = tuple(fp + dist * np.asarray(view) / np.linalg.norm(view))
    pl.camera.up = (0, 0, 1)
    pl.reset_camera()
    pl.camera.zoom(1.25)
    pl.screenshot(str(png))
    pl.close()
    return png


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="+")
    ap.add_argument("--size", default="small")
    ap.add_argument("--out", default="/tmp/sample_previews")
    ap.add_argument("--samples", default=None, help="folder of generated samples (default: cache)")
    ap.add_argument("--no-3d", action="store_true")
    ap.add_argument("--regen", action="store_true", help="regenerate even if present")
    a = ap.parse_args()
    base = Path(a.samples) if a.samples else samples_root()
    for n in a.names:
        root = base / f"{n}-{a.size}"
        if a.regen or not root.exists():
            generate_sample(n, base, a.size)
        for p in previews(root, Path(a.out), f"{n}_{a.size}", three_d=not a.no_3d):
            print(p)


if __name__ == "__main__":
    main()
