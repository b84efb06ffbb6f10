"""Start the remodelling loop (:mod:`surgiplan.core.twin.remodel_run`) as a child process and follow it.

The same protocol as the study runner: JSON lines with progress, then a result or an error.
Cancel (``progress.cancelled``) kills the child's process tree; Cancelled is raised.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from surgiplan.core import errors
from surgiplan.core.errors import Cancelled, SolverError
from surgiplan.core.jobs import Progress


def run_remodel_process(config: Path, progress: Progress | None = None) -> dict:
    """Run the loop described by ``config`` (JSON) in a child process; return its result dict.

    Raises the child's error as the same SurgiplanError subclass (SolverError otherwise), or
    Cancelled when ``progress.cancelled`` became true (the child is killed).
    """
    from surgiplan.core.simulation.runner import _kill_tree

    cmd = [sys.executable, "-m", "surgiplan.core.twin.remodel_run", str(Path(config).resolve())]
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    err_file = tempfile.TemporaryFile(mode="w+b")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file, env=env, start_new_session=True)
    lines: queue.Queue = queue.Queue()

    def _reader():
        for raw in proc.stdout:
            lines.put(raw)
        lines.put(None)

    threading.Thread(target=_reader, daemon=True).start()
    result, error = None, None
    try:
        while True:
            if progress is not None and progress.cancelled:
                _kill_tree(proc)
                proc.wait()
                raise Cancelled("Remodelling cancelled; nothing of it was kept.", path=Path(config).parent)
            try:
                raw = lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if raw is None:
                break
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(obj, dict):
                continue
            if "progress" in obj and progress is not None:
                progress.update(float(obj["progress"]), str(obj.get("message", "")))
            elif "result" in obj:
                result = obj["result"]
            elif "error" in obj:
                error = obj["error"]
        proc.wait()
    except BaseException:
        _kill_tree(proc)
        proc.wait()
        raise
    finally:
        err_file.seek(0)
        tail = err_file.read()[-4000:].decode("utf-8", "replace")
        err_file.close()
    if error is not None:
        cls = getattr(errors, str(error.get("type")), None)
        if not (isinstance(cls, type) and issubclass(cls, errors.SurgiplanError)):
            cls = SolverError
        raise cls(str(error.get("message")))
    if result is None or proc.returncode != 0:
        raise SolverError(f"the remodelling process ended with code {proc.returncode} without a result",
                          path=config, hint=f"Its last messages: {tail.strip()[-800:]}")
    return result
