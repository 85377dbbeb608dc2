"""The stance model as an MLflow pyfunc, logged as code (Models-from-Code: nothing is pickled).

MLflow runs this file when the model is loaded; `set_model` names the object it serves. Artifacts: `model`
(a Hugging Face folder: safetensors + tokenizer + label map, with `model.int8.onnx` and `parity.json` from
quotestance.infer, and the TF-IDF partner's arrays in `tfidf/`, quotestance.baseline) and `config` (template, max_length, temperature, precision). The config's precision is
normally auto: the fastest path that passes parity on this machine, measured on the first load and cached
(quotestance.infer.choose); QUOTESTANCE_PRECISION=fp32|bf16|int8 (and QUOTESTANCE_INT8_MARGIN) force one.
Input: a DataFrame with `quote` (required), `speaker` and `context` (optional). Output: one row per quote
with `label`, `confidence` and `prob_<label>` for every label (temperature-scaled probabilities).
"""

from __future__ import annotations

import json
import sys

import mlflow
import pandas as pd


class QuoteStanceModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        import os

        from quotestance.infer import (
            MAX_CONTEXT_CHARS,
            MAX_QUOTE_CHARS,
            MAX_SPEAKER_CHARS,
            PRECISION_ENV,
            load_predictor,
        )

        cfg = json.loads(open(context.artifacts["config"], encoding="utf-8").read())
        self.temperature = float(cfg.get("temperature", 1.0))
        # validation's (confidence, right?) pairs, for a review threshold at any precision (quotestance-score)
        self.review_curve = cfg.get("review_curve") or []
        self.max_rows = int(
            cfg.get("max_rows", 1000)
        )  # per request: a bigger batch belongs to quotestance-score
        # longer is not a quote but a document; a speaker is a name, a role and an organisation
        self.max_quote_chars = int(cfg.get("max_quote_chars", MAX_QUOTE_CHARS))
        self.max_speaker_chars = int(cfg.get("max_speaker_chars", MAX_SPEAKER_CHARS))
        self.max_context_chars = int(cfg.get("max_context_chars", MAX_CONTEXT_CHARS))
        # the variable forces a path over the config's too (choose applies it to "auto" and records why)
        precision = "auto" if os.environ.get(PRECISION_ENV) else cfg.get("precision", "auto")
        self.predictor = load_predictor(
            context.artifacts["model"],
            cfg["template"],
            int(cfg["max_length"]),
            precision,
            float(cfg.get("int8_margin", 0.3)),
            float(cfg.get("bf16_margin", 0.02)),
        )
        # one line per load, so a server's or a scoring run's log says which path scored its rows and why
        print(
            f"quote-stance model scores in {self.predictor.precision} (int8 margin {self.predictor.margin}): "
            f"{self.predictor.choice.get('reason', '')}",
            file=sys.stderr,
            flush=True,
        )

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        from quotestance.metrics import softmax
        from quotestance.records import stance_columns

        def bad(
            msg: str,
        ) -> MlflowException:  # the scoring server answers these with HTTP 400 and the message
            return MlflowException(msg, error_code=INVALID_PARAMETER_VALUE)

        if "quote" not in model_input.columns:
            raise bad("input needs a 'quote' column (optional: 'speaker', 'context')")
        if len(model_input) > self.max_rows:
            raise bad(f"too many rows: {len(model_input)} > {self.max_rows} per request")
        rows, problems = self._rows(model_input)
        if problems:
            more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
            raise bad("; ".join(problems[:10]) + more)
        labels = self.predictor.labels
        # float64: the signature's "double", identical from every engine (local, REST, Spark)
        probs = softmax(self.predictor.logits(rows), self.temperature).astype("float64") if rows else None
        # object dtype, not pandas 3's arrow-backed strings, which MLflow's spark_udf cannot convert
        out = pd.DataFrame(
            {
                "label": pd.Series([labels[i] for i in probs.argmax(1)] if rows else [], dtype=object),
                "confidence": probs.max(1) if rows else [],
            }
        )
        for k, col in enumerate(stance_columns(labels)[2:]):
            out[col] = probs[:, k] if rows else []
        return out

    def _rows(self, df: pd.DataFrame) -> tuple[list[dict], list[str]]:
        """The rows to score, and every problem with the request, each naming its row and field.

        A quote must be a non-empty string (null, NaN, a number or a list is refused, never scored as "",
        "nan" or the list's text); speaker and context may be missing or null, else strings within their caps.
        """
        n = len(df)
        cols = {c: list(df[c]) if c in df.columns else [None] * n for c in ("quote", "speaker", "context")}
        caps = {
            "quote": self.max_quote_chars,
            "speaker": self.max_speaker_chars,
            "context": self.max_context_chars,
        }
        rows, problems = [], []
        for i in range(n):
            row = {}
            for field, cap in caps.items():
                v = cols[field][i]
                if v is None or (isinstance(v, float) and v != v):
                    v = None
                if field == "quote" and (not isinstance(v, str) or not v.strip()):
                    problems.append(
                        f"row {i}: quote must be a non-empty string, not "
                        + (
                            "an empty one"
                            if isinstance(v, str)
                            else "null"
                            if v is None
                            else type(v).__name__
                        )
                    )
                elif v is not None and not isinstance(v, str):
                    problems.append(f"row {i}: {field} must be a string or null, not {type(v).__name__}")
                elif v is not None and len(v) > cap:
                    problems.append(f"row {i}: {field} too long ({len(v):,} characters, over {cap:,})")
                row[field] = v
            rows.append(row)
        return rows, problems


mlflow.models.set_model(QuoteStanceModel())
