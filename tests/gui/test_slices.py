"""Reslicing and orientation labels (surgiplan.scene.slices) against hand-made volumes."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.imaging import Volume
from surgiplan.scene import slices as S


def marker_volume(direction, shape_kji=(20, 30, 40), spacing=(1.0, 1.5, 2.0)):
    arr = np.zeros(shape_kji, np.int16)
    return Volume(arr, spacing, (0.0, 0.0, 0.0), np.asarray(direction, float))


def put_world(vol: Volume, lps, value=1000) -> None:
    ijk = np.round(vol.world_to_index(lps)).astype(int)
    vol.array[ijk[2], ijk[1], ijk[0]] = value


# axial CT; sagittal MR (i -> P, j -> I, k -> L); coronal MR (i -> L, j -> I, k -> A)
DIRECTIONS = {
    "axial": np.eye(3),
    "sagittal_mr": np.array([[0, 0, 1], [1, 0, 0], [0, -1, 0]], float),
    "coronal_mr": np.array([[1, 0, 0], [0, 0, -1], [0, -1, 0]], float),
}


@pytest.mark.parametrize("name", list(DIRECTIONS))
def test_patient_left_anterior_superior_land_on_the_right_screen_sides(name):
    vol = marker_volume(DIRECTIONS[name])
    centre = vol.index_to_world((np.asarray(vol.shape_ijk) - 1) / 2)
    grid = S.CanonicalGrid.of_volume(vol)
    canon = grid.canonical(vol.array)
    # a marker 10 mm to the patient's left, 8 mm anterior and 12 mm superior of the centre
    p = centre + np.array([10.0, -8.0, 12.0])
    p = vol.index_to_world(np.round(vol.world_to_index(p)))  # exactly on a voxel centre
    put_world(vol, p)
    xyz = np.round(grid.ijk_to_xyz(vol.world_to_index(p))).astype(int)
    c_xyz = grid.ijk_to_xyz(vol.world_to_index(centre))
    for view in S.VIEWS:
        col, row, idx = S.xyz_to_pixel(grid, view, xyz)
        img = S.extract_slice(canon, view, int(idx))
        assert img[int(row), int(col)] == 1000, view
        ccol, crow, _ = S.xyz_to_pixel(grid, view, c_xyz)
        left, right, top, bottom = S.EDGE_LABELS[view]
        # L is on the right of axial/coronal; anterior on the left of sagittal and top of axial
        if view in ("axial", "coronal"):
            assert (right, col > ccol) == ("L", True)
        else:
            assert (left, col < ccol) == ("A", True)
        if view == "axial":
            assert (top, row < crow) == ("A", True)
        else:
            assert (top, row < crow) == ("S", True)


def test_pixel_mapping_round_trips_and_spacing_follows_the_axes():
    vol = marker_volume(DIRECTIONS["sagittal_mr"], spacing=(0.5, 0.6, 3.0))
    grid = S.CanonicalGrid.of_volume(vol)
    assert grid.spacing_xyz == (3.0, 0.5, 0.6)  # k -> L, i -> P, j -> I
    assert S.pixel_mm(grid, "sagittal") == (0.5, 0.6)
    for view in S.VIEWS:
        xyz = np.array([3.0, 7.0, 5.0])
        col, row, idx = S.xyz_to_pixel(grid, view, xyz)
        assert np.allclose(S.pixel_to_xyz(grid, view, int(idx), col, row), xyz)


def test_oblique_scan_is_reported():
    a = np.radians(20)
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    grid = S.CanonicalGrid.of_volume(marker_volume(rot))
    assert grid.oblique_deg == pytest.approx(20, abs=0.01)
    assert grid.axis_of == (0, 1, 2)


def test_window_to_uint8():
    img = np.array([[-1000, 40, 240, 3000]], np.int16)
    out = S.window_to_uint8(img, 40, 400)
    assert out.tolist() == [[0, 127, 255, 255]]
