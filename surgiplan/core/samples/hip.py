"""Hip CT: pelvis with both acetabula, both proximal femurs, muscle, fat and skin.

Geometry (LPS mm; +x left, +y posterior, +z superior), built from analytic shapes
so the ground truth is exact:

* femoral heads: spheres; acetabula: hemispherical bony cups concentric with the
  heads, separated by a joint space of ``JOINT_MM``; the cup opening plane passes
  through the centre with its axis at the given Murray radiographic inclination
  and anteversion;
* femoral neck axis through the head centre at the given neck-shaft angle and
  anteversion (relative to the plane of the shaft axis and the medio-lateral
  axis); the shaft (anatomical axis) is adducted 7 deg and carries a cortical
  wall and a fatty medullary canal;
* pelvis: acetabular columns, iliac wings, ischia, pubic rami (obturator
  foramina), sacrum; ASIS and pubic tubercles as small bony prominences.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.samples.anatomy import (
    ANTERIOR,
    INFERIOR,
    POSTERIOR,
    SUPERIOR,
    angle_between,
    bone_layers,
    cup_axis,
    lateral,
    murray_radiographic,
    project,
)
from surgiplan.core.samples.dicom_writer import SeriesHeader
from surgiplan.core.samples.ground_truth import Truth
from surgiplan.core.samples.landmark_search import extreme_surface_point
from surgiplan.core.samples.phantom import Layer
from surgiplan.core.samples.scene import Scene, axial_grid
from surgiplan.core.samples.sdf import (
    Capsule,
    Ellipsoid,
    EllipticCylinderZ,
    HalfSpace,
    Intersect,
    Offset,
    Sphere,
    Subtract,
    Union,
    rotation,
    surface_point,
    unit,
)
from surgiplan.core.samples.tissues import COLORS, CT

#: lowest slice of the scan (mm, LPS z): the shaft down to 60 mm below the tip of the longest planned
#: stem (simulation studies crop the femur there)
Z_BOTTOM_MM = -240.0
JOINT_MM = 5.0  # radial gap between femoral head and acetabular bone (cartilage + joint)

# Per side: head radius (mm), neck-shaft angle, femoral anteversion, cup inclination/anteversion (deg)
SIDES = {
    "right": {"head_r": 24.0, "nsa": 128.0, "fav": 12.0, "ri": 44.0, "ra": 17.0},
    "left": {"head_r": 23.5, "nsa": 131.0, "fav": 15.0, "ri": 41.0, "ra": 14.0},
}
HEAD_CENTRE = {"right": np.array([-88.0, 0.0, 0.0]), "left": np.array([88.0, 0.0, 0.0])}
NECK_LENGTH = 55.0  # head centre to the shaft axis along the neck axis, mm
SHAFT_ADDUCTION = 7.0  # deg between the anatomical shaft axis and the scanner z axis (coronal)
# ASIS and pubic tubercle bumps: construction sphere (centre, x for the left side; radius) mm
ASIS_BUMP = ((114.0, -56.0, 78.0), 8.0)
TUBERCLE_BUMP = ((22.0, -50.0, -36.0), 6.0)


def femur(side: str) -> dict:
    """Shapes and axes of one proximal femur."""
    p = SIDES[side]
    lat = lateral(side)
    c = HEAD_CENTRE[side]
    t = np.radians(SHAFT_ADDUCTION)
    s = unit(-lat * np.sin(t) + INFERIOR * np.cos(t))  # distal along the shaft
    lv = unit(project(lat, s))  # lateral, perpendicular to the shaft
    a = ANTERIOR.copy()
    nsa, fav = np.radians(p["nsa"]), np.radians(p["fav"])
    w = unit(np.cos(nsa) * s + np.sin(nsa) * (np.cos(fav) * (-lv) + np.sin(fav) * a))  # to the head
    j = c - NECK_LENGTH * w  # where the neck axis meets the shaft axis
    fr = np.stack([lv, a, s], axis=1)
    head = Sphere(c, p["head_r"])
    neck = Capsule(c, j - 6 * w, 15.0, 19.0)
    metaphysis = Ellipsoid(j - 4 * s + 2 * lv, (21.0, 18.0, 34.0), fr)
    gt = Ellipsoid(j - 16 * s + 17 * lv - 5 * a, (12.0, 17.0, 24.0), fr)
    lt_dir = unit(-0.72 * lv - 0.69 * a)
    lt_centre = j + 30 * s - 12 * lv - 8 * a
    lt = Ellipsoid(lt_centre, (9.0, 8.0, 13.0), np.stack([lt_dir, unit(np.cross(s, lt_dir)), s], axis=1))
    shaft = Capsule(j - 8 * s, j + 330 * s, 16.5, 13.0)
    bone = Union([head, neck, metaphysis, gt, lt, shaft], k=5.0)
    canal = Capsule(j + 55 * s, j + 360 * s, 8.0, 7.2)
    diaphysis = HalfSpace(j + 70 * s, -s)  # inside: distal to 70 mm below the neck junction
    return {
        "bone": bone, "head": head, "canal": canal, "diaphysis": diaphysis, "centre": c,
        "shaft_dir": s, "neck_dir": w, "junction": j, "lt_centre": lt_centre, "lt_dir": lt_dir,
        "lateral": lv,
    }


# the iliac wings lie on an ellipsoidal shell around the false pelvis (outer surface, 6 mm plate)
_BOWL_C = np.array([0.0, -48.0, 30.0])
ILIAC_SHELL = Subtract(Ellipsoid(_BOWL_C, (118.0, 112.0, 170.0)), Ellipsoid(_BOWL_C, (112.0, 106.0, 164.0)))
ILIAC_CREST = Subtract(Ellipsoid(_BOWL_C, (121.0, 115.0, 173.0)), Ellipsoid(_BOWL_C, (110.0, 104.0, 162.0)))


def pelvis(femurs: dict) -> dict:
    """Shapes of the pelvis; the sockets are carved by the femurs grown by the joint space."""
    parts, shells, openings, cups = [], [], [], {}
    for side in ("right", "left"):
        lat = lateral(side)
        mx = lat[0]  # -1 right, +1 left
        c = HEAD_CENTRE[side]
        p = SIDES[side]
        n = unit(cup_axis(side, p["ri"], p["ra"]))
        cups[side] = n
        r_in = p["head_r"] + JOINT_MM
        shells.append(Intersect([Sphere(c, r_in + 10.0), HalfSpace(c, n)]))
        # the mouth of the socket: nothing beyond the opening plane within the rim's radius
        openings.append(Intersect([Capsule(c, c + 45.0 * n, r_in + 10.0), HalfSpace(c, -n)]))

        def P(x, y, z, mx=mx):
            return np.array([mx * x, y, z])

        # ilium: column above the acetabulum and the wing, a curved plate (part of an ellipsoidal
        # shell centred anteromedially: the iliac fossa is concave) running from the sacroiliac
        # joint (posteromedial) to the ASIS (anterolateral), flaring up to the crest
        parts.append(Capsule(c + P(-4, 6, 16), P(76, 18, 52), 23.0, 14.0))
        wing_h = unit(P(70, -112, 0))
        wing_t = unit(np.cross(wing_h, [0.0, 0.0, 1.0]))
        fan = Ellipsoid(P(80, 0, 64), (70.0, 45.0, 48.0), np.stack([wing_h, wing_t, [0.0, 0.0, 1.0]], 1))
        parts.append(Intersect([ILIAC_SHELL, fan]))
        crest = Intersect([ILIAC_CREST, Ellipsoid(P(80, 0, 64), (72.0, 47.0, 50.0),
                                                  np.stack([wing_h, wing_t, [0.0, 0.0, 1.0]], 1)),
                           HalfSpace(P(0, 0, 96), [0.0, 0.0, -1.0])])
        parts.append(crest)
        parts.append(Sphere(P(*ASIS_BUMP[0]), ASIS_BUMP[1]))  # anterior superior iliac spine
        parts.append(Sphere(P(104, -50, 40), 6.5))  # anterior inferior iliac spine
        parts.append(Capsule(P(78, 14, 48), P(46, 52, 58), 15.0, 12.0))  # posterior column to SI
        parts.append(Ellipsoid(P(47, 56, 66), (12.0, 22.0, 30.0)))  # sacroiliac region
        # ischium and tuberosity
        parts.append(Capsule(c + P(-6, 18, -18), P(62, 34, -66), 15.0, 11.0))
        parts.append(Ellipsoid(P(60, 32, -72), (14.0, 17.0, 12.0)))
        # pubis: superior ramus, body (symphysis gap at the midline), inferior ramus, tubercle
        parts.append(Capsule(c + P(-12, -16, -10), P(20, -46, -36), 12.0, 9.0))
        parts.append(Ellipsoid(P(13, -44, -44), (9.0, 12.0, 18.0)))
        parts.append(Capsule(P(16, -38, -58), P(52, 22, -76), 7.0, 8.0))
        parts.append(Sphere(P(*TUBERCLE_BUMP[0]), TUBERCLE_BUMP[1]))  # pubic tubercle
    # sacrum and coccyx (midline), fused with both sacroiliac regions
    parts.append(Ellipsoid(np.array([0.0, 52.0, 72.0]), (46.0, 20.0, 26.0)))
    parts.append(Capsule(np.array([0.0, 58.0, 66.0]), np.array([0.0, 92.0, -18.0]), 20.0, 7.0))
    raw = Union(parts, k=7.0)
    for o in openings:
        raw = Subtract(raw, o)
    raw = Union([raw, *shells], k=0.0)
    femur_union = Union([femurs["right"]["bone"], femurs["left"]["bone"]])
    bone = Subtract(raw, femur_union, grow=JOINT_MM)
    return {"bone": bone, "cups": cups}


def anterior_pelvic_landmarks(bone) -> tuple[dict, dict, np.ndarray]:
    """ASIS and pubic tubercles (per side, LPS mm) and the anterior pelvic plane's anterior normal.

    Each landmark is the most anterior point of the blended pelvis surface near its bump,
    "anterior" being the normal of the plane through both ASIS and the tubercles' midpoint:
    found by fixed-point iteration from the scanner's anterior axis (2 passes).
    """
    a = ANTERIOR.copy()
    for _ in range(6):
        pts = {}
        for (c, r), key in ((ASIS_BUMP, "asis"), (TUBERCLE_BUMP, "ptub")):
            for s in SIDES:
                centre = np.array([lateral(s)[0] * c[0], c[1], c[2]]) + r * ANTERIOR
                pts[key, s] = extreme_surface_point(bone, a, centre, 10.0)
        mid = 0.5 * (pts["ptub", "left"] + pts["ptub", "right"])
        n = unit(np.cross(pts["asis", "left"] - pts["asis", "right"], mid - pts["asis", "right"]))
        n = n if n @ ANTERIOR > 0 else -n
        done = np.linalg.norm(n - a) < 1e-4  # rad: the points then move < 0.002 mm
        a = n
        if done:
            break
    return ({s: pts["asis", s] for s in SIDES}, {s: pts["ptub", s] for s in SIDES}, a)


def soft_tissue_layers(z0: float, z1: float) -> list[Layer]:
    trunk = EllipticCylinderZ(0.0, 12.0, 168.0, 118.0, -95.0, z1 + 5)
    thighs = [EllipticCylinderZ(sx * 96.0, 14.0, 82.0, 88.0, z0 - 5, -55.0) for sx in (-1, 1)]
    body = Union([trunk, *thighs], k=25.0)
    m_trunk = EllipticCylinderZ(0.0, 14.0, 146.0, 94.0, -90.0, z1 + 6)
    m_thighs = [EllipticCylinderZ(sx * 96.0, 14.0, 66.0, 70.0, z0 - 6, -60.0) for sx in (-1, 1)]
    muscle = Union([m_trunk, *m_thighs], k=18.0)
    layers = [
        Layer("skin", body, "skin"),
        Layer("subcutaneous fat", Offset(body, -2.5), "fat"),
        Layer("muscle", muscle, "muscle"),
    ]
    # fat planes between muscle groups (gluteal, adductor, iliopsoas) and around the sciatic nerve
    for sx in (-1, 1):
        layers += [
            Layer("gluteal fat plane", Ellipsoid([sx * 70, 78, -5], (62, 7, 70),
                  rotation([0, 0, 1], sx * -25)), "fat"),
            Layer("intermuscular fat", Ellipsoid([sx * 110, -20, -120], (5, 40, 60)), "fat"),
            Layer("femoral triangle fat", Ellipsoid([sx * 70, -60, -30], (28, 16, 45)), "fat"),
            Layer("adductor fat plane", Ellipsoid([sx * 70, 20, -130], (5, 45, 50),
                  rotation([0, 0, 1], sx * 30)), "fat"),
            Layer("femoral vein", Capsule([sx * 72, -56, 60], [sx * 86, -44, z0 - 10], 6.5), "blood"),
            Layer("femoral artery", Capsule([sx * 84, -60, 60], [sx * 96, -48, z0 - 10], 4.0), "blood"),
            Layer("external iliac vessels fat", Ellipsoid([sx * 62, -40, 70], (12, 10, 30)), "fat"),
        ]
    layers += [
        Layer("pelvic fat", Ellipsoid([0, 15, 25], (72, 48, 70)), "fat"),
        Layer("bladder", Ellipsoid([0, -22, -8], (38, 28, 30)), "fluid"),
        Layer("rectum", Capsule([0, 70, 40], [0, 48, -55], 14.0, 12.0), "bowel"),
        Layer("rectal gas", Ellipsoid([0, 62, 18], (7, 5, 10)), "bowel_air"),
        Layer("sigmoid colon", Capsule([-30, 20, 95], [25, 35, 60], 16.0), "bowel"),
        Layer("sigmoid gas", Capsule([-20, 16, 95], [10, 26, 80], 6.0), "bowel_air"),
        Layer("small bowel", Ellipsoid([35, -35, 95], (45, 30, 30)), "bowel"),
        Layer("small bowel gas", Sphere([50, -45, 100], 7.0), "bowel_air"),
        Layer("psoas-iliacus fat border", Ellipsoid([0, 0, 110], (20, 20, 12)), "fat"),
    ]
    return layers


def build(size: str, seed: int) -> Scene:
    """The hip CT scene at ``size`` ('small' or 'full')."""
    # z from 240 mm below the head centres: the longest catalog stem (tip ~170 mm below) plus the
    # 60 mm of shaft a biomechanics study keeps below the stem tip fit in the scan
    grid = axial_grid((0.0, 12.0), 400.0, (Z_BOTTOM_MM, 132.0), size, small_mm=2.0, small_fov_mm=380.0)
    truth = Truth()
    lab = {
        "pelvis": truth.label(1, "pelvis", COLORS["pelvis"]),
        "femur_left": truth.label(2, "femur_left", COLORS["femur_left"]),
        "femur_right": truth.label(3, "femur_right", COLORS["femur_right"]),
    }
    fem = {side: femur(side) for side in ("right", "left")}
    pel = pelvis(fem)
    layers = soft_tissue_layers(grid.origin[2], grid.origin[2] + (grid.shape[0] - 1) * grid.spacing[2])
    layers += bone_layers("pelvis", pel["bone"], lab["pelvis"], cortex_mm=1.6)
    for side in ("right", "left"):
        f = fem[side]
        layers += bone_layers(
            f"femur_{side}", f["bone"], lab[f"femur_{side}"], cortex_mm=1.8,
            canal=f["canal"], diaphysis=f["diaphysis"], dense=Sphere(f["centre"], SIDES[side]["head_r"]),
        )

    # ------------------------------------------------------------- ground truth
    asis, ptub, app_normal = anterior_pelvic_landmarks(pel["bone"])
    lr = unit(asis["left"] - asis["right"])
    mid_pt = 0.5 * (ptub["left"] + ptub["right"])
    for s in ("left", "right"):
        truth.landmark(f"asis_{s}", asis[s], f"{s} anterior superior iliac spine: most anterior point of the "
                       "spine's (blended) bony prominence along the anterior pelvic plane's anterior normal "
                       "(APP frame, found self-consistently), searched within 10 mm of the prominence; on "
                       "the pelvis surface")
        truth.landmark(f"pubic_tubercle_{s}", ptub[s], f"{s} pubic tubercle: most anterior point of the "
                       "(blended) tubercle on the superior pubic ramus next to the symphysis, along the "
                       "anterior pelvic plane's anterior normal (APP frame, found self-consistently), "
                       "searched within 10 mm of the tubercle; on the pelvis surface")
    truth.axis("anterior_pelvic_plane", 0.25 * (asis["left"] + asis["right"]) + 0.5 * mid_pt, app_normal,
               "anterior pelvic plane through both ASIS and the midpoint of the pubic tubercles; "
               "direction is its anterior normal")
    pelvic_tilt = angle_between(project(app_normal, lr), ANTERIOR)
    truth.quantity("pelvic_tilt_app", pelvic_tilt, "deg", "angle between the anterior pelvic plane "
                   "normal and the scanner's anterior axis, in the sagittal plane (0 = APP vertical)")
    for s in ("right", "left"):
        f, p = fem[s], SIDES[s]
        lat = lateral(s)
        c = f["centre"]
        n = pel["cups"][s]
        truth.landmark(f"femoral_head_centre_{s}", c, f"centre of the spherical {s} femoral head")
        truth.landmark(f"acetabular_centre_{s}", c, f"centre of the hemispherical {s} acetabulum "
                       "(concentric with the femoral head)")
        truth.quantity(f"femoral_head_radius_{s}", p["head_r"], "mm", f"radius of the {s} femoral head sphere")
        truth.quantity(f"femoral_head_diameter_{s}", 2 * p["head_r"], "mm", f"diameter of the {s} femoral head")
        truth.quantity(f"acetabular_radius_{s}", p["head_r"] + JOINT_MM, "mm",
                       f"radius of the {s} acetabular bony socket (head radius + joint space)")
        truth.quantity(f"joint_space_{s}", JOINT_MM, "mm", "radial gap between head and socket bone")
        truth.axis(f"acetabular_axis_{s}", c, n, f"{s} cup axis: normal of the acetabular opening plane "
                   "(through the centre), pointing out of the socket")
        ri, ra = murray_radiographic(n, lr, app_normal)
        truth.quantity(f"acetabular_inclination_{s}", ri, "deg", "Murray radiographic inclination relative "
                       "to the anterior pelvic plane: angle between the longitudinal axis and the cup axis "
                       "projected on the APP (coronal)")
        truth.quantity(f"acetabular_anteversion_{s}", ra, "deg", "Murray radiographic anteversion: angle "
                       "between the cup axis and the anterior pelvic plane")
        # teardrop: inferomedial edge of the socket, on the opening plane, in the coronal plane
        r_in = p["head_r"] + JOINT_MM
        d = unit(-lat * np.cos(np.radians(p["ri"])) + INFERIOR * np.sin(np.radians(p["ri"])))
        d = unit(d - (d @ n) * n)
        truth.landmark(f"teardrop_{s}", c + r_in * d, f"{s} radiographic teardrop proxy: inferomedial point "
                       "of the acetabular socket rim (socket sphere at the opening plane, medial-inferior), "
                       "on the pelvis surface")
        lt = surface_point(f["bone"], f["lt_centre"], f["lt_dir"])
        truth.landmark(f"lesser_trochanter_{s}", lt, f"tip of the {s} lesser trochanter (most "
                       "posteromedial point of the prominence, on the femur surface)")
        truth.axis(f"femoral_canal_axis_{s}", f["junction"], f["shaft_dir"], f"{s} femoral anatomical "
                   "(shaft / medullary canal) axis, pointing distally; point = intersection with the neck axis")
        truth.axis(f"femoral_neck_axis_{s}", c, f["neck_dir"], f"{s} femoral neck axis through the head "
                   "centre, pointing from the neck base to the head")
        truth.quantity(f"neck_shaft_angle_{s}", angle_between(f["neck_dir"], f["shaft_dir"]), "deg",
                       f"{s} neck-shaft (CCD) angle between the neck axis and the distal shaft axis")
        ml = f["lateral"]
        fav = np.degrees(np.arctan2(f["neck_dir"] @ ANTERIOR, f["neck_dir"] @ (-ml)))
        truth.quantity(f"femoral_anteversion_{s}", fav, "deg", f"{s} femoral anteversion: angle between "
                       "the neck axis and the femoral coronal plane (shaft axis + medio-lateral scanner "
                       "axis, i.e. a posterior condylar axis parallel to x), measured perpendicular to the shaft")
        offset = np.linalg.norm(np.cross(c - f["junction"], f["shaft_dir"]))
        truth.quantity(f"femoral_offset_{s}", offset, "mm", f"{s} femoral offset: distance from the head "
                       "centre to the shaft axis")
    lld = (
        (truth.landmarks["lesser_trochanter_right"]["position"][2] - truth.landmarks["teardrop_right"]["position"][2])
        - (truth.landmarks["lesser_trochanter_left"]["position"][2] - truth.landmarks["teardrop_left"]["position"][2]))
    truth.quantity("leg_length_difference", lld, "mm", "radiographic leg-length difference: "
                   "(LT_R - TD_R) - (LT_L - TD_L) along z (+z superior), i.e. left leg length minus right "
                   "(positive = left leg longer)")
    truth.notes.append("Femoral heads are concentric with their acetabula; the joint space is exact.")
    _ = (POSTERIOR, SUPERIOR)
    header = SeriesHeader(
        modality="CT", patient_name="SYNTHETIC^HIP", patient_id="SYN-HIP-0001", patient_sex="F",
        patient_birth_date="19580101", study_description="CT PELVIS HIPS (synthetic phantom)",
        series_description=f"Hip 1.0 mm BONE ({size})" if size == "full" else f"Hip 2.0 mm ({size})",
        body_part="PELVIS", patient_position="FFS", uid_entropy=["hip", size, str(seed)],
        windows=[(400.0, 1800.0, "BONE"), (40.0, 400.0, "SOFT TISSUE")],
        extra={"KVP": "120", "ConvolutionKernel": "B60s", "XRayTubeCurrent": 250,
               "ReconstructionDiameter": f"{grid.spacing[0] * grid.shape[2]:.1f}",
               "DataCollectionDiameter": "500", "GantryDetectorTilt": "0"},
    )
    full = size == "full"
    return Scene(
        name="hip", grid=grid, layers=layers, tissues=CT, background=-1000.0,
        psf_fwhm_mm=(0.9, 0.9, 1.1) if full else (1.0, 1.0, 1.0),
        noise_sd=16.0 if full else 9.0, header=header, truth=truth,
    )
