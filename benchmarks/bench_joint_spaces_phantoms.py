"""Joint-space opening on CT phantoms: the ``bone`` preset's surface without and with it, per bone.

Usage: ``python benchmarks/bench_joint_spaces_phantoms.py OUT.jsonl START STOP`` (seeds START..STOP-1
of :func:`surgiplan.core.samples.ct_phantom.make_ct_phantom`). Per case: the mask of
``partial_volume_bone(volume, joint_mm=0)`` and that mask minus
``open_joint_spaces(..., wall_mm=w)`` for w = 2.5, 3.0 (the default) and 3.5 mm, each scored by
``bench_bone_partial_volume.per_bone`` (Dice and volume error per bone, split by nearest truth bone,
metal left out; no area). Appends one JSON line per case (a benchmark's scratch output), with the
CPU seconds of the opening and the opened mL. The figures of docs/bone_surface_partial_volume.md
("Joint spaces") come from here (seeds 5000-5039, docs/data/issue23_phantom_runs/).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    import mpi4py.MPI  # noqa: F401 - before any dolfinx import the package may pull in
    from bench_bone_partial_volume import nearest_truth, per_bone

    from surgiplan.core.samples.ct_phantom import make_ct_phantom
    from surgiplan.core.segmentation.partial_volume import open_joint_spaces, partial_volume_bone

    out_path, start, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    for seed in range(start, stop):
        vol, truth = make_ct_phantom(seed)
        near = nearest_truth(truth)
        a = np.asarray(vol.array)
        pv = partial_volume_bone(vol, joint_mm=0)
        params = {k: (v if isinstance(v, bool | str | type(None)) else float(v)) for k, v in truth["params"].items()}
        row = {"seed": seed, "params": params, "pv": per_bone(vol, truth, pv, False, near)}
        for w in (2.5, 3.0, 3.5):
            t = time.process_time()
            j = open_joint_spaces(a, pv, vol.spacing, wall_mm=w)
            row[f"cpu_{w}"] = time.process_time() - t
            row[f"joint_{w}"] = per_bone(vol, truth, pv & ~j, False, near)
            row[f"ml_{w}"] = float(j.sum() * vol.voxel_volume_mm3 / 1000)
        with open(out_path, "a") as f:  # a benchmark's own scratch output, not a surgiplan file
            f.write(json.dumps(row) + "\n")
        before = {k: round(100 * v[1], 1) for k, v in row["pv"].items()}
        after = {k: round(100 * v[1], 1) for k, v in row["joint_3.0"].items()}
        print(seed, "volume error % without / with the opening:", before, after, flush=True)


if __name__ == "__main__":
    main()
