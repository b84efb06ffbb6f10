"""Mesh files: every format round-trips in LPS, RAS is stated and converted, bad files are refused."""

from __future__ import annotations

import hashlib
import zipfile

import meshio
import numpy as np
import pytest
import pyvista as pv

from surgiplan.core.errors import InputError
from surgiplan.core.surfaces import mesh_volume, read_mesh, watertight_report, write_mesh


def _mesh():
    m = pv.Sphere(radius=5, center=(-30.0, 12.0, 700.0), theta_resolution=16, phi_resolution=16)
    m.field_data["segment"] = np.array(["femur_left"])
    return m


@pytest.mark.parametrize("fmt", ["stl", "obj", "ply", "vtp", "3mf"])
@pytest.mark.parametrize("frame", ["LPS", "RAS"])
def test_round_trip(tmp_path, fmt, frame):
    m = _mesh()
    path = write_mesh(m, tmp_path / f"femur.{fmt}", frame=frame)
    back = read_mesh(path)  # the file's own marker says the frame
    assert back.n_cells == m.n_cells
    assert np.allclose(np.sort(back.points, axis=0), np.sort(m.points, axis=0), atol=1e-3)
    rep = watertight_report(back)
    assert rep.watertight, rep.summary()
    assert mesh_volume(back) == pytest.approx(mesh_volume(m), rel=1e-4)
    if fmt != "vtp":  # other tools read the files too
        if fmt == "3mf":
            with zipfile.ZipFile(path) as z:
                assert f"SPACE={frame}".encode() in z.read("3D/3dmodel.model")
        else:
            mm = meshio.read(path)
            pts = mm.points
            expect = m.points * (np.array([-1, -1, 1]) if frame == "RAS" else 1)
            assert np.allclose(pts.mean(axis=0), expect.mean(axis=0), atol=1e-3)


def test_stl_header_states_frame(tmp_path):
    path = write_mesh(_mesh(), tmp_path / "a.stl", frame="RAS")
    assert path.read_bytes()[:9] == b"SPACE=RAS"
    # a file without marker is taken in the frame the caller says
    raw = tmp_path / "raw.stl"
    data = bytearray(path.read_bytes())
    data[:80] = b" " * 80
    raw.write_bytes(bytes(data))
    as_ras = read_mesh(raw, frame="RAS")
    as_lps = read_mesh(raw)
    assert np.allclose(as_ras.points[:, :2], -as_lps.points[:, :2])


def test_bad_mesh_files(tmp_path):
    good = write_mesh(_mesh(), tmp_path / "good.stl")
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    trunc = tmp_path / "trunc.stl"
    trunc.write_bytes(good.read_bytes()[:-20])
    with pytest.raises(InputError, match="truncated"):
        read_mesh(trunc)
    empty = tmp_path / "empty.obj"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        read_mesh(empty)
    junk = tmp_path / "junk.ply"
    junk.write_bytes(b"\x00\xffnot a ply file" * 10)
    with pytest.raises(InputError, match="junk.ply"):
        read_mesh(junk)
    with pytest.raises(InputError, match="cannot import"):
        read_mesh(tmp_path / "x.dxf") if (tmp_path / "x.dxf").write_text("x") else None
    bad3mf = tmp_path / "bad.3mf"
    bad3mf.write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(InputError, match="bad.3mf"):
        read_mesh(bad3mf)
    with pytest.raises(InputError, match="unknown mesh format"):
        write_mesh(_mesh(), tmp_path / "out.dae")
    assert hashlib.sha256(good.read_bytes()).hexdigest() == digest
    assert not list(tmp_path.glob(".*tmp*"))


def test_import_refuses_non_manifold_model(tmp_path):
    from surgiplan.core.errors import MeshingError
    from surgiplan.core.surfaces import import_model

    p = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1]], float)
    fin = pv.PolyData.from_regular_faces(p, np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]]))
    path = write_mesh(fin, tmp_path / "fin.stl")
    with pytest.raises(MeshingError, match=r"fin\.stl.*non-manifold edges"):
        import_model(path)
    mesh, rep = import_model(path, require_watertight=False)
    assert rep.non_manifold_edges == 1 and mesh.n_cells == 3
    good, rep = import_model(write_mesh(_mesh(), tmp_path / "ok.ply"))
    assert rep.watertight
