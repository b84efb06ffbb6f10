"""``surgiplan segment --preset knee-bones`` on a knee CT phantom: bones by anatomy, metal, refusals."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from surgiplan.cli.main import app
from surgiplan.core.imaging import Volume, write_volume
from surgiplan.core.segmentation import read_segmentation

runner = CliRunner()


def test_segment_knee_phantom_and_refuse_a_scan_without_the_joint(tmp_path):
    from surgiplan.core.samples.ct_phantom_knee import make_knee_phantom

    vol, truth = make_knee_phantom(4, pixel_mm=0.9, slice_mm=2.5, metal="screw", cut_top=True, cut_bottom=False)
    path = write_volume(vol, tmp_path / "knee.nrrd")
    out = tmp_path / "knee.seg.nrrd"
    res = runner.invoke(app, ["segment", str(path), "--preset", "knee-bones", "-o", str(out)])
    assert res.exit_code == 0, res.output
    seg = read_segmentation(out)
    assert set(seg.names) == {"femur", "tibia", "patella", "fibula", "metal"}
    for n, g in truth["masks"].items():
        m = seg.mask(n)
        assert 2 * (m & g).sum() / (m.sum() + g.sum()) >= 0.95, n
    assert "patella:" in res.output and "wrote" in res.output
    # only the tibia and fibula (the scan starts below the joint line): refused, nothing written
    k = np.nonzero(truth["masks"]["tibia"].any(axis=(1, 2)))[0]
    below = slice(0, int(k.max()) - 12)
    part = Volume(vol.array[below].copy(), vol.spacing, vol.origin, np.eye(3), metadata={"modality": "CT"})
    p2 = write_volume(part, tmp_path / "shin.nrrd")
    o2 = tmp_path / "shin.seg.nrrd"
    res = runner.invoke(app, ["segment", str(p2), "--preset", "knee-bones", "-o", str(o2)])
    assert res.exit_code != 0 and "knee-bones" in str(res.exception) and "seed" in str(res.exception)
    assert not o2.exists()
