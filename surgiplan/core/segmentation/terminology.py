"""Default colours and coded anatomical terms for segment names.

Terms use 3D Slicer's ``Segment<N>_Tags`` serialisation of a DICOM coded
terminology entry (SNOMED CT codes from the DICOM CID 7150/7153 lists), so a
segmentation saved here shows the right term in Slicer's Segment Editor.
Colours (0..1 RGB): Slicer's "GenericAnatomyColors" gives nearly every bone the same
ivory, which makes a pelvis and two femora (or neighbouring vertebrae) one beige mass
in the slices and in 3D. Bones that are segmented next to each other therefore get
distinct, muted hues of equal lightness (ivory, steel blue, sage, amber, lavender,
rose), the same in the slice overlays and on the 3D models; vessels stay red.
"""

from __future__ import annotations

_CATEGORY = "SCT^123037004^Anatomical Structure"
_TISSUE = "SCT^85756007^Tissue"
# muted hues of about equal lightness, distinct from each other and from the red of vessels
_IVORY = (0.886, 0.800, 0.596)
_BLUE = (0.420, 0.624, 0.839)
_SAGE = (0.471, 0.729, 0.510)
_AMBER = (0.918, 0.651, 0.384)
_LAVENDER = (0.706, 0.580, 0.839)
_ROSE = (0.847, 0.541, 0.580)
# name -> (type code "SCT^code^meaning", colour 0..1, category)
_TERMS: dict[str, tuple[str, tuple[float, float, float], str]] = {
    "bone": ("SCT^272673000^Bone", _IVORY, _TISSUE),
    "skull": ("SCT^89546000^Skull", _IVORY, _CATEGORY),
    "pelvis": ("SCT^12921003^Pelvis", _IVORY, _CATEGORY),
    "sacrum": ("SCT^54735007^Sacrum", _ROSE, _CATEGORY),
    "femur": ("SCT^71341001^Femur", _BLUE, _CATEGORY),
    "femur_left": ("SCT^71341001^Femur", _BLUE, _CATEGORY),
    "femur_right": ("SCT^71341001^Femur", _SAGE, _CATEGORY),
    "tibia": ("SCT^12611008^Tibia", _SAGE, _CATEGORY),
    "fibula": ("SCT^87342007^Fibula", _LAVENDER, _CATEGORY),
    "patella": ("SCT^64234005^Patella", _AMBER, _CATEGORY),
    "aorta": ("SCT^15825003^Aorta", (0.847, 0.396, 0.310), _CATEGORY),
    "aorta_lumen": ("SCT^15825003^Aorta", (0.847, 0.396, 0.310), _CATEGORY),
    "vessel": ("SCT^59820001^Blood vessel", (0.753, 0.271, 0.235), _CATEGORY),
    "vertebra": ("SCT^51282000^Vertebra", _IVORY, _CATEGORY),
    "soft_tissue": ("SCT^85756007^Tissue", (0.694, 0.478, 0.396), _TISSUE),
}
#: colours of names without a coded term here
_COLORS_ONLY = {"vessel_wall": (0.929, 0.600, 0.651), "disc": (0.557, 0.741, 0.776)}
#: neighbouring vertebrae L1..L5 (and T1..T12, C1..C7) cycle through these
_VERTEBRA_CYCLE = (_IVORY, _BLUE, _SAGE, _AMBER, _LAVENDER)
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
    n = _vertebra_number(key)
    if n is not None:  # vertebrae: neighbours differ
        return _VERTEBRA_CYCLE[(n - 1) % len(_VERTEBRA_CYCLE)]
    if key in _COLORS_ONLY:
        return _COLORS_ONLY[key]
    if key.startswith("disc"):  # disc_L1_L2 ...
        return _COLORS_ONLY["disc"]
    return _PALETTE[(int(label) - 1) % len(_PALETTE)]


def _vertebra_number(key: str) -> int | None:
    """Running number from C1 down for names like 'L3', 'T12', 'C2' (lower case); else None."""
    offset = {"c": 0, "t": 7, "l": 19}
    if len(key) >= 2 and key[0] in offset and key[1:].isdigit():
        return offset[key[0]] + int(key[1:])
    return None


def terminology_for(name: str) -> str:
    """Slicer ``TerminologyEntry`` string for a known structure name, else ''."""
    key = name.lower()
    if _vertebra_number(key) is not None:
        key = "vertebra"
    if key not in _TERMS:
        return ""
    code, _, category = _TERMS[key]  # laterality is the type modifier, as in Slicer
    side = next((v for k, v in _LATERALITY.items() if key.endswith(k)), "^^")
    return (
        "Segmentation category and type - 3D Slicer General Anatomy list"
        f"~{category}~{code}~{side}~Anatomic codes - DICOM master list~^^~^^"
    )
