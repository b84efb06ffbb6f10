"""The hip study end to end on a synthetic femur (analytic shapes, constant-HU CT) with a planned stem."""

from __future__ import annotations

import json

import numpy as np
import pytest

from surgiplan.core.errors import InputError
from tests.core.simulation._hip_synthetic import make_case

COARSE = {"degree": 1, "element_size_mm": 8, "implant_element_size_mm": 4, "bone_surface_edge_mm": 5}
HU = 800.0


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("hipcase") / "case"
    make_case(root, hu=HU)
    return root


def test_interface_is_conforming(case_dir):
    """Every interface triangle is a face of exactly one bone and one stem tetrahedron."""
    import gmsh

    from surgiplan.core.case import Case
    from surgiplan.core.simulation import meshes
    from surgiplan.core.simulation.biomech import case_study as cs
    from surgiplan.core.simulation.biomech.hip_model import build_hip_surfaces
    from surgiplan.core.simulation.biomech.volume_mesher import mesh_volumes

    case = Case.open(case_dir)
    inp, _ = cs._geometry_inputs(case, "A", "hip-walking", cs._options(COARSE), implanted=True)
    surf = build_hip_surfaces(inp)
    try:
        q = mesh_volumes(surf, coarse_mm=8, fine_mm=4, refine_near=("interface",))
        faces = {}
        for name in ("bone", "stem"):
            tag = next(t for d, t in gmsh.model.getPhysicalGroups(3) if gmsh.model.getPhysicalName(3, t) == name)
            ent = gmsh.model.getEntitiesForPhysicalGroup(3, tag)[0]
            tets = np.asarray(gmsh.model.mesh.getElements(3, ent)[2][0], dtype=np.int64).reshape(-1, 4)
            f = np.sort(np.vstack([tets[:, [0, 1, 2]], tets[:, [0, 1, 3]], tets[:, [0, 2, 3]], tets[:, [1, 2, 3]]]),
                        axis=1)
            faces[name] = {tuple(x) for x in f}
        tag = next(t for d, t in gmsh.model.getPhysicalGroups(2) if gmsh.model.getPhysicalName(2, t) == "interface")
        ent = gmsh.model.getEntitiesForPhysicalGroup(2, tag)[0]
        tri = np.sort(np.asarray(gmsh.model.mesh.getElements(2, ent)[2][0], dtype=np.int64).reshape(-1, 3), axis=1)
    finally:
        meshes.finish()
    assert len(tri) > 100
    assert all(tuple(t) in faces["bone"] and tuple(t) in faces["stem"] for t in tri)
    assert q.elements == q.elements_per_region["bone"] + q.elements_per_region["stem"]
    assert q.min_dihedral_deg > 0 and q.p01_dihedral_deg > 5.0 and q.p99_aspect_ratio < 20


def test_study_runs_from_the_saved_plan(case_dir):
    import subprocess
    import sys

    import meshio
    import pyvista as pv

    from surgiplan.core.case import Case
    from surgiplan.core.simulation.biomech.bone_material import BoneMapping, modulus
    from surgiplan.core.simulation.biomech.implant_materials import material_for
    from surgiplan.core.simulation.case_studies import run_case_study, study_rows
    from tests.conftest import REPO_ROOT

    r = subprocess.run([sys.executable, "-m", "surgiplan", "plan", "neck-cut", str(case_dir), "A", "--angle", "50",
                        "--json"], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["angle_to_shaft_deg"] == pytest.approx(50.0)
    summary = run_case_study(case_dir, "A", "hip-walking", options=COARSE)
    assert summary["setup"]["neck_cut"] == "the plan's neck cut"
    out = case_dir / "studies" / "A--hip-walking"
    assert json.loads((out / "summary.json").read_text())["key_results"] == summary["key_results"]
    labels = {(r["region"], r["label"]) for r in summary["key_results"]}
    assert ("stem", "fatigue safety factor (fatigue strength / peak von Mises)") in labels
    assert sum(1 for r in summary["key_results"] if "Gruen zone" in r["label"]) == 7
    assert {"loads", "bone_material", "mesh", "hip_contact_source"} & set(summary["setup"])
    assert "52/52" in summary["verification"]["hu_density_modulus_mapping"]
    # results every reader sees in full
    vtu = pv.read(out / "results.vtu")
    wanted = {"displacement_mm", "von_mises_MPa", "strain_energy_density_mJ_per_mm3", "youngs_modulus_MPa",
              "gruen_zone", "region_id", "sed_change_percent_by_gruen_zone"}
    assert wanted <= set(vtu.array_names)
    m = meshio.read(out / "results.vtu")
    assert wanted <= set(m.point_data) | set(m.cell_data)
    # materials: the bone's E is the CT mapping of the constant HU, the stem's the table's
    e = np.asarray(vtu.cell_data["youngs_modulus_MPa"])
    stem = np.asarray(vtu.cell_data["region_id"]) == 1
    assert np.allclose(e[~stem], modulus(np.array([HU]), BoneMapping())[0], rtol=1e-5)
    assert np.allclose(e[stem], material_for("Ti-6Al-4V").youngs_modulus_MPa)
    surf = pv.read(out / "surface.vtp")
    for f in summary["display_fields"]:
        assert f["name"] in surf.point_data and f["unit"]
    # recorded on the case and read back for the plan comparison
    case = Case.open(case_dir)
    assert any(s.path == "studies/A--hip-walking" and s.plan == "A" for s in case.model.studies)
    rows = study_rows(case, ["A"])
    assert len(rows) == len(summary["key_results"]) and {r["plan"] for r in rows} == {"A"}
    assert study_rows(case, ["B"]) == []


@pytest.mark.parametrize("plan,study,options,message", [
    ("A", "hip-running", {}, "unknown study"),
    ("Z", "hip-walking", {}, "no plan 'Z'"),
    ("A", "spine-lifting", {}, "not available"),
    ("A", "hip-walking", {"element_size": 3}, "unknown study option"),
])
def test_bad_requests_are_refused(case_dir, plan, study, options, message):
    from surgiplan.core.simulation.case_studies import run_case_study

    with pytest.raises(InputError, match=message):
        run_case_study(case_dir, plan, study, options=options, out_dir=case_dir.parent / f"x-{plan}-{study}")


def test_list_studies():
    from surgiplan.core.simulation.case_studies import list_studies

    rows = {r["name"]: r for r in list_studies()}
    assert rows["hip-walking"]["available"] and rows["hip-stairs"]["available"]
    assert rows["hip-walking"]["anatomy"] == "hip" and rows["vessel-rest"]["physics"] == "flow"
    assert not rows["spine-lifting"]["available"]
