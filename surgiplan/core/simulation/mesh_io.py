"""Reading tagged tetrahedral meshes (gmsh ``.msh`` or XDMF) into dolfinx, in parallel.

A :class:`TaggedMesh` holds the dolfinx mesh, its cell tags (material regions)
and facet tags (boundary patches), and the names of the tags. Names come from
gmsh physical groups or from the study's ``tags`` table (XDMF has no names).
"""

from __future__ import annotations

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
    suffix = path.suffix.lower()
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
        raise InputError(f"could not read the mesh: {exc}", path=path,
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
