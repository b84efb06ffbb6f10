"""Parametric geometry of the generic implants, each in its own anchor frame (mm).

Frames (the catalog JSON repeats them in words):

* ``cup`` / ``liner``: origin at the hemisphere centre (centre of rotation),
  +z = cup axis out through the opening; the shell lies at z <= 0.
* ``stem``: origin at the head centre for neck length 0; +z = stem axis
  (proximal); +x = medial (from the stem axis towards the head); the stem axis
  is the line x = -offset, y = 0. Neck direction is
  ``(sin(180 - neck_shaft_angle), 0, cos(180 - neck_shaft_angle))``.
  With ``options = {"head": "32/+4"}`` a head sphere is added at
  ``neck_offset`` mm along the neck.
* ``knee_femoral``: origin at the centre of the distal cut, +z proximal
  (femoral mechanical axis), +y anterior, x = y cross z; the component lies
  below the distal cut down to z = -distal_thickness.
* ``tibial_tray`` / ``tibial_insert``: origin at the centre of the tray's
  undersurface (on the tibial cut), +z proximal, +y anterior.
* ``pedicle_screw``: origin at the entry point (shank meets head), +z the
  insertion direction, tip at z = length; the head lies at z < 0.
* ``rod``, ``stent``: origin at the centre, +z along the axis.
* ``plate``: origin at the centre of the bone-contact surface, +z away from
  the bone, +x along the plate.

Each generator returns ``(parts, anchors)``: named closed meshes and named
points/axes (3-vectors) in the frame.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyvista as pv

from surgiplan.core.planning.catalog.mesh_builders import (
    extrude_profile,
    lathe,
    loft,
    rounded_rect,
    sdf_contour,
)

Parts = dict[str, pv.PolyData]
Anchors = dict[str, np.ndarray]


def _arc(radius: float, deg_from: float, deg_to: float, n: int) -> np.ndarray:
    t = np.radians(np.linspace(deg_from, deg_to, n))
    return np.column_stack([radius * np.cos(t), radius * np.sin(t)])


def _shell_profile(r_out: float, r_in: float, n: int = 24) -> np.ndarray:
    prof = np.vstack([_arc(r_out, -90, 0, n), _arc(r_in, 0, -90, n)])
    prof[0, 0] = prof[-1, 0] = 0.0
    return prof


def cup(p: dict, options: dict, catalog) -> tuple[Parts, Anchors]:
    r_out = p["outer_diameter"] / 2
    shell = lathe(_shell_profile(r_out, r_out - p["shell_thickness"]), 64)
    return {"shell": shell}, {"centre": np.zeros(3), "pole": np.array([0, 0, -r_out]),
                              "axis": np.array([0.0, 0, 1])}


def liner(p: dict, options: dict, catalog) -> tuple[Parts, Anchors]:
    body = lathe(_shell_profile(p["outer_diameter"] / 2, p["inner_diameter"] / 2), 64)
    return {"liner": body}, {"centre": np.zeros(3), "axis": np.array([0.0, 0, 1])}


def head(p: dict, options: dict, catalog) -> tuple[Parts, Anchors]:
    c = np.array([0, 0, p["neck_offset"]])
    s = pv.Sphere(radius=p["diameter"] / 2, center=c, theta_resolution=48, phi_resolution=32)
    return {"head": s.triangulate()}, {"centre": c, "axis": np.array([0.0, 0, 1])}


def stem_neck_direction(p: dict) -> np.ndarray:
    """Unit neck axis (towards the head) in the stem frame."""
    a = np.radians(180.0 - p["neck_shaft_angle"])
    return np.array([np.sin(a), 0.0, np.cos(a)])


def stem_levels(p: dict) -> tuple[float, float]:
    """(z of the tip, z of the shoulder) of a stem body in its own frame (mm)."""
    base = -p["neck_length"] * stem_neck_direction(p)
    z_top = float(base[2] + 12.0)
    return z_top - p["length"], z_top


def stem_widths(p: dict, z) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lateral, medial, antero-posterior) extent (mm) of the stem body at own-frame height(s) ``z``.

    Lateral and medial are measured from the stem axis; their sum is the medio-lateral width
    (what canal fill compares with the endosteal width on an AP view). Below the rounded tip
    and above the shoulder the formulas are those of the body's straight part.
    """
    z_tip, z_top = stem_levels(p)
    s = np.clip((np.asarray(z, float) - z_tip) / (z_top - z_tip), 0.0, 1.0)  # 0 distal .. 1 proximal
    rd = p["distal_diameter"] / 2
    lat = rd + (0.35 * p["proximal_ml_width"] - rd) * s
    med = rd + (0.65 * p["proximal_ml_width"] - rd) * s**2.2
    ap = 2 * rd + (p["proximal_ap_width"] - 2 * rd) * s
    return lat, med, ap


def stem(p: dict, options: dict, catalog) -> tuple[Parts, Anchors]:
    dn = stem_neck_direction(p)
    off = p["offset"]
    base = -p["neck_length"] * dn  # where the neck axis meets the stem axis
    z_tip, z_top = stem_levels(p)
    rings = []
    zs = np.linspace(z_tip, z_top, 28)
    for z in zs:
        s = (z - z_tip) / (z_top - z_tip)  # 0 distal .. 1 proximal
        lat, med, ap = (float(v) for v in stem_widths(p, z))
        if s < 0.04:  # rounded tip
            k = np.sqrt(max(s / 0.04, 0.05))
            lat, med, ap = lat * k, med * k, ap * k
        uv = rounded_rect(lat, med, ap, 32)
        zz = np.full(len(uv), z)
        if s > 0.8:  # oblique medial shoulder running into the neck
            zz = zz - np.maximum(uv[:, 0], 0) * np.tan(np.radians(50)) * (s - 0.8) / 0.2
        rings.append(np.column_stack([-off + uv[:, 0], uv[:, 1], zz]))
    body = loft(rings)
    # neck + trunnion: a cylinder from inside the body to just short of the head centre
    r_neck = p["neck_diameter"] / 2
    start = base + dn * 8.0
    stop = -dn * 2.0
    length = float(np.linalg.norm(stop - start))
    neck = pv.Cylinder(center=(start + stop) / 2, direction=dn, radius=r_neck, height=length,
                       resolution=32, capping=True).triangulate().clean().compute_normals(
                           auto_orient_normals=True)
    parts: Parts = {"body": body, "neck": neck}
    anchors: Anchors = {
        "head_centre": np.zeros(3),
        "neck_axis": dn,
        "axis": np.array([0.0, 0, 1]),
        "shaft_point": np.array([-off, 0.0, base[2]]),
        "tip": np.array([-off, 0.0, z_tip]),
        "shoulder": np.array([-off, 0.0, z_top]),
    }
    head_size = options.get("head")
    if head_size and catalog is not None:
        hp = catalog.get("hip_head").size(str(head_size))
        centre = dn * hp["neck_offset"]
        parts["head"] = pv.Sphere(radius=hp["diameter"] / 2, center=centre, theta_resolution=48,
                                  phi_resolution=32).triangulate()
        anchors["head_centre"] = centre
    return parts, anchors


def _contour_grid(d: np.ndarray, xs, ys, zs, h: float) -> pv.PolyData:
    """Closed surface d = 0 of a distance array (nz, ny, nx) sampled on the grid xs, ys, zs (mm)."""
    grid = pv.ImageData(dimensions=(len(xs), len(ys), len(zs)), spacing=(h, h, h), origin=(xs[0], ys[0], zs[0]))
    grid["sdf"] = np.asarray(d, float).ravel()
    solid = grid.contour([0.0], scalars="sdf", compute_normals=False).triangulate().clean()
    solid.clear_data()
    return solid.compute_normals(cell_normals=False, auto_orient_normals=True)


def _femoral_outline(p: dict) -> tuple[np.ndarray, dict[str, float]]:
    """Sagittal outline (y anterior, z proximal; mm) of the femoral component and its landmarks.

    Inner (bone) side: the five box cuts - posterior, posterior chamfer, distal, anterior
    chamfer, anterior; outer (articular) side: the anterior flange, then one elliptic J-curve
    through the distal condyle (``distal_thickness`` below the distal cut) to the posterior
    condyle (``posterior_thickness`` behind the posterior cut).
    """
    ap, td, tp, ta, c = p["ap"], p["distal_thickness"], p["posterior_thickness"], p["anterior_thickness"], p["chamfer"]
    box = ap - tp - ta
    yp, ya = -box / 2, box / 2
    hp = p.get("posterior_height", 0.5 * ap)
    ha = p.get("flange_height", 0.62 * ap)
    y0 = (ta - tp) / 2
    phi = np.radians(np.linspace(0, -180, 61))
    arc = np.column_stack([y0 + ap / 2 * np.cos(phi), c + (c + td) * np.sin(phi)])
    outline = np.vstack([
        [[yp - tp + 2.5, hp], [yp, hp], [yp, c], [yp + c, 0], [ya - c, 0], [ya, c], [ya, ha],
         [ya + 0.55 * ta, ha], [ya + ta, ha - 8.0]],
        arc[:-1],
        [[yp - tp, hp - 6.0]],
    ])
    return outline, {"yp": yp, "ya": ya, "y0": y0, "ha": ha, "hp": hp}


def knee_femoral(p: dict, options: dict, catalog) -> tuple[Parts, Anchors]:
    """Cruciate-retaining femoral component: anterior flange with a trochlear groove, chamfers,
    two distal/posterior condyles rounded medio-laterally, open intercondylar notch.

    Optional size parameters (defaults in brackets): ``notch_width`` [0.27 ml], ``notch_depth``
    (how far the notch runs forward from the posterior cut, as a fraction of the box) [0.55],
    ``groove_depth`` [2.5 mm], ``edge_radius`` [1.2 mm].
    """
    from surgiplan.core.planning.catalog.mesh_builders import extrusion_sdf, polygon_sdf

    ml, td, c = p["ml"], p["distal_thickness"], p["chamfer"]
    outline, k = _femoral_outline(p)
    yp, ya, y0 = k["yp"], k["ya"], k["y0"]
    w = p.get("notch_width", 0.27 * ml)
    y_front = yp + p.get("notch_depth", 0.55) * (ya - yp)
    gd = p.get("groove_depth", 2.5)
    r = p.get("edge_radius", 1.2)
    cw = (ml - w) / 2  # width of one condyle
    xc = w / 2 + cw / 2
    rg = 0.25 * ml  # trochlear groove radius

    b = np.asarray(outline)
    h = float(p.get("mesh_spacing", 0.9))
    xs = np.arange(-ml / 2 - 2 * h, ml / 2 + 2 * h, h)
    ys = np.arange(b[:, 0].min() - 2 * h, b[:, 0].max() + 2 * h, h)
    zs = np.arange(b[:, 1].min() - 2 * h, b[:, 1].max() + 2 * h, h)
    # the sagittal profile does not depend on x: its distance field on the (z, y) grid, broadcast
    zz2, yy2 = np.meshgrid(zs, ys, indexing="ij")
    d2 = polygon_sdf(yy2, zz2, outline)[:, :, None]
    z, y, x = np.meshgrid(zs, ys, xs, indexing="ij")  # (nz, ny, nx): x varies fastest, as VTK's points
    d = extrusion_sdf(d2 + r, x, ml / 2 - r) - r  # rounded edges
    # condyles rounded medio-laterally: elliptic cylinders along y, one per condyle (+ the middle band)
    ax, az, zc = 0.62 * cw, td + c + 25.0, c + 25.0
    ell = [(np.sqrt(((x - s * xc) / ax) ** 2 + ((z - zc) / az) ** 2) - 1.0) * ax for s in (-1.0, 1.0)]
    d = np.maximum(d, np.minimum(np.minimum(ell[0], ell[1]), np.abs(x) - w / 2 + 0.5))
    # intercondylar notch: a slot from the back, rounded at its front end
    notch = np.where(y > y_front - w / 2, np.hypot(x, y - (y_front - w / 2)) - w / 2, np.abs(x) - w / 2)
    d = np.maximum(d, -notch)
    # trochlear groove down the middle of the flange
    d = np.maximum(d, -(np.hypot(x, y - (ya + p["anterior_thickness"] + rg - gd)) - rg))
    solid = _contour_grid(d, xs, ys, zs, h)
    return {"femoral": solid}, {
        "distal_cut_centre": np.zeros(3),
        "distal_outer": np.array([xc, y0, -td]),
        "posterior_cut": np.array([0, yp, c]),
        "axis": np.array([0.0, 0, 1]),
    }


def _tray_outline(ml: float, ap: float, n: int = 72) -> np.ndarray:
    """Symmetric tibial plateau outline (x medio-lateral, y anterior; mm), counter-clockwise.

    A superellipse (exponent 2.6: straight-ish sides, round corners) of ``ml`` x ``ap``
    with the posterior cruciate notch: the back edge indented smoothly by 0.14 ``ap``
    over the middle 0.2 ``ml``. Smooth and simple (no self-intersection).
    """
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    e = 2.0 / 2.6
    x = ml / 2 * np.sign(np.cos(t)) * np.abs(np.cos(t)) ** e
    y = ap / 2 * np.sign(np.sin(t)) * np.abs(np.sin(t)) ** e
    notch = 0.14 * ap * np.exp(-((x / (0.1 * ml)) ** 2))
    y = np.where(y < 0, np.minimum(y + notch, -0.2 * ap), y)
    return np.column_stack([x, y])


def tibial_tray(p: dict, options: dict, catalog) -> tuple[Parts, Anchors]:
    """Tibial baseplate: plateau-shaped tray, a central stem (``keel_diameter`` tapering over
    ``keel_length``) and two keel fins running postero-laterally at 40 deg from the stem."""
    tray = extrude_profile(_tray_outline(p["ml"], p["ap"]), "z", 0.0, p["thickness"])
    rk = p["keel_diameter"] / 2
    L = p["keel_length"]
    stem_ = lathe(np.array([[0, -L], [rk * 0.55, -L], [rk * 0.7, -L + 2.0], [rk, -6.0], [rk, 0.5], [0, 0.5]]), 32)
    parts: Parts = {"tray": tray, "keel": stem_}
    fin_len = min(0.3 * p["ml"], 24.0)
    for sgn, name in ((1.0, "fin_lateral"), (-1.0, "fin_medial")):
        ang = np.radians(-90.0 + sgn * 50.0)  # from posterior (-y), turned 50 deg each way
        u = np.array([np.cos(ang), np.sin(ang)])
        # fin profile in its own (along, z) plane: full height at the stem, shorter towards its tip
        prof = np.array([[rk * 0.6, 0.0], [rk * 0.6 + fin_len, 0.0], [rk * 0.6 + fin_len, -8.0],
                         [rk * 0.6, -0.55 * L]])
        fin = extrude_profile(prof, "x", -1.0, 1.0)  # (y, z) profile swept over x in [-1, 1]: 2 mm thick
        rot = np.eye(4)
        rot[:3, :3] = np.array([[u[1], u[0], 0.0], [-u[0], u[1], 0.0], [0.0, 0.0, 1.0]])
        parts[name] = fin.transform(rot, inplace=False)
    return parts, {"cut_centre": np.zeros(3), "top_centre": np.array([0, 0, p["thickness"]]),
                   "axis": np.array([0.0, 0, 1])}


def tibial_insert(p: dict, options: dict, catalog) -> tuple[Parts, Anchors]:
    """Polyethylene insert on the tray: the plateau outline with two dished condylar
    surfaces (sphere radius 1.6 x the tray's AP), a low central eminence and the PCL notch.
    ``thickness`` is tray + insert at the lowest point of the dishes (the surgeon's number)."""
    tray_p = catalog.get("knee_tibial_tray").size(str(options.get("tray_size", "4")))
    lo, top = tray_p["thickness"], p["thickness"]
    outline = _tray_outline(tray_p["ml"] * 0.97, tray_p["ap"] * 0.95)
    dish_r = 1.6 * tray_p["ap"]
    xc = tray_p["ml"] * 0.23
    rim = 2.5  # the dishes' rims stand this high above their lowest points

    from surgiplan.core.planning.catalog.mesh_builders import extrusion_sdf, polygon_sdf

    h = 0.8
    xs = np.arange(-tray_p["ml"] / 2 - 2 * h, tray_p["ml"] / 2 + 2 * h, h)
    ys = np.arange(-tray_p["ap"] / 2 - 2 * h, tray_p["ap"] / 2 + 2 * h, h)
    zs = np.arange(lo - 2 * h, top + rim + 2 * h, h)
    yy2, xx2 = np.meshgrid(ys, xs, indexing="ij")
    d2 = polygon_sdf(xx2, yy2, outline)[None, :, :]  # the outline does not depend on z: (1, ny, nx)
    z, y, x = np.meshgrid(zs, ys, xs, indexing="ij")
    d = extrusion_sdf(d2, z - (lo + top + rim) / 2, (top + rim - lo) / 2)
    for s_ in (-1.0, 1.0):
        d = np.maximum(d, -(np.sqrt((x - s_ * xc) ** 2 + y ** 2 + (z - top - dish_r) ** 2) - dish_r))
    ins = _contour_grid(d, xs, ys, zs, h)
    return {"insert": ins}, {"cut_centre": np.zeros(3), "top_centre": np.array([0, 0, top]),
                             "axis": np.array([0.0, 0, 1])}


def pedicle_screw(p: dict, options: dict, catalog) -> tuple[Parts, Anchors]:
    r, L = p["diameter"] / 2, p["length"]
    core = 0.72 * r
    pitch = 2.8
    tip = min(6.0, 0.25 * L)
    prof = [[0, 0.0], [r * 0.9, 0.0]]
    z = 1.0
    while z < L - tip:
        prof += [[r, z], [core, z + pitch / 2]]
        z += pitch
    prof += [[core, L - tip], [r * 0.25, L - 0.8], [0, L]]
    shank = lathe(np.array(prof), 28)
    rh = p["head_diameter"] / 2
    hh = p["head_height"]
    head_ = lathe(np.array([[0, 0.5], [rh * 0.6, 0.5], [rh, -2], [rh, -hh], [0, -hh]]), 28)
    return {"shank": shank, "head": head_}, {"entry": np.zeros(3), "tip": np.array([0, 0, L]),
                                             "axis": np.array([0.0, 0, 1])}


def rod(p: dict, options: dict, catalog) -> tuple[Parts, Anchors]:
    r, L = p["diameter"] / 2, p["length"]
    prof = [[0, -L / 2]] + [[r * np.sin(t), -L / 2 + r * (1 - np.cos(t))] for t in np.linspace(0.3, np.pi / 2, 5)]
    prof += [[r * np.sin(t), L / 2 - r * (1 - np.cos(t))] for t in np.linspace(np.pi / 2, 0.3, 5)] + [[0, L / 2]]
    return {"rod": lathe(np.array(prof), 32)}, {"centre": np.zeros(3), "end_a": np.array([0, 0, -L / 2]),
                                                "end_b": np.array([0, 0, L / 2]),
                                                "axis": np.array([0.0, 0, 1])}


def plate(p: dict, options: dict, catalog) -> tuple[Parts, Anchors]:
    L, W, T = p["length"], p["width"], p["thickness"]
    n, s, rh = int(p["holes"]), p["hole_spacing"], p["hole_diameter"] / 2
    xs = (np.arange(n) - (n - 1) / 2) * s

    def sdf(x, y, z):
        # rounded slab minus holes (positive outside)
        qx = np.abs(x) - (L / 2 - W / 2)
        d_stadium = np.sqrt(np.maximum(qx, 0) ** 2 + y**2) - W / 2
        d = np.maximum(d_stadium, np.abs(z - T / 2) - T / 2)
        for hx in xs:
            d_hole = rh - np.sqrt((x - hx) ** 2 + y**2)
            d = np.maximum(d, d_hole)
        return d

    mesh = sdf_contour(sdf, (-L / 2, L / 2, -W / 2, W / 2, 0, T), 0.35)
    return {"plate": mesh}, {"centre": np.zeros(3), "end_a": np.array([-L / 2, 0, 0]),
                             "end_b": np.array([L / 2, 0, 0]), "axis": np.array([0.0, 0, 1]),
                             **{f"hole_{i + 1}": np.array([hx, 0, 0]) for i, hx in enumerate(xs)}}


def stent(p: dict, options: dict, catalog) -> tuple[Parts, Anchors]:
    R, L, k = p["diameter"] / 2, p["length"], int(p["crowns"])
    n_rings = max(3, int(round(L / 3.0)))
    zs = np.linspace(-L / 2, L / 2, n_rings + 1)
    lines, pts = [], []
    for i in range(n_rings):
        th = np.linspace(0, 2 * np.pi, 2 * k + 1)
        z = np.where(np.arange(2 * k + 1) % 2 == 0, zs[i], zs[i + 1])
        if i % 2:
            z = zs[i] + zs[i + 1] - z
        start = len(pts)
        pts.extend(np.column_stack([R * np.cos(th), R * np.sin(th), z]))
        lines.append(np.hstack([[2 * k + 1], np.arange(start, start + 2 * k + 1)]))
    wire = pv.PolyData(np.array(pts), lines=np.hstack(lines))
    struts = wire.tube(radius=max(p.get("strut_width", 0.1), 0.1), n_sides=6).triangulate()
    return {"stent": struts}, {"centre": np.zeros(3), "end_a": np.array([0, 0, -L / 2]),
                               "end_b": np.array([0, 0, L / 2]), "axis": np.array([0.0, 0, 1])}


GENERATORS: dict[str, Callable[[dict, dict, object], tuple[Parts, Anchors]]] = {
    "cup": cup,
    "liner": liner,
    "head": head,
    "stem": stem,
    "knee_femoral": knee_femoral,
    "tibial_tray": tibial_tray,
    "tibial_insert": tibial_insert,
    "pedicle_screw": pedicle_screw,
    "rod": rod,
    "plate": plate,
    "stent": stent,
}
