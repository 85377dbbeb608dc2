"""Pure metric functions shared by evaluation, training, the inference paths and the served model.

No I/O and no model code here: probabilities in, numbers out.

>>> import numpy as np
>>> softmax(np.array([[0.0, 0.0]])).tolist()
[[0.5, 0.5]]
>>> stance_macro_f1(["a", "b", "other"], ["a", "a", "other"], ["a", "b"])
0.3333333333333333
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimises validation negative log-likelihood (1.0 when there is no data)."""
    from scipy.optimize import minimize_scalar

    if len(y) == 0:
        return 1.0

    def nll(t: float) -> float:
        p = softmax(logits, t)
        return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)


def ece(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> tuple[float, list[tuple[float, float, int]]]:
    """Expected calibration error and the (confidence, accuracy, count) of each bin."""
    conf = probs.max(1)
    correct = probs.argmax(1) == y
    edges = np.linspace(0, 1, bins + 1)
    table, total = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(conf[m].mean() - correct[m].mean())
            table.append((float(conf[m].mean()), float(correct[m].mean()), int(m.sum())))
    return float(total), table


def stance_macro_f1(y_true: Sequence[str], y_pred: Sequence[str], stance: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, labels=list(stance), average="macro", zero_division=0))


def review_threshold(confidence: np.ndarray, correct: np.ndarray, precision: float) -> float:
    """The lowest confidence at which the quotes at or above it are right at least `precision` of the time
    (so the most quotes are kept); inf when none reaches it (every quote goes to review).

    >>> review_threshold(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 1, 0, 1]), 0.75)
    0.6
    >>> review_threshold(np.array([0.9, 0.8]), np.array([0, 0]), 0.5)
    inf
    """
    order = np.argsort(-np.asarray(confidence, dtype=float), kind="stable")
    c, ok = np.asarray(confidence, dtype=float)[order], np.asarray(correct, dtype=float)[order]
    kept_precision = np.cumsum(ok) / np.arange(1, len(ok) + 1)
    group_end = np.r_[c[1:] != c[:-1], True]  # a threshold keeps every quote of equal confidence
    good = np.nonzero((kept_precision >= precision) & group_end)[0]
    return float(c[good[-1]]) if len(good) else float("inf")


def coverage_at(confidence: np.ndarray, correct: np.ndarray, threshold: float) -> tuple[float, float]:
    """(share of quotes at or above the threshold, their precision); precision 0.0 when none is.

    >>> coverage_at(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 1, 0, 1]), 0.75)
    (0.5, 1.0)
    """
    kept = np.asarray(confidence) >= threshold
    if not kept.any():
        return 0.0, 0.0
    return float(kept.mean()), float(np.asarray(correct, dtype=float)[kept].mean())
