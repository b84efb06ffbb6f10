"""The knee's mechanical frame and the resection reference points, against hand-built geometry."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.errors import InputError
from surgiplan.core.planning.knee_frame import cut_reference_point, knee_frame
from surgiplan.core.planning.plan import Landmark


def lm(*p) -> Landmark:
    return Landmark(np.array(p, float), None, "manual", "")


def straight_leg(**extra) -> dict[str, Landmark]:
    """A right leg: hip 400 mm above the knee tilted 3 mm laterally (-x), ankle straight below."""
    return {"hip_centre": lm(-3.0, 0.0, 400.0), "knee_centre_femur": lm(0.0, 0.0, 0.0),
            "knee_centre_tibia": lm(0.0, 0.0, -5.0), "ankle_centre": lm(0.0, 0.0, -405.0), **extra}


def test_axes_of_a_right_knee():
    f = knee_frame(straight_leg(), "right")
    assert np.allclose(f.femoral_axis, np.array([-3.0, 0, 400.0]) / np.hypot(3.0, 400.0))
    assert np.allclose(f.tibial_axis, [0, 0, 1.0])
    assert np.allclose(f.anterior, [0, -1.0, 0])  # LPS: anterior is -y
    # lateral of a right knee is -x, made perpendicular to the femoral axis
    assert f.lateral @ f.femoral_axis == pytest.approx(0.0, abs=1e-12)
    assert f.lateral[0] < -0.99 and np.linalg.norm(f.lateral) == pytest.approx(1.0)
    assert f.bone_axis("femur") is f.femoral_axis and f.bone_axis("tibia") is f.tibial_axis
    assert np.array_equal(f.knee_tibia, [0, 0, -5.0]) and f.side == "right"
    assert knee_frame(straight_leg(), "left").lateral[0] > 0.99


def test_epicondyles_set_the_rotation():
    # transepicondylar axis rotated 5 deg about the vertical (lateral epicondyle posterior)
    a = np.radians(5.0)
    f = knee_frame(straight_leg(medial_epicondyle=lm(40 * np.cos(a), -40 * np.sin(a), 30.0),
                                lateral_epicondyle=lm(-40 * np.cos(a), 40 * np.sin(a), 30.0)), "right")
    assert np.degrees(np.arctan2(f.lateral[1], -f.lateral[0])) == pytest.approx(5.0, abs=0.01)
    assert f.anterior @ f.lateral == pytest.approx(0.0, abs=1e-12)
    assert f.anterior[1] < 0


def test_missing_landmarks_and_bad_side_are_refused():
    L = straight_leg()
    del L["ankle_centre"]
    with pytest.raises(InputError, match="case 'K': missing the knee landmarks ankle_centre"):
        knee_frame(L, "right", owner="case 'K'")
    with pytest.raises(InputError, match="'none'"):
        knee_frame(straight_leg(), "none")
    with pytest.raises(InputError, match="patella"):
        knee_frame(straight_leg(), "right").bone_axis("patella")


def test_reference_points():
    f = knee_frame(straight_leg(), "right")
    femur = np.array([[20.0, 0, 2.0], [-20.0, 0, 0.5], [0.0, 0, 50.0]])  # lowest along the tilted axis
    assert np.array_equal(cut_reference_point(femur, f, "femur"), [-20.0, 0, 0.5])
    # tibia: the spine (centre, highest) and the far rim are skipped, the higher plateau wins
    tibia = np.array([[0.0, 0, -1.0], [20.0, 0, -9.0], [-22.0, 0, -7.0], [50.0, 0, 0.0], [0.0, 0, -80.0]])
    assert np.array_equal(cut_reference_point(tibia, f, "tibia"), [-22.0, 0, -7.0])
    # nothing beside the centre: the highest vertex
    assert np.array_equal(cut_reference_point(tibia[[0, 4]], f, "tibia"), [0.0, 0, -1.0])
