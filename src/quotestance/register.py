"""Register stage: a training run's model becomes a version of `quote-stance`, gated promotion to @champion.

A new version is always `@challenger`. It becomes `@champion` only if it scores at least as well as the
current champion on the same frozen test set (the test split's dataset digest must match) on the headline
metric, and no class's recall drops by more than the configured margin. Every decision is written as tags
on the version; `rollback` moves @champion back to the version it replaced. Aliases, never stages.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quotestance.config import MlflowConfig, RegisterApp, RegisterConfig
from quotestance.tracking import setup


class RegisterError(ValueError):
    """A registry operation that cannot be done, with the reason."""


@dataclass
class Decision:
    version: str
    promoted: bool
    compared_to: str | None
    reasons: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


def register(app: RegisterApp) -> int:
    """register.action: register a run (gated promotion), roll @champion back, or export it. Exit code."""
    r = app.register
    try:
        if r.action == "rollback":
            old, new = rollback(r, app.mlflow)
            print(f"{r.model_name}: @champion moved back from v{old} to v{new}")
        elif r.action == "export":
            print(f"{r.model_name}@champion exported to {export_champion(r, app.mlflow)}")
        elif r.action == "register":
            d = register_run(r, app.mlflow, app.labels.names)
            verdict = "promoted to @champion" if d.promoted else "kept as @challenger (promotion refused)"
            print(
                f"{r.model_name} v{d.version}: {verdict}; compared to {d.compared_to or 'none'}: "
                + "; ".join(d.reasons)
            )
        else:
            raise RegisterError(f"unknown action {r.action!r}: register, rollback or export")
    except RegisterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def _test_digest(run) -> str | None:
    for inp in run.inputs.dataset_inputs:
        if any(t.key == "mlflow.data.context" and t.value == "test" for t in inp.tags):
            return inp.dataset.digest
    return None


def champion_version(client, name: str):
    """The @champion model version, or None when the registry truly has none (no such model or alias).

    Any other failure (a locked database, a server error) is a RegisterError: treating it as "no champion
    yet" would promote a model unchecked.
    """
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, ErrorCode

    try:
        return client.get_model_version_by_alias(name, "champion")
    except MlflowException as e:
        code = e.error_code
        missing_alias = (
            code == ErrorCode.Name(INVALID_PARAMETER_VALUE) and "alias" in str(e) and "not found" in str(e)
        )
        if code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST) or missing_alias:
            return None
        raise RegisterError(
            f"could not read {name}@champion from the registry ({code}: {e}); nothing was promoted"
        ) from e
    except Exception as e:  # noqa: BLE001 - a connection or database error: never "no champion"
        raise RegisterError(
            f"could not read {name}@champion from the registry ({type(e).__name__}: {e}); "
            "nothing was promoted"
        ) from e


def _setup(cfg: MlflowConfig) -> None:
    from quotestance.tracking import StoreMissing

    try:
        setup(cfg, create=False)
    except StoreMissing as e:
        raise RegisterError(str(e)) from None


def _metric(m: dict[str, float], key: str) -> float | None:
    v = m.get(key)
    return None if v is None or v != v else float(v)  # missing or NaN: unknown


def latest_training_run(cfg: MlflowConfig):
    import mlflow

    runs = mlflow.search_runs(
        experiment_names=[cfg.experiment],
        output_format="list",
        filter_string="tags.model_kind = 'transformer' and tags.stage = 'train' "
        "and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        raise RegisterError("no finished transformer training run: run `quotestance-train` first")
    return runs[0]


def gate(
    challenger: dict[str, float],
    champion: dict[str, float],
    labels: list[str],
    metric: str,
    max_recall_drop: float,
) -> list[str]:
    """Reasons to refuse promotion (empty: promote).

    >>> gate({"test_stance_macro_f1": .6, "test_recall_a": .5}, {"test_stance_macro_f1": .5, "test_recall_a": .6},
    ...      ["a"], "test_stance_macro_f1", 0.05)
    ['recall of a drops 0.100 (> 0.05)']

    A metric missing or NaN on either side refuses (unknown is not "as good"); metrics where lower is better
    (`*_ece`, `*_loss`) are compared that way round.

    >>> gate({"test_ece": .05}, {"test_ece": .04}, [], "test_ece", 0.05)
    ["test_ece 0.0500 > champion's 0.0400 (lower is better)"]
    >>> gate({"test_stance_macro_f1": float("nan")}, {"test_stance_macro_f1": .5}, [], "test_stance_macro_f1", 0.05)
    ['test_stance_macro_f1 is missing or NaN for the challenger']
    """
    reasons = []
    lower_better = metric.endswith(("_ece", "_loss"))
    new, old = _metric(challenger, metric), _metric(champion, metric)
    if new is None or old is None:
        reasons.append(f"{metric} is missing or NaN for the {'challenger' if new is None else 'champion'}")
    elif (new > old) if lower_better else (new < old):
        reasons.append(
            f"{metric} {new:.4f} {'>' if lower_better else '<'} champion's {old:.4f}"
            + (" (lower is better)" if lower_better else "")
        )
    for lab in labels:
        key = f"test_recall_{lab}"
        new_r, old_r = _metric(challenger, key), _metric(champion, key)
        if new_r is None or old_r is None:
            reasons.append(
                f"recall of {lab} is missing or NaN for the {'challenger' if new_r is None else 'champion'}"
            )
        elif old_r - new_r > max_recall_drop + 1e-12:
            reasons.append(f"recall of {lab} drops {old_r - new_r:.3f} (> {max_recall_drop})")
    return reasons


def register_run(cfg: RegisterConfig, mlflow_cfg: MlflowConfig, labels: list[str]) -> Decision:
    """Register the run (cfg.run_id, else the latest transformer run), set @challenger, maybe promote.

    Registers are serialised (`_registry_lock`), so two at once cannot both read the same champion and both
    win; the champion is read before anything is written, and @champion moves only after the version's tags
    (the decision and `previous_champion`, which rollback needs) are written.
    """
    _setup(mlflow_cfg)
    with _registry_lock(mlflow_cfg):
        return _register(cfg, mlflow_cfg, labels)


def _register(cfg: RegisterConfig, mlflow_cfg: MlflowConfig, labels: list[str]) -> Decision:
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    run = client.get_run(cfg.run_id) if cfg.run_id else latest_training_run(mlflow_cfg)
    champ_v = champion_version(client, cfg.model_name)
    mv = mlflow.register_model(
        run.data.tags.get("model_uri") or f"runs:/{run.info.run_id}/model", cfg.model_name
    )
    version = str(mv.version)
    client.set_registered_model_alias(cfg.model_name, "challenger", version)
    chal = dict(run.data.metrics)
    decision = Decision(
        version,
        False,
        str(champ_v.version) if champ_v else None,
        metrics={k: v for k, v in chal.items() if k.startswith(("test_", "external_"))},
    )
    if champ_v is None:
        decision.promoted, decision.reasons = True, ["no champion yet"]
    else:
        champ_run = client.get_run(champ_v.run_id)
        if _test_digest(run) is None or _test_digest(champ_run) is None:
            decision.reasons = [
                "not comparable: the test set digest is unknown for the "
                + ("challenger" if _test_digest(run) is None else "champion")
            ]
        elif _test_digest(champ_run) != _test_digest(run):
            decision.reasons = [
                f"not comparable: test set digest {_test_digest(run)} differs from the "
                f"champion's {_test_digest(champ_run)}"
            ]
        else:
            decision.reasons = gate(
                chal, dict(champ_run.data.metrics), labels, cfg.metric, cfg.max_recall_drop
            )
        decision.promoted = not decision.reasons
        if decision.promoted:
            decision.reasons = [
                f"{cfg.metric} {chal.get(cfg.metric, float('nan')):.4f} >= champion v"
                f"{champ_v.version}'s {champ_run.data.metrics.get(cfg.metric, float('nan')):.4f}"
            ]
    tags: dict[str, Any] = {
        "validation_status": "promoted" if decision.promoted else "rejected",
        "compared_to": decision.compared_to or "none",
        "decision": "; ".join(decision.reasons),
        "run_id": run.info.run_id,
    }
    tags.update({k: f"{v:.4f}" for k, v in decision.metrics.items() if "event_" not in k})
    if decision.promoted and champ_v is not None:
        tags["previous_champion"] = str(champ_v.version)
    for k, v in tags.items():
        client.set_model_version_tag(cfg.model_name, version, k, str(v))
    if decision.promoted:  # last: a promoted version always carries what rollback needs
        client.set_registered_model_alias(cfg.model_name, "champion", version)
    return decision


@contextmanager
def _registry_lock(mlflow_cfg: MlflowConfig):
    """An exclusive lock for the registry: beside a sqlite store, else in the user's cache, keyed by URI.

    It serialises registers on this machine (MLflow's registry has no compare-and-set); a server shared by
    several machines needs registers run from one place.
    """
    import fcntl
    import hashlib

    from quotestance.infer import cache_dir
    from quotestance.tracking import tracking_uri

    uri = tracking_uri(mlflow_cfg)
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///") :] + ".register.lock")
    else:
        path = cache_dir() / f"register-{hashlib.sha256(uri.encode()).hexdigest()[:16]}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # waits for another register to finish
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def rollback(cfg: RegisterConfig, mlflow_cfg: MlflowConfig) -> tuple[str, str]:
    """Move @champion back to the version the current champion replaced: (from, to)."""
    from mlflow import MlflowClient

    _setup(mlflow_cfg)
    client = MlflowClient()
    cur = champion_version(client, cfg.model_name)
    if cur is None:
        raise RegisterError(f"{cfg.model_name} has no @champion to roll back")
    prev = cur.tags.get("previous_champion")
    if not prev:
        raise RegisterError(f"{cfg.model_name} v{cur.version} replaced no earlier champion")
    client.set_model_version_tag(cfg.model_name, str(cur.version), "validation_status", "rolled_back")
    client.set_model_version_tag(cfg.model_name, prev, "restored_from", str(cur.version))
    client.set_registered_model_alias(cfg.model_name, "champion", prev)  # last, as in register_run
    return str(cur.version), prev


def export_champion(cfg: RegisterConfig, mlflow_cfg: MlflowConfig) -> str:
    """The champion as a plain Hugging Face folder (safetensors, tokenizer, label map) plus a model card."""
    import json
    import shutil
    import tempfile
    from pathlib import Path

    import mlflow
    from mlflow import MlflowClient

    _setup(mlflow_cfg)
    client = MlflowClient()
    v = champion_version(client, cfg.model_name)
    if v is None:
        raise RegisterError(f"{cfg.model_name} has no @champion to export: run `quotestance-register`")
    run = client.get_run(v.run_id)
    target = Path(cfg.export_dir)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(f"models:/{cfg.model_name}@champion", dst_path=tmp))
        hf = next(
            p.parent for p in local.rglob("config.json") if (p.parent / "tokenizer_config.json").exists()
        )
        inference = json.loads(next(local.rglob("inference.json")).read_text())
        staging = target.with_name(f".{target.name}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(hf, staging)
        (staging / "inference.json").write_text(json.dumps(inference, indent=1))
        (staging / "README.md").write_text(model_card(cfg, v, run, inference))
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(target)
    return str(target)


def model_card(cfg: RegisterConfig, version, run, inference: dict) -> str:
    m = run.data.metrics
    rows = [
        ("test (our corpus, held-out events)", "test_"),
        ("realdev (real news, never trained on)", "external_realdev_"),
        ("realdev2 (real news, never trained on)", "external_realdev2_"),
        ("realdev + realdev2 together", "external_real_"),
    ]
    table = ["| set | stance macro-F1 | 4-class macro-F1 | accuracy | ECE |", "|---|---:|---:|---:|---:|"]
    for name, p in rows:
        if f"{p}stance_macro_f1" in m:
            table.append(
                f"| {name} | {m[f'{p}stance_macro_f1']:.3f} | {m.get(f'{p}macro_f1', float('nan')):.3f} | "
                f"{m.get(f'{p}accuracy', float('nan')):.3f} | {m.get(f'{p}ece', float('nan')):.3f} |"
            )
    labels = ", ".join(f"`{x}`" for x in inference.get("labels", []))
    parity = (
        "\n".join(
            f"- `{p}`: label agreement with fp32 {m[f'parity_{p}_agreement']:.4f}, stance macro-F1 change "
            f"{m.get(f'parity_{p}_stance_macro_f1_delta', float('nan')):+.2f} points ({run.data.tags.get(f'parity_{p}', '?')})"
            for p in ("bf16", "int8")
            if f"parity_{p}_agreement" in m
        )
        or "- not checked (a model from before parity)"
    )
    where = run.data.tags.get("parity_cpu", "the training machine")
    return f"""# {cfg.model_name} v{version.version} (@champion)

Labels each quote's stance on what internet infrastructure providers should do about extremist or criminal
sites they serve: {labels}. Fine-tuned `{run.data.params.get("model.path", run.data.tags.get("model"))}`
(MLflow run `{run.info.run_id}`, git `{run.data.tags.get("mlflow.source.git.commit", "?")}`).

## Use

```python
from transformers import AutoModelForSequenceClassification, AutoTokenizer
tok = AutoTokenizer.from_pretrained("{cfg.export_dir}")
model = AutoModelForSequenceClassification.from_pretrained("{cfg.export_dir}")
text = "Dana Whitfield: We act when a court tells us to."   # template: {inference.get("template")!r}
```

Inputs follow the template above (speaker, then quote); probabilities in the project divide the logits by
the temperature in `inference.json` ({inference.get("temperature", 1.0):.3f}, fitted on validation).

**Intended use**: analysing who takes which stance in news about infrastructure providers and extremist
or criminal sites, in aggregate, with the low-confidence quotes reviewed by a person. **Not for**: deciding
about individual people or sites, or any text far from this domain.

## Training data

The project's own corpus of original, fictional news articles (see `data/README.md`): quotes extracted by
`quotestance-extract`, gold labels from two blind labelling passes with adjudication, splits by event.

## Metrics

Produced by `quotestance-pipeline` (training run) and reported by `quotestance-evaluate`:

{chr(10).join(table)}

## Inference precision

On the first load on a machine, `quotestance.infer` times each path that CPU runs on the labelled rows saved
with the model (`parity_rows.json`) and keeps the fastest that passes parity there (label agreement with fp32
>= 99 %, stance macro-F1 within 0.5 points), caching the choice; `model.int8.onnx` is the int8 graph. On
the training machine ({where}; `parity.json`):

{parity}

## Limitations

Trained on synthetic news; real news has more quotes that take no stance and fewer that defer to law
enforcement, so expect the realdev row, not the test row. English only. Stance is read from the quote and
its speaker, not the whole article.
"""
