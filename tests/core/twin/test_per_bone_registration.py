"""Per-bone registration on the post-op spine sample: one transform per vertebra
(``scans/<scan>/to_planning.<bone>.tfm``), and each pedicle screw found through its own
vertebra's transform.

The sample's patient moved as one rigid body (known ``scan_to_planning``); to show that the
screws really use their vertebra's transform, the scan's transform is then replaced by one
3 mm off: the screws of the registered vertebrae stay within 0.5 mm / 0.5 deg of the known
offsets, and the control (L4's own transform removed) shows the 3 mm.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from surgiplan.core.case import Case
from surgiplan.core.errors import InputError
from surgiplan.core.planning import transforms as tf
from surgiplan.core.samples.postop import build_planning_case, postop_sample_path
from surgiplan.core.twin import achieved_vs_planned, add_later_scan, register_scan, scan_to_planning, timeline
from surgiplan.core.twin.registration import matrix_to_euler
from surgiplan.core.twin.timeline import bone_registrations, transform_source

SCAN = "post-op-2026-03-02"


def _rot_deg(m: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip((np.trace(m[:3, :3]) - 1) / 2, -1, 1))))


@pytest.fixture(scope="module")
def spine(tmp_path_factory):
    pp = postop_sample_path("spine")
    case = build_planning_case("spine", tmp_path_factory.mktemp("spine") / "Case", models=False)
    add_later_scan(case, pp.volume, "2026-03-02", "postop")
    regs = {b: register_scan(case, SCAN, b) for b in ("L3", "L4")}
    case.save()
    return pp, Case.open(case.root), regs


def test_one_transform_per_vertebra(spine):
    pp, case, regs = spine
    folder = case.root / "scans" / SCAN
    truth = np.array(pp.load_ground_truth()["scan_to_planning"])
    gt = pp.load_ground_truth()["implants"]
    assert bone_registrations(case, SCAN) == ["L3", "L4"]
    assert timeline(case)[1]["bones"] == ["L3", "L4"]
    # the first (L3) is also the scan's transform; the second (L4) is L4's alone
    assert case.model.scans[1].to_planning == f"scans/{SCAN}/to_planning.tfm"
    assert regs["L3"].details["scan_transform"] and not regs["L4"].details["scan_transform"]
    assert np.allclose(scan_to_planning(case, SCAN), regs["L3"].scan_to_planning, atol=1e-6)
    for b, reg in regs.items():
        assert (folder / f"to_planning.{b}.tfm").is_file()
        assert json.loads((folder / f"registration.{b}.json").read_text())["bone"] == b
        assert (folder / f"registration.{b}.png").stat().st_size > 1000
        got = scan_to_planning(case, SCAN, b)  # read back from to_planning.<bone>.tfm
        assert np.allclose(got, reg.scan_to_planning, atol=1e-6)
        d = got @ np.linalg.inv(truth)  # against the known patient move, at the screws of this vertebra
        pts = np.array([v["planned"] for k, v in gt.items() if k.startswith(b)])[:, :3, 3]
        assert len(pts) == 2 and _rot_deg(d) < 0.5 and np.abs(tf.apply(d, pts) - pts).max() < 0.5, (b, d)
    # a bone without its own transform falls back to the scan's
    assert transform_source(case, SCAN, "L5") == "scan"
    assert np.allclose(scan_to_planning(case, SCAN, "L5"), scan_to_planning(case, SCAN))
    assert any("register bone L4" in json.dumps(e) for e in case.audit_log())


def test_screws_use_their_vertebra_transform(spine):
    pp, case, _ = spine
    gt = pp.load_ground_truth()["implants"]
    # replace the scan's transform with one 3 mm off (along S, across the screws): only a screw
    # mapped through it would move
    wrong = scan_to_planning(case, SCAN).copy()
    wrong[:3, 3] += (0.0, 0.0, 3.0)
    tx = matrix_to_euler(np.linalg.inv(wrong))
    case.set_scan_registration(SCAN, lambda tmp: sitk.WriteTransform(tx, str(tmp)), {"bone": "test: 3 mm off"})

    def errors(rep):
        out = {}
        for r in rep.implants:
            assert r.found, r.note
            want = gt[r.id]
            out[r.id] = (max(abs(r.translation_mm[a] - want["translation_mm"][a])
                             for a in ("lateral", "anterior", "superior")),
                         abs(r.rotation_deg - want["axis_angle_deg"]))
        return out

    rep = achieved_vs_planned(case, "planned", SCAN)
    assert {r.id: r.registration for r in rep.implants} == {
        "L3_left": "L3", "L3_right": "L3", "L4_left": "L4", "L4_right": "L4"}
    for key, (dt_mm, dr) in errors(rep).items():
        assert dt_mm < 0.5 and dr < 0.5, (key, dt_mm, dr)
    assert rep.to_dict()["implants"][0]["registration"] in ("L3", "L4")
    # control: without L4's own transform its screws go through the 3 mm-off scan transform
    (case.root / "scans" / SCAN / "to_planning.L4.tfm").unlink()
    rep2 = achieved_vs_planned(case, "planned", SCAN)
    err2 = errors(rep2)
    for key in ("L4_left", "L4_right"):
        assert rep2.implant(key).registration == "scan"
        assert 2.5 < err2[key][0] < 3.5, (key, err2[key])
    for key in ("L3_left", "L3_right"):
        assert err2[key][0] < 0.5


def test_bad_bone_names(spine):
    _, case, _ = spine
    with pytest.raises(InputError, match="cannot name a per-bone transform"):
        register_scan(case, SCAN, "../L4")
    with pytest.raises(InputError, match="no segment 'L9'"):
        register_scan(case, SCAN, "L9")
    assert not list((case.root / "scans" / SCAN).glob("*L9*"))
