"""The anatomy registry (core/planning/anatomy.py) decides what a case offers."""

from __future__ import annotations

import pytest

from surgiplan.core.planning.anatomy import ANATOMIES, BONE_NAMES, anatomy_of_models
from surgiplan.core.segmentation.presets import PRESETS


@pytest.mark.parametrize("models, sample, expected", [
    (["pelvis", "femur_left"], "", "hip"),
    (["femur", "tibia", "patella"], "", "knee"),
    (["L3", "L4"], "", "spine"),
    (["vessel"], "", "vascular"),
    ([], "spine-full", "spine"),
    ([], "knee", "knee"),
    ([], "", "hip"),
])
def test_the_anatomy_of_a_case(models, sample, expected):
    assert anatomy_of_models(models, sample) == expected


def test_every_anatomy_has_a_real_preset_and_its_own_landmarks():
    for a in ANATOMIES.values():
        assert a.preset in PRESETS, a.name
    spine = ANATOMIES["spine"].landmarks
    assert "pedicle_entry_L3_left" in spine and not set(spine) & set(ANATOMIES["hip"].landmarks)
    assert "vessel" not in BONE_NAMES and {"pelvis", "tibia", "L5"} <= set(BONE_NAMES)
