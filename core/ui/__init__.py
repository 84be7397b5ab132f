"""Streamlit layer of RadLens: the only package in core that imports Streamlit.

Modules: :mod:`core.ui.common` (page setup, scan input, cached loading, QC, metadata, 3D),
:mod:`core.ui.home` (landing page), :mod:`core.ui.explorer` (Scan Explorer). Page owners add
their own modules beside these (``core/ui/brain.py``, ``core/ui/tasks.py``).
"""
