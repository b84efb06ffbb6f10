"""The right knee shared by the knee CT and the knee MRI: bones, cartilage, menisci, soft tissue.

LPS mm (+x patient left, so lateral is -x for this right knee). The distal femur
is built in a frame aligned with its mechanical axis (knee centre to hip centre),
the proximal tibia in a frame aligned with its mechanical axis (ankle centre to
knee centre); the two axes meet at the given varus angle. Condyles are
ellipsoids (their distal and posterior points are exact landmarks), the tibial
plateau is a plane with a posterior slope, and every joint keeps a gap by
subtracting the neighbouring bone grown by the joint space.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from surgiplan.core.samples.anatomy import ANTERIOR, angle_between, bone_layers, lateral, project
from surgiplan.core.samples.ground_truth import Truth
from surgiplan.core.samples.landmark_search import extreme_surface_point
from surgiplan.core.samples.phantom import Layer
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
from surgiplan.core.samples.tissues import COLORS

SIDE = "right"
HIP_CENTRE = np.array([-86.0, 4.0, 0.0])
KNEE_FEMUR = np.array([-95.0, 14.0, -455.0])  # femoral knee centre (distal condylar level)
ANKLE_CENTRE = np.array([-84.0, 26.0, -842.0])
JOINT_MM = 5.0  # femorotibial gap at the distal condyles (medial compartment), mm
PF_GAP_MM = 5.0  # patellofemoral gap, mm
TIBIAL_SLOPE = 7.0  # posterior slope of the plateau, deg
MPTA = 87.0  # medial proximal tibial angle, deg
FEMUR_AMA = 6.0  # angle between the femoral anatomical and mechanical axes, deg


@dataclass
class Knee:
    layers: list[Layer]
    truth: Truth
    centre: np.ndarray  # a point near the joint, for the field of view
    leg_axis: np.ndarray


def _frame(z_axis, lat_hint):
    z = unit(z_axis)
    x = unit(project(lat_hint, z))  # lateral
    y = np.cross(z, x)  # for a right knee with x lateral (-LPS x) and z up, y = cross(z, x)
    if y @ ANTERIOR < 0:
        y = -y
    return x, y, z  # lateral, anterior, superior


def build_knee(modality: str) -> Knee:
    """Layers and ground truth of the right knee for ``modality`` 'CT' or 'MR'."""
    lat = lateral(SIDE)
    truth = Truth()
    lab = {n: truth.label(i + 1, n, COLORS[n]) for i, n in enumerate(("femur", "tibia", "fibula", "patella"))}

    # ------------------------------------------------------------------ femur
    kf = KNEE_FEMUR
    fx, fy, fz = _frame(HIP_CENTRE - kf, lat)  # lateral, anterior, superior (mechanical)
    F = np.stack([fx, fy, fz], axis=1)

    def fp(x, y, z):  # femoral frame -> LPS
        return kf + x * fx + y * fy + z * fz

    cond_r = (13.0, 31.0, 24.0)  # ml, ap, si semi-axes of each condyle
    cond_m_c = fp(-22.0, -4.0, cond_r[2])  # medial condyle centre (medial = -fx)
    cond_l_c = fp(21.0, -2.0, cond_r[2] + 1.5)  # lateral condyle slightly shorter (valgus distal femur)
    cond_m = Ellipsoid(cond_m_c, cond_r, F)
    cond_l = Ellipsoid(cond_l_c, (13.5, 30.0, 24.0), F)
    epi = Ellipsoid(fp(0.0, -4.0, 34.0), (41.0, 27.0, 26.0), F)
    epi_m = Sphere(fp(-38.0, -6.0, 30.0), 9.0)
    epi_l = Sphere(fp(37.0, -6.0, 31.0), 8.0)
    troch = Ellipsoid(fp(0.0, 16.0, 30.0), (31.0, 15.0, 27.0), F)
    ama = rotation(fy, FEMUR_AMA if SIDE == "right" else -FEMUR_AMA)
    f_anat = unit(ama @ fz)  # anatomical (shaft) axis, superior and lateral of the mechanical
    if f_anat @ fx < 0:
        f_anat = unit(rotation(fy, -FEMUR_AMA) @ fz)
    shaft = Capsule(fp(0.0, 0.0, 40.0), fp(0.0, 0.0, 40.0) + 330 * f_anat, 19.0, 13.5)
    metaph = Capsule(fp(0.0, -2.0, 30.0), fp(0.0, 0.0, 30.0) + 70 * f_anat, 30.0, 16.0)
    groove = Capsule(fp(0.0, 34.0, 12.0), fp(0.0, 32.0, 60.0), 10.0, 8.0)
    notch = Ellipsoid(fp(0.0, -14.0, 6.0), (9.5, 24.0, 16.0), F)
    fem_raw = Union([cond_m, cond_l, epi, epi_m, epi_l, troch, metaph, shaft], k=5.0)
    femur = Subtract(Subtract(fem_raw, groove), notch)
    f_canal = Capsule(fp(0.0, 0.0, 40.0) + 80 * f_anat, fp(0.0, 0.0, 40.0) + 400 * f_anat, 8.0, 7.5)
    f_diaph = HalfSpace(fp(0.0, 0.0, 40.0) + 95 * f_anat, -f_anat)

    # ------------------------------------------------------------------ tibia
    dist_m = cond_m_c - cond_r[2] * fz  # distal point of the medial condyle (exact)
    dist_l = cond_l_c - 24.0 * fz
    kt = kf - JOINT_MM * fz  # first guess of the tibial knee centre
    tx, ty, tz = _frame(kt - ANKLE_CENTRE, lat)
    # plateau normal: tibial axis tilted anteriorly by the slope (posterior plateau lower) and
    # medially by 90 - MPTA (medial plateau lower)
    plateau_n = tz.copy()
    for axis, ang, want in ((tx, TIBIAL_SLOPE, ty), (ty, 90.0 - MPTA, -tx)):
        cand = rotation(axis, ang) @ plateau_n
        plateau_n = unit(cand if cand @ want > 0 else rotation(axis, -ang) @ plateau_n)
    # the plane sits JOINT_MM below the lower of the two distal condylar points
    lowest = min((dist_m, dist_l), key=lambda p: float(p @ plateau_n))
    plat_pt = lowest - JOINT_MM * plateau_n
    kt = kf - ((kf - plat_pt) @ plateau_n) * plateau_n  # kf projected on the plateau plane
    tx, ty, tz = _frame(kt - ANKLE_CENTRE, lat)
    T = np.stack([tx, ty, tz], axis=1)

    def tp(x, y, z):
        return kt + x * tx + y * ty + z * tz

    top = HalfSpace(plat_pt, plateau_n)
    tib_head = Intersect([Ellipsoid(tp(0.0, -3.0, -14.0), (39.0, 27.0, 30.0), T), top])
    spines = Union([Ellipsoid(tp(s * 5.0, -2.0, 0.0), (3.5, 7.0, 7.0), T) for s in (-1, 1)])
    tib_meta = Capsule(tp(0.0, -2.0, -20.0), tp(0.0, 2.0, -95.0), 30.0, 15.0)
    tib_shaft = Capsule(tp(0.0, 2.0, -60.0), tp(0.0, 2.0, -420.0), 15.0, 11.0)
    tuber = Ellipsoid(tp(0.0, 24.0, -36.0), (12.0, 8.0, 18.0), T)
    # clipped by the plateau plane: the metaphysis capsule's dome (and the blends) would otherwise
    # rise above the articular surface (2.3 mm at the compartment centres, 9.9 mm in the middle)
    tib_raw = Intersect([Union([tib_head, tib_meta, tib_shaft, tuber], k=6.0), top])
    tibia = Subtract(Union([tib_raw, spines], k=2.0), femur, grow=JOINT_MM - 1.0)
    t_canal = Capsule(tp(0.0, 2.0, -110.0), tp(0.0, 2.0, -450.0), 7.0, 6.0)
    t_diaph = HalfSpace(tp(0.0, 2.0, -120.0), tz)

    # ------------------------------------------------------------------ fibula, patella
    fib_head_c = tp(36.0, -24.0, -30.0)
    fibula_raw = Union([Ellipsoid(fib_head_c, (10.0, 11.0, 12.0), T),
                        Capsule(fib_head_c, fib_head_c - 400 * tz + 8 * tx, 8.0, 6.5)], k=4.0)
    fibula = Subtract(fibula_raw, tibia, grow=4.0)
    pat_c = fp(1.0, 44.0, 40.0)
    patella_raw = Ellipsoid(pat_c, (22.0, 11.0, 24.0), F)
    patella = Subtract(patella_raw, femur, grow=PF_GAP_MM)

    # ------------------------------------------------------------------ layers
    leg_c = 0.5 * (kf + kt)
    layers = soft_tissue(leg_c, fp, tp, tz, fz, modality)
    art = "cartilage"
    layers += [
        Layer("femoral cartilage", Intersect([Offset(Union([cond_m, cond_l, troch]), 2.4),
                                             Offset(femur, 2.4)]), art),
        Layer("tibial cartilage", Intersect([Offset(tibia, 2.2), HalfSpace(plat_pt - 4 * plateau_n, -plateau_n)]), art),
        Layer("patellar cartilage", Intersect([Offset(patella, 2.5), HalfSpace(pat_c, -fy)]), art),
    ]
    for cc in (-20.0, 20.0):
        c0 = kt + cc * unit(project(tx, plateau_n))
        ring = Subtract(Capsule(c0 - 1.0 * plateau_n, c0 + 6.0 * plateau_n, 21.0),
                        Capsule(c0 - 3.0 * plateau_n, c0 + 9.0 * plateau_n, 13.0))
        men = Subtract(Subtract(ring, femur, grow=0.6), tibia, grow=0.4)
        layers.append(Layer("meniscus", men, "meniscus" if modality == "MR" else "tendon"))
    layers += [
        Layer("anterior cruciate ligament", Capsule(tp(3.0, 6.0, 2.0), fp(8.0, -14.0, 14.0), 4.5), "tendon"),
        Layer("posterior cruciate ligament", Capsule(tp(0.0, -18.0, 0.0), fp(-7.0, -2.0, 14.0), 5.0), "tendon"),
    ]
    layers += bone_layers("femur", femur, lab["femur"], cortex_mm=1.6, canal=f_canal, diaphysis=f_diaph)
    layers += bone_layers("tibia", tibia, lab["tibia"], cortex_mm=1.5, canal=t_canal, diaphysis=t_diaph)
    layers += bone_layers("fibula", fibula, lab["fibula"], cortex_mm=1.5)
    layers += bone_layers("patella", patella, lab["patella"], cortex_mm=1.4)

    # ------------------------------------------------------------------ truth
    # anatomical landmarks measured on the generated surfaces (not the construction frames' origins)
    a = ANKLE_CENTRE
    # (kf, kt and the f*/t* axes stay the construction frames the shapes were placed in)
    kfa, (_, _, fza), (dist_m, dist_l), (post_m, post_l) = femoral_knee_landmarks(
        femur, cond_m_c, cond_l_c, kf, lat)
    u_ml = unit(project(tx, plateau_n))
    mpc, lpc = kt - 20.0 * u_ml, kt + 20.0 * u_ml  # compartment centres, on the plateau plane
    kta = surface_point(tibia, 0.5 * (mpc + lpc) - 5.0 * plateau_n, plateau_n)
    txa, _, tza = _frame(kta - a, lat)
    truth.landmark("hip_centre", HIP_CENTRE, "centre of the femoral head (outside the scan; from the "
                   "long-leg geometry the knee was built on)")
    truth.landmark("knee_centre_femur", kfa, "femoral knee centre (distal end of the femoral mechanical axis), "
                   "in the femoral mechanical frame: at the level of the most distal condylar point, "
                   "medio-laterally in the middle of the intercondylar notch (midpoint between the notch "
                   "walls, median over sections 2-16 mm above that level), antero-posteriorly midway "
                   "between the most distal points of the two condyles; found self-consistently with the "
                   "axis it defines (hip centre to this point)")
    truth.landmark("knee_centre_tibia", kta, "tibial knee centre (proximal end of the tibial mechanical axis): "
                   "centre of the tibial plateau, the midpoint of the medial and lateral compartment "
                   "centres (between the intercondylar spines), on the plateau surface")
    truth.landmark("ankle_centre", a, "centre of the talar dome (outside the scan)")
    truth.landmark("medial_condyle_distal", dist_m, "most distal point of the medial femoral condyle "
                   "(along the femoral mechanical axis; on the femur surface)")
    truth.landmark("lateral_condyle_distal", dist_l, "most distal point of the lateral femoral condyle "
                   "(along the femoral mechanical axis; on the femur surface)")
    truth.landmark("medial_condyle_posterior", post_m, "most posterior point of the medial condyle (along "
                   "the femoral mechanical frame's posterior axis; on the femur surface)")
    truth.landmark("lateral_condyle_posterior", post_l, "most posterior point of the lateral condyle (along "
                   "the femoral mechanical frame's posterior axis; on the femur surface)")
    me = surface_point(femur, epi_m.centre, -fx)
    le = surface_point(femur, epi_l.centre, fx)
    truth.landmark("medial_epicondyle", me, "most prominent point of the medial epicondyle (on the femur surface)")
    truth.landmark("lateral_epicondyle", le, "most prominent point of the lateral epicondyle (on the femur surface)")
    truth.landmark("medial_plateau_centre", mpc, "centre of the medial tibial plateau (on the plateau plane)")
    truth.landmark("lateral_plateau_centre", lpc, "centre of the lateral tibial plateau (on the plateau plane)")
    tt = surface_point(tibia, tp(0.0, 24.0, -36.0), ty)
    truth.landmark("tibial_tuberosity", tt, "most anterior point of the tibial tuberosity (on the tibia surface)")
    truth.landmark("patella_centre", pat_c, "centre of the patella ellipsoid")
    truth.axis("femoral_mechanical_axis", kfa, HIP_CENTRE - kfa, "knee centre (femur) to hip centre")
    truth.axis("tibial_mechanical_axis", kta, kta - a, "ankle centre to knee centre (tibia), pointing proximally")
    truth.axis("femoral_anatomical_axis", fp(0, 0, 40.0), f_anat, "femoral shaft (medullary canal) axis, proximal")
    truth.axis("tibial_anatomical_axis", tp(0, 2.0, -60.0), tz, "tibial shaft axis, proximal")
    truth.axis("transepicondylar_axis", 0.5 * (me + le), le - me, "medial to lateral epicondyle")
    truth.axis("posterior_condylar_axis", post_m, post_l - post_m,
               "medial to lateral most posterior condylar points")
    # frontal-plane angles measured in the coronal plane of the leg (normal = anterior)
    cor_n = ANTERIOR
    fm = project(HIP_CENTRE - kfa, cor_n)
    tm = project(a - kta, cor_n)
    hka = angle_between(fm, tm)
    # varus if the knee lies lateral of the hip-ankle line
    t_par = ((kfa - HIP_CENTRE) @ (a - HIP_CENTRE)) / ((a - HIP_CENTRE) @ (a - HIP_CENTRE))
    line_pt = HIP_CENTRE + t_par * (a - HIP_CENTRE)
    varus = (kfa - line_pt) @ lat > 0
    truth.quantity("hka_angle", hka, "deg", "hip-knee-ankle angle: angle at the knee "
                   "between the femoral and tibial mechanical axes projected on the coronal plane "
                   "(180 = straight; the deviation is given by varus_valgus)")
    truth.quantity("varus_valgus", (180.0 - hka) * (1 if varus else -1), "deg", "180 - HKA, positive = varus")
    jl_f = project(dist_l - dist_m, cor_n)
    mldfa = angle_between(project(HIP_CENTRE - kfa, cor_n), jl_f)
    truth.quantity("mldfa", mldfa, "deg", "mechanical lateral distal femoral angle: between the femoral "
                   "mechanical axis and the line tangent to the distal condyles (medial to lateral), lateral side")
    plateau_ml = project(np.cross(plateau_n, ty), cor_n)  # plateau line in the coronal plane
    if plateau_ml @ txa > 0:
        plateau_ml = -plateau_ml  # toward medial
    truth.quantity("mpta", angle_between(project(a - kta, cor_n), plateau_ml), "deg", "medial proximal tibial angle: "
                   "between the tibial mechanical axis (toward the ankle) and the plateau line toward medial, in the "
                   "coronal plane (87 = medial plateau 3 deg lower)")
    sag_n = unit(txa)
    slope = angle_between(project(plateau_n, sag_n), project(tza, sag_n))
    truth.quantity("tibial_slope", slope, "deg", "posterior tibial slope: angle between the plateau plane and "
                   "the plane perpendicular to the tibial mechanical axis, in the sagittal plane")
    truth.quantity("femoral_anatomical_mechanical_angle", angle_between(f_anat, fza), "deg",
                   "angle between the femoral anatomical (shaft) and mechanical axes")
    truth.quantity("joint_space_medial", (dist_m - plat_pt) @ plateau_n, "mm", "distance from the distal "
                   "point of the medial condyle to the plateau plane (bone to bone)")
    truth.quantity("joint_space_lateral", (dist_l - plat_pt) @ plateau_n, "mm", "distance from the distal "
                   "point of the lateral condyle to the plateau plane (bone to bone)")
    truth.quantity("femoral_mechanical_length", np.linalg.norm(HIP_CENTRE - kfa), "mm",
                   "hip centre to femoral knee centre")
    truth.quantity("tibial_mechanical_length", np.linalg.norm(kta - a), "mm", "tibial knee centre to ankle centre")
    return Knee(layers=layers, truth=truth, centre=leg_c, leg_axis=unit(HIP_CENTRE - a))


def femoral_knee_landmarks(femur, cond_m_c, cond_l_c, kf0, lat):
    """Femoral knee centre, mechanical frame, distal and posterior condylar points (LPS mm).

    In the frame of the mechanical axis (hip centre to knee centre) the centre lies at the
    level of the more distal condylar point, in the middle of the intercondylar notch
    (median midpoint between the notch walls over sections 2-16 mm above that level) and
    midway between the two distal condylar points antero-posteriorly. The axis depends on
    the centre, so both are iterated to a fixed point (< 1e-5 mm, 2-3 passes). Condylar
    points are the extreme points of the generated femur surface near each condyle.
    """
    kc = np.asarray(kf0, float)
    for _ in range(8):
        x, y, z = _frame(HIP_CENTRE - kc, lat)
        dm = extreme_surface_point(femur, -z, cond_m_c - 20.0 * z, 10.0)
        dl = extreme_surface_point(femur, -z, cond_l_c - 20.0 * z, 10.0)
        level = min(dm @ z, dl @ z)
        ap = 0.5 * (dm + dl) @ y
        mids = []
        for h in np.arange(2.0, 16.5, 2.0):
            o = (kc @ x) * x + ap * y + (level + h) * z  # on the notch's middle line (outside bone)
            walls = []
            for sgn in (-1.0, 1.0):
                t = np.arange(0.0, 30.0, 0.05)
                ins = femur.sdf_points(o + sgn * t[:, None] * x) < 0
                i = int(np.argmax(ins))
                if not ins[i] or i == 0:
                    raise ValueError(f"no notch wall at {h} mm above the distal condyles")
                lo, hi = t[i - 1], t[i]
                for _ in range(30):
                    m = 0.5 * (lo + hi)
                    lo, hi = (lo, m) if femur.sdf_points(o + sgn * m * x)[0] < 0 else (m, hi)
                walls.append(o @ x + sgn * 0.5 * (lo + hi))
            mids.append(0.5 * (walls[0] + walls[1]))
        new = float(np.median(mids)) * x + ap * y + level * z
        done = np.linalg.norm(new - kc) < 1e-5
        kc = new
        if done:
            break
    x, y, z = _frame(HIP_CENTRE - kc, lat)
    pm = extreme_surface_point(femur, -y, cond_m_c - 26.0 * y, 10.0)
    pl = extreme_surface_point(femur, -y, cond_l_c - 25.0 * y, 10.0)
    return kc, (x, y, z), (dm, dl), (pm, pl)


def soft_tissue(leg_c, fp, tp, tz, fz, modality: str) -> list[Layer]:
    """Skin, fat, thigh and calf muscles, popliteal fat and vessels, fat pads, joint fluid."""
    cx, cy = leg_c[0], leg_c[1]
    z = leg_c[2]
    leg = EllipticCylinderZ(cx, cy + 4.0, 64.0, 60.0, z - 400, z + 400)
    thigh_m = Intersect([EllipticCylinderZ(cx + 2, cy + 4.0, 54.0, 50.0, z + 45, z + 400),
                         Ellipsoid(leg_c + [0, 4, 250], (54, 50, 240))])
    calf_m = Intersect([EllipticCylinderZ(cx, cy + 8.0, 52.0, 49.0, z - 400, z - 35),
                        Ellipsoid(leg_c + [0, 8, -250], (52, 49, 240))])
    layers = [
        Layer("skin", leg, "skin"),
        Layer("subcutaneous fat", Offset(leg, -2.0), "fat"),
        Layer("thigh muscles", thigh_m, "muscle"),
        Layer("calf muscles", calf_m, "muscle"),
        Layer("gastrocnemius heads", Union([Ellipsoid(leg_c + [s * 20, 38, -20], (17, 14, 45)) for s in (-1, 1)]),
              "muscle"),
        Layer("popliteal fat", Ellipsoid(leg_c + [0, 38, 25], (22, 16, 45)), "fat"),
        Layer("intermuscular septum", Ellipsoid(leg_c + [0, 25, 120], (4, 30, 80)), "fat"),
        Layer("popliteal vein", Capsule(leg_c + [3, 36, 120], leg_c + [2, 34, -120], 5.0), "blood"),
        Layer("popliteal artery", Capsule(leg_c + [-4, 30, 120], leg_c + [-3, 29, -120], 3.5), "blood"),
        Layer("suprapatellar recess", Ellipsoid(fp(0, 35, 75), (26, 5, 22)), "fluid"),
        Layer("quadriceps tendon", Capsule(fp(0, 50, 62), fp(0, 44, 130), 5.0, 7.0), "tendon"),
        Layer("patellar tendon", Capsule(fp(0, 44, 14), tp(0, 30, -36), 4.0, 4.5), "tendon"),
        Layer("infrapatellar fat pad", Ellipsoid(tp(0, 26, 6), (20, 8, 14)), "fat"),
        Layer("joint fluid", Ellipsoid(0.5 * (fp(0, -30, 20) + tp(0, -30, 0)), (20, 5, 12)), "fluid"),
    ]
    _ = (tz, fz, modality)
    return layers
