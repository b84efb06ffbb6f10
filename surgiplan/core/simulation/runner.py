"""Start a study as a child process (optionally under ``mpiexec -n N``) and follow it.

:func:`run_study_process` is the one function the CLI and the window call: it
reads the child's JSON lines, forwards progress to a ``Progress``, and on
cancel sends SIGTERM to the child's whole process group (mpiexec and every
rank), waits for the ranks to stop at a safe point, and makes sure the result
folder's status says ``cancelled`` (never ``complete``).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from surgiplan.core import errors
from surgiplan.core.errors import Cancelled, InputError, SolverError
from surgiplan.core.jobs import Progress


def mpiexec_path() -> str | None:
    """The ``mpiexec`` next to this Python (the venv's MPICH), else the one on PATH."""
    local = Path(sys.executable).parent / "mpiexec"
    return str(local) if local.exists() else shutil.which("mpiexec")


def study_command(study: Path, out_dir: Path | None, n_ranks: int = 1) -> list[str]:
    cmd = [sys.executable, "-m", "surgiplan.core.simulation.run_study", str(study)]
    if out_dir is not None:
        cmd += ["--out", str(out_dir)]
    if n_ranks > 1:
        mpi = mpiexec_path()
        if mpi is None:
            raise InputError(f"{n_ranks} ranks requested but mpiexec was not found",
                             hint="Install MPI (the dolfinx wheel brings one) or use --np 1.")
        cmd = [mpi, "-n", str(n_ranks)] + cmd
    return cmd


def run_study_process(study: str | Path, out_dir: str | Path | None = None, n_ranks: int = 1,
                      progress: Progress | None = None, grace_s: float = 20.0,
                      on_line=None) -> dict:
    """Run ``study`` in a child process; return its summary dict.

    Raises the child's error as the same SurgiplanError subclass (InputError,
    SolverError, ...), or Cancelled when ``progress.cancelled`` became true.
    ``on_line(obj)`` sees every JSON object the child printed.
    """
    study = Path(study).resolve()
    if not study.is_file():
        raise InputError("study file not found", path=study, hint="Check the path.")
    if n_ranks < 1:
        raise InputError(f"the number of ranks must be >= 1 (got {n_ranks})")
    out = Path(out_dir).resolve() if out_dir is not None else study.parent
    cmd = study_command(study, out, n_ranks)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    err_file = tempfile.TemporaryFile(mode="w+b")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file, env=env,
                            start_new_session=True)
    lines: queue.Queue = queue.Queue()

    def _reader():
        for raw in proc.stdout:
            lines.put(raw)
        lines.put(None)

    threading.Thread(target=_reader, daemon=True).start()
    result, error, cancelled = None, None, False
    eof = False
    try:
        while True:
            if progress is not None and progress.cancelled and not cancelled:
                cancelled = True
                _signal_group(proc, signal.SIGTERM)
                deadline = time.monotonic() + grace_s
            if cancelled and proc.poll() is None and time.monotonic() > deadline:
                _signal_group(proc, signal.SIGKILL)
            try:
                raw = lines.get(timeout=0.1)
            except queue.Empty:
                if eof and proc.poll() is not None:
                    break
                continue
            if raw is None:
                eof = True
                if proc.poll() is not None or cancelled:
                    proc.wait()
                    break
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if on_line is not None:
                on_line(obj)
            if "progress" in obj and progress is not None and not cancelled:
                progress.update(float(obj["progress"]), str(obj.get("message", "")))
            elif "result" in obj:
                result = obj["result"]
            elif "error" in obj:
                error = obj["error"]
        proc.wait()
    except BaseException:
        _signal_group(proc, signal.SIGKILL)
        proc.wait()
        _mark(out, "cancelled", "the parent process stopped")
        raise
    finally:
        err_file.seek(0)
        stderr_tail = err_file.read()[-4000:].decode("utf-8", "replace")
        err_file.close()
    if cancelled or (error and error.get("type") == "Cancelled"):
        _mark(out, "cancelled", "cancelled by the user")
        raise Cancelled("Simulation cancelled; the result folder is marked cancelled.", path=out)
    if error is not None:
        cls = getattr(errors, str(error.get("type")), None)
        if not (isinstance(cls, type) and issubclass(cls, errors.SurgiplanError)):
            cls = SolverError
        raise cls(str(error.get("message")))
    if result is None or proc.returncode != 0:
        _mark(out, "failed", f"the solver process ended with code {proc.returncode}")
        raise SolverError(f"the solver process ended with code {proc.returncode} without a result",
                          path=study, hint=f"Its last messages: {stderr_tail.strip()[-800:]}")
    return result


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _mark(out: Path, status: str, message: str) -> None:
    """Status after the child ended: never leave 'running' or a wrong 'complete'."""
    from surgiplan.core.simulation.results import read_status, write_status

    if out.is_dir() and read_status(out).get("status") in ("running", "missing") or (
            status == "cancelled" and out.is_dir()
            and read_status(out).get("status") not in ("complete",)):
        write_status(out, status, message)
