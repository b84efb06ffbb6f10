"""The demo's simulation step (``surgiplan demo --simulate``): the registry's studies for each plan.

The simulation registry (:mod:`surgiplan.core.simulation.case_studies`, see the simulation
contract) maps study names to modules; :func:`simulate_plans` runs, for each plan, the studies
of the case's anatomy that this build has (``available``), through the registry's
``run_case_study`` (each writes ``CASE/studies/<plan>--<study>/`` with ``summary.json`` and
``surface.vtp`` and records the study in case.json). The report then shows them.
When the registry is not in this build, :func:`simulation_available` is False and the demo
says so instead of simulating.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from surgiplan.core.errors import Cancelled, InputError
from surgiplan.core.jobs import Progress, report, sub_progress

REGISTRY = "surgiplan.core.simulation.case_studies"


def _registry():
    try:
        return importlib.import_module(REGISTRY)
    except ModuleNotFoundError as exc:
        if exc.name in (REGISTRY, "surgiplan.core.simulation"):
            return None
        raise


def simulation_available() -> bool:
    """True when this build has the case-study registry."""
    return _registry() is not None


def demo_studies(anatomy: str, limit: int | None = 1) -> list[str]:
    """The available studies of ``anatomy`` in the registry (the first ``limit`` of them; all when None)."""
    reg = _registry()
    if reg is None:
        return []
    names = [s["name"] for s in reg.list_studies() if s.get("anatomy") == anatomy and s.get("available")]
    return names if limit is None else names[:limit]


def simulate_plans(case_dir: str | Path, plans: list[str], anatomy: str, *, studies: list[str] | None = None,
                   n_ranks: int = 1, progress: Progress | None = None) -> list[dict]:
    """Run ``studies`` (default: the first available study of ``anatomy``) for every plan.

    Returns the summaries (one per plan and study); a study that fails gives
    ``{"case_study": {"plan", "study"}, "error": "..."}`` instead, and the others still run.
    InputError when the registry is missing or has no study for the anatomy.
    """
    reg = _registry()
    if reg is None:
        raise InputError("this build has no simulation studies yet (surgiplan.core.simulation.case_studies)",
                         hint="Run the demo without --simulate.")
    studies = studies or demo_studies(anatomy)
    if not studies:
        raise InputError(f"no simulation study is available for the {anatomy} case in this build",
                         hint="See `surgiplan simulate --list`; run the demo without --simulate.")
    jobs = [(p, s) for p in plans for s in studies]
    out = []
    for i, (plan, study) in enumerate(jobs):
        report(progress, i / len(jobs), f"simulating {study} for plan {plan}")
        try:
            out.append(reg.run_case_study(Path(case_dir), plan, study, n_ranks=n_ranks,
                                          progress=sub_progress(progress, i / len(jobs), (i + 1) / len(jobs))))
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - one failed study must not lose the others and the report
            out.append({"case_study": {"plan": plan, "study": study}, "error": f"{type(exc).__name__}: {exc}"})
    report(progress, 1.0, "simulations done")
    return out
