"""Result files of a study: XDMF/HDF5 fields, ``summary.json`` and ``status.json``.

Layout of an output folder::

    results.xdmf + results.h5   fields on the mesh: one temporal collection holding one grid with every
                                field (ParaView, ``pyvista.read``, ``meshio.xdmf.TimeSeriesReader``)
    results.vtu                 the same fields in one VTK file (ParaView, ``pyvista.read``, ``meshio.read``)
    summary.json                numbers with units in their keys
    status.json                 {"status": running|complete|failed|cancelled, "message", "updated_utc"}

Every file goes through the one write path, :mod:`surgiplan.core.fileio`
(temporary name beside the target, size checked, fsync, the umask's mode,
rename), so a reader never sees half a file. A study run writes its fields
into a hidden staging folder and :func:`publish` renames them in only when the
run completed; ``status`` turns ``complete`` after all files are in place.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import time
from pathlib import Path

from surgiplan.core import fileio
from surgiplan.core.errors import InputError, SurgiplanError
from surgiplan.core.jobs import pid_alive

STATUSES = ("running", "complete", "failed", "cancelled")
#: The files of the fields, in the order they are renamed in (the .xdmf points at the .h5).
FIELD_FILES = ("results.h5", "results.vtu", "results.xdmf")
_STAGING_RE = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{8}\.sptmp\.d$")


def write_status(out_dir: Path, status: str, message: str = "", **extra) -> None:
    """Write ``status.json`` (call on one rank only); WriteError naming it when that fails."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    data = {"status": status, "message": message,
            "updated_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra}
    fileio.atomic_write_text(Path(out_dir) / "status.json", json.dumps(data, indent=1) + "\n")


def running_extra() -> dict:
    """What a ``running`` status records so that a reader can tell a dead run from a live one."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def read_status(out_dir: Path, *, raw: bool = False) -> dict:
    """The folder's status; ``{"status": "missing"}`` without one.

    A ``running`` status whose process (same host) no longer exists is reported as
    ``failed`` (``"stale": true``): the run was killed (SIGKILL, out of memory, power)
    before it could say so. ``raw`` returns the file's content as it is.
    """
    p = Path(out_dir) / "status.json"
    if not p.is_file():
        return {"status": "missing"}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return {"status": "unreadable", "message": f"status.json cannot be read ({exc})"}
    if not isinstance(data, dict) or data.get("status") not in STATUSES:
        return {"status": "unreadable", "message": "status.json holds no known status"}
    if raw or data["status"] != "running":
        return data
    pid, host = data.get("pid"), data.get("host")
    if isinstance(pid, int) and host == socket.gethostname() and not pid_alive(pid):
        return {**data, "status": "failed", "stale": True,
                "message": f"the solver process (pid {pid}) ended without finishing: it was killed or "
                           "crashed; run the study again"}
    return data




def _jsonable(x):
    import numpy as np  # here, not at the top: the parent's status writes stay light

    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def write_summary(out_dir: Path, summary: dict) -> None:
    fileio.atomic_write_text(Path(out_dir) / "summary.json",
                             json.dumps(_jsonable(summary), indent=1, allow_nan=False) + "\n")


# ------------------------------------------------------------------ staging and publishing
def make_staging(out_dir: Path) -> Path:
    """A new hidden folder in ``out_dir`` for a run's field files (rank 0)."""
    fileio.ensure_folder(out_dir)
    path = fileio.temp_path_for(Path(out_dir) / "results.d")
    try:
        path.mkdir()
    except OSError as exc:
        raise fileio.write_error(path, exc) from None
    return path


def remove_staging(path: Path | None) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


def clean_stale(out_dir: Path) -> list[Path]:
    """Remove what killed runs left in ``out_dir``: staging folders and temporary files of dead pids."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    removed = fileio.clean_stale_temporaries(out_dir, recursive=False)
    for entry in out_dir.iterdir():
        m = _STAGING_RE.match(entry.name)
        if m and entry.is_dir() and not entry.is_symlink():
            pid = int(m.group(1))
            if pid != os.getpid() and pid_alive(pid):
                continue
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _move_in(src: Path, dst: Path, verify=None) -> None:
    """Rename ``src`` (same file system) over ``dst`` through the one write path (checked, fsynced)."""
    size = src.stat().st_size
    fileio.atomic_write(dst, lambda tmp: os.replace(src, tmp), expect_size=size, need_bytes=0,
                        verify=verify)


def _verify_h5(path: Path) -> None:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "Mesh" not in f:
                raise InputError("the HDF5 file has no mesh", path=path)
    except OSError as exc:
        raise InputError(f"the HDF5 file does not open ({exc})", path=path) from None


def _verify_xdmf(path: Path) -> None:
    import xml.etree.ElementTree as ET

    try:
        ET.parse(path)
    except ET.ParseError as exc:
        raise InputError(f"the XDMF file is not valid XML ({exc})", path=path) from None


def _verify_vtu(path: Path) -> None:
    head = path.read_bytes()[:200]
    if b"<VTKFile" not in head or b"UnstructuredGrid" not in head:
        raise InputError("the VTU file is not a VTK unstructured grid", path=path)


def _verifier(name: str):
    return {".h5": _verify_h5, ".vtu": _verify_vtu}.get(Path(name).suffix, _verify_xdmf)


def check_targets(out_dir: Path) -> None:
    """Refuse, before a run starts, result targets that could never be written (a link, a folder)."""
    for name in (*FIELD_FILES, "summary.json", "status.json"):
        p = Path(out_dir) / name
        if p.is_symlink():
            raise fileio.WriteError("cannot save: the target is a symbolic link, which surgiplan does not "
                                    "follow or replace", path=p, hint="Remove the link or choose another --out.")
        if p.is_dir():
            raise fileio.WriteError("cannot save: a folder is in the way where this file should be", path=p,
                                    hint="Remove or rename that folder, or choose another --out.")


def publish(staging: Path, out_dir: Path) -> list[str]:
    """Rename the staged field files into ``out_dir`` (rank 0); returns their names."""
    done = []
    for name in FIELD_FILES:
        src = Path(staging) / name
        if src.is_file():
            _move_in(src, Path(out_dir) / name, _verifier(name))
            done.append(name)
    return done


def root_call(comm, fn):
    """Run ``fn()`` on rank 0 only and give its result (or its error) to every rank (collective).

    A file operation that fails on rank 0 must not leave the other ranks waiting
    in the next collective: they raise the same kind of error with the same text.
    """
    result, err = None, None
    if comm.rank == 0:
        try:
            result = fn()
        except SurgiplanError as exc:
            err = (type(exc).__name__, str(exc), exc)
        except Exception as exc:
            err = ("internal", f"{type(exc).__name__}: {exc}", exc)
    if comm.size == 1:
        if err is not None:
            raise err[2]
        return result
    shared = comm.bcast((result, None if err is None else err[:2]), root=0)
    if err is not None:
        raise err[2]
    if shared[1] is not None:
        from surgiplan.core import errors

        kind, text = shared[1]
        cls = getattr(errors, kind, None)
        if isinstance(cls, type) and issubclass(cls, SurgiplanError):
            raise cls(text)
        raise RuntimeError(f"rank 0 failed: {text}")
    return shared[0]


def write_fields_xdmf(out_dir: Path, mesh, functions: list, name: str = "results") -> Path:
    """Write ``functions`` (P1 / DG0 on ``mesh``) to ``out_dir/name.xdmf`` + ``.h5`` + ``.vtu`` atomically.

    Collective. dolfinx writes the HDF5 data and an XDMF file with one temporal collection per
    field (which VTK's XDMF reader, hence ``pyvista.read`` and ParaView's reader, crashes on and
    ``meshio`` rejects); rank 0 then rewrites the XDMF as one temporal collection holding a single
    grid with every field (:func:`single_grid_xdmf`) and writes the same fields to a ``.vtu``.
    All files are made in a hidden folder, then renamed in through :mod:`surgiplan.core.fileio`,
    the .h5 first and the .xdmf last.
    """
    from dolfinx.io import XDMFFile

    comm = mesh.comm
    out_dir = Path(out_dir)
    tmp = root_call(comm, lambda: make_staging(out_dir))
    try:
        try:
            with XDMFFile(comm, str(tmp / f"{name}.dolfinx.xdmf"), "w") as f:
                f.write_mesh(mesh)
                for fn in functions:
                    f.write_function(fn)
            failed = None
        except RuntimeError as exc:
            failed = str(exc)
        failed = [f for f in comm.allgather(failed) if f]
        if failed:
            raise fileio.WriteError(f"cannot save the fields ({failed[0][:300]}); nothing was replaced",
                                    path=out_dir / f"{name}.xdmf",
                                    hint="Check the free space and the folder's permissions.")

        def _commit():
            text = single_grid_xdmf(tmp / f"{name}.dolfinx.xdmf", f"{name}.h5")
            os.replace(tmp / f"{name}.dolfinx.h5", tmp / f"{name}.h5")
            fileio.atomic_write_text(tmp / f"{name}.xdmf", text)
            grid = read_results(tmp / f"{name}.xdmf")
            fileio.atomic_write(tmp / f"{name}.vtu", lambda t: grid.save(str(t), binary=True))
            for suffix in (".h5", ".vtu", ".xdmf"):  # .xdmf last: it names the .h5
                _move_in(tmp / f"{name}{suffix}", out_dir / f"{name}{suffix}", _verifier(f"{name}{suffix}"))

        root_call(comm, _commit)
    finally:
        if comm.rank == 0:
            remove_staging(tmp)
    return out_dir / f"{name}.xdmf"


def single_grid_xdmf(dolfinx_xdmf: Path, h5_name: str) -> str:
    """XDMF text with one temporal collection holding one grid (time 0) that has every field.

    ``dolfinx_xdmf``: a file written by dolfinx's XDMFFile (the mesh grid, then one temporal
    collection per function); each function's last time step is kept, its data item renamed to
    point at ``h5_name``. This is the layout ParaView, ``pyvista.read`` (VTK's XDMF3 reader needs
    a time value) and ``meshio.xdmf.TimeSeriesReader`` all read.
    """
    import xml.etree.ElementTree as ET

    root = ET.parse(dolfinx_xdmf).getroot()
    domain = root.find("Domain")
    grids = domain.findall("Grid") if domain is not None else []
    mesh_grid = next((g for g in grids if g.get("GridType") == "Uniform"), None)
    if mesh_grid is None or mesh_grid.find("Topology") is None or mesh_grid.find("Geometry") is None:
        raise InputError("the XDMF file has no mesh grid", path=dolfinx_xdmf)
    attributes = []
    for g in grids:
        if g.get("GridType") == "Collection":
            steps = g.findall("Grid")
            if steps:
                attributes.extend(steps[-1].findall("Attribute"))
    out = ET.Element("Xdmf", Version="3.0")
    coll = ET.SubElement(ET.SubElement(out, "Domain"), "Grid", Name="results", GridType="Collection",
                         CollectionType="Temporal")
    grid = ET.SubElement(coll, "Grid", Name=mesh_grid.get("Name", "mesh"), GridType="Uniform")
    ET.SubElement(grid, "Time", Value="0")
    for el in (mesh_grid.find("Topology"), mesh_grid.find("Geometry"), *attributes):
        grid.append(el)
    import h5py

    with h5py.File(Path(dolfinx_xdmf).with_suffix(".h5"), "r") as h5:
        for item in grid.iter("DataItem"):
            if item.get("Format") == "HDF" and item.text and ":" in item.text:
                dataset = item.text.split(":", 1)[1].strip()
                item.text = f"{h5_name}:{dataset}"
                # XDMF's default is 4-byte floats: without Precision VTK reads doubles as float32
                dtype = h5[dataset].dtype
                item.set("NumberType", "Float" if dtype.kind == "f" else "Int" if dtype.kind == "i" else "UInt")
                item.set("Precision", str(dtype.itemsize))
    ET.indent(out)
    return '<?xml version="1.0"?>\n' + ET.tostring(out, encoding="unicode") + "\n"


def read_results(path: Path):
    """The XDMF results as a pyvista UnstructuredGrid (point and cell data), for display.

    Reads the HDF5 file that the ``.xdmf`` points at with h5py (VTK's XDMF
    reader crashes on these files in this build); each field's last time step
    becomes point data (one value per mesh node) or cell data (one per cell).
    """
    import h5py
    import numpy as np
    import pyvista as pv

    path = Path(path)
    h5 = path.with_suffix(".h5")
    if not h5.is_file():
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
