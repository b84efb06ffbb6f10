"""Vascular demo plans on the small vascular sample, against the sample's ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.errors import InputError


@pytest.fixture(scope="module")
def vascular(tmp_path_factory):
    from surgiplan.core.samples import sample_path
    from surgiplan.demo.sample_case import build_sample_case
    from surgiplan.demo.vascular import build_demo_plans

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


def test_flipped_slice_order_gives_the_same_stenosis(vascular):
    """The same scan stored with slices from head to feet (k towards -z) measures the same lesion."""
    from surgiplan.core.imaging.volume import Volume
    from surgiplan.core.imaging.volume_io import read_volume
    from surgiplan.core.planning.stenosis import find_iliac_stenosis
    from surgiplan.core.segmentation import Segmentation

    case, _comp, _gt = vascular
    vol = read_volume(case.root / case.model.scans[0].volume)
    seg = case.segmentation()
    d = np.array(vol.direction, float)
    top = vol.index_to_world([0, 0, vol.array.shape[0] - 1])
    d2 = d.copy()
    d2[:, 2] = -d[:, 2]
    fv = Volume(vol.array[::-1].copy(), vol.spacing, tuple(top), d2)
    fs = Segmentation(seg.shape, seg.spacing, tuple(top), d2, list(seg.segments),
                      [lay[::-1].copy() for lay in seg.layers])
    a = find_iliac_stenosis(vol, seg)
    b = find_iliac_stenosis(fv, fs)
    assert a.side == b.side == "right"
    assert np.linalg.norm(a.centre - b.centre) < 0.5
    assert abs(a.minimal_diameter_mm - b.minimal_diameter_mm) < 0.2
    assert abs(a.reference_diameter_mm - b.reference_diameter_mm) < 0.2


def _tube_case():
    """A straight vertical contrast tube (one lumen, no bifurcation) in fat, with its label map."""
    from surgiplan.core.imaging.volume import Volume
    from surgiplan.core.segmentation import Segment, Segmentation

    k, j, i = np.mgrid[0:20, 0:30, 0:30]
    inside = (i - 15) ** 2 + (j - 15) ** 2 <= 16
    vol = Volume(np.where(inside, 330, -100).astype(np.int16), (1.0, 1.0, 1.0))
    seg = Segmentation(vol.array.shape, vol.spacing, vol.origin, vol.direction,
                       [Segment("aorta_lumen", (1.0, 0.0, 0.0), 1)], [inside.astype(np.uint8)])
    return vol, seg


def test_no_bifurcation_is_a_clear_error():
    from surgiplan.core.planning.stenosis import find_iliac_stenosis

    vol, seg = _tube_case()
    with pytest.raises(InputError, match="never splits"):
        find_iliac_stenosis(vol, seg)


def test_mismatched_grid_and_oblique_scan_are_clear_errors():
    from surgiplan.core.imaging.volume import Volume
    from surgiplan.core.planning.stenosis import find_iliac_stenosis

    vol, seg = _tube_case()
    small = Volume(vol.array[:10].copy(), vol.spacing)
    with pytest.raises(InputError, match="does not match the scan"):
        find_iliac_stenosis(small, seg)
    c, s = np.cos(np.radians(40)), np.sin(np.radians(40))
    rot = np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])
    oblique = Volume(vol.array, vol.spacing, vol.origin, rot)
    with pytest.raises(InputError, match="axial"):
        find_iliac_stenosis(oblique, seg)
