"""Knee preset (and the hip preset, ``--hip``) on many seeded CT phantoms: the distribution.

Usage::

    nice -n 10 python benchmarks/eval_knee_phantoms.py [--seeds 1-200] [--jsonl out.jsonl] [--hip]

For each seed, :func:`surgiplan.core.samples.ct_phantom_knee.make_knee_phantom` draws a knee
(anatomy, tissues, scanner, metal, field of view: not tuned to the preset) and ``apply_preset(vol,
"knee-bones")`` segments it (``--hip``: :func:`eval_hip_phantoms.evaluate` per seed instead). Per
bone: Dice against the analytic truth mask and the volume error against the truth volume (fine
occupancy). A refused case (InputError) counts as a failure of every bone. Each case is one JSON
line (``--jsonl``, appended as it finishes, so a long run can be stopped and summarised); the
summary gives per bone the median, the 5th percentile and the share meeting issue 23's phantom
targets (Dice >= 0.95, volume within 5 %). ``--summary FILE`` summarises a JSONL file only.
Timings are not compared here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _seeds(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def evaluate_knee(seed: int) -> dict:
    from surgiplan.core.errors import InputError
    from surgiplan.core.samples.ct_phantom_knee import make_knee_phantom
    from surgiplan.core.segmentation.presets import apply_preset

    t0 = time.perf_counter()
    vol, truth = make_knee_phantom(seed)
    p = truth["params"]
    row = {"seed": seed, "make_s": round(time.perf_counter() - t0, 1),
           "params": {k: p[k] for k in ("side", "metal", "cut_top", "cut_bottom")}
           | {k: round(float(p[k]), 2) for k in ("slice", "pixel", "cortex", "trab_hu", "gap", "gap_p", "gap_f")}}
    t = time.perf_counter()
    try:
        seg = apply_preset(vol, "knee-bones")
    except InputError as e:
        row["refused"] = str(e)
        return row
    row["seconds"] = round(time.perf_counter() - t, 1)
    vv = vol.voxel_volume_mm3
    for name, gt in truth["masks"].items():
        ours = seg.mask(name) if name in seg.names else np.zeros_like(gt)
        row[f"dice_{name}"] = round(float(2 * (ours & gt).sum() / max(ours.sum() + gt.sum(), 1)), 4)
        row[f"vol_err_{name}_pct"] = round(100 * (ours.sum() * vv / truth["volume_mm3"][name] - 1), 2)
    return row


def _kind(name: str) -> str:
    return "femur" if name.startswith("femur_") else name  # the hip's left and right femurs together


def summarise(rows: list[dict]) -> str:
    """Per bone kind over the cases that have it (a refused case counts as a failure of each of
    the bones its phantom holds; bones come from the truth names a case reports)."""
    refused = [r for r in rows if "refused" in r]
    lines = [f"{len(rows)} cases, {len(refused)} refused (counted as failures below)"]
    lines.append(f"{'bone':10s} {'n':>4s} {'Dice med':>8s} {'Dice p5':>8s} {'>=0.95':>7s} {'|vol| med %':>11s} "
                 f"{'|vol| p95 %':>11s} {'<=5 %':>6s} {'both':>6s}")
    per: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        for k, v in r.items():
            if k.startswith("dice_"):
                b = k[5:]
                per.setdefault(_kind(b), []).append((v, abs(r[f"vol_err_{b}_pct"])))
    for b, vals in sorted(per.items()):
        vals = vals + [(0.0, np.inf)] * len(refused)
        d = np.array([x[0] for x in vals])
        v = np.array([x[1] for x in vals])
        lines.append(f"{b:10s} {len(vals):4d} {np.median(d):8.3f} {np.percentile(d, 5):8.3f} {np.mean(d >= 0.95):7.0%} "
                     f"{np.median(v):11.1f} {np.percentile(v, 95, method='nearest'):11.1f} {np.mean(v <= 5):6.0%} "
                     f"{np.mean((d >= 0.95) & (v <= 5)):6.0%}")
    ok = [("refused" not in r) and all(v >= 0.95 for k, v in r.items() if k.startswith("dice_")) for r in rows]
    lines.append(f"cases with every bone at Dice >= 0.95: {sum(ok)}/{len(rows)}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="1-20")
    ap.add_argument("--jsonl", type=Path, default=None, help="append one JSON line per case here")
    ap.add_argument("--hip", action="store_true", help="the hip preset on the hip phantom instead")
    ap.add_argument("--summary", type=Path, default=None, help="only summarise this JSONL file")
    a = ap.parse_args()
    if a.summary:
        rows = [json.loads(x) for x in a.summary.read_text().splitlines() if x.strip()]
        print(summarise(rows))
        return
    if a.hip:
        sys.path.insert(0, str(HERE))
        from eval_hip_phantoms import evaluate as evaluate_hip
    rows = []
    for s in _seeds(a.seeds):
        r = evaluate_hip(s) if a.hip else evaluate_knee(s)
        rows.append(r)
        if a.jsonl:
            with a.jsonl.open("a") as f:
                f.write(json.dumps(r) + "\n")
        print(json.dumps(r), flush=True)
    print(summarise(rows))


if __name__ == "__main__":
    main()
