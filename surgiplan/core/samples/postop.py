"""Post-operative variants of the hip, spine and knee samples: implants at a KNOWN offset from a plan.

The planning scan is the ordinary sample (``hip-small`` / ``spine-small``). The
post-operative scan is the same digital patient, re-rendered

* in a slightly different position on the table (a known rigid transform,
  ``scan_to_planning``: post-op LPS mm -> planning LPS mm),
* with the implants of a reference plan, each at a known offset from its planned pose:
  hip: the left cup 3 mm lateral and 5 deg more anteverted (radiographic angles in the
  anterior pelvic plane frame), a ceramic head and a polyethylene liner in it;
  spine: pedicle screws at L3 and L4, the left L4 screw 2 mm medial, the right L3 screw
  turned 4 deg more convergent about its entry point, the others as planned;
  knee (right): femoral component, tibial tray and insert on 9 mm cuts; the femoral component
  2 mm proximal (a distal cut 2 mm deeper), the tray turned 3 deg into varus about its origin;
* as a scanner shows metal: titanium ~7000 HU clipped at 3071 HU, streaks, beam hardening
  and photon starvation (:func:`surgiplan.core.samples.metal.metal_artefacts`), on a
  smaller field of view that cuts through an implant (the top of the cup's dome, the
  heads of the screws).

Offsets are along the anatomical axes of :mod:`surgiplan.core.twin.frames` built from
the sample's true landmarks. Layout of ``<samples>/<name>-postop-small/``::

    dicom/*.dcm                  the post-operative scan
    postop.nrrd                  the same scan as a Volume (int16 HU), LPS
    plan.json                    the reference plan (plan.json format, planning LPS)
    ground_truth.json            scan_to_planning, planned and achieved transforms, offsets
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.jobs import Progress, report, sub_progress
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.catalog import default_catalog
from surgiplan.core.planning.placement import cup_pose, screw_pose
from surgiplan.core.planning.plan import Landmark, PlacedImplant, Plan
from surgiplan.core.samples.metal import IMPLANT_CT, METAL_WEIGHT, MeshShape, metal_artefacts
from surgiplan.core.samples.phantom import Grid, Layer, Textures, add_noise, blur, paint
from surgiplan.core.samples.scene import axial_grid
from surgiplan.core.samples.sdf import HalfSpace, Intersect, Sphere, Subtract, Union
from surgiplan.core.twin.frames import implant_frame, offset_components, side_sign

POSTOP_NAMES = ("hip", "spine", "knee")
POSTOP_SEEDS = {"hip": 2001, "spine": 2003, "knee": 2005}
PLAN_NAME = "planned"

#: Known patient movement between the scans: (rotation axis, angle deg) pairs applied in order
#: about ``centre`` (planning LPS mm), then ``shift`` mm; post-op = this transform of planning.
PATIENT_POSE = {
    "hip": {"rotations": [((0, 0, 1), 4.0), ((1, 0, 0), 2.0), ((0, 1, 0), -3.0)],
            "shift": (6.0, -8.0, 12.0), "centre": (0.0, 0.0, 0.0)},
    "spine": {"rotations": [((0, 0, 1), 3.0), ((1, 0, 0), -2.0)],
              "shift": (-5.0, 7.0, -9.0), "centre": (0.0, 30.0, -20.0)},
    "knee": {"rotations": [((0, 0, 1), -3.0), ((0, 1, 0), 2.0)],
             "shift": (4.0, 6.0, -7.0), "centre": (-95.0, 15.0, -455.0)},
}


@dataclass
class PostopCase:
    """A post-operative sample before rendering: plan, truth, pose, grid and implant layers."""

    name: str
    plan: Plan
    achieved: dict[str, np.ndarray]  # implant id -> 4x4 achieved transform (planning LPS)
    offsets: dict[str, dict]  # implant id -> known offset (mm along anatomical axes, deg)
    planning_to_scan: np.ndarray  # 4x4: planning LPS -> post-op scanner LPS
    grid: Grid  # the post-op scanner grid (axial)
    implant_layers: list[Layer]  # in planning LPS
    metal_layers: list[Layer]  # metal part of implant_layers, tissue = material name
    landmarks: dict[str, Landmark] = field(default_factory=dict)


def patient_pose(name: str) -> np.ndarray:
    """4x4 rigid transform planning LPS -> post-op scanner LPS of sample ``name``."""
    p = PATIENT_POSE[name]
    t = np.eye(4)
    for axis, deg in p["rotations"]:
        t = tf.rotation(axis, deg, p["centre"]) @ t
    return tf.translation(p["shift"]) @ t


def _truth_landmarks(gt: dict) -> dict[str, Landmark]:
    out = {k: Landmark(np.array(v["position"], float), source="ground_truth", definition=v["definition"])
           for k, v in gt["landmarks"].items()}
    for k, v in gt.get("axes", {}).items():
        out[k] = Landmark(np.array(v["point"], float), np.array(v["direction"], float), "ground_truth",
                          v["definition"])
    return out


def _metal_shape(catalog, imp: PlacedImplant, t: np.ndarray):
    geom = catalog.get(imp.catalog_id).geometry(imp.size, imp.options).transformed(t)
    shapes = [MeshShape(m) for m in geom.parts.values()]
    return shapes[0] if len(shapes) == 1 else Union(shapes)


def _frame(landmarks, imp, catalog):
    axes, name = implant_frame(landmarks, imp.bone, catalog.get(imp.catalog_id).model.kind)
    return axes, name


def _offset_record(landmarks, imp, planned, achieved, catalog) -> dict:
    axes, frame_name = _frame(landmarks, imp, catalog)
    mid = landmarks.get(f"vertebral_body_centre_{imp.bone}")
    sign = side_sign(imp.side, planned[:3, 3], None if mid is None else float(mid.position[0]))
    comps = offset_components(achieved[:3, 3] - planned[:3, 3], axes, sign)
    return {"translation_mm": comps, "axis_angle_deg": tf.angle_between_deg(planned[:3, 2], achieved[:3, 2]),
            "frame": frame_name}


def hip_case(gt: dict, catalog=None) -> PostopCase:
    """The post-operative hip: left cup 3 mm lateral, 5 deg more anteverted; head and liner in it."""
    from surgiplan.core.planning.placement import pelvic_frame_from_landmarks
    from surgiplan.core.planning.sizing import cup_size_for

    catalog = catalog or default_catalog()
    lms = _truth_landmarks(gt)
    app = pelvic_frame_from_landmarks(lms)
    centre = lms["acetabular_centre_left"].position
    size = cup_size_for(gt["quantities"]["acetabular_radius_left"]["value"], catalog)
    planned = cup_pose(centre, 40.0, 15.0, "left", app)
    achieved = cup_pose(centre + 3.0 * app[:3, 0], 40.0, 20.0, "left", app)
    cup = PlacedImplant("cup", "hip_cup", size, planned, side="left", bone="pelvis")
    plan = Plan(PLAN_NAME, note="reference plan of the post-operative hip sample: cup 40/15 deg on the "
                "acetabular centre")
    plan.implants["cup"] = cup
    r_out = catalog.get("hip_cup").size(size)["outer_diameter"] / 2
    r_in = r_out - catalog.get("hip_cup").size(size)["shell_thickness"]
    c, n = achieved[:3, 3], achieved[:3, 2]
    shell = _metal_shape(catalog, cup, achieved)
    liner = Intersect([Subtract(Sphere(c, r_in), Sphere(c, 16.0)), HalfSpace(c, n)])
    head = Sphere(c, 16.0)
    metal = [Layer("cup shell", shell, "titanium"), Layer("ceramic head", head, "ceramic")]
    layers = [Layer("liner", liner, "polyethylene"), *metal]
    pose = patient_pose("hip")
    cs = tf.apply(pose, c)
    # the scan stops 10 mm above the cup centre: the top of the dome is not scanned
    grid = axial_grid((0.0, -10.0), 300.0, (cs[2] - 110.0, cs[2] + 10.0), "small", small_mm=1.5)
    offsets = {"cup": _offset_record(lms, cup, planned, achieved, catalog)}
    offsets["cup"]["anteversion_change_deg"] = 5.0
    offsets["cup"]["inclination_change_deg"] = 0.0
    return PostopCase("hip", plan, {"cup": achieved}, offsets, pose, grid, layers, metal, lms)


def _screw_size(catalog, width: float, length: float) -> str:
    spec = catalog.get("spine_pedicle_screw")
    fits = [s for s in spec.sizes if spec.size(s)["diameter"] <= width - 2.0
            and spec.size(s)["length"] <= length - 5.0]
    return max(fits, key=lambda s: (spec.size(s)["diameter"], spec.size(s)["length"]))


def spine_case(gt: dict, catalog=None) -> PostopCase:
    """The post-operative spine: screws at L3 and L4; L4 left 2 mm medial, L3 right 4 deg more convergent."""
    catalog = catalog or default_catalog()
    lms = _truth_landmarks(gt)
    q = gt["quantities"]
    plan = Plan(PLAN_NAME, note="reference plan of the post-operative spine sample: screws on the pedicle axes")
    achieved, offsets, layers = {}, {}, []
    for lv in ("L3", "L4"):
        for s in ("left", "right"):
            key = f"{lv}_{s}"
            ax = lms[f"pedicle_axis_{key}"]
            size = _screw_size(catalog, q[f"pedicle_width_{key}"]["value"], q[f"pedicle_screw_length_{key}"]["value"])
            planned = screw_pose(ax.position, ax.position + ax.direction)
            imp = PlacedImplant(key, "spine_pedicle_screw", size, planned, side=s, bone=lv)
            plan.implants[key] = imp
            axes, _ = _frame(lms, imp, catalog)
            medial = -side_sign(s, planned[:3, 3]) * axes[:, 0]
            a = planned.copy()
            if key == "L4_left":
                a = tf.translation(2.0 * medial) @ planned
            elif key == "L3_right":
                cand = [tf.rotation(axes[:, 2], sgn * 4.0, planned[:3, 3]) @ planned for sgn in (1, -1)]
                a = max(cand, key=lambda t: t[:3, 2] @ medial)  # tip turned towards the midline
            achieved[key] = a
            offsets[key] = _offset_record(lms, imp, planned, a, catalog)
            layers.append(Layer(f"screw {key}", _metal_shape(catalog, imp, a), "titanium"))
    pose = patient_pose("spine")
    c = tf.apply(pose, 0.5 * (lms["pedicle_entry_L3_left"].position + lms["pedicle_entry_L4_right"].position))
    # posterior edge of the field of view 6 mm behind the entry points: the screw heads are cut
    y0, y1 = c[1] - 80.0, c[1] + 6.0
    grid = Grid(shape=(int(round(100 / 1.0)) + 1, int(round((y1 - y0) / 1.0)) + 1, 121), spacing=(1.0, 1.0, 1.0),
                origin=(c[0] - 60.0, y0, c[2] - 55.0))
    return PostopCase("spine", plan, achieved, offsets, pose, grid, layers, list(layers), lms)


def knee_case(gt: dict, catalog=None) -> PostopCase:
    """The post-operative right knee: the femoral component 2 mm proximal of plan (a distal cut 2 mm
    deeper), the tibial tray turned 3 deg in the coronal plane (varus) about its origin, the insert on
    the tray. Plan as :func:`surgiplan.demo.knee.place_knee` makes it (9 mm cuts, 3 deg slope), from the
    true landmarks (the distal reference is the more distal condyle landmark, the tibial one the
    higher plateau centre). Both metal parts are rendered as titanium (the CoCr of a real femoral
    component streaks more)."""
    from surgiplan.core.planning.knee_frame import knee_frame
    from surgiplan.core.planning.placement import limb_pose
    from surgiplan.core.planning.plan import Resection
    from surgiplan.core.planning.resection import plane_from_angles

    catalog = catalog or default_catalog()
    lms = _truth_landmarks(gt)
    side = "right"
    fr = knee_frame(lms, side)
    kf, kt, f_axis, t_axis, anterior = fr.knee_femur, fr.knee_tibia, fr.femoral_axis, fr.tibial_axis, fr.anterior
    distal = min((lms[k].position for k in ("medial_condyle_distal", "lateral_condyle_distal")),
                 key=lambda p: float(p @ f_axis))
    top = max((lms[k].position for k in ("medial_plateau_centre", "lateral_plateau_centre")),
              key=lambda p: float(p @ t_axis))
    o_f, n_f = plane_from_angles(distal, f_axis, anterior, 9.0, side=side, distal=True)
    o_t, n_t = plane_from_angles(top, t_axis, anterior, 9.0, 0.0, 3.0, side=side, distal=False)
    t_fem = limb_pose(kf + ((o_f - kf) @ f_axis) * f_axis, f_axis, anterior)
    t_tib = limb_pose(kt + ((o_t - kt) @ n_t) * n_t, -n_t, anterior)
    plan = Plan(PLAN_NAME, note="reference plan of the post-operative knee sample: 9 mm cuts, 3 deg slope")
    plan.resections["distal_femur"] = Resection("distal_femur", "femur", o_f, n_f)
    plan.resections["proximal_tibia"] = Resection("proximal_tibia", "tibia", o_t, n_t)
    fem = PlacedImplant("femoral", "knee_femoral", "4", t_fem, side, "femur")
    tray = PlacedImplant("tray", "knee_tibial_tray", "4", t_tib, side, "tibia")
    insert = PlacedImplant("insert", "knee_insert", "10", t_tib.copy(), side, "", options={"tray_size": "4"})
    for imp in (fem, tray, insert):
        plan.implants[imp.id] = imp
    fem_a = tf.translation(2.0 * f_axis) @ t_fem
    # varus of a right knee's tray: its medial (+x) side down, i.e. turned about the anterior axis
    cand = [tf.rotation(anterior, sgn * 3.0, t_tib[:3, 3]) @ t_tib for sgn in (1, -1)]
    medial = -np.asarray(fr.lateral, float)
    tray_a = max(cand, key=lambda t: float(t[:3, 2] @ medial))  # its axis leans medially: medial side lower
    ins_a = tray_a @ tf.inverse(t_tib) @ insert.transform
    achieved = {"femoral": fem_a, "tray": tray_a}
    offsets = {"femoral": _offset_record(lms, fem, t_fem, fem_a, catalog),
               "tray": _offset_record(lms, tray, t_tib, tray_a, catalog)}
    offsets["femoral"]["distal_cut_deeper_mm"] = 2.0
    offsets["tray"]["coronal_turn_deg"] = 3.0
    metal = [Layer("femoral component", _metal_shape(catalog, fem, fem_a), "titanium"),
             Layer("tibial tray", _metal_shape(catalog, tray, tray_a), "titanium")]
    layers = [Layer("insert", _metal_shape(catalog, insert, ins_a), "polyethylene"), *metal]
    pose = patient_pose("knee")
    c = tf.apply(pose, 0.5 * (kf + kt))
    # the scan ends 25 mm above the knee centre: the top of the femoral component's anterior flange is cut
    grid = axial_grid((c[0], c[1]), 150.0, (c[2] - 70.0, c[2] + 25.0), "small", small_mm=1.0)
    return PostopCase("knee", plan, achieved, offsets, pose, grid, layers, metal, lms)


def _virtual_grid(grid: Grid, planning_to_scan: np.ndarray) -> Grid:
    """The scanner grid expressed in planning coordinates (what the anatomy is painted on)."""
    inv = tf.inverse(planning_to_scan)
    direction = inv[:3, :3] @ np.asarray(grid.direction, float)
    origin = tf.apply(inv, np.asarray(grid.origin, float))
    return Grid(grid.shape, grid.spacing, tuple(float(x) for x in origin), direction)


def render_postop(pc: PostopCase, scene, seed: int, progress: Progress | None = None) -> np.ndarray:
    """The post-op CT (int16 HU, [k, j, i]) on ``pc.grid``: anatomy, implants, metal artefacts, noise."""
    from surgiplan.core.samples.phantom import trabecular_texture

    rng = np.random.default_rng(seed)
    vgrid = _virtual_grid(pc.grid, pc.planning_to_scan)
    tissues = {**scene.tissues, **IMPLANT_CT}
    textures = Textures({"trabecular": trabecular_texture(rng, voxel_scale_mm=vgrid.voxel_mm)})
    layers = list(scene.layers) + pc.implant_layers
    image, _ = paint(vgrid, layers, tissues, textures, scene.background, sub_progress(progress, 0.0, 0.5))
    weights = {k: IMPLANT_CT[k].__class__(v) for k, v in METAL_WEIGHT.items()}
    metal, _ = paint(vgrid, pc.metal_layers, weights, Textures({}), 0.0)
    blur(image, vgrid, scene.psf_fwhm_mm)
    report(progress, 0.6, "metal artefacts")
    metal_artefacts(image, metal, float(pc.grid.spacing[0]), rng, progress=sub_progress(progress, 0.6, 0.9))
    add_noise(image, rng, scene.noise_sd)
    lo, hi = scene.value_range
    return np.clip(np.rint(image), lo, hi).astype(np.int16)


def build_postop(name: str, progress: Progress | None = None):
    """(post-op case description, its rendered scan as a Volume in the post-op scanner's LPS, the scene)."""
    from surgiplan.core.samples.generate import build_scene, sample_path

    if name not in POSTOP_NAMES:
        raise InputError(f"no post-operative variant of sample {name!r}",
                         hint=f"Choose one of: {', '.join(POSTOP_NAMES)}.")
    gt = sample_path(name, "small", progress=sub_progress(progress, 0.0, 0.2)).load_ground_truth()
    report(progress, 0.2, f"building the {name} anatomy")
    scene = build_scene(name, "small")
    pc = {"hip": hip_case, "spine": spine_case, "knee": knee_case}[name](gt)
    arr = render_postop(pc, scene, POSTOP_SEEDS[name], sub_progress(progress, 0.3, 0.95))
    g = pc.grid
    meta = {"modality": "CT", "patient_name": scene.header.patient_name, "patient_id": scene.header.patient_id,
            "series_description": f"post-operative {name} (synthetic)", "window_center": 500.0,
            "window_width": 3000.0}
    return pc, Volume(arr, g.spacing, g.origin, g.direction, metadata=meta), scene


# ------------------------------------------------------------------ files and cache
@dataclass(frozen=True)
class PostopPaths:
    """Where one generated post-operative sample lives."""

    root: Path

    @property
    def dicom_dir(self) -> Path:
        return self.root / "dicom"

    @property
    def volume(self) -> Path:
        return self.root / "postop.nrrd"

    @property
    def plan(self) -> Path:
        return self.root / "plan.json"

    @property
    def ground_truth(self) -> Path:
        return self.root / "ground_truth.json"

    def load_ground_truth(self) -> dict:
        """The parsed ground_truth.json; InputError naming the file when missing or damaged."""
        try:
            data = json.loads(self.ground_truth.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"post-operative ground truth cannot be read ({exc})", path=self.ground_truth,
                             hint="Generate the sample again.") from None
        if not isinstance(data, dict) or not {"scan_to_planning", "implants", "landmarks"} <= set(data):
            raise InputError("not a post-operative sample's ground truth", path=self.ground_truth,
                             hint="Generate the sample again.")
        return data

    def is_complete(self) -> bool:
        return all(p.is_file() for p in (self.volume, self.plan, self.ground_truth)) and \
            any(self.dicom_dir.glob("*.dcm"))


def _truth_json(pc: PostopCase, name: str, version: str) -> dict:
    def m(t):
        return np.asarray(t, float).round(9).tolist()

    return {
        "name": f"{name}-postop", "size": "small", "seed": POSTOP_SEEDS[name], "generator_version": version,
        "description": f"post-operative CT of the {name} sample: implants at known offsets from plan "
                       f"{PLAN_NAME!r}, the patient moved by a known rigid transform",
        "scan_to_planning": m(tf.inverse(pc.planning_to_scan)),
        "scan_to_planning_definition": "4x4: post-op scanner LPS mm -> planning scan LPS mm",
        "implants": {k: {"planned": m(pc.plan.implants[k].transform), "achieved": m(pc.achieved[k]),
                         **pc.offsets[k]} for k in pc.achieved},  # metal parts (a knee insert is not)
        "offset_definition": "achieved minus planned implant origin (mm) along the anatomical frame "
                             "(surgiplan.core.twin.frames, from the true landmarks): lateral + away from "
                             "the midline, anterior +, superior +; axis_angle_deg between the implant axes",
        "landmarks": gt_landmarks(pc),
    }


def gt_landmarks(pc: PostopCase) -> dict:
    """The true landmarks the frames were built from (planning LPS mm)."""
    return {k: {"position": v.position.round(6).tolist(),
                "direction": None if v.direction is None else v.direction.round(9).tolist()}
            for k, v in pc.landmarks.items()}


def generate_postop(name: str, out_dir: str | Path, progress: Progress | None = None) -> PostopPaths:
    """Write the post-op sample ``name`` into ``out_dir/<name>-postop-small/`` (built aside, renamed in)."""
    from surgiplan.core.case.schema import to_json_text
    from surgiplan.core.fileio import atomic_write_text, ensure_folder
    from surgiplan.core.imaging.volume_io import write_volume
    from surgiplan.core.samples.dicom_writer import write_series
    from surgiplan.core.samples.generate import GENERATOR_VERSION
    from surgiplan.core.samples.ground_truth import write_json

    out_dir = Path(out_dir)
    final = out_dir / f"{name}-postop-small"
    tmp = out_dir / f".{name}-postop-small.tmp-{os.getpid()}"
    ensure_folder(out_dir)
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        pc, vol, scene = build_postop(name, sub_progress(progress, 0.0, 0.85))
        paths = PostopPaths(tmp)
        header = replace(scene.header, series_description=f"post-operative {name} 1.5 mm (synthetic)",
                         study_description=f"{scene.header.study_description} POST-OP",
                         uid_entropy=[*scene.header.uid_entropy, "postop"])
        stored = (vol.array.astype(np.int32) + 1024).astype(np.uint16)
        write_series(stored, pc.grid, paths.dicom_dir, header, rescale_slope=1.0, rescale_intercept=-1024.0,
                     progress=sub_progress(progress, 0.85, 0.95))
        write_volume(vol, paths.volume, compress=False)
        atomic_write_text(paths.plan, to_json_text(pc.plan.to_model()))
        write_json(_truth_json(pc, name, GENERATOR_VERSION), paths.ground_truth)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    report(progress, 1.0, f"post-operative {name} written to {final}")
    return PostopPaths(final)


def postop_sample_path(name: str, progress: Progress | None = None) -> PostopPaths:
    """A cached post-op sample ``name`` (generated when missing or made by another generator version)."""
    import fcntl

    from surgiplan.core.samples.generate import GENERATOR_VERSION, samples_root

    if name not in POSTOP_NAMES:
        raise InputError(f"no post-operative variant of sample {name!r}",
                         hint=f"Choose one of: {', '.join(POSTOP_NAMES)}.")
    root = samples_root()
    paths = PostopPaths(root / f"{name}-postop-small")

    def current() -> bool:
        try:
            return paths.is_complete() and paths.load_ground_truth().get("generator_version") == GENERATOR_VERSION
        except InputError:
            return False

    if current():
        return paths
    (root / ".locks").mkdir(parents=True, exist_ok=True)
    with open(root / ".locks" / f"{name}-postop-small.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return paths if current() else generate_postop(name, root, progress)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_planning_case(name: str, case_dir: str | Path, progress: Progress | None = None, *,
                        models: bool = True):
    """A saved case for the post-op sample ``name``: the planning scan, its true segmentation and
    landmarks, models of the bones the implants sit in (with ``models``; screw breach needs them),
    and the reference plan (``planned``). Returns the Case."""
    from surgiplan.core.case import Case
    from surgiplan.core.case.schema import load_plan_json
    from surgiplan.core.imaging.volume_io import read_volume
    from surgiplan.core.samples.generate import sample_path
    from surgiplan.core.segmentation import Segmentation

    pp = postop_sample_path(name, sub_progress(progress, 0.0, 0.8))
    sp = sample_path(name, "small")
    vol = read_volume(sp.volume)
    labels = read_volume(sp.labels)
    names = {int(k): v["name"] for k, v in json.loads(sp.labels_json.read_text(encoding="utf-8")).items()}
    seg = Segmentation.from_labelmap(labels, names)
    case = Case.new(case_dir, patient_name=str(vol.metadata.get("patient_name", "")), save=False)
    case.add_scan("planning", vol, segmentation=seg, date="2026-01-12")
    from surgiplan.core.surfaces.models import build_models

    bones = sorted({imp.bone for imp in Plan.from_model(load_plan_json(pp.plan)).implants.values()
                    if imp.bone and models})
    built = build_models(seg, bones, decimate_to=100_000, progress=sub_progress(progress, 0.8, 0.95)) if bones else []
    for m in built:
        case.add_model(m.name, m.mesh, scan="planning", segment=m.name)
    for k, v in pp.load_ground_truth()["landmarks"].items():
        case.set_landmark(k, v["position"], v["direction"], source="ground_truth")
    plan = Plan.from_model(load_plan_json(pp.plan))
    case.new_plan(plan.name, note=plan.note)
    for imp in plan.implants.values():
        case.add_implant(plan.name, imp)
    for rs in plan.resections.values():  # the knee's cuts
        case.set_resection(plan.name, rs)
    case.save()
    report(progress, 1.0, "planning case ready")
    return case
