"""Mesh files: STL (binary), OBJ, PLY, VTP, 3MF written; STL, OBJ, PLY, VTP read.

Positions are LPS mm inside surgiplan. ``frame="RAS"`` writes x and y negated
(the triangle order is reversed too so normals stay outward). Every file says
its frame the way 3D Slicer does: ``SPACE=LPS`` / ``SPACE=RAS`` in the STL
header and in an OBJ / PLY comment, a ``frame`` field in VTP, and a metadata
entry in 3MF. Reading honours that marker (else the ``frame`` argument, LPS by
default).

STL, OBJ and PLY are written with numpy rather than VTK's writers because
vtkOBJWriter and vtkPLYWriter cannot put the frame into the file header; VTP is
VTK's own format (pyvista). 3MF is a zip of XML (3MF Core Specification 1.3):
no pinned library writes it (lib3mf is not a dependency; meshio has no 3MF),
so it is written with the standard library (zipfile + xml).
"""

from __future__ import annotations

import os
import re
import struct
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from surgiplan.core.errors import InputError, MeshingError
from surgiplan.core.surfaces.decimate import triangles

MESH_FORMATS = ("stl", "obj", "ply", "vtp", "3mf")
_FLIP = np.array([-1.0, -1.0, 1.0])


def _frame(frame: str) -> str:
    f = str(frame).upper()
    if f not in ("LPS", "RAS"):
        raise InputError(f"frame must be LPS or RAS, got '{frame}'")
    return f


def _in_frame(mesh, frame: str) -> tuple[np.ndarray, np.ndarray]:
    """(points, triangles) of ``mesh`` expressed in ``frame`` (outward orientation kept)."""
    pts = np.asarray(mesh.points, np.float64)
    tri = triangles(mesh)
    if frame == "RAS":
        pts = pts * _FLIP
        tri = tri[:, ::-1]  # a reflection flips orientation: restore outward normals
    return pts, tri


def _format_of(path: Path, fmt: str | None) -> str:
    f = (fmt or path.suffix.lstrip(".")).lower()
    if f not in MESH_FORMATS:
        raise InputError(f"unknown mesh format '{f}'", path=path, hint=f"Use one of: {', '.join(MESH_FORMATS)}.")
    return f


def write_mesh(mesh, path: str | Path, frame: str = "LPS", *, fmt: str | None = None, name: str | None = None) -> Path:
    """Write ``mesh`` (pyvista.PolyData in LPS mm) to ``path`` in ``frame``; atomic.

    Format from ``fmt`` or the suffix: stl (binary), obj, ply (binary), vtp, 3mf.
    """
    path = Path(path)
    frame = _frame(frame)
    f = _format_of(path, fmt)
    if mesh.n_cells == 0:
        raise MeshingError("the surface is empty; nothing to write", path=path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    name = name or (str(mesh.field_data["segment"][0]) if "segment" in mesh.field_data else path.stem)
    try:
        pts, tri = _in_frame(mesh, frame)
        if f == "stl":
            _write_stl(tmp, pts, tri, frame, name)
        elif f == "obj":
            _write_obj(tmp, pts, tri, frame, name)
        elif f == "ply":
            _write_ply(tmp, pts, tri, frame, name)
        elif f == "vtp":
            import pyvista as pv

            out = pv.PolyData.from_regular_faces(pts, tri)
            out.field_data["frame"] = np.array([frame])
            out.field_data["segment"] = np.array([name])
            out.save(str(tmp.with_suffix(".vtp")), binary=True)
            os.replace(tmp.with_suffix(".vtp"), tmp)
        else:
            _write_3mf(tmp, pts, tri, frame, name)
        os.replace(tmp, path)
    finally:
        for t in (tmp, tmp.with_suffix(".vtp")):
            if t.exists():
                t.unlink()
    return path


def _normals(pts, tri):
    n = np.cross(pts[tri[:, 1]] - pts[tri[:, 0]], pts[tri[:, 2]] - pts[tri[:, 0]])
    ln = np.linalg.norm(n, axis=1, keepdims=True)
    return n / np.where(ln == 0, 1, ln)


def _write_stl(path: Path, pts, tri, frame, name) -> None:
    header = f"SPACE={frame} surgiplan {name}".encode("ascii", "replace")[:80].ljust(80, b" ")
    rec = np.zeros(len(tri), dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    rec["n"] = _normals(pts, tri)
    rec["v"] = pts[tri]
    with open(path, "wb") as fh:
        fh.write(header)
        fh.write(struct.pack("<I", len(tri)))
        fh.write(rec.tobytes())


def _write_obj(path: Path, pts, tri, frame, name) -> None:
    with open(path, "w") as fh:
        fh.write(f"# surgiplan surface '{name}', units mm\n# SPACE={frame}\no {name.replace(' ', '_')}\n")
        np.savetxt(fh, pts, fmt="v %.6f %.6f %.6f")
        np.savetxt(fh, tri + 1, fmt="f %d %d %d")


def _write_ply(path: Path, pts, tri, frame, name) -> None:
    head = (
        "ply\nformat binary_little_endian 1.0\n"
        f"comment SPACE={frame}\ncomment surgiplan surface {name}, units mm\n"
        f"element vertex {len(pts)}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {len(tri)}\nproperty list uchar int vertex_indices\nend_header\n"
    )
    faces = np.zeros(len(tri), dtype=[("n", "u1"), ("v", "<i4", 3)])
    faces["n"] = 3
    faces["v"] = tri
    with open(path, "wb") as fh:
        fh.write(head.encode("ascii", "replace"))
        fh.write(pts.astype("<f4").tobytes())
        fh.write(faces.tobytes())


def _write_3mf(path: Path, pts, tri, frame, name) -> None:
    # 3MF coordinates must be in the positive octant of the build volume for most
    # printers' slicers; we keep true coordinates (a slicer places the part) and state the frame.
    model_ns = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
    verts = "".join(f'<vertex x="{x:.5f}" y="{y:.5f}" z="{z:.5f}"/>' for x, y, z in pts)
    trs = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in tri)
    model = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<model unit="millimeter" xml:lang="en-US" xmlns="{model_ns}">'
        f'<metadata name="Title">{escape(name)}</metadata>'
        f'<metadata name="Application">surgiplan</metadata>'
        f'<metadata name="Description">SPACE={frame} (patient coordinates, mm)</metadata>'
        f'<resources><object id="1" type="model" name="{escape(name)}"><mesh>'
        f"<vertices>{verts}</vertices><triangles>{trs}</triangles>"
        '</mesh></object></resources><build><item objectid="1"/></build></model>'
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>'
        "</Types>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Target="/3D/3dmodel.model" Id="rel0" '
        'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/></Relationships>'
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", content_types)
        z.writestr("_rels/.rels", rels)
        z.writestr("3D/3dmodel.model", model)


def read_3mf(path: str | Path):
    """Read the meshes of a 3MF file (all objects merged) as pyvista.PolyData, in the file's coordinates."""
    import xml.etree.ElementTree as ET

    import pyvista as pv

    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            name = next((n for n in z.namelist() if n.lower().endswith(".model")), None)
            if name is None:
                raise InputError("no 3D model inside this 3MF file", path=path)
            root = ET.fromstring(z.read(name))
    except (zipfile.BadZipFile, ET.ParseError) as exc:
        raise InputError(f"not a readable 3MF file ({exc})", path=path) from None
    pts, tris, base = [], [], 0
    for mesh in root.iter():
        if not mesh.tag.endswith("}mesh"):
            continue
        v = [(float(e.get("x")), float(e.get("y")), float(e.get("z"))) for e in mesh.iter() if e.tag.endswith("}vertex")]
        t = [(int(e.get("v1")), int(e.get("v2")), int(e.get("v3"))) for e in mesh.iter() if e.tag.endswith("}triangle")]
        pts += v
        tris += [(a + base, b + base, c + base) for a, b, c in t]
        base += len(v)
    if not tris:
        raise InputError("the 3MF file holds no triangles", path=path)
    return pv.PolyData.from_regular_faces(np.asarray(pts), np.asarray(tris))


def file_frame(path: Path) -> str | None:
    """'LPS' / 'RAS' as stated in a mesh file's header (Slicer's SPACE= marker), else None."""
    try:
        if path.suffix.lower() == ".3mf":
            with zipfile.ZipFile(path) as z:
                name = next((n for n in z.namelist() if n.lower().endswith(".model")), None)
                head = z.read(name)[:4096] if name else b""
        else:
            with open(path, "rb") as fh:
                head = fh.read(4096)
    except (OSError, zipfile.BadZipFile):
        return None
    m = re.search(rb"SPACE=(LPS|RAS)", head)
    return m.group(1).decode() if m else None


def read_mesh(path: str | Path, frame: str | None = None):
    """Read STL / OBJ / PLY / VTP / 3MF into a triangle pyvista.PolyData in LPS mm.

    The file's own ``SPACE=`` marker wins; otherwise ``frame`` (default LPS) says
    what the file's coordinates are. Raises InputError for missing, empty or
    unreadable files.
    """
    import pyvista as pv

    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path=path, hint="Check the path.")
    if path.stat().st_size == 0:
        raise InputError("the file is empty", path=path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("stl", "obj", "ply", "vtp", "3mf"):
        raise InputError(f"cannot import '.{suffix}' models", path=path, hint="Use STL, OBJ, PLY, VTP or 3MF.")
    if suffix == "stl":
        _check_stl(path)
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # VTK reader failures become the InputError below
            mesh = read_3mf(path) if suffix == "3mf" else pv.read(str(path))
    except InputError:
        raise
    except Exception as exc:  # VTK readers raise assorted errors on garbage
        raise InputError(f"cannot read the model ({exc})", path=path) from None
    mesh = pv.wrap(mesh)
    if not isinstance(mesh, pv.PolyData):
        mesh = mesh.extract_surface()
    if mesh.n_cells == 0 or mesh.n_points == 0:
        raise InputError("the model holds no triangles", path=path, hint="The file may be truncated or damaged.")
    mesh = mesh.triangulate()
    stated = file_frame(path)
    if stated is None and suffix == "vtp" and "frame" in mesh.field_data:
        stated = str(mesh.field_data["frame"][0])
    fr = _frame(stated or frame or "LPS")
    if fr == "RAS":
        tri = triangles(mesh)
        mesh = pv.PolyData.from_regular_faces(np.asarray(mesh.points, np.float64) * _FLIP, tri[:, ::-1])
    out = pv.PolyData.from_regular_faces(np.asarray(mesh.points, np.float64), triangles(mesh))
    out.field_data["frame"] = np.array(["LPS"])
    out.field_data["source"] = np.array([str(path)])
    return out


def _check_stl(path: Path) -> None:
    """Refuse a binary STL whose size does not match its triangle count (truncated)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(84)
    if head[:5].lower() == b"solid" and b"facet" in open(path, "rb").read(2048):
        return  # ASCII STL
    if size < 84:
        raise InputError("the STL file is truncated (shorter than its 84-byte header)", path=path)
    n = struct.unpack("<I", head[80:84])[0]
    if size != 84 + 50 * n:
        raise InputError(
            f"the binary STL says {n} triangles but holds {(size - 84) / 50:.1f}: it is truncated or damaged",
            path=path,
        )


def import_model(path: str | Path, frame: str | None = None, *, require_watertight: bool = True):
    """Read a model to place on a case (e.g. a manufacturer's implant) and check it.

    Returns (mesh in LPS mm, WatertightReport). With ``require_watertight`` a model
    with holes, non-manifold edges or inconsistent orientation is refused with a
    MeshingError naming the file and the defects (run ``repair`` on it first).
    """
    from surgiplan.core.surfaces.repair import watertight_report

    mesh = read_mesh(path, frame=frame)
    rep = watertight_report(mesh)
    if require_watertight and not rep.watertight:
        raise MeshingError(
            f"the model is not a closed surface: {rep.summary()}", path=path,
            hint="Repair it (surgiplan.core.surfaces.repair) or import it without the check.",
        )
    return mesh, rep
