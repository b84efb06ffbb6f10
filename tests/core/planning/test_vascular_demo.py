"""Vascular demo plans on the small vascular sample, against the sample's ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.errors import InputError


@pytest.fixture(scope="module")
def vascular(tmp_path_factory):
    from surgiplan.core.planning.demo_vascular import build_demo_plans
    from surgiplan.core.sample_case import build_sample_case
    from surgiplan.core.samples import sample_path

    case, _vol, _seg, _models = build_sample_case("vascular", tmp_path_factory.mktemp("v") / "case")
    comp = build_demo_plans(case)
    gt = sample_path("vascular", size="small").load_ground_truth()
    return case, comp, gt


def test_stenosis_matches_ground_truth(vascular):
    case, comp, gt = vascular
    q = gt["quantities"]
    centre = case.landmarks["stenosis_centre"]
    assert np.linalg.norm(centre.position - np.array(gt["landmarks"]["stenosis_centre"]["position"])) <= 3.0
    gt_dir = np.array(gt["axes"]["stenosis_vessel_axis"]["direction"])
    assert np.degrees(np.arccos(abs(centre.direction @ gt_dir))) < 10.0
    assert abs(comp.row("stenosis_minimal_diameter").values["A"] - q["stenosis_minimal_diameter"]["value"]) <= 1.0
    assert abs(comp.row("stenosis_reference_diameter").values["A"]
               - q["stenosis_reference_diameter"]["value"]) <= 1.0
    assert abs(comp.row("stenosis_percent_diameter").values["A"] - q["stenosis_percent_diameter"]["value"]) <= 5.0


def test_plan_a_covers_lesion_and_is_not_undersized(vascular):
    case, comp, gt = vascular
    from surgiplan.core.planning.catalog import default_catalog

    imp = case.plan("A").implants["stent"]
    p = default_catalog().get(imp.catalog_id).size(imp.size)
    assert p["diameter"] >= gt["quantities"]["stenosis_reference_diameter"]["value"]
    # the true lesion: stenosis_length centred on the true stenosis, along the true axis
    ax = gt["axes"]["stenosis_vessel_axis"]
    c, d = np.array(ax["point"]), np.array(ax["direction"])
    half = gt["quantities"]["stenosis_length"]["value"] / 2
    o, z = imp.transform[:3, 3], imp.transform[:3, 2]
    for end in (c - half * d, c + half * d):
        along = (end - o) @ z
        assert abs(along) <= p["length"] / 2, "lesion end outside the stent"
        assert np.linalg.norm((end - o) - along * z) < p["diameter"] / 2, "lesion end off the stent axis"
    assert comp.row("stent_margin_proximal").values["A"] >= 5.0
    assert comp.row("stent_margin_distal").values["A"] >= 5.0
    assert comp.row("stent_reference_ratio").values["A"] >= 100.0
    # plan B is one diameter and one length size up
    pb = default_catalog().get(imp.catalog_id).size(case.plan("B").implants["stent"].size)
    assert pb["diameter"] > p["diameter"] and pb["length"] > p["length"]


def test_no_vessel_segment_is_a_clear_error():
    from surgiplan.core.imaging.volume import Volume
    from surgiplan.core.planning.stenosis import find_iliac_stenosis
    from surgiplan.core.segmentation import Segmentation

    vol = Volume(np.zeros((5, 6, 7), np.int16), (1.0, 1.0, 1.0))
    with pytest.raises(InputError, match="no vessel segment"):
        find_iliac_stenosis(vol, Segmentation.from_volume(vol))
