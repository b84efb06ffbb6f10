"""Implant catalog: sizes as the issue lists them, closed meshes with the right dimensions,
user sidecar implants, and bad catalog files refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import pyvista as pv

from surgiplan.core.errors import InputError
from surgiplan.core.planning.catalog import load_catalog, load_catalog_file


@pytest.fixture(scope="module")
def cat():
    return load_catalog(include_user=False)


def test_size_ranges(cat):
    assert cat.get("hip_cup").sizes == [str(d) for d in range(44, 66, 2)]
    assert sorted(cat.get("hip_head").sizes) == sorted(
        f"{d}/{o}" for d in (28, 32, 36) for o in ("-4", "0", "+4"))
    screws = cat.get("spine_pedicle_screw")
    ds = sorted({screws.size(s)["diameter"] for s in screws.sizes})
    ls = sorted({screws.size(s)["length"] for s in screws.sizes})
    assert ds[0] == 4.5 and ds[-1] == 7.5 and ls[0] == 30 and ls[-1] == 55
    for i in ("hip_liner", "hip_stem_standard", "hip_stem_high_offset", "knee_femoral",
              "knee_tibial_tray", "knee_insert", "spine_rod", "trauma_locking_plate", "vascular_stent_be"):
        spec = cat.get(i)
        assert spec.model.material and spec.model.anchor.origin
    with pytest.raises(InputError, match="no size '43'"):
        cat.get("hip_cup").size("43")


@pytest.mark.parametrize("implant", ["hip_cup", "hip_liner", "hip_stem_standard", "knee_femoral",
                                     "knee_tibial_tray", "knee_insert", "spine_pedicle_screw",
                                     "spine_rod", "trauma_locking_plate"])
def test_generated_meshes_are_closed(cat, implant):
    spec = cat.get(implant)
    g = spec.geometry(spec.sizes[len(spec.sizes) // 2])
    for name, m in g.parts.items():
        assert m.n_cells > 0 and m.n_open_edges == 0, (implant, name)


def test_dimensions_match_parameters(cat):
    g = cat.get("hip_cup").geometry("54")
    shell = g.parts["shell"]
    r = np.linalg.norm(shell.points, axis=1)
    assert r.max() == pytest.approx(27.0, abs=1e-9) and r.min() == pytest.approx(24.0, abs=1e-9)
    assert shell.volume == pytest.approx(2 / 3 * np.pi * (27**3 - 24**3), rel=0.01)
    assert shell.bounds[5] == pytest.approx(0.0, abs=1e-9)  # opening at z = 0
    s = cat.get("spine_pedicle_screw").geometry("6.5x45")
    shank = s.parts["shank"]
    assert shank.bounds[5] == pytest.approx(45.0) and shank.bounds[1] == pytest.approx(3.25, abs=0.01)
    st = cat.get("hip_stem_standard")
    p = st.size("5")
    g = st.geometry("5", {"head": "32/+4"})
    dn = g.anchors["neck_axis"]
    # head centre lies 4 mm along the neck; the neck axis makes 180 - CCD with the stem axis
    np.testing.assert_allclose(g.anchors["head_centre"], 4 * dn, atol=1e-12)
    assert np.degrees(np.arccos(dn[2])) == pytest.approx(180 - p["neck_shaft_angle"])
    assert np.mean(g.parts["head"].points, axis=0) == pytest.approx(4 * dn, abs=0.05)
    # offset = distance from the head centre (neck length 0) to the stem axis x = -offset
    assert g.anchors["shaft_point"][0] == -p["offset"]
    plate = cat.get("trauma_locking_plate").geometry("8-hole").parts["plate"]
    b = plate.bounds
    assert b[1] - b[0] == pytest.approx(136.0, abs=0.8) and b[5] - b[4] == pytest.approx(3.5, abs=0.5)


def test_user_sidecar_implant(tmp_path):
    mesh = pv.Cube(x_length=10, y_length=12, z_length=8).triangulate()
    mesh.save(tmp_path / "cage_10.stl")
    (tmp_path / "cage.json").write_text(json.dumps({
        "format": "surgiplan-implant", "schema_version": 1, "id": "my_cage", "name": "Cage",
        "kind": "cage", "anatomy": "spine", "material": "PEEK",
        "anchor": {"origin": "centre", "axes": {"z": "cranial"}, "points": {"top": [0, 0, 4]}},
        "sizes": {"10": {"mesh": "cage_10.stl"}}}))
    cat = load_catalog([tmp_path], include_user=False)
    assert not cat.warnings
    g = cat.get("my_cage").geometry("10")
    assert g.merged().volume == pytest.approx(960, rel=1e-6)
    np.testing.assert_array_equal(g.anchors["top"], [0, 0, 4])


@pytest.mark.parametrize("body, message", [
    ("{not json", "not valid JSON"),
    (json.dumps({"format": "surgiplan-implant", "schema_version": 1, "id": "x", "name": "x",
                 "kind": "k", "anatomy": "a", "material": "m", "anchor": {"origin": "o"},
                 "sizes": {"1": {"mesh": "missing.stl"}}}), "not found"),
    (json.dumps({"format": "surgiplan-implant", "schema_version": 1, "id": "x", "name": "x",
                 "kind": "k", "anatomy": "a", "material": "m", "anchor": {"origin": "o"},
                 "sizes": {"1": {"mesh": "../../etc/passwd.stl"}}}), "file name"),
    (json.dumps({"format": "surgiplan-implant", "schema_version": 1, "id": "x"}), "invalid at"),
    (json.dumps({"format": "surgiplan-implant", "schema_version": 7}), "schema_version 7"),
])
def test_bad_sidecars_are_warnings_not_crashes(tmp_path, body, message):
    (tmp_path / "bad.json").write_text(body)
    before = (tmp_path / "bad.json").read_bytes()
    with pytest.raises(InputError, match=message):
        load_catalog_file(tmp_path / "bad.json")
    cat = load_catalog([tmp_path], include_user=False)
    assert "hip_cup" in cat and any(message in w for w in cat.warnings)
    assert (tmp_path / "bad.json").read_bytes() == before
