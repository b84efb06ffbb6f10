"""Scanner values of tissues: CT numbers (HU) and T1-weighted MR signal (arbitrary units).

CT values are typical of a 120 kVp scan (soft-tissue references: fat -100 HU,
muscle 40-60 HU, blood 40-50 HU, iodinated lumen 250-400 HU, cortical bone
1200-1900 HU, cancellous bone 150-400 HU). Cancellous bone is a textured mix
of marrow and bone struts (mean ~250-330 HU). The MR table mimics a T1-weighted
spin echo at 1.5 T: fat and fatty marrow bright, muscle intermediate, fluid and
cartilage darker than muscle or close to it, cortex, ligaments and air dark.
"""

from __future__ import annotations

from surgiplan.core.samples.phantom import Tissue

CT = {
    "air": Tissue(-1000.0),
    "skin": Tissue(30.0),
    "fat": Tissue(-100.0),
    "muscle": Tissue(52.0),
    "tendon": Tissue(85.0),
    "blood": Tissue(45.0),
    "contrast": Tissue(330.0),
    "vessel_wall": Tissue(50.0),
    "plaque": Tissue(70.0),
    "calcium": Tissue(900.0),
    "fluid": Tissue(8.0),
    "bowel": Tissue(25.0),
    "bowel_air": Tissue(-950.0),
    "kidney": Tissue(140.0),  # enhanced cortex/medulla mix in the arterial-portal phase
    "liver": Tissue(60.0),
    "cartilage": Tissue(95.0),
    "disc": Tissue(85.0),
    "nucleus": Tissue(70.0),
    "cortical": Tissue(1650.0),
    "trabecular": Tissue(-10.0, 880.0, "trabecular"),  # mean ~255 HU
    "trabecular_dense": Tissue(0.0, 1150.0, "trabecular"),  # mean ~350 HU (femoral head)
    "trabecular_spine": Tissue(-20.0, 900.0, "trabecular"),  # mean ~250 HU (vertebral body)
    "marrow": Tissue(-40.0),  # fatty marrow of the medullary canal
    "table": Tissue(250.0),
    "table_foam": Tissue(-900.0),
}

MR_T1 = {
    "air": Tissue(0.0),
    "skin": Tissue(420.0),
    "fat": Tissue(1000.0),
    "muscle": Tissue(330.0),
    "tendon": Tissue(40.0),
    "blood": Tissue(260.0),
    "fluid": Tissue(170.0),
    "cartilage": Tissue(420.0),
    "cortical": Tissue(30.0),
    "trabecular": Tissue(990.0, 450.0, "trabecular"),  # fatty marrow with dark struts
    "trabecular_dense": Tissue(970.0, 420.0, "trabecular"),
    "marrow": Tissue(980.0),
    "meniscus": Tissue(40.0),
    "ligament": Tissue(60.0),
}

# Label colours (sRGB 0-255) shared by the samples, close to 3D Slicer's anatomy colours.
COLORS = {
    "bone": (241, 214, 145),
    "pelvis": (241, 214, 145),
    "femur": (216, 186, 120),
    "femur_left": (216, 186, 120),
    "femur_right": (205, 170, 110),
    "tibia": (230, 200, 140),
    "fibula": (200, 180, 120),
    "patella": (250, 225, 165),
    "vertebra": (241, 214, 145),
    "disc": (111, 184, 210),
    "aorta_lumen": (216, 101, 79),
    "vessel_wall": (240, 200, 180),
}
