"""Hostile and damaged mesh files, and a full disk, against the real readers and writers.

Every hostile file is built here (small, seeded) and must give an InputError that
names it, leave it byte-identical and write nothing; the cases that used to kill
the process (SIGSEGV/SIGABRT inside VTK) also run in a child process, which must
exit 1 with the message and no traceback. The full-disk tests mount a real 256 KiB
tmpfs (root only; skipped with the reason otherwise).
"""

from __future__ import annotations

import hashlib
import os
import resource
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import pyvista as pv

from surgiplan.core.errors import InputError, MeshingError
from surgiplan.core.fileio import WriteError, is_temporary
from surgiplan.core.surfaces import mesh_io
from surgiplan.core.surfaces.mesh_io import import_model, read_mesh, write_mesh

REPO = Path(__file__).resolve().parents[3]
NS3MF = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"


def _sphere(res: int = 16) -> pv.PolyData:
    return pv.Sphere(radius=5, center=(1.0, 2.0, 3.0), theta_resolution=res, phi_resolution=res)


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _good(tmp_path: Path, fmt: str) -> bytes:
    d = tmp_path / "src"
    d.mkdir(exist_ok=True)
    return write_mesh(_sphere(), d / f"good.{fmt}").read_bytes()


_PLY_HEAD = ("ply\nformat {fmt} 1.0\nelement vertex {nv}\nproperty float x\nproperty float y\n"
             "property float z\nelement face {nf}\nproperty list uchar int vertex_indices\nend_header\n")
_TRI = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], "<f4")


def _binary_ply(faces, nv: int = 3) -> bytes:
    body = _TRI.tobytes() + b"".join(struct.pack("<B", len(f)) + struct.pack(f"<{len(f)}i", *f) for f in faces)
    return _PLY_HEAD.format(fmt="binary_little_endian", nv=nv, nf=len(faces)).encode() + body


def _ascii_ply(face: str = "3 0 1 2", nv: str = "3", nf: str = "1", cut: int = 0) -> bytes:
    text = _PLY_HEAD.format(fmt="ascii", nv=nv, nf=nf) + "0 0 0\n1 0 0\n0 1 0\n" + face + "\n"
    return text.encode()[: len(text) - cut]


def _stl_records(corners: np.ndarray, header: bytes = b" " * 80) -> bytes:
    rec = np.zeros(len(corners), dtype=mesh_io._STL_RECORD)
    rec["v"] = corners
    return header.ljust(80)[:80] + struct.pack("<I", len(corners)) + rec.tobytes()


def _3mf(vertices: str, triangles: str) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("3D/3dmodel.model", f'<model xmlns="{NS3MF}"><resources><object id="1"><mesh><vertices>'
                                       f"{vertices}</vertices><triangles>{triangles}</triangles></mesh>"
                                       "</object></resources></model>")
    return buf.getvalue()


_V3 = '<vertex x="0" y="0" z="0"/><vertex x="1" y="0" z="0"/><vertex x="0" y="1" z="0"/>'
_LOL = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + f']><model xmlns="{NS3MF}">&i;</model>')


def _make(kind: str, tmp_path: Path) -> tuple[str, bytes, str]:
    """(file name, bytes, regex the message must match) of a hostile file."""
    if kind == "ply_cut_20_bytes":
        return "short.ply", _good(tmp_path, "ply")[:-20], "end early"
    if kind == "ply_claims_2e31_vertices":
        head = _PLY_HEAD.format(fmt="binary_little_endian", nv=2**31, nf=1).encode()
        return "huge.ply", head + b"\0" * (287 - len(head)), "2,147,483,648 vertex"
    if kind == "ply_face_index_out_of_range":
        return "oor.ply", _binary_ply([[0, 1, 99999]]), "refers to vertex 99999"
    if kind == "ply_negative_index":
        return "neg.ply", _binary_ply([[0, 1, -5]]), "refers to vertex -5"
    if kind == "ply_mixed_polygons_out_of_range":
        return "mixed.ply", _binary_ply([[0, 1, 2], [0, 1, 2, 77]]), "refers to vertex 77"
    if kind == "ply_list_length_lie":
        data = bytearray(_binary_ply([[0, 1, 2]]))
        data[len(data) - 13] = 250  # the face claims 250 indices
        return "listlie.ply", bytes(data), "end early"
    if kind == "ply_inf_vertex":
        data = bytearray(_binary_ply([[0, 1, 2]]))
        start = data.index(b"end_header\n") + len(b"end_header\n")
        data[start: start + 4] = struct.pack("<f", float("inf"))
        return "inf.ply", bytes(data), "NaN or infinite"
    if kind == "ply_ascii_index_out_of_range":
        return "aoor.ply", _ascii_ply("3 0 1 77777"), "refers to vertex 77777"
    if kind == "ply_ascii_truncated":
        return "acut.ply", _ascii_ply(cut=10), "end early"
    if kind == "ply_ascii_count_lie":
        return "alie.ply", _ascii_ply(nf="100000000"), "100,000,000 face"
    if kind == "ply_ascii_junk":
        return "ajunk.ply", _ascii_ply("3 0 1 x"), "other than numbers"
    if kind == "ply_5000_digit_count":
        return "digits.ply", _ascii_ply(nv="3" + "0" * 5000), "not a sensible whole number"
    if kind == "ply_no_end_header":
        return "noend.ply", b"ply\nformat ascii 1.0\n" + b"comment x\n" * 120_000, "no end_header"
    if kind == "ply_unknown_property_type":
        return "prop.ply", _ascii_ply().replace(b"property float z", b"property float128 z"), "float128"
    if kind == "stl_solid_header_cut":
        good = _good(tmp_path, "stl")
        return "solid.stl", b"solid facet endsolid".ljust(80) + good[80:-20], "says 448 triangles"
    if kind == "stl_solid_header_trailing_junk":
        good = _good(tmp_path, "stl")
        return "junk.stl", b"solid x facet".ljust(80) + good[80:] + b"\0" * 500, "not an ASCII STL"
    if kind == "stl_nan_vertex":
        c = np.asarray(_sphere().points)[_sphere().faces.reshape(-1, 4)[:, 1:]].astype("<f4")
        c[5, 1] = np.nan
        return "nan.stl", _stl_records(c), "NaN or infinite"
    if kind == "stl_shorter_than_header":
        return "tiny.stl", b"\x01\x02" * 20, "shorter than the 84-byte header"
    if kind == "obj_nan_vertex":
        return "nan.obj", b"v 0 0 0\nv nan 0 0\nv 0 1 0\nf 1 2 3\n", "NaN or infinite"
    if kind == "obj_face_index_out_of_range":
        return "oor.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 99\n", "refers to vertex 98"
    if kind == "obj_5000_digit_coordinate":
        return "digits.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 " + b"9" * 5000 + b"\nf 1 2 3\n", "digits.obj"
    if kind in ("vtp_claims_2e31_points", "vtp_claims_2e9_polys", "vtp_5000_digits", "vtp_components",
                "vtp_cut_in_half", "vtp_not_polydata", "vtp_fewer_points"):
        text = _good(tmp_path, "vtp").decode("latin-1")
        n_p = mesh_io._check_vtp(tmp_path / "src" / "good.vtp", len(text))[0]
        pts, polys = f'NumberOfPoints="{n_p}"', 'NumberOfPolys="448"'
        new = {"vtp_claims_2e31_points": text.replace(pts, 'NumberOfPoints="2147483648"'),
               "vtp_claims_2e9_polys": text.replace(polys, 'NumberOfPolys="2000000000"'),
               "vtp_5000_digits": text.replace(pts, f'NumberOfPoints="{"9" * 5000}"'),
               "vtp_components": text.replace('NumberOfComponents="3"', 'NumberOfComponents="1000000"', 1),
               "vtp_cut_in_half": text[: len(text) // 2],
               "vtp_not_polydata": text.replace('type="PolyData"', 'type="UnstructuredGrid"', 1),
               "vtp_fewer_points": text.replace(pts, 'NumberOfPoints="100"')}[kind]
        expect = {"vtp_claims_2e31_points": "2,147,483,648 points", "vtp_claims_2e9_polys": "bytes of data",
                  "vtp_5000_digits": "not a sensible whole number", "vtp_components": "1000000",
                  "vtp_cut_in_half": "cannot read the model", "vtp_not_polydata": "not PolyData",
                  "vtp_fewer_points": "refers to vertex"}[kind]
        return f"{kind}.vtp", new.encode("latin-1"), expect
    if kind == "3mf_index_out_of_range":
        return "oor.3mf", _3mf(_V3, '<triangle v1="0" v2="1" v3="7"/>'), "outside 0..2"
    if kind == "3mf_nan_vertex":
        return "nan.3mf", _3mf(_V3.replace('x="1"', 'x="nan"'), '<triangle v1="0" v2="1" v3="2"/>'), "NaN"
    if kind == "3mf_missing_coordinate":
        return "miss.3mf", _3mf(_V3.replace(' z="0"/><vertex x="0"', '/><vertex x="0"'),
                                '<triangle v1="0" v2="1" v3="2"/>'), "missing or non-numeric"
    if kind == "3mf_entity_bomb":
        import io

        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("3D/3dmodel.model", _LOL)
        return "lol.3mf", buf.getvalue(), "not a readable 3MF"
    raise AssertionError(kind)


HOSTILE = [
    "ply_cut_20_bytes", "ply_claims_2e31_vertices", "ply_face_index_out_of_range", "ply_negative_index",
    "ply_mixed_polygons_out_of_range", "ply_list_length_lie", "ply_inf_vertex", "ply_ascii_index_out_of_range",
    "ply_ascii_truncated", "ply_ascii_count_lie", "ply_ascii_junk", "ply_5000_digit_count", "ply_no_end_header",
    "ply_unknown_property_type", "stl_solid_header_cut", "stl_solid_header_trailing_junk", "stl_nan_vertex",
    "stl_shorter_than_header", "obj_nan_vertex", "obj_face_index_out_of_range", "obj_5000_digit_coordinate",
    "vtp_claims_2e31_points", "vtp_claims_2e9_polys", "vtp_5000_digits", "vtp_components", "vtp_cut_in_half",
    "vtp_not_polydata", "vtp_fewer_points", "3mf_index_out_of_range", "3mf_nan_vertex",
    "3mf_missing_coordinate", "3mf_entity_bomb",
]


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_mesh_is_refused_by_name_and_left_alone(tmp_path, kind, capfd):
    name, data, expect = _make(kind, tmp_path)
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / name
    path.write_bytes(data)
    before = _snapshot(folder)
    with pytest.raises(InputError, match=expect) as info:
        read_mesh(path)
    assert name in str(info.value)
    assert _snapshot(folder) == before  # input byte-identical, nothing written beside it
    err = capfd.readouterr().err
    assert "Traceback" not in err and "vtk" not in err.lower()  # no VTK error dump before the message


def test_binary_stl_with_solid_header_is_read_as_binary(tmp_path):
    good = _good(tmp_path, "stl")
    path = tmp_path / "solid_ok.stl"
    path.write_bytes(b"solid facet endsolid (a binary file)".ljust(80) + good[80:])
    mesh = read_mesh(path)
    ref = pv.read(str(tmp_path / "src" / "good.stl"))
    assert mesh.n_cells == 448 and mesh.n_points == ref.n_points
    assert np.allclose(mesh.points, ref.points)


def test_ascii_stl_still_reads(tmp_path):
    path = tmp_path / "a.stl"
    path.write_text("solid t\n facet normal 0 0 1\n  outer loop\n   vertex 0 0 0\n   vertex 1 0 0\n"
                    "   vertex 0 1 0\n  endloop\n endfacet\nendsolid t\n")
    assert read_mesh(path).n_cells == 1


def test_ply_with_mixed_polygons_reads(tmp_path):
    path = tmp_path / "mixed.ply"
    path.write_bytes(_binary_ply([[0, 1, 2], [0, 1, 2, 0]]))
    assert read_mesh(path).n_cells >= 2


def test_refuses_folders_and_pipes(tmp_path):
    (tmp_path / "dir.stl").mkdir()
    with pytest.raises(InputError, match="folder"):
        read_mesh(tmp_path / "dir.stl")
    os.mkfifo(tmp_path / "pipe.ply")
    with pytest.raises(InputError, match="not a regular file"):
        read_mesh(tmp_path / "pipe.ply")


def test_write_refuses_nan_vertices(tmp_path):
    m = _sphere()
    m.points[3] = np.nan
    for fmt in ("stl", "vtp"):
        with pytest.raises(MeshingError, match="NaN"):
            write_mesh(m, tmp_path / f"x.{fmt}")
    assert list(tmp_path.iterdir()) == []


def test_vtp_read_back_check_catches_a_short_file(tmp_path):
    path = write_mesh(_sphere(), tmp_path / "m.vtp")
    n_p, n_t = _sphere().n_points, _sphere().n_cells
    mesh_io._verify_vtp(path, n_p, n_t)  # the complete file passes
    cut = tmp_path / "cut.vtp"
    cut.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(InputError, match="incomplete"):
        mesh_io._verify_vtp(cut, n_p, n_t)


# ------------------------------------------------------------------ full disk


@pytest.mark.parametrize("fmt", ["stl", "ply", "obj", "vtp", "3mf"])
def test_full_disk_keeps_the_good_model(small_tmpfs, fmt):
    path = write_mesh(_sphere(12), small_tmpfs / f"model.{fmt}")
    good = path.read_bytes()
    big = pv.Sphere(radius=5, theta_resolution=160, phi_resolution=160)  # ~50 000 triangles, > 256 KiB
    with pytest.raises(WriteError, match="disk is full") as info:
        write_mesh(big, path)
    assert path.name in str(info.value)
    assert path.read_bytes() == good
    assert not [n for n in os.listdir(small_tmpfs) if is_temporary(n)]
    assert sorted(os.listdir(small_tmpfs)) == [path.name]


# --------------------------------------------------------- child processes
def _limit_memory():  # a regression must not eat the shared machine's memory
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, preexec_fn=_limit_memory)


@pytest.mark.parametrize("kind", ["ply_cut_20_bytes", "ply_claims_2e31_vertices", "ply_face_index_out_of_range",
                                  "ply_ascii_index_out_of_range", "vtp_claims_2e31_points"])
def test_former_crashes_exit_cleanly_in_a_child_process(tmp_path, kind):
    name, data, expect = _make(kind, tmp_path)
    path = tmp_path / name
    path.write_bytes(data)
    code = ("import sys\nfrom surgiplan.core.errors import SurgiplanError\n"
            "from surgiplan.core.surfaces.mesh_io import import_model\n"
            "try:\n    import_model(sys.argv[1])\n"
            "except SurgiplanError as e:\n    print(e, file=sys.stderr); sys.exit(1)\n")
    r = _run([sys.executable, "-c", code, str(path)], tmp_path)
    assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
    assert name in r.stderr and "Traceback" not in r.stderr
    assert path.read_bytes() == data


def test_import_model_cli_refuses_the_short_ply_and_leaves_the_case(tmp_path):
    from surgiplan.core.case.case import Case

    Case.new(tmp_path / "case")
    before = {p: p.read_bytes() for p in (tmp_path / "case").rglob("*") if p.is_file()}
    name, data, _ = _make("ply_cut_20_bytes", tmp_path)
    (tmp_path / name).write_bytes(data)
    exe = Path(sys.executable).with_name("surgiplan")
    r = _run([str(exe), "import-model", str(tmp_path / "case"), str(tmp_path / name)], tmp_path)
    assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
    assert "short.ply" in r.stderr and "end early" in r.stderr and "Traceback" not in r.stderr
    after = {p: p.read_bytes() for p in (tmp_path / "case").rglob("*") if p.is_file()}
    assert after == before


def test_import_model_still_checks_watertightness(tmp_path):
    mesh, rep = import_model(write_mesh(_sphere(), tmp_path / "ok.ply"))
    assert rep.watertight and mesh.n_cells == _sphere().n_cells
