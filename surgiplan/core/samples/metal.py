"""Implants in a synthetic CT: catalog meshes as shapes, implant materials, metal artefacts.

* :class:`MeshShape` turns a closed triangle mesh (an implant of the catalog, LPS mm)
  into a signed-distance :class:`~surgiplan.core.samples.sdf.Shape`, so the phantom
  rasteriser paints exactly the model that the implant finder later fits.
* :data:`IMPLANT_CT`: CT numbers (HU, extended scale before the scanner clips at
  3071 HU) of implant materials at 120 kVp: titanium alloy ~7000 HU, alumina
  ceramic ~4500 HU, UHMWPE ~ -90 HU.
* :func:`metal_artefacts`: streaks, beam hardening and photon starvation, made the
  way a scanner makes them: per axial slice the metal path length of every ray
  (a parallel-beam sinogram, ``skimage.transform.radon``) gives a line-integral
  error (beam hardening: ``-k * L^2``; photon starvation: noise growing with
  ``L``); its filtered back-projection (``iradon``, ramp filter) is added to the
  image. Rays through two metal objects (cup and head, two screws) carry the
  largest error: the dark bands and bright streaks of real post-operative CTs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from surgiplan.core.jobs import Progress, report
from surgiplan.core.samples.phantom import Tissue
from surgiplan.core.samples.sdf import FAR, Shape

#: CT numbers of implant materials (HU) before the scanner's 12-bit clip.
IMPLANT_CT = {
    "titanium": Tissue(7000.0),
    "ceramic": Tissue(4500.0),
    "polyethylene": Tissue(-90.0),
}

#: Relative metal attenuation of each material, for the artefact model (titanium = 1).
METAL_WEIGHT = {"titanium": 1.0, "ceramic": 0.65}


@dataclass
class MeshShape(Shape):
    """A closed, outward-oriented triangle mesh (LPS mm) as a signed-distance shape.

    Distances are exact within ``band`` mm of the mesh's bounding box (VTK's
    ``vtkImplicitPolyDataDistance``); farther away the distance to the box is
    returned (a lower bound, enough for rasterising).
    """

    mesh: object
    band: float = 4.0
    _lo: np.ndarray = field(init=False, repr=False)
    _hi: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        b = np.asarray(self.mesh.bounds, float)
        self._lo, self._hi = b[0::2], b[1::2]

    def box(self):
        return self._lo.copy(), self._hi.copy()

    def _sdf(self, x, y, z, region):
        import pyvista as pv

        x, y, z = np.broadcast_arrays(x, y, z)
        shape = x.shape
        p = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1).astype(np.float64)
        q = np.maximum(np.maximum(self._lo - p, p - self._hi), 0.0)
        d = np.linalg.norm(q, axis=1)
        out = np.where(d > 0, d, FAR).astype(np.float32)
        near = d <= self.band
        if np.any(near):
            pts = pv.PolyData(p[near])
            out[near] = pts.compute_implicit_distance(self.mesh)["implicit_distance"]
        return out.reshape(shape)


def _project(frac: np.ndarray, cos: np.ndarray, sin: np.ndarray, nbins: int) -> np.ndarray:
    """Parallel-beam line integrals (pixel units) of a sparse 2D map: pixel-driven, linear bins.

    Detector bin ``b`` sits at ``s = b - nbins // 2`` pixels from the slice centre.
    """
    nj, ni = frac.shape
    jj, ii = np.nonzero(frac > 1e-4)
    w = frac[jj, ii]
    x = ii - (ni - 1) / 2.0
    y = jj - (nj - 1) / 2.0
    s = x[None, :] * cos[:, None] + y[None, :] * sin[:, None] + nbins // 2
    b0 = np.floor(s).astype(np.int64)
    t = s - b0
    rows = np.arange(len(cos))[:, None] * nbins
    out = np.bincount((rows + b0).ravel(), (w[None, :] * (1 - t)).ravel(), len(cos) * nbins)
    out += np.bincount((rows + np.clip(b0 + 1, 0, nbins - 1)).ravel(), (w[None, :] * t).ravel(), len(cos) * nbins)
    return out.reshape(len(cos), nbins)


def _ramp(nbins: int) -> np.ndarray:
    """Ram-Lak filter kernel in the frequency domain for unit detector spacing (length 2 * nbins)."""
    n = 2 * nbins
    k = np.arange(-nbins, nbins)
    h = np.zeros(n)
    h[nbins] = 0.25
    odd = k % 2 == 1
    h[odd] = -1.0 / (np.pi * k[odd]) ** 2
    return np.real(np.fft.fft(np.fft.ifftshift(h)))


def _backproject(q: np.ndarray, cos: np.ndarray, sin: np.ndarray, nj: int, ni: int) -> np.ndarray:
    """Filtered back-projection of filtered projections ``q`` [angle, bin] onto an nj x ni slice."""
    nbins = q.shape[1]
    x = (np.arange(ni) - (ni - 1) / 2.0)[None, :]
    y = (np.arange(nj) - (nj - 1) / 2.0)[:, None]
    out = np.zeros((nj, ni))
    bins = np.arange(nbins)
    for a in range(len(cos)):
        s = x * cos[a] + y * sin[a] + nbins // 2
        out += np.interp(s, bins, q[a])
    return out * (np.pi / len(cos))


def metal_artefacts(
    image: np.ndarray,
    metal: np.ndarray,
    spacing_mm: float,
    rng: np.random.Generator,
    *,
    hardening: float = 40.0,
    starvation: float = 40.0,
    angles: int = 180,
    progress: Progress | None = None,
) -> np.ndarray:
    """Add metal streaks and beam hardening to ``image`` (HU, [k, j, i], axial slices) in place.

    Per slice with metal: the metal path length ``L`` (mm) of every ray of a parallel-beam
    scan (pixel-driven projection), the line-integral error ``-hardening * L^2 +
    starvation * L * N(0, 1)`` (HU mm), ramp-filtered and back-projected (FBP) onto the slice.

    Parameters
    ----------
    image : numpy.ndarray
        float32 CT image in HU, indexed [k, j, i]; slices k are axial.
    metal : numpy.ndarray
        Metal fraction per voxel (0..1, weighted by :data:`METAL_WEIGHT`), same shape.
    spacing_mm : float
        In-plane pixel size (mm; square pixels).
    rng : numpy.random.Generator
        For the photon-starvation noise (deterministic for a seed).
    hardening : float
        Beam-hardening coefficient (HU per mm^2 of metal path): the line integral through
        ``L`` mm of metal is short by ``hardening * L^2`` HU mm.
    starvation : float
        Photon-starvation noise: standard deviation ``starvation * L`` HU mm per ray.
    angles : int
        Projection angles over 180 deg.

    Returns
    -------
    numpy.ndarray
        ``image``, changed in place.
    """
    nk, nj, ni = image.shape
    nbins = int(np.ceil(np.hypot(nj, ni))) + 3
    theta = np.radians(np.linspace(0.0, 180.0, angles, endpoint=False))
    cos, sin = np.cos(theta), np.sin(theta)
    ramp = _ramp(nbins)
    ks = [k for k in range(nk) if metal[k].max() > 0.05]
    for count, k in enumerate(ks):
        if count % 8 == 0:
            report(progress, count / max(1, len(ks)), "metal artefacts")
        path = _project(metal[k], cos, sin, nbins) * spacing_mm  # metal path length per ray, mm
        err = -hardening * path**2 + starvation * path * rng.standard_normal(path.shape)
        err /= spacing_mm  # HU mm -> HU pixels
        padded = np.zeros((len(cos), 2 * nbins))
        padded[:, :nbins] = err
        q = np.real(np.fft.ifft(np.fft.fft(padded, axis=1) * ramp[None, :], axis=1))[:, :nbins]
        image[k] += _backproject(q, cos, sin, nj, ni).astype(np.float32)
    report(progress, 1.0, "metal artefacts")
    return image
