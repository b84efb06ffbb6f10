"""Randomised CT phantoms of the hip with analytic truth, for measuring bone segmentation.

Deliberately NOT tuned to any preset: every case draws its own anatomy and scanner.

* Bones are smooth implicit shapes in LPS mm. A proximal femur (a spherical head of radius
  18-30 mm, a neck at a random neck-shaft angle and anteversion, a greater and a lesser
  trochanter, a shaft with a fatty marrow canal) sits in the socket of a hip bone (an
  acetabular block around the head with a 1-3 mm joint space, an iliac wing, a pubic and an
  ischial ramus). ``bilateral=True`` mirrors both and joins the hip bones by a sacrum into one
  ``pelvis``.
* Tissues: cortex 0.5-4 mm thick at 700-1800 HU, trabecular bone 100-400 HU with a smooth
  texture, marrow -80..60 HU, muscle 30-70 HU, subcutaneous fat -120..-70 HU, air outside the
  body (the field of view cuts the body's outline), an optional metal implant (femoral stem or
  iliac screw, 3500-8000 HU) that replaces bone where it is.
* Scanner: in-plane spacing 0.6-1 mm, slices 1-3 mm. The image is made on a fine grid (2 x 2
  in plane, about 0.5 mm along z, each fine voxel anti-aliased from the signed distance),
  blurred there by the point-spread function (Gaussian, sigma 0.5-1 mm in plane, the slice
  profile along z: a box of the slice thickness, from the down-sampling, convolved with a
  Gaussian of 0.25 slice), averaged down to the scan grid (true partial volume), then
  Gaussian noise of 5-30 HU is added. Partial fields of view: the scan may end in the iliac
  wing above and in the femoral neck below.
* Truth on the scan grid: a voxel belongs to a bone when at least half of it (from the fine
  grid) does. Volume (mm3) is the fine occupancy summed (the bone inside the field of view),
  area (mm2) the fine marching-cubes surface between the first and the last slice centres
  (the surface a marching-cubes of the scan spans; the cut caps are not surface). The femoral
  head is an exact sphere: its centre (LPS) and radius are analytic.

Examples
--------
>>> vol, truth = make_ct_phantom(3)  # doctest: +SKIP
>>> sorted(truth["masks"])  # doctest: +SKIP
['femur_right', 'pelvis']
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from surgiplan.core.imaging.volume import Volume

# ------------------------------------------------------------------ implicit shapes (mm)


def _len(x, y, z):
    return np.sqrt(x * x + y * y + z * z)


def _sphere(p, c, r):
    c = [float(v) for v in c]  # Python floats keep float32 grids float32 (NumPy 2 promotion)
    return _len(p[0] - c[0], p[1] - c[1], p[2] - c[2]) - float(r)


def _capsule(p, a, b, ra, rb=None):
    """Segment a-b swept by a radius growing linearly from ``ra`` to ``rb`` (approximate SDF)."""
    rb = float(ra if rb is None else rb)
    ra = float(ra)
    a = np.asarray(a, float)
    abv = np.asarray(b, float) - a
    L2 = float(abv @ abv)
    a, ab = a.tolist(), abv.tolist()  # Python floats keep float32 grids float32 (NumPy 2 promotion)
    px, py, pz = p[0] - a[0], p[1] - a[1], p[2] - a[2]
    t = np.clip((px * ab[0] + py * ab[1] + pz * ab[2]) * (1.0 / L2), 0.0, 1.0)
    return _len(px - t * ab[0], py - t * ab[1], pz - t * ab[2]) - (ra + t * (rb - ra))


def _ellipsoid(p, c, radii, rot=None):
    """Ellipsoid (approximate SDF, exact on the axes); ``rot`` 3x3 maps local to world axes."""
    c = [float(v) for v in c]  # Python floats keep float32 grids float32 (NumPy 2 promotion)
    q = [p[0] - c[0], p[1] - c[1], p[2] - c[2]]
    if rot is not None:
        rt = np.asarray(rot, float).tolist()
        q = [rt[0][a] * q[0] + rt[1][a] * q[1] + rt[2][a] * q[2] for a in range(3)]
    r = [float(v) for v in radii]
    k0 = _len(q[0] / r[0], q[1] / r[1], q[2] / r[2])
    k1 = _len(q[0] / r[0] ** 2, q[1] / r[1] ** 2, q[2] / r[2] ** 2)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-9)


def _smin(a, b, k):
    """Smooth union (polynomial smooth minimum, blend width ``k`` mm)."""
    k = float(k)
    if k <= 0:
        return np.minimum(a, b)
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def _rot_y(deg):
    t = np.radians(deg)
    return np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])


def _unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


# ------------------------------------------------------------------ anatomy


class _Hip:
    """One side's femur and hip bone; ``s`` = -1 right (patient right is -x in LPS), +1 left."""

    def __init__(self, rng: np.random.Generator, side: str, centre, R: float, gap: float):
        self.s = -1.0 if side == "right" else 1.0
        s = self.s
        self.c = np.asarray(centre, float)
        self.R, self.gap = R, gap
        c = self.c
        lat = np.array([s, 0.0, 0.0])  # lateral
        # neck: neck-shaft angle 120-140 deg, anteversion 5-25 deg (anterior is -y)
        nsa = np.radians(rng.uniform(120, 140))
        ante = np.radians(rng.uniform(5, 25))
        down = np.pi - nsa  # neck axis tilt below horizontal relative to a vertical shaft
        u = _unit(lat * np.cos(down) * np.cos(ante) + np.array([0, -np.sin(ante), 0]) * np.cos(down)
                  + np.array([0, 0, np.sin(down)]))
        u = _unit(np.array([u[0], u[1], -abs(u[2])]))  # the neck goes laterally and down
        self.neck_len = R * rng.uniform(1.5, 1.9)
        self.neck_end = c + self.neck_len * u
        self.neck_r = R * rng.uniform(0.55, 0.68)
        self.shaft_r = R * rng.uniform(0.50, 0.62)
        tilt = rng.uniform(4, 10)  # anatomical axis: the shaft goes medially as it goes down
        sd = _unit(np.array([-s * np.tan(np.radians(tilt)), 0.0, -1.0]))
        self.shaft_top = self.neck_end + np.array([s * 0.15 * R, 0.0, 0.35 * R])
        self.shaft_bot = self.shaft_top + 400.0 * sd
        self.gt = self.neck_end + np.array([s * 0.35 * R, 0.15 * R, 0.55 * R])  # greater trochanter
        self.gt_r = np.array([0.55, 0.75, 0.85]) * R * rng.uniform(0.9, 1.1)
        self.lt = self.neck_end + np.array([-s * 0.35 * R, 0.35 * R, -1.35 * R])  # lesser trochanter
        self.lt_r = R * rng.uniform(0.30, 0.38)
        self.canal_top = self.neck_end + 2.0 * R * sd
        self.canal_k = rng.uniform(2.0, 5.0)  # trabecular lining of the canal (mm)
        # hip bone
        self.block_c = c + np.array([-s * 0.25 * R, 0.1 * R, 0.45 * R])
        w = rng.uniform(8.0, 13.0)
        self.block_r = np.array([R + gap + w, R + gap + w + 4, R + gap + w + 2])
        self.ilium_c = c + np.array([s * 0.15 * R, 0.35 * R, 2.6 * R])
        self.ilium_r = np.array([rng.uniform(5.0, 8.0), 1.9 * R, 1.9 * R])
        self.ilium_rot = _rot_y(s * rng.uniform(15, 35))
        self.pubis = (c + np.array([-s * 0.9 * R, -0.5 * R, -0.25 * R]),
                      np.array([-s * 8.0, c[1] - 1.5 * R, c[2] - 0.8 * R]), rng.uniform(6.0, 9.0))
        self.ischium = (c + np.array([-s * 0.4 * R, 0.55 * R, -0.7 * R]),
                        c + np.array([-s * 0.5 * R, 1.0 * R, -2.2 * R]), rng.uniform(8.0, 11.0))
        self.pubis_ischium = (self.pubis[1], self.ischium[1], 6.0)
        self.posterior = (self.ilium_c + np.array([-s * 0.3 * R, 1.0 * R, 0.0]),
                          np.array([s * 35.0, c[1] + 2.6 * R, c[2] + 2.2 * R]), 11.0)

    def femur(self, p):
        R = self.R
        d = _sphere(p, self.c, R)
        neck = _capsule(p, self.c, self.neck_end, self.neck_r, self.neck_r * 1.15)
        d = _smin(d, neck, 1.5)
        rest = _capsule(p, self.shaft_top, self.shaft_bot, self.shaft_r * 1.35, self.shaft_r * 0.85)
        rest = np.minimum(rest, _capsule(p, self.shaft_top + 0.9 * R * _unit(self.shaft_bot - self.shaft_top),
                                         self.shaft_bot, self.shaft_r))
        rest = _smin(rest, _ellipsoid(p, self.gt, self.gt_r), 6.0)
        rest = _smin(rest, _sphere(p, self.lt, self.lt_r), 5.0)
        # keep the head a sphere: the blend with the neck stays outside it
        return _smin(d, rest, 6.0)

    def canal(self, p):
        return _capsule(p, self.canal_top, self.shaft_bot, self.shaft_r - self.canal_k)

    def hip_bone(self, p):
        d = _ellipsoid(p, self.block_c, self.block_r)
        d = _smin(d, _ellipsoid(p, self.ilium_c, self.ilium_r, self.ilium_rot), 10.0)
        d = _smin(d, _capsule(p, *self.pubis), 6.0)
        d = _smin(d, _capsule(p, *self.ischium), 8.0)
        d = _smin(d, _capsule(p, *self.pubis_ischium), 4.0)
        return d

    def hip_cut(self, p, femur_d):
        """Socket cavity and the joint space: nothing of the hip bone within ``gap`` of the femur."""
        return np.maximum(-(_sphere(p, self.c, self.R + self.gap)), -(femur_d - self.gap))


# ------------------------------------------------------------------ generator


def _draw(rng: np.random.Generator, o: dict) -> dict:
    def pick(key, value):
        return o[key] if key in o else value

    p = {
        "R": pick("head_radius_mm", rng.uniform(18.0, 30.0)),
        "gap": pick("joint_space_mm", rng.uniform(1.0, 3.0)),
        "cortex": pick("cortex_mm", rng.uniform(0.5, 4.0)),
        "cortex_hu": pick("cortex_hu", rng.uniform(700.0, 1800.0)),
        "trab_hu": pick("trabecular_hu", rng.uniform(100.0, 400.0)),
        "marrow_hu": pick("marrow_hu", rng.uniform(-80.0, 60.0)),
        "muscle_hu": pick("muscle_hu", rng.uniform(30.0, 70.0)),
        "fat_hu": pick("fat_hu", rng.uniform(-120.0, -70.0)),
        "fat_mm": pick("fat_mm", rng.uniform(8.0, 35.0)),
        "pixel": pick("pixel_mm", rng.uniform(0.6, 1.0)),
        "slice": pick("slice_mm", rng.uniform(1.0, 3.0)),
        "psf": pick("psf_sigma_mm", rng.uniform(0.5, 1.0)),
        "noise": pick("noise_hu", rng.uniform(5.0, 30.0)),
        "bilateral": pick("bilateral", False),
        "side": pick("side", "right" if rng.random() < 0.5 else "left"),
        "metal": pick("metal", None if rng.random() < 0.75 else ("stem" if rng.random() < 0.5 else "screw")),
        "metal_hu": pick("metal_hu", rng.uniform(3500.0, 8000.0)),
        "cut_top": pick("cut_top", rng.random() < 0.25),
        "cut_bottom": pick("cut_bottom", rng.random() < 0.25),
    }
    if p["metal"] is True:
        p["metal"] = "stem"
    unknown = set(o) - {
        "head_radius_mm", "joint_space_mm", "cortex_mm", "cortex_hu", "trabecular_hu", "marrow_hu", "muscle_hu",
        "fat_hu", "fat_mm", "pixel_mm", "slice_mm", "psf_sigma_mm", "noise_hu", "bilateral", "side", "metal",
        "metal_hu", "cut_top", "cut_bottom", "slab_slices"}
    if unknown:
        raise TypeError(f"make_ct_phantom: unknown option(s) {sorted(unknown)}")
    return p


def make_ct_phantom(seed: int, **overrides) -> tuple[Volume, dict]:
    """A seeded random CT of one hip (or both, ``bilateral=True``) with its truth.

    Parameters
    ----------
    seed : int
        Everything random (anatomy, tissues, scanner, noise) follows from it.
    **overrides
        Fix any drawn parameter: ``head_radius_mm``, ``joint_space_mm``, ``cortex_mm``,
        ``cortex_hu``, ``trabecular_hu``, ``marrow_hu``, ``muscle_hu``, ``fat_hu``, ``fat_mm``,
        ``pixel_mm`` (in-plane spacing), ``slice_mm``, ``psf_sigma_mm`` (in-plane Gaussian),
        ``noise_hu`` (sd), ``bilateral``, ``side`` ("right"/"left", one-sided phantoms),
        ``metal`` (None, "stem", "screw"), ``metal_hu``, ``cut_top`` / ``cut_bottom`` (the field
        of view ends in the iliac wing / the femoral neck).

    Returns
    -------
    volume : Volume
        int16 HU, LPS, identity direction, metadata ``modality`` "CT" and ``phantom`` (the drawn
        parameters).
    truth : dict
        ``masks`` {name: bool [k, j, i]} (``pelvis``, ``femur_right`` and/or ``femur_left``),
        ``volume_mm3`` and ``area_mm2`` {name: float} (in the field of view), ``metal_mask``
        (bool, all False without metal), ``femoral_head_centre_lps`` and
        ``femoral_head_radius_mm`` {femur name: ...}, ``params`` (dict).
    """
    rng = np.random.default_rng(seed)
    p = _draw(rng, overrides)
    R, gap = p["R"], p["gap"]
    sides = ["right", "left"] if p["bilateral"] else [p["side"]]
    hips = {}
    hip_seed = int(rng.integers(2**32))  # both sides share one anatomy (a patient's hips are alike)
    cx = rng.uniform(85, 100)
    for side in sides:
        s = -1.0 if side == "right" else 1.0
        hips[side] = _Hip(np.random.default_rng(hip_seed), side, (s * cx, 0.0, 0.0), R, gap)
    sacrum = None
    if p["bilateral"]:
        sacrum = (np.array([0.0, 2.6 * R + 10, 2.3 * R]), np.array([38.0, 22.0, 1.6 * R]))

    # field of view
    xs = [h.c[0] for h in hips.values()]
    xlo = min(xs) - 2.6 * R - 12 if min(xs) < 0 else -20.0 if p["bilateral"] else min(xs) - 2.6 * R - 12
    xhi = max(xs) + 2.6 * R + 12 if max(xs) > 0 else 20.0
    if not p["bilateral"]:
        h = next(iter(hips.values()))
        xlo, xhi = (h.c[0] - 2.4 * R - 10, h.c[0] + 2.2 * R + 10) if h.s < 0 else (h.c[0] - 2.2 * R - 10,
                                                                                     h.c[0] + 2.4 * R + 10)
        xlo, xhi = (xlo, min(xhi, 5.0)) if h.s < 0 else (max(xlo, -5.0), xhi)
    ylo, yhi = -2.3 * R - 10, 2.0 * R + 15 + (3.6 * R if p["bilateral"] else 0.0)
    zlo = -4.2 * R if not p["cut_bottom"] else -1.0 * R
    zhi = 3.0 * R + 15 + (0.3 * R if p["bilateral"] else 0) if not p["cut_top"] else 1.6 * R
    px, sk = float(p["pixel"]), float(p["slice"])
    ni, nj, nk = int(np.ceil((xhi - xlo) / px)), int(np.ceil((yhi - ylo) / px)), int(np.ceil((zhi - zlo) / sk))
    origin = (xlo + px / 2, ylo + px / 2, zlo + sk / 2)
    spacing = (px, px, sk)

    # body outline (ellipse around the midline), fat under the skin
    body_c = np.array([0.0, 0.9 * R, 0.0])
    body_r = np.array([max(abs(x) for x in xs) + 2.2 * R + p["fat_mm"] - rng.uniform(0, 25), 3.3 * R + 40])

    # metal
    h0 = hips[sides[0]]
    metal = None
    if p["metal"] == "stem":
        axis = _unit(h0.shaft_bot - h0.shaft_top)
        a = h0.shaft_top + 0.5 * R * axis
        metal = ("capsule", a, a + rng.uniform(70, 120) * axis, 0.32 * h0.shaft_r)
    elif p["metal"] == "screw":
        a = h0.block_c + np.array([0.0, 0.0, 0.9 * R + gap])
        metal = ("capsule", a, a + np.array([-h0.s * 8.0, 5.0, 35.0]), rng.uniform(2.5, 3.5))

    names = (["pelvis"] + [f"femur_{s}" for s in sides])
    arr, masks, metal_mask, vol_mm3, area_mm2 = _render(
        lambda P: _shape_fields(P, hips, sacrum, metal, body_c, body_r, p["fat_mm"]), names, p,
        (nk, nj, ni), origin, zlo, metal is not None, rng, int(overrides.get("slab_slices", 8)))
    truth = {
        "masks": masks,
        "metal_mask": metal_mask,
        "volume_mm3": vol_mm3,
        "area_mm2": area_mm2,
        "femoral_head_centre_lps": {f"femur_{s}": tuple(float(v) for v in hips[s].c) for s in sides},
        "femoral_head_radius_mm": {f"femur_{s}": float(R) for s in sides},
        "params": {k: (v if not isinstance(v, np.floating) else float(v)) for k, v in p.items()},
    }
    vol = Volume(arr, spacing, origin, np.eye(3), metadata={"modality": "CT", "phantom": dict(truth["params"]),
                                                            "phantom_seed": int(seed)})
    return vol, truth


def _render(shape_fields, names, p: dict, shape, origin, zlo: float, has_metal: bool,
            rng: np.random.Generator, step: int = 8):
    """Paint, blur, average down and add noise: the scan and the truth of bones ``names``.

    ``shape_fields(P)`` gives the signed distances (mm) of every structure on the eval grid ``P``
    (``skin``, ``metal``, each bone, ``canal_<side>`` / ``canal``). The image is made on a fine
    grid (2 x 2 fine pixels per scan pixel in plane, slices of <= 1 mm along z); the shapes are
    evaluated on a grid of the scan's pixels and interpolated linearly to the fine grid (the
    truth is that interpolated shape: image and truth agree exactly). Returns (int16 HU array,
    masks {name: bool}, metal mask, volume_mm3 {name}, area_mm2 {name}).
    """
    nk, nj, ni = shape
    px, sk = float(p["pixel"]), float(p["slice"])
    fi = 2
    fk = int(np.ceil(sk / 1.0))
    hxy, hz = px / fi, sk / fk
    h_f = (hxy * hxy * hz) ** (1 / 3)
    sig_xy = p["psf"] / hxy
    sig_z = 0.25 * sk / hz
    halo = int(np.ceil(3 * sig_z)) + 1
    ex = (origin[0] + np.arange(-1, ni + 1) * px).astype(np.float32)
    ey = (origin[1] + np.arange(-1, nj + 1) * px).astype(np.float32)
    img = np.empty((nk, nj, ni), np.float32)
    occ_coarse = {n: np.empty((nk, nj, ni), np.float32) for n in names}
    metal_coarse = np.zeros((nk, nj, ni), np.float32)
    fine_occ = {n: np.empty((nk * fk, nj * fi, ni * fi), np.uint8) for n in names}
    tex_rng = np.random.default_rng(rng.integers(2**32))
    for k0 in range(0, nk, step):
        k1 = min(nk, k0 + step)
        kf0, kf1 = k0 * fk - halo, k1 * fk + halo  # fine slices of this slab, with the blur's halo
        ez = (zlo + (np.arange(kf0, kf1) + 0.5) * hz).astype(np.float32)
        P = (ex[None, None, :], ey[None, :, None], ez[:, None, None])
        fields = shape_fields(P)
        tex = tex_rng.standard_normal((kf1 - kf0, nj + 2, ni + 2)).astype(np.float32)
        fields["tex"] = ndimage.gaussian_filter(tex, (1.0 / hz, 1.0 / px, 1.0 / px))
        fine = {n: _upsample(f, fi) for n, f in fields.items() if f is not None}
        if not has_metal:
            fine["metal"] = None
        hu, occ, met = _paint(fine, names, p, h_f)
        del fine
        hu = ndimage.gaussian_filter(hu, (sig_z, sig_xy, sig_xy), mode="nearest", truncate=3.0)
        inner = slice(halo, halo + (k1 - k0) * fk)
        img[k0:k1] = _block_mean(hu[inner], fk, fi)
        for n in names:
            o = occ[n][inner]
            occ_coarse[n][k0:k1] = _block_mean(o, fk, fi)
            fine_occ[n][k0 * fk:k1 * fk] = np.round(o * 255).astype(np.uint8)
        if met is not None:
            metal_coarse[k0:k1] = _block_mean(met[inner], fk, fi)
    img += rng.normal(0.0, p["noise"], img.shape).astype(np.float32)
    arr = np.clip(np.round(img), -1024, 32767).astype(np.int16)
    masks = {n: occ_coarse[n] >= 0.5 for n in names}
    fine_vox = hxy * hxy * hz
    zc0, zc1 = origin[2], origin[2] + (nk - 1) * sk
    vol_mm3 = {n: float(fine_occ[n].sum(dtype=np.int64) / 255.0 * fine_vox) for n in names}
    area_mm2 = {n: _fine_area(fine_occ[n], (hz, hxy, hxy), zlo, zc0, zc1) for n in names}
    return arr, masks, metal_coarse >= 0.5, vol_mm3, area_mm2


def _upsample(f: np.ndarray, fi: int) -> np.ndarray:
    """Linear interpolation in plane of an eval-grid field (nodes at the scan's pixels with one node
    of margin) to the fine grid (``fi`` fine pixels per scan pixel). Each of the ``fi`` phases of the
    fine grid is a weighted sum of two shifted slices (no gathers)."""
    f = np.asarray(f, np.float32)
    for ax in (1, 2):
        n = f.shape[ax] - 2
        shape = list(f.shape)
        shape[ax] = n * fi
        out = np.empty(shape, np.float32)
        for r in range(fi):
            u = (r + 0.5) / fi + 0.5  # fine pixel r of scan pixel m sits at node m + u
            c = int(np.floor(u))
            w = np.float32(u - c)
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            dst = [slice(None)] * 3
            lo[ax], hi[ax], dst[ax] = slice(c, c + n), slice(c + 1, c + 1 + n), slice(r, None, fi)
            out[tuple(dst)] = f[tuple(lo)] * (np.float32(1) - w) + f[tuple(hi)] * w
        f = out
    return f


def _block_mean(a: np.ndarray, fk: int, fi: int) -> np.ndarray:
    """Mean over blocks of fk x fi x fi fine voxels (strided sums: 3-4x faster than a reshaped mean)."""
    nk, nj, ni = a.shape[0] // fk, a.shape[1] // fi, a.shape[2] // fi
    out = np.zeros((nk, nj, ni), np.float32)
    for r in range(fk):
        for q in range(fi):
            for s in range(fi):
                out += a[r:nk * fk:fk, q:nj * fi:fi, s:ni * fi:fi]
    out *= np.float32(1.0 / (fk * fi * fi))
    return out


def _near_box(d: np.ndarray, reach: float) -> tuple[slice, ...] | None:
    """Slices of the fine slab where ``d`` (mm, 1-Lipschitz) may be below ``reach``: tested on every
    2nd voxel with 3 mm to spare, grown by 2 voxels; None when nowhere."""
    sub = d[::2, ::2, ::2] < reach + 3.0
    if not sub.any():
        return None
    box = []
    for ax in range(3):
        nz = np.flatnonzero(sub.any(axis=tuple(a for a in range(3) if a != ax)))
        box.append(slice(max(2 * int(nz[0]) - 2, 0), min(2 * int(nz[-1]) + 3, d.shape[ax])))
    return tuple(box)


def _frac(d: np.ndarray, h: float) -> np.ndarray:
    return np.clip(0.5 - d / h, 0.0, 1.0).astype(np.float32)


def _shape_fields(P, hips, sacrum, metal, body_c, body_r, fat_mm) -> dict:
    """Signed distances (mm, approximate, < 0 inside) of every structure on the eval grid ``P``."""
    shape = np.broadcast_shapes(P[0].shape, P[1].shape, P[2].shape)
    rad = np.sqrt(((P[0] - body_c[0]) / body_r[0]) ** 2 + ((P[1] - body_c[1]) / body_r[1]) ** 2)
    out = {"skin": np.broadcast_to((rad - 1.0) * min(body_r), shape).astype(np.float32)}
    out["metal"] = _capsule(P, metal[1], metal[2], metal[3]).astype(np.float32) if metal is not None else None
    pelvis = None
    fem = {}
    for side, hp in hips.items():
        fd = hp.femur(P)
        fem[side] = fd
        hb = np.maximum(hp.hip_bone(P), hp.hip_cut(P, fd))
        out[f"femur_{side}"] = fd.astype(np.float32)
        out[f"canal_{side}"] = hp.canal(P).astype(np.float32)
        pelvis = hb if pelvis is None else _smin(pelvis, hb, 8.0)
    if sacrum is not None:
        sac = _ellipsoid(P, sacrum[0], sacrum[1])
        for hp in hips.values():
            sac = _smin(sac, _capsule(P, *hp.posterior), 8.0)
        pelvis = _smin(pelvis, sac, 10.0)
        for side, hp in hips.items():  # keep the joint spaces free
            pelvis = np.maximum(pelvis, hp.hip_cut(P, fem[side]))
    out["pelvis"] = pelvis.astype(np.float32)
    return out


def _paint(fine: dict, names, p, h):
    """HU of a slab of the fine grid, the occupancy of each bone and of the metal."""
    d_skin = fine["skin"]
    f_body = _frac(d_skin, h)
    f_fat = f_body - _frac(d_skin + p["fat_mm"], h)
    hu = (-1000.0 * (1 - f_body) + p["fat_hu"] * f_fat + p["muscle_hu"] * (f_body - f_fat)).astype(np.float32)
    tex = fine["tex"]
    tex *= 0.15 * p["trab_hu"] / max(float(tex.std()), 1e-6)
    t = p["cortex"]
    f_met = _frac(fine["metal"], h) if fine.get("metal") is not None else None
    occ = {}
    for name in names:
        occ[name] = np.zeros(d_skin.shape, np.float32)
        b = _near_box(fine[name], 0.5 * h)  # bone only paints where it is (f > 0): d < h / 2
        if b is None:
            continue
        d = fine[name][b]
        canal = fine.get(name.replace("femur", "canal")) if name.startswith("femur") else None
        f = _frac(d, h)
        f_in = _frac(d + t, h)
        f_cav = np.minimum(_frac(canal[b], h), f_in) if canal is not None else 0.0
        if f_met is not None:
            f = np.clip(f - f_met[b], 0, 1)
            f_in = np.minimum(f_in, f)
            f_cav = np.minimum(f_cav, f_in)
        hu[b] = (hu[b] * (1 - f) + p["cortex_hu"] * (f - f_in) + (p["trab_hu"] + tex[b]) * (f_in - f_cav)
                 + p["marrow_hu"] * f_cav).astype(np.float32)
        occ[name][b] = f
    if f_met is not None:
        hu = (hu * (1 - f_met) + p["metal_hu"] * f_met).astype(np.float32)
    return hu, occ, f_met


def _fine_area(occ_u8: np.ndarray, spacing_kji, z0_edge: float, zc0: float, zc1: float) -> float:
    """Area (mm2) of the 50 % surface of a fine occupancy between slice centres ``zc0``..``zc1``
    (VTK flying edges on the bone's bounding box; triangles counted by their centroid's z)."""
    from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D

    if occ_u8.max() < 128:
        return 0.0
    box = []
    for ax in range(3):
        nz = np.flatnonzero(occ_u8.max(axis=tuple(a for a in range(3) if a != ax)))
        box.append(slice(max(int(nz[0]) - 1, 0), min(int(nz[-1]) + 2, occ_u8.shape[ax])))
    box = tuple(box)
    sub = np.ascontiguousarray(occ_u8[box])
    im = vtkImageData()
    im.SetDimensions(sub.shape[2], sub.shape[1], sub.shape[0])
    im.SetSpacing(spacing_kji[2], spacing_kji[1], spacing_kji[0])
    im.SetOrigin(0.0, 0.0, z0_edge + (box[0].start + 0.5) * spacing_kji[0])
    im.GetPointData().SetScalars(numpy_to_vtk(sub.ravel(), deep=True))
    fe = vtkFlyingEdges3D()
    fe.SetInputData(im)
    fe.SetValue(0, 127.5)
    fe.ComputeNormalsOff()
    fe.ComputeGradientsOff()
    fe.ComputeScalarsOff()
    fe.Update()
    poly = fe.GetOutput()
    if poly.GetNumberOfPolys() == 0:
        return 0.0
    pts = vtk_to_numpy(poly.GetPoints().GetData()).astype(np.float64)
    tri = vtk_to_numpy(poly.GetPolys().GetConnectivityArray()).reshape(-1, 3)
    t = pts[tri]
    cz = t[:, :, 2].mean(axis=1)
    keep = (cz >= zc0) & (cz <= zc1)
    cr = np.cross(t[keep, 1] - t[keep, 0], t[keep, 2] - t[keep, 0])
    return float(0.5 * np.linalg.norm(cr, axis=1).sum())
