"""Shared parts of the benchmarks that time ours beside a reference on a sample bone.

* :func:`sample_bone`: a sample scan's structure as a surface at a set triangle count (the
  label map -> ``segment_to_surface``, linearly subdivided until it has more triangles, then
  decimated with fast-simplification to the target), the 200k-triangle bones of issue 5/14;
* :func:`bench_args`: the ``--runs`` / ``--triangles`` command line of these scripts;
* :func:`run_child` / :func:`run_sides`: each side in a fresh process (``python -c CODE args``),
  its last stdout line a JSON dict, ``runs`` (>= 3) times per side;
* :func:`medians` / :func:`largest`: median of a timing, and the largest value (peak RSS, MB;
  worst time) over the runs.

The benchmark scripts import it as a sibling module (``python benchmarks/bench_x.py`` puts
``benchmarks/`` on ``sys.path``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

PY = sys.executable


def sample_bone(sample: str, structure: str, triangles: int):
    """Surface (pyvista PolyData, LPS mm) of ``structure`` in the small ``sample`` scan, with
    ``triangles`` triangles (subdivided, then decimated with fast-simplification, cleaned)."""
    import fast_simplification
    import numpy as np
    import pyvista as pv

    from surgiplan.core.samples import sample_path
    from surgiplan.core.segmentation import read_segmentation
    from surgiplan.core.surfaces import segment_to_surface

    p = sample_path(sample, size="small")
    m = segment_to_surface(read_segmentation(p.labels, labels_json=p.labels_json), structure)
    while m.n_cells < triangles:
        m = m.subdivide(1, "linear")
    pts, faces = fast_simplification.simplify(m.points, m.faces.reshape(-1, 4)[:, 1:],
                                              target_reduction=1 - triangles / m.n_cells)
    return pv.PolyData(pts, np.hstack([np.full((len(faces), 1), 3), faces])).clean()


def bench_args(doc: str) -> argparse.Namespace:
    """``--runs`` (fresh processes per side, at least 3) and ``--triangles`` (bone size)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--triangles", type=int, default=200_000)
    return ap.parse_args()


def run_child(code: str, *args: str, timeout_s: float = 900) -> dict:
    """Run ``code`` in a fresh Python with ``args``; its last stdout line parsed as JSON."""
    out = subprocess.run([PY, "-c", code, *args], capture_output=True, text=True, timeout=timeout_s)
    if out.returncode != 0:
        raise SystemExit(f"{args[0] if args else 'child'} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_sides(code: str, runs: int, *args: str, sides=("ours", "ref")) -> dict[str, list[dict]]:
    """Each side (``code``'s first argument) ``max(3, runs)`` times, each in a fresh process."""
    return {k: [run_child(code, k, *args) for _ in range(max(3, runs))] for k in sides}


def medians(res: dict[str, list[dict]], key: str = "median_s") -> dict[str, float]:
    """Median over the runs of each side's ``key``."""
    return {k: statistics.median(r[key] for r in v) for k, v in res.items()}


def largest(res: dict[str, list[dict]], key: str = "peak_mb") -> dict[str, float]:
    """Largest over the runs of each side's ``key`` (by default the peak RSS above baseline, MB)."""
    return {k: max(r[key] for r in v) for k, v in res.items()}
