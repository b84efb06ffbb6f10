"""``surgiplan segment --preset bone``: partial-volume surface by default, ``--fixed-threshold`` the 200 HU one."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from surgiplan.cli.main import app
from surgiplan.core.imaging import write_volume
from surgiplan.core.segmentation import read_segmentation
from surgiplan.core.segmentation.presets import apply_preset
from tests.core.segmentation.test_partial_volume_band import _scene

runner = CliRunner()


def test_bone_default_is_partial_volume_and_fixed_threshold_is_200_hu(tmp_path):
    vol, truth = _scene()
    path = write_volume(vol, tmp_path / "ball.nrrd")
    outs = {}
    for flag in ("", "--fixed-threshold", "--partial-volume"):
        out = tmp_path / f"bone{flag.replace('-', '_')}.seg.nrrd"
        res = runner.invoke(app, ["segment", str(path), "--preset", "bone", *([flag] if flag else []), "-o", str(out)])
        assert res.exit_code == 0, res.output
        outs[flag] = read_segmentation(out).mask("bone")
    assert np.array_equal(outs[""], outs["--partial-volume"])
    assert np.array_equal(outs[""], apply_preset(vol, "bone").mask("bone"))  # the GUI's call
    assert np.array_equal(outs["--fixed-threshold"], apply_preset(vol, "bone", partial_volume=False).mask("bone"))
    err = {k: abs(m.sum() / truth.sum() - 1) for k, m in outs.items()}
    assert err["--fixed-threshold"] > 0.12 and err[""] < 0.04, err  # 200 HU sits ~0.9 mm outside here
