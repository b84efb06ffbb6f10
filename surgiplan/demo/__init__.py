"""The headless demos: a sample scan to a case with models, landmarks and two compared plans.

Product (``surgiplan demo``), test fixtures and examples of the core API at once, so they
live outside ``core`` and depend on it only (``core`` never imports this package).

::

    run.py          run_demo: sample -> DICOM -> preset -> models -> plans -> comparison files
    sample_case.py  build_sample_case: a sample scan as a saved case with its models
    plans.py        build_demo_plans per anatomy; prepare_sample_case (models from ground truth)
    hip.py knee.py spine.py vascular.py   the scripted plans of each anatomy
"""
