"""Randomised CT phantoms of the knee with analytic truth, for measuring the knee preset.

Like :mod:`surgiplan.core.samples.ct_phantom` (the hip), deliberately NOT tuned to any preset:
every case draws its own anatomy and scanner, and the image is made the same way (painted on
a fine grid from signed distances, blurred by the point-spread function, averaged down to the
scan grid: true partial volume; then noise).

* Bones (LPS mm, the joint line at z = 0, +z proximal): a distal femur (a shaft with a fatty
  marrow canal, a flaring metaphysis, two condyles of sagittal radius 18-25 mm with an
  intercondylar notch), a proximal tibia (a plateau 60-80 mm wide with rounded rims, a
  tuberosity, a shaft), a patella in front of the femoral trochlea and a fibular head with its
  shaft behind and lateral to the tibia. Each joint space is 1-3 mm (femorotibial,
  patellofemoral, tibiofibular; drawn independently): nothing of one bone lies within the gap
  of the other, so partial volume bridges the narrowest spaces at a few hundred HU.
* Tissues: cortex 0.5-4 mm at 700-1800 HU, trabecular bone 100-400 HU with texture, marrow,
  muscle, a 3-15 mm fat layer, air outside; optional metal (3500-8000 HU): an intramedullary
  nail in the femur or a screw in the tibial plateau, replacing bone where it is.
* Scanner: pixels 0.5-0.9 mm, slices 1-3 mm, PSF sigma 0.5-1 mm, noise 5-30 HU. Partial fields
  of view: the scan may stop 3-10 mm above the patella (no femoral shaft) and/or 30-40 mm
  below the joint line (no tibial shaft; the fibular head cut).
* Right or left knee (lateral is -x for a right knee).

Truth as for the hip: ``masks`` (a voxel is a bone's when at least half of it is), ``volume_mm3``
(fine occupancy), ``area_mm2`` (fine surface between the first and last slice centres),
``metal_mask``, plus ``side`` and ``joint_line_z`` (mm).

Examples
--------
>>> vol, truth = make_knee_phantom(3)  # doctest: +SKIP
>>> sorted(truth["masks"])  # doctest: +SKIP
['femur', 'fibula', 'patella', 'tibia']
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.imaging.volume import Volume
from surgiplan.core.samples.ct_phantom import _capsule, _ellipsoid, _render, _smin, _sphere

KNEE_BONES = ("femur", "tibia", "patella", "fibula")
_OPTIONS = {
    "condyle_radius_mm", "joint_space_mm", "patella_space_mm", "fibula_space_mm", "cortex_mm", "cortex_hu",
    "trabecular_hu", "marrow_hu", "muscle_hu", "fat_hu", "fat_mm", "pixel_mm", "slice_mm", "psf_sigma_mm",
    "noise_hu", "side", "metal", "metal_hu", "cut_top", "cut_bottom", "slab_slices",
}


def _draw(rng: np.random.Generator, o: dict) -> dict:
    unknown = set(o) - _OPTIONS
    if unknown:
        raise TypeError(f"make_knee_phantom: unknown option(s) {sorted(unknown)}")

    def pick(key, value):
        return o[key] if key in o else value

    p = {
        "Rc": pick("condyle_radius_mm", rng.uniform(18.0, 25.0)),
        "gap": pick("joint_space_mm", rng.uniform(1.0, 3.0)),
        "gap_p": pick("patella_space_mm", rng.uniform(1.0, 3.0)),
        "gap_f": pick("fibula_space_mm", rng.uniform(1.0, 3.0)),
        "cortex": pick("cortex_mm", rng.uniform(0.5, 4.0)),
        "cortex_hu": pick("cortex_hu", rng.uniform(700.0, 1800.0)),
        "trab_hu": pick("trabecular_hu", rng.uniform(100.0, 400.0)),
        "marrow_hu": pick("marrow_hu", rng.uniform(-80.0, 60.0)),
        "muscle_hu": pick("muscle_hu", rng.uniform(30.0, 70.0)),
        "fat_hu": pick("fat_hu", rng.uniform(-120.0, -70.0)),
        "fat_mm": pick("fat_mm", rng.uniform(3.0, 15.0)),
        "pixel": pick("pixel_mm", rng.uniform(0.5, 0.9)),
        "slice": pick("slice_mm", rng.uniform(1.0, 3.0)),
        "psf": pick("psf_sigma_mm", rng.uniform(0.5, 1.0)),
        "noise": pick("noise_hu", rng.uniform(5.0, 30.0)),
        "side": pick("side", "right" if rng.random() < 0.5 else "left"),
        "metal": pick("metal", None if rng.random() < 0.75 else ("nail" if rng.random() < 0.5 else "screw")),
        "metal_hu": pick("metal_hu", rng.uniform(3500.0, 8000.0)),
        "cut_top": pick("cut_top", rng.random() < 0.25),
        "cut_bottom": pick("cut_bottom", rng.random() < 0.25),
    }
    if p["metal"] not in (None, "nail", "screw"):
        raise TypeError(f"make_knee_phantom: metal must be None, 'nail' or 'screw', got {p['metal']!r}")
    return p


class _Knee:
    """The bones of one knee; ``s`` = lateral direction along x (-1 right knee, +1 left)."""

    def __init__(self, rng: np.random.Generator, p: dict):
        self.s = -1.0 if p["side"] == "right" else 1.0
        s, Rc, gap = self.s, float(p["Rc"]), float(p["gap"])
        self.Rc, self.gap, self.gap_p, self.gap_f = Rc, gap, float(p["gap_p"]), float(p["gap_f"])
        cw = rng.uniform(17.0, 22.0)  # condyle centres at +-cw from the midline of the knee
        self.cond = [np.array([side * cw, 0.2 * Rc, gap + Rc]) for side in (-1.0, 1.0)]
        self.cond_r = [np.array([rng.uniform(12.0, 15.0), 1.15 * Rc, Rc]) for _ in range(2)]
        self.meta_c = np.array([0.0, 0.1 * Rc, gap + Rc + 18.0])
        self.meta_r = np.array([cw + rng.uniform(10.0, 14.0), 0.95 * Rc, 30.0])
        self.fshaft_r = rng.uniform(12.0, 15.0)
        self.fshaft = (np.array([0.0, 0.0, gap + Rc + 25.0]), np.array([0.0, -6.0, 320.0]))
        self.fcanal = (np.array([0.0, 0.0, gap + Rc + 60.0]), np.array([0.0, -6.0, 320.0]),
                       self.fshaft_r - rng.uniform(3.0, 6.0))
        self.notch = (np.array([0.0, 0.2 * Rc - 4.0, gap - 3.0]), np.array([0.0, 1.4 * Rc, gap + 0.4 * Rc]),
                      rng.uniform(5.0, 7.0))
        # tibia: a plateau (flat top at z = 0, rounded rims), a tuberosity, a shaft
        self.plat_c = np.array([0.0, 0.15 * Rc, -6.0])
        self.plat_r = np.array([cw + rng.uniform(14.0, 18.0), 1.25 * Rc, 30.0])
        self.tshaft_r = rng.uniform(13.0, 17.0)
        self.tshaft = (np.array([0.0, 0.1 * Rc, -25.0]), np.array([0.0, 0.0, -320.0]))
        self.tub = (np.array([0.0, 0.15 * Rc - 1.0 * Rc, -38.0]), rng.uniform(7.0, 10.0))
        # fibula: head behind and lateral to the tibia, 15-25 mm below the joint line
        fz = -rng.uniform(15.0, 25.0)
        self.fib_head_r = np.array([rng.uniform(9.0, 12.0), rng.uniform(9.0, 12.0), rng.uniform(11.0, 14.0)])
        fy = 0.15 * Rc + 0.55 * 1.25 * Rc
        x_surf = self._surface_x(fy, fz)
        self.fib_head_c = np.array([s * (x_surf + self.gap_f + 0.6 * self.fib_head_r[0]), fy, fz])
        self.fib_shaft = (self.fib_head_c + np.array([0.0, 0.0, -5.0]),
                          self.fib_head_c + np.array([s * 4.0, 5.0, -300.0]), rng.uniform(6.0, 8.0))
        # patella: in front of the trochlea, 5-20 mm above the condyles' centres
        pz = gap + Rc + rng.uniform(5.0, 20.0)
        self.pat_r = np.array([rng.uniform(19.0, 24.0), rng.uniform(9.0, 12.0), rng.uniform(20.0, 25.0)])
        y_front = self._femur_front(pz)
        self.pat_c = np.array([0.0, y_front - self.gap_p - 0.8 * self.pat_r[1], pz])

    def _surface_x(self, y: float, z: float) -> float:
        """|x| of the tibia's lateral surface at (y, z) (bisection on the implicit shape)."""
        lo, hi = 0.0, 120.0
        for _ in range(40):
            m = 0.5 * (lo + hi)
            p = (np.array([[[self.s * m]]]), np.array([[[y]]]), np.array([[[z]]]))
            lo, hi = (m, hi) if self.tibia_core(p)[0, 0, 0] < 0 else (lo, m)
        return lo

    def _femur_front(self, z: float) -> float:
        """y of the femur's anterior surface at x = 0, height z."""
        lo, hi = -120.0, 0.0  # lo outside (anterior), hi inside
        for _ in range(40):
            m = 0.5 * (lo + hi)
            p = (np.array([[[0.0]]]), np.array([[[m]]]), np.array([[[z]]]))
            lo, hi = (lo, m) if self.femur(p)[0, 0, 0] < 0 else (m, hi)
        return hi

    def femur(self, P):
        d = _smin(_ellipsoid(P, self.cond[0], self.cond_r[0]), _ellipsoid(P, self.cond[1], self.cond_r[1]), 4.0)
        d = _smin(d, _ellipsoid(P, self.meta_c, self.meta_r), 10.0)
        d = _smin(d, _capsule(P, *self.fshaft, self.fshaft_r * 1.15, self.fshaft_r), 12.0)
        return np.maximum(d, -_capsule(P, *self.notch))

    def canal(self, P):
        return _capsule(P, *self.fcanal)

    def tibia_core(self, P):
        d = np.maximum(_ellipsoid(P, self.plat_c, self.plat_r), P[2])  # flat plateau at z = 0
        d = _smin(d, _capsule(P, *self.tshaft, self.tshaft_r * 1.2, self.tshaft_r), 12.0)
        return _smin(d, _sphere(P, *self.tub), 6.0)

    def fields(self, P, femur_d=None) -> dict:
        f = self.femur(P) if femur_d is None else femur_d
        t = np.maximum(self.tibia_core(P), -(f - self.gap))  # the femorotibial joint space
        fib = _smin(_ellipsoid(P, self.fib_head_c, self.fib_head_r), _capsule(P, *self.fib_shaft), 6.0)
        fib = np.maximum(fib, -(t - self.gap_f))
        pat = np.maximum(_ellipsoid(P, self.pat_c, self.pat_r), -(f - self.gap_p))
        return {"femur": f, "tibia": t, "patella": pat, "fibula": fib}


def make_knee_phantom(seed: int, **overrides) -> tuple[Volume, dict]:
    """A seeded random CT of one knee with its truth.

    Parameters
    ----------
    seed : int
        Everything random (anatomy, tissues, scanner, noise) follows from it.
    **overrides
        Fix any drawn parameter: ``condyle_radius_mm``, ``joint_space_mm`` (femorotibial),
        ``patella_space_mm``, ``fibula_space_mm``, ``cortex_mm``, ``cortex_hu``, ``trabecular_hu``,
        ``marrow_hu``, ``muscle_hu``, ``fat_hu``, ``fat_mm``, ``pixel_mm``, ``slice_mm``,
        ``psf_sigma_mm``, ``noise_hu``, ``side`` ("right"/"left"), ``metal`` (None, "nail",
        "screw"), ``metal_hu``, ``cut_top`` (no femoral shaft in view), ``cut_bottom`` (the scan
        ends 30-40 mm below the joint line).

    Returns
    -------
    volume : Volume
        int16 HU, LPS, identity direction, metadata ``modality`` "CT", ``phantom`` (the drawn
        parameters) and ``body_part`` "KNEE".
    truth : dict
        ``masks`` {name: bool [k, j, i]} for femur, tibia, patella, fibula; ``volume_mm3`` and
        ``area_mm2`` {name: float} (in the field of view); ``metal_mask``; ``side``;
        ``joint_line_z`` (mm, LPS); ``params``.
    """
    rng = np.random.default_rng(seed)
    p = _draw(rng, overrides)
    knee = _Knee(np.random.default_rng(int(rng.integers(2**32))), p)
    Rc = knee.Rc
    # body: an ellipse around the bones with muscle and fat
    x_half = max(abs(knee.fib_head_c[0]) + knee.fib_head_r[0], knee.plat_r[0], knee.meta_r[0])
    y_front = knee.pat_c[1] - knee.pat_r[1]
    y_back = knee.plat_c[1] + knee.plat_r[1]
    body_c = np.array([0.0, 0.5 * (y_front + y_back) + rng.uniform(5.0, 15.0)])
    body_r = np.array([x_half + p["fat_mm"] + rng.uniform(8.0, 25.0),
                       0.5 * (y_back - y_front) + p["fat_mm"] + rng.uniform(6.0, 20.0)])
    # field of view: the body in plane (a 5 mm margin of air), z from the shafts or cut
    xlo, xhi = -body_r[0] - 5.0, body_r[0] + 5.0
    ylo, yhi = body_c[1] - body_r[1] - 5.0, body_c[1] + body_r[1] + 5.0
    zlo = -rng.uniform(30.0, 40.0) if p["cut_bottom"] else -rng.uniform(90.0, 130.0)
    zhi = (knee.pat_c[2] + knee.pat_r[2] + rng.uniform(3.0, 10.0)) if p["cut_top"] else rng.uniform(90.0, 130.0)
    px, sk = float(p["pixel"]), float(p["slice"])
    ni, nj, nk = int(np.ceil((xhi - xlo) / px)), int(np.ceil((yhi - ylo) / px)), int(np.ceil((zhi - zlo) / sk))
    origin = (xlo + px / 2, ylo + px / 2, zlo + sk / 2)
    metal = None
    if p["metal"] == "nail":
        r = 0.45 * (knee.fcanal[2])
        metal = (knee.fshaft[0] + np.array([0.0, 0.0, 10.0]), knee.fshaft[1], max(r, 3.5))
    elif p["metal"] == "screw":
        a = np.array([knee.s * 8.0, -0.3 * Rc, -8.0])
        metal = (a, a + np.array([knee.s * 30.0, 0.4 * Rc, -18.0]), rng.uniform(2.5, 3.5))

    def shape_fields(P):
        shape = np.broadcast_shapes(P[0].shape, P[1].shape, P[2].shape)
        rad = np.sqrt(((P[0] - float(body_c[0])) / float(body_r[0])) ** 2
                      + ((P[1] - float(body_c[1])) / float(body_r[1])) ** 2)
        out = {"skin": np.broadcast_to((rad - 1.0) * float(min(body_r)), shape).astype(np.float32)}
        out["metal"] = _capsule(P, *metal).astype(np.float32) if metal is not None else None
        for n, d in knee.fields(P).items():
            out[n] = np.broadcast_to(d, shape).astype(np.float32)
        out["canal"] = np.broadcast_to(knee.canal(P), shape).astype(np.float32)
        return out

    names = list(KNEE_BONES)
    arr, masks, metal_mask, vol_mm3, area_mm2 = _render(
        shape_fields, names, p, (nk, nj, ni), origin, zlo, metal is not None, rng,
        int(overrides.get("slab_slices", 8)))
    truth = {
        "masks": masks, "metal_mask": metal_mask, "volume_mm3": vol_mm3, "area_mm2": area_mm2,
        "side": p["side"], "joint_line_z": 0.0,
        "params": {k: (v if not isinstance(v, np.floating) else float(v)) for k, v in p.items()},
    }
    vol = Volume(arr, (px, px, sk), origin, np.eye(3),
                 metadata={"modality": "CT", "body_part": "KNEE", "phantom": dict(truth["params"]),
                           "phantom_seed": int(seed)})
    return vol, truth
