"""Pedicle screws on the spine sample vs its ground truth: trajectory angles, length and
diameter fit, breach (contained along the ideal axis, lateral breach when shifted)."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.case import Case
from surgiplan.core.errors import GeometryError
from surgiplan.core.planning import PlacedImplant
from surgiplan.core.planning import placement as pl
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.bone_fields import bone_field
from surgiplan.core.planning.measurements import measure_plan
from surgiplan.core.planning.measurements.spine import isthmus_diameter

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
        for k in ("superior_endplate_centre_", "inferior_endplate_centre_", "vertebral_body_centre_"):
            case.set_landmark(k + v, gt["landmarks"][k + v]["position"], source="ground_truth")
    case.new_plan("A")
    for v in LEVELS:
        for s in ("left", "right"):
            e = np.array(gt["landmarks"][f"pedicle_entry_{v}_{s}"]["position"])
            d = np.array(gt["axes"][f"pedicle_axis_{v}_{s}"]["direction"])
            case.add_implant("A", PlacedImplant(f"{v}_{s}", "spine_pedicle_screw", "6.5x45",
                                                pl.screw_pose(e, e + 40 * d), side=s, bone=v))
    return case, gt


def test_trajectory_and_fit_vs_ground_truth(spine):
    case, gt = spine
    q = gt["quantities"]
    m = {r.key: r for r in measure_plan(case, "A")}
    for v in LEVELS:
        for s in ("left", "right"):
            k = f"_{v}_{s}"
            assert m["screw_medial_angle" + k].value == pytest.approx(q[f"pedicle_medial_angle{k}"]["value"], abs=0.5)
            assert -m["screw_caudal_angle" + k].value == pytest.approx(
                q[f"pedicle_sagittal_angle{k}"]["value"], abs=0.5)
            avail = m["screw_length_margin" + k].details["available_length_mm"]
            assert avail == pytest.approx(q[f"pedicle_screw_length{k}"]["value"], abs=1.0)
            assert m["screw_length_margin" + k].value == pytest.approx(avail - 45.0)
            assert m["screw_breach" + k].value == 0.0 and m["screw_breach" + k].details["grade"] == "A"
            # narrowest diameter along the screw <= the isthmus width, and positive margin for 6.5 mm
            width = q[f"pedicle_width{k}"]["value"]
            dia = m["screw_diameter_margin" + k].details["available_diameter_mm"]
            assert 6.5 < dia <= width + 1.5


def test_isthmus_width_at_the_ground_truth_isthmus(spine):
    case, gt = spine
    for v in LEVELS:
        e = np.array(gt["landmarks"][f"pedicle_entry_{v}_left"]["position"])
        d = np.array(gt["axes"][f"pedicle_axis_{v}_left"]["direction"])
        t = (np.array(gt["landmarks"][f"pedicle_isthmus_{v}_left"]["position"]) - e) @ d
        w = isthmus_diameter(bone_field(case, v), e, d, t, t + 0.01)
        assert w == pytest.approx(gt["quantities"][f"pedicle_width_{v}_left"]["value"], abs=1.5)


def test_lateral_shift_breaches_laterally(spine):
    case, gt = spine
    case.copy_plan("A", "B")
    t = case.implant("B", "L4_left").transform
    lateral = np.array([1.0, 0, 0])  # left side: lateral is +x
    moved = pl.translate(t, 6.0 * tf.unit(tf.project_on_plane(lateral, t[:3, 2])), "world")
    case.set_implant_transform("B", "L4_left", moved)
    m = {r.key: r for r in measure_plan(case, "B", anatomy="spine")}
    b = m["screw_breach_L4_left"]
    # pedicle half-width 6 mm, screw radius 3.25 mm: moved 6 mm -> ~3.25 mm outside
    assert 2.0 < b.value < 4.5 and b.details["direction"] == "lateral" and b.details["grade"] in ("C", "D")
    assert m["screw_breach_L4_right"].value == 0.0


@pytest.fixture(scope="module")
def auto_spine(tmp_path_factory):
    """Pedicle landmarks fitted on the L3/L4 models (no ground truth used) and the scripted demo."""
    from surgiplan.core.planning.auto_spine import fit_spine_landmarks
    from surgiplan.core.samples import sample_path
    from surgiplan.core.segmentation import read_segmentation
    from surgiplan.core.surfaces import segment_to_surface
    from surgiplan.demo.spine import build_demo_plans

    p = sample_path("spine", size="small")
    seg = read_segmentation(p.labels, labels_json=p.labels_json)
    case = Case.new(tmp_path_factory.mktemp("spine_auto") / "case", user="t")
    for v in LEVELS:
        case.add_model(v, segment_to_surface(seg, v))
    lms = fit_spine_landmarks({v: case.get_model(v) for v in LEVELS})
    comp = build_demo_plans(case, LEVELS)
    return case, lms, comp, p.load_ground_truth()


def test_fitted_pedicle_entry_points_and_axes(auto_spine):
    case, lms, _, gt = auto_spine
    for v in LEVELS:
        for s in ("left", "right"):
            k = f"{v}_{s}"
            err = np.linalg.norm(lms[f"pedicle_entry_{k}"].position - gt["landmarks"][f"pedicle_entry_{k}"]["position"])
            assert err < 1.0, (k, err)
            # issue target 0.5 deg not reachable on the 2 mm small sample (measured L3 1.33/1.33 deg,
            # L4 0.22/1.04 deg): the information is not in its 2 mm label map. An elliptic cylinder
            # fitted to the surface points chosen with the TRUE cylinder still misses the medial angle by
            # up to 1.0 deg (L3 right), and L3's end plates and body wall both give its cranial axis
            # 1.1-1.3 deg off. On the full-size sample (0.49 x 0.49 x 1 mm) every level is within
            # 0.2 deg and 0.11 mm (see auto_spine's docstring and the fine-model test below).
            ang = tf.angle_between_deg(lms[f"pedicle_axis_{k}"].direction, gt["axes"][f"pedicle_axis_{k}"]["direction"])
            assert ang < 2.0, (k, ang)
            # the demo used the fitted landmarks, not the ground truth
            assert case.landmarks[f"pedicle_entry_{k}"].source == "fitted"


def test_demo_screws_on_fitted_axes_stay_in_bone(auto_spine):
    case, _, comp, _ = auto_spine
    m = {r.key: r for r in measure_plan(case, "A", anatomy="spine")}
    for v in LEVELS:
        for s in ("left", "right"):
            assert m[f"screw_breach_{v}_{s}"].details["grade"] in ("A", "B"), (v, s)
            assert m[f"screw_length_margin_{v}_{s}"].value >= 5.0 - 1e-9
    assert set(comp.plans) == {"A", "B"}


@pytest.fixture(scope="module")
def ct_spine():
    from surgiplan.core.imaging import read_volume
    from surgiplan.core.samples import sample_path

    p = sample_path("spine", size="small")
    return p, read_volume(p.volume), p.load_ground_truth()


def _errors(lms, gt, levels):
    out = {}
    for v in levels:
        for s in ("left", "right"):
            k = f"{v}_{s}"
            out[k] = (float(np.linalg.norm(lms[f"pedicle_entry_{k}"].position
                                           - gt["landmarks"][f"pedicle_entry_{k}"]["position"])),
                      tf.angle_between_deg(lms[f"pedicle_axis_{k}"].direction,
                                           gt["axes"][f"pedicle_axis_{k}"]["direction"]))
    return out


def test_ct_refined_pedicle_landmarks_meet_the_issue_figures_on_2mm_voxels(ct_spine):
    """With the CT, every level of the small sample (2 mm voxels) within 1 mm and 0.5 deg: the body
    wall and the pedicle tubes refitted to the scan's voxel values (measured: entries 0.08-0.39 mm,
    axes 0.05-0.38 deg; from the label-map models alone 0.13-0.68 mm, 0.22-1.62 deg)."""
    from surgiplan.core.planning.auto_spine import fit_spine_landmarks
    from surgiplan.core.segmentation import read_segmentation
    from surgiplan.core.surfaces import segment_to_surface

    p, vol, gt = ct_spine
    seg = read_segmentation(p.labels, labels_json=p.labels_json)
    levels = ("L1", "L2", "L3", "L4", "L5")
    lms = fit_spine_landmarks({v: segment_to_surface(seg, v) for v in levels}, volume=vol)
    for k, (e, a) in _errors(lms, gt, levels).items():
        assert e < 1.0 and a < 0.5, (k, e, a)


def test_demo_on_the_preset_segmentation_uses_the_case_scan(ct_spine, tmp_path):
    """The demo's way: the CT segmented with the spine preset, models made from that scan; the demo
    fits the pedicles on the case's scan (measured at L3/L4: entries 0.30-0.58 mm, axes 0.08-0.32 deg;
    without the scan 0.42-0.97 mm, 0.79-2.35 deg)."""
    from surgiplan.core.segmentation.presets import apply_preset
    from surgiplan.core.surfaces import segment_to_surface
    from surgiplan.demo.spine import build_demo_plans

    _, vol, gt = ct_spine
    seg = apply_preset(vol, "spine-bones")
    case = Case.new(tmp_path / "case", user="t")
    case.add_scan("planning", vol, segmentation=seg)
    for v in LEVELS:
        case.add_model(v, segment_to_surface(seg, v), scan="planning", segment=v)
    build_demo_plans(case, LEVELS)
    lms = {k: v for k, v in case.landmarks.items() if k.startswith("pedicle_")}
    for k, (e, a) in _errors(lms, gt, LEVELS).items():
        assert e < 1.0 and a < 0.5, (k, e, a)
    m = {r.key: r for r in measure_plan(case, "A", anatomy="spine")}
    assert all(m[f"screw_breach_{v}_{s}"].details["grade"] in ("A", "B") for v in LEVELS for s in ("left", "right"))


def test_elliptic_cylinder_fit_recovers_a_known_tilted_tube():
    """Noisy points on a known elliptic tube (4 x 7 mm, 12 mm long) plus a blob of outliers."""
    from surgiplan.core.planning.cylinder_fit import fit_elliptic_cylinder

    rng = np.random.default_rng(3)
    axis = tf.unit([0.2, -1.0, 0.05])
    u = tf.unit(np.cross([0.0, 0.0, 1.0], axis))
    v = np.cross(axis, u)
    c = np.array([20.0, 5.0, -3.0])
    th, t = rng.uniform(0, 2 * np.pi, 600), rng.uniform(-6, 6, 600)
    pts = c + t[:, None] * axis + (4.0 * np.cos(th))[:, None] * u + (7.0 * np.sin(th))[:, None] * v
    pts += rng.normal(0, 0.1, pts.shape)
    pts = np.vstack([pts, c + 4.0 * u + rng.normal(0, 1.5, (40, 3))])  # a blend-like bump
    start = tf.unit(axis + [0.05, 0.0, 0.05])
    cyl = fit_elliptic_cylinder(pts, c + [1.0, 0.5, 0.0], start, 5.0, 6.0, u)
    assert tf.angle_between_deg(cyl.axis, axis) < 0.3
    assert np.linalg.norm(tf.project_on_plane(cyl.centre - c, axis)) < 0.1
    assert sorted([cyl.a, cyl.b]) == pytest.approx([4.0, 7.0], abs=0.1)
    # constrained: axis kept perpendicular to a given direction
    n = tf.unit(np.cross(axis, [1.0, 0.0, 0.0]))
    cyl = fit_elliptic_cylinder(pts, c, start, 5.0, 6.0, u, perpendicular_to=n)
    assert abs(cyl.axis @ n) < 1e-9 and tf.angle_between_deg(cyl.axis, axis) < 0.3
    with pytest.raises(GeometryError, match="at least 12"):
        fit_elliptic_cylinder(pts[:5], c, axis, 4.0, 7.0, u)


def test_fitted_pedicle_axes_on_a_finely_sampled_vertebra():
    """The issue's figures (< 1 mm, < 0.5 deg) on a model sampled at 0.8 mm: the sample generator's
    exact L4 shape voxelised, surfaced as the segmentation does, fitted without any ground truth.
    (Measured: L4 0.05/0.08 mm, 0.11/0.03 deg; L1, the narrowest pedicle, 0.09/0.31 mm, 0.22/0.58 deg
    at 0.8 mm; the full-size sample 0.02-0.20 deg at every level.)"""
    from surgiplan.core.planning.auto_spine import fit_spine_landmarks
    from surgiplan.core.samples.lumbar import lumbar_spine, pedicle_truth
    from surgiplan.core.samples.spine import S1_TOP
    from surgiplan.core.surfaces.extract import mask_to_surface

    h = 0.8
    v = {x.name: x for x in lumbar_spine(S1_TOP)[0]}["L4"]
    lo, hi = (np.asarray(b) + m for b, m in zip(v.shape.box(), (-2.0, 2.0), strict=True))
    xs, ys, zs = (np.arange(lo[i], hi[i], h) for i in range(3))
    zz, yy, xx = np.meshgrid(zs, ys, xs, indexing="ij")
    mesh = mask_to_surface(v.shape.sdf(xx, yy, zz) < 0, (h, h, h), (xs[0], ys[0], zs[0]))
    lms = fit_spine_landmarks({"L4": mesh})
    for s in ("left", "right"):
        truth = pedicle_truth(v, s)
        assert np.linalg.norm(lms[f"pedicle_entry_L4_{s}"].position - truth["entry"]) < 1.0
        assert tf.angle_between_deg(lms[f"pedicle_axis_L4_{s}"].direction, truth["axis"]) < 0.5


def test_a_scan_that_misses_the_models_leaves_the_model_fit(auto_spine, ct_spine):
    """A volume that does not cover the vertebra (another patient position, 500 mm away): the scan
    refit finds too few voxels and the models-only landmarks are kept, unchanged."""
    from surgiplan.core.planning.auto_spine import fit_spine_landmarks

    case, lms, _, _ = auto_spine
    _, vol, _ = ct_spine
    far = vol.with_array(vol.array, origin=tuple(np.asarray(vol.origin) + [0.0, 0.0, 500.0]))
    got = fit_spine_landmarks({"L4": case.get_model("L4")}, volume=far)
    for s in ("left", "right"):
        assert np.allclose(got[f"pedicle_entry_L4_{s}"].position, lms[f"pedicle_entry_L4_{s}"].position, atol=1e-9)
        assert np.allclose(got[f"pedicle_axis_L4_{s}"].direction, lms[f"pedicle_axis_L4_{s}"].direction, atol=1e-9)
