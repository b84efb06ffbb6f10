"""Reading hands ITK's voxel buffer to numpy without a copy, and the buffer outlives the image object."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import SimpleITK as sitk

from surgiplan.core.imaging.volume import Volume
from surgiplan.core.imaging.volume_io import array_from_image, from_sitk, read_volume, write_volume


def _ramp(shape=(7, 9, 11), dtype=np.int16) -> np.ndarray:
    return (np.arange(np.prod(shape)) % 2000 - 1000).astype(dtype).reshape(shape)


def test_taken_buffer_survives_the_image_and_is_writable():
    ref = _ramp()
    img = sitk.GetImageFromArray(ref)
    arr = array_from_image(img, take=True)
    del img
    gc.collect()
    churn = [np.full(ref.shape, 12345, np.int16) for _ in range(20)]  # reuse of freed memory would show
    assert np.array_equal(arr, ref)
    assert arr.flags.writeable and arr.flags.c_contiguous and not arr.flags.owndata
    arr[0, 0, 0] = 777
    assert arr[0, 0, 0] == 777
    assert churn[0][0, 0, 0] == 12345


def test_copy_when_not_taken_is_independent():
    ref = _ramp()
    img = sitk.GetImageFromArray(ref)
    arr = array_from_image(img)
    arr[:] = 0
    assert np.array_equal(sitk.GetArrayViewFromImage(img), ref)
    vol = from_sitk(img, take=True)
    assert np.array_equal(vol.array, ref)


@pytest.mark.parametrize("suffix", [".nrrd", ".nii.gz", ".mha"])
def test_read_volume_is_the_file_without_a_second_copy(tmp_path, suffix):
    ref = _ramp((6, 8, 10))
    d = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    path = write_volume(Volume(ref, (0.7, 0.8, 2.5), (-10.0, 20.0, 30.0), d), tmp_path / f"v{suffix}")
    vol = read_volume(path)
    gc.collect()
    assert np.array_equal(vol.array, ref)
    assert vol.spacing == pytest.approx((0.7, 0.8, 2.5)) and np.allclose(vol.direction, d, atol=1e-6)
    assert not vol.array.flags.owndata  # ITK's buffer, not numpy's copy of it
    vol.array[1, 2, 3] = 5  # a Volume's array stays writable
    assert vol.array[1, 2, 3] == 5
