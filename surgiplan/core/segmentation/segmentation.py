"""The Segmentation: named segments stored as label maps on a Volume's grid.

A :class:`Segmentation` has the geometry of the scan it was made on (``shape``
``[k, j, i]``, ``spacing`` (i, j, k) mm, ``origin`` LPS mm of voxel 0,
``direction`` columns = LPS directions of i, j, k; see ``Volume``) and one or
more *layers*: integer label maps ``[k, j, i]`` (uint8, or uint16 when more than
255 labels are used). Each :class:`Segment` lives in one layer under one label
value. Segments that do not overlap share layer 0; a segment that overlaps
others goes into another layer, as in 3D Slicer's ``.seg.nrrd``.

The object is mutable only through :meth:`Segmentation.set_mask` and friends,
which return undoable :class:`~surgiplan.core.segmentation.patch.LabelPatch`
commands holding just the changed bounding box.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from surgiplan.core.errors import GeometryError, InputError
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.segmentation.terminology import default_color, terminology_for


@dataclass
class Segment:
    """One structure: name, display colour (r, g, b in 0..1), label value, layer.

    ``terminology`` is a DICOM-style coded term in 3D Slicer's serialisation
    (``"Segmentation category and type - 3D Slicer General Anatomy list~SCT^...``),
    or '' when unknown. ``segment_id`` is the stable identifier written to files.
    """

    name: str
    color: tuple[float, float, float]
    label: int
    layer: int = 0
    terminology: str = ""
    segment_id: str = ""

    def __post_init__(self) -> None:
        self.label = int(self.label)
        if self.label <= 0:
            raise InputError(f"segment '{self.name}': label value must be >= 1, got {self.label}")
        self.color = tuple(float(c) for c in self.color)  # type: ignore[assignment]
        if not self.segment_id:
            self.segment_id = self.name.replace(" ", "_") or f"Segment_{self.label}"


@dataclass
class SegmentStats:
    """Statistics of one segment: voxel count, volume (mL), HU mean/SD (None without a scan)."""

    name: str
    voxels: int
    volume_ml: float
    mean: float | None = None
    sd: float | None = None


@dataclass
class Segmentation:
    """Segments on a voxel grid in LPS mm (see module docstring)."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    segments: list[Segment] = field(default_factory=list)
    layers: list[np.ndarray] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.shape = tuple(int(s) for s in self.shape)  # type: ignore[assignment]
        # validate geometry through Volume's checks (cheap: a 1-voxel array view)
        probe = Volume(np.zeros((1, 1, 1), np.uint8), self.spacing, self.origin, self.direction)
        self.spacing, self.origin, self.direction = probe.spacing, probe.origin, probe.direction
        if not self.layers:
            self.layers = [np.zeros(self.shape, np.uint8)]
        for i, lay in enumerate(self.layers):
            if lay.shape != self.shape:
                raise GeometryError(
                    f"segmentation layer {i} has shape {lay.shape}, the grid is {self.shape} [k, j, i]"
                )
            if lay.dtype not in (np.uint8, np.uint16):
                self.layers[i] = _as_label_dtype(lay)

    # ------------------------------------------------------------ construction
    @classmethod
    def from_volume(cls, volume: Volume) -> Segmentation:
        """An empty segmentation on ``volume``'s grid."""
        return cls(
            shape=volume.array.shape,
            spacing=volume.spacing,
            origin=volume.origin,
            direction=volume.direction.copy(),
            metadata={k: v for k, v in volume.metadata.items() if k in ("series_uid", "study_uid", "source")},
        )

    @classmethod
    def from_labelmap(
        cls, labelmap: Volume, names: dict[int, str] | None = None,
        colors: dict[int, tuple[float, float, float]] | None = None,
    ) -> Segmentation:
        """A segmentation with one segment per non-zero label value of ``labelmap``.

        ``names`` / ``colors`` map label value -> name / colour (r, g, b 0..1);
        unnamed labels become ``Segment_<value>``.
        """
        arr = np.asarray(labelmap.array)
        if arr.dtype.kind == "f":
            if not np.all(np.equal(np.mod(arr, 1), 0)):
                raise InputError("a label map must hold whole numbers; this one has fractions")
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise InputError(f"label values must be 0..65535, found {arr.min()}..{arr.max()}")
        seg = cls(
            shape=arr.shape, spacing=labelmap.spacing, origin=labelmap.origin,
            direction=labelmap.direction.copy(), layers=[_as_label_dtype(arr)],
        )
        for value in np.unique(seg.layers[0]):
            if value == 0:
                continue
            v = int(value)
            name = (names or {}).get(v, f"Segment_{v}")
            color = (colors or {}).get(v) or default_color(name, v)
            seg.segments.append(Segment(name, color, v, 0, terminology_for(name)))
        return seg

    # -------------------------------------------------------------- geometry
    def geometry_volume(self, array: np.ndarray | None = None) -> Volume:
        """A Volume on this grid holding ``array`` (layer 0 by default)."""
        return Volume(
            self.layers[0] if array is None else array, self.spacing, self.origin, self.direction
        )

    @property
    def voxel_volume_mm3(self) -> float:
        return float(np.prod(self.spacing))

    def matches(self, volume: Volume, tol_mm: float = 1e-3) -> bool:
        """True when ``volume`` has this segmentation's grid (size and corners within tol_mm)."""
        return self.geometry_volume().same_grid(volume, tol_mm)

    def check_matches(self, volume: Volume, what: str = "the scan") -> None:
        """Raise GeometryError naming both grids when ``volume`` is on another grid."""
        if not self.matches(volume):
            mine, theirs = self.geometry_volume(), volume
            raise GeometryError(
                f"the segmentation grid ({mine.describe()}, origin {np.round(mine.origin, 3).tolist()} mm) "
                f"does not match {what} ({theirs.describe()}, origin {np.round(theirs.origin, 3).tolist()} mm)",
                hint="Segment this scan again, or resample the label map onto its grid.",
            )

    # -------------------------------------------------------------- segments
    @property
    def names(self) -> list[str]:
        return [s.name for s in self.segments]

    def segment(self, name_or_label: str | int) -> Segment:
        """The segment called ``name`` (or with label value ``label`` in layer 0)."""
        for s in self.segments:
            if s.name == name_or_label or s.segment_id == name_or_label:
                return s
        if isinstance(name_or_label, int | np.integer):
            for s in self.segments:
                if s.label == int(name_or_label):
                    return s
        raise InputError(
            f"no segment '{name_or_label}' in this segmentation",
            hint=f"Segments are: {', '.join(self.names) or '(none)'}.",
        )

    def mask(self, name_or_label: str | int) -> np.ndarray:
        """Boolean mask [k, j, i] of one segment."""
        s = self.segment(name_or_label)
        return self.layers[s.layer] == s.label

    def labelmap(self) -> np.ndarray:
        """Layer 0 when it is the only layer, else a merged map (later layers win)."""
        if len(self.layers) == 1:
            return self.layers[0]
        out = np.zeros(self.shape, np.uint16 if self._max_label() > 255 else np.uint8)
        for i, s in enumerate(self.segments, start=1):
            out[self.layers[s.layer] == s.label] = s.label if self._labels_unique() else i
        return out

    def _labels_unique(self) -> bool:
        labels = [s.label for s in self.segments]
        return len(labels) == len(set(labels))

    def _max_label(self) -> int:
        return max((s.label for s in self.segments), default=0)

    def _free_label(self, layer: int) -> int:
        used = {s.label for s in self.segments if s.layer == layer}
        v = 1
        while v in used:
            v += 1
        return v

    def add_segment(
        self, name: str, mask: np.ndarray | None = None, *, color=None, terminology: str | None = None,
        overlap: str = "overwrite",
    ) -> Segment:
        """Add a segment (optionally filled from a boolean ``mask`` [k, j, i]).

        ``overlap``: "overwrite" puts it in layer 0 replacing other segments where
        they overlap; "layer" keeps the others and puts it in a new layer when it
        overlaps any of them. Not undoable by itself (wrap in a Case command).
        """
        if name in self.names:
            raise InputError(f"a segment called '{name}' already exists", hint="Choose another name.")
        if overlap not in ("overwrite", "layer"):
            raise InputError(f"overlap must be 'overwrite' or 'layer', got '{overlap}'")
        layer = 0
        if mask is not None:
            mask = self._check_mask(mask)
            if overlap == "layer":
                layer = next(
                    (li for li, lay in enumerate(self.layers) if not np.any(lay[mask])), len(self.layers)
                )
                if layer == len(self.layers):
                    self.layers.append(np.zeros(self.shape, np.uint8))
        label = self._free_label(layer)
        if label > 255 and self.layers[layer].dtype == np.uint8:
            self.layers[layer] = self.layers[layer].astype(np.uint16)
        if label > 65535:
            raise InputError("too many segments in one layer (more than 65535)")
        seg = Segment(
            name, color or default_color(name, label), label, layer,
            terminology_for(name) if terminology is None else terminology,
            segment_id=self._unique_id(name),
        )
        self.segments.append(seg)
        if mask is not None:
            self.layers[layer][mask] = label
        return seg

    def _unique_id(self, name: str) -> str:
        base = name.replace(" ", "_") or "Segment"
        ids = {s.segment_id for s in self.segments}
        sid, n = base, 1
        while sid in ids:
            n += 1
            sid = f"{base}_{n}"
        return sid

    def remove_segment(self, name: str) -> None:
        s = self.segment(name)
        self.layers[s.layer][self.layers[s.layer] == s.label] = 0
        self.segments.remove(s)

    def _check_mask(self, mask: np.ndarray) -> np.ndarray:
        mask = np.asarray(mask)
        if mask.shape != self.shape:
            raise GeometryError(
                f"mask shape {mask.shape} does not match the segmentation grid {self.shape} [k, j, i]"
            )
        return mask.astype(bool, copy=False)

    def set_mask(self, name: str, mask: np.ndarray, description: str | None = None):
        """Replace segment ``name``'s voxels by ``mask``; returns the applied LabelPatch.

        Voxels of other segments of the same layer inside ``mask`` are overwritten
        (as Slicer's default "overwrite all" masking does); voxels the segment loses
        become background.
        """
        from surgiplan.core.segmentation.patch import LabelPatch

        s = self.segment(name)
        mask = self._check_mask(mask)
        lay = self.layers[s.layer]
        patch = LabelPatch.from_change(
            self, s.layer, lay, mask, s.label, description or f"edit {name}"
        )
        patch.apply()
        return patch

    # ------------------------------------------------------------ statistics
    def statistics(self, volume: Volume | None = None) -> list[SegmentStats]:
        """Per segment: voxel count, volume in mL, and HU (or intensity) mean/SD in ``volume``."""
        if volume is not None:
            self.check_matches(volume)
        out = []
        for s in self.segments:
            m = self.mask(s.name)
            n = int(np.count_nonzero(m))
            mean = sd = None
            if volume is not None and n:
                vals = volume.array[m].astype(np.float64)
                mean, sd = float(vals.mean()), float(vals.std(ddof=1) if n > 1 else 0.0)
            out.append(SegmentStats(s.name, n, n * self.voxel_volume_mm3 / 1000.0, mean, sd))
        return out

    def copy(self) -> Segmentation:
        return Segmentation(
            self.shape, self.spacing, self.origin, self.direction.copy(),
            [Segment(s.name, s.color, s.label, s.layer, s.terminology, s.segment_id) for s in self.segments],
            [lay.copy() for lay in self.layers], dict(self.metadata),
        )


def _as_label_dtype(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8)
    mx = int(arr.max()) if arr.size else 0
    mn = int(arr.min()) if arr.size else 0
    if mn < 0 or mx > 65535:
        raise InputError(f"label values must be 0..65535, found {mn}..{mx}")
    return arr.astype(np.uint8 if mx <= 255 else np.uint16)
