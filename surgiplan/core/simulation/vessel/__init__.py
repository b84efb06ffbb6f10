"""Blood flow in a patient's vessels: case studies ``vessel-rest`` / ``vessel-exercise`` and lumen studies."""
