"""Measurements that cannot be computed come back as rows with no value and the reason."""

from __future__ import annotations

from surgiplan.core.case import Case
from surgiplan.core.planning import PlacedImplant
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.measurements import measure_plan


def test_screw_without_bone_and_stent_without_scan_give_reasoned_missing_rows(tmp_path):
    case = Case.new(tmp_path / "c", user="t")
    case.new_plan("A")
    case.add_implant("A", PlacedImplant("L4_left", "spine_pedicle_screw", "6.5x45", tf.translation((0, 0, 0)),
                                        side="left", bone=""))
    case.add_implant("A", PlacedImplant("s1", "vascular_stent_be", "8x40", tf.translation((0, 0, 0))))
    rows = {r.key: r for r in measure_plan(case, "A")}
    for k in ("screw_length_margin", "screw_diameter_margin", "screw_breach"):
        r = rows[f"{k}_L4_left"]
        assert r.value is None and "names no bone model" in r.missing and "L4_left" in r.missing
    assert isinstance(rows["screw_medial_angle_L4_left"].value, float)  # angles need no bone
    for k in ("stenosis_percent_diameter", "stenosis_reference_diameter", "stent_reference_ratio",
              "stent_margin_proximal", "stent_margin_distal"):
        assert rows[k].value is None and "no iliac stenosis" in rows[k].missing, k
        assert rows[k].unit in ("%", "mm")
