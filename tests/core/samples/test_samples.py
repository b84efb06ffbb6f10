"""The digital patients: determinism, DICOM round trip, ground truth against the written image."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from scipy import ndimage

from surgiplan.core.errors import Cancelled, InputError
from surgiplan.core.imaging import load_dicom, read_volume
from surgiplan.core.jobs import RecordingProgress
from surgiplan.core.samples import SAMPLE_NAMES, build_scene, generate_sample, read_ground_truth
from surgiplan.core.samples.anatomy import cup_axis, murray_radiographic
from surgiplan.core.samples.sdf import Sphere, surface_point


def _gt_grid(gt):
    g = gt["grid"]
    return (tuple(g["shape_ijk"]), np.array(g["spacing_mm"]), np.array(g["origin_mm"]),
            np.array(g["direction"]).T)


def _idx(vol, p):
    return tuple(int(round(v)) for v in vol.world_to_index(p)[::-1])  # (k, j, i)


# ------------------------------------------------------------------ files and headers
def test_layout_and_ground_truth_schema(sample):
    name, paths = sample
    for p in (paths.volume, paths.labels, paths.labels_json, paths.ground_truth):
        assert p.is_file(), p
    gt = paths.load_ground_truth()
    assert gt["name"] == name and gt["size"] == "small" and gt["frame"] == "LPS"
    assert isinstance(gt["seed"], int) and gt["generator_version"]
    assert gt["labels"] == json.loads(paths.labels_json.read_text())
    for key, lm in gt["landmarks"].items():
        assert len(lm["position"]) == 3 and lm["definition"], key
    for key, ax in gt["axes"].items():
        assert abs(np.linalg.norm(ax["direction"]) - 1) < 1e-4 and ax["definition"], key
    for key, q in gt["quantities"].items():
        assert q["unit"] in ("mm", "deg", "mL", "%", "mm2", "HU") and q["definition"], key
        assert np.isfinite(q["value"]), key
    lab = read_volume(paths.labels)
    present = set(np.unique(lab.array).tolist()) - {0}
    assert present == {int(k) for k in gt["labels"]}, "every declared label is present, no others"


def test_required_keys():
    """The structure names and landmark keys the other engineers rely on (TEAM.md)."""
    hip = build_scene("hip").truth
    names = {n for n, _ in hip.labels.values()}
    assert names == {"pelvis", "femur_left", "femur_right"}
    for side in ("left", "right"):
        for k in ("femoral_head_centre", "acetabular_centre", "teardrop", "asis", "pubic_tubercle",
                  "lesser_trochanter"):
            assert f"{k}_{side}" in hip.landmarks
        assert f"femoral_canal_axis_{side}" in hip.axes
    knee = build_scene("knee").truth
    assert {n for n, _ in knee.labels.values()} == {"femur", "tibia", "fibula", "patella"}
    for k in ("hip_centre", "knee_centre_femur", "knee_centre_tibia", "ankle_centre"):
        assert k in knee.landmarks
    assert "femoral_mechanical_axis" in knee.axes and "tibial_slope" in knee.quantities
    spine = build_scene("spine").truth
    assert {"L1", "L2", "L3", "L4", "L5", "disc_L1_L2", "disc_L4_L5"} <= {n for n, _ in spine.labels.values()}
    assert "pedicle_entry_L3_left" in spine.landmarks and "pedicle_axis_L3_left" in spine.axes
    vasc = build_scene("vascular").truth
    assert {n for n, _ in vasc.labels.values()} == {"aorta_lumen", "vessel_wall", "vertebra"}
    assert {"stenosis_percent_diameter", "lumen_volume"} <= set(vasc.quantities)


def test_dicom_headers(sample):
    name, paths = sample
    files = sorted(paths.dicom_dir.glob("*.dcm"))
    first = pydicom.dcmread(files[0])
    last = pydicom.dcmread(files[-1], stop_before_pixels=True)
    mr = name == "knee_mri"
    assert first.Modality == ("MR" if mr else "CT")
    assert first.SOPClassUID == ("1.2.840.10008.5.1.4.1.1.4" if mr else "1.2.840.10008.5.1.4.1.1.2")
    assert str(first.PatientName).startswith("SYNTHETIC^")
    assert first.StudyDate == "20240115" and first.StudyInstanceUID == last.StudyInstanceUID
    assert first.SeriesInstanceUID == last.SeriesInstanceUID
    assert first.FrameOfReferenceUID == last.FrameOfReferenceUID
    assert first.SOPInstanceUID != last.SOPInstanceUID
    assert len(files) == read_volume(paths.volume).shape_ijk[2]
    assert first.WindowWidth and first.RescaleSlope == 1
    if mr:
        assert [float(v) for v in first.ImageOrientationPatient] == [0, 1, 0, 0, 0, -1]
    else:
        assert first.RescaleIntercept == -1024 and first.RescaleType == "HU"


def test_dicom_round_trip_geometry(sample):
    """SimpleITK and our importer read the series back on the ground-truth grid, voxel for voxel."""
    name, paths = sample
    gt = paths.load_ground_truth()
    shape, spacing, origin, direction = _gt_grid(gt)
    vol = read_volume(paths.volume)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(paths.dicom_dir)))
    img = reader.Execute()
    assert img.GetSize() == shape
    np.testing.assert_allclose(img.GetSpacing(), spacing, atol=1e-4)
    np.testing.assert_allclose(img.GetOrigin(), origin, atol=1e-3)
    np.testing.assert_allclose(np.array(img.GetDirection()).reshape(3, 3), direction, atol=1e-5)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(img).astype(np.int32), vol.array.astype(np.int32))
    ours = load_dicom(paths.dicom_dir)
    assert ours.shape_ijk == shape
    np.testing.assert_allclose(ours.spacing, spacing, atol=1e-4)
    np.testing.assert_allclose(ours.origin, origin, atol=1e-3)
    np.testing.assert_allclose(ours.direction, direction, atol=1e-5)
    np.testing.assert_array_equal(ours.array.astype(np.int32), vol.array.astype(np.int32))
    assert ours.metadata.get("modality") == gt["modality"]
    lab = read_volume(paths.labels)
    assert lab.same_grid(vol) and lab.array.dtype == np.uint8


def test_deterministic(small_sample, tmp_path):
    """Same seed, same bytes: the knee MRI (cheapest) generated twice; hip compared by arrays."""
    a = small_sample("knee_mri")
    b = generate_sample("knee_mri", tmp_path, "small")
    for fa in sorted(a.dicom_dir.glob("*.dcm")):
        assert fa.read_bytes() == (b.dicom_dir / fa.name).read_bytes(), fa.name
    assert a.ground_truth.read_text() == b.ground_truth.read_text()
    np.testing.assert_array_equal(read_volume(a.labels).array, read_volume(b.labels).array)
    c = generate_sample("knee_mri", tmp_path / "other", "small", seed=7)
    assert not np.array_equal(read_volume(c.volume).array, read_volume(a.volume).array)


# ------------------------------------------------------------------ values inside labels
CT_RANGES = {  # mean HU inside each label, small size (partial volume and cortex included)
    "pelvis": (250, 700), "femur_left": (250, 800), "femur_right": (250, 800),
    "femur": (250, 800), "tibia": (250, 800), "fibula": (300, 1000), "patella": (250, 800),
    "L1": (200, 600), "sacrum": (200, 600), "disc_L2_L3": (50, 130),
    "aorta_lumen": (250, 400), "vessel_wall": (40, 400), "vertebra": (200, 600),
}


def test_values_inside_labels(sample):
    name, paths = sample
    gt = paths.load_ground_truth()
    vol = read_volume(paths.volume).array.astype(np.float32)
    lab = read_volume(paths.labels).array
    names = {int(k): v["name"] for k, v in gt["labels"].items()}
    if name == "knee_mri":
        muscle_like = vol[(lab == 0) & (vol > 150) & (vol < 500)]
        assert muscle_like.size > 1000
        for v, n in names.items():
            core = ndimage.binary_erosion(lab == v, iterations=2)
            assert vol[core].mean() > 1.4 * np.median(muscle_like), f"{n}: marrow must be brighter than muscle"
        return
    for v, n in names.items():
        if n in CT_RANGES:
            lo, hi = CT_RANGES[n]
            inside = lab == v
            if n.startswith("disc"):  # thin: judge its core, away from the end plates
                inside = ndimage.binary_erosion(inside)
            m = vol[inside].mean()
            assert lo <= m <= hi, f"{name}: mean HU in {n} = {m:.0f}, expected {lo}-{hi}"
    bone = [v for v, n in names.items() if n not in ("aorta_lumen", "vessel_wall") and not n.startswith("disc")]
    rim = np.zeros_like(lab, bool)
    for v in bone:
        m = lab == v
        rim |= m & ~ndimage.binary_erosion(m)
    assert vol[rim].mean() > 500, "the cortical shell is brighter than cancellous bone"
    assert np.percentile(vol[rim], 95) > 900


def test_noise_level(sample):
    """Noise in the air around the patient has a realistic standard deviation (CT: HU; MR: Rician floor)."""
    name, paths = sample
    vol = read_volume(paths.volume).array.astype(np.float32)
    if name == "knee_mri":
        bg = vol[vol < 120]
        assert bg.size > 10000 and 3 < bg.std() < 40 and bg.mean() > 0
        return
    air = vol[vol < -950]
    assert air.size > 10000
    assert 3 < air.std() < 40, f"{name}: air noise sd {air.std():.1f} HU"
    assert -1010 < air.mean() < -985


# ------------------------------------------------------------------ separability by threshold
@pytest.mark.parametrize("name", ["hip", "knee", "spine"])
def test_bones_separable_by_threshold_and_islands(name, small_sample):
    """Every connected component of (HU > 200) lies within one bone (joint spaces stay open), and
    each bone's island (holes filled) matches its label."""
    paths = small_sample(name)
    gt = paths.load_ground_truth()
    vol = read_volume(paths.volume).array
    lab = read_volume(paths.labels).array
    bone_vals = [int(k) for k, v in gt["labels"].items() if not v["name"].startswith("disc")]
    comp, n = ndimage.label(vol > 200)
    for c in range(1, n + 1):
        vals = lab[comp == c]
        owners = {int(v) for v in np.unique(vals) if v in bone_vals and (vals == v).sum() > 3}
        assert len(owners) <= 1, f"{name}: one threshold island spans labels {owners}"
    for v in bone_vals:
        m = lab == v
        biggest = np.bincount(comp[m][comp[m] > 0]).argmax()
        island = ndimage.binary_fill_holes(comp == biggest)
        dice = 2 * (island & m).sum() / (island.sum() + m.sum())
        assert dice > 0.85, f"{name}: label {gt['labels'][str(v)]['name']} vs its threshold island Dice {dice:.3f}"


# ------------------------------------------------------------------ landmarks against the image
def _near_boundary(lab, vol, p, value, tol_vox=1.5):
    k, j, i = _idx(vol, p)
    r = int(np.ceil(tol_vox))
    win = lab[max(k - r, 0):k + r + 1, max(j - r, 0):j + r + 1, max(i - r, 0):i + r + 1]
    return (win == value).any() and (win != value).any()


def test_hip_landmarks_match_label_map(small_sample):
    paths = small_sample("hip")
    gt = paths.load_ground_truth()
    lab_vol = read_volume(paths.labels)
    lab = lab_vol.array
    ids = {v["name"]: int(k) for k, v in gt["labels"].items()}
    lm, q = gt["landmarks"], gt["quantities"]
    for side in ("left", "right"):
        c = np.array(lm[f"femoral_head_centre_{side}"]["position"])
        assert lab[_idx(lab_vol, c)] == ids[f"femur_{side}"]
        # sphere fit of the head's boundary voxels (centre +/- 0.8 radius, upper hemisphere)
        r = q[f"femoral_head_radius_{side}"]["value"]
        m = lab == ids[f"femur_{side}"]
        edge = m & ~ndimage.binary_erosion(m)
        kk, jj, ii = np.nonzero(edge)
        pts = lab_vol.index_to_world(np.stack([ii, jj, kk], 1))
        sel = (np.linalg.norm(pts - c, axis=1) < r + 3) & (pts[:, 2] > c[2] - 0.3 * r)
        p = pts[sel]
        a = np.c_[2 * p, np.ones(len(p))]
        sol = np.linalg.lstsq(a, (p**2).sum(1), rcond=None)[0]
        centre, rad = sol[:3], np.sqrt(sol[3] + sol[:3] @ sol[:3])
        assert np.linalg.norm(centre - c) < 1.0, (centre, c)
        assert abs(rad - (r - 0.5 * 2.0)) < 1.2, f"fit radius {rad:.2f} vs {r} (boundary voxels lie inside)"
        for key, owner in (("asis", "pelvis"), ("pubic_tubercle", "pelvis"), ("teardrop", "pelvis"),
                           ("lesser_trochanter", f"femur_{side}")):
            assert _near_boundary(lab, lab_vol, lm[f"{key}_{side}"]["position"], ids[owner]), key
        ax = gt["axes"][f"femoral_canal_axis_{side}"]
        for t in (60.0, 100.0):
            pt = np.array(ax["point"]) + t * np.array(ax["direction"])
            assert lab[_idx(lab_vol, pt)] == ids[f"femur_{side}"]
    assert q["neck_shaft_angle_right"]["value"] == pytest.approx(128.0, abs=1e-3)
    assert q["femoral_anteversion_left"]["value"] == pytest.approx(15.0, abs=1e-3)
    assert q["joint_space_left"]["value"] == 5.0


def test_knee_landmarks_and_axes(small_sample):
    paths = small_sample("knee")
    gt = paths.load_ground_truth()
    lab_vol = read_volume(paths.labels)
    lab = lab_vol.array
    ids = {v["name"]: int(k) for k, v in gt["labels"].items()}
    lm, q = gt["landmarks"], gt["quantities"]
    for key, owner in (("medial_epicondyle", "femur"), ("lateral_epicondyle", "femur"),
                       ("medial_condyle_distal", "femur"), ("lateral_condyle_posterior", "femur"),
                       ("tibial_tuberosity", "tibia"), ("medial_plateau_centre", "tibia")):
        assert _near_boundary(lab, lab_vol, lm[key]["position"], ids[owner]), key
    assert lab[_idx(lab_vol, lm["patella_centre"]["position"])] == ids["patella"]
    kf, kt = np.array(lm["knee_centre_femur"]["position"]), np.array(lm["knee_centre_tibia"]["position"])
    assert 4.0 < np.linalg.norm(kf - kt) < 8.0
    assert 175.0 < q["hka_angle"]["value"] < 180.0 and q["varus_valgus"]["value"] > 0
    assert q["tibial_slope"]["value"] == pytest.approx(7.0, abs=0.3)
    assert q["mpta"]["value"] == pytest.approx(87.0, abs=0.3)
    assert 85.0 < q["mldfa"]["value"] < 90.0
    # 5 mm along the construction axis; the distal point along the (anatomical) mechanical axis is 0.04 mm off
    assert q["joint_space_medial"]["value"] == pytest.approx(5.0, abs=0.05)
    # the mechanical axis points at the hip centre
    ax = gt["axes"]["femoral_mechanical_axis"]
    h = np.array(lm["hip_centre"]["position"])
    d = (h - kf) / np.linalg.norm(h - kf)
    np.testing.assert_allclose(ax["direction"], d, atol=1e-5)


def test_spine_pedicles(small_sample):
    paths = small_sample("spine")
    gt = paths.load_ground_truth()
    lab_vol = read_volume(paths.labels)
    lab = lab_vol.array
    ids = {v["name"]: int(k) for k, v in gt["labels"].items()}
    lm, q = gt["landmarks"], gt["quantities"]
    for n in ("L1", "L2", "L3", "L4", "L5"):
        assert lab[_idx(lab_vol, lm[f"vertebral_body_centre_{n}"]["position"])] == ids[n]
        for side in ("left", "right"):
            key = f"{n}_{side}"
            assert _near_boundary(lab, lab_vol, lm[f"pedicle_entry_{key}"]["position"], ids[n]), key
            iso = np.array(lm[f"pedicle_isthmus_{key}"]["position"])
            assert lab[_idx(lab_vol, iso)] == ids[n], key
            ax = gt["axes"][f"pedicle_axis_{key}"]
            entry = np.array(ax["point"])
            # along the axis, 10 mm into the pedicle: bone; the screw length stays within the vertebra
            inside = entry + 10.0 * np.array(ax["direction"])
            assert lab[_idx(lab_vol, inside)] == ids[n]
            assert 40.0 < q[f"pedicle_screw_length_{key}"]["value"] < 65.0
    w = [q[f"pedicle_width_L{i}_left"]["value"] for i in range(1, 6)]
    assert w == sorted(w), "pedicles widen from L1 to L5"
    assert 35.0 < q["lumbar_lordosis_L1_S1"]["value"] < 65.0


def test_vascular_stenosis_and_volume(small_sample):
    paths = small_sample("vascular")
    gt = paths.load_ground_truth()
    lab_vol = read_volume(paths.labels)
    lab = lab_vol.array
    vol = read_volume(paths.volume).array
    ids = {v["name"]: int(k) for k, v in gt["labels"].items()}
    q = gt["quantities"]
    assert 60.0 <= q["stenosis_percent_diameter"]["value"] <= 70.0
    dref, dmin = q["stenosis_reference_diameter"]["value"], q["stenosis_minimal_diameter"]["value"]
    assert q["stenosis_percent_diameter"]["value"] == pytest.approx(100 * (1 - dmin / dref), abs=1e-3)
    c = np.array(gt["landmarks"]["stenosis_centre"]["position"])
    assert lab[_idx(lab_vol, c)] in (ids["aorta_lumen"], ids["vessel_wall"])
    labelled_ml = (lab == ids["aorta_lumen"]).sum() * lab_vol.voxel_volume_mm3 / 1000
    assert labelled_ml == pytest.approx(q["lumen_volume"]["value"], rel=0.06)
    assert 250 < vol[ndimage.binary_erosion(lab == ids["aorta_lumen"], iterations=1)].mean() < 400
    # fewer lumen voxels in a 6 mm slab around the stenosis than in one 20 mm proximal
    d = np.array(gt["axes"]["stenosis_vessel_axis"]["direction"])
    kk, jj, ii = np.nonzero(lab == ids["aorta_lumen"])
    pts = lab_vol.index_to_world(np.stack([ii, jj, kk], 1))
    s = (pts - c) @ d
    rad = np.linalg.norm((pts - c) - np.outer(s, d), axis=1)
    near = (np.abs(s) < 3) & (rad < 8)
    prox = (np.abs(s + 14) < 3) & (rad < 8)
    assert near.sum() < 0.5 * prox.sum()


# ------------------------------------------------------------------ analytic helpers
def test_murray_angles_round_trip():
    for side in ("left", "right"):
        n = cup_axis(side, 42.0, 17.0)
        ri, ra = murray_radiographic(n, [1, 0, 0], [0, -1, 0])
        assert ri == pytest.approx(42.0, abs=1e-9) and ra == pytest.approx(17.0, abs=1e-9)


def test_surface_point_on_sphere():
    s = Sphere([1.0, 2.0, 3.0], 10.0)
    p = surface_point(s, [1.0, 2.0, 3.0], [1.0, 1.0, 0.0])
    assert np.linalg.norm(p - [1, 2, 3]) == pytest.approx(10.0, abs=1e-6)


# ------------------------------------------------------------------ bad input
def test_bad_arguments(tmp_path):
    with pytest.raises(InputError, match="unknown sample 'elbow'"):
        generate_sample("elbow", tmp_path)
    with pytest.raises(InputError, match="size 'medium'"):
        generate_sample("hip", tmp_path, "medium")
    f = tmp_path / "a_file"
    f.write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        generate_sample("hip", f)
    assert f.read_text() == "x"


def test_cancel_leaves_nothing(tmp_path):
    prog = RecordingProgress(cancel_after=3)
    with pytest.raises(Cancelled):
        generate_sample("knee_mri", tmp_path, "small", progress=prog)
    assert list(tmp_path.iterdir()) == []


def test_damaged_ground_truth(tmp_path):
    p = tmp_path / "ground_truth.json"
    p.write_text("{not json")
    with pytest.raises(InputError, match="ground_truth.json"):
        read_ground_truth(p)
    p.write_text('{"name": "hip"}')
    with pytest.raises(InputError, match="missing"):
        read_ground_truth(p)
    with pytest.raises(InputError, match="not found"):
        read_ground_truth(tmp_path / "nope.json")


def test_names():
    assert SAMPLE_NAMES == ("hip", "knee", "spine", "vascular", "knee_mri")


def test_sample_path_caches(tmp_path, monkeypatch):
    """sample_path generates once into SURGIPLAN_SAMPLES and then reuses the same files."""
    from surgiplan.core.samples import sample_path, samples_root

    monkeypatch.setenv("SURGIPLAN_SAMPLES", str(tmp_path / "cache"))
    assert samples_root() == (tmp_path / "cache").resolve()
    a = sample_path("knee_mri")
    assert a.root == (tmp_path / "cache" / "knee_mri-small").resolve() and a.is_complete()
    stamp = a.ground_truth.stat().st_mtime_ns
    b = sample_path("knee_mri")
    assert b.root == a.root and b.ground_truth.stat().st_mtime_ns == stamp
    a.ground_truth.write_text("{damaged")  # a damaged cache is regenerated, not trusted
    c = sample_path("knee_mri")
    assert c.load_ground_truth()["name"] == "knee_mri"
    with pytest.raises(InputError, match="unknown sample"):
        sample_path("elbow")


# ------------------------------------------------------------------ anatomical landmarks
def test_tibial_plateau_is_the_articular_surface():
    """No tibial bone above the plateau plane except the intercondylar spines (|x| < 10 mm)."""
    import sys

    from surgiplan.core.samples import knee_anatomy as ka

    got = {}

    def grab(frame, event, arg):
        if event == "return" and frame.f_code.co_name == "build_knee":
            got.update(frame.f_locals)

    sys.setprofile(grab)
    try:
        ka.build_knee("CT")
    finally:
        sys.setprofile(None)
    tib, tp, n, pp, kt = got["tibia"], got["tp"], got["plateau_n"], got["plat_pt"], got["kt"]
    g = np.arange(-35.0, 35.1, 1.0)
    pts = np.array([tp(x, y, h) for x in g for y in g for h in (0.5, 1.5, 3.0)])
    above = pts[((pts - pp) @ n > 0.3) & (tib.sdf_points(pts) < 0)]
    lateral = np.abs((above - kt) @ got["tx"])
    assert len(above) == 0 or lateral.max() < 10.0, lateral.max()  # was bone 2.3-9.9 mm above
    gt = build_scene("knee").truth.landmarks
    kc = np.array(gt["knee_centre_tibia"]["position"])
    mid = 0.5 * (np.array(gt["medial_plateau_centre"]["position"]) + np.array(gt["lateral_plateau_centre"]["position"]))
    assert abs(tib.sdf_points(kc)[0]) < 1e-3 and np.linalg.norm(kc - mid) < 0.1


def test_asis_and_tubercle_are_the_most_anterior_points_in_the_app_frame():
    """Dense 0.2 mm sampling around each landmark finds no bone farther along the APP normal."""
    from surgiplan.core.samples import hip

    fem = {s: hip.femur(s) for s in ("right", "left")}
    bone = hip.pelvis(fem)["bone"]
    tr = build_scene("hip").truth
    a = np.array(tr.axes["anterior_pelvic_plane"]["direction"])
    g = np.arange(-6.0, 6.01, 0.2)
    off = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    for k in ("asis_left", "asis_right", "pubic_tubercle_left", "pubic_tubercle_right"):
        p = np.array(tr.landmarks[k]["position"])
        assert abs(bone.sdf_points(p)[0]) < 1e-3, k
        inside = bone.sdf_points(p + off) < 0
        assert (off[inside] @ a).max() < 0.01, k  # nothing anterior of the landmark
