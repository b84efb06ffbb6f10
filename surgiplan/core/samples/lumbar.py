"""Lumbar vertebrae, discs and sacrum on a lordotic curve, and the abdomen around them.

Each vertebra is built in its own frame (origin at the body centre; local x
left, y posterior, z along the body's superior axis) and placed on a lordotic
curve in the sagittal plane. Vertebral bodies are rounded elliptic cylinders
whose flat end plates bound the discs exactly; pedicles are elliptic cylinders
of known transverse width and height along a known axis; neighbouring
vertebrae keep >= 4 mm between their articular processes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from surgiplan.core.samples.phantom import Layer
from surgiplan.core.samples.sdf import (
    Capsule,
    Ellipsoid,
    EllipticCylinderZ,
    HalfSpace,
    Intersect,
    Offset,
    RoundBox,
    Shape,
    Sphere,
    Subtract,
    Transformed,
    Union,
    rotation,
    surface_point,
    unit,
)

LEVELS = ("L1", "L2", "L3", "L4", "L5")
# per level: body width, depth, height (mm), pedicle width, height (mm), pedicle medial angle (deg)
DIMS = {
    "L1": (40.0, 30.0, 25.0, 7.5, 15.0, 8.0),
    "L2": (42.0, 31.0, 26.0, 8.5, 14.5, 9.0),
    "L3": (45.0, 32.0, 27.0, 10.0, 14.0, 11.0),
    "L4": (48.0, 33.0, 27.0, 12.0, 13.5, 14.0),
    "L5": (51.0, 34.0, 26.0, 15.0, 13.0, 22.0),
}
DISC_H = {"L1": 8.5, "L2": 9.5, "L3": 10.5, "L4": 11.0, "L5": 11.0}  # disc below each level, mm
# sagittal tilt of each level's superior axis (deg, + = top tilted anteriorly); S1 end plate last
TILT = {"L1": -18.0, "L2": -10.0, "L3": -1.0, "L4": 9.0, "L5": 20.0, "S1": 36.0}
FACET_GAP = 4.0
PEDICLE_SAGITTAL = 0.0  # pedicle axis parallel to the end plates in the sagittal plane


@dataclass
class Vertebra:
    name: str
    centre: np.ndarray
    frame: np.ndarray  # columns: local x (left), y (posterior), z (superior)
    shape: Shape
    body: Shape
    top: tuple[np.ndarray, np.ndarray]  # superior end plate centre, normal
    bottom: tuple[np.ndarray, np.ndarray]  # inferior end plate centre, normal (pointing down)
    pedicles: dict


def _frame(tilt_deg: float) -> np.ndarray:
    return rotation([1.0, 0.0, 0.0], tilt_deg)  # +tilt: superior axis toward -y (anterior)


def _body(w: float, d: float, h: float) -> Shape:
    r = 2.5
    core = EllipticCylinderZ(0.0, 0.0, w / 2 - r, d / 2 - r, -h / 2 + r, h / 2 - r)
    body = Offset(core, r)
    # slightly concave posterior wall (the spinal canal's anterior border)
    return Subtract(body, EllipticCylinderZ(0.0, d / 2 + 7.0, 10.0, 8.5, -h, h))


def _vertebra_local(name: str) -> tuple[Shape, Shape, dict]:
    """Vertebra in its local frame (body centre at the origin)."""
    w, d, h, pw, ph, pmed = DIMS[name]
    body = _body(w, d, h)
    parts: list[Shape] = [body]
    ped = {}
    canal_half_w = 11.5 + 0.5 * LEVELS.index(name)
    for s in (-1.0, 1.0):  # right (-x), left (+x)
        side = "left" if s > 0 else "right"
        # isthmus centre: beside the canal, behind the body
        iso = np.array([s * (canal_half_w + pw / 2), d / 2 + 8.0, 1.0])
        # pedicle axis pointing anteriorly and medially (toward the body)
        ax = unit(rotation([0, 0, 1], -s * pmed) @ np.array([0.0, -1.0, 0.0]))
        ax = unit(rotation([1, 0, 0], PEDICLE_SAGITTAL) @ ax)
        u = unit(np.cross([0.0, 0.0, 1.0], ax))  # transverse direction of the pedicle cross-section
        fr = np.stack([u, np.cross(ax, u), ax], axis=1)
        if np.linalg.det(fr) < 0:
            fr[:, 0] = -fr[:, 0]
        ped_shape = Transformed(EllipticCylinderZ(0.0, 0.0, pw / 2, ph / 2, -9.0, 14.0), iso, fr)
        parts.append(ped_shape)
        pillar = np.array([s * (canal_half_w + pw / 2 + 1.0), d / 2 + 16.0, 0.0])
        # superior articular process (lateral) rises, inferior articular process (medial)
        # descends: the facet joint between a vertebra's IAP and the next one's SAP stays open
        parts.append(Ellipsoid(pillar + [s * 6.0, 1.0, h / 2 + 2.0], (3.5, 7.0, 8.5),
                               rotation([0, 0, 1], s * 25.0)))
        parts.append(Ellipsoid(pillar + [s * -6.0, 5.0, -h / 2 - 2.0], (3.5, 6.5, 7.0),
                               rotation([0, 0, 1], s * 25.0)))
        tp_len = 16.0 + 3.0 * (2 - abs(2 - LEVELS.index(name)))
        parts.append(Capsule(pillar + [0.0, -2.0, 1.0], pillar + [s * tp_len, -4.0, 3.0], 5.5, 3.5))
        parts.append(Ellipsoid(pillar, (8.0, 9.0, 10.0)))
        ped[side] = {"isthmus": iso, "axis": ax, "width": pw, "height": ph, "shape": ped_shape}
    lam = RoundBox(np.array([0.0, d / 2 + 24.0, -1.0]), (canal_half_w + 6.0, 3.5, 11.0), r=3.0)
    spin = Ellipsoid(np.array([0.0, d / 2 + 40.0, -4.0]), (3.5, 15.0, 10.0), rotation([1, 0, 0], 12.0))
    parts += [lam, spin]
    shape = Union(parts, k=3.0)
    canal = EllipticCylinderZ(0.0, d / 2 + 13.0, canal_half_w, 8.0, -h, h)
    shape = Subtract(shape, canal)
    return shape, body, ped


def lumbar_spine(s1_top: np.ndarray) -> tuple[list[Vertebra], Shape, dict]:
    """L1-L5 placed on the lordotic curve above the S1 end plate centre ``s1_top`` (LPS mm).

    Returns the vertebrae (final shapes keep FACET_GAP between neighbours), the sacrum,
    and the discs {name: shape}.
    """
    # walk up from S1
    n_s1 = _frame(TILT["S1"])[:, 2]
    placed = []
    below_top, below_n = np.asarray(s1_top, float), n_s1
    for name in reversed(LEVELS):
        w, d, h, *_ = DIMS[name]
        fr = _frame(TILT[name])
        up = fr[:, 2]
        disc_dir = unit(below_n + up)
        bottom = below_top + DISC_H[name] * disc_dir
        centre = bottom + (h / 2) * up
        placed.append((name, centre, fr, bottom, up))
        below_top, below_n = centre + (h / 2) * up, up
    placed.reverse()
    raws = []
    for name, centre, fr, _bottom, _up in placed:
        loc, body, ped = _vertebra_local(name)
        raws.append((Transformed(loc, centre, fr), Transformed(body, centre, fr), ped))
    # sacrum (S1 body, alae, tapering sacrum) in the S1 frame
    fs = _frame(TILT["S1"])
    s1c = np.asarray(s1_top, float) - 15.0 * fs[:, 2]
    sac_local = Union([
        Offset(EllipticCylinderZ(0.0, 0.0, 24.0, 15.0, -12.5, 12.5), 2.5),
        Ellipsoid([0.0, 8.0, -2.0], (50.0, 18.0, 16.0)),
        Capsule([0.0, 12.0, -10.0], [0.0, 30.0, -80.0], 26.0, 12.0),
        Ellipsoid([0.0, 40.0, -8.0], (18.0, 10.0, 18.0)),
    ], k=5.0)
    sacrum_raw = Subtract(Transformed(sac_local, s1c, fs),
                          Transformed(EllipticCylinderZ(0.0, 22.0, 12.0, 7.0, -40.0, 20.0), s1c, fs))
    verts = []
    for idx, (name, centre, fr, _bottom, up) in enumerate(placed):
        neighbours = [raws[j][0] for j in (idx - 1, idx + 1) if 0 <= j < len(raws)]
        if name == "L5":
            neighbours.append(sacrum_raw)
        final = Subtract(raws[idx][0], Union(neighbours), grow=FACET_GAP)
        h = DIMS[name][2]
        ped_world = {}
        for side, p in raws[idx][2].items():
            iso = centre + fr @ p["isthmus"]
            ax = fr @ p["axis"]
            ped_world[side] = {**p, "isthmus": iso, "axis": ax}
        verts.append(Vertebra(name, centre, fr, final, raws[idx][1], (centre + h / 2 * up, up),
                              (centre - h / 2 * up, -up), ped_world))
    sacrum = Subtract(sacrum_raw, raws[-1][0], grow=FACET_GAP)
    # discs between end plates
    discs = {}
    chain = [(v.name, v) for v in verts]
    for (n_up, v_up), nxt in zip(chain, chain[1:] + [("S1", None)], strict=True):
        n_lo, v_lo = nxt
        up_pt, up_n = v_up.bottom  # normal points down
        if v_lo is None:
            lo_pt, lo_n = np.asarray(s1_top, float), n_s1
            w, d = 48.0, 33.0
        else:
            lo_pt, lo_n = v_lo.top
            w, d = DIMS[n_lo][0], DIMS[n_lo][1]
        mid = 0.5 * (up_pt + lo_pt)
        fr_mid = _frame(0.5 * (TILT[n_up] + TILT[n_lo]))
        wu, du = DIMS[n_up][0], DIMS[n_up][1]
        cyl = Transformed(Offset(EllipticCylinderZ(0.0, 0.0, (w + wu) / 4 - 2.0, (d + du) / 4 - 2.0, -20, 20), 2.2),
                          mid, fr_mid)
        disc = Intersect([cyl, HalfSpace(up_pt, -up_n), HalfSpace(lo_pt, -lo_n)])
        discs[f"disc_{n_up}_{n_lo}"] = {"shape": disc, "mid": mid, "height": float(np.linalg.norm(up_pt - lo_pt)),
                                        "nucleus": Transformed(Ellipsoid([0, 3.0, 0],
                                                                         ((w + wu) / 8, (d + du) / 8, 3.0)),
                                                               mid, fr_mid)}
    return verts, sacrum, discs


def pedicle_truth(v: Vertebra, side: str) -> dict:
    """Entry point (posterior bone surface on the pedicle axis), anterior exit, width, angles."""
    p = v.pedicles[side]
    entry = surface_point(v.shape, p["isthmus"], -p["axis"])
    exit_ = surface_point(v.shape, p["isthmus"], p["axis"])
    return {"entry": entry, "exit": exit_, "axis": p["axis"], "width": p["width"], "height": p["height"],
            "isthmus": p["isthmus"]}


def abdomen_layers(z0: float, z1: float, spine_y: float, contrast: bool, kidneys_z: float) -> list[Layer]:
    """Skin, fat, abdominal wall, paraspinal and psoas muscles, organs of the lower abdomen."""
    body = EllipticCylinderZ(0.0, 0.0, 165.0, 118.0, z0 - 100, z1 + 100)  # well beyond the slab
    layers = [
        Layer("skin", body, "skin"),
        Layer("subcutaneous fat", Offset(body, -2.5), "fat"),
        Layer("abdominal wall muscles", Offset(body, -24.0), "muscle"),
        Layer("intra-abdominal fat", Offset(body, -34.0), "fat"),
    ]
    for s in (-1, 1):
        layers += [
            Layer("erector spinae", EllipticCylinderZ(s * 38.0, spine_y + 62.0, 30.0, 26.0, z0 - 10, z1 + 10),
                  "muscle"),
            Layer("psoas", Intersect([Capsule([s * 38.0, spine_y + 5.0, z1 + 30], [s * 52.0, spine_y - 10.0, z0 - 30],
                                              14.0, 24.0)]), "muscle"),
            Layer("quadratus lumborum", EllipticCylinderZ(s * 75.0, spine_y + 40.0, 18.0, 12.0, z0 - 10, z1 + 10),
                  "muscle"),
            Layer("kidney", Ellipsoid([s * 75.0, spine_y + 12.0, kidneys_z], (28.0, 22.0, 55.0),
                                      rotation([0, 0, 1], s * 30.0)), "kidney" if contrast else "muscle"),
        ]
    layers += [
        Layer("bowel", Ellipsoid([10.0, -45.0, 0.5 * (z0 + z1)], (95.0, 50.0, 140.0)), "bowel"),
        Layer("bowel gas", Capsule([-60.0, -60.0, z1 - 20], [-30.0, -70.0, z1 - 80], 12.0), "bowel_air"),
        Layer("bowel gas", Sphere([40.0, -70.0, 0.5 * (z0 + z1)], 10.0), "bowel_air"),
        Layer("colon", Capsule([-95.0, -10.0, z1 + 10], [-90.0, -20.0, z0 - 10], 20.0), "bowel"),
        Layer("colon gas", Capsule([-95.0, -18.0, z1 + 10], [-90.0, -26.0, z0 + 40], 9.0), "bowel_air"),
        Layer("mesenteric fat", Ellipsoid([0.0, -20.0, 0.5 * (z0 + z1)], (45.0, 20.0, 120.0)), "fat"),
    ]
    return layers
