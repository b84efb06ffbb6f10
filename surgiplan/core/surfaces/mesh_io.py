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

import io
import re
import struct
import zipfile
import zlib
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from surgiplan.core import limits
from surgiplan.core.errors import InputError, MeshingError
from surgiplan.core.surfaces.mesh import triangles

MESH_FORMATS = ("stl", "obj", "ply", "vtp", "3mf")
#: Deflate (3MF's zip, VTK's zlib) never expands more than 1032:1.
DEFLATE_MAX_RATIO = 1032
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
    """Write ``mesh`` (pyvista.PolyData in LPS mm) to ``path`` in ``frame`` through the one write path.

    Format from ``fmt`` or the suffix: stl (binary), obj, ply (binary), vtp, 3mf.
    STL, PLY and OBJ are checked for their exact byte count; VTP is checked for
    free space first (VTK's writer does not report a full disk) and read back
    (point and triangle counts); 3MF's zip is tested. Raises MeshingError for an
    empty surface or NaN/Inf vertices, WriteError when the disk is full (the
    previous file is then unchanged).
    """
    from surgiplan.core.fileio import atomic_write, atomic_write_bytes

    path = Path(path)
    frame = _frame(frame)
    f = _format_of(path, fmt)
    if mesh.n_cells == 0:
        raise MeshingError("the surface is empty; nothing to write", path=path)
    name = name or (str(mesh.field_data["segment"][0]) if "segment" in mesh.field_data else path.stem)
    pts, tri = _in_frame(mesh, frame)
    bad = ~np.isfinite(pts).all(axis=1)
    if bad.any():
        raise MeshingError(f"{int(bad.sum())} vertices have NaN or infinite coordinates (first: vertex "
                           f"{int(np.flatnonzero(bad)[0])}); nothing was written", path=path,
                           hint="Repair or rebuild the surface first.")
    n_p, n_t = len(pts), len(tri)
    if f == "stl":
        return atomic_write(path, lambda tmp: _write_stl(tmp, pts, tri, frame, name), expect_size=84 + 50 * n_t)
    if f == "ply":
        head = _ply_header(frame, name, n_p, n_t)
        return atomic_write(path, lambda tmp: _write_ply(tmp, head, pts, tri),
                            expect_size=len(head) + 12 * n_p + 13 * n_t)
    if f == "obj":
        return atomic_write_bytes(path, _obj_bytes(pts, tri, name, frame), min_size=1)
    if f == "vtp":
        import pyvista as pv

        out = pv.PolyData.from_regular_faces(pts, tri)
        out.field_data["frame"] = np.array([frame])
        out.field_data["segment"] = np.array([name])
        # uncompressed upper bound: float64 points, int64 connectivity + offsets, base64 (4/3)
        need = (n_p * 24 + n_t * 32) * 4 // 3 + (64 << 10)
        return atomic_write(path, lambda tmp: _write_vtp(out, tmp), need_bytes=need,
                            verify=lambda tmp: _verify_vtp(tmp, n_p, n_t))
    model = _3mf_model(pts, tri, frame, name)
    return atomic_write(path, lambda tmp: _write_3mf(tmp, model), need_bytes=len(model) + (64 << 10),
                        verify=lambda tmp: _verify_3mf(tmp, len(model)))


def _write_vtp(mesh, tmp: Path) -> None:
    import pyvista as pv

    try:
        with pv.vtk_verbosity("off"), pv.VtkErrorCatcher(raise_errors=True, send_to_logging=False):
            mesh.save(str(tmp), binary=True)
    except RuntimeError as exc:
        raise OSError(f"VTK could not write the file ({_vtk_reason(exc)})") from None


def _verify_vtp(tmp: Path, n_points: int, n_triangles: int) -> None:
    """InputError unless the VTP file ends complete and reads back with these counts."""
    with open(tmp, "rb") as fh:
        fh.seek(max(0, tmp.stat().st_size - 64))
        tail = fh.read()
    if not tail.rstrip().endswith(b"</VTKFile>"):
        raise InputError("the VTP file is incomplete (no closing </VTKFile>)", path=tmp)
    claims = _check_vtp(tmp, tmp.stat().st_size)
    if claims != (n_points, n_triangles):
        raise InputError(f"the VTP header says {claims}, expected ({n_points}, {n_triangles})", path=tmp)
    back = _vtk_read(tmp, "vtp")
    if back.n_points != n_points or back.n_cells != n_triangles:
        raise InputError(f"the VTP file reads back with {back.n_points} points and {back.n_cells} cells "
                         f"instead of {n_points} and {n_triangles}", path=tmp)


def _normals(pts, tri):
    n = np.cross(pts[tri[:, 1]] - pts[tri[:, 0]], pts[tri[:, 2]] - pts[tri[:, 0]])
    ln = np.linalg.norm(n, axis=1, keepdims=True)
    return n / np.where(ln == 0, 1, ln)


def _write_stl(path: Path, pts, tri, frame, name) -> None:
    header = f"SPACE={frame} surgiplan {name}".encode("ascii", "replace")[:80].ljust(80, b" ")
    rec = np.zeros(len(tri), dtype=_STL_RECORD)
    rec["n"] = _normals(pts, tri)
    rec["v"] = pts[tri]
    with open(path, "wb") as fh:
        fh.write(header)
        fh.write(struct.pack("<I", len(tri)))
        fh.write(rec.tobytes())


def _obj_bytes(pts, tri, name, frame) -> bytes:
    buf = io.StringIO()
    buf.write(f"# surgiplan surface '{name}', units mm\n# SPACE={frame}\no {name.replace(' ', '_')}\n")
    np.savetxt(buf, pts, fmt="v %.6f %.6f %.6f")
    np.savetxt(buf, tri + 1, fmt="f %d %d %d")
    return buf.getvalue().encode("utf-8")


def _ply_header(frame, name, n_points, n_triangles) -> bytes:
    return (
        "ply\nformat binary_little_endian 1.0\n"
        f"comment SPACE={frame}\ncomment surgiplan surface {name}, units mm\n"
        f"element vertex {n_points}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {n_triangles}\nproperty list uchar int vertex_indices\nend_header\n"
    ).encode("ascii", "replace")


def _write_ply(path: Path, head: bytes, pts, tri) -> None:
    faces = np.zeros(len(tri), dtype=[("n", "u1"), ("v", "<i4", 3)])
    faces["n"] = 3
    faces["v"] = tri
    with open(path, "wb") as fh:
        fh.write(head)
        fh.write(pts.astype("<f4").tobytes())
        fh.write(faces.tobytes())


def _3mf_model(pts, tri, frame, name) -> bytes:
    # 3MF coordinates must be in the positive octant of the build volume for most
    # printers' slicers; we keep true coordinates (a slicer places the part) and state the frame.
    model_ns = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
    verts = "".join(f'<vertex x="{x:.5f}" y="{y:.5f}" z="{z:.5f}"/>' for x, y, z in pts)
    trs = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in tri)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<model unit="millimeter" xml:lang="en-US" xmlns="{model_ns}">'
        f'<metadata name="Title">{escape(name)}</metadata>'
        f'<metadata name="Application">surgiplan</metadata>'
        f'<metadata name="Description">SPACE={frame} (patient coordinates, mm)</metadata>'
        f'<resources><object id="1" type="model" name="{escape(name)}"><mesh>'
        f"<vertices>{verts}</vertices><triangles>{trs}</triangles>"
        '</mesh></object></resources><build><item objectid="1"/></build></model>'
    ).encode()


def _write_3mf(path: Path, model: bytes) -> None:
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


def _verify_3mf(tmp: Path, model_size: int) -> None:
    try:
        with zipfile.ZipFile(tmp) as z:
            bad = z.testzip()
            size = z.getinfo("3D/3dmodel.model").file_size
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise InputError(f"the 3MF file does not read back ({exc})", path=tmp) from None
    if bad is not None or size != model_size:
        raise InputError("the 3MF file's model is damaged or short", path=tmp)


def _vtk_reason(exc: BaseException) -> str:
    """The first VTK error line of ``exc`` without the object address, for a message."""
    for line in str(exc).splitlines():
        line = line.strip()
        if not line or line.startswith(("ERROR: In", "Debug:", "Modified Time", "Reference Count",
                                        "Registered Events", "Request:", "FROM_OUTPUT_PORT",
                                        "ALGORITHM_AFTER", "FORWARD_DIRECTION")):
            continue
        return re.sub(r"^\w+ \(0x[0-9a-f]+\): ", "", line)[:300]
    return type(exc).__name__


_VTK_READERS = {"ply": "vtkPLYReader", "obj": "vtkOBJReader", "vtp": "vtkXMLPolyDataReader",
                "stl": "vtkSTLReader"}


def _vtk_read(path: Path, kind: str):
    """Read ``path`` with VTK's reader for ``kind``, silently; VTK errors become one InputError."""
    import pyvista as pv
    import vtk

    reader = getattr(vtk, _VTK_READERS[kind])()
    reader.SetFileName(str(path))
    try:
        with pv.vtk_verbosity("off"), pv.VtkErrorCatcher(raise_errors=True, send_to_logging=False):
            reader.Update()
    except RuntimeError as exc:
        raise InputError(f"cannot read the model ({_vtk_reason(exc)})", path=path,
                         hint="The file may be truncated or damaged.") from None
    return pv.wrap(reader.GetOutput())


def _damaged(path: Path, message: str) -> InputError:
    return InputError(message, path=path, hint="The file may be truncated, damaged or hostile; nothing was read.")


# ------------------------------------------------------------------- 3MF
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
            info = z.getinfo(name)
            if info.file_size > DEFLATE_MAX_RATIO * max(info.compress_size, 1) + (64 << 10):
                raise _damaged(path, f"its model claims {info.file_size:,} bytes from {info.compress_size:,} "
                                     "compressed, more than deflate can expand")
            # the XML text, its parsed tree (~10x) and the arrays
            limits.check_budget(12 * info.file_size, "the 3MF model", path)
            root = ET.fromstring(z.read(name))
    except (zipfile.BadZipFile, ET.ParseError, OSError, EOFError, zlib.error, ValueError) as exc:
        raise InputError(f"not a readable 3MF file ({str(exc)[:200]})", path=path) from None
    pts, tris, base = [], [], 0
    try:
        for mesh in root.iter():
            if not mesh.tag.endswith("}mesh"):
                continue
            v = [(float(e.get("x")), float(e.get("y")), float(e.get("z")))
                 for e in mesh.iter() if e.tag.endswith("}vertex")]
            t = [(int(e.get("v1")), int(e.get("v2")), int(e.get("v3")))
                 for e in mesh.iter() if e.tag.endswith("}triangle")]
            if t and (min(min(x) for x in t) < 0 or max(max(x) for x in t) >= len(v)):
                raise _damaged(path, f"a triangle refers to a vertex outside 0..{len(v) - 1}")
            pts += v
            tris += [(a + base, b + base, c + base) for a, b, c in t]
            base += len(v)
    except (TypeError, ValueError, OverflowError):
        raise _damaged(path, "a vertex or triangle has a missing or non-numeric coordinate or index") from None
    if not tris:
        raise InputError("the 3MF file holds no triangles", path=path)
    p = np.asarray(pts, np.float64)
    _check_finite(p, path)
    return pv.PolyData.from_regular_faces(p, np.asarray(tris, np.int64))


def file_frame(path: Path) -> str | None:
    """'LPS' / 'RAS' as stated in a mesh file's header (Slicer's SPACE= marker), else None."""
    try:
        if path.suffix.lower() == ".3mf":
            with zipfile.ZipFile(path) as z:
                name = next((n for n in z.namelist() if n.lower().endswith(".model")), None)
                if name is None:
                    return None
                with z.open(name) as fh:
                    head = fh.read(4096)
        else:
            with open(path, "rb") as fh:
                head = fh.read(4096)
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError):
        return None
    m = re.search(rb"SPACE=(LPS|RAS)", head)
    return m.group(1).decode() if m else None


# ------------------------------------------------------------------ reading
def read_mesh(path: str | Path, frame: str | None = None):
    """Read STL / OBJ / PLY / VTP / 3MF into a triangle pyvista.PolyData in LPS mm.

    The file's own ``SPACE=`` marker wins; otherwise ``frame`` (default LPS) says
    what the file's coordinates are. Raises InputError naming the file for
    missing, empty, truncated or unreadable files, for headers that claim more
    than the file holds or than the memory budget allows (checked before VTK
    allocates anything), for NaN/Inf vertices and for faces that refer to
    vertices the file does not have. The file is only read.
    """
    import pyvista as pv

    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path, hint="Check the path.")
    if path.is_dir():
        raise InputError("is a folder, not a model file", path=path, hint="Give the file inside it.")
    if not path.is_file():
        raise InputError("is not a regular file (a device or a pipe?)", path=path, hint="Give a model file.")
    size = path.stat().st_size
    if size == 0:
        raise InputError("the file is empty", path=path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("stl", "obj", "ply", "vtp", "3mf"):
        raise InputError(f"cannot import '.{suffix}' models", path=path, hint="Use STL, OBJ, PLY, VTP or 3MF.")
    if suffix == "stl":
        mesh = _read_stl(path, size)
    elif suffix == "3mf":
        mesh = read_3mf(path)
    else:
        if suffix == "ply":
            _check_ply(path, size)
        elif suffix == "obj":
            limits.check_budget(_TEXT_FACTOR * size, "the OBJ model", path)
        else:
            _check_vtp(path, size)
        mesh = _vtk_read(path, suffix)
    if not isinstance(mesh, pv.PolyData):
        mesh = mesh.extract_surface()
    _check_polydata(mesh, path)
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


#: Bytes of memory per byte of a text mesh file, at most (numbers as float64 + VTK's arrays + copies).
_TEXT_FACTOR = 8


def _check_finite(points: np.ndarray, path: Path) -> None:
    bad = ~np.isfinite(points).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{int(bad.sum())} of its {len(points)} vertices have NaN or infinite coordinates "
                         f"(first: vertex {i}, {points[i].tolist()}); refused", path=path,
                         hint="Repair the model in the program that made it.")


def _check_polydata(mesh, path: Path) -> None:
    """Refuse an empty mesh, NaN/Inf vertices and cells that refer to vertices that do not exist."""
    from vtk.util.numpy_support import vtk_to_numpy

    if mesh.n_cells == 0 or mesh.n_points == 0:
        raise InputError("the model holds no triangles", path=path, hint="The file may be truncated or damaged.")
    _check_finite(np.asarray(mesh.points), path)
    n = mesh.n_points
    for get in (mesh.GetPolys, mesh.GetStrips, mesh.GetLines, mesh.GetVerts):
        cells = get()
        if cells is None or cells.GetNumberOfCells() == 0:
            continue
        conn = vtk_to_numpy(cells.GetConnectivityArray())
        if conn.size and (conn.min() < 0 or conn.max() >= n):
            bad = int(conn.min()) if conn.min() < 0 else int(conn.max())
            raise _damaged(path, f"a face refers to vertex {bad}, but the file has vertices 0..{n - 1}")


# -------------------------------------------------------------------- STL
_STL_RECORD = np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])


def _stl_is_text(path: Path, size: int) -> bool:
    """True when ``path`` really is an ASCII STL: text, 'solid' first, 'facet' near the start, 'endsolid' at the end."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
        fh.seek(max(0, size - 1024))
        tail = fh.read()
    if not head.lstrip()[:5].lower() == b"solid":
        return False
    if re.search(rb"[\x00-\x08\x0e-\x1f\x7f]", head + tail):
        return False
    return b"facet" in head.lower() and b"endsolid" in tail.lower()


def _merge_corners(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(points, triangles) of triangle corners (3n x 3) merged where exactly equal, in order of first
    use: what vtkSTLReader's merging gives (vtkStaticCleanPolyData, tolerance 0)."""
    import pyvista as pv
    import vtk

    raw = pv.PolyData.from_regular_faces(corners, np.arange(len(corners)).reshape(-1, 3))
    clean = vtk.vtkStaticCleanPolyData()
    clean.SetInputData(raw)
    clean.ToleranceIsAbsoluteOn()
    clean.SetAbsoluteTolerance(0.0)
    clean.ConvertPolysToLinesOff()
    clean.ConvertLinesToPointsOff()
    clean.ConvertStripsToPolysOff()
    clean.Update()
    out = pv.wrap(clean.GetOutput())
    return np.asarray(out.points), triangles(out)


def _read_stl(path: Path, size: int):
    """An STL file as PolyData. Binary when its size is exactly 84 + 50 x its triangle count, whatever its
    80-byte header says; ASCII only when it really is text (see :func:`_stl_is_text`)."""
    import pyvista as pv

    n = None
    if size >= 84:
        with open(path, "rb") as fh:
            fh.seek(80)
            n = struct.unpack("<I", fh.read(4))[0]
    if n is not None and size == 84 + 50 * n:
        if n == 0:
            raise InputError("the model holds no triangles", path=path,
                             hint="The file may be truncated or damaged.")
        # VTK's STL reader guesses ASCII/binary from the content, which a header starting with
        # "solid" misleads; the size rule above is exact, so read the records here.
        limits.check_budget(250 * n, "the STL model", path)
        rec = np.fromfile(path, dtype=_STL_RECORD, count=n, offset=84)
        v = rec["v"].reshape(-1, 3)
        _check_finite(v, path)
        pts, tri = _merge_corners(v)
        keep = (tri[:, 0] != tri[:, 1]) & (tri[:, 1] != tri[:, 2]) & (tri[:, 0] != tri[:, 2])
        return pv.PolyData.from_regular_faces(pts.astype(np.float64), tri[keep])
    if _stl_is_text(path, size):
        limits.check_budget(_TEXT_FACTOR * size, "the STL model", path)
        return _vtk_read(path, "stl")
    if size < 84:
        raise _damaged(path, f"the STL file is truncated ({size} bytes, shorter than the 84-byte header of a "
                             "binary STL, and not an ASCII STL)")
    raise _damaged(path, f"the binary STL says {n} triangles ({84 + 50 * n:,} bytes) but the file has "
                         f"{size:,} bytes ({(size - 84) / 50:.1f} triangles), and it is not an ASCII STL: "
                         "it is truncated or damaged")


# -------------------------------------------------------------------- PLY
_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
              "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
              "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}


def _parse_ply_header(path: Path, size: int):
    """(format, [(element, count, [(name, type | (count_type, item_type))])], data offset)."""
    with open(path, "rb") as fh:
        head = fh.read(min(size, 1 << 20))
    m = re.search(rb"end_header[ \t]*\r?\n", head)
    if not head.startswith(b"ply") or m is None:
        raise _damaged(path, "not a PLY file, or its header has no end_header line within 1 MB")
    fmt, elements = None, []
    for n, raw in enumerate(head[: m.start()].decode("latin-1").splitlines()[1:], start=2):
        words = raw.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format" and len(words) == 3:
            if words[1] not in ("ascii", "binary_little_endian", "binary_big_endian") or words[2] != "1.0":
                raise _damaged(path, f"its PLY format {' '.join(words[1:])[:60]!r} is unknown")
            fmt = words[1]
        elif words[0] == "element" and len(words) == 3:
            count = limits.parse_int(words[2], f"element {words[1][:40]} count", path, lo=0)
            if count > size:
                raise _damaged(path, f"its header claims {count:,} {words[1][:40]} elements in a file of "
                                     f"{size:,} bytes")
            elements.append((words[1], count, []))
        elif words[0] == "property" and elements:
            if len(words) == 3 and words[1] in _PLY_TYPES:
                elements[-1][2].append((words[2], _PLY_TYPES[words[1]]))
            elif (len(words) == 5 and words[1] == "list" and words[2] in _PLY_TYPES
                  and _PLY_TYPES[words[2]][0] in "iu" and words[3] in _PLY_TYPES):
                elements[-1][2].append((words[4], (_PLY_TYPES[words[2]], _PLY_TYPES[words[3]])))
            else:
                raise _damaged(path, f"header line {n} is not a property PLY knows ({raw[:60]!r})")
        else:
            raise _damaged(path, f"header line {n} is not valid PLY ({raw[:60]!r})")
    if fmt is None:
        raise _damaged(path, "its PLY header has no format line")
    return fmt, elements, m.end()


def _check_ply(path: Path, size: int) -> None:
    """Walk a PLY file's elements against its real size before VTK reads it (VTK crashes on short or lying
    files and on faces that refer to missing vertices)."""
    fmt, elements, offset = _parse_ply_header(path, size)
    n_vertex = next((c for name, c, _ in elements if name == "vertex"), 0)
    if fmt == "ascii":
        limits.check_budget(_TEXT_FACTOR * size, "the PLY model", path)
        with open(path, "rb") as fh:
            fh.seek(offset)
            body = fh.read()
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                values = np.fromstring(body, sep=" ") if body.strip() else np.zeros(0)  # noqa: NPY201
            except (ValueError, DeprecationWarning):
                raise _damaged(path, "its ASCII data hold something other than numbers") from None
        pos = 0
        for name, count, props in elements:
            pos = _walk_ascii(path, values, pos, name, count, props, n_vertex)
        return
    limits.check_budget(4 * size + 64 * n_vertex, "the PLY model", path)
    order = "<" if fmt == "binary_little_endian" else ">"
    data = np.memmap(path, dtype=np.uint8, mode="r")
    try:
        for name, count, props in elements:
            offset = _walk_binary(path, data, offset, name, count, props, order, n_vertex)
    finally:
        del data


def _index_check(path: Path, name: str, idx: np.ndarray, n_vertex: int) -> None:
    if idx.size == 0:
        return
    lo = -1 if name == "tristrips" else 0  # VTK's triangle strips separate strips with -1
    if idx.min() < lo or idx.max() >= n_vertex:
        bad = int(idx.min()) if idx.min() < lo else int(idx.max())
        raise _damaged(path, f"a {name} refers to vertex {bad}, but the file has vertices 0..{n_vertex - 1}")


def _short_ply(path: Path, name: str, count: int) -> InputError:
    return _damaged(path, f"its {name} data end early: the header claims {count:,} {name} elements "
                          "but the file is shorter (truncated or lying)")


def _walk_ascii(path, values, pos, name, count, props, n_vertex) -> int:
    total = len(values)
    lists = [k for k, (_, t) in enumerate(props) if isinstance(t, tuple)]
    if not lists:
        end = pos + count * len(props)
        if end > total:
            raise _short_ply(path, name, count)
        return end
    if count == 0:
        return pos
    # uniform rows (every list as long as in the first row) are checked at once, others row by row
    lengths, p = [], pos
    for _, t in props:
        if p >= total:
            raise _short_ply(path, name, count)
        if isinstance(t, tuple):
            n = values[p]
            if n != int(n) or n < 0:
                raise _damaged(path, f"a {name} list length is {n}")
            lengths.append(int(n))
            p += 1 + int(n)
        else:
            p += 1
    row = p - pos
    starts = []
    q = 0
    for _, t in props:
        if isinstance(t, tuple):
            starts.append(q)
            q += 1 + lengths[len(starts) - 1]
        else:
            q += 1
    if pos + count * row <= total:
        table = values[pos: pos + count * row].reshape(count, row)
        if all(np.all(table[:, s] == n) for s, n in zip(starts, lengths, strict=True)):
            for k, s, n in zip(lists, starts, lengths, strict=True):
                if props[k][0].startswith("vertex_ind"):
                    _index_check(path, name, table[:, s + 1: s + 1 + n], n_vertex)
            return pos + count * row
    for _ in range(count):
        for pname, t in props:
            if pos >= total:
                raise _short_ply(path, name, count)
            if isinstance(t, tuple):
                n = values[pos]
                if n != int(n) or n < 0:
                    raise _damaged(path, f"a {name} list length is {n}")
                n = int(n)
                if pos + 1 + n > total:
                    raise _short_ply(path, name, count)
                if pname.startswith("vertex_ind"):
                    _index_check(path, name, values[pos + 1: pos + 1 + n], n_vertex)
                pos += 1 + n
            else:
                pos += 1
    return pos


def _walk_binary(path, data, offset, name, count, props, order, n_vertex) -> int:
    size = len(data)
    lists = [k for k, (_, t) in enumerate(props) if isinstance(t, tuple)]
    if not lists:
        end = offset + count * sum(np.dtype(t).itemsize for _, t in props)
        if end > size:
            raise _short_ply(path, name, count)
        return end
    if count == 0:
        return offset

    def row_layout(at: int):
        """[(prop, start in row, list length or None)], row size: one row read at ``at``."""
        layout, q = [], 0
        for pname, t in props:
            if isinstance(t, tuple):
                ct, it = np.dtype(order + t[0]), np.dtype(order + t[1])
                if at + q + ct.itemsize > size:
                    raise _short_ply(path, name, count)
                n = int(np.frombuffer(data, ct, 1, at + q)[0])
                if n < 0:
                    raise _damaged(path, f"a {name} list length is {n}")
                layout.append((pname, q, n, ct, it))
                q += ct.itemsize + n * it.itemsize
            else:
                q += np.dtype(t).itemsize
        return layout, q

    layout, row = row_layout(offset)
    if offset + count * row <= size:
        uniform = True
        for _, q, n, ct, _ in layout:
            counts = np.ndarray((count,), ct, buffer=data, offset=offset + q, strides=(row,))
            if not np.all(counts == n):
                uniform = False
                break
        if uniform:
            for pname, q, n, ct, it in layout:
                if pname.startswith("vertex_ind") and n:
                    idx = np.ndarray((count, n), it, buffer=data, offset=offset + q + ct.itemsize,
                                     strides=(row, it.itemsize))
                    _index_check(path, name, idx, n_vertex)
            return offset + count * row
    for _ in range(count):
        layout, row = row_layout(offset)
        if offset + row > size:
            raise _short_ply(path, name, count)
        for pname, q, n, ct, it in layout:
            if pname.startswith("vertex_ind") and n:
                _index_check(path, name, np.frombuffer(data, it, n, offset + q + ct.itemsize), n_vertex)
        offset += row
    return offset


# -------------------------------------------------------------------- VTP
_VTK_TYPE_SIZES = {"Int8": 1, "UInt8": 1, "Int16": 2, "UInt16": 2, "Int32": 4, "UInt32": 4, "Int64": 8,
                   "UInt64": 8, "Float32": 4, "Float64": 8, "String": 1, "Bit": 1, "Char": 1,
                   "vtkIdType": 8}
#: Most a VTK compressor can expand: zlib is deflate (1032:1); LZ4 and LZMA are given a wide margin.
_VTP_RATIO = {"vtkZLibDataCompressor": 1032, "vtkLZ4DataCompressor": 260, "vtkLZMADataCompressor": 10000}
_TAG = re.compile(rb"<\s*(/?)\s*([A-Za-z]+)((?:[^<>\"']|\"[^\"]*\"|'[^']*')*)>")
_ATTR = re.compile(rb"([A-Za-z_]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")


def _check_vtp(path: Path, size: int) -> tuple[int, int]:
    """Check a VTP file's claimed sizes against its real size and the memory budget before VTK reads it.

    Scans the XML tags (not the data) up to ``<AppendedData``; the point, cell
    and array sizes the Pieces and DataArrays claim must fit in the file (times
    the compressor's largest expansion) and in the budget. Returns
    (points, triangles-or-polygons) summed over the pieces.
    """
    chunk, keep = 4 << 20, 1 << 16
    ratio, claimed, n_points, n_polys = 1, 0, 0, 0
    piece = {}
    stack: list[str] = []
    seen_file = False
    with open(path, "rb") as fh:
        buf, at_eof, done = b"", False, False
        while not done:
            data = fh.read(chunk)
            at_eof = not data
            buf += data
            limit = len(buf) if at_eof else max(0, len(buf) - keep)
            last = 0
            for m in _TAG.finditer(buf):
                if m.end() > limit:
                    break
                last = m.end()
                closing, tag = m.group(1) == b"/", m.group(2).decode("latin-1")
                if closing:
                    if stack and stack[-1] == tag:
                        stack.pop()
                    continue
                attrs = {k.decode(): (a if a is not None else b).decode("latin-1")
                         for k, a, b in ((x.group(1), x.group(2), x.group(3)) for x in _ATTR.finditer(m.group(3)))}
                if not m.group(3).rstrip().endswith(b"/"):
                    stack.append(tag)
                if tag == "VTKFile":
                    seen_file = True
                    if attrs.get("type") != "PolyData":
                        raise _damaged(path, f"it is a VTK {attrs.get('type', '?')[:40]} file, not PolyData")
                    comp = attrs.get("compressor")
                    ratio = _VTP_RATIO.get(comp, 10000) if comp else 1
                elif tag == "Piece":
                    piece = {k: limits.parse_int(attrs.get(k, "0"), k, path, lo=0)
                             for k in ("NumberOfPoints", "NumberOfVerts", "NumberOfLines", "NumberOfStrips",
                                       "NumberOfPolys")}
                    n_points += piece["NumberOfPoints"]
                    n_polys += piece["NumberOfPolys"]
                    # connectivity + offsets: at least one id and one offset per cell
                    claimed += 2 * sum(v for k, v in piece.items() if k != "NumberOfPoints")
                elif tag == "DataArray":
                    tsize = _VTK_TYPE_SIZES.get(attrs.get("type", ""), None)
                    if tsize is None:
                        raise _damaged(path, f"a DataArray has the unknown type {attrs.get('type', '')[:40]!r}")
                    comps = limits.parse_int(attrs.get("NumberOfComponents", "1"), "NumberOfComponents", path,
                                             lo=1, hi=4096)
                    where = stack[-2] if len(stack) >= 2 else ""
                    if where in ("Points", "PointData"):
                        claimed += piece.get("NumberOfPoints", 0) * comps * tsize
                    elif where == "CellData":
                        claimed += sum(v for k, v in piece.items() if k != "NumberOfPoints") * comps * tsize
                    elif "NumberOfTuples" in attrs:
                        claimed += limits.parse_int(attrs["NumberOfTuples"], "NumberOfTuples", path,
                                                    lo=0) * comps * tsize
                elif tag == "AppendedData":
                    done = True
                    break
            buf = buf[last:] if not done else b""
            if at_eof:
                break
            if len(buf) > limits.MAX_HEADER_BYTES:
                raise _damaged(path, "an XML tag in it is longer than 8 MB")
    if not seen_file:
        raise _damaged(path, "not a VTK XML file (no <VTKFile> tag)")
    if claimed > ratio * size + (64 << 10):
        raise _damaged(path, f"its header claims {n_points:,} points and {claimed:,} bytes of data, but the file "
                             f"has {size:,} bytes" + (f" (compressed at most {ratio}:1)" if ratio > 1 else "")
                             + ": it is truncated or its header lies")
    # VTK's arrays (points as stored, int64 cells), our float64 copy, the triangulated copy
    limits.check_budget(4 * claimed + 48 * n_points, "the VTP model", path)
    return n_points, n_polys


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
