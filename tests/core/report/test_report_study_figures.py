"""Study images of the report: a bone-only field leaves the implant grey and off the scale; the colour bar's
labels are whole numbers for large ranges; long captions wrap instead of being cut (issue 26's report)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

pv = pytest.importorskip("pyvista")


def _study(tmp_path):
    """A bone block (x 0-20 mm, modulus 2000-15000 MPa along z) and an implant block beside it (x 30-50 mm,
    114000 MPa), as a biomechanics study's surface.vtp with ``region_id`` 0 (bone) and 1 (implant)."""
    bone = pv.Box(bounds=(0, 20, -10, 10, 0, 80), level=8).triangulate()
    stem = pv.Box(bounds=(30, 50, -10, 10, 0, 80), level=8).triangulate()
    bone.point_data["youngs_modulus_MPa"] = 2000.0 + 13000.0 * np.asarray(bone.points[:, 2], float) / 80.0
    bone.point_data["region_id"] = np.zeros(bone.n_points, np.int32)
    stem.point_data["youngs_modulus_MPa"] = np.full(stem.n_points, 114000.0)
    stem.point_data["region_id"] = np.ones(stem.n_points, np.int32)
    surf = bone.merge(stem)
    surf.save(tmp_path / "surface.vtp")
    summary = {
        "display_fields": [
            {
                "name": "youngs_modulus_MPa",
                "label": "Young's modulus (CT-mapped bone)",
                "unit": "MPa",
                "range": [2000.0, 15000.0],
                "bone_only": True,
            }
        ]
    }
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    return SimpleNamespace(folder=tmp_path, summary=summary)


def test_bone_only_field_greys_the_implant(tmp_path):
    from surgiplan.scene.report_figures import SceneFigures

    figs = SceneFigures(size_px=300).study_views(None, _study(tmp_path), side="LEFT")
    assert len(figs) == 2 and "implant grey" in figs[0].caption
    img = np.asarray(figs[0].image())[..., :3].astype(int)  # AP view: patient's left (+x) on the image right
    h, w, _ = img.shape
    mid = img[h // 3 : 2 * h // 3, : int(0.78 * w)]  # the blocks' middle third, left of the colour bar
    not_white = np.abs(mid - 255).sum(axis=2) > 30
    grey = not_white & (np.ptp(mid, axis=2) < 12)  # R = G = B: the implant (lightgrey, shaded)
    coloured = not_white & (np.ptp(mid, axis=2) > 40)  # viridis: the bone
    cols_grey = np.nonzero(grey.any(axis=0))[0]
    cols_col = np.nonzero(coloured.any(axis=0))[0]
    assert grey.sum() > 500 and coloured.sum() > 500, (grey.sum(), coloured.sum())
    # the implant (x 30-50 mm) lies on one side of the bone (x 0-20 mm), not mixed into it
    assert not (
        set(range(int(np.percentile(cols_col, 10)), int(np.percentile(cols_col, 90)))) & set(cols_grey.tolist())
    ), "implant pixels inside the bone's columns"


def test_bar_labels_and_range():
    from surgiplan.scene.report_figures import bar_format, tidy_range

    assert bar_format([1951.0, 15765.0]) == "%.0f"
    assert bar_format([0.0, 3.58]) == "%.3g" and bar_format([-100.0, 100.0]) == "%.0f"
    assert tidy_range([6.6e-12, 3.58]) == [0.0, 3.58]  # round-off zero, not "6.62e-12"
    assert tidy_range([0.55, 25.8]) == [0.55, 25.8] and tidy_range([-100.0, 100.0]) == [-100.0, 100.0]


def test_long_caption_wraps_to_two_lines():
    from surgiplan.core.report.fonts import register_fonts
    from surgiplan.core.report.layout import caption_lines

    register_fonts()
    text = "Young's modulus (CT-mapped bone) (MPa); implant grey, Lateral view (from the patient's left)"
    lines = caption_lines(text, 190.0)
    assert len(lines) == 2 and " ".join(lines) == text
    assert caption_lines("von Mises stress (MPa)", 190.0) == ["von Mises stress (MPa)"]
