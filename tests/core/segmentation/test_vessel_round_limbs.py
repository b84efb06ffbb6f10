"""Below the aorta's foot, the iliac arteries as round tubes without the veins beside them (issue 29).

Synthetic [k, j, i] stacks, 1 mm pixels, 3 mm slices, the head at high k: a trunk that splits into two
diverging limbs, each touched by a darker vein disc; and a dissected aorta (two lumina side by side).
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.segmentation.vessel_tracking import round_limbs


def _disc(shape, centre, r):
    jj, ii = np.ogrid[: shape[0], : shape[1]]
    return np.hypot(jj - centre[0], ii - centre[1]) <= r


def _bifurcation(nk=24, split=14, r_limb=5.5, r_vein=7.0):
    """Mask (artery + vein, as a threshold gives it), HU and the true arteries."""
    shape = (nk, 120, 120)
    hu = np.full(shape, -80.0, np.float32)
    arteries = np.zeros(shape, bool)
    veins = np.zeros(shape, bool)
    for k in range(nk):
        if k >= split:
            arteries[k] = _disc(shape[1:], (60, 60), 8.0)
        else:
            off = 6.0 + 1.2 * (split - k)  # the limbs diverge going down (-k)
            for s in (-1, 1):
                arteries[k] |= _disc(shape[1:], (55, 60 + s * off), r_limb)
                if k < split - 2:  # each vein pressed against its artery, posterior (larger j)
                    veins[k] |= _disc(shape[1:], (55 + r_limb + r_vein - 1.0, 60 + s * off), r_vein)
    veins &= ~arteries
    hu[veins] = 115.0
    hu[arteries] = 150.0
    return arteries | veins, hu, arteries


def test_limbs_keep_the_arteries_and_drop_the_veins():
    mask, hu, arteries = _bifurcation()
    k0 = 20
    out = round_limbs(mask, k0, arteries[k0], spacing_mm=(1.0, 3.0), hu=hu, down=-1)
    assert np.array_equal(out[k0:], mask[k0:])  # from the foot up: untouched
    low = slice(0, 11)  # where the veins touch
    kept_vein = (out[low] & ~arteries[low]).sum() / (mask[low] & ~arteries[low]).sum()
    kept_artery = (out[low] & arteries[low]).sum() / arteries[low].sum()
    # measured: 0 % of the vein voxels kept, 97 % of the artery voxels (2-3 pixels of 95 lost at the contact)
    assert kept_vein < 0.05, kept_vein
    assert kept_artery > 0.95, kept_artery
    # without the CT: the round part from the geometry alone
    geo = round_limbs(mask, k0, arteries[k0], spacing_mm=(1.0, 3.0), down=-1)
    # measured: 0.3 % of the vein, 100 % of the artery (the synthetic contact is a neck)
    assert (geo[low] & ~arteries[low]).sum() / (mask[low] & ~arteries[low]).sum() < 0.15
    assert (geo[low] & arteries[low]).sum() / arteries[low].sum() > 0.85


def test_two_lumina_side_by_side_are_not_a_bifurcation():
    # a dissected aorta: true and false lumen split by a flap, parallel, inside one calibre
    shape = (20, 100, 100)
    mask = np.zeros(shape, bool)
    for k in range(20):
        whole = _disc(shape[1:], (50, 50), 12.0)
        if k < 12:
            whole &= ~(np.abs(np.arange(100) - 50 - 0.3 * k)[None, :] <= 1.0)  # the flap
        mask[k] = whole
    out = round_limbs(mask, 15, mask[15], spacing_mm=(1.0, 3.0), down=-1)
    assert np.array_equal(out, mask)
