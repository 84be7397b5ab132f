"""What each task page expects as input: image kind, body part and dimensionality.

Kept as data so a new page adds one row. Kinds and body parts use the input gate's
vocabularies (:data:`KINDS`, :data:`BODY_PARTS`).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Image kinds the input gate tells apart.
KINDS: tuple[str, ...] = ("mri", "xray", "ct", "photo", "other")
#: Body parts the input gate tells apart.
BODY_PARTS: tuple[str, ...] = ("brain", "knee", "spine", "chest", "other")

#: Default kind/body-part pairs the learned gate can tell (used when its metadata lists none);
#: every other pair gets zero probability (an X-ray of the brain, a photograph of the knee).
KNOWN_PAIRS: dict[str, tuple[str, ...]] = {
    "mri": ("brain", "knee", "other"),
    "xray": ("chest", "spine", "knee", "other"),
    "ct": ("brain", "chest", "other"),
    "photo": ("other",),
    "other": ("other",),
}

#: Reader-facing names of kinds and body parts, used in messages.
KIND_TEXT: dict[str, str] = {"mri": "MRI", "xray": "X-ray", "ct": "CT", "photo": "photograph",
                             "other": "non-medical image"}
BODY_PART_TEXT: dict[str, str] = {"brain": "brain", "knee": "knee", "spine": "spine", "chest": "chest",
                                  "other": "other body part"}


@dataclass(frozen=True)
class Expectation:
    """Input contract of one task page.

    Attributes:
        task: task name in the registry (``"spine-xray"``).
        page: page title as the user sees it (``"Spine X-ray"``).
        kind: expected image kind (one of :data:`KINDS`).
        body_part: expected body part (one of :data:`BODY_PARTS`).
        dims: ``"2d"`` (a single image or slice), ``"3d"`` (a volume) or ``"any"``.
        min_slices: fewest slices a ``"3d"`` input must have.
        wants: phrase for messages, e.g. ``"a spine radiograph"``.
    """

    task: str
    page: str
    kind: str
    body_part: str
    dims: str
    wants: str
    min_slices: int = 1


EXPECTATIONS: dict[str, Expectation] = {
    e.task: e
    for e in (
        Expectation("brain-tumor", "Brain Tumor MRI", "mri", "brain", "2d", "a 2D brain MRI slice"),
        Expectation("chest-xray", "Chest X-ray", "xray", "chest", "2d", "a chest radiograph"),
        Expectation("spine-xray", "Spine X-ray", "xray", "spine", "2d", "a spine radiograph"),
        # 32 slices: fewer cannot cover the hippocampi and ventricles the staging measures.
        Expectation("alzheimers", "Brain MRI", "mri", "brain", "3d", "a 3D brain MRI volume (T1-weighted)",
                    min_slices=32),
    )
}


def expectation_for(task_name: str) -> Expectation | None:
    """The expectation of ``task_name``, or None for tasks without one (e.g. ``"input-gate"``)."""
    return EXPECTATIONS.get(task_name)


def matching_page(kind: str, body_part: str, is_volume: bool) -> Expectation | None:
    """The page that accepts an input of this kind, body part and dimensionality, if any."""
    for e in EXPECTATIONS.values():
        dims_ok = e.dims == "any" or (e.dims == "3d") == is_volume
        if e.kind == kind and e.body_part == body_part and dims_ok:
            return e
    for e in EXPECTATIONS.values():  # same anatomy, other dimensionality: still the best pointer
        if e.kind == kind and e.body_part == body_part:
            return e
    return None


def describe(kind: str | None, body_part: str | None) -> str:
    """Reader-facing phrase for a kind and body part, e.g. ``"a chest X-ray"``, ``"a photograph"``.

    Either may be None (not known): ``describe("mri", None) == "an MRI"``,
    ``describe(None, "knee") == "a knee image"``.
    """
    if kind in ("photo", "other"):
        return "a " + KIND_TEXT[kind]
    if kind is None:
        phrase = "image of another body part" if body_part in (None, "other") else f"{BODY_PART_TEXT[body_part]} image"
    elif body_part is None:
        phrase = KIND_TEXT[kind]
    elif body_part == "other":
        phrase = f"{KIND_TEXT[kind]} of another body part"
    else:
        phrase = f"{BODY_PART_TEXT[body_part]} {KIND_TEXT[kind]}"
    article = "an" if phrase[0] in "AEIOUaeiou" or phrase.startswith(("MRI", "X-ray")) else "a"
    return f"{article} {phrase}"


__all__ = ["KINDS", "BODY_PARTS", "KNOWN_PAIRS", "KIND_TEXT", "BODY_PART_TEXT", "Expectation", "EXPECTATIONS",
           "expectation_for", "matching_page", "describe"]
