"""The femoral head's radius from a blurred layer model of the CT across the hip joint.

Along rays from the head's centre through the socket, the CT passes the head's cancellous bone, its
cortex (subchondral plate), the joint space (cartilage, fluid: soft tissue), the socket's cortex and the
pelvis's cancellous bone. The scanner blurs these layers together: where the joint space is narrower
than about twice the blur (sigma ~1 mm, more along thick slices), the dip between the two cortices is
shallow and wider than the gap, and the radius where the CT falls half-way from the head's cortex peak
to the dip (:func:`hip_anatomy.surface_radius`) lies inside the head's surface; a thin cortex lowers
its peak and moves that point outward. Measured on the randomised CT phantoms
(benchmarks/eval_hip_phantoms.py, analytic truth): -0.64 to +0.39 mm, below -0.5 mm for joint spaces of
1.0-1.6 mm (issue 23's target: 0.5 mm).

:func:`layered_radius` fits the mean profile of the rays that see a joint space (binned by their angle
to the slice axis, each bin its own blur) by

    f(r) = sum over layers of value_l * [Phi((r - a_l) / sigma) - Phi((r - a_(l+1)) / sigma)]

with boundaries R - t (cancellous | cortex), R (the head's surface), R + g (the socket's surface),
R + g + t2, one cortex value for both cortices (between the brightest mean CT seen and
:data:`partial_volume.BONE_PEAK_CAP_HU`), the joint space at the soft-tissue value around the head, and
free cancellous values. The layer values enter linearly and are solved for each trial of (R, t, g,
t2, sigma per bin) (variable projection). Fixing the joint's value and bounding the cortex's removes
the trade-off between a thin dark layer's width and its depth, which otherwise leaves the gap (and so
R) free when the gap is narrower than the blur. Same phantoms: the radius error falls to within
+-0.3 mm (see docs/real_ct_data.md, "hip phantoms").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: the cortex is below this (metal is brighter), as in :mod:`partial_volume`
CORTEX_MAX_HU = 2000.0


def joint_crossings(vals: np.ndarray, radii: np.ndarray, *, min_drop_hu: float = 80.0,
                    min_rise_hu: float = 40.0) -> list[tuple[int, float, float]]:
    """Per ray (rows of ``vals``, CT at ``radii`` mm, evenly spaced) that sees the head's cortex, a dark
    joint space and bone again: (row, radius where the CT falls half-way from the cortex peak to the
    joint's minimum, radius of that minimum), in mm.

    The innermost peak (at least half-way between the ray's darkest and brightest CT: cortex, not a
    speck of cancellous bone) whose first local minimum within 6 mm is more than ``min_drop_hu`` lower
    and is followed by a rise of more than ``min_rise_hu`` within 6 mm: the socket's own cortex, seen
    from the head beyond the joint, is also such a peak, and must not be taken (see
    :func:`hip_anatomy.surface_radius`)."""
    step = float(radii[1] - radii[0])
    w = int(round(6.0 / step))
    out = []
    for n, v in enumerate(np.asarray(vals, float)):
        bright = 0.5 * (float(v.min()) + float(v.max()))
        peaks = np.nonzero((v[1:-1] >= v[:-2]) & (v[1:-1] > v[2:]) & (v[1:-1] >= bright))[0] + 1
        for p in peaks:
            seg = v[p + 1:p + w + 2]
            dips = np.nonzero(seg[:-1] <= seg[1:])[0]  # the first local minimum
            if not len(dips):
                continue
            m = p + 1 + int(dips[0])
            if v[p] - v[m] <= min_drop_hu or v[m + 1:m + 1 + w].max() <= v[m] + min_rise_hu:
                continue
            half = 0.5 * (v[p] + v[m])
            q = int(np.argmax(v[p:m + 1] < half))
            if q == 0:
                continue
            a, b = v[p + q - 1], v[p + q]
            out.append((n, float(radii[p + q - 1] + step * (a - half) / max(a - b, 1e-6)), float(radii[m])))
            break
    return out


def soft_tissue_hu(img: np.ndarray, sp: np.ndarray, centre_idx, r_mm: float) -> float:
    """The soft tissue's CT value (HU) around a head (centre index k, j, i; radius mm): the most
    frequent smoothed CT between -50 and 150 HU in the shell 5-25 mm outside the head (muscle; the
    joint's cartilage and fluid are alike). 50 HU when that shell holds too little of it."""
    c = np.asarray(centre_idx, float)
    reach = r_mm + 25.0
    box = tuple(slice(max(0, int(np.floor(c[a] - reach / sp[a]))),
                      min(img.shape[a], int(np.ceil(c[a] + reach / sp[a])) + 1)) for a in range(3))
    g = np.ogrid[tuple(slice(b.start, b.stop) for b in box)]
    d = np.sqrt(sum(((g[a] - c[a]) * sp[a]) ** 2 for a in range(3)))
    v = img[box][(d >= r_mm + 5.0) & (d <= reach)]
    v = v[(v >= -50.0) & (v <= 150.0)]
    if v.size < 200:
        return 50.0
    hist, edges = np.histogram(v, bins=np.arange(-50.0, 155.0, 5.0))
    hist = np.convolve(hist, np.ones(3) / 3.0, mode="same")
    k = int(np.argmax(hist))
    return float(0.5 * (edges[k] + edges[k + 1]))


@dataclass(frozen=True)
class LayerFit:
    """The layers across a hip joint (mm): the head's radius, its cortex, the joint space's width, the
    socket's cortex; the blur (Gaussian sigma, mm) per ray bin; the unit directions (k, j, i) of the rays
    that see the joint space."""

    radius_mm: float
    cortex_mm: float
    gap_mm: float
    socket_cortex_mm: float
    sigma_mm: tuple[float, ...]
    dirs: np.ndarray


def layered_radius(img: np.ndarray, sp: np.ndarray, centre_idx, r_guess: float, **kw) -> float | None:
    """The head's radius (mm) by the blurred layer model of the module docstring (:func:`fit_layers`);
    None when the joint space is not seen or the fit is not trusted."""
    fit = fit_layers(img, sp, centre_idx, r_guess, **kw)
    return None if fit is None else fit.radius_mm


def fit_layers(img: np.ndarray, sp: np.ndarray, centre_idx, r_guess: float, *, soft_hu: float | None = None,
               n_dir: int = 400, n_bins: int = 3, min_rays: int = 20, max_shift_mm: float = 1.5) -> LayerFit | None:
    """The layers across the joint by the blurred layer model of the module docstring.

    Parameters
    ----------
    img : ndarray [k, j, i]
        CT in HU (lightly smoothed).
    sp : (sk, sj, si)
        Spacing in mm.
    centre_idx : (k, j, i)
        The head's centre (index, sub-voxel).
    r_guess : float
        The head's radius (mm) within a few mm (the sphere fit's).
    soft_hu : float, optional
        The joint space's value (HU); by default :func:`soft_tissue_hu` around the head.
    n_dir, n_bins, min_rays : int
        Rays from the centre; bins of their angle to the slice axis (each its own blur); the least
        number of rays that must see the joint space.
    max_shift_mm : float
        None when the fitted radius lies further than this from the half-way radius of the same rays
        (the model does not describe the profile).

    Returns
    -------
    LayerFit or None
        None when fewer than ``min_rays`` rays see a joint space or the fit is not trusted.
    """
    from scipy.optimize import least_squares, lsq_linear
    from scipy.special import ndtr

    from surgiplan.core.segmentation.hip_anatomy import _ray_samples

    step = 0.25
    radii = np.arange(max(5.0, r_guess - 8.0), r_guess + 8.0, step)
    vals, dirs = _ray_samples(img, sp, centre_idx, radii, n_dir=n_dir)
    hits = joint_crossings(vals, radii)
    if len(hits) < min_rays:
        return None
    idx = np.array([h[0] for h in hits])
    r_half = float(np.median([h[1] for h in hits]))
    r_dip = float(np.median([h[2] for h in hits]))
    keep = np.abs(np.array([h[1] for h in hits]) - r_half) <= 3.0  # one sphere: no stray rays
    idx = idx[keep]
    uk2 = dirs[idx, 0] ** 2  # slice thickness blurs along k
    edges = np.quantile(uk2, np.linspace(0.0, 1.0, n_bins + 1))
    b = np.clip(np.searchsorted(edges, uk2, side="right") - 1, 0, n_bins - 1)
    sel = (radii >= r_half - 5.0) & (radii <= r_dip + 5.0)
    rr = radii[sel]
    profs = [vals[idx[b == q]][:, sel].mean(axis=0) for q in range(n_bins) if (b == q).sum() >= 5]
    if not profs:
        return None
    y = np.concatenate(profs)
    m_hu = soft_tissue_hu(img, sp, centre_idx, r_guess) if soft_hu is None else float(soft_hu)
    c_lo = min(float(y.max()), CORTEX_MAX_HU - 1.0)

    def design(x):
        R, t, g, t2 = x[:4]
        cols = []
        for s in x[4:]:
            cdf = [ndtr((rr - a) / s) for a in (R - t, R, R + g, R + g + t2)]
            cols.append(np.column_stack([1 - cdf[0], (cdf[0] - cdf[1]) + (cdf[2] - cdf[3]), cdf[1] - cdf[2], cdf[3]]))
        return np.concatenate(cols)

    def resid(x):
        a = design(x)
        yy = y - m_hu * a[:, 2]  # the joint space at the soft tissue's value
        a = a[:, [0, 1, 3]]  # cancellous (head), cortex (both), cancellous (socket)
        v = lsq_linear(a, yy, bounds=([-1000.0, c_lo, -1000.0], [CORTEX_MAX_HU, CORTEX_MAX_HU, CORTEX_MAX_HU])).x
        return a @ v - yy

    nb = len(profs)
    lb = np.array([r_half - 3.0, 0.2, 0.2, 0.2] + [0.3] * nb)
    ub = np.array([r_half + 3.0, 6.0, 6.0, 6.0] + [3.0] * nb)
    g0 = float(np.clip(2.0 * (r_dip - r_half), 0.6, 5.0))
    best = None
    for t0 in (0.8, 2.0, 3.5):  # thin to thick cortex: the least squares has local minima
        x0 = np.clip([r_half, t0, g0, t0] + [1.0] * nb, lb + 1e-3, ub - 1e-3)
        s = least_squares(resid, x0, bounds=(lb, ub), x_scale=0.5)
        if best is None or s.cost < best.cost:
            best = s
    x = best.x
    if abs(float(x[0]) - r_half) > max_shift_mm:
        return None
    return LayerFit(float(x[0]), float(x[1]), float(x[2]), float(x[3]), tuple(float(v) for v in x[4:]), dirs[idx])


def joint_shell(shape, sp: np.ndarray, centre_idx, fit: LayerFit, *, max_angle: float = 0.2,
                img: np.ndarray | None = None, away_from: np.ndarray | None = None) -> np.ndarray:
    """The voxels ([k, j, i] bool of ``shape``) whose centres lie in the joint space: between the head's
    surface (``fit.radius_mm`` from ``centre_idx``) and the socket's (``fit.gap_mm`` further), in the
    directions within ``max_angle`` (rad; about one ray spacing of 400 rays) of a ray that saw the joint.
    With ``img`` (smoothed CT), only voxels darker than the mean of the CT mid-way through the head's cortex and
    the socket's on their ray (a valley, not the neck's bone); with ``away_from`` (unit k, j, i: the neck), only outside
    a 60 degree cone around it.

    A voxel there is at least half outside the head and half outside the socket, so it is neither
    bone's; blur lifts a joint space narrower than about twice its sigma above any bone threshold
    (randomised CT phantoms: the femur and the hip bone each took their half of it, femur +6 to +9 %
    in volume)."""
    from scipy.spatial import cKDTree

    out = np.zeros(shape, bool)
    r0, r1 = fit.radius_mm, fit.radius_mm + fit.gap_mm
    if fit.gap_mm <= 0.0 or not len(fit.dirs):
        return out
    c = np.asarray(centre_idx, float)
    box = tuple(slice(max(0, int(np.floor(c[a] - r1 / sp[a]))), min(shape[a], int(np.ceil(c[a] + r1 / sp[a])) + 1))
                for a in range(3))
    g = np.stack(np.meshgrid(*[(np.arange(b.start, b.stop) - c[a]) * sp[a] for a, b in enumerate(box)],
                             indexing="ij"), axis=-1)
    d = np.linalg.norm(g, axis=-1)
    sel = (d > r0) & (d < r1)
    if not sel.any():
        return out
    u = g[sel] / d[sel][:, None]
    near, _ = cKDTree(fit.dirs).query(u, distance_upper_bound=2.0 * np.sin(max_angle / 2.0))
    ok = np.isfinite(near)
    if away_from is not None:
        ok &= (u @ np.asarray(away_from, float)) < 0.5  # outside a 60 deg cone: the neck's half-angle is 35-45 deg
    if img is not None:
        pos = np.argwhere(sel)[ok] + np.array([b.start for b in box])
        cs = c * sp
        inner = (cs + u[ok] * (r0 - 0.5 * fit.cortex_mm)) / sp
        outer = (cs + u[ok] * (r1 + 0.5 * fit.socket_cortex_mm)) / sp
        a = ndimage.map_coordinates(img, inner.T, order=1, mode="nearest")
        b = ndimage.map_coordinates(img, outer.T, order=1, mode="nearest")
        here = img[tuple(pos.T)]
        ok[np.nonzero(ok)[0][~(here < 0.5 * (a + b))]] = False
    sub = np.zeros(d.shape, bool)
    sub[sel] = ok
    out[box] = sub
    return out


def socket_side(shape, sp: np.ndarray, centre_idx, fit: LayerFit, *, reach_mm: float = 10.0,
                max_angle: float = 0.2, away_from: np.ndarray | None = None,
                up: np.ndarray | None = None) -> np.ndarray:
    """The voxels ([k, j, i] bool of ``shape``) beyond the socket's surface (``fit.radius_mm`` +
    ``fit.gap_mm`` from ``centre_idx``, up to ``reach_mm`` further) in the directions within ``max_angle``
    of a ray that saw the joint space or, with ``up`` (unit k, j, i: superior), within 60 degrees of up
    (the acetabular roof: thick slices blur the joint most along the slice axis, so the rays up the dome
    see it least), outside a 60 degree cone around ``away_from`` (the neck): the acetabulum, hip bone
    whatever a watershed said. The femur lies below its head: only its neck leaves the head's sphere."""
    from scipy.spatial import cKDTree

    out = np.zeros(shape, bool)
    r0 = fit.radius_mm + fit.gap_mm
    r1 = r0 + reach_mm
    if not len(fit.dirs):
        return out
    c = np.asarray(centre_idx, float)
    box = tuple(slice(max(0, int(np.floor(c[a] - r1 / sp[a]))), min(shape[a], int(np.ceil(c[a] + r1 / sp[a])) + 1))
                for a in range(3))
    g = np.stack(np.meshgrid(*[(np.arange(b.start, b.stop) - c[a]) * sp[a] for a, b in enumerate(box)],
                             indexing="ij"), axis=-1)
    d = np.linalg.norm(g, axis=-1)
    sel = (d > r0) & (d <= r1)
    if not sel.any():
        return out
    u = g[sel] / d[sel][:, None]
    near, _ = cKDTree(fit.dirs).query(u, distance_upper_bound=2.0 * np.sin(max_angle / 2.0))
    ok = np.isfinite(near)
    if up is not None:
        ok |= (u @ np.asarray(up, float)) > 0.5
    if away_from is not None:
        ok &= (u @ np.asarray(away_from, float)) < 0.5
    sub = np.zeros(d.shape, bool)
    sub[sel] = ok
    out[box] = sub
    return out


def open_joint_shells(img: np.ndarray, sp: np.ndarray, heads, femurs: list[np.ndarray],
                      hip: np.ndarray, up_sign: int = 1,
                      fits: list | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """``femurs`` and ``hip`` (bool [k, j, i]) without each head's :func:`joint_shell` (the layers fitted
    by :func:`fit_layers` from the head's centre and radius; valleys only, outside a cone around the
    femur's neck: :func:`hip_anatomy.neck_direction`), and the femur's voxels on the socket's side of the
    joint (:func:`socket_side`; superior is +k when ``up_sign`` is 1), with what they alone joined to the
    femur, given to the hip bone (thick
    slices: the femur's watershed front crossed the blurred joint and took part of the acetabulum, femur
    +11 to +17 % on phantoms 1024, 1047, 1058); unchanged where the fit is not trusted. ``fits``, when
    given, receives each head's :class:`LayerFit` (or None), in the order of ``heads``."""
    from surgiplan.core.segmentation.hip_anatomy import neck_direction

    femurs = [f.copy() for f in femurs]
    hip = hip.copy()
    shells = np.zeros(hip.shape, bool)
    for h, f in zip(heads, femurs, strict=True):
        fit = fit_layers(img, sp, h.centre, h.radius_mm)
        if fits is not None:
            fits.append(fit)
        if fit is None:
            continue
        neck = neck_direction(f, sp, h)
        shells |= joint_shell(hip.shape, sp, h.centre, fit, img=img, away_from=neck)
        move = f & socket_side(hip.shape, sp, h.centre, fit, away_from=neck, up=np.array([up_sign, 0.0, 0.0]))
        if not move.any():
            continue
        f &= ~move
        lab, n = ndimage.label(f)
        if n > 1:  # pieces cut off from the femur by the socket's side: the acetabulum's, too
            sizes = np.bincount(lab.ravel())
            sizes[0] = 0
            touch = np.unique(lab[ndimage.binary_dilation(move) & f])
            cut = np.isin(lab, touch[(touch > 0) & (touch != int(np.argmax(sizes)))])
            move |= cut
            f &= ~cut
        hip |= move
    if shells.any():
        femurs = [f & ~shells for f in femurs]
        hip &= ~shells
    return femurs, hip


#: a femoral head in its socket shows the joint space on a good part of the directions from its centre: the
#: bony acetabulum is about a hemisphere, so about half of the head's sphere in a real hip (the randomised CT
#: phantoms' sockets cover more: 69-91 % of 400 rays for every head found within 1 mm). Below this share the
#: "head" is doubted (phantoms: spheres 29-39 mm off the head, beside a stem or for no clear reason, 5-14 %)
MIN_JOINT_SHARE = 0.25
#: the head's cortex fitted across the joint this much thicker than the socket's (twice + 1 mm): the two
#: cortices and the joint space between them read as one band (phantoms: 4.8-6.0 mm against 0.2-1.0 mm
#: where the joint blurred away; within 0.8 mm of each other where it did not)
BAND_RATIO, BAND_EXTRA_MM = 2.0, 1.0


def joint_doubts(img: np.ndarray, sp: np.ndarray, head, name: str, *, n_dir: int = 400,
                 fit: LayerFit | None | bool = False) -> list[str]:
    """What is doubtful about a femoral head found by sphere votes (``head``: a
    :class:`hip_anatomy.Head`; ``name``: its femur's segment), each with what to do; [] when the joint
    space is seen around it as around a head in its socket.

    * The joint space (cortex, dark gap, bone: :func:`joint_crossings`) is seen on fewer than
      :data:`MIN_JOINT_SHARE` of ``n_dir`` rays from the centre: the sphere may not be the head (a stem's
      or a screw's, the socket's rim), and the femur may hold part of the hip bone or miss its head.
    * The layer model (:func:`fit_layers`) reads the head's cortex more than :data:`BAND_RATIO` times +
      :data:`BAND_EXTRA_MM` as thick as the socket's: a thin cortex and a narrow joint space blurred into
      one bright band (issue 23's phantoms 1001, 1004, 1020: cortex 0.8-1.2 mm, joint 1.0-1.6 mm), whose
      outer edge the votes took for the head's surface; the femur then holds the socket's cortex
      (radius +2.9 to +3.8 mm, femur +25 to +42 %). Blur alone cannot tell the gap's width from the two
      cortices' thickness there, so this is a doubt, not a correction.

    ``fit``: the head's :func:`fit_layers` if already computed (None: it was not trusted); by default
    it is fitted here.
    """
    from surgiplan.core.segmentation.hip_anatomy import _ray_samples

    radii = np.arange(max(5.0, head.radius_mm - 8.0), head.radius_mm + 8.0, 0.25)
    vals, _ = _ray_samples(img, sp, head.centre, radii, n_dir=n_dir)
    share = len(joint_crossings(vals, radii)) / float(n_dir)
    what = ("Check the head and the joint on a coronal slice; if the femur takes the socket's rim or misses "
            "its head, place a seed in the femoral head and one in the hip bone and separate from seeds.")
    if fit is False:
        fit = fit_layers(img, sp, head.centre, head.radius_mm, n_dir=n_dir)
    if fit is not None and fit.cortex_mm > BAND_RATIO * fit.socket_cortex_mm + BAND_EXTRA_MM:
        return [f"{name}: across the joint the head's cortex reads {fit.cortex_mm:.1f} mm thick and the socket's "
                f"{fit.socket_cortex_mm:.1f} mm: a thin cortex and a narrow joint space seem blurred into one band, "
                f"so the femur's surface (radius {fit.radius_mm:.1f} mm) may lie at the socket's outer edge, up to "
                f"{fit.cortex_mm - fit.socket_cortex_mm:.1f} mm too far out, with the socket's cortex in the femur. "
                + what]
    if share < MIN_JOINT_SHARE:
        return [f"{name}: the femoral head found (radius {head.radius_mm:.1f} mm) shows a joint space on only "
                f"{100 * share:.0f} % of the directions around it (a head in its socket: 40 % or more); it may not be "
                f"the head (a stem, a screw, the socket's rim) or its joint space is blurred away. " + what]
    return []
