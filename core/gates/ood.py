"""Out-of-distribution scores for task models: energy and feature (Mahalanobis) distance.

A softmax can be confident on an input unlike anything the model was trained on. The
energy score (Liu et al., "Energy-based Out-of-distribution Detection", NeurIPS 2020)
``E(x) = -T * logsumexp(logits / T)`` is lower for inputs like the training data; a
Mahalanobis distance on penultimate features (Lee et al., NeurIPS 2018) measures how far
an input's features lie from the training features. Both are turned into a refusal by a
threshold calibrated on held-out in-distribution data: the ``quantile`` (default 0.99) of
their scores, so about 1 % of in-distribution inputs would be refused.

Convention: for every score here, HIGHER means MORE out-of-distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def energy_score(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Energy ``-T * logsumexp(logits / T)`` per sample (higher = more out-of-distribution).

    Args:
        logits: ``(N, K)`` or ``(K,)`` raw model outputs (before softmax).
        temperature: T > 0.

    Returns:
        ``(N,)`` float64 energies (a scalar array for 1-D input).
    """
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    m = z.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(z - m).sum(axis=-1)) + m[..., 0]
    return -float(temperature) * lse


def calibrate_threshold(scores_in_distribution: np.ndarray, quantile: float = 0.99) -> float:
    """Threshold at the ``quantile`` of in-distribution scores (higher = more OOD).

    Raises:
        ValueError: for an empty score list or a quantile outside (0, 1].
    """
    scores = np.asarray(scores_in_distribution, dtype=np.float64).ravel()
    if scores.size == 0:
        raise ValueError("calibrate_threshold needs at least one in-distribution score")
    if not 0.0 < quantile <= 1.0:
        raise ValueError(f"quantile must be in (0, 1], got {quantile}")
    return float(np.quantile(scores, quantile))


def is_out_of_distribution(logits: np.ndarray, threshold: float, temperature: float = 1.0) -> np.ndarray | bool:
    """True where the energy score of ``logits`` exceeds ``threshold``.

    Returns:
        A bool for a single ``(K,)`` logit vector, else a ``(N,)`` bool array.
    """
    energy = energy_score(logits, temperature)
    flags = energy > threshold
    return bool(flags) if np.ndim(flags) == 0 else flags


@dataclass(frozen=True)
class MahalanobisModel:
    """Class-conditional Gaussians with a shared covariance on penultimate features.

    Attributes:
        means: ``(K, D)`` class means.
        precision: ``(D, D)`` inverse of the shared (shrunk) covariance.
    """

    means: np.ndarray
    precision: np.ndarray

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, shrinkage: float = 0.1) -> "MahalanobisModel":
        """Fit on in-distribution ``features`` ``(N, D)`` with integer ``labels`` ``(N,)``.

        ``shrinkage`` mixes the covariance with its scaled identity so it stays invertible
        with few samples.
        """
        x = np.asarray(features, dtype=np.float64)
        y = np.asarray(labels)
        classes = np.unique(y)
        means = np.stack([x[y == c].mean(axis=0) for c in classes])
        centred = x - means[np.searchsorted(classes, y)]
        cov = centred.T @ centred / max(1, len(x) - 1)
        cov = (1 - shrinkage) * cov + shrinkage * np.trace(cov) / cov.shape[0] * np.eye(cov.shape[0])
        return cls(means=means, precision=np.linalg.inv(cov))

    def score(self, features: np.ndarray) -> np.ndarray:
        """Smallest squared Mahalanobis distance to any class mean, ``(N,)`` (higher = more OOD)."""
        x = np.atleast_2d(np.asarray(features, dtype=np.float64))
        diffs = x[:, None, :] - self.means[None, :, :]
        d2 = np.einsum("nkd,de,nke->nk", diffs, self.precision, diffs)
        return d2.min(axis=1)


__all__ = ["energy_score", "calibrate_threshold", "is_out_of_distribution", "MahalanobisModel"]
