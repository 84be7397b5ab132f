"""Evaluation metrics for the trainers: AUROC, accuracy, per-class summaries (numpy only)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def auroc(scores: np.ndarray, targets: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with mid-ranks for ties).

    Args:
        scores: ``(N,)`` higher = more likely positive.
        targets: ``(N,)`` 0/1.

    Returns:
        AUROC in [0, 1], or None when only one class is present (undefined).
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    t = np.asarray(targets).ravel().astype(bool)
    n_pos, n_neg = int(t.sum()), int((~t).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # mid-ranks for ties so that equal scores count one half
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    mid = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(mid, counts)
    return float((ranks[t].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def classification_metrics(probs: np.ndarray, targets: np.ndarray, labels: Sequence[str], activation: str,
                           mask: np.ndarray | None = None, threshold: float = 0.5) -> dict[str, Any]:
    """Per-class AUROC and accuracy for a softmax or a multi-label sigmoid classifier.

    Args:
        probs: ``(N, K)`` probabilities.
        targets: softmax: ``(N,)`` class indices; sigmoid: ``(N, K)`` 0/1.
        labels: the K label names.
        activation: ``"softmax"`` or ``"sigmoid"``.
        mask: sigmoid only, ``(N, K)`` 1 where the target is known (CheXpert U-Ignore).
        threshold: sigmoid decision threshold for accuracy.

    Returns:
        ``{"n", "auroc": {label: value|None}, "auroc_min", "auroc_mean", "accuracy", ...}``;
        softmax adds ``"accuracy"`` (top-1), sigmoid adds per-class ``"accuracy_per_class"``.
    """
    probs = np.asarray(probs, dtype=np.float64)
    k = len(labels)
    out: dict[str, Any] = {"n": int(len(probs))}
    per_class: dict[str, float | None] = {}
    if activation == "softmax":
        y = np.asarray(targets).astype(int).ravel()
        for j, name in enumerate(labels):
            per_class[name] = auroc(probs[:, j], y == j)  # one-vs-rest
        out["accuracy"] = float((probs.argmax(axis=1) == y).mean()) if len(y) else None
        out["class_counts"] = {name: int((y == j).sum()) for j, name in enumerate(labels)}
    elif activation == "sigmoid":
        y = np.asarray(targets, dtype=np.float64).reshape(-1, k)
        m = np.ones_like(y, dtype=bool) if mask is None else np.asarray(mask).reshape(-1, k).astype(bool)
        acc: dict[str, float | None] = {}
        for j, name in enumerate(labels):
            sel = m[:, j]
            per_class[name] = auroc(probs[sel, j], y[sel, j] > 0.5)
            acc[name] = float(((probs[sel, j] >= threshold) == (y[sel, j] > 0.5)).mean()) if sel.any() else None
        out["accuracy_per_class"] = acc
        valid = [v for v in acc.values() if v is not None]
        out["accuracy"] = float(np.mean(valid)) if valid else None
        out["positives_per_class"] = {name: int((y[m[:, j], j] > 0.5).sum()) for j, name in enumerate(labels)}
    else:
        raise ValueError(f"activation must be 'softmax' or 'sigmoid', not {activation!r}")
    out["auroc"] = per_class
    defined = [v for v in per_class.values() if v is not None]
    out["auroc_min"] = float(min(defined)) if defined else None
    out["auroc_mean"] = float(np.mean(defined)) if defined else None
    return out


def binary_metrics(scores: np.ndarray, targets: np.ndarray, threshold: float) -> dict[str, Any]:
    """AUROC, accuracy, sensitivity, specificity and F1 of a binary score at ``threshold``."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    t = np.asarray(targets).ravel().astype(bool)
    pred = s >= threshold
    tp, tn = int((pred & t).sum()), int((~pred & ~t).sum())
    fp, fn = int((pred & ~t).sum()), int((~pred & t).sum())
    sens = tp / (tp + fn) if tp + fn else None
    spec = tn / (tn + fp) if tn + fp else None
    prec = tp / (tp + fp) if tp + fp else None
    f1 = 2 * prec * sens / (prec + sens) if prec and sens else None
    return {"n": int(len(s)), "threshold": float(threshold), "auroc": auroc(s, t),
            "accuracy": float((pred == t).mean()) if len(s) else None,
            "sensitivity": sens, "specificity": spec, "f1": f1}
