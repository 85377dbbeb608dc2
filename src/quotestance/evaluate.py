"""Evaluate stage: metrics, calibration and error analysis for any model's class probabilities.

The headline is stance macro-F1: macro-F1 over the three stance labels only (SemEval-2016 style), with
4-class macro-F1 and accuracy beside it. Calibration: expected calibration error (ECE) before and after
temperature scaling fitted on the validation split.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass
class Evaluation:
    metrics: dict[str, float]
    confusion: np.ndarray
    reliability: list[tuple[float, float, int]]
    errors: list[dict[str, Any]] = field(default_factory=list)


def evaluate(rows: Sequence[dict[str, Any]], probs: np.ndarray, labels: Sequence[str], stance: Sequence[str],
             prefix: str, bins: int = 10, max_errors: int = 500) -> Evaluation:
    """Metrics under `prefix` (test_, external_realdev_, ...) for rows with a gold `label`."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    labels = list(labels)
    y = np.array([labels.index(r["label"]) for r in rows])
    pred = probs.argmax(1)
    yt, yp = [labels[i] for i in y], [labels[i] for i in pred]
    m = {f"{prefix}stance_macro_f1": float(f1_score(yt, yp, labels=list(stance), average="macro", zero_division=0)),
         f"{prefix}macro_f1": float(f1_score(yt, yp, labels=labels, average="macro", zero_division=0)),
         f"{prefix}accuracy": float(accuracy_score(yt, yp)), f"{prefix}n": float(len(rows))}
    p, r, f, s = precision_recall_fscore_support(yt, yp, labels=labels, zero_division=0)
    for k, lab in enumerate(labels):
        m.update({f"{prefix}precision_{lab}": float(p[k]), f"{prefix}recall_{lab}": float(r[k]),
                  f"{prefix}f1_{lab}": float(f[k])})
    e, table = ece(probs, y, bins)
    m[f"{prefix}ece"] = e
    by_event: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        if row.get("event"):
            by_event[row["event"]].append(i)
    for ev, idx in sorted(by_event.items()):
        m[f"{prefix}event_{ev}_stance_macro_f1"] = float(
            f1_score([yt[i] for i in idx], [yp[i] for i in idx], labels=list(stance), average="macro", zero_division=0))
    errors = [{"quote_id": row.get("quote_id"), "event": row.get("event"), "speaker": row.get("speaker"),
               "quote": row.get("text") or row.get("quote"), "gold": yt[i], "predicted": yp[i],
               "confidence": round(float(probs[i].max()), 4)}
              for i, row in enumerate(rows) if y[i] != pred[i]]
    errors.sort(key=lambda e: -e["confidence"])  # confident mistakes first: the ones worth reading
    return Evaluation(m, confusion_matrix(yt, yp, labels=labels), table, errors[:max_errors])


def plot_confusion(cm: np.ndarray, labels: Sequence[str], title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    short = [lab.replace("_", "\n") for lab in labels]
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    ax.imshow(cm, cmap="Blues")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xticks(range(len(labels)), short, fontsize=8)
    ax.set_yticks(range(len(labels)), short, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_reliability(table: list[tuple[float, float, int]], title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    if table:
        conf, acc, n = zip(*table)
        ax.plot(conf, acc, "o-", label="model")
        for c, a, k in table:
            ax.annotate(str(k), (c, a), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def line_around(text: str, start: int, end: int | None = None) -> str:
    """The line (paragraph) of `text` that holds [start, end): a quote's context when no parse is at hand."""
    a = max(text.rfind("\n", 0, start), 0)
    b = text.find("\n", start if end is None else end)
    return text[a:b if b != -1 else len(text)].strip()


def external_rows(quotes_path: str, texts_dir: str) -> list[dict[str, Any]]:
    """A measurement set in the gold-quote format (realdev), with the sentence around each quote as context."""
    import json

    texts = {p.stem: p.read_text(encoding="utf-8") for p in Path(texts_dir).glob("*.txt")} if texts_dir else {}
    rows = []
    for line in Path(quotes_path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        aid = str(q.get("passage_id") or q.get("article_id"))
        t = texts.get(aid, "")
        rows.append({"quote_id": q.get("quote_id"), "event": q.get("event"), "text": q["quote"],
                     "speaker": q.get("speaker"), "context": line_around(t, q.get("char_start", 0), q.get("char_end")),
                     "label": q["stance"]})
    return rows
