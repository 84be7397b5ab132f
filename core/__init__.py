"""RadLens core library: scan I/O, gates, tasks, explanations, brain volumetry, reports.

Nothing in this package imports Streamlit except :mod:`core.ui`.
"""
