"""Rasterising analytic anatomy into a scan: partial volume, texture, PSF blur and noise.

An anatomy is an ordered list of :class:`Layer` (a shape, the tissue it is made
of, and the ground-truth label it writes). Layers are painted in order, each
over the previous ones, slab by slab of slices, evaluating each shape only in
its bounding box.

Partial volume: every voxel takes the fraction ``f`` of a layer it contains,
computed from the signed distance ``d`` (mm) at its centre as
``f = clip(1/2 - d / h, 0, 1)`` with ``h`` the voxel size (the geometric mean
of the spacings). That is the box-filter coverage of a locally planar surface,
i.e. what an infinitely supersampled rasterisation gives, at the cost of one
evaluation per voxel. The image is then blurred by a Gaussian point-spread
function and noise is added (in-plane correlated Gaussian noise for CT, Rician
for MR). Labels are exact: a voxel belongs to a structure when its *centre* is
inside the analytic surface.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from surgiplan.core.jobs import Progress, report, sub_progress
from surgiplan.core.samples.sdf import (
    Box,
    Intersect,
    Shape,
    Subtract,
    Transformed,
    Union,
    boxes_overlap,
)

_COMPOSITE = (Union, Subtract, Intersect, Transformed)


@dataclass(frozen=True)
class Grid:
    """A scan grid: ``shape`` (nk, nj, ni), ``spacing`` (si, sj, sk) mm, LPS ``origin``, ``direction``."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))

    @property
    def voxel_mm(self) -> float:
        return float(np.prod(self.spacing) ** (1.0 / 3.0))

    @property
    def matrix(self) -> np.ndarray:
        """3x3 mapping (i, j, k) index steps to LPS mm."""
        return np.asarray(self.direction, float) * np.asarray(self.spacing, float)[None, :]

    def index_to_world(self, ijk) -> np.ndarray:
        return np.asarray(ijk, float) @ self.matrix.T + np.asarray(self.origin, float)

    def world_to_index(self, xyz) -> np.ndarray:
        return (np.asarray(xyz, float) - np.asarray(self.origin, float)) @ np.linalg.inv(self.matrix).T

    def coords(self, k0: int, k1: int, j0: int, j1: int, i0: int, i1: int):
        """World x, y, z (float32, broadcastable to [k, j, i]) of a sub-block of voxel centres."""
        m = self.matrix.astype(np.float32)
        o = np.asarray(self.origin, np.float32)
        i = np.arange(i0, i1, dtype=np.float32)[None, None, :]
        j = np.arange(j0, j1, dtype=np.float32)[None, :, None]
        k = np.arange(k0, k1, dtype=np.float32)[:, None, None]
        return tuple(o[r] + m[r, 0] * i + m[r, 1] * j + m[r, 2] * k for r in range(3))

    def box_of(self, k0, k1, j0, j1, i0, i1) -> Box:
        c = np.array(
            [[i, j, k] for i in (i0, i1 - 1) for j in (j0, j1 - 1) for k in (k0, k1 - 1)], float
        )
        w = self.index_to_world(c)
        return w.min(axis=0), w.max(axis=0)


@dataclass(frozen=True)
class Tissue:
    """A tissue's scanner value; with ``texture``, ``value + (alt - value) * texture(p)``.

    CT values are in HU, MR values in arbitrary signal units.
    """

    value: float
    alt: float | None = None
    texture: str | None = None


@dataclass
class Layer:
    """A shape filled with a tissue; ``label`` > 0 writes that ground-truth label.

    ``inner`` paints further tissues inside the shape without evaluating it again:
    each ``(inset_mm, mask, tissue)`` fills the shape shrunk by ``inset_mm``,
    intersected with ``mask`` when given (e.g. a bone's cancellous core, its
    diaphyseal cortex, its medullary canal).
    """

    name: str
    shape: Shape
    tissue: str
    label: int = 0
    inner: list[tuple[float, Shape | None, str]] = field(default_factory=list)


def trabecular_texture(
    rng: np.random.Generator, n: int = 64, voxel_mm: float = 0.45, voxel_scale_mm: float = 0.0
) -> np.ndarray:
    """A tileable 3D pattern in [0, 1] of plate- and rod-like struts (period ``n * voxel_mm`` mm).

    Band-pass filtered white noise; struts sit near its zero level set, ~1 mm apart.
    ``voxel_scale_mm``: the scan's voxel size; the pattern is low-passed to it (a
    box of that size, approximated by a Gaussian) so coarse scans show the
    averaged texture a scanner would, not aliased salt and pepper.
    """
    white = rng.standard_normal((n, n, n)).astype(np.float32)
    bp = ndimage.gaussian_filter(white, 1.2, mode="wrap") - ndimage.gaussian_filter(
        white, 3.0, mode="wrap"
    )
    bp /= bp.std()
    tex = np.exp(-((bp / 0.45) ** 2)).astype(np.float32)
    if voxel_scale_mm > voxel_mm:
        sigma = voxel_scale_mm / voxel_mm / 2.5
        tex = ndimage.gaussian_filter(tex, sigma, mode="wrap")
    return tex


@dataclass
class Textures:
    """Tileable textures looked up at world positions (mm)."""

    arrays: dict[str, np.ndarray]
    voxel_mm: float = 0.45

    def sample(self, name: str, x, y, z) -> np.ndarray:
        t = self.arrays[name]
        n = t.shape[0]
        s = 1.0 / self.voxel_mm
        ix = np.floor(x * s).astype(np.int64) % n
        iy = np.floor(y * s).astype(np.int64) % n
        iz = np.floor(z * s).astype(np.int64) % n
        return t[iz, iy, ix]


def coverage(d: np.ndarray, h: float) -> np.ndarray:
    """Fraction of a voxel of size ``h`` mm inside a surface at signed distance ``d`` mm."""
    return np.clip(0.5 - d * (1.0 / h), 0.0, 1.0).astype(np.float32)


def _index_box(grid: Grid, box: Box, pad: float) -> tuple[int, int, int, int, int, int] | None:
    lo, hi = box
    corners = np.array(
        [[x, y, z] for x in (lo[0] - pad, hi[0] + pad) for y in (lo[1] - pad, hi[1] + pad)
         for z in (lo[2] - pad, hi[2] + pad)]
    )
    idx = grid.world_to_index(corners)
    mn = np.floor(idx.min(axis=0)).astype(int)
    mx = np.ceil(idx.max(axis=0)).astype(int) + 1
    nk, nj, ni = grid.shape
    i0, j0, k0 = np.maximum(mn, 0)
    i1, j1, k1 = np.minimum(mx, [ni, nj, nk])
    if i0 >= i1 or j0 >= j1 or k0 >= k1:
        return None
    return int(k0), int(k1), int(j0), int(j1), int(i0), int(i1)


def _fill(sub: np.ndarray, d: np.ndarray, h: float, t: Tissue, textures: Textures, x, y, z) -> None:
    """Blend tissue ``t`` into ``sub`` (in place) by the partial-volume fraction of distance ``d``."""
    near = d < 0.5 * h
    if not np.any(near):
        return
    f = coverage(d, h)
    if t.texture is not None:
        xb, yb, zb = np.broadcast_arrays(x, y, z)
        tex = textures.sample(t.texture, xb, yb, zb)
        v = t.value + (t.alt - t.value) * tex
    else:
        v = np.float32(t.value)
    sub += f * (v - sub)


def _paint_block(grid, layer, tissues, textures, image, labels, h, kk0, kk1, j0, j1, i0, i1) -> None:
    x, y, z = grid.coords(kk0, kk1, j0, j1, i0, i1)
    region = grid.box_of(kk0, kk1, j0, j1, i0, i1)
    lo, hi = layer.shape.box()
    if not boxes_overlap((lo - 2 * h, hi + 2 * h), region):
        return
    d = layer.shape.sdf(x, y, z, region)
    d = np.broadcast_to(d, (kk1 - kk0, j1 - j0, i1 - i0))
    if not np.any(d < 0.5 * h):
        return
    sub = image[kk0:kk1, j0:j1, i0:i1]
    _fill(sub, d, h, tissues[layer.tissue], textures, x, y, z)
    for inset, mask, tissue in layer.inner:
        di = d + np.float32(inset)
        if mask is not None:
            di = np.maximum(di, mask.sdf(x, y, z, region))
        _fill(sub, di, h, tissues[tissue], textures, x, y, z)
    if layer.label:
        lab = labels[kk0:kk1, j0:j1, i0:i1]
        lab[d < 0] = layer.label


def paint(
    grid: Grid,
    layers: list[Layer],
    tissues: dict[str, Tissue],
    textures: Textures,
    background: float,
    progress: Progress | None = None,
    slab_voxels: int = 4_000_000,
    block: int = 48,
) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free image (float32 [k, j, i]) with partial volume, and the exact label map (uint8)."""
    nk, nj, ni = grid.shape
    image = np.full(grid.shape, background, np.float32)
    labels = np.zeros(grid.shape, np.uint8)
    h = grid.voxel_mm
    slab = max(1, slab_voxels // (nj * ni))
    boxes = [_index_box(grid, layer.shape.box(), 2.0 * h) for layer in layers]
    for k0 in range(0, nk, slab):
        k1 = min(nk, k0 + slab)
        report(progress, k0 / nk, f"slices {k0 + 1}-{k1} of {nk}")
        for layer, ib in zip(layers, boxes, strict=True):
            if ib is None or ib[1] <= k0 or ib[0] >= k1:
                continue
            kk0, kk1 = max(ib[0], k0), min(ib[1], k1)
            _, _, j0, j1, i0, i1 = ib
            # composite shapes are evaluated block by block so each block only pays for the
            # primitives near it (their bounding boxes cull the rest)
            step = block if isinstance(layer.shape, _COMPOSITE) else max(nj, ni)
            for jb in range(j0, j1, step):
                for ibk in range(i0, i1, step):
                    _paint_block(grid, layer, tissues, textures, image, labels, h,
                                 kk0, kk1, jb, min(j1, jb + step), ibk, min(i1, ibk + step))
    report(progress, 1.0, "anatomy painted")
    return image, labels


def blur(image: np.ndarray, grid: Grid, fwhm_mm: tuple[float, float, float]) -> np.ndarray:
    """Gaussian point-spread function of full width at half maximum ``fwhm_mm`` along (i, j, k), in place."""
    sig = [f / 2.3548 / s for f, s in zip(fwhm_mm, grid.spacing, strict=True)]
    ndimage.gaussian_filter(image, sigma=(sig[2], sig[1], sig[0]), output=image, mode="nearest")
    return image


def add_noise(
    image: np.ndarray,
    rng: np.random.Generator,
    sd: float,
    corr_vox: float = 0.7,
    kind: str = "gaussian",
    progress: Progress | None = None,
    bank: int = 6,
) -> np.ndarray:
    """Add noise of standard deviation ``sd`` in place, slice by slice.

    ``gaussian``: white noise low-passed in-plane (sigma ``corr_vox`` voxels), like
    filtered-back-projection CT noise. ``rician``: magnitude of complex Gaussian
    noise, like an MR magnitude image. For speed, a bank of ``bank`` noise fields
    twice the slice size is filtered once; each slice takes a randomly placed,
    randomly flipped crop of one of them.
    """
    nk, nj, ni = image.shape
    gain = np.float32(sd * (2.0 * np.sqrt(np.pi) * corr_vox if corr_vox > 0 else 1.0))
    n_fields = bank * (2 if kind == "rician" else 1)
    fields = []
    for _ in range(n_fields):
        f = rng.standard_normal((2 * nj, 2 * ni), dtype=np.float32)
        if corr_vox > 0:
            ndimage.gaussian_filter(f, sigma=corr_vox, output=f, mode="wrap")
        f *= gain
        fields.append(f)
    picks = rng.integers(0, bank, size=(nk, 2))
    offs = rng.integers(0, [nj, ni], size=(nk, 2, 2))
    flips = rng.integers(0, 2, size=(nk, 2, 2)).astype(bool)

    def crop(k: int, c: int) -> np.ndarray:
        f = fields[picks[k, c] + (bank if c == 1 else 0)]
        a = f[offs[k, c, 0]:offs[k, c, 0] + nj, offs[k, c, 1]:offs[k, c, 1] + ni]
        if flips[k, c, 0]:
            a = a[::-1]
        if flips[k, c, 1]:
            a = a[:, ::-1]
        return a

    for k in range(nk):
        if k % 32 == 0:
            report(progress, k / nk, "noise")
        if kind == "rician":
            image[k] = np.sqrt((image[k] + crop(k, 0)) ** 2 + crop(k, 1) ** 2)
        else:
            image[k] += crop(k, 0)
    return image


def render(
    grid: Grid,
    layers: list[Layer],
    tissues: dict[str, Tissue],
    rng: np.random.Generator,
    *,
    background: float,
    psf_fwhm_mm: tuple[float, float, float],
    noise_sd: float,
    noise_kind: str = "gaussian",
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Paint, blur and add noise: (image float32 [k, j, i], labels uint8 [k, j, i])."""
    textures = Textures({"trabecular": trabecular_texture(rng, voxel_scale_mm=grid.voxel_mm)})
    image, labels = paint(grid, layers, tissues, textures, background, sub_progress(progress, 0, 0.7))
    report(progress, 0.7, "point-spread function")
    blur(image, grid, psf_fwhm_mm)
    add_noise(image, rng, noise_sd, kind=noise_kind, progress=sub_progress(progress, 0.8, 1.0))
    return image, labels
