"""RadLens core library: scan I/O, gates, tasks, explanations, brain volumetry, reports.

Nothing in this package imports Streamlit except :mod:`core.ui`.
"""

from core.offline import configure_offline

configure_offline()
