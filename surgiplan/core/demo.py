"""The headless demo: sample scan -> segmentation -> models -> two plans -> comparison.

``run_demo`` is what ``surgiplan demo`` (and the README's run command on a
machine without a display) calls. It writes one case folder plus the plan
comparison as JSON and CSV beside it, and returns where everything went.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import Progress, report, sub_progress
from surgiplan.core.sample_case import ANATOMIES, ModelSummary, build_sample_case


@dataclass
class DemoResult:
    """Where the demo wrote things, and what it found."""

    anatomy: str
    case_dir: Path
    models: list[ModelSummary]
    model_files: list[Path]
    comparison_text: str
    comparison_json: Path
    comparison_csv: Path
    plans: list[str] = field(default_factory=list)
    volume_description: str = ""
    warnings: list[str] = field(default_factory=list)


def _plan_builder(anatomy: str):
    """The planning module's scripted two-plan builder for ``anatomy``."""
    try:
        mod = importlib.import_module(f"surgiplan.core.planning.demo_{anatomy}")
    except ModuleNotFoundError:
        raise InputError(
            f"no scripted demo plans exist yet for the '{anatomy}' case",
            hint="Use --case hip.",
        ) from None
    return mod.build_demo_plans


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def run_demo(
    out_dir: str | Path,
    anatomy: str = "hip",
    *,
    size: str = "small",
    overwrite: bool = False,
    progress: Progress | None = None,
) -> DemoResult:
    """Run the whole headless workflow for ``anatomy`` into ``out_dir``.

    ``out_dir/<anatomy>-case/`` is the case folder; the comparison goes beside it
    as ``<anatomy>-comparison.json`` / ``.csv``; binary STL models (LPS) go to
    ``out_dir/<anatomy>-models/``. With ``overwrite`` an earlier demo case of the
    same name is replaced, otherwise an existing one is an error.
    """
    import shutil

    from surgiplan.core.surfaces import write_mesh

    if anatomy not in ANATOMIES:
        raise InputError(f"unknown demo case '{anatomy}'", hint=f"Use one of: {', '.join(ANATOMIES)}.")
    build_plans = _plan_builder(anatomy)
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    case_dir = out / f"{anatomy}-case"
    if case_dir.exists() and any(case_dir.iterdir()):
        if not overwrite:
            raise InputError(
                "a demo case already exists here", path=case_dir,
                hint="Pass --overwrite to replace it, or choose another --out folder.",
            )
        if not (case_dir / "case.json").exists():
            raise InputError(
                "the folder is not a surgiplan case; refusing to delete it", path=case_dir,
                hint="Choose another --out folder.",
            )
        shutil.rmtree(case_dir)
    case, volume, _seg, models = build_sample_case(
        anatomy, case_dir, size=size, progress=sub_progress(progress, 0.0, 0.7)
    )
    report(progress, 0.7, "exporting models")
    model_dir = out / f"{anatomy}-models"
    model_dir.mkdir(exist_ok=True)
    model_files = []
    for m in models:
        model_files.append(write_mesh(case.get_model(m.name), model_dir / f"{m.name}.stl", frame="LPS"))
    report(progress, 0.75, "planning")
    comparison = build_plans(case, progress=sub_progress(progress, 0.75, 0.97))
    case.save()
    cj = out / f"{anatomy}-comparison.json"
    cc = out / f"{anatomy}-comparison.csv"
    _atomic_write_text(cj, comparison.to_json())
    _atomic_write_text(cc, comparison.to_csv())
    report(progress, 1.0, "demo complete")
    return DemoResult(
        anatomy=anatomy,
        case_dir=case_dir,
        models=models,
        model_files=model_files,
        comparison_text=comparison.to_text(),
        comparison_json=cj,
        comparison_csv=cc,
        plans=list(case.plans),
        volume_description=volume.describe(),
        warnings=list(volume.warnings),
    )
