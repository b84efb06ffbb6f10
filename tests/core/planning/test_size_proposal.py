"""Hip size proposals (core ``size_proposal``): the CT canal width against the hip sample's
generator (its medullary canal is a cone of radius 8.0 -> 7.2 mm), the stem against a synthetic
CT canal and the stem meshes themselves, the cup against the socket radius, and missing input."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.case import Case
from surgiplan.core.errors import InputError
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.planning.catalog import load_catalog
from surgiplan.core.planning.catalog.generators import stem_levels
from surgiplan.core.planning.size_proposal import canal_widths, propose_cup, propose_stem


@pytest.fixture(scope="module")
def cat():
    return load_catalog(include_user=False)


def test_canal_width_on_the_hip_sample_matches_its_generator():
    from surgiplan.core.imaging.volume_io import read_volume
    from surgiplan.core.samples import sample_path

    p = sample_path("hip", size="small")
    gt = p.load_ground_truth()
    v = read_volume(p.volume)  # 2 mm voxels
    for side in ("left", "right"):
        ax = gt["axes"][f"femoral_canal_axis_{side}"]  # point: neck-shaft junction; direction: distal
        t = np.array([80.0, 100.0, 130.0, 160.0])  # mm distal of the junction, in the diaphysis
        w = canal_widths(v, ax["point"], -np.asarray(ax["direction"]), [1, 0, 0], -t)
        truth = 2 * (8.0 + (7.2 - 8.0) * (t - 55.0) / 305.0)  # samples/hip.py: Capsule(j+55s, j+360s, 8.0, 7.2)
        np.testing.assert_allclose(w, truth, atol=0.5)


def _canal_ct(radius: float) -> Volume:
    """A synthetic CT: a femoral shaft along S (cortex 1600 HU, 6 mm thick) with a canal of
    ``radius`` mm (0 HU) up to z = 0, in soft tissue (40 HU); 0.5 mm voxels."""
    sp = 0.5
    x = np.arange(-20, 20 + sp, sp)
    z = np.arange(-170, 10 + sp, sp)
    zz, yy, xx = np.meshgrid(z, x, x, indexing="ij")
    r = np.hypot(xx, yy)
    a = np.full(r.shape, 40, np.int16)
    a[r <= radius + 6.0] = 1600
    a[(r <= radius) & (zz <= 0)] = 0
    return Volume(a, (sp, sp, sp), (float(x[0]), float(x[0]), float(z[0])), np.eye(3))


def _case_for_stem(tmp_path, lt_z: float = -30.0):
    c = Case.new(tmp_path / "Stem", user="planner")
    c.set_landmark("femoral_canal_axis_left", (0, 0, -100), (0, 0, 1))
    c.set_landmark("femoral_head_centre_left", (45, 0, 45))
    c.set_landmark("lesser_trochanter_left", (-5, 10, lt_z))
    return c


@pytest.mark.parametrize("radius", [7.0, 9.0])
def test_stem_is_the_largest_whose_mesh_fits_the_canal(tmp_path, cat, radius):
    v = _canal_ct(radius)
    c = _case_for_stem(tmp_path)
    prop = propose_stem(c, None, "left", volume=v, catalog=cat)
    edge = radius + 0.25  # voxel centres at r <= radius are canal: the wall lies half a 0.5 mm voxel out
    assert prop.basis["isthmus_width_mm"] == pytest.approx(2 * edge, abs=0.2)
    # independent: slice each generated stem body at its levels from tip to the lesser trochanter
    spec = cat.get("hip_stem_standard")
    fits = []
    for s in spec.sizes:
        prm = spec.size(s)
        body = spec.geometry(s).parts["body"]
        z_tip, _ = stem_levels(prm)
        h = 45.0 - (-100.0)  # native head height above the axis point: the stem seated at depth 0
        widths = []
        for z in np.arange(z_tip + 3.0, (-30.0 + 100.0) - h, 2.0):
            cut = body.slice(normal="z", origin=(0, 0, z))
            widths.append(cut.bounds[1] - cut.bounds[0])
        fits.append(max(widths) <= 2 * edge)
    want = [s for s, ok in zip(spec.sizes, fits, strict=True) if ok][-1]
    assert prop.size == want and want not in (spec.sizes[0], spec.sizes[-1])  # a choice, not a bound
    i = spec.sizes.index(want)
    assert prop.smaller == (spec.sizes[i - 1] if i else None)
    assert prop.larger == (spec.sizes[i + 1] if i + 1 < len(spec.sizes) else None)


def test_cup_from_the_socket_radius(tmp_path, cat):
    c = Case.new(tmp_path / "Cup", user="planner")
    c.set_landmark("acetabular_radius_left", (28.5, 0, 0))  # the hip sample's left socket
    prop = propose_cup(c, None, "left", catalog=cat)
    assert (prop.size, prop.smaller, prop.larger) == ("60", "58", "62")  # 57 + 2 mm reaming -> 59 -> 60
    assert prop.basis["target_diameter_mm"] == pytest.approx(59.0)
    assert propose_cup(c, None, "left", reaming_mm=3.0, catalog=cat).size == "60"
    assert propose_cup(c, None, "left", reaming_mm=3.5, catalog=cat).size == "62"


def test_missing_or_bad_input_is_named(tmp_path, cat):
    c = Case.new(tmp_path / "Empty", user="planner")
    with pytest.raises(InputError, match="acetabular_radius_right"):
        propose_cup(c, None, "right", catalog=cat)
    c.set_landmark("acetabular_radius_right", (0.0, 0, 0))
    with pytest.raises(InputError, match="not usable"):
        propose_cup(c, None, "right", catalog=cat)
    with pytest.raises(InputError, match="femoral_canal_axis_left"):
        propose_stem(c, None, "left", volume=_canal_ct(8.0), catalog=cat)
    c2 = _case_for_stem(tmp_path)
    with pytest.raises(InputError, match="CT the femur_left"):
        propose_stem(c2, None, "left", catalog=cat)  # no scan in the case
    soft = _canal_ct(8.0)
    soft.array[:] = 40  # no cortex anywhere (an MR, or a wrong axis)
    with pytest.raises(InputError, match="cortex was not found"):
        propose_stem(c2, None, "left", volume=soft, catalog=cat)
