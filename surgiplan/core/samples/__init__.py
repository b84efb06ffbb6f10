"""The digital patients of sample_scans/: seeded generators of DICOM scans with exact ground truth."""

from surgiplan.core.samples.generate import (
    GENERATOR_VERSION,
    SAMPLE_NAMES,
    SamplePaths,
    build_scene,
    generate_sample,
    sample_path,
    samples_root,
)
from surgiplan.core.samples.ground_truth import read_ground_truth

__all__ = [
    "GENERATOR_VERSION",
    "SAMPLE_NAMES",
    "SamplePaths",
    "build_scene",
    "generate_sample",
    "read_ground_truth",
    "sample_path",
    "samples_root",
]
