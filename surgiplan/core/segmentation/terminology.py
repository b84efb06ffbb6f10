"""Default colours and coded anatomical terms for segment names.

Terms use 3D Slicer's ``Segment<N>_Tags`` serialisation of a DICOM coded
terminology entry (SNOMED CT codes from the DICOM CID 7150/7153 lists), so a
segmentation saved here shows the right term in Slicer's Segment Editor.
Colours follow Slicer's "GenericAnatomyColors" where one exists (0..1 RGB).
"""

from __future__ import annotations

_CATEGORY = "SCT^123037004^Anatomical Structure"
_TISSUE = "SCT^85756007^Tissue"
# name -> (type code "SCT^code^meaning", colour 0..1, category)
_TERMS: dict[str, tuple[str, tuple[float, float, float], str]] = {
    "bone": ("SCT^272673000^Bone", (0.945, 0.839, 0.569), _TISSUE),
    "skull": ("SCT^89546000^Skull", (0.945, 0.839, 0.569), _CATEGORY),
    "pelvis": ("SCT^12921003^Pelvis", (0.894, 0.757, 0.592), _CATEGORY),
    "femur": ("SCT^71341001^Femur", (0.694, 0.475, 0.376), _CATEGORY),
    "femur_left": ("SCT^71341001^Femur", (0.694, 0.475, 0.376), _CATEGORY),
    "femur_right": ("SCT^71341001^Femur", (0.780, 0.624, 0.498), _CATEGORY),
    "tibia": ("SCT^12611008^Tibia", (0.851, 0.651, 0.471), _CATEGORY),
    "fibula": ("SCT^87342007^Fibula", (0.780, 0.580, 0.400), _CATEGORY),
    "patella": ("SCT^64234005^Patella", (0.910, 0.741, 0.553), _CATEGORY),
    "aorta": ("SCT^15825003^Aorta", (0.847, 0.396, 0.310), _CATEGORY),
    "aorta_lumen": ("SCT^15825003^Aorta", (0.847, 0.396, 0.310), _CATEGORY),
    "vessel": ("SCT^59820001^Blood vessel", (0.753, 0.271, 0.235), _CATEGORY),
    "vertebra": ("SCT^51282000^Vertebra", (0.886, 0.792, 0.525), _CATEGORY),
    "soft_tissue": ("SCT^85756007^Tissue", (0.694, 0.478, 0.396), _TISSUE),
}
_LATERALITY = {"left": "SCT^7771000^Left", "right": "SCT^24028007^Right"}
_PALETTE = [
    (0.502, 0.682, 0.502), (0.945, 0.839, 0.569), (0.694, 0.478, 0.396),
    (0.435, 0.722, 0.824), (0.847, 0.396, 0.310), (0.867, 0.510, 0.396),
    (0.565, 0.933, 0.565), (0.753, 0.408, 0.345), (0.863, 0.961, 0.078),
]


def default_color(name: str, label: int = 1) -> tuple[float, float, float]:
    """Colour (r, g, b in 0..1) for a segment name; a palette colour by label otherwise."""
    key = name.lower()
    if key in _TERMS:
        return _TERMS[key][1]
    if key.startswith("l") and key[1:].isdigit():  # vertebrae L1..L5
        return _TERMS["vertebra"][1]
    return _PALETTE[(int(label) - 1) % len(_PALETTE)]


def terminology_for(name: str) -> str:
    """Slicer ``TerminologyEntry`` string for a known structure name, else ''."""
    key = name.lower()
    if key.startswith("l") and key[1:].isdigit():
        key = "vertebra"
    if key not in _TERMS:
        return ""
    code, _, category = _TERMS[key]  # laterality is the type modifier, as in Slicer
    side = next((v for k, v in _LATERALITY.items() if key.endswith(k)), "^^")
    return (
        "Segmentation category and type - 3D Slicer General Anatomy list"
        f"~{category}~{code}~{side}~Anatomic codes - DICOM master list~^^~^^"
    )
