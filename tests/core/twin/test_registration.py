"""Rigid registration (SimpleITK Euler3D) against known transforms.

A CT registered to a moved copy of itself must recover the move (< 0.5 mm, < 0.5 deg);
a fit stopped early says it did not converge; masks that do not fit are refused.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from surgiplan.core.errors import GeometryError, InputError
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.imaging.volume_io import read_volume
from surgiplan.core.planning import transforms as tf
from surgiplan.core.samples import sample_path
from surgiplan.core.twin.registration import register_rigid, resample_to


@pytest.fixture(scope="module")
def spine():
    """The spine sample cut to L3 and 24 mm around it (a small, fast registration), and L3's mask."""
    sp = sample_path("spine")
    vol = read_volume(sp.volume)
    l3 = read_volume(sp.labels).array == 3
    idx = np.argwhere(l3)
    lo, hi = np.maximum(idx.min(axis=0) - 12, 0), idx.max(axis=0) + 13
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    origin = vol.index_to_world([float(lo[2]), float(lo[1]), float(lo[0])])
    return Volume(vol.array[sl], vol.spacing, tuple(origin), vol.direction, dict(vol.metadata)), l3[sl]


def moved_copy(vol: Volume, scan_to_planning: np.ndarray) -> Volume:
    """``vol`` seen by a scanner in which the patient moved: planning = s2p(scan)."""
    return resample_to(vol, vol, np.linalg.inv(scan_to_planning))


def errors(found: np.ndarray, truth: np.ndarray, pts: np.ndarray) -> tuple[float, float]:
    d = found @ np.linalg.inv(truth)
    rot = float(np.degrees(np.arccos(np.clip((np.trace(d[:3, :3]) - 1) / 2, -1, 1))))
    return rot, float(np.abs(tf.apply(d, pts) - pts).max())


def test_ct_registered_to_a_moved_copy_of_itself(spine):
    vol, l3 = spine
    truth = tf.translation([3.0, -4.0, 5.0]) @ tf.rotation([0.3, 0.2, 1.0], 4.0, (0.0, 30.0, -20.0))
    moved = moved_copy(vol, truth)
    reg = register_rigid(vol, moved, fixed_mask=l3, mask_name="L3")
    pts = vol.index_to_world(np.argwhere(l3)[:, ::-1].astype(float))
    rot, dist = errors(reg.scan_to_planning, truth, pts)
    assert rot < 0.5 and dist < 0.5, (rot, dist, reg.to_dict())
    assert reg.metric == "mean_squares" and reg.initialisation in reg.details["start_metrics"]
    assert reg.to_dict()["iterations"] == reg.iterations and len(reg.iterations) == 3


def test_mr_like_scan_registered_by_mutual_information(spine):
    """A moved copy whose intensities are remapped as in a T1 MR (fat bright, bone dark, not
    monotonic in HU): mean squares cannot match it, Mattes mutual information does."""
    vol, l3 = spine
    truth = tf.translation([-2.0, 3.0, -4.0]) @ tf.rotation([1.0, -0.4, 0.3], 3.0, (0.0, 30.0, -20.0))
    ct = moved_copy(vol, truth).array
    mr = np.interp(ct, [-1024, -150, -60, 20, 80, 300, 1200, 3000], [0, 950, 1000, 380, 330, 600, 60, 30])
    moving = vol.with_array(mr.astype(np.float32), metadata={"modality": "MR"})
    around = ndimage.binary_dilation(l3, iterations=3)  # L3 and 6 mm around it: MI needs the context
    reg = register_rigid(vol, moving, fixed_mask=around, mask_name="L3")
    assert reg.metric == "mutual_information"
    pts = vol.index_to_world(np.argwhere(l3)[:, ::-1].astype(float))
    rot, dist = errors(reg.scan_to_planning, truth, pts)
    assert rot < 0.5 and dist < 0.5, (rot, dist)


def test_stopped_early_is_not_converged(spine):
    vol, l3 = spine
    moved = moved_copy(vol, tf.translation([6.0, 0.0, 0.0]))
    with pytest.raises(GeometryError, match="did not converge"):
        register_rigid(vol, moved, fixed_mask=l3, iterations=3)


def test_masks_that_do_not_fit_are_refused(spine):
    vol, l3 = spine
    with pytest.raises(InputError, match="empty"):
        register_rigid(vol, vol, fixed_mask=np.zeros_like(l3), mask_name="L3")
    with pytest.raises(InputError, match="does not match"):
        register_rigid(vol, vol, fixed_mask=l3[:-1], mask_name="L3")
    with pytest.raises(InputError, match="metric"):
        register_rigid(vol, vol, metric="nonsense")


def test_scans_that_do_not_overlap(spine):
    vol, l3 = spine
    far = Volume(vol.array, vol.spacing, tuple(np.asarray(vol.origin) + 2000.0), vol.direction, dict(vol.metadata))
    with pytest.raises(GeometryError):
        register_rigid(vol, far, fixed_mask=l3, initialisation="identity")
