"""Surfaces: label map -> surface (LPS mm), smoothing, decimation, repair, metrics, mesh files."""

from surgiplan.core.surfaces.decimate import decimate
from surgiplan.core.surfaces.extract import mask_to_surface, segment_to_surface
from surgiplan.core.surfaces.mesh_io import MESH_FORMATS, import_model, read_mesh, write_mesh
from surgiplan.core.surfaces.metrics import mesh_area, mesh_volume, surface_distance
from surgiplan.core.surfaces.repair import WatertightReport, repair, watertight_report
from surgiplan.core.surfaces.smooth import smooth_surface

__all__ = [
    "MESH_FORMATS",
    "WatertightReport",
    "decimate",
    "import_model",
    "mask_to_surface",
    "mesh_area",
    "mesh_volume",
    "read_mesh",
    "repair",
    "segment_to_surface",
    "smooth_surface",
    "surface_distance",
    "watertight_report",
    "write_mesh",
]
