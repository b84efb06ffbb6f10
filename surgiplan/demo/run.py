"""The headless demo: sample scan -> segmentation -> models -> two plans -> comparison -> PDF.

``run_demo`` is what ``surgiplan demo`` (and the README's run command on a
machine without a display) calls. It writes one case folder plus the plan
comparison as JSON and CSV beside it, optionally runs the simulation registry's
studies for each plan (``simulate``, :mod:`surgiplan.demo.simulate`), ends with the
OR plan report of plan A compared with B (``CASE/reports/A.pdf``), and returns
where everything went. The report's images come from ``figures`` (the CLI passes
the scene's off-screen renderer; the demos depend on core only).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import Progress, report, sub_progress
from surgiplan.demo.sample_case import ANATOMIES, ModelSummary, build_sample_case


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
    report_pdf: Path | None = None
    studies: list[dict] = field(default_factory=list)


def _plan_builder(anatomy: str):
    """The scripted two-plan builder of ``anatomy`` (surgiplan.demo.<anatomy>)."""
    try:
        mod = importlib.import_module(f"surgiplan.demo.{anatomy}")
    except ModuleNotFoundError:
        raise InputError(
            f"no scripted demo plans exist yet for the '{anatomy}' case",
            hint="Use --case hip.",
        ) from None
    return mod.build_demo_plans


def _check_outputs(out: Path, anatomy: str, overwrite: bool) -> tuple[Path, Path, Path, Path]:
    """Refuse, before any work, outputs the demo may not write; returns (case, models, json, csv)."""
    from surgiplan.core.fileio import check_name_length, check_output

    check_name_length(out)
    if os.path.lexists(out) and (out.is_symlink() or not out.is_dir()):
        raise InputError("the output exists and is not a folder", path=out, hint="Choose another --out folder.")
    case_dir = out / f"{anatomy}-case"
    model_dir = out / f"{anatomy}-models"
    cj = out / f"{anatomy}-comparison.json"
    cc = out / f"{anatomy}-comparison.csv"
    for folder in (case_dir, model_dir):
        if os.path.lexists(folder) and (folder.is_symlink() or not folder.is_dir()):
            raise InputError("a file or link is in the way of a folder the demo writes", path=folder,
                             hint="Remove it or choose another --out folder.")
    if case_dir.exists() and any(case_dir.iterdir()):
        if not overwrite:
            raise InputError(
                "a demo case already exists here", path=case_dir,
                hint="Pass --overwrite to replace it, or choose another --out folder.",
            )
        if not (case_dir / "case.json").is_file():
            raise InputError(
                "the folder is not a surgiplan case; refusing to delete it", path=case_dir,
                hint="Choose another --out folder.",
            )
    if model_dir.exists() and any(model_dir.iterdir()) and not overwrite:
        raise InputError("demo models already exist here", path=model_dir,
                         hint="Pass --overwrite to replace them, or choose another --out folder.")
    for f in (cj, cc):
        check_output(f, overwrite=overwrite)
    return case_dir, model_dir, cj, cc


def run_demo(
    out_dir: str | Path,
    anatomy: str = "hip",
    *,
    size: str = "small",
    overwrite: bool = False,
    pdf: bool = True,
    figures=None,
    simulate: bool = False,
    paper: str = "a4",
    progress: Progress | None = None,
) -> DemoResult:
    """Run the whole headless workflow for ``anatomy`` into ``out_dir``.

    ``out_dir/<anatomy>-case/`` is the case folder; the comparison goes beside it
    as ``<anatomy>-comparison.json`` / ``.csv``; binary STL models (LPS) go to
    ``out_dir/<anatomy>-models/``. Every output is checked before any work: with
    ``overwrite`` an earlier demo (case, models, comparison) is replaced, otherwise
    any of them existing is an error. An earlier case is kept aside until the new
    one is saved, and put back if the run fails.

    With ``simulate`` the registry's first study of the anatomy runs for plans A and B
    (InputError before any work when this build has no registry). With ``pdf`` (default)
    the OR plan report of plan A with the comparison to B goes to ``CASE/reports/A.pdf``,
    images rendered by ``figures`` (none when None).
    """
    import shutil

    from surgiplan.core.fileio import atomic_write_text, ensure_folder
    from surgiplan.core.surfaces import write_mesh

    if anatomy not in ANATOMIES:
        raise InputError(f"unknown demo case '{anatomy}'", hint=f"Use one of: {', '.join(ANATOMIES)}.")
    build_plans = _plan_builder(anatomy)
    if simulate:
        from surgiplan.demo.simulate import simulation_available

        if not simulation_available():
            raise InputError("this build has no simulation studies yet", hint="Run the demo without --simulate.")
    case_dir, model_dir, cj, cc = _check_outputs(Path(out_dir), anatomy, overwrite)
    ensure_folder(Path(out_dir))
    out = Path(out_dir).resolve()
    case_dir, model_dir, cj, cc = (out / p.name for p in (case_dir, model_dir, cj, cc))
    old = None
    if case_dir.exists() and any(case_dir.iterdir()):  # checked above: a case, and --overwrite given
        old = out / f".{case_dir.name}.old-{os.getpid()}"
        os.replace(case_dir, old)
    try:
        case, volume, _seg, models = build_sample_case(
            anatomy, case_dir, size=size, progress=sub_progress(progress, 0.0, 0.7)
        )
        report(progress, 0.75, "planning")
        comparison = build_plans(case, progress=sub_progress(progress, 0.75, 0.97))
        case.save()
    except BaseException:
        if old is not None:
            shutil.rmtree(case_dir, ignore_errors=True)
            os.replace(old, case_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    studies: list[dict] = []
    if simulate:
        from surgiplan.demo.simulate import simulate_plans

        report(progress, 0.8, "simulating")
        studies = simulate_plans(case_dir, list(case.plans)[:2], anatomy, progress=sub_progress(progress, 0.8, 0.9))
    report_pdf = None
    if pdf:
        from surgiplan.core.case import Case
        from surgiplan.core.report import make_report

        case = Case.open(case_dir) if simulate else case
        names = list(case.plans)
        report_pdf = make_report(case, names[0], compare=names[1] if len(names) > 1 else None, paper=paper,
                                 figures=figures, overwrite=True, progress=sub_progress(progress, 0.9, 0.97))
    report(progress, 0.97, "exporting models")
    ensure_folder(model_dir)
    model_files = []
    for m in models:
        model_files.append(write_mesh(case.get_model(m.name), model_dir / f"{m.name}.stl", frame="LPS"))
    atomic_write_text(cj, comparison.to_json())
    atomic_write_text(cc, comparison.to_csv())
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
        report_pdf=report_pdf,
        studies=studies,
    )
