"""A synthetic left proximal femur (analytic shapes, LPS mm) and a case holding it with a planned stem."""

from __future__ import annotations

import numpy as np

HEAD = np.array([80.0, 10.0, 10.0])  # head centre
HEAD_R = 22.0
AXIS_POINT = np.array([110.0, 10.0, -120.0])  # on the canal axis (vertical, +z proximal)
SHAFT_R = 15.0
Z_BOTTOM, Z_TOP = -260.0, -15.0
LT = np.array([97.0, 18.0, -70.0])  # lesser trochanter (medial-posterior)


def femur_polydata():
    import manifold3d as m3
    import pyvista as pv

    shaft = m3.Manifold.cylinder(Z_TOP - Z_BOTTOM, SHAFT_R, SHAFT_R, 64).translate(
        [AXIS_POINT[0], AXIS_POINT[1], Z_BOTTOM])
    neck_start = np.array([AXIS_POINT[0], AXIS_POINT[1], -35.0])
    d = HEAD - neck_start
    length = float(np.linalg.norm(d))
    neck = m3.Manifold.cylinder(length, 12.0, 12.0, 48)
    # rotate +z onto d
    z = np.array([0.0, 0.0, 1.0])
    u = d / length
    ax = np.cross(z, u)
    ang = np.degrees(np.arccos(np.clip(z @ u, -1, 1)))
    # manifold's rotate takes Euler angles; use a transform matrix instead
    k = ax / np.linalg.norm(ax)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    R = np.eye(3) + np.sin(np.radians(ang)) * K + (1 - np.cos(np.radians(ang))) * K @ K
    M = np.hstack([R, neck_start[:, None]])
    neck = neck.transform(M.tolist())
    head = m3.Manifold.sphere(HEAD_R, 64).translate(HEAD.tolist())
    metaphysis = m3.Manifold.sphere(24.0, 48).scale([1.0, 0.8, 1.4]).translate([108.0, 10.0, -30.0])
    gt = m3.Manifold.sphere(12.0, 32).translate([126.0, 10.0, -8.0])
    bone = m3.Manifold.batch_boolean([shaft, neck, head, metaphysis, gt], m3.OpType.Add)
    mm = bone.to_mesh64()
    pts = np.asarray(mm.vert_properties)[:, :3]
    tri = np.asarray(mm.tri_verts, dtype=np.int64)
    return pv.PolyData(pts, np.hstack([np.full((len(tri), 1), 3), tri]).ravel()).clean()


def make_case(root, hu: float = 800.0):
    """A saved case: constant-HU CT over the femur, model femur_left, landmarks, plan A with a stem."""
    from surgiplan.core.case import Case
    from surgiplan.core.imaging import Volume
    from surgiplan.core.planning.catalog import default_catalog
    from surgiplan.core.planning.placement import stem_pose
    from surgiplan.core.planning.plan import PlacedImplant

    case = Case.new(root)
    spacing = (3.0, 3.0, 3.0)
    origin = (40.0, -40.0, Z_BOTTOM - 6.0)
    shape_kji = (int((60.0 - Z_BOTTOM + 6.0) / 3.0), 34, 40)
    vol = Volume(np.full(shape_kji, int(hu), dtype=np.int16), spacing, origin)
    case.add_scan("planning", vol)
    case.add_model("femur_left", femur_polydata())
    case.set_landmark("femoral_head_centre_left", HEAD)
    case.set_landmark("femoral_canal_axis_left", AXIS_POINT, [0.0, 0.0, 1.0])
    case.set_landmark("lesser_trochanter_left", LT)
    cat = default_catalog()
    p = cat.get("hip_stem_standard").size("1")
    case.new_plan("A")
    t = stem_pose(p, AXIS_POINT, [0.0, 0.0, 1.0], HEAD)
    case.add_implant("A", PlacedImplant("stem", "hip_stem_standard", "1", t, side="left", bone="femur_left",
                                        options={"head": "32/0"}))
    case.save()
    return case
