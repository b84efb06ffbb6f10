"""Importing a surface in the Models step checks it as ``surgiplan import-model`` does."""

from __future__ import annotations

import pytest
import pyvista as pv

from surgiplan.core.case import Case
from tests.core.case.case_faults import cli
from tests.gui.conftest import wait_jobs
from tests.gui.test_window import phantom

pytestmark = pytest.mark.gui


def test_an_open_surface_is_refused_by_the_window_as_by_the_cli(window, qtbot, tmp_path):
    open_cap = pv.Sphere(radius=20).clip("z", invert=False)  # a hemisphere: a hole at its rim
    mesh_file = tmp_path / "cap.stl"
    open_cap.save(mesh_file)
    Case.new(tmp_path / "Case", "Case")
    r = cli("import-model", tmp_path / "Case", mesh_file)
    assert r.returncode == 1 and "not a closed surface" in r.stderr and "cap.stl" in r.stderr

    window.set_volume(phantom())
    window.panels["Models"].import_from(mesh_file)
    wait_jobs(qtbot, window)
    assert "not a closed surface" in window.last_error and "cap.stl" in window.last_error
    assert window.case is None or "cap" not in window.case.model_names

    closed = tmp_path / "ball.stl"
    pv.Sphere(radius=20).save(closed)
    window.last_error = ""
    window.panels["Models"].import_from(closed)
    wait_jobs(qtbot, window)
    assert window.last_error == "" and "ball" in window.case.model_names
