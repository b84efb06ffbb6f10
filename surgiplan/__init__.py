"""surgiplan: a 3D surgical planning workstation.

Everything that computes lives in :mod:`surgiplan.core` (no Qt); the command
line (:mod:`surgiplan.cli`) and the window (:mod:`surgiplan.gui`) are thin faces
on it. Every position is in patient LPS millimetres.
"""

__version__ = "0.1.0"
