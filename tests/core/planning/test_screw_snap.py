"""A screw placed by hand snaps to the level and pedicle under the cursor (core ``screw_snap``),
checked against the spine sample's ground truth (levels, entry points, pedicle axes)."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.case import Case
from surgiplan.core.errors import InputError
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.screw_snap import nearest_level, place_snapped_screw, snap_screw

LEVELS = ("L3", "L4")


@pytest.fixture(scope="module")
def spine(tmp_path_factory):
    from surgiplan.core.samples import sample_path
    from surgiplan.core.segmentation import read_segmentation
    from surgiplan.core.surfaces import segment_to_surface

    p = sample_path("spine", size="small")
    gt = p.load_ground_truth()
    seg = read_segmentation(p.labels, labels_json=p.labels_json)
    case = Case.new(tmp_path_factory.mktemp("spine") / "case", user="t")
    for v in LEVELS:
        case.add_model(v, segment_to_surface(seg, v))
        case.set_landmark(f"vertebral_body_centre_{v}", gt["landmarks"][f"vertebral_body_centre_{v}"]["position"])
        for s in ("left", "right"):  # the trajectories from the ground truth, as a fit would give them
            e = gt["landmarks"][f"pedicle_entry_{v}_{s}"]["position"]
            case.set_landmark(f"pedicle_entry_{v}_{s}", e)
            case.set_landmark(f"pedicle_axis_{v}_{s}", e, gt["axes"][f"pedicle_axis_{v}_{s}"]["direction"])
    case.new_plan("A")
    return case, gt


def test_a_click_near_a_pedicle_snaps_to_its_level_side_and_axis(spine):
    case, gt = spine
    for v in LEVELS:
        for s in ("left", "right"):
            e = np.asarray(gt["landmarks"][f"pedicle_entry_{v}_{s}"]["position"])
            click = e + np.array([1.5, 2.0, -2.0])  # a few mm off, as a hand click lands
            snap = snap_screw(case, "A", click)
            assert (snap.level, snap.side) == (v, s)
            np.testing.assert_allclose(snap.entry, e, atol=1e-9)
            d = np.asarray(gt["axes"][f"pedicle_axis_{v}_{s}"]["direction"])
            assert tf.angle_between_deg(snap.transform[:3, 2], d) < 1e-6  # +z along the pedicle axis
            assert snap.breach_mm == 0.0 and snap.grade == "A"  # the ideal trajectory is contained
            diam, length = (float(x) for x in snap.size.split("x"))
            assert length <= gt["quantities"][f"pedicle_screw_length_{v}_{s}"]["value"] - 5.0 + 1e-9


def test_placed_screw_is_one_undo_step_and_replaces_the_same_level(spine):
    case, gt = spine
    e = np.asarray(gt["landmarks"]["pedicle_entry_L3_left"]["position"])
    n = len(case.history._undo)
    imp = place_snapped_screw(case, "A", snap_screw(case, "A", e + 1.0))
    assert (imp.bone, imp.side) == ("L3", "left") and len(case.history._undo) == n + 1
    place_snapped_screw(case, "A", snap_screw(case, "A", e - 1.0, size="5.5x40"))
    screws = [i for i in case.plan("A").implants.values() if i.bone == "L3" and i.side == "left"]
    assert len(screws) == 1 and screws[0].size == "5.5x40"
    case.history.undo()
    case.history.undo()
    assert not case.plan("A").implants


def test_breach_of_a_shifted_screw_and_bad_input(spine, tmp_path):
    case, gt = spine
    # the nearest level of a point between two vertebrae is the nearer surface
    c3 = np.asarray(gt["landmarks"]["vertebral_body_centre_L3"]["position"])
    assert nearest_level(case, c3)[0] == "L3"
    with pytest.raises(InputError, match="finite"):
        snap_screw(case, "A", [np.nan, 0, 0])
    with pytest.raises(InputError, match="no size"):
        snap_screw(case, "A", c3, size="9x99")
    empty = Case.new(tmp_path / "Empty", user="t")
    with pytest.raises(InputError, match="no vertebra model"):
        snap_screw(empty, None, (0, 0, 0))


def test_snap_screw_cli_prints_the_core_snap(spine):
    """`surgiplan plan snap-screw --json` is the core snap placed and saved (parity with the window)."""
    import json

    from typer.testing import CliRunner

    from surgiplan.cli.main import app

    case, gt = spine
    case.save()
    e = np.asarray(gt["landmarks"]["pedicle_entry_L4_right"]["position"]) + 1.0
    r = CliRunner().invoke(app, ["plan", "snap-screw", str(case.root), "--plan", "A", "--at",
                                 ",".join(f"{x:.6f}" for x in e), "--json"])
    assert r.exit_code == 0, (r.output, r.exception)
    d = json.loads(r.output)
    want = snap_screw(case, "A", e).to_dict()
    assert d["implant"] == "screw_L4_right"
    for k in ("level", "side", "size", "grade", "breach_mm"):
        assert d[k] == want[k]
    np.testing.assert_allclose(d["transform"], want["transform"], atol=1e-6)
    assert "screw_L4_right" in Case.open(case.root).plan("A").implants
    bad = CliRunner().invoke(app, ["plan", "snap-screw", str(case.root), "--plan", "A", "--at", "1,2"])
    assert bad.exit_code != 0 and "3 numbers" in str(bad.exception)


def test_without_spine_landmarks_the_pedicle_is_fitted_on_the_model(spine, tmp_path):
    case, gt = spine
    bare = Case.new(tmp_path / "Bare", user="t")
    bare.add_model("L3", case.get_model("L3"))  # the model only: no landmarks at all
    e = np.asarray(gt["landmarks"]["pedicle_entry_L3_right"]["position"])
    snap = snap_screw(bare, None, e + np.array([-1.0, 1.5, 1.0]))
    assert (snap.level, snap.side, snap.trajectory_source) == ("L3", "right", "fitted now")
    d = np.asarray(gt["axes"]["pedicle_axis_L3_right"]["direction"])
    assert tf.angle_between_deg(snap.direction, d) < 3.0  # the fit on a 2 mm-voxel model
    assert np.linalg.norm(snap.entry - e) < 3.0
    assert not bare.landmarks  # pure: the fitted landmarks are returned, not set
    assert "pedicle_axis_L3_right" in snap.fitted
