"""Markdown summary of the phantom runs (JSONL, one case a line) of the three runners.

Usage::

    python benchmarks/summarise_phantom_runs.py --bone B.jsonl --knee K.jsonl --hip H.jsonl

* ``--bone``: rows of ``bench_bone_partial_volume.py --jsonl`` (the ``bone`` preset's surface, ``pv``, and
  the fixed 200 HU surface, ``thr200``; per bone Dice, volume and area error, area only without metal);
* ``--knee`` / ``--hip``: rows of ``eval_knee_phantoms.py --jsonl [--hip]`` (Dice and volume error per
  bone; for hips the head centre and radius error; a refused case fails every bone).

Per bone kind (left and right femurs together): cases, median and 5th percentile of Dice, the share
meeting each issue 23 target (Dice >= 0.95; |volume| and |area| <= 5 %; head centre <= 1 mm, radius
<= 0.5 mm) and the seeds that miss the Dice or volume target.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def _rows(path: Path | None) -> list[dict]:
    if path is None or not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _kind(name: str) -> str:
    return "femur" if name.startswith("femur_") else name


def _fmt_seeds(seeds: list[int], n: int = 12) -> str:
    s = sorted(set(seeds))
    return ", ".join(map(str, s[:n])) + (f" (+{len(s) - n})" if len(s) > n else "") if s else "-"


def _table(per: dict[str, list[dict]], extra: tuple[str, ...] = ()) -> list[str]:
    head = ["bone", "n", "Dice median", "Dice p5", "Dice >= 0.95", "|vol| median %", "|vol| <= 5 %"]
    head += [e for e in extra]
    head += ["seeds below Dice 0.95", "seeds off volume 5 %"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for b, items in sorted(per.items()):
        d = np.array([x["dice"] for x in items])
        v = np.array([abs(x["vol"]) for x in items])
        cells = [b, str(len(items)), f"{np.median(d):.3f}", f"{np.percentile(d, 5):.3f}", f"{np.mean(d >= 0.95):.0%}",
                 f"{np.median(v):.1f}", f"{np.mean(v <= 5):.0%}"]
        for e in extra:
            vals = [x[e] for x in items if x.get(e) is not None and not np.isnan(x[e])]  # inf: a miss
            lim = {"area": 5.0, "centre": 1.0, "radius": 0.5}[e]
            cells.append(f"{np.mean(np.abs(vals) <= lim):.0%} of {len(vals)}" if vals else "-")
        cells.append(_fmt_seeds([x["seed"] for x in items if x["dice"] < 0.95]))
        cells.append(_fmt_seeds([x["seed"] for x in items if abs(x["vol"]) > 5]))
        out.append("| " + " | ".join(cells) + " |")
    return out


def bone_tables(rows: list[dict]) -> list[str]:
    out = []
    for method, title in (("pv", "bone preset (partial-volume surface, the default)"),
                          ("thr200", "fixed 200 HU surface, same cases")):
        per: dict[str, list[dict]] = {}
        for r in rows:
            for n, (dice, vol, area) in r[method].items():
                per.setdefault(_kind(n), []).append({"seed": r["seed"], "dice": dice, "vol": 100 * vol,
                                                     "area": None if area is None else 100 * area})
        out += [f"**{title}**, {len(rows)} cases (seeds {min(r['seed'] for r in rows)}-"
                f"{max(r['seed'] for r in rows)}):", ""]
        out += _table(per, ("area",) if method == "pv" else ()) + [""]
    return out


def preset_table(rows: list[dict], hip: bool) -> list[str]:
    refused = [r for r in rows if "refused" in r]
    per: dict[str, list[dict]] = {}
    names = sorted({k[5:] for r in rows for k in r if k.startswith("dice_")})
    for r in rows:
        for b in names:
            if "refused" in r:
                item = {"seed": r["seed"], "dice": 0.0, "vol": np.inf, "centre": np.inf, "radius": np.inf}
            elif f"dice_{b}" in r:
                item = {"seed": r["seed"], "dice": r[f"dice_{b}"], "vol": r[f"vol_err_{b}_pct"]}
                if hip and b.startswith("femur"):
                    c = r.get(f"centre_err_{b}_mm")
                    item["centre"] = np.inf if c is None else c
                    item["radius"] = r.get(f"radius_err_{b}_mm", np.inf)
            else:
                continue
            if "refused" in r and hip and not b.startswith("femur"):
                item.pop("centre"), item.pop("radius")
            per.setdefault(_kind(b), []).append(item)
    ok = sum(("refused" not in r) and all(v >= 0.95 for k, v in r.items() if k.startswith("dice_")) for r in rows)
    seeds = [r["seed"] for r in rows]
    out = [f"{len(rows)} cases (seeds {min(seeds)}-{max(seeds)}), {len(refused)} refused "
           f"({_fmt_seeds([r['seed'] for r in refused])}; counted as failures); every bone at Dice >= 0.95 "
           f"in {ok} of {len(rows)}.", ""]
    return out + _table(per, ("centre", "radius") if hip else ()) + [""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bone", type=Path)
    ap.add_argument("--knee", type=Path)
    ap.add_argument("--hip", type=Path)
    a = ap.parse_args()
    lines = []
    if rows := _rows(a.bone):
        lines += ["### Bone preset", ""] + bone_tables(rows)
    if rows := _rows(a.knee):
        lines += ["### Knee preset", ""] + preset_table(rows, hip=False)
    if rows := _rows(a.hip):
        lines += ["### Hip preset", ""] + preset_table(rows, hip=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
