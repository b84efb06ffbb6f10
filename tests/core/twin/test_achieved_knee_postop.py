"""The post-operative knee sample: the femoral component 2 mm proximal of plan (distal cut 2 mm deeper)
and the tibial tray turned 3 deg into varus, the patient moved; registered on the tibia, the
components found in the metal, and the achieved resection and alignment read against the
generator's known offsets (0.5 mm, 0.5 deg)."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.samples.postop import build_planning_case, postop_sample_path
from surgiplan.core.twin import achieved_vs_planned, add_later_scan, register_scan

SCAN = "post-op-2026-03-02"


@pytest.fixture(scope="module")
def knee(tmp_path_factory):
    pp = postop_sample_path("knee")
    case = build_planning_case("knee", tmp_path_factory.mktemp("knee") / "Case", models=True)
    add_later_scan(case, pp.volume, "2026-03-02", "postop")
    reg = register_scan(case, SCAN, "tibia")
    return pp, case, reg


def test_knee_components_found_at_the_known_offsets(knee):
    pp, case, reg = knee
    truth = np.array(pp.load_ground_truth()["scan_to_planning"])
    gt = pp.load_ground_truth()["implants"]
    assert set(gt) == {"femoral", "tray"}
    rep = achieved_vs_planned(case, "planned", SCAN)
    for key in ("femoral", "tray"):
        r = rep.implant(key)
        assert r.found, r.note
        want = gt[key]
        for axis in ("lateral", "anterior", "superior"):
            assert abs(r.translation_mm[axis] - want["translation_mm"][axis]) < 0.5, (key, axis, r.translation_mm)
        assert abs(r.rotation_deg - want["axis_angle_deg"]) < 0.5, (key, r.rotation_deg)
    assert rep.implant("tray").registration == "tibia"
    assert rep.implant("femoral").frame == "femoral mechanical"
    ins = rep.implant("insert")
    assert not ins.found and "does not show in CT" in ins.note
    # the registration against the known patient move, at the knee
    d = reg.scan_to_planning @ np.linalg.inv(truth)
    knee_pt = np.array(gt["tray"]["planned"])[:3, 3]
    assert np.linalg.norm(d[:3, :3] @ knee_pt + d[:3, 3] - knee_pt) < 0.5


def test_knee_achieved_resection_and_alignment(knee):
    pp, case, _ = knee
    gt = pp.load_ground_truth()["implants"]
    comp = achieved_vs_planned(case, "planned", SCAN).comparison
    deeper, turn = gt["femoral"]["distal_cut_deeper_mm"], gt["tray"]["coronal_turn_deg"]
    assert comp.row("achieved:cut:distal_femur:depth").difference == pytest.approx(deeper, abs=0.5)
    for half in ("medial", "lateral"):
        assert comp.row(f"resection_thickness_distal_femur_{half}").difference == pytest.approx(deeper, abs=0.5)
    assert comp.row("achieved:cut:proximal_tibia:angle").difference == pytest.approx(turn, abs=0.5)
    assert comp.row("tibial_component_varus").difference == pytest.approx(turn, abs=0.5)  # varus +
    assert comp.row("hka_planned").difference == pytest.approx(-turn, abs=0.5)
    assert abs(comp.row("femoral_component_varus").difference) < 0.5
