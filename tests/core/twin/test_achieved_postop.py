"""Post-operative samples: the scan registered to the planning scan, the implants found in the
metal, achieved vs planned against the generator's known offsets (0.5 mm, 0.5 deg).

The samples carry all three troubles of real post-op CTs: streaks and beam hardening, a
partly scanned implant (the cup's dome, the screw heads) and a patient who moved.
"""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.case import Case
from surgiplan.core.errors import GeometryError, InputError
from surgiplan.core.planning import transforms as tf
from surgiplan.core.samples.postop import build_planning_case, postop_sample_path
from surgiplan.core.twin import (
    achieved_rows,
    achieved_vs_planned,
    add_later_scan,
    register_scan,
    scan_to_planning,
    timeline,
)

SCAN = "post-op-2026-03-02"
BONE = {"hip": "pelvis", "spine": "L3"}


@pytest.fixture(scope="module", params=["hip", "spine"])
def registered(request, tmp_path_factory):
    name = request.param
    pp = postop_sample_path(name)
    case = build_planning_case(name, tmp_path_factory.mktemp(name) / "Case", models=name == "spine")
    add_later_scan(case, pp.volume, "2026-03-02", "postop")
    reg = register_scan(case, SCAN, BONE[name])
    case.save()
    return name, pp, Case.open(case.root), reg


def test_registration_recovers_the_known_patient_move(registered):
    name, pp, case, reg = registered
    truth = np.array(pp.load_ground_truth()["scan_to_planning"])
    found = scan_to_planning(case, SCAN)  # read back from to_planning.tfm
    assert np.allclose(found, reg.scan_to_planning, atol=1e-6)
    d = found @ np.linalg.inv(truth)
    rot = np.degrees(np.arccos(np.clip((np.trace(d[:3, :3]) - 1) / 2, -1, 1)))
    pts = np.array([v["planned"] for v in pp.load_ground_truth()["implants"].values()])[:, :3, 3]
    assert rot < 0.5 and np.abs(tf.apply(d, pts) - pts).max() < 0.5, (rot, d)
    sm = case.model.scans[1]
    assert (sm.kind, sm.date, sm.to_planning) == ("post-op", "2026-03-02", f"scans/{SCAN}/to_planning.tfm")
    assert (case.root / "scans" / SCAN / "registration.png").stat().st_size > 1000
    assert [t["registered"] for t in timeline(case)] == [True, True]


def test_achieved_matches_the_known_offsets(registered):
    name, pp, case, _ = registered
    gt = pp.load_ground_truth()["implants"]
    rep = achieved_vs_planned(case, "planned", SCAN)
    assert {r.id for r in rep.implants} == set(gt)
    for r in rep.implants:
        assert r.found, r.note
        want = gt[r.id]
        for axis in ("lateral", "anterior", "superior"):
            assert abs(r.translation_mm[axis] - want["translation_mm"][axis]) < 0.5, (r.id, axis, r.translation_mm)
        assert abs(r.rotation_deg - want["axis_angle_deg"]) < 0.5, (r.id, r.rotation_deg)
        assert r.partly_scanned  # the cup's dome / the screw heads lie outside the field of view
    comp = rep.comparison
    assert comp.plans == ["planned", "achieved"]
    assert [r.to_dict() for r in achieved_rows(case, "planned")] == [r.to_dict() for r in comp.rows]
    if name == "hip":
        inc, ant = comp.row("cup_inclination"), comp.row("cup_anteversion")
        assert abs(inc.values["planned"] - 40.0) < 1e-6 and abs(inc.difference) < 0.5
        assert abs(ant.values["planned"] - 15.0) < 1e-6 and abs(ant.difference - 5.0) < 0.5
        assert abs(comp.row("achieved:cup:lateral").values["achieved"] - 3.0) < 0.5
    else:
        med = comp.row("screw_medial_angle_L3_right")
        assert abs(med.difference - 4.0) < 0.5  # 4 deg more convergent
        assert comp.row("screw_breach_L4_left").values["achieved"] is not None


def test_an_implant_far_from_its_plan_is_reported_not_found(registered):
    name, pp, case, _ = registered
    plan = case.plan("planned")
    first = next(iter(plan.implants))
    case.set_implant_transform("planned", first, tf.translation([0.0, 0.0, 60.0]) @ plan.implants[first].transform)
    try:
        if len(plan.implants) == 1:  # the hip: its only implant missing is an error naming it
            with pytest.raises(GeometryError, match=f"{first}.*no metal"):
                achieved_vs_planned(case, "planned", SCAN)
            return
        rep = achieved_vs_planned(case, "planned", SCAN)
        miss = rep.implant(first)
        assert not miss.found and "no metal" in miss.note
        assert rep.comparison.row(f"found:{first}").values["achieved"] == "not found"
        assert sum(r.found for r in rep.implants) == len(plan.implants) - 1
    finally:
        case.undo()


def test_scan_timeline_bad_input(registered, tmp_path):
    name, pp, case, _ = registered
    before = (case.root / "case.json").read_bytes()
    with pytest.raises(InputError, match="not a date"):
        add_later_scan(case, pp.volume, "2026-13-40")
    with pytest.raises(InputError, match="kind"):
        add_later_scan(case, pp.volume, "2026-03-02", "preop")
    with pytest.raises(InputError, match="already has a scan"):
        add_later_scan(case, pp.volume, "2026-03-02", "postop")
    with pytest.raises(InputError, match="not found"):
        add_later_scan(case, tmp_path / "nothing", "2026-04-01")
    cut = tmp_path / "cut.nrrd"
    cut.write_bytes(pp.volume.read_bytes()[:5000])  # truncated volume file
    with pytest.raises(InputError) as e:
        add_later_scan(case, cut, "2026-04-01")
    assert "cut.nrrd" in str(e.value)
    assert (case.root / "case.json").read_bytes() == before
    assert not (case.root / "scans" / "post-op-2026-04-01").exists()
    with pytest.raises(InputError, match="planning scan"):
        register_scan(case, "planning")


def test_unregistered_or_damaged_registration_is_refused(tmp_path):
    pp = postop_sample_path("spine")
    case = build_planning_case("spine", tmp_path / "Case", models=False)
    add_later_scan(case, pp.volume, "2026-05-01", "followup")
    with pytest.raises(InputError, match="not registered"):
        achieved_vs_planned(case, "planned", "follow-up-2026-05-01")
    tfm = case.root / "scans" / "follow-up-2026-05-01" / "to_planning.tfm"
    tfm.write_text("#Insight Transform File V1.0\nTransform: nonsense\n")
    case.model.scans[1].to_planning = "scans/follow-up-2026-05-01/to_planning.tfm"
    with pytest.raises(InputError, match="to_planning.tfm"):
        scan_to_planning(case, "follow-up-2026-05-01")


def test_nothing_found_is_an_error(tmp_path):
    """A follow-up CT without metal (the planning scan itself) holds none of the implants."""
    from surgiplan.core.samples import sample_path

    case = build_planning_case("spine", tmp_path / "Case", models=False)
    add_later_scan(case, sample_path("spine").volume, "2026-05-01", "followup")
    case.set_scan_registration("follow-up-2026-05-01", lambda p: _identity_tfm(p), {})
    with pytest.raises(GeometryError, match="none of the implants"):
        achieved_vs_planned(case, "planned", "follow-up-2026-05-01")


def _identity_tfm(path):
    import SimpleITK as sitk

    sitk.WriteTransform(sitk.Euler3DTransform(), str(path))


def test_overlay_difference_is_smaller_when_registered(registered):
    """The difference picture of the registered pair is flatter than with the scan 3 mm off."""
    from surgiplan.core.twin.overlay import registration_panels, timeline_pair
    from surgiplan.core.twin.timeline import scan_volume

    name, pp, case, _ = registered
    good = timeline_pair(case, "planning", SCAN, "difference").astype(float)
    s2p = scan_to_planning(case, SCAN)

    fixed, moving = scan_volume(case, None), scan_volume(case, SCAN)
    off = registration_panels(fixed, moving, tf.translation([3.0, 0, 0]) @ s2p)
    on = registration_panels(fixed, moving, s2p)
    w = on.shape[1] // 3  # columns: checkerboard, fused, difference

    def agreeing(rgb):  # difference pixels within 2 % of the window of mid-grey: the scans agree there
        return int(np.count_nonzero(np.abs(rgb[:, 2 * w:, 0].astype(float) - 128.0) <= 4))

    assert agreeing(on) > 1.05 * agreeing(off), (agreeing(on), agreeing(off))
    assert good.shape[2] == 3 and achieved_rows(case, "planned", scan=None)  # the post-op scan by default


def test_the_report_shows_achieved_vs_planned(registered, tmp_path):
    """The OR report's post-operative page: the same rows as ``achieved_rows``, with units."""
    import shutil
    import subprocess

    from surgiplan.core.report.build import render_report

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    name, pp, case, _ = registered
    out = tmp_path / "r.pdf"
    out.write_bytes(render_report(case, "planned"))
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True,
                          check=True).stdout
    head = f"Achieved vs planned (post-operative scan {SCAN})"
    assert head in text
    text = text[text.index(head):]  # the page itself, not the plan's measurement table
    comp = achieved_vs_planned(case, "planned", SCAN).comparison
    if name == "hip":
        ant = comp.row("cup_anteversion")
        line = next(x for x in text.splitlines() if "anteversion" in x.lower() and "°" in x)
        assert f"{ant.values['achieved']:.1f}" in line and f"{ant.values['planned']:.1f}" in line, line
    else:
        med = comp.row("screw_medial_angle_L3_right")
        assert f"{med.values['achieved']:.1f}" in text
