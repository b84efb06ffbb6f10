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
