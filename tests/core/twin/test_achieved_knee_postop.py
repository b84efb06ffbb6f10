"""The post-operative knee sample: the femoral component 2 mm proximal of plan (distal cut 2 mm deeper)
and the tibial tray turned 3 deg into varus, the patient moved; registered on the tibia, the
components found in the metal, and the achieved resection and alignment read against the
generator's known offsets (0.5 mm, 0.5 deg).

The case, the registration and the achieved-vs-planned report are computed in a fresh interpreter (the
real core calls, their results as JSON): late in a full CI run, in a process holding the whole suite's
VTK/ITK/PETSc state, this module's work ended the run with a segmentation fault twice (no Python
traceback), while it passes every time in a fresh process. The crash is noted as open; the isolation
keeps it from taking the suite down and keeps the figures checked.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from surgiplan.core.samples.postop import postop_sample_path

SCAN = "post-op-2026-03-02"

_CHILD = r"""
import json, sys
from pathlib import Path
from surgiplan.core.samples.postop import build_planning_case, postop_sample_path
from surgiplan.core.twin import achieved_vs_planned, add_later_scan, register_scan

pp = postop_sample_path("knee")
case = build_planning_case("knee", Path(sys.argv[1]) / "Case", models=True)
add_later_scan(case, pp.volume, "2026-03-02", "postop")
reg = register_scan(case, sys.argv[2], "tibia")
rep = achieved_vs_planned(case, "planned", sys.argv[2])
Path(sys.argv[1], "out.json").write_text(json.dumps(
    {"scan_to_planning": reg.scan_to_planning.tolist(), "report": rep.to_dict()}))
"""


@pytest.fixture(scope="module")
def knee(tmp_path_factory):
    work = tmp_path_factory.mktemp("knee")
    run = subprocess.run([sys.executable, "-c", _CHILD, str(work), SCAN], capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, f"child exited {run.returncode}:\n{run.stderr[-3000:]}"
    out = json.loads((work / "out.json").read_text())
    implants = {i["id"]: i for i in out["report"]["implants"]}
    rows = {r["key"]: r for r in out["report"]["comparison"]["rows"]}
    return postop_sample_path("knee"), np.array(out["scan_to_planning"]), implants, rows


def test_knee_components_found_at_the_known_offsets(knee):
    pp, scan_to_planning, implants, _ = knee
    truth = np.array(pp.load_ground_truth()["scan_to_planning"])
    gt = pp.load_ground_truth()["implants"]
    assert set(gt) == {"femoral", "tray"}
    for key in ("femoral", "tray"):
        r = implants[key]
        assert r["found"], r["note"]
        want = gt[key]
        for axis in ("lateral", "anterior", "superior"):
            got = r["translation_error_mm"][axis]
            assert abs(got - want["translation_mm"][axis]) < 0.5, (key, axis, r["translation_error_mm"])
        assert abs(r["rotation_error_deg"] - want["axis_angle_deg"]) < 0.5, (key, r["rotation_error_deg"])
    assert implants["tray"]["registration"] == "tibia"
    assert implants["femoral"]["frame"] == "femoral mechanical"
    ins = implants["insert"]
    assert not ins["found"] and "does not show in CT" in ins["note"]
    # the registration against the known patient move, at the knee
    d = scan_to_planning @ np.linalg.inv(truth)
    knee_pt = np.array(gt["tray"]["planned"])[:3, 3]
    assert np.linalg.norm(d[:3, :3] @ knee_pt + d[:3, 3] - knee_pt) < 0.5


def test_knee_achieved_resection_and_alignment(knee):
    pp, _, _, rows = knee
    gt = pp.load_ground_truth()["implants"]
    deeper, turn = gt["femoral"]["distal_cut_deeper_mm"], gt["tray"]["coronal_turn_deg"]

    def diff(key: str) -> float:
        return rows[key]["difference"]

    assert diff("achieved:cut:distal_femur:depth") == pytest.approx(deeper, abs=0.5)
    for half in ("medial", "lateral"):
        assert diff(f"resection_thickness_distal_femur_{half}") == pytest.approx(deeper, abs=0.5)
    assert diff("achieved:cut:proximal_tibia:angle") == pytest.approx(turn, abs=0.5)
    assert diff("tibial_component_varus") == pytest.approx(turn, abs=0.5)  # varus +
    assert diff("hka_planned") == pytest.approx(-turn, abs=0.5)
    assert abs(diff("femoral_component_varus")) < 0.5
