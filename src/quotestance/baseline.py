"""The baseline a user would pick instead: TF-IDF n-grams + logistic regression, on the same splits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from quotestance.infer import render


class TfidfBaseline:
    """scikit-learn conventions: fit returns self; classes_ holds the labels; predict_proba follows classes_.

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

    def fit(self, rows: Sequence[dict[str, Any]]) -> TfidfBaseline:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        words = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True)
        self.pipeline_ = make_pipeline(
            make_union(words, chars),
            LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000, random_state=self.seed),
        )
        self.pipeline_.fit([render(self.template, r) for r in rows], [r["label"] for r in rows])
        self.classes_ = np.array(self.labels)
        return self

    def predict_proba(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        p = self.pipeline_.predict_proba([render(self.template, r) for r in rows])
        out = np.zeros((len(rows), len(self.labels)))
        for k, c in enumerate(self.pipeline_.classes_):
            out[:, self.labels.index(c)] = p[:, k]
        return out

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[str]:
        return [self.labels[i] for i in self.predict_proba(rows).argmax(1)]
