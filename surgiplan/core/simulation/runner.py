"""Start a study as a child process (optionally under ``mpiexec -n N``) and follow it.

:func:`run_study_process` is the one function the CLI and the window call: it
validates the study, reads the child's JSON lines, forwards progress to a
``Progress``, and on cancel sends SIGTERM to the child's process group (the
child, or mpiexec, which forwards it to every rank), waits for the ranks to
stop at a safe point, kills what is left after a grace period, and makes sure
the result folder's status says ``cancelled`` (never ``complete``).
"""

from __future__ import annotations

import json
import math
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from surgiplan.core import errors
from surgiplan.core.errors import Cancelled, InputError, SolverError
from surgiplan.core.jobs import Progress

#: Most ranks per CPU core ``run_study_process`` starts on this machine (oversubscription beyond it
#: only thrashes; a typo such as --np 100 on a laptop would start 100 solvers).
MAX_RANKS_PER_CORE = 4


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

    The study is validated here first (a refused study starts no process and
    writes nothing). Raises the child's error as the same SurgiplanError subclass
    (InputError, SolverError, ...), or Cancelled when ``progress.cancelled``
    became true: then the child's process group gets SIGTERM (mpiexec forwards
    it to every rank), the ranks stop at their next safe point, and after
    ``grace_s`` whatever is left of the process tree is killed. ``on_line(obj)``
    sees every JSON object the child printed.
    """
    from surgiplan.core.simulation.run_study import PARENT_ENV
    from surgiplan.core.simulation.study_schema import load_study

    study = Path(study).resolve()
    if not study.is_file():
        raise InputError("study file not found", path=study, hint="Check the path.")
    if n_ranks < 1:
        raise InputError(f"the number of ranks must be >= 1 (got {n_ranks})")
    cores = os.cpu_count() or 1
    if n_ranks > MAX_RANKS_PER_CORE * cores:
        raise InputError(f"{n_ranks} ranks on this machine's {cores} CPU core(s) would overload it (each rank "
                         f"holds its own solver; at most {MAX_RANKS_PER_CORE * cores} are accepted)",
                         hint="Use --np up to the number of cores; on a cluster, start mpiexec/srun yourself.")
    load_study(study)
    from surgiplan.core.simulation.solver_env import require_solver

    require_solver(f"study {study.name}")
    out = Path(out_dir).resolve() if out_dir is not None else study.parent
    cmd = study_command(study, out, n_ranks)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env[PARENT_ENV] = f"{socket.gethostname()}:{os.getpid()}"
    err_file = tempfile.TemporaryFile(mode="w+b")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file, env=env,
                            start_new_session=True)
    lines: queue.Queue = queue.Queue()

    def _reader():
        for raw in proc.stdout:
            lines.put(raw)
        lines.put(None)

    threading.Thread(target=_reader, daemon=True).start()
    result, error, cancelled, killed = None, None, False, False
    eof = False
    deadline = math.inf
    try:
        while True:
            if progress is not None and not cancelled and progress.cancelled:
                cancelled = True
                _signal(proc, signal.SIGTERM)  # the child (or mpiexec, which forwards it to every rank)
                deadline = time.monotonic() + grace_s
            if cancelled and not killed and time.monotonic() > deadline and proc.poll() is None:
                _kill_tree(proc)
                killed = True
            try:
                raw = lines.get(timeout=0.1)
            except queue.Empty:
                if eof and proc.poll() is not None:
                    break
                continue
            if raw is None:
                eof = True
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(obj, dict):
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
        _kill_tree(proc)
        proc.wait()
        _mark(out, "cancelled", "the parent process stopped")
        raise
    finally:
        err_file.seek(0)
        stderr_tail = err_file.read()[-4000:].decode("utf-8", "replace")
        err_file.close()
    if cancelled or (error and error.get("type") == "Cancelled"):
        _mark(out, "cancelled", "cancelled: the solver was asked to stop" if not killed else
              f"cancelled: the solver was asked to stop and killed after {grace_s:g} s")
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


def _signal(proc: subprocess.Popen, sig: int) -> None:
    """Signal the child only: a form's C compiler it may be running finishes (a killed compile
    leaves a lock that stalls the next run; see run_study.clean_stale_jit_locks)."""
    try:
        proc.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the child, its process group and every descendant (mpiexec's proxies and ranks
    run in process groups of their own)."""
    try:
        import psutil

        descendants = psutil.Process(proc.pid).children(recursive=True)
    except Exception:
        descendants = []
    _signal_group(proc, signal.SIGKILL)
    for p in descendants:
        try:
            p.kill()
        except Exception:
            pass


def _mark(out: Path, status: str, message: str) -> None:
    """Status after the child ended: never leave 'running' or a wrong 'complete'."""
    from surgiplan.core.simulation.results import read_status, write_status

    if not out.is_dir():
        return
    current = read_status(out, raw=True).get("status")
    if (status == "cancelled" and current != "complete") or current in ("running", "missing", "unreadable"):
        try:
            write_status(out, status, message)
        except errors.SurgiplanError:
            pass
