"""TF-IDF n-grams + logistic regression: the baseline a user would pick instead, and the transformer's partner.

As a baseline it is trained on the same splits and evaluated the same way (train.run_baseline). As a partner
(`train.stack_tfidf`, on by default) it is fitted on the transformer's own train rows and saved in the model
folder (`tfidf/`); every load of the model (evaluation, `quotestance-score`, the served pyfunc) then scores
each quote as a product of the two experts, each first calibrated on validation:

    logits = log_softmax(transformer_logits / T_transformer) + log p_tfidf / T_tfidf

The two err differently: the fine-tuned transformer reads phrasing it has seen in the invented corpus with too
much confidence (its validation temperature is about 2), the n-gram model keeps the words that carry stance
in any outlet's style. Together they beat either on real news (docs/experiments.md, row `no-stack`).

The partner is saved as plain arrays and term lists (`tfidf.npz`, `tfidf.json`), never pickled, so a model
folder holds no code to run, and one prediction path (numpy over the two vectorisers) serves both the model
just fitted and the one loaded.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from quotestance.infer import render
from quotestance.io import atomic_writer, write_json

PARTNER_DIR = "tfidf"  # inside a model folder
# (name, TfidfVectorizer settings): word uni/bigrams, and character 3-5-grams inside word boundaries
VECTORIZERS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("words", {"ngram_range": (1, 2), "min_df": 1, "sublinear_tf": True}),
    ("chars", {"analyzer": "char_wb", "ngram_range": (3, 5), "min_df": 2, "sublinear_tf": True}),
)


class TfidfBaseline:
    """scikit-learn conventions: fit returns self; classes_ holds the labels; predict_proba follows classes_.

    Rows may carry `weight` (a user's own labels can count for more): it weighs each row in the loss.

    >>> rows = [{"text": t, "label": y} for t, y in [("take it down now", "a"), ("take the site down", "a"),
    ...                                               ("we are neutral pipes", "b"), ("neutral pipes carry all", "b")]]
    >>> TfidfBaseline(["a", "b"]).fit(rows).predict([{"text": "take them down"}, {"text": "we stay neutral"}])
    ['a', 'b']
    """

    def __init__(self, labels: Sequence[str], template: str = "{quote}", C: float = 4.0, seed: int = 13):
        self.labels = list(labels)
        self.template = template
        self.C = C  # inverse regularisation strength
        self.seed = seed
        # the partner's weights in the product of experts (1 / each model's validation temperature)
        self.mix = {"transformer": 1.0, "tfidf": 1.0}

    def fit(self, rows: Sequence[dict[str, Any]]) -> TfidfBaseline:
        from scipy.sparse import hstack
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        texts = [render(self.template, r) for r in rows]
        self.vectorizers_ = [TfidfVectorizer(**kw).fit(texts) for _, kw in VECTORIZERS]
        lr = LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000, random_state=self.seed)
        lr.fit(
            hstack([v.transform(texts) for v in self.vectorizers_]).tocsr(),
            [r["label"] for r in rows],
            sample_weight=np.array([float(r.get("weight") or 1.0) for r in rows]),
        )
        # the fitted classes in the label set's order (a label absent from training gets no probability)
        self.coef_ = np.zeros((len(self.labels), lr.coef_.shape[1]))
        self.intercept_ = np.full(len(self.labels), -np.inf)
        # two classes: scikit-learn keeps one row of coefficients, for the second class against the first
        coef = lr.coef_ if len(lr.classes_) > 2 else np.vstack([-lr.coef_ / 2, lr.coef_ / 2])
        icpt = (
            lr.intercept_ if len(lr.classes_) > 2 else np.array([-lr.intercept_[0] / 2, lr.intercept_[0] / 2])
        )
        for k, c in enumerate(lr.classes_):
            self.coef_[self.labels.index(c)] = coef[k]
            self.intercept_[self.labels.index(c)] = icpt[k]
        self.classes_ = np.array(self.labels)
        return self

    def log_proba(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        from scipy.sparse import hstack

        if not rows:
            return np.zeros((0, len(self.labels)))
        texts = [render(self.template, r) for r in rows]
        z = hstack([v.transform(texts) for v in self.vectorizers_]).tocsr() @ self.coef_.T + self.intercept_
        z = z - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    def predict_proba(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        return np.exp(self.log_proba(rows))

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[str]:
        return [self.labels[i] for i in self.predict_proba(rows).argmax(1)]

    def share(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        """The partner's term of the product for rows (computed once per scoring call)."""
        return self.mix["tfidf"] * np.maximum(self.log_proba(rows), -30.0)

    def combine(
        self, transformer_logits: np.ndarray, rows: Sequence[dict[str, Any]], share: np.ndarray | None = None
    ) -> np.ndarray:
        """The product of experts' logits for rows, given the transformer's (and the partner's `share`)."""
        z = transformer_logits - transformer_logits.max(1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
        return (self.mix["transformer"] * log_p + (self.share(rows) if share is None else share)).astype(
            np.float32
        )

    def fit_mix(self, transformer_logits: np.ndarray, rows: Sequence[dict[str, Any]]) -> TfidfBaseline:
        """Each expert's weight: 1 / its temperature on these (validation) rows; 1 and 1 without rows."""
        from quotestance.metrics import fit_temperature

        if rows:
            y = np.array([self.labels.index(r["label"]) for r in rows])
            self.mix = {
                "transformer": 1 / fit_temperature(transformer_logits, y),
                "tfidf": 1 / fit_temperature(np.maximum(self.log_proba(rows), -30.0), y),
            }
        return self

    def save(self, folder: str | Path) -> None:
        """Plain arrays and term lists in folder (each file written atomically)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {"coef": self.coef_, "intercept": self.intercept_}
        arrays |= {f"idf_{name}": v.idf_ for (name, _), v in zip(VECTORIZERS, self.vectorizers_, strict=True)}
        with atomic_writer(folder / "tfidf.npz", "wb") as fh:
            np.savez_compressed(fh, **arrays)
        terms = {
            name: [t for t, _ in sorted(v.vocabulary_.items(), key=lambda kv: kv[1])]
            for (name, _), v in zip(VECTORIZERS, self.vectorizers_, strict=True)
        }
        write_json(
            folder / "tfidf.json",
            {"labels": self.labels, "template": self.template, "mix": self.mix, "terms": terms},
        )

    @classmethod
    def load(cls, folder: str | Path) -> TfidfBaseline:
        """The partner `save` wrote; ValueError naming the folder when its files disagree."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        folder = Path(folder)
        try:
            meta = json.loads((folder / "tfidf.json").read_text(encoding="utf-8"))
            with np.load(folder / "tfidf.npz") as arrays:
                a = {k: arrays[k] for k in arrays.files}
            self = cls(meta["labels"], meta["template"])
            self.mix = {k: float(v) for k, v in meta["mix"].items()}
            self.vectorizers_ = []
            for name, kw in VECTORIZERS:
                v = TfidfVectorizer(**kw, vocabulary=meta["terms"][name])
                v.idf_ = a[f"idf_{name}"]  # scikit-learn refuses an idf that does not fit the terms
                self.vectorizers_.append(v)
            self.coef_, self.intercept_ = a["coef"], a["intercept"]
        except (KeyError, ValueError, OSError) as e:
            raise ValueError(
                f"{folder}: not a TF-IDF partner that save() wrote ({type(e).__name__}: {e})"
            ) from None
        width = sum(len(meta["terms"][name]) for name, _ in VECTORIZERS)
        if self.coef_.shape != (len(self.labels), width):
            raise ValueError(f"{folder}: coefficients {self.coef_.shape} do not fit {width} terms")
        self.classes_ = np.array(self.labels)
        return self


_last_fit: dict[str, TfidfBaseline] = {}  # one entry: the most recent fit, by what it was fitted on


def fit_tfidf(
    labels: Sequence[str], rows: Sequence[dict[str, Any]], template: str = "{quote}", seed: int = 13
) -> TfidfBaseline:
    """`TfidfBaseline(labels, template, seed=seed).fit(rows)`, taken from the last call when it was given the
    same labels, settings and rows: `make pipeline` fits the transformer's partner and then the baseline run
    on the same train split (7 s of the 5-minute bar on 2 cores). Each call gets its own copy, mix reset."""
    key = hashlib.sha256(
        json.dumps(
            [list(labels), template, seed, TfidfBaseline.__init__.__defaults__]
            + [[render(template, r), r["label"], float(r.get("weight") or 1.0)] for r in rows]
        ).encode()
    ).hexdigest()
    if key not in _last_fit:
        _last_fit.clear()
        _last_fit[key] = TfidfBaseline(labels, template, seed=seed).fit(rows)
    model = copy.copy(_last_fit[key])  # fitted arrays shared (never written after fit), `mix` its own
    model.mix = {"transformer": 1.0, "tfidf": 1.0}
    return model
