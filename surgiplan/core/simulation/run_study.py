"""Run one study file as a (possibly MPI-parallel) child process.

    python -m surgiplan.core.simulation.run_study STUDY.json [--out DIR]
    mpiexec -n 4 python -m surgiplan.core.simulation.run_study STUDY.json

Rank 0 prints one JSON object a line on stdout: ``{"progress": 0.4, "message": "..."}``,
then ``{"result": {...summary...}}`` or ``{"error": {"type", "message"}}``. The
output folder (default: the study's folder) receives results.xdmf/.h5,
summary.json and status.json. Exit codes: 0 complete, 1 failed, 130 cancelled.

Stopping (SIGTERM from a parent or a scheduler, SIGINT from Ctrl+C; ``mpiexec``
forwards both to every rank):

* the first signal sets the cancel flag on the rank that got it, and rank 0
  writes ``status.json`` = ``cancelled`` at once (so a SIGKILL that follows
  cannot leave ``running``); the ranks agree at the next safe point (a
  Krylov/Newton iteration or a time step: an allreduce of the flag), raise
  :class:`Cancelled`, remove the staged fields and exit 130;
* a second signal at least 2 s after the first stops the process at once
  (status already ``cancelled``); repeats within 2 s are the same request
  arriving twice (a process group signal plus mpiexec's forwarding);
* a signal during the last milliseconds (the renames of the finished results)
  lets them finish: the run is then ``complete``.

A Python signal handler runs only between bytecodes: while a rank is inside a
long C call (a MUMPS factorisation) the status is written when that call
returns. A parent (``surgiplan simulate``, the window) kills the process group
after a grace period and marks the folder ``cancelled`` itself; a ``running``
status whose process is gone reads as failed (see ``results.read_status``).
gmsh's ``initialize`` resets SIGTERM to the default action, so the handlers are
installed again after it and at every safe point. A child started by
:mod:`runner` also stops (as cancelled) when its parent process is gone.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import sys
import time
import traceback
from pathlib import Path

from mpi4py import MPI

from surgiplan.core.errors import Cancelled, InputError, SolverError, SurgiplanError
from surgiplan.core.jobs import CancelToken, check_cancelled, pid_alive, report, sub_progress

#: Environment variable naming the parent that started the child (``host:pid``), set by the runner.
PARENT_ENV = "SURGIPLAN_PARENT"
#: A repeated signal within this many seconds is the same request delivered twice.
FORCE_AFTER_S = 2.0


class SignalStop:
    """SIGTERM / SIGINT -> cancel at the next safe point; rank 0 marks the folder cancelled at once.

    ``phase`` is ``starting`` (nothing written yet), ``running`` (status says running),
    ``committing`` (the finished results are being renamed in) or ``done``.
    """

    def __init__(self, comm: MPI.Comm, token: CancelToken):
        self.comm, self.token = comm, token
        self.out_dir: Path | None = None
        self.staging: Path | None = None
        self.phase = "starting"
        self.reason: str | None = None
        self.status_written = False
        self._first_at: float | None = None
        self._parent = _parent_from_env()

    def install(self) -> None:
        """(Re)install the handlers; call from the main thread."""
        try:
            signal.signal(signal.SIGTERM, self._handle)
            signal.signal(signal.SIGINT, self._handle)
            if hasattr(signal, "SIGPIPE"):  # gmsh resets it too: a closed stdout must raise, not kill
                signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        except ValueError:  # not the main thread
            pass

    def _handle(self, signum, frame) -> None:
        now = time.monotonic()
        name = signal.Signals(signum).name
        if self._first_at is None:
            self._first_at = now
            self.cancel(f"{name} received")
            return
        if now - self._first_at < FORCE_AFTER_S or self.phase == "committing":
            return
        self._mark_cancelled(f"{name} received twice; stopped at once")
        if self.comm.rank == 0:
            from surgiplan.core.simulation.results import remove_staging

            remove_staging(self.staging)
        os._exit(130)

    def cancel(self, reason: str) -> None:
        """Ask every rank to stop at the next safe point; rank 0 writes ``cancelled`` now."""
        if self.reason is None:
            self.reason = reason
        self.token.cancel()
        self._mark_cancelled(f"{reason}; stopping at the next safe point")

    def _mark_cancelled(self, message: str) -> None:
        if self.comm.rank != 0 or self.out_dir is None or self.phase != "running" or self.status_written:
            return
        try:
            from surgiplan.core.simulation.results import write_status

            write_status(self.out_dir, "cancelled", message)
            self.status_written = True
        except Exception:  # never raise from a signal handler; the exit path writes it again
            pass

    def checkpoint(self) -> None:
        """At a safe point (main thread): handlers armed again, parent still there."""
        self.install()
        if self._parent is not None and not self.token.cancelled:
            host, pid = self._parent
            if host == socket.gethostname() and not pid_alive(pid):
                self.cancel(f"the parent process (pid {pid}) ended")


def _parent_from_env() -> tuple[str, int] | None:
    text = os.environ.get(PARENT_ENV, "")
    host, _, pid = text.rpartition(":")
    try:
        return (host, int(pid)) if host and pid else None
    except ValueError:
        return None




def _rearm_after_gmsh(stop: SignalStop) -> None:
    """gmsh.initialize() sets SIGTERM/SIGHUP/SIGQUIT to the default action (and SIGPIPE): re-arm after it."""
    try:
        import gmsh
    except ImportError:
        return
    original = gmsh.initialize
    if getattr(original, "_surgiplan_rearm", False):
        return

    def initialize(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        finally:
            stop.install()

    initialize._surgiplan_rearm = True
    gmsh.initialize = initialize


#: A form-compiler lock (``libffcx_*.c`` without its ``.c.cached``) older than this is stale.
JIT_LOCK_STALE_S = 60.0
_JIT_LOCK_RE = re.compile(r"remove (\S+\.c)\)")


def jit_cache_dir() -> Path | None:
    """The form compiler's cache folder (imports dolfinx: call on every rank, it is collective)."""
    try:
        from dolfinx import jit

        return Path(jit.get_options()["cache_dir"]).expanduser()
    except Exception:
        return None


def clean_stale_jit_locks(cache: Path | None, max_age_s: float = JIT_LOCK_STALE_S) -> list[Path]:
    """Remove form-compiler locks left by a process killed while compiling (rank 0).

    FFCx takes ``libffcx_forms_<hash>.c`` as a lock and marks it done with
    ``.c.cached``; a kill in between leaves the lock, and every later run of the same
    form waits 10 s and fails ("JIT compilation timed out"). A lock older than
    ``max_age_s`` (a compile takes seconds) is removed.
    """
    if cache is None:
        return []
    removed, now = [], time.time()
    for c in cache.glob("libffcx_*.c") if cache.is_dir() else []:
        try:
            if not c.with_suffix(".c.cached").exists() and now - c.stat().st_mtime > max_age_s:
                c.unlink()
                removed.append(c)
        except OSError:
            pass
    return removed


def _jit_timeout(exc: TimeoutError) -> SolverError:
    """The form compiler's timeout as an error a person can act on (the stale lock removed)."""
    m = _JIT_LOCK_RE.search(str(exc))
    lock = Path(m.group(1)) if m else None
    if lock is not None:
        try:
            lock.unlink()
        except OSError:
            pass
    return SolverError("the form compiler found the lock file of an earlier compilation that was "
                       "killed" + (f" ({lock}); it has been removed" if lock else ""),
                       hint="Run the study again.")


class JsonLinesProgress:
    """Progress printed as JSON lines on rank 0; ``cancelled`` is collective (allreduce)."""

    def __init__(self, comm: MPI.Comm, token: CancelToken, stream=None, min_interval_s: float = 0.2,
                 stop: SignalStop | None = None):
        self.comm, self.token = comm, token
        self.stream = stream or sys.stdout
        self.min_interval_s = min_interval_s
        self.stop = stop
        self._last = 0.0
        self._closed = False

    def emit(self, obj: dict) -> None:
        if self.comm.rank != 0 or self._closed:
            return
        try:
            self.stream.write(json.dumps(obj) + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # the reader is gone (parent killed): stop, as cancelled
            self._closed = True
            if self.stop is not None:
                self.stop.cancel("the output pipe was closed")
            else:
                self.token.cancel()

    def update(self, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if fraction >= 1.0 or now - self._last >= self.min_interval_s:
            self._last = now
            self.emit({"progress": round(float(fraction), 4), "message": message})

    @property
    def cancelled(self) -> bool:
        if self.stop is not None:
            self.stop.checkpoint()
        return bool(self.comm.allreduce(self.token.cancelled, MPI.LOR))


def run_study(study_path: Path, out_dir: Path | None = None, progress=None,
              comm: MPI.Comm = MPI.COMM_WORLD, stop: SignalStop | None = None) -> dict:
    """Load, solve and write a study (collective over ``comm``); returns the summary.

    Writes ``status.json`` running -> complete; on error the caller marks it
    failed/cancelled. Fields are written into a hidden staging folder and renamed
    in only after the last cancel check, so a cancelled or failed run leaves no
    result file.
    """
    from surgiplan.core import fileio
    from surgiplan.core.simulation.results import (
        check_targets,
        clean_stale,
        make_staging,
        publish,
        remove_staging,
        root_call,
        running_extra,
        write_status,
        write_summary,
    )
    from surgiplan.core.simulation.study_schema import load_study
    from surgiplan.core.simulation.volume_mesh_io import read_tagged_mesh

    study, mesh_path = load_study(study_path)
    out_dir = Path(out_dir) if out_dir is not None else Path(study_path).resolve().parent

    cache = jit_cache_dir()  # every rank: importing dolfinx is collective (never inside root_call)

    def _start():
        fileio.ensure_folder(out_dir)
        check_targets(out_dir)
        clean_stale(out_dir)
        clean_stale_jit_locks(cache)
        write_status(out_dir, "running", f"{study.physics} study {study.name!r} on {comm.size} rank(s)",
                     ranks=comm.size, **running_extra())
        return make_staging(out_dir) if study.outputs.xdmf else None

    staging = root_call(comm, _start)
    if stop is not None:
        stop.out_dir, stop.staging, stop.phase = out_dir, staging, "running"
    try:
        t0 = time.perf_counter()
        report(progress, 0.01, f"reading mesh {mesh_path.name}")
        tm = read_tagged_mesh(mesh_path, comm, unit=study.mesh.unit, names=study.mesh.tags,
                              xdmf_mesh_name=study.mesh.xdmf_mesh_name)
        report(progress, 0.05, f"mesh: {tm.mesh.topology.index_map(3).size_global} cells")
        sub = sub_progress(progress, 0.05, 0.97)
        summary = _solve(study, tm, staging, sub, study_path)
        summary["wall_time_s"] = time.perf_counter() - t0
        summary["ranks"] = comm.size
        if stop is not None:
            stop.phase = "committing"
        check_cancelled(progress)  # the last safe point: after it the results are renamed in

        def _commit():
            if staging is not None:
                publish(staging, out_dir)
            write_summary(out_dir, summary)
            write_status(out_dir, "complete", "finished")

        root_call(comm, _commit)
        if stop is not None:
            stop.phase = "done"
    finally:
        if comm.rank == 0:
            remove_staging(staging)
    if progress is not None:
        progress.update(1.0, "complete")
    return summary


def _solve(study, tm, out_dir, progress, study_path) -> dict:
    """The physics of ``study`` on ``tm``; fields into ``out_dir`` (the staging folder)."""
    try:
        if study.physics == "elasticity":
            if tm.unit == "m":
                tm.scaled(1000.0, "mm")
            from surgiplan.core.simulation.elasticity_study import run_elasticity_study

            return run_elasticity_study(study, tm, out_dir, progress)
        if study.physics == "flow":
            if tm.unit == "mm":
                tm.scaled(1e-3, "m")
            from surgiplan.core.simulation.flow_study import run_flow_study

            return run_flow_study(study, tm, out_dir, progress)
    except TimeoutError as exc:
        if "JIT" not in str(exc):
            raise
        raise _jit_timeout(exc) from None
    except Exception as exc:  # no C compiler for a form that is not in the cache (installer/README.md)
        from surgiplan.core.simulation.solver_env import compiler_error

        err = compiler_error(exc)
        if err is None:
            raise
        raise err from None
    raise InputError(f"unsupported physics {study.physics!r}", path=study_path)  # the schema forbids it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_study", description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    comm = MPI.COMM_WORLD
    token = CancelToken()
    stop = SignalStop(comm, token)
    stop.install()
    _rearm_after_gmsh(stop)
    # JSON lines go to the real stdout; anything libraries print (gmsh, PETSc) to stderr
    sys.stdout.flush()
    json_stream = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    progress = JsonLinesProgress(comm, token, json_stream, stop=stop)
    out_dir = args.out if args.out is not None else args.study.resolve().parent
    try:
        summary = run_study(args.study, out_dir, progress, comm, stop)
        progress.emit({"result": summary})
        return 0
    except Cancelled as exc:
        message = (f"Simulation cancelled ({stop.reason}); no result was written." if stop.reason
                   else str(exc))
        _final(comm, stop, "cancelled", message)
        progress.emit({"error": {"type": "Cancelled", "message": message}})
        return 130
    except SurgiplanError as exc:
        _final(comm, stop, "failed", str(exc))
        progress.emit({"error": {"type": type(exc).__name__, "message": str(exc)}})
        return 1
    except Exception as exc:  # a bug: report it, and do not leave other ranks waiting
        if token.cancelled:  # a signal that also reached a helper (e.g. the C compiler of a form)
            message = f"Simulation cancelled ({stop.reason or 'signal received'})"
            _final(comm, stop, "cancelled", message)
            progress.emit({"error": {"type": "Cancelled", "message": message}})
            if comm.size > 1:
                comm.Abort(130)
            return 130
        msg = f"internal error: {type(exc).__name__}: {exc}"
        _final(comm, stop, "failed", msg)
        if comm.rank == 0:
            progress.emit({"error": {"type": "InternalError", "message": msg,
                                     "traceback": traceback.format_exc()}})
        if comm.size > 1:
            comm.Abort(1)
        return 1


def _final(comm, stop: SignalStop, status: str, message: str) -> None:
    """The end status on rank 0, if this run wrote one (a refused study leaves the folder alone)."""
    from surgiplan.core.simulation.results import write_status

    if comm.rank != 0 or stop.out_dir is None or stop.phase == "starting":
        return
    stop.phase = "done"
    try:
        write_status(stop.out_dir, status, message)
    except Exception:  # the folder became unwritable: nothing more to do
        pass


if __name__ == "__main__":
    sys.exit(main())
