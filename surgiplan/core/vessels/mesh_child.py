"""The vessel mesher as a child process: ``python -m surgiplan.core.vessels.mesh_child``.

gmsh can crash (a segmentation fault in its 3D mesher on some real lumens) and must not take the
application with it; and forking a process that holds threads (VTK, OpenMP, MPI) can deadlock the child.
So :func:`mesh_in_child` starts a fresh interpreter (no fork) that runs
:func:`surgiplan.core.vessels.flow_mesh.mesh_lumen` and exits:

* parent -> child (stdin): a pickled dict ``closed`` (:class:`~surgiplan.core.vessels.flow_mesh.ClosedSurface`),
  ``cuts``, ``grid`` (:class:`~surgiplan.core.vessels.flow_mesh.SizeGrid`, computed in the parent, so any
  size function works), ``msh`` (path written by the child through the one write path) and ``kw``;
* child -> parent (its original stdout; anything C libraries print goes to stderr): a pickled tuple
  ``("ok", timings, n_tetrahedra, (boundary points (n, 3) mm, boundary triangles (m, 3)))`` or
  ``("error", message, hint)`` for a MeshingError (or any other exception) raised in the child.

No answer (a crash) is a MeshingError naming the signal or exit code; the half-written mesh is removed.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from surgiplan.core.errors import MeshingError

MODULE = "surgiplan.core.vessels.mesh_child"


def child_command() -> list[str]:
    """The command line of the child (a fresh interpreter of this environment)."""
    return [sys.executable, "-m", MODULE]


def mesh_in_child(closed, cuts, grid, msh: Path, **kw) -> tuple[dict, int, tuple[np.ndarray, np.ndarray]]:
    """Mesh ``closed`` in a spawned child (see module docstring).

    Returns (timings in s, number of tetrahedra, (boundary points, triangles)); the timings include
    ``process_s``: the child's start-up, imports and data transfer (wall time outside ``mesh_lumen``).
    Raises MeshingError when gmsh fails or the child crashes.
    """
    from surgiplan.core.vessels.flow_mesh import ClosedSurface

    payload = pickle.dumps({"closed": ClosedSurface.of(closed), "cuts": list(cuts),
                            "grid": grid, "msh": str(msh), "kw": kw}, protocol=pickle.HIGHEST_PROTOCOL)
    # a singleton, not a member of the parent's MPI job (it imports mpi4py through surgiplan.core.simulation)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "HYDRA_", "OMPI_", "MPIR_"))}
    env.setdefault("OMP_NUM_THREADS", "1")
    t0 = time.perf_counter()
    proc = subprocess.run(child_command(), input=payload, capture_output=True, env=env)
    wall = time.perf_counter() - t0
    try:
        msg = pickle.loads(proc.stdout) if proc.stdout else None
    except Exception:  # a truncated answer: the child died while writing it
        msg = None
    if not isinstance(msg, tuple) or not msg:
        Path(msh).unlink(missing_ok=True)
        how = _how_it_ended(proc.returncode)
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise MeshingError(f"gmsh crashed meshing the vessel ({how})" + (f": {' / '.join(tail)}" if tail else ""),
                           hint="The lumen surface may self-intersect; check the segmentation.")
    if msg[0] == "error":
        raise MeshingError(msg[1], hint=msg[2])
    _, timings, n, boundary = msg
    timings["process_s"] = max(0.0, wall - sum(v for k, v in timings.items() if k.endswith("_s")))
    return timings, n, boundary


def _how_it_ended(code: int) -> str:
    """'signal SIGSEGV' for a child killed by a signal (negative return code), else 'exit code N'."""
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            pass
    return f"exit code {code}"


def _work(args: dict) -> tuple:
    import gmsh

    from surgiplan.core.simulation import meshes
    from surgiplan.core.vessels import flow_mesh as FM

    try:
        mt = FM.mesh_lumen(args["closed"], args["cuts"], args["grid"], Path(args["msh"]), **args["kw"])
        n = int(len(gmsh.model.mesh.getElementsByType(4)[0]))
        # the meshed boundary (gmsh's re-meshed wall and caps), for the probe points
        tags, coords, _ = gmsh.model.mesh.getNodes()
        order = np.argsort(tags)
        _, tri = gmsh.model.mesh.getElementsByType(2)
        tri = order[np.searchsorted(tags[order], np.asarray(tri).reshape(-1, 3))]
        boundary = (np.asarray(coords).reshape(-1, 3), tri)
        meshes.finish()
        return ("ok", mt, n, boundary)
    except MeshingError as exc:
        return ("error", exc.message, exc.hint)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as a meshing failure
        return ("error", f"gmsh could not mesh the vessel: {exc}", None)


def main() -> None:
    out = os.fdopen(os.dup(1), "wb")  # the answer's channel; C libraries' prints go to stderr
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    args = pickle.loads(sys.stdin.buffer.read())
    msg = _work(args)
    out.write(pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))
    out.flush()


if __name__ == "__main__":
    main()
