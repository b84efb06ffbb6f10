"""Default segment colours: bones segmented side by side must be told apart at a glance."""

from __future__ import annotations

import itertools

import numpy as np

from surgiplan.core.segmentation.terminology import default_color


def distance(a, b) -> float:
    return float(np.linalg.norm(np.subtract(a, b)))


def test_neighbouring_bones_get_distinct_colours():
    groups = [("pelvis", "femur_left", "femur_right"), ("femur", "tibia", "fibula", "patella"),
              ("aorta_lumen", "vessel_wall", "vertebra")]
    for names in groups:
        for a, b in itertools.combinations(names, 2):
            assert distance(default_color(a), default_color(b)) > 0.15, (a, b)
    spine = ["L1", "L2", "L3", "L4", "L5", "sacrum"]
    for a, b in itertools.pairwise(spine):
        assert distance(default_color(a), default_color(b)) > 0.15, (a, b)
    # vessels stay red, bones stay away from red
    r, g, b = default_color("aorta_lumen")
    assert r > 0.7 and g < 0.5 and b < 0.5
    for name in ("pelvis", "femur_left", "femur_right", "tibia", "L3"):
        c = default_color(name)
        assert distance(c, default_color("aorta_lumen")) > 0.3 and 0.35 < np.mean(c) < 0.85
    assert default_color("Femur_Right") == default_color("femur_right")  # case-insensitive
