"""Brain MRI volumetry: registration to MNI152, FreeSurfer-defined ROIs, norms, grades, staging.

Public API::

    from core.brain import analyze, BrainReport
    report = analyze(scan, age_years=70, sex="F")          # raises RejectedInput subclasses on bad input
    report.volumes_ml["hippocampus_left"], report.biomarkers.hippocampal_volume_percentile, report.stage.label
"""

from core.brain.pipeline import analyze, warm_up
from core.brain.preprocess import NoBrainFoundError, NotAVolumeError
from core.brain.report import STAGE_LABELS, Biomarkers, BrainReport, Stage

__all__ = ["analyze", "warm_up", "BrainReport", "Biomarkers", "Stage", "STAGE_LABELS", "NotAVolumeError", "NoBrainFoundError"]
