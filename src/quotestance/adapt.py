"""`quotestance-train experiment=adapt`: what a user's own labels buy, as a learning curve, strictly out of fold.

The user's labelled quotes (in the shipped config realdev + realdev2, the one sanctioned training use of them)
are dealt into `adapt.folds` folds by `adapt.group_by` (incident), whole groups per fold. The corpus-only model
is trained once. It scores every user quote: that is the 0-label point, and its margin between its top two
labels is the uncertainty that ranks quotes for labelling (as `quotestance-label export --ranker champion`
does). Then, for each fold and each size n in `adapt.sizes`, n labels are drawn from the *other* folds:
  - at random, `adapt.seeds` times;
  - by uncertainty: the n quotes the corpus model is least sure of.
The corpus model is adapted on them (`adapt.recipe`) and scores the held-out fold. Each point of the curve is
stance macro-F1 over every user quote, each one predicted by a model that never saw its incident.

Recipes:
  - `partner`: the corpus transformer as it is; its TF-IDF partner refitted on the corpus train split plus the
    n user rows (each of weight `adapt.user_weight`) and calibrated again on corpus validation. Seconds per
    point, so a user can adapt on every batch of labels; needs `train.stack_tfidf`;
  - `continue`: a second fine-tuning stage from the corpus model, on the n user rows (each of weight
    `adapt.user_weight`) plus `adapt.replay` x n corpus train rows drawn at random, so that it adapts without
    forgetting the corpus; `adapt.epochs` epochs at `adapt.learning_rate`, the last epoch kept (there is no
    validation set the user's labels have not paid for);
  - `retrain`: the corpus train split plus the user rows at `adapt.user_weight`, trained from the pretrained
    model as `quotestance-train dataset.user_gold=[...]` does (about 4x the time of `continue` here).
With `train.stack_tfidf` (the shipped recipe) each adapted model's TF-IDF partner is fitted on the corpus train
split plus the user rows at their weight and calibrated on the corpus validation split, in both recipes.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from quotestance.baseline import TfidfBaseline
from quotestance.config import TrainApp
from quotestance.dataset import external_rows, load_splits
from quotestance.infer import load_predictor
from quotestance.io import read_gold, read_jsonl, replace_block
from quotestance.metrics import softmax, stance_macro_f1
from quotestance.progress import say, stage
from quotestance.tracking import tracked_run
from quotestance.train import TrainError, stack_partner, train_model


def user_rows(app: TrainApp) -> list[dict[str, Any]]:
    """The user's labelled quotes of every set in adapt.sets, each with its group (adapt.group_by) and set."""
    a = app.adapt
    rows: list[dict[str, Any]] = []
    if not a.sets:
        raise TrainError("adapt.sets is empty: name the user's labelled quotes")
    for s in a.sets:
        name = s.name
        if not Path(s.quotes).exists():
            raise FileNotFoundError(
                f"adapt.sets {name}: {s.quotes} not found: name the user's labelled quotes"
            )
        group_of: dict[str, str] = {}
        if s.meta and Path(s.meta).exists():
            for m in read_jsonl(s.meta):
                group_of[m.get("passage_id") or m.get("id")] = m.get(a.group_by) or m.get("event")
        for r, q in zip(external_rows(s.quotes, s.texts), read_gold(s.quotes), strict=True):
            aid = q["article_id"]
            group = group_of.get(aid) or q.get(a.group_by) or q.get("event") or aid
            rows.append(r | {"group": f"{name}:{group}", "set": name})
    return rows


def group_folds(rows: list[dict[str, Any]], k: int) -> dict[str, int]:
    """Fold of each group: groups by size, largest first, each to the fold with the fewest rows so far.

    >>> group_folds([{"group": g} for g in "aaabbc"], 2)
    {'a': 0, 'b': 1, 'c': 1}
    """
    sizes: dict[str, int] = defaultdict(int)
    for r in rows:
        sizes[r["group"]] += 1
    if len(sizes) < k:
        raise TrainError(f"adapt.folds={k} but the user's labels hold only {len(sizes)} groups")
    load, fold_of = [0] * k, {}
    for g in sorted(sizes, key=lambda g: (-sizes[g], g)):
        f = min(range(k), key=lambda i: (load[i], i))
        fold_of[g] = f
        load[f] += sizes[g]
    return fold_of


def draw(pool: list[int], n: int, strategy: str, margin: np.ndarray, seed: int) -> list[int]:
    """n indices from pool: at random (seeded) or the n with the smallest margin (ties by index)."""
    if strategy == "uncertainty":
        return sorted(pool, key=lambda i: (margin[i], i))[:n]
    return random.Random(seed).sample(pool, n)


def run_adapt(app: TrainApp, params: dict[str, Any]) -> dict[str, float]:
    """The learning curve; its metrics (mean and std over random draws, and by uncertainty, per size)."""
    import mlflow

    a = app.adapt
    if a.recipe == "partner" and not app.train.stack_tfidf:
        raise TrainError("adapt.recipe=partner adapts the TF-IDF partner: it needs train.stack_tfidf=true")
    labels, stance = app.labels.names, list(app.labels.stance)
    splits = load_splits(app.dataset.output, app.labels)
    user = user_rows(app)
    fold_of = group_folds(user, a.folds)
    gold = [r["label"] for r in user]
    sizes = sorted(n for n in a.sizes if n > 0)
    # (strategy, n, draw) -> predicted label of every user row, filled fold by fold
    oof: dict[tuple[str, int, int], list[str]] = defaultdict(lambda: [""] * len(user))
    with (
        tracked_run(app.mlflow, f"adapt-{app.model.name}", "adapt", params),
        tempfile.TemporaryDirectory() as tmp,
    ):
        base_dir = str(Path(tmp) / "corpus-only")
        with stage("adapt: the corpus-only model"), mlflow.start_run(run_name="corpus-only", nested=True):
            base = _fit(app, splits["train"], splits["validation"], base_dir, app.train, tmp)
            probs = softmax(_logits(app, base_dir, base, user))
            if a.recipe == "partner":  # the transformer stays as it is: its own logits, once
                alone = replace(
                    load_predictor(
                        base_dir, app.train.template, app.model.max_length, precision=base.precision
                    ),
                    partner=None,
                )
                alone_user, alone_val = alone.logits(user), alone.logits(splits["validation"])
        top2 = np.sort(probs, 1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0]
        base_pred = [labels[i] for i in probs.argmax(1)]
        draws = [("random", s) for s in range(a.seeds)] + [("uncertainty", 0)]
        for f in range(a.folds):
            held = [i for i, r in enumerate(user) if fold_of[r["group"]] == f]
            pool = [i for i, r in enumerate(user) if fold_of[r["group"]] != f]
            for n in sizes:
                if n > len(pool):
                    raise TrainError(f"adapt.sizes has {n}, but fold {f} leaves only {len(pool)} user labels")
                for strategy, seed in draws:
                    picked = draw(pool, n, strategy, margin, a.seed + 1000 * seed + f)
                    with (
                        stage(f"adapt fold {f + 1}/{a.folds}: {n} labels, {strategy} draw {seed + 1}"),
                        mlflow.start_run(run_name=f"fold{f}-{strategy}{seed}-n{n}", nested=True),
                    ):
                        pred = _adapted(
                            app,
                            base_dir,
                            splits,
                            [user[i] for i in picked],
                            [user[i] for i in held],
                            n,
                            seed,
                            tmp,
                            (alone_user[held], alone_val) if a.recipe == "partner" else None,
                        )
                        mlflow.log_params(
                            {"held_out_fold": f, "strategy": strategy, "draw": seed, "user_labels": n}
                        )
                        for i, p in zip(held, pred, strict=True):
                            oof[(strategy, n, seed)][i] = p
        result = curve(gold, base_pred, oof, stance, user)
        mlflow.log_metrics(result)
        lines = curve_table(result, sizes, a.seeds)
        for line in lines:
            say(line)
        mlflow.log_text("\n".join(lines) + "\n", "adapt/learning_curve.md")
        mlflow.log_figure(curve_plot(result, sizes), "adapt/learning_curve.png")
        if a.write:
            cmd = (
                f"quotestance-train experiment=adapt adapt.recipe={a.recipe} adapt.user_weight={a.user_weight:g} "
                f"adapt.write={a.write}"
            )
            note = (
                f"<!-- written by `{cmd}` on {time.strftime('%Y-%m-%d')}, MLflow run "
                f"{mlflow.active_run().info.run_id[:12]}; recipe {a.recipe}, {len(user)} user quotes, "
                f"{a.folds} folds by {a.group_by} -->"
            )
            replace_block(
                a.write, "<!-- adapt:begin -->", "<!-- adapt:end -->", "\n".join([note, "", *lines])
            )
        return result


def _fit(app: TrainApp, train: list[dict], val: list[dict], out: str, cfg, tmp: str, model_cfg=None):
    ck = Path(tempfile.mkdtemp(dir=tmp)) / "ck"
    return train_model(
        train,
        val,
        app.labels.names,
        list(app.labels.stance),
        model_cfg or app.model,
        replace(cfg, checkpoint_dir=str(ck), resume=False),
        out,
    )


def _logits(app: TrainApp, model_dir: str, res, rows: list[dict]) -> np.ndarray:
    pred = load_predictor(model_dir, app.train.template, app.model.max_length, precision=res.precision)
    return pred.logits(rows)


def _adapted(
    app: TrainApp, base_dir: str, splits, picked, held, n: int, seed: int, tmp: str, alone=None
) -> list[str]:
    """Labels the model adapted on `picked` gives the `held` rows (adapt.recipe); `alone`: the corpus
    transformer's own logits of the held rows and of validation (the partner recipe)."""
    a = app.adapt
    labels = app.labels.names
    mine = [r | {"weight": a.user_weight, "label_source": "user"} for r in picked]
    if a.recipe == "partner":
        held_logits, val_logits = alone
        tfidf = TfidfBaseline(labels, app.train.template, seed=app.train.seed).fit(splits["train"] + mine)
        tfidf.fit_mix(val_logits, splits["validation"])
        return [labels[i] for i in tfidf.combine(held_logits, held).argmax(1)]
    out = str(Path(tempfile.mkdtemp(dir=tmp)) / "m")
    if a.recipe == "continue":
        replay = random.Random(a.seed + seed).sample(
            splits["train"], min(len(splits["train"]), int(a.replay * n))
        )
        cfg = replace(
            app.train,
            epochs=a.epochs,
            learning_rate=a.learning_rate,
            patience=a.epochs + 1,
            stack_tfidf=False,
        )
        res = _fit(
            app,
            mine + replay,
            [],
            out,
            cfg,
            tmp,
            replace(app.model, path=base_dir, tokenizer=base_dir, tiny=None),
        )
        if (
            app.train.stack_tfidf
        ):  # the partner learns from the whole corpus and the user's rows, as retrain's
            stack_partner(out, splits["train"] + mine, splits["validation"], labels, app.train, app.model)
    elif a.recipe == "retrain":
        res = _fit(app, splits["train"] + mine, splits["validation"], out, app.train, tmp)
    else:
        raise TrainError(f"adapt.recipe {a.recipe!r} is not partner, continue or retrain")
    return [labels[i] for i in _logits(app, out, res, held).argmax(1)]


def curve(gold, base_pred, oof, stance, user) -> dict[str, float]:
    """Stance macro-F1 over all user rows at each point; random draws as mean and std, and per set."""
    out = {"adapt_n0_stance_macro_f1": stance_macro_f1(gold, base_pred, stance)}
    for s in sorted({r["set"] for r in user}):
        idx = [i for i, r in enumerate(user) if r["set"] == s]
        out[f"adapt_n0_{s}_stance_macro_f1"] = stance_macro_f1(
            [gold[i] for i in idx], [base_pred[i] for i in idx], stance
        )
    scores: dict[tuple[str, int], list[float]] = defaultdict(list)
    for (strategy, n, _), pred in sorted(oof.items()):
        scores[(strategy, n)].append(stance_macro_f1(gold, pred, stance))
    for (strategy, n), vals in scores.items():
        out[f"adapt_{strategy}_n{n}_stance_macro_f1_mean"] = float(np.mean(vals))
        out[f"adapt_{strategy}_n{n}_stance_macro_f1_std"] = (
            float(statistics.stdev(vals)) if len(vals) > 1 else 0.0
        )
    return out


def curve_table(result: dict[str, float], sizes: list[int], seeds: int) -> list[str]:
    lines = [
        f"| user labels | random draw (mean ± std of {seeds}) | by uncertainty |",
        "|---:|---:|---:|",
        f"| 0 | {result['adapt_n0_stance_macro_f1']:.3f} | {result['adapt_n0_stance_macro_f1']:.3f} |",
    ]
    for n in sizes:
        m, s = (
            result[f"adapt_random_n{n}_stance_macro_f1_mean"],
            result[f"adapt_random_n{n}_stance_macro_f1_std"],
        )
        u = result[f"adapt_uncertainty_n{n}_stance_macro_f1_mean"]
        lines.append(f"| {n} | {m:.3f} ± {s:.3f} | {u:.3f} |")
    return lines


def curve_plot(result: dict[str, float], sizes: list[int]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [0, *sizes]
    n0 = result["adapt_n0_stance_macro_f1"]
    m = [n0] + [result[f"adapt_random_n{n}_stance_macro_f1_mean"] for n in sizes]
    s = [0.0] + [result[f"adapt_random_n{n}_stance_macro_f1_std"] for n in sizes]
    u = [n0] + [result[f"adapt_uncertainty_n{n}_stance_macro_f1_mean"] for n in sizes]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(xs, m, yerr=s, marker="o", capsize=3, label="random draw (mean ± std)")
    ax.plot(xs, u, marker="s", label="by the corpus model's uncertainty")
    ax.set_xlabel("user labels (out of fold by incident)")
    ax.set_ylabel("stance macro-F1, all user quotes")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
