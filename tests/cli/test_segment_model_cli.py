"""`surgiplan segment` and `surgiplan model` on a small volume file: outputs, statistics, bad input."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from typer.testing import CliRunner

from surgiplan.cli.main import app
from surgiplan.core.imaging import Volume, write_volume
from surgiplan.core.segmentation import Segmentation, read_segmentation, write_segmentation
from surgiplan.core.surfaces import read_mesh, watertight_report

runner = CliRunner()


@pytest.fixture()
def scan(tmp_path):
    rng = np.random.default_rng(0)
    arr = rng.normal(40, 10, (40, 50, 50)).astype(np.int16)
    k, j, i = np.indices(arr.shape)
    bone = (i - 25) ** 2 + (j - 25) ** 2 + ((k - 20) * 1.5) ** 2 <= 12**2
    arr[bone] = 1000
    vol = Volume(arr, (1.0, 1.0, 1.5), origin=(-20.0, 30.0, 100.0))
    return write_volume(vol, tmp_path / "scan.nrrd"), bone


def test_segment_then_model(tmp_path, scan):
    path, bone = scan
    out = tmp_path / "case.seg.nrrd"
    res = runner.invoke(app, ["segment", str(path), "--preset", "bone", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "bone:" in res.output and " mL" in res.output and "HU" in res.output
    seg = read_segmentation(out)
    assert np.array_equal(seg.mask("bone"), bone)
    for fmt in ("stl", "3mf"):
        res = runner.invoke(app, ["model", str(out), "-o", str(tmp_path / "models"), "--format", fmt,
                                  "--decimate", "500", "--frame", "RAS", "--scan", str(path)])
        assert res.exit_code == 0, res.output
        assert "watertight and manifold" in res.output
    mesh = read_mesh(tmp_path / "models" / "bone.stl")
    assert watertight_report(mesh).watertight and mesh.n_cells <= 500
    assert (tmp_path / "models" / "bone.stl").read_bytes()[:9] == b"SPACE=RAS"
    # read back in LPS: the model sits on the scan's bone
    centre = np.array([-20.0 + 25, 30.0 + 25, 100.0 + 20 * 1.5])
    assert np.allclose(mesh.center, centre, atol=0.5)


def test_bad_input_gets_a_clear_message(tmp_path, scan):
    path, bone = scan
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    res = runner.invoke(app, ["segment", str(tmp_path / "nope"), "-o", str(tmp_path / "x.seg.nrrd")])
    assert res.exit_code != 0 and "not found" in str(res.exception)
    res = runner.invoke(app, ["segment", str(path), "--preset", "brain", "-o", str(tmp_path / "x.seg.nrrd")])
    assert "unknown preset 'brain'" in str(res.exception)
    assert not (tmp_path / "x.seg.nrrd").exists()
    # a label map made on another grid than the scan
    other = Segmentation(shape=(40, 50, 50), spacing=(1.0, 1.0, 2.0), origin=(-20.0, 30.0, 100.0))
    other.add_segment("bone", bone)
    other.add_segment("empty")
    seg_path = write_segmentation(other, tmp_path / "other.seg.nrrd")
    res = runner.invoke(app, ["model", str(seg_path), "-o", str(tmp_path / "m"), "--scan", str(path)])
    assert "does not match the scan" in str(res.exception)
    res = runner.invoke(app, ["model", str(seg_path), "-o", str(tmp_path / "m"), "--segment", "empty"])
    assert "segment 'empty' is empty" in str(res.exception)
    res = runner.invoke(app, ["model", str(seg_path), "-o", str(tmp_path / "m"), "--format", "dxf"])
    assert "unknown model format" in str(res.exception)
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


# ------------------------------------------------------------------ DICOM SEG export
def _tree_digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def spine_sample():
    from surgiplan.core.samples import sample_path

    return sample_path("spine", size="small")


def test_export_dicom_seg_of_sample_ground_truth(tmp_path, spine_sample):
    import highdicom as hd

    from surgiplan.core.imaging import read_volume

    labels = tmp_path / "truth.nrrd"  # the ground-truth label map with its names beside it
    labels.write_bytes(spine_sample.labels.read_bytes())
    (tmp_path / "truth.json").write_bytes(spine_sample.labels_json.read_bytes())
    out = tmp_path / "out" / "truth.dcm"
    before = _tree_digest(spine_sample.dicom_dir)
    res = runner.invoke(app, ["export-dicom-seg", str(labels), str(spine_sample.dicom_dir), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "11 segments" in res.output and "115 slices referenced" in res.output
    back = hd.seg.segread(out)
    truth = read_segmentation(labels)
    assert back.number_of_segments == len(truth.segments) == 11
    assert back.get_segment_description(1).segment_label == truth.segments[0].name == "L1"
    vol = read_volume(spine_sample.volume)
    seg_vol = back.get_volume()
    arr = seg_vol.array  # (frames, rows, columns, segments), frames in SEG order
    ks = [int(round(vol.world_to_index((seg_vol.affine @ [n, 0, 0, 1])[:3])[2])) for n in range(arr.shape[0])]
    for s_idx, s in enumerate(truth.segments):
        ours = truth.mask(s.name)
        got = np.zeros_like(ours)
        got[ks] = arr[..., s_idx] > 0
        assert np.array_equal(got, ours), s.name
    assert _tree_digest(spine_sample.dicom_dir) == before  # the source series is never modified


def test_export_dicom_seg_bad_input(tmp_path, spine_sample, scan):
    path, bone = scan
    out = tmp_path / "x.dcm"
    dicom = str(spine_sample.dicom_dir)
    # made on another grid than the series
    other = Segmentation(shape=(40, 50, 50), spacing=(1.0, 1.0, 1.5), origin=(-20.0, 30.0, 100.0))
    other.add_segment("bone", bone)
    seg_path = write_segmentation(other, tmp_path / "other.seg.nrrd")
    res = runner.invoke(app, ["export-dicom-seg", str(seg_path), dicom, "-o", str(out)])
    assert res.exit_code != 0 and "does not match the scan" in str(res.exception)
    # right grid, but an empty segment
    from surgiplan.core.imaging import read_volume

    vol = read_volume(spine_sample.volume)
    seg = Segmentation.from_volume(vol)
    seg.add_segment("nothing")
    empty_path = write_segmentation(seg, tmp_path / "empty.seg.nrrd")
    res = runner.invoke(app, ["export-dicom-seg", str(empty_path), dicom, "-o", str(out)])
    assert "segment(s) 'nothing' are empty" in str(res.exception)
    # a truncated segmentation file
    good = write_segmentation(Segmentation.from_volume(vol), tmp_path / "good.seg.nrrd")
    data = good.read_bytes()
    (tmp_path / "cut.seg.nrrd").write_bytes(data[: len(data) // 2])
    res = runner.invoke(app, ["export-dicom-seg", str(tmp_path / "cut.seg.nrrd"), dicom, "-o", str(out)])
    assert res.exit_code != 0 and "cut.seg.nrrd" in str(res.exception)
    # not a DICOM folder
    res = runner.invoke(app, ["export-dicom-seg", str(good), str(path), "-o", str(out)])
    assert "not a DICOM folder" in str(res.exception)
    assert not out.exists() and not list(tmp_path.glob(".x.dcm*"))


# ------------------------------------------------------------------ model import
@pytest.fixture()
def case_dir(tmp_path):
    from surgiplan.core.case import Case

    Case.new(tmp_path / "case")
    return tmp_path / "case"


def test_import_model_into_case(tmp_path, case_dir):
    import pyvista as pv

    from surgiplan.core.case import Case
    from surgiplan.core.surfaces import write_mesh

    sphere = pv.Sphere(radius=10.0, center=(5.0, -20.0, 30.0), theta_resolution=24, phi_resolution=24)
    write_mesh(sphere, tmp_path / "cup.stl", frame="LPS")
    res = runner.invoke(app, ["import-model", str(case_dir), str(tmp_path / "cup.stl")])
    assert res.exit_code == 0, res.output
    assert "added model 'cup'" in res.output and "watertight and manifold" in res.output
    # an OBJ in RAS without a frame marker: converted to LPS (x, y negated)
    ras = sphere.copy()
    ras.points[:, :2] *= -1
    pv.save_meshio(tmp_path / "ras_cup.obj", ras)
    res = runner.invoke(app, ["import-model", str(case_dir), str(tmp_path / "ras_cup.obj"), "--frame", "RAS",
                              "--name", "cup_ras"])
    assert res.exit_code == 0, res.output
    case = Case.open(case_dir)
    assert set(case.model_names) == {"cup", "cup_ras"}
    for n in ("cup", "cup_ras"):
        m = case.get_model(n)
        assert np.allclose(m.center, (5.0, -20.0, 30.0), atol=0.05), n
    # same name again: refused unless --replace
    res = runner.invoke(app, ["import-model", str(case_dir), str(tmp_path / "cup.stl")])
    assert "already has a model named 'cup'" in str(res.exception)
    res = runner.invoke(app, ["import-model", str(case_dir), str(tmp_path / "cup.stl"), "--replace"])
    assert res.exit_code == 0, res.output


def test_import_model_bad_input(tmp_path, case_dir):
    import pyvista as pv

    from surgiplan.core.case import Case
    from surgiplan.core.surfaces import write_mesh

    before = _tree_digest(case_dir)
    sphere = pv.Sphere(radius=10.0)
    good = write_mesh(sphere, tmp_path / "ok.stl")
    data = good.read_bytes()
    (tmp_path / "cut.stl").write_bytes(data[:-30])
    (tmp_path / "empty.stl").write_bytes(b"")
    open_cup = sphere.clip("z", invert=False)  # a hemisphere: boundary edges
    write_mesh(open_cup, tmp_path / "open.stl")
    # two spheres glued along one edge triangle fan: non-manifold edges
    a = pv.PolyData.from_regular_faces(np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, -1, 0.5]], float),
                                        np.array([[0, 1, 2], [0, 1, 3], [0, 1, 4]]))
    write_mesh(a, tmp_path / "nonmanifold.stl")
    cases = {
        "cut.stl": "truncated",
        "empty.stl": "the file is empty",
        "open.stl": "not a closed surface",
        "nonmanifold.stl": "non-manifold",
        "missing.stl": "file not found",
    }
    for fname, msg in cases.items():
        res = runner.invoke(app, ["import-model", str(case_dir), str(tmp_path / fname)])
        assert res.exit_code != 0, fname
        assert msg in str(res.exception) and fname in str(res.exception), (fname, str(res.exception))
    res = runner.invoke(app, ["import-model", str(case_dir), str(good), "--frame", "XYZ"])
    assert "unknown frame 'XYZ'" in str(res.exception)
    res = runner.invoke(app, ["import-model", str(tmp_path), str(good)])  # not a case folder
    assert res.exit_code != 0 and str(tmp_path) in str(res.exception)
    assert _tree_digest(case_dir) == before  # nothing written into the case
    assert Case.open(case_dir).model_names == []


# ------------------------------------------------------------------ seeds and doubts (issue 23)
def test_segment_with_seeds_in_the_middle_of_each_bone(tmp_path):
    from scipy import ndimage

    from surgiplan.core.samples.ct_phantom import make_ct_phantom

    vol, truth = make_ct_phantom(2, pixel_mm=1.0, slice_mm=2.5, metal=None, cut_top=False, cut_bottom=False)
    path = write_volume(vol, tmp_path / "hip.nrrd")
    args = []
    for n, m in truth["masks"].items():
        d = ndimage.distance_transform_edt(m, sampling=tuple(vol.spacing)[::-1])
        kji = np.unravel_index(int(np.argmax(d)), d.shape)
        x, y, z = vol.index_to_world(np.array([kji[::-1]], float))[0]
        args += ["--seed", f"{n}={x:.2f},{y:.2f},{z:.2f}"]
    out = tmp_path / "hip.seg.nrrd"
    res = runner.invoke(app, ["segment", str(path), "--preset", "bone", "--partial-volume", *args, "-o", str(out)])
    assert res.exit_code == 0, res.output
    seg = read_segmentation(out)
    assert sorted(seg.names) == sorted(truth["masks"])
    for n, g in truth["masks"].items():
        m = seg.mask(n)
        assert 2 * (m & g).sum() / (m.sum() + g.sum()) >= 0.95, n
    # bad seeds: refused before anything is written, the message says what is wrong
    for bad, words in ((["--seed", "pelvis=1,2"], "NAME=X,Y,Z"), (["--seed", "pelvis=9999,0,0"], "outside the scan"),
                       (["--seed", f"pelvis={x:.1f},{y:.1f},{z + 400:.1f}"], "outside the scan")):
        o = tmp_path / "bad.seg.nrrd"
        res = runner.invoke(app, ["segment", str(path), "--preset", "bone", *bad, "-o", str(o)])
        assert res.exit_code != 0 and words in str(res.exception), (bad, res.exception)
        assert not o.exists()
    corner = vol.index_to_world(np.array([[0.0, 0.0, 0.0]]))[0]
    res = runner.invoke(app, ["segment", str(path), "--preset", "bone", "--seed",
                              "pelvis={:.1f},{:.1f},{:.1f}".format(*corner), "-o", str(tmp_path / "air.seg.nrrd")])
    assert res.exit_code != 0 and "from bone" in str(res.exception)
    assert not (tmp_path / "air.seg.nrrd").exists()


def test_doubtful_result_warns_or_is_refused_with_strict(tmp_path, scan):
    path, bone = scan
    centre = "femur_right=0,55,130"  # the 7 mL sphere called a femur: smaller than any femoral head
    out = tmp_path / "strict.seg.nrrd"
    res = runner.invoke(app, ["segment", str(path), "--seed", centre, "--strict", "-o", str(out)])
    assert res.exit_code != 0 and "doubtful" in str(res.exception) and "seed" in str(res.exception)
    assert not out.exists()
    out = tmp_path / "warn.seg.nrrd"
    res = runner.invoke(app, ["segment", str(path), "--seed", centre, "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "WARNING" in res.output and "femur_right" in res.output and out.exists()
