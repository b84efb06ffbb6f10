"""Result files of a study: XDMF/HDF5 fields, ``summary.json`` and ``status.json``.

Layout of an output folder::

    results.xdmf + results.h5   fields on the mesh (ParaView; pyvista.read)
    summary.json                numbers with units in their keys
    status.json                 {"status": running|complete|failed|cancelled, "message", "updated_utc"}

Every file is written under a temporary name and renamed, so a reader never
sees half a file; ``status`` turns ``complete`` only after all files are in place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

STATUSES = ("running", "complete", "failed", "cancelled")


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_status(out_dir: Path, status: str, message: str = "", **extra) -> None:
    """Write ``status.json`` (call on one rank only)."""
    assert status in STATUSES
    data = {"status": status, "message": message,
            "updated_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra}
    atomic_write_text(Path(out_dir) / "status.json", json.dumps(data, indent=1) + "\n")


def read_status(out_dir: Path) -> dict:
    p = Path(out_dir) / "status.json"
    return json.loads(p.read_text()) if p.is_file() else {"status": "missing"}


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def write_summary(out_dir: Path, summary: dict) -> None:
    atomic_write_text(Path(out_dir) / "summary.json", json.dumps(_jsonable(summary), indent=1) + "\n")


def write_fields_xdmf(out_dir: Path, mesh, functions: list, name: str = "results") -> Path:
    """Write ``functions`` (P1 / DG0 on ``mesh``) to ``out_dir/name.xdmf`` + ``.h5`` atomically.

    Collective. Files go to a hidden temporary folder first and are renamed in.
    """
    from dolfinx.io import XDMFFile

    comm = mesh.comm
    out_dir = Path(out_dir)
    tmp = None
    if comm.rank == 0:
        tmp = tempfile.mkdtemp(prefix=".results-", dir=out_dir)
    tmp = Path(comm.bcast(tmp, root=0))
    with XDMFFile(comm, str(tmp / f"{name}.xdmf"), "w") as f:
        f.write_mesh(mesh)
        for fn in functions:
            f.write_function(fn)
    comm.barrier()
    if comm.rank == 0:
        for suffix in (".h5", ".xdmf"):  # the .xdmf last: it points at the .h5
            os.replace(tmp / f"{name}{suffix}", out_dir / f"{name}{suffix}")
        shutil.rmtree(tmp, ignore_errors=True)
    comm.barrier()
    return out_dir / f"{name}.xdmf"


def read_results(path: Path):
    """The XDMF results as a pyvista UnstructuredGrid (point and cell data), for display.

    Reads the HDF5 file that the ``.xdmf`` points at with h5py (VTK's XDMF
    reader crashes on these files in this build); each field's last time step
    becomes point data (one value per mesh node) or cell data (one per cell).
    """
    import h5py
    import pyvista as pv

    path = Path(path)
    h5 = path.with_suffix(".h5")
    if not h5.is_file():
        from surgiplan.core.errors import InputError

        raise InputError("the HDF5 file of these results is missing", path=h5,
                         hint="Re-run the study; results are written together.")
    with h5py.File(h5, "r") as f:
        mesh_group = f["Mesh"][next(iter(f["Mesh"]))]
        points = np.asarray(mesh_group["geometry"])
        cells = np.asarray(mesh_group["topology"], dtype=np.int64)
        grid = pv.UnstructuredGrid({pv.CellType.TETRA: cells[:, :4]}, points)
        for name in f.get("Function", {}):
            steps = f["Function"][name]
            last = sorted(steps, key=lambda k: float(k.replace("_", ".")))[-1]
            data = np.asarray(steps[last])
            if data.ndim == 2 and data.shape[1] == 1:
                data = data[:, 0]
            if len(data) == grid.n_points:
                grid.point_data[name] = data
            elif len(data) == grid.n_cells:
                grid.cell_data[name] = data
    return grid
