"""Render the hip-bones preset against the v2 hand reference on the issue-23 real CT, slice by slice:
CT with v2's outlines (solid: femur lime, hip bone orange) and the preset's (dashed: femur cyan, hip
bone magenta), and below each slice where they disagree (red: preset hip bone that v2 does not call
hip bone; blue: v2 hip bone the preset leaves in no segment; cyan: v2 hip bone the preset calls femur;
yellow: v2 femur the preset calls hip bone).

Usage: ``.venv/bin/python tools/render_hip_preset_vs_v2_slices.py SIDE K1,K2,... OUT.png [MASKS.npz]``
(SIDE ``left`` or ``right``: the v2 names, low-i side = left); without MASKS.npz the preset runs now
(``SURGIPLAN_EXTRA_DATA``/totalseg_example_ct needed), with it the saved masks are drawn (keys as the
preset's segment names), e.g. to show a result from before a change.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1]))
from surgiplan.core.segmentation.scan_source import load_scan  # noqa: E402
from tests.core.segmentation.test_hip_real_reference_v2 import v2_slices  # noqa: E402


def main(side: str, ks: list[int], out: str, saved: str | None = None) -> None:
    root = Path(os.environ.get("SURGIPLAN_EXTRA_DATA", "/work/extra_data"))
    vol = load_scan(root / "totalseg_example_ct" / "example_ct.nii.gz")
    ct = np.asarray(vol.array)
    if saved:
        masks = dict(np.load(saved))
    else:
        from surgiplan.core.segmentation.presets import apply_preset

        seg = apply_preset(vol, "hip-bones")
        masks = {n: seg.mask(n) for n in seg.names}
    ref = v2_slices(ct)
    isl = slice(14, 60) if side == "left" else slice(62, 108)
    js = slice(20, 64)
    fig, axes = plt.subplots(2, len(ks), figsize=(3.4 * len(ks), 7.0), squeeze=False)
    for c, k in enumerate(ks):
        f_ref = ref.get(k, {}).get(f"femur_{side}")
        h_ref = ref.get(k, {}).get(f"hip_{side}")
        pf, ph = masks[f"femur_{side}"][k], masks[f"hip_bone_{side}"][k]
        for r in range(2):
            ax = axes[r, c]
            ax.imshow(ct[k, js, isl], cmap="gray", vmin=-100, vmax=600, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        for m, col in ((f_ref, "lime"), (h_ref, "orange")):
            if m is not None:
                axes[0, c].contour(m[js, isl].astype(float), [0.5], colors=col, linewidths=1.2)
        for m, col in ((pf, "cyan"), (ph, "magenta")):
            axes[0, c].contour(m[js, isl].astype(float), [0.5], colors=col, linewidths=1.0, linestyles="--")
        ov = np.zeros((*ct.shape[1:], 4))
        if h_ref is not None:
            ov[h_ref & ~ph & pf] = (0, 1, 1, 0.75)
            ov[h_ref & ~ph & ~pf] = (0, 0, 1, 0.75)
            ov[ph & ~h_ref] = (1, 0, 0, 0.75)
            d = 2 * (h_ref & ph).sum() / max(h_ref.sum() + ph.sum(), 1)
            axes[1, c].set_title(f"hip bone Dice {d:.2f}", fontsize=9)
        if f_ref is not None:
            ov[f_ref & ~pf & ph] = (1, 1, 0, 0.75)
        axes[1, c].imshow(ov[js, isl], interpolation="nearest")
        axes[0, c].set_title(f"{side} hip, axial k = {k}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=80)


if __name__ == "__main__":
    main(sys.argv[1], [int(x) for x in sys.argv[2].split(",")], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
