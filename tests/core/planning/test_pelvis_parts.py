"""Hip planning on a split pelvis (``hip_bone_left``/``hip_bone_right`` instead of ``pelvis``).

The ``hip-bones`` preset splits the pelvis on real scans (issue 23); hip planning must then fit
the same landmarks and put the cup in the hip bone of its side. The hip sample's pelvis surface is
cut at the midsagittal plane into two closed halves; landmarks fitted on the halves are compared
with the sample's analytic ground truth and with those fitted on the whole pelvis.
"""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.case import Case
from surgiplan.core.errors import InputError
from surgiplan.core.planning.auto_landmarks import compute_case_landmarks, fit_hip_landmarks
from surgiplan.core.planning.operations import default_bone
from surgiplan.core.planning.pelvis_parts import cup_bone, pelvis_model_names, pelvis_surface

SIDES = ("left", "right")


@pytest.fixture(scope="module")
def split_case(tmp_path_factory):
    from surgiplan.core.samples import sample_path
    from surgiplan.core.segmentation import read_segmentation
    from surgiplan.core.surfaces import segment_to_surface

    p = sample_path("hip", size="small")
    seg = read_segmentation(p.labels, labels_json=p.labels_json)
    models = {n: segment_to_surface(seg, n) for n in ("pelvis", "femur_left", "femur_right")}
    gt = p.load_ground_truth()
    mid = 0.5 * (np.asarray(gt["landmarks"]["femoral_head_centre_left"]["position"])
                 + np.asarray(gt["landmarks"]["femoral_head_centre_right"]["position"]))
    pelvis = models["pelvis"]
    # LPS: +x is the patient's left; clip_closed_surface keeps the side the normal points to
    halves = {"left": pelvis.clip_closed_surface(normal=(1.0, 0.0, 0.0), origin=mid),
              "right": pelvis.clip_closed_surface(normal=(-1.0, 0.0, 0.0), origin=mid)}
    case = Case.new(tmp_path_factory.mktemp("split") / "case", "split")
    for s in SIDES:
        case.add_model(f"hip_bone_{s}", halves[s])
        case.add_model(f"femur_{s}", models[f"femur_{s}"])
    whole = fit_hip_landmarks(pelvis, {s: models[f"femur_{s}"] for s in SIDES})
    return case, halves, whole, gt


def test_halves_are_the_two_sides(split_case):
    _, halves, _, gt = split_case
    for s, sign in (("left", 1.0), ("right", -1.0)):
        c = np.asarray(gt["landmarks"][f"acetabular_centre_{s}"]["position"])
        assert halves[s].n_points > 1000
        x = np.asarray(halves[s].points)[:, 0]
        mid_x = 0.5 * sum(gt["landmarks"][f"femoral_head_centre_{t}"]["position"][0] for t in SIDES)
        assert np.all(sign * (x - mid_x) > -0.01), s  # every point on its own side of the midline
        assert sign * (c[0] - mid_x) > 50.0  # and that side holds the socket of that name


def test_landmarks_on_the_split_pelvis_match_truth_and_the_whole_pelvis(split_case):
    case, _, whole, gt = split_case
    lms = compute_case_landmarks(case, "hip")
    for s in SIDES:
        for k in (f"femoral_head_centre_{s}", f"acetabular_centre_{s}", f"teardrop_{s}"):
            err = np.linalg.norm(lms[k].position - gt["landmarks"][k]["position"])
            assert err < 1.0, (k, err)
            assert np.linalg.norm(lms[k].position - whole[k].position) < 0.2, k
        for k in (f"asis_{s}", f"pubic_tubercle_{s}"):
            assert np.linalg.norm(lms[k].position - whole[k].position) < 1.0, k


def test_cup_sits_in_the_hip_bone_of_its_side(split_case):
    case, *_ = split_case
    assert pelvis_model_names(case.model_names) == ["hip_bone_left", "hip_bone_right"]
    for s in SIDES:
        assert default_bone(case, "acetabular_cup", s) == f"hip_bone_{s}"
    assert default_bone(case, "femoral_stem", "left") == "femur_left"
    merged = pelvis_surface(case)
    assert merged.n_points == sum(case.get_model(f"hip_bone_{s}").n_points for s in SIDES)


def test_names_without_a_pelvis():
    assert pelvis_model_names(["pelvis", "hip_bone_left"]) == ["pelvis"]
    assert pelvis_model_names(["sacrum", "femur_left"]) == []  # a sacrum alone is not a pelvis
    assert cup_bone(["hip_bone_right"], "left") == ""
    assert cup_bone(["pelvis", "hip_bone_left"], "left") == "pelvis"


def test_a_case_without_any_pelvis_is_refused_with_advice(tmp_path):
    case = Case.new(tmp_path / "c", "nopelvis")
    with pytest.raises(InputError, match="pelvis") as exc:
        compute_case_landmarks(case, "hip")
    assert "Hip bones" in (exc.value.hint or "")
    with pytest.raises(InputError, match="no pelvis model"):
        pelvis_surface(case)
