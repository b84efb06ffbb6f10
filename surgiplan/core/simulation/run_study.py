"""Run one study file as a (possibly MPI-parallel) child process.

    python -m surgiplan.core.simulation.run_study STUDY.json [--out DIR]
    mpiexec -n 4 python -m surgiplan.core.simulation.run_study STUDY.json

Rank 0 prints one JSON object a line on stdout: ``{"progress": 0.4, "message": "..."}``,
then ``{"result": {...summary...}}`` or ``{"error": {"type", "message"}}``. The
output folder (default: the study's folder) receives results.xdmf/.h5,
summary.json and status.json. SIGTERM or Ctrl+C (SIGINT) asks every rank to
stop at the next safe point (all ranks agree through an allreduce); the status
becomes ``cancelled`` and nothing is marked complete. Exit codes: 0 complete,
1 failed, 130 cancelled.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from mpi4py import MPI

from surgiplan.core.errors import Cancelled, InputError, SurgiplanError
from surgiplan.core.jobs import CancelToken, report, sub_progress


class JsonLinesProgress:
    """Progress printed as JSON lines on rank 0; ``cancelled`` is collective (allreduce)."""

    def __init__(self, comm: MPI.Comm, token: CancelToken, stream=None, min_interval_s: float = 0.2):
        self.comm, self.token = comm, token
        self.stream = stream or sys.stdout
        self.min_interval_s = min_interval_s
        self._last = 0.0

    def emit(self, obj: dict) -> None:
        if self.comm.rank == 0:
            self.stream.write(json.dumps(obj) + "\n")
            self.stream.flush()

    def update(self, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if fraction >= 1.0 or now - self._last >= self.min_interval_s:
            self._last = now
            self.emit({"progress": round(float(fraction), 4), "message": message})

    @property
    def cancelled(self) -> bool:
        return bool(self.comm.allreduce(self.token.cancelled, MPI.LOR))


def run_study(study_path: Path, out_dir: Path | None = None, progress=None,
              comm: MPI.Comm = MPI.COMM_WORLD) -> dict:
    """Load, solve and write a study (collective over ``comm``); returns the summary.

    Writes ``status.json`` running -> complete; on error the caller marks it
    failed/cancelled.
    """
    from surgiplan.core.simulation.mesh_io import read_tagged_mesh
    from surgiplan.core.simulation.results import write_status, write_summary
    from surgiplan.core.simulation.study_schema import load_study

    study, mesh_path = load_study(study_path)
    out_dir = Path(out_dir) if out_dir is not None else Path(study_path).resolve().parent
    if comm.rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_status(out_dir, "running", f"{study.physics} study {study.name!r} on {comm.size} rank(s)")
    comm.barrier()
    t0 = time.perf_counter()
    report(progress, 0.01, f"reading mesh {mesh_path.name}")
    tm = read_tagged_mesh(mesh_path, comm, unit=study.mesh.unit, names=study.mesh.tags,
                          xdmf_mesh_name=study.mesh.xdmf_mesh_name)
    report(progress, 0.05, f"mesh: {tm.mesh.topology.index_map(3).size_global} cells")
    sub = sub_progress(progress, 0.05, 0.97)
    if study.physics == "elasticity":
        if tm.unit == "m":
            tm.scaled(1000.0, "mm")
        from surgiplan.core.simulation.elasticity_study import run_elasticity_study

        summary = run_elasticity_study(study, tm, out_dir, sub)
    elif study.physics == "flow":
        if tm.unit == "mm":
            tm.scaled(1e-3, "m")
        from surgiplan.core.simulation.flow_study import run_flow_study

        summary = run_flow_study(study, tm, out_dir, sub)
    else:  # pragma: no cover - the schema forbids it
        raise InputError(f"unsupported physics {study.physics!r}", path=study_path)
    summary["wall_time_s"] = time.perf_counter() - t0
    summary["ranks"] = comm.size
    report(progress, 0.98, "writing summary.json")
    if comm.rank == 0:
        write_summary(out_dir, summary)
        write_status(out_dir, "complete", "finished")
    comm.barrier()
    if progress is not None:
        progress.update(1.0, "complete")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_study", description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    comm = MPI.COMM_WORLD
    token = CancelToken()
    # JSON lines go to the real stdout; anything libraries print (gmsh, PETSc) to stderr
    sys.stdout.flush()
    json_stream = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def _stop(signum, frame):
        token.cancel()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    progress = JsonLinesProgress(comm, token, json_stream)
    out_dir = args.out if args.out is not None else args.study.resolve().parent
    try:
        summary = run_study(args.study, out_dir, progress, comm)
        progress.emit({"result": summary})
        return 0
    except Cancelled as exc:
        _final(comm, out_dir, "cancelled", str(exc))
        progress.emit({"error": {"type": "Cancelled", "message": str(exc)}})
        return 130
    except SurgiplanError as exc:
        _final(comm, out_dir, "failed", str(exc))
        progress.emit({"error": {"type": type(exc).__name__, "message": str(exc)}})
        return 1
    except Exception as exc:  # a bug: report it, and do not leave other ranks waiting
        msg = f"internal error: {type(exc).__name__}: {exc}"
        _final(comm, out_dir, "failed", msg)
        if comm.rank == 0:
            progress.emit({"error": {"type": "InternalError", "message": msg,
                                     "traceback": traceback.format_exc()}})
        if comm.size > 1:
            comm.Abort(1)
        return 1


def _final(comm, out_dir, status, message) -> None:
    from surgiplan.core.simulation.results import write_status

    if comm.rank == 0 and out_dir is not None and Path(out_dir).is_dir():
        try:
            write_status(Path(out_dir), status, message)
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main())
