"""Parts of the hip biomechanics study checked against references and exact geometry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from surgiplan.core.errors import InputError


def test_hu_mapping_reproduces_the_shared_reference(reference_file, tmp_path):
    from surgiplan.core.simulation.verify import load_reference, verify_hu_mapping

    rows = verify_hu_mapping(load_reference(reference_file))
    assert len(rows) >= 40 and all(r.passed for r in rows), [r for r in rows if not r.passed]
    # a wrong reference value is caught (the check can fail)
    data = json.loads(reference_file.read_text())
    case = next(c for c in data["cases"] if c["name"] == "hu_density_modulus_mapping")
    case["table"][3]["E_morgan2003_pooled_MPa"] *= 1.001
    bad = tmp_path / "ref.json"
    bad.write_text(json.dumps(data))
    rows = verify_hu_mapping(load_reference(bad))
    assert [r.quantity for r in rows if not r.passed] == ["E_morgan2003_pooled_MPa at 400 HU"]


def test_modulus_is_clipped_and_integrated_per_element():
    from surgiplan.core.imaging import Volume
    from surgiplan.core.simulation.biomech.bone_material import BoneMapping, cell_modulus, modulus

    m = BoneMapping(law="morgan2003_pooled", min_modulus_MPa=5.0)
    assert modulus(np.array([-1000.0]), m)[0] == 5.0  # no density: the minimum
    e400 = 8920.0 * ((0.877 * 0.0008 * 400 + 0.079) / 0.6) ** 1.83
    assert modulus(np.array([400.0]), m)[0] == pytest.approx(e400, rel=1e-12)
    vol = Volume(np.full((10, 10, 10), 400, dtype=np.int16), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    tet = np.array([[[2.0, 2, 2], [6, 2, 2], [2, 6, 2], [2, 2, 6]]])
    assert cell_modulus(tet, vol, m)[0] == pytest.approx(e400, rel=1e-6)
    # half the element outside the scan (air): the average of E, not E of the average HU
    ramp = np.zeros((10, 10, 20), dtype=np.int16)
    ramp[:, :, :10] = 1000
    vol2 = Volume(ramp, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    slab = np.array([[[5.0, 5, 5], [13, 5, 5], [5, 9, 5], [5, 5, 9]]])
    e = cell_modulus(slab, vol2, m, degree=6)[0]
    assert m.min_modulus_MPa < e < modulus(np.array([1000.0]), m)[0]


def test_implant_material_table_has_sources_and_refuses_missing_values():
    from surgiplan.core.simulation.biomech.implant_materials import load_materials, material_for

    mats = load_materials()
    assert {"Ti-6Al-4V", "CoCrMo", "316L", "UHMWPE", "PMMA", "PEEK"} <= set(mats)
    for m in mats.values():
        assert m.sources, m.key
    ti = material_for("Ti-6Al-4V, proximal HA coating")
    assert ti.key == "Ti-6Al-4V" and 100000 < ti.youngs_modulus_MPa < 130000 and ti.fatigue_strength_MPa > 0
    peek = material_for("PEEK cage")
    assert peek.youngs_modulus_MPa == 3600 and "3.6 GPa" in peek.sources["youngs_modulus_MPa"]
    with pytest.raises(InputError, match="PEEK|polyetheretherketone"):  # not found: a study refuses
        peek.require("youngs_modulus_MPa", "poissons_ratio", "fatigue_strength_MPa")
    with pytest.raises(InputError, match="no material"):
        material_for("unobtainium")


def _lm(pos, direction=None):
    from surgiplan.core.planning.plan import Landmark

    return Landmark(np.asarray(pos, float), None if direction is None else np.asarray(direction, float))


def test_femoral_frame_and_hip_loads():
    from surgiplan.core.simulation.biomech.loads import femoral_frame, hip_loads, load_presets

    lms = {"femoral_head_centre_left": _lm([80, 10, 10]), "femoral_canal_axis_left": _lm([110, 10, -100], [0, 0, -1]),
           "femoral_head_centre_right": _lm([-80, 10, 10]),
           "femoral_canal_axis_right": _lm([-110, 10, -100], [0.1, 0, 1])}
    f = femoral_frame(lms, "left")
    axes = np.stack([f.lateral, f.anterior, f.proximal])
    assert np.allclose(axes @ axes.T, np.eye(3), atol=1e-12)
    assert np.allclose(f.proximal, [0, 0, 1]) and np.allclose(f.lateral, [1, 0, 0]) and np.allclose(f.anterior,
                                                                                                  [0, -1, 0])
    r = femoral_frame(lms, "right")
    assert r.lateral[0] < -0.99 and r.anterior[1] < -0.99
    loads = hip_loads("walking", f, 75.0)
    preset = load_presets("hip")["presets"]["walking"]
    bw = 75.0 * 9.81
    assert np.linalg.norm(loads.hip_contact_N) == pytest.approx(np.linalg.norm(preset["hip_contact_percent_bw"])
                                                                / 100 * bw)
    assert loads.hip_contact_N[2] < 0 and loads.hip_contact_N[0] > 0  # distal and lateral on a left femur
    assert loads.abductor_N[2] > 0 and loads.abductor_N[0] < 0  # proximal and medial
    assert "Bergmann" in loads.facts["hip_contact_source"] and "Heller" in loads.facts["abductor_source"]
    with pytest.raises(InputError, match="canal"):
        femoral_frame({"femoral_head_centre_left": _lm([0, 0, 0])}, "left")


def test_neck_resection_level_and_angle():
    from surgiplan.core.planning.neck_resection import neck_cut_facts, neck_resection

    lms = {"femoral_head_centre_left": _lm([80, 10, 10]), "femoral_canal_axis_left": _lm([110, 10, -100], [0, 0, 1]),
           "lesser_trochanter_left": _lm([100, 10, -70])}
    res = neck_resection(lms, "left", level_above_lt_mm=15, angle_to_shaft_deg=40)
    assert res.model == "femur_left"
    assert np.allclose(res.origin, [100, 10, -55])  # 15 mm above the LT, at its distance from the axis
    facts = neck_cut_facts(res, lms, "left")
    assert facts["angle_to_shaft_deg"] == pytest.approx(40.0)
    assert np.dot(res.normal, [80 - 100, 0, 10 + 55]) < 0  # the head is on the removed side
    with pytest.raises(InputError, match="outside"):
        neck_resection(lms, "left", angle_to_shaft_deg=85)
    with pytest.raises(InputError, match="lesser_trochanter_left"):
        neck_resection({k: v for k, v in lms.items() if "lesser" not in k}, "left")


def test_gruen_zones_of_known_points():
    from surgiplan.core.simulation.biomech.gruen import gruen_zones

    axis, medial = np.array([0.0, 0, 1]), np.array([-1.0, 0, 0])
    pts = np.array([[5, 0, 110], [5, 0, 60], [5, 0, 10], [0, 0, -5], [-5, 0, 10], [-5, 0, 60], [-5, 0, 110],
                    [50, 0, 60], [0, 0, 130], [0, 0, -40]], float)
    z = gruen_zones(pts, np.zeros(3), axis, medial, top=120.0, tip=0.0, radius_mm=30, below_tip_mm=20)
    assert z.tolist() == [1, 2, 3, 4, 5, 6, 7, 0, 0, 0]


def test_remeshing_input_keeps_triangles_only():
    """A collapsed triangle (a line after cleaning) is dropped, not handed to the clustering (which refuses it)."""
    import pyvista as pv

    from surgiplan.core.simulation.biomech.surface_ops import remesh_uniform, triangles_only

    m = pv.PolyData(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], float),
                    np.array([3, 0, 1, 2, 3, 1, 3, 3]))
    out = triangles_only(m)
    assert out.is_all_triangles and out.n_cells == 1
    sphere = pv.Sphere(radius=20.0)
    sphere = sphere.merge(pv.PolyData(sphere.points[:2], lines=np.array([2, 0, 1])))  # a stray line
    r = remesh_uniform(sphere, 3.0)
    assert r.is_all_triangles and r.is_manifold and abs(r.volume - 4 / 3 * np.pi * 20**3) < 0.03 * r.volume
