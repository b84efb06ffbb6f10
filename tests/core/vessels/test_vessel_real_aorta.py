"""The real aorta (shared contrast CT, aortic dissection; TotalSegmentator's true-lumen mask): the lumen
study's geometry runs without hand tuning - the closed aortic root is the inlet, the inferior crop the
only outlet, the centreline follows the aorta from the root over the arch, the model's diameters agree
with the mask's own axial sections, and gmsh meshes it (coarse cells: the flow solve is in the notes)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import require_shared

pytestmark = pytest.mark.slow

ROOT_LPS = (3.0, -185.0, 655.0)  # a point in the aortic root (the true lumen's closed upstream end)


@pytest.fixture(scope="module")
def true_lumen(tmp_path_factory):
    from surgiplan.core.segmentation.segmentation_io import read_segmentation
    from surgiplan.core.simulation.vessel.geometry import build_vessel_model
    from surgiplan.core.simulation.vessel.lumen_study import _field_from_mask, _tip_ends
    from surgiplan.core.vessels.centreline import open_ends

    path = require_shared("segmentation_reference", "ct_aorta_arterial", "totalseg_aorta_report_case",
                          "aorta_true_lumen.nii.gz")
    seg = read_segmentation(path)
    mask = np.asarray(seg.mask(seg.segments[0].name), bool)
    lf = _field_from_mask(mask, seg.spacing, seg.origin, seg.direction)
    ends = open_ends(lf)
    ends = _tip_ends(lf, np.array(ROOT_LPS), ends)
    model = build_vessel_model(lf, tmp_path_factory.mktemp("aorta"), inlet_point=ROOT_LPS, ends=ends, h_max=8.0)
    return seg, mask, ends, model


def test_root_is_the_inlet_and_the_crop_the_only_outlet(true_lumen):
    _, _, ends, model = true_lumen
    assert len(ends) == 2  # no outlet from the lumen's bumps (a crescent true lumen has many)
    info = model.info
    assert len(info["outlets"]) == 1
    assert np.linalg.norm(np.array(info["inlet"]["centre_mm"]) - ROOT_LPS) < 5.0
    assert info["outlets"][0]["cut"]["origin_mm"][2] < 560.0  # near the inferior edge (z 540 mm)


def test_centreline_runs_over_the_arch_with_the_mask_diameters(true_lumen):
    seg, mask, _, model = true_lumen
    cl = model.info["centrelines"][0]
    p = np.array(cl["points_mm"])
    r = np.array([np.nan if v is None else v for v in cl["radius_mm"]])
    s = np.array(cl["arc_mm"])
    assert p[:, 2].max() > 745.0  # over the arch (its top at z ~ 757 mm)
    length = s[cl["outlet_cut_index"]] - s[cl["inlet_cut_index"]]
    assert 280.0 < length < 400.0
    # the descending aorta runs head-foot: its axial sections of the mask vs the model's equivalent diameter
    sp = np.asarray(seg.spacing)
    for z in (560.0, 600.0, 640.0):
        k = int(round((z - seg.origin[2]) / sp[2]))
        j = np.nonzero((np.abs(p[:, 2] - z) < 1.0) & (p[:, 1] > -160.0))[0]  # the descending (posterior) limb
        assert len(j)
        from scipy import ndimage as ndi

        lab, _ = ndi.label(mask[k])
        c = np.round((p[j[0], :2] - np.asarray(seg.origin[:2])) / sp[:2]).astype(int)
        area = (lab == lab[c[1], c[0]]).sum() * sp[0] * sp[1]
        d_mask = 2 * np.sqrt(area / np.pi)
        assert 2 * np.nanmedian(r[j]) == pytest.approx(d_mask, rel=0.12)


def test_the_lumen_is_meshed_from_a_fold_free_surface(true_lumen):
    _, _, _, model = true_lumen
    mesh = model.info["mesh"]
    assert mesh["meshed_from"].startswith("marching cubes")
    assert mesh["tetrahedra"] > 2000
    assert model.msh_path.is_file()
