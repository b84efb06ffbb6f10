"""The desktop window (PySide6 + pyvistaqt). Thin: every computation is a core call."""
