"""Deterministic phantom generators (synthetic data) for tests, demo weights and sample cases.

Every generator takes a seed and uses its own ``numpy.random.Generator``: the same seed and
arguments give bit-identical output. The phantoms are structured, parameterised anatomy with
ground truth (labels, boxes, findings), not noise; their rules are phantom rules, not clinical
models.

Modules:
    head: 3D T1 head with a label map and volumes (``make_head_phantom``, ``stage_params``).
    brain_slice: 2D T1-contrast brain slices with glioma / meningioma / pituitary / no tumour.
    chest: PA chest radiographs with CheXpert/NIH-named findings.
    spine: lateral lumbar spine radiographs with VinDr-SpineXR lesion boxes (``make_spine_xray``,
        ``make_spine_case`` for detector loops, ``spine_dataset``).
    dicom: ``as_dicom_bytes`` for radiograph phantoms (no identifying data).
    samples: the "pick a sample case" catalogue.
"""
