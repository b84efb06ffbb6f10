"""Computation core of surgiplan. Never imports Qt."""
