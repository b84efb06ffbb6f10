"""Scene of a case for display: slice reslicing, colour maps, 3D actors, cameras.

Used by the desktop window and by reports; never imports Qt. Heavy modules
(pyvista/VTK) are imported inside the functions that need them.
"""
