"""Reading tagged tetrahedral meshes (gmsh ``.msh`` or XDMF) into dolfinx, in parallel.

A :class:`TaggedMesh` holds the dolfinx mesh, its cell tags (material regions)
and facet tags (boundary patches), and the names of the tags. Names come from
gmsh physical groups or from the study's ``tags`` table (XDMF has no names).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from mpi4py import MPI

from surgiplan.core.errors import InputError, MeshingError


@dataclass
class TaggedMesh:
    """A dolfinx mesh with cell/facet tags; ``names`` maps a tag name to (dim, value).

    Coordinates are in ``unit`` ("mm" or "m").
    """

    mesh: object
    cell_tags: object | None
    facet_tags: object | None
    names: dict[str, tuple[int, int]] = field(default_factory=dict)
    unit: str = "mm"
    source: str = ""

    def resolve(self, tag: str | int, dim: int, what: str = "boundary") -> int:
        """The integer value of a tag given by name or number; InputError when unknown."""
        tdim = self.mesh.topology.dim
        tags = self.facet_tags if dim == tdim - 1 else self.cell_tags
        known = sorted(n for n, (d, _) in self.names.items() if d == dim)
        if isinstance(tag, str) and not tag.lstrip("-").isdigit():
            if tag not in self.names or self.names[tag][0] != dim:
                raise InputError(
                    f"unknown {what} tag {tag!r}; the mesh has {', '.join(known) or 'no named tags'}",
                    path=self.source or None,
                    hint="Use one of these names or the tag number.",
                )
            return self.names[tag][1]
        value = int(tag)
        present = np.unique(tags.values) if tags is not None else np.array([], dtype=np.int32)
        present = np.unique(np.concatenate(self.mesh.comm.allgather(present)))
        if value not in present:
            raise InputError(
                f"unknown {what} tag {value}; the mesh has tags {present.tolist()}",
                path=self.source or None,
                hint="Check the tag numbers in the study file.",
            )
        return value

    def scaled(self, factor: float, unit: str) -> TaggedMesh:
        """Scale the coordinates in place by ``factor`` and record the new unit."""
        self.mesh.geometry.x[:] *= factor
        self.unit = unit
        return self


def mesh_from_gmsh(comm: MPI.Comm = MPI.COMM_WORLD, unit: str = "mm") -> TaggedMesh:
    """The current gmsh model (built on rank 0) as a distributed TaggedMesh."""
    import gmsh
    from dolfinx.io import gmsh as dgmsh

    data = dgmsh.model_to_mesh(gmsh.model, comm, 0, gdim=3)
    return _from_meshdata(data, unit, "gmsh model")


def _from_meshdata(data, unit: str, source: str) -> TaggedMesh:
    names = {name: (int(g.dim), int(g.tag)) for name, g in data.physical_groups.items()}
    mesh = data.mesh
    mesh.topology.create_connectivity(mesh.topology.dim - 1, mesh.topology.dim)
    return TaggedMesh(mesh, data.cell_tags, data.facet_tags, names, unit, source)


def read_tagged_mesh(
    path: str | Path,
    comm: MPI.Comm = MPI.COMM_WORLD,
    unit: str = "mm",
    names: dict[str, int] | None = None,
    xdmf_mesh_name: str = "mesh",
    xdmf_cell_tags: str = "cell_tags",
    xdmf_facet_tags: str = "facet_tags",
) -> TaggedMesh:
    """Read a tetrahedral mesh with tags from ``.msh`` (gmsh 4) or ``.xdmf``.

    ``names`` adds (or overrides) tag names: facet tags by default, cell tags
    when the name also appears among the cell-tag values only.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("mesh file not found", path=path, hint="Check the 'mesh.file' entry.")
    if path.stat().st_size == 0:
        raise InputError("the mesh file is empty", path=path, hint="Check the 'mesh.file' entry.")
    suffix = path.suffix.lower()
    if suffix == ".msh":  # every rank checks, so every rank refuses alike
        check_msh_file(path)
    elif suffix == ".xdmf":
        check_xdmf_file(path)
    try:
        if suffix == ".msh":
            import gmsh
            from dolfinx.io import gmsh as dgmsh

            if comm.rank == 0:
                if gmsh.isInitialized():
                    gmsh.finalize()
                gmsh.initialize(interruptible=False)
                gmsh.option.setNumber("General.Terminal", 0)
                gmsh.clear()
                gmsh.open(str(path))
            data = dgmsh.model_to_mesh(gmsh.model, comm, 0, gdim=3)
            if comm.rank == 0:
                gmsh.finalize()
            tm = _from_meshdata(data, unit, str(path))
        elif suffix == ".xdmf":
            from dolfinx.io import XDMFFile

            with XDMFFile(comm, str(path), "r") as f:
                mesh = f.read_mesh(name=xdmf_mesh_name)
                tdim = mesh.topology.dim
                mesh.topology.create_connectivity(tdim - 1, tdim)
                ct = _try_tags(f, mesh, xdmf_cell_tags)
                ft = _try_tags(f, mesh, xdmf_facet_tags)
            tm = TaggedMesh(mesh, ct, ft, {}, unit, str(path))
        else:
            raise InputError(
                f"unsupported mesh format {suffix!r}", path=path, hint="Use a gmsh .msh or .xdmf file."
            )
    except InputError:
        raise
    except Exception as exc:
        reason = str(exc).strip() or type(exc).__name__
        raise InputError(f"could not read the mesh ({reason[:300]})", path=path,
                         hint="Check that it is a valid tetrahedral gmsh 4 or XDMF mesh.") from exc
    if tm.mesh.topology.dim != 3:
        raise MeshingError("the mesh is not a 3D volume mesh", path=path,
                           hint="Mesh the volume with tetrahedra.")
    tdim = tm.mesh.topology.dim
    for name, value in (names or {}).items():
        cell_vals = set(np.unique(tm.cell_tags.values).tolist()) if tm.cell_tags is not None else set()
        facet_vals = set(np.unique(tm.facet_tags.values).tolist()) if tm.facet_tags is not None else set()
        dim = tdim if (value in cell_vals and value not in facet_vals) else tdim - 1
        tm.names[name] = (dim, int(value))
    return tm


def _try_tags(f, mesh, name: str):
    try:
        if name == "facet_tags":
            mesh.topology.create_connectivity(mesh.topology.dim - 1, 0)
        return f.read_meshtags(mesh, name=name)
    except Exception:
        return None


# ------------------------------------------------------------- header checks
def _find_section(path: Path, marker: bytes, chunk: int = 1 << 20) -> tuple[int, bytes] | None:
    """(offset just after ``marker``, the next 256 bytes) of the first ``marker`` in ``path``, or None."""
    with open(path, "rb") as fh:
        pos, carry = 0, b""
        while True:
            data = fh.read(chunk)
            if not data:
                return None
            buf = carry + data
            i = buf.find(marker)
            if i >= 0:
                start = pos - len(carry) + i + len(marker)
                fh.seek(start)
                return start, fh.read(256)
            carry = buf[-len(marker):]
            pos += len(data)


def check_msh_file(path: Path) -> None:
    """Refuse a gmsh ``.msh`` whose node/element counts exceed what its size can hold or the budget.

    Reads only the ``$MeshFormat`` line and the count line of ``$Nodes`` and
    ``$Elements`` (gmsh 2.2 and 4.x, ASCII and binary).
    """
    from surgiplan.core import limits

    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(256)
    lines = head.split(b"\n")
    if not lines or lines[0].strip() != b"$MeshFormat" or len(lines) < 2:
        raise InputError("not a gmsh mesh file (no $MeshFormat at its start)", path=path,
                         hint="Give a gmsh .msh file.")
    fmt = lines[1].decode("latin-1").split()
    if len(fmt) < 3:
        raise InputError("its $MeshFormat line is damaged", path=path)
    version = limits.parse_float(fmt[0], "$MeshFormat version", path)
    binary = limits.parse_int(fmt[1], "$MeshFormat file type", path, lo=0, hi=1) == 1
    dsize = limits.parse_int(fmt[2], "$MeshFormat data size", path, lo=4, hi=8)
    counts = {}
    for section in (b"$Nodes", b"$Elements"):
        found = _find_section(path, b"\n" + section + b"\n")
        if found is None:
            raise InputError(f"it has no {section.decode()} section", path=path,
                             hint="The file is truncated or not a mesh.")
        _, after = found
        name = section.decode()
        if binary and version >= 4:
            if len(after) < 4 * dsize:
                raise InputError(f"its {name} section is truncated", path=path)
            vals = [int.from_bytes(after[k * dsize:(k + 1) * dsize], "little") for k in range(4)]
            counts[name] = vals[1]
        else:
            tokens = after.split(b"\n", 1)[0].decode("latin-1").split()
            if not tokens:
                raise InputError(f"its {name} section has no count line", path=path)
            pick = tokens[1] if version >= 4 and len(tokens) >= 2 else tokens[0]
            counts[name] = limits.parse_int(pick, f"{name} count", path, lo=0)
    # the fewest bytes a node / an element can take in the file
    node_min, elem_min = (3 * 8, 2 * dsize) if binary else (6, 4)
    for name, per in (("$Nodes", node_min), ("$Elements", elem_min)):
        if counts[name] * per > size:
            raise InputError(f"its {name} section claims {counts[name]:,} entries, more than its "
                             f"{size:,} bytes can hold: it is truncated or its header lies", path=path,
                             hint="The file is damaged or hostile; nothing was read.")
    # gmsh, then dolfinx, hold the coordinates and the connectivity (a few copies)
    limits.check_budget(4 * (counts["$Nodes"] * 32 + counts["$Elements"] * 96), "the mesh", path)


def check_xdmf_file(path: Path) -> None:
    """Refuse an XDMF file whose HDF5 data lie outside its folder, or whose arrays exceed the budget."""
    import xml.etree.ElementTree as ET

    from surgiplan.core import limits
    from surgiplan.core.fileio import check_inside

    size = path.stat().st_size
    if size > limits.MAX_HEADER_BYTES * 8:
        raise InputError(f"the XDMF file is {size:,} bytes; surgiplan reads XDMF with HDF5 data (a small "
                         "XML file)", path=path, hint="Store the arrays in an .h5 file beside it.")
    try:
        root = ET.fromstring(path.read_bytes())
    except ET.ParseError as exc:
        raise InputError(f"not a readable XDMF file ({exc})", path=path) from None
    total = 0
    for item in root.iter():
        if not item.tag.endswith("DataItem"):
            continue
        dims = limits.parse_ints(item.get("Dimensions", "1"), "DataItem Dimensions", path, lo=0)
        prec = limits.parse_int(item.get("Precision", "8"), "DataItem Precision", path, lo=1, hi=8)
        total += math.prod(dims) * prec
        if item.get("Format", "XML").upper() == "HDF":
            ref = (item.text or "").strip().split(":", 1)[0]
            limits.check_name(ref, "HDF5 file", path)
            if Path(ref).is_absolute() or ".." in Path(ref).parts:
                raise InputError(f"its HDF5 data file {ref!r} lies outside the XDMF file's folder; refused",
                                 path=path, hint="Keep the .h5 file beside the .xdmf file.")
            try:
                target = check_inside(path.parent, ref, what="HDF5 data file")
            except InputError as exc:
                raise InputError(f"its HDF5 data file {ref!r}: {exc.message}", path=path) from None
            if not target.is_file():
                raise InputError(f"its HDF5 data file {ref!r} is missing or not a file", path=path)
    limits.check_budget(2 * total, "the mesh", path)
