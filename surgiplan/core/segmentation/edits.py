"""Undoable segment edits of the window and scripts: one undo step each, nothing lost on undo.

:class:`SegmentationEdit` records a change of the segment list together with its voxels
(box-limited :class:`~surgiplan.core.segmentation.patch.LabelPatch` per layer, plus any
layer the change added), so undo gives every voxel back: also those a new segment took
from others. The workflows on top of it:

* :func:`add_segment`: a new segment from a mask with 3D Slicer's overwrite policy
  (``"none"``: only unlabelled voxels; ``"all"``; or the names of the segments it may
  take voxels from, e.g. the visible ones);
* :func:`threshold_to_segment`: a new segment from an HU range of the scan;
* :func:`merge_segmentation`: add every segment of another segmentation (a preset's result)
  to this one under the same overwrite policy, clashing names made unique (``femur_left_2``);
* :func:`apply_parts`: merge a separation's result (``{name: mask}``) into the
  segmentation (the source keeps what no part took).

Examples
--------
>>> edit = threshold_to_segment(seg, volume, 200, 3000, overwrite="none")  # doctest: +SKIP
>>> case.record(edit)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.segmentation.patch import LabelPatch

OVERWRITE_POLICIES = ("none", "all")


class SegmentationEdit:
    """One undo step: the segment list and the voxels a change touched (redo/undo exact)."""

    def __init__(self, seg, description: str, before: list, patches: list, added: list[np.ndarray],
                 n_layers: int) -> None:
        self.segmentation = seg
        self.description = description
        self.before, self.after = list(before), list(seg.segments)
        self.patches = [p for p in patches if not p.empty]
        self.added = added
        self.n_layers = n_layers

    @classmethod
    def record(cls, seg, change: Callable[[], object], description: str) -> SegmentationEdit:
        """Run ``change()`` (which edits ``seg`` in place) and return the command that undoes it."""
        before = list(seg.segments)
        n_layers = len(seg.layers)
        layers = [lay.copy() for lay in seg.layers]
        try:
            change()
        except BaseException:
            seg.layers[:] = layers
            seg.segments[:] = before
            raise
        patches = [LabelPatch.from_arrays(seg, li, layers[li], seg.layers[li], description)
                   for li in range(n_layers)]
        added = [lay.copy() for lay in seg.layers[n_layers:]]
        return cls(seg, description, before, patches, added, n_layers)

    def apply(self) -> None:
        for p in self.patches:
            p.apply()
        if len(self.segmentation.layers) == self.n_layers:
            self.segmentation.layers.extend(a.copy() for a in self.added)
        self.segmentation.segments[:] = self.after

    def revert(self) -> None:
        for p in reversed(self.patches):
            p.revert()
        del self.segmentation.layers[self.n_layers:]
        self.segmentation.segments[:] = self.before

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.patches) + sum(int(a.nbytes) for a in self.added) + 256

    @property
    def empty(self) -> bool:
        return not self.patches and not self.added and self.before == self.after


def owned(seg, names: Collection[str] | None = None) -> np.ndarray:
    """Boolean mask [k, j, i] of the voxels of segments ``names`` (all segments by default)."""
    out = np.zeros(seg.shape, bool)
    for s in seg.segments:
        if names is None or s.name in names:
            out |= seg.layers[s.layer] == s.label
    return out


def _protected(seg, overwrite) -> np.ndarray | None:
    """Voxels a new segment may not take under ``overwrite`` (None: it may take any)."""
    if isinstance(overwrite, str):
        if overwrite not in OVERWRITE_POLICIES:
            raise InputError(f"unknown overwrite policy {overwrite!r}",
                             hint="Use 'none', 'all' or the names of the segments that may be overwritten.")
        return None if overwrite == "all" else owned(seg)
    allowed = set(overwrite)
    return owned(seg, [n for n in seg.names if n not in allowed])


def add_segment(seg, name: str, mask: np.ndarray, *, overwrite="none", color=None,
                description: str | None = None) -> SegmentationEdit:
    """Add segment ``name`` from ``mask`` under an overwrite policy; returns the applied edit.

    Parameters
    ----------
    seg : Segmentation
        Edited in place.
    name : str
        New segment's name (must be new).
    mask : numpy.ndarray of bool, shape [k, j, i]
        Voxels of the new segment, on the segmentation's grid.
    overwrite : {"none", "all"} or collection of str
        Which existing segments may lose voxels to it: none (it gets only unlabelled voxels),
        all, or those named (e.g. the visible ones), as 3D Slicer's "modify other segments".
    color : tuple of float, optional
        RGB in 0..1.
    description : str, optional
        Undo text.

    Returns
    -------
    SegmentationEdit
        Already applied; put it on the undo stack (``case.record(edit)``).
    """
    mask = np.asarray(mask, bool)
    if mask.shape != seg.shape:
        raise InputError(f"mask shape {mask.shape} does not match the segmentation grid {seg.shape}")
    keep_out = _protected(seg, overwrite)
    if keep_out is not None:
        mask = mask & ~keep_out
    return SegmentationEdit.record(seg, lambda: seg.add_segment(name, mask, color=color),
                                   description or f"new segment {name}")


def threshold_to_segment(seg, volume, lower: float, upper: float, *, name: str | None = None,
                         overwrite="none", color=None) -> SegmentationEdit:
    """A new segment of the voxels of ``volume`` within [lower, upper] (HU); see :func:`add_segment`.

    ``name`` defaults to the first free ``threshold_<n>``.
    """
    from surgiplan.core.segmentation.threshold import threshold

    if name is None:
        n = 1
        while f"threshold_{n}" in seg.names:
            n += 1
        name = f"threshold_{n}"
    return add_segment(seg, name, threshold(volume, lower, upper), overwrite=overwrite, color=color,
                       description=f"threshold {lower:g} to {upper:g} HU to {name}")


def unique_name(seg, name: str) -> str:
    """``name`` when ``seg`` has no segment of that name, else the first free ``name_2``, ``name_3``..."""
    if name not in seg.names:
        return name
    n = 2
    while f"{name}_{n}" in seg.names:
        n += 1
    return f"{name}_{n}"


def merge_segmentation(seg, other, *, overwrite="none", description: str | None = None
                       ) -> SegmentationEdit:
    """Add every segment of ``other`` (e.g. a preset's result) to ``seg``; one undo step.

    Parameters
    ----------
    seg : Segmentation
        Edited in place; its segments keep their voxels unless ``overwrite`` lets the new
        ones take them.
    other : Segmentation
        On the same grid; not changed.
    overwrite : {"none", "all"} or collection of str
        As :func:`add_segment`, decided against ``seg``'s segments before the merge (the
        added segments do not take voxels from each other).
    description : str, optional
        Undo text.

    Returns
    -------
    SegmentationEdit
        Already applied. Its ``renamed`` maps an ``other`` name to the name it got when it
        clashed with one of ``seg`` (``femur_left`` -> ``femur_left_2``).
    """
    if tuple(other.shape) != tuple(seg.shape):
        raise InputError(f"the segmentation to add has grid {tuple(other.shape)}, this one {tuple(seg.shape)}",
                         hint="Both must be on the same scan.")
    keep_out = _protected(seg, overwrite)
    renamed: dict[str, str] = {}

    def change() -> None:
        for s in other.segments:
            mask = other.mask(s.name)
            if keep_out is not None:
                mask = mask & ~keep_out
            name = unique_name(seg, s.name)
            if name != s.name:
                renamed[s.name] = name
            # a renamed copy gets its own colour: two "femur_left" of one colour read as one bone
            seg.add_segment(name, mask, color=s.color if name == s.name else None)
            for lay in seg.layers[1:]:  # layer 0 is overwritten; voxels it may take leave the others
                lay[mask] = 0

    edit = SegmentationEdit.record(seg, change, description or
                                   f"add {', '.join(other.names)} to the segmentation")
    edit.renamed = renamed
    return edit


def apply_parts(seg, source: str, parts: dict[str, np.ndarray], description: str | None = None
                ) -> SegmentationEdit:
    """Merge a separation of segment ``source`` into ``parts`` (name -> mask); one undo step.

    Each part is added (or merged into the segment of that name); ``source`` keeps the voxels
    no part took (or is removed when none are left).
    """
    if source not in seg.names:
        raise InputError(f"no segment {source!r} to separate")

    def change() -> None:
        rest = seg.mask(source)
        for name, m in parts.items():
            rest &= ~m
            if name == source:
                continue
            if name in seg.names:
                seg.set_mask(name, seg.mask(name) | m)
            else:
                seg.add_segment(name, m)
        keep = rest | parts.get(source, np.zeros_like(rest))
        if keep.any():
            seg.set_mask(source, keep)
        else:
            seg.remove_segment(source)

    return SegmentationEdit.record(seg, change, description or
                                   f"separate {source} into {', '.join(parts)}")
