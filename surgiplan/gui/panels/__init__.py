"""Workflow panels: Data, Segment, Models, Plan, Compare."""
