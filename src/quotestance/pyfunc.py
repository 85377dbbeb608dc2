"""The stance model as an MLflow pyfunc, logged as code (Models-from-Code: nothing is pickled).

MLflow runs this file when the model is loaded; `set_model` names the object it serves. Artifacts: `model`
(a Hugging Face folder: safetensors + tokenizer + label map, with `model.int8.onnx` and `parity.json` from
quotestance.infer) and `config` (template, max_length, temperature, precision). The config's precision is
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

        from quotestance.infer import PRECISION_ENV, load_predictor

        cfg = json.loads(open(context.artifacts["config"], encoding="utf-8").read())
        self.temperature = float(cfg.get("temperature", 1.0))
        self.max_rows = int(cfg.get("max_rows", 1000))  # per request: a bigger batch belongs to quotestance-score
        self.max_quote_chars = int(cfg.get("max_quote_chars", 5000))  # longer is not a quote but a document
        # the variable forces a path over the config's too (choose applies it to "auto" and records why)
        precision = "auto" if os.environ.get(PRECISION_ENV) else cfg.get("precision", "auto")
        self.predictor = load_predictor(context.artifacts["model"], cfg["template"], int(cfg["max_length"]),
                                        precision, float(cfg.get("int8_margin", 0.3)),
                                        float(cfg.get("bf16_margin", 0.02)))
        # one line per load, so a server's or a scoring run's log says which path scored its rows and why
        print(f"quote-stance model scores in {self.predictor.precision} (int8 margin {self.predictor.margin}): "
              f"{self.predictor.choice.get('reason', '')}", file=sys.stderr, flush=True)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        from quotestance.evaluate import softmax

        def bad(msg: str) -> MlflowException:  # the scoring server answers these with HTTP 400 and the message
            return MlflowException(msg, error_code=INVALID_PARAMETER_VALUE)

        if "quote" not in model_input.columns:
            raise bad("input needs a 'quote' column (optional: 'speaker', 'context')")
        if len(model_input) > self.max_rows:
            raise bad(f"too many rows: {len(model_input)} > {self.max_rows} per request")
        long = [i for i, q in enumerate(model_input["quote"]) if isinstance(q, str) and len(q) > self.max_quote_chars]
        if long:
            raise bad(f"quote too long in rows {long[:10]}: over {self.max_quote_chars} characters")
        rows = [{"quote": str(q) if q is not None else "",
                 "speaker": (None if s is None or (isinstance(s, float) and s != s) else str(s)),
                 "context": (None if c is None or (isinstance(c, float) and c != c) else str(c))}
                for q, s, c in zip(model_input["quote"], model_input.get("speaker", [None] * len(model_input)),
                                   model_input.get("context", [None] * len(model_input)))]
        labels = self.predictor.labels
        # float64: the signature's "double", identical from every engine (local, REST, Spark)
        probs = softmax(self.predictor.logits(rows), self.temperature).astype("float64") if rows else None
        # object dtype, not pandas 3's arrow-backed strings, which MLflow's spark_udf cannot convert
        out = pd.DataFrame({"label": pd.Series([labels[i] for i in probs.argmax(1)] if rows else [], dtype=object),
                            "confidence": probs.max(1) if rows else []})
        for k, lab in enumerate(labels):
            out[f"prob_{lab}"] = probs[:, k] if rows else []
        return out


mlflow.models.set_model(QuoteStanceModel())
