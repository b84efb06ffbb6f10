"""Vessel geometry from a lumen segmentation: lumen surface at the true edge, centrelines with radius,
stenosis detection, virtual stenting and a tagged flow mesh (all LPS mm).

Built on VTK, scipy and gmsh: VMTK 1.5.2 (the PyPI wheel for Python 3.12) requires vtk == 9.6.2 and
does not import beside the project's vtk 9.7.2 (undefined symbol in libvtkvmtkComputationalGeometry).
"""
