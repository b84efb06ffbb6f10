"""The spine study end to end on a synthetic vertebral body (a cylinder, constant-HU CT) with two
pedicle screws, checked against beam theory: at mid-height the axial stress of a prism under a
compressive force F and a bending moment M is -F/A - M a/I (a: distance anterior of the axis)."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.errors import GeometryError, InputError

R, H = 15.0, 60.0  # body radius and height (mm); the cylinder's axis is the LPS z axis through the origin
SCREW_Z = 12.0  # screws low in the body, far from the mid-height section that is checked
COARSE = {"degree": 2, "element_size_mm": 4.0, "implant_element_size_mm": 2.5, "bone_surface_edge_mm": 3.0,
          "flexion_moment_Nm": 2.0}  # a moment small enough to keep the whole section in compression


def _cylinder():
    import manifold3d as m3
    import pyvista as pv

    mm = m3.Manifold.cylinder(H, R, R, 96).to_mesh64()
    pts, tri = np.asarray(mm.vert_properties)[:, :3], np.asarray(mm.tri_verts, dtype=np.int64)
    return pv.PolyData(pts, np.hstack([np.full((len(tri), 1), 3), tri]).ravel()).clean()


def make_case(root, screws: bool = True, superior: bool = True):
    from surgiplan.core.case import Case
    from surgiplan.core.imaging import Volume
    from surgiplan.core.planning.placement import screw_pose
    from surgiplan.core.planning.plan import PlacedImplant

    case = Case.new(root)
    case.add_scan("planning", Volume(np.full((26, 20, 20), 1000, dtype=np.int16), (3.0, 3.0, 3.0),
                                     (-30.0, -30.0, -9.0)))
    case.add_model("L4", _cylinder())
    if superior:
        case.set_landmark("superior_endplate_centre_L4", [0.0, 0.0, H])
    case.set_landmark("inferior_endplate_centre_L4", [0.0, 0.0, 0.0])
    case.set_landmark("vertebral_body_centre_L4", [0.0, 0.0, H / 2])
    case.new_plan("A")
    if screws:  # entering from posterior (LPS +y), pointing anteriorly
        for side, x in (("left", 6.0), ("right", -6.0)):
            e = np.array([x, R + 3.0, SCREW_Z])
            case.add_implant("A", PlacedImplant(f"L4_{side}", "spine_pedicle_screw", "5.5x30",
                                                screw_pose(e, e + [0.0, -1.0, 0.0]), side, "L4"))
    case.save()
    return case


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("spinecase") / "case"
    make_case(root)
    return root


def test_split_load_keeps_force_and_moment():
    from surgiplan.core.simulation.biomech.spine_model import split_load

    fa, fp = split_load(1175.0, 7500.0, 7.0, -6.0)
    assert fa + fp == pytest.approx(1175.0)
    assert fa * 7.0 + fp * -6.0 == pytest.approx(7500.0)
    assert split_load(500.0, 0.0, 5.0, -5.0) == pytest.approx((250.0, 250.0))
    with pytest.raises(GeometryError):
        split_load(500.0, 0.0, -5.0, 5.0)


def test_flexion_matches_beam_theory(case_dir):
    import pyvista as pv

    from surgiplan.core.case import Case
    from surgiplan.core.simulation.case_studies import run_case_study, study_rows

    summary = run_case_study(case_dir, "A", "spine-flexion", options=COARSE)
    out = case_dir / "studies" / "A--spine-flexion"
    assert (out / "surface.vtp").is_file() and (out / "summary.json").is_file()
    facts = summary["setup"]["mesh_quality"]["surfaces"]
    # the loaded halves of the end plate: half discs, area pi R^2 / 2 (less the rounded rim of the 3 mm
    # remeshed surface, whose triangles tilt more than 45 deg), centroids 4R/(3 pi) off the axis
    for half, sign in (("anterior", 1.0), ("posterior", -1.0)):
        assert facts[f"load_{half}_area_mm2"] == pytest.approx(np.pi * R**2 / 2, rel=0.06)
        assert facts[f"load_{half}_centroid_ap_mm"] == pytest.approx(sign * 4 * R / (3 * np.pi), abs=0.4)
    F, M = 1175.0, 2000.0
    # the instrumented and the intact vertebra (no screws, same loads) both follow beam theory at mid-height
    for path in (out / "results.vtu", out / "intact" / "results.vtu"):
        g = pv.read(path)
        c = np.asarray(g.cell_centers().points)
        vol = g.compute_cell_sizes(length=False, area=False, volume=True).cell_data["Volume"]
        band = np.abs(c[:, 2] - H / 2) < 4.0
        if "region_id" in g.cell_data:
            band &= np.asarray(g.cell_data["region_id"]) == 0
        s = np.asarray(g.cell_data["min_principal_stress_MPa"])[band]
        a = -c[band, 1]  # anterior coordinate (LPS -y)
        slope, intercept = np.polyfit(a, s, 1, w=np.sqrt(vol[band]))
        assert intercept == pytest.approx(-F / (np.pi * R**2), rel=0.05), path
        assert slope == pytest.approx(-M / (np.pi * R**4 / 4), rel=0.10), path
    assert "peri_screw" in g.cell_data and np.sum(g.cell_data["peri_screw"]) > 0
    zones = {z["zone"]: z for z in summary["intact"]["strain_energy_density_by_zone"]}
    # stiff titanium shanks (across the load) stiffen the bone around them: less strain energy there
    # (-4.4 % measured); far from them the bone is as intact (-0.5 %)
    assert zones["peri-screw bone"]["change_percent"] < -2.0
    assert abs(zones["rest of the vertebra bone"]["change_percent"]) < 1.5
    # the peri-screw zone is the same space in both meshes: the intact one has the screws' volume as bone
    z = zones["peri-screw bone"]
    assert z["volume_intact_mm3"] > z["volume_instrumented_mm3"]
    assert summary["intact"]["regions"]["bone"]["von_mises_p99_MPa"] > 0
    rows = {(r["region"], r["label"]): r["value"] for r in summary["key_results"]}
    assert rows[("screw left", "fatigue safety factor (fatigue strength / peak von Mises)")] > 1.0
    assert rows[("bone", "von Mises stress, peak")] > F / (np.pi * R**2)
    assert {f["name"] for f in summary["display_fields"]} >= {"von_mises_MPa", "displacement_magnitude_mm"}
    assert "Dreischarf" in summary["setup"]["load_source"]
    assert len(study_rows(Case.open(case_dir), ["A"])) == len(summary["key_results"])


@pytest.mark.parametrize("study,options,message", [
    ("spine-standing", {"level": "L2"}, "no pedicle screws at level 'L2'"),
    ("spine-standing", {"element": 3}, "unknown study option"),
    ("spine-lifting", {}, "not available"),
])
def test_bad_requests_are_refused(case_dir, study, options, message):
    from surgiplan.core.simulation.case_studies import run_case_study

    out = case_dir.parent / f"x-{study}"
    with pytest.raises(InputError, match=message):
        run_case_study(case_dir, "A", study, options=options, out_dir=out)
    assert not (out / "study.json").exists()


def test_plan_without_screws_is_refused(tmp_path):
    from surgiplan.core.simulation.case_studies import run_case_study

    make_case(tmp_path / "case", screws=False)
    with pytest.raises(InputError, match="no pedicle screws"):
        run_case_study(tmp_path / "case", "A", "spine-standing", out_dir=tmp_path / "out")


def test_screw_outside_the_vertebra_is_refused():
    from surgiplan.core.planning.catalog import default_catalog
    from surgiplan.core.planning.placement import screw_pose
    from surgiplan.core.simulation.biomech.spine_model import SpineGeometryInput, build_spine_surfaces

    spec = default_catalog().get("spine_pedicle_screw")
    e = np.array([0.0, 60.0, 30.0])
    shank = spec.geometry("5.5x30", {}).transformed(screw_pose(e, e + [0.0, 1.0, 0.0])).parts["shank"]
    with pytest.raises(GeometryError, match="does not reach into the vertebra"):
        build_spine_surfaces(SpineGeometryInput(_cylinder(), np.array([0, 0, H]), np.zeros(3),
                                                np.array([0.0, -1.0, 0.0]), {"left": shank}))


def test_list_studies():
    from surgiplan.core.simulation.case_studies import list_studies

    rows = {r["name"]: r for r in list_studies()}
    assert rows["spine-standing"]["available"] and rows["spine-flexion"]["available"]
    assert rows["spine-standing"]["anatomy"] == "spine" and not rows["spine-lifting"]["available"]


def test_missing_end_plate_landmarks_are_refused(tmp_path):
    from surgiplan.core.simulation.case_studies import run_case_study

    make_case(tmp_path / "case", superior=False)
    with pytest.raises(InputError, match="lacks the landmarks superior_endplate_centre_L4"):
        run_case_study(tmp_path / "case", "A", "spine-standing", out_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "study.json").exists()
