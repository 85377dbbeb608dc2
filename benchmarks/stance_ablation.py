"""Stance ablation: one change per row, each trained with 2 seeds, stance macro-F1 on validation, test, realdev
and realdev2 (mean of the seeds), the TF-IDF baseline beside it.

usage: python benchmarks/stance_ablation.py [--rows NAME,...] [--seeds 13,14] [--table-only] [--write docs/experiments.md]

Each row is `quotestance-train` with Hydra overrides, run in this process and logged to MLflow (tag
`ablation=<row>`); a row that changes `dataset.*` first builds its own dataset under experiments/ablation/.
realdev and realdev2 are measurement only here: every row trains on the shipped corpus alone. --write puts the
table between the `<!-- ablation:begin -->` and `<!-- ablation:end -->` markers of the file. Each row's
figures are read back from its tagged runs (the newest per seed), so rows can be run one invocation at a time
and the table written from them all with --table-only.
Needs ../shared beside the repository (realdev, realdev2); about 6 minutes a row on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from sections import write_block

ROOT = Path(__file__).resolve().parents[1]

# article sets of earlier corpus versions, as dataset.sources (each row's gold is cut to its articles)
CORPUS_145 = "dataset.sources=['data/corpus/ev0*.md','data/corpus/ev1*.md','data/corpus/ev2*.md']"
CORPUS_165 = "dataset.sources=['data/corpus/ev0*.md','data/corpus/ev1*.md','data/corpus/ev2*.md','data/corpus/ev3[0-3]*.md']"
CORPUS_185 = "dataset.sources=['data/corpus/ev0*.md','data/corpus/ev1*.md','data/corpus/ev2*.md','data/corpus/ev3[0-7]*.md']"
CORPUS_205 = "dataset.sources=['data/corpus/ev0*.md','data/corpus/ev1*.md','data/corpus/ev2*.md','data/corpus/ev3*.md','data/corpus/ev4[01]*.md']"
BEFORE_BATCH4 = (
    "benchmarks/splits_before_batch4.json"  # the frozen splits before ev42–ev45 joined the test events
)
CORPUS_115 = "dataset.sources=['data/corpus/ev0*.md','data/corpus/ev1*.md','data/corpus/ev2[0-3]*.md']"
SPEAKER = "train.template='{speaker}: {quote}'"
EPOCHS_5 = "train.epochs=5"  # the shipped cap, spelled out in rows measured before it was the default again

# (row, what changes, overrides); the first row is the recipe `make pipeline` trains. Rows measured against an
# earlier recipe spell it out (up to 5 epochs, the speaker template, the 145-article corpus), so each row reruns
# as it was.
ROWS: list[tuple[str, str, list[str]]] = [
    (
        "shipped",
        "the shipped recipe: 205 articles train and validate, the fourth batch (ev42–ev45) joins the test "
        "events; the quote alone, class weights, weak labels, up to 5 epochs, a TF-IDF partner (the two "
        "experts' product, each calibrated on validation); where training runs in fp32 (no native bf16), the "
        "embeddings and the bottom 4 of 6 layers kept as pretrained (`train.freeze=auto`)",
        [],
    ),
    (
        "frame",
        "as shipped, the quote's own sentence around it (its attribution and act, the quote left out) as a "
        "second segment: `{quote} [SEP] {frame}`",
        ["train.template='{quote} [SEP] {frame}'"],
    ),
    (
        "val-batch4",
        "as shipped, the fourth batch (ev42–ev45, written to real news's hard shapes) validates beside the first "
        "batch's four validation events, instead of joining the test events: the epoch, both experts' "
        "temperatures and the partner's weight are chosen on text closer to real news (test: the first batch's "
        "five events alone)",
        ["dataset.frozen_splits=benchmarks/splits_val_batch4.json"],
    ),
    (
        "val-batch4-only",
        "as shipped, the fourth batch (ev42–ev45) is the whole validation split, and the first batch's four "
        "validation events train (test: the first batch's five events alone)",
        ["dataset.frozen_splits=benchmarks/splits_val_batch4_only.json"],
    ),
    (
        "select-pair",
        "as shipped, the epoch kept on the pair's validation F1 (the transformer with its partner), not the "
        "transformer's alone",
        ["train.select_on=pair"],
    ),
    (
        "full-finetune",
        "as shipped, every layer fine-tuned wherever it trains (`train.freeze=false`): the recipe on a CPU with "
        "native bf16; these seeds' runs were logged as `shipped` until fp32 training froze the bottom layers",
        ["train.freeze=false"],
    ),
    (
        "freeze-3",
        "as shipped, the embeddings and the bottom 3 of MiniLM's 6 layers kept as pretrained on any CPU",
        ["train.freeze=true", "model.freeze_layers=3"],
    ),
    (
        "freeze-4",
        "as shipped, the embeddings and the bottom 4 of 6 layers kept as pretrained on any CPU (what `shipped` "
        "does where training runs in fp32)",
        ["train.freeze=true", "model.freeze_layers=4"],
    ),
    (
        "freeze-4-lr2e-4",
        "freeze-4, with twice the learning rate (2e-4) for the top two layers",
        ["train.freeze=true", "model.freeze_layers=4", "train.learning_rate=2e-4"],
    ),
    (
        "average-3",
        "as shipped, the kept weights the mean of the last 3 epochs' (`train.average_last=3`), not the best epoch's",
        ["train.average_last=3"],
    ),
    (
        "contrastive-1",
        "as shipped, after one epoch of a SetFit-style contrastive first stage (triplets of quotes by label, "
        "`train.contrastive_epochs=1`)",
        ["train.contrastive_epochs=1"],
    ),
    (
        "corpus-225",
        "as shipped, the fourth batch (ev42–ev45) in training instead of the test events (225 articles)",
        [f"dataset.frozen_splits={BEFORE_BATCH4}"],
    ),
    ("corpus-205", "as shipped, without the fourth batch, ev42–ev45 (205 articles)", [CORPUS_205]),
    (
        "no-stack",
        "as corpus-205, the transformer alone (the recipe until the TF-IDF partner)",
        ["train.stack_tfidf=false", CORPUS_205],
    ),
    (
        "epochs-4",
        "up to 4 epochs (shipped for a round, while `make pipeline` extracted the corpus twice)",
        ["train.epochs=4"],
    ),
    (
        "speaker",
        "`{speaker}: {quote}`, up to 5 epochs (the recipe until the quote alone)",
        [EPOCHS_5, SPEAKER],
    ),
    ("corpus-185", "up to 5 epochs, without ev38–ev41 (185 articles)", [EPOCHS_5, CORPUS_185]),
    ("corpus-165", "without ev34–ev41 (165 articles)", [EPOCHS_5, CORPUS_165]),
    ("corpus-145", "without the third batch, ev30–ev41 (145 articles)", [EPOCHS_5, CORPUS_145]),
    ("speaker-185", "`{speaker}: {quote}`, 185 articles", [EPOCHS_5, SPEAKER, CORPUS_185]),
    ("speaker-165", "`{speaker}: {quote}`, 165 articles", [EPOCHS_5, SPEAKER, CORPUS_165]),
    (
        "speaker-145",
        "`{speaker}: {quote}`, 145 articles (the recipe before the third batch)",
        [EPOCHS_5, SPEAKER, CORPUS_145],
    ),
    ("corpus-115", "as speaker-145, without the second batch (ev24–ev29)", [EPOCHS_5, SPEAKER, CORPUS_115]),
    (
        "no-weak",
        "as shipped, no weak labels for the unlabelled quotes (180 train rows)",
        [EPOCHS_5, "dataset.weak.enabled=false"],
    ),
    (
        "label-smoothing",
        "as shipped, label smoothing 0.1 (a tenth of each target spread over the four labels)",
        [EPOCHS_5, "train.label_smoothing=0.1"],
    ),
    (
        "no-class-weights",
        "as speaker-145, no inverse-frequency class weights",
        [EPOCHS_5, SPEAKER, CORPUS_145, "train.class_weights=false"],
    ),
    (
        "paragraph",
        "as speaker-145, the paragraph around the quote as a second segment",
        [EPOCHS_5, "train.template='{speaker}: {quote} [SEP] {context}'", CORPUS_145],
    ),
    (
        "epochs-8",
        "as speaker-145, 8 epochs at learning rate 5e-5",
        [SPEAKER, CORPUS_145, "train.epochs=8", "train.learning_rate=5e-5"],
    ),
]
METRICS = ("validation", "test", "external_realdev", "external_realdev2", "external_real")


def compose(overrides: list[str], app: str = "train_app"):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from quotestance.config import CONF_DIR, register

    register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        cfg = hydra_compose(config_name=app, overrides=overrides)
    return OmegaConf.to_object(cfg), OmegaConf.to_container(cfg, resolve=True)


def run_row(name: str, overrides: list[str], seeds: list[int]) -> None:
    """Train the row's transformer (each seed) and baseline (once), each an MLflow run tagged with the row."""
    import mlflow

    from quotestance.dataset import build_dataset
    from quotestance.train import run_baseline, run_transformer

    if any(o.startswith("dataset.") for o in overrides):
        overrides = [*overrides, f"dataset.output=experiments/ablation/{name}"]
        ds, _ = compose([o for o in overrides if o.startswith("dataset.")], "dataset_app")
        if any(o.startswith("dataset.sources=") for o in overrides):
            # a subset of the articles: the gold rows of those articles only (the rest would match nothing)
            import glob
            import json

            stems = {Path(f).stem for pat in ds.dataset.sources for f in glob.glob(pat)}
            gold = Path(f"experiments/ablation/{name}-gold.jsonl")
            gold.parent.mkdir(parents=True, exist_ok=True)
            rows = [x for g in ds.dataset.gold for x in Path(g).read_text(encoding="utf-8").splitlines()]
            gold.write_text("".join(x + "\n" for x in rows if json.loads(x)["article_id"] in stems), "utf-8")
            overrides.append(f"dataset.gold=[{gold}]")
            ds, _ = compose([o for o in overrides if o.startswith("dataset.")], "dataset_app")
        build_dataset(ds.dataset, ds.labels, ds.extract)
    for seed in seeds:
        app, params = compose([*overrides, f"train.seed={seed}"])
        for kind, fn in (("transformer", run_transformer), ("baseline", run_baseline)):
            if kind == "baseline" and seed != seeds[0]:
                continue  # TF-IDF + logistic regression is deterministic given the data
            m = fn(app, params)
            mlflow.MlflowClient().set_tag(m["run_id"], "ablation", name)


def row_scores(name: str, seeds: list[int]) -> dict[str, dict[str, list[float]]]:
    """The row's figures from its MLflow runs: the newest finished run per seed (transformer) and the newest
    baseline; so a table can be written from runs made earlier, row by row."""
    import mlflow

    from quotestance.config import MlflowConfig
    from quotestance.tracking import setup

    setup(MlflowConfig(), create=False)
    runs = mlflow.search_runs(
        experiment_names=[MlflowConfig().experiment],
        filter_string=f"tags.ablation = '{name}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        output_format="list",
    )
    out: dict[str, dict[str, list[float]]] = {"transformer": {}, "baseline": {}}
    taken: set[tuple[str, str]] = set()
    for r in runs:
        kind, seed = r.data.tags.get("model_kind"), r.data.params.get("train.seed")
        key = (kind, "any" if kind == "baseline" else seed)
        if kind not in out or key in taken or (kind == "transformer" and int(seed or -1) not in seeds):
            continue
        taken.add(key)
        for k in METRICS:
            if f"{k}_stance_macro_f1" in r.data.metrics:  # external_real: runs since it was logged
                out[kind].setdefault(k, []).append(r.data.metrics[f"{k}_stance_macro_f1"])
        train = [d for d in r.inputs.dataset_inputs if any(t.value == "train" for t in d.tags)]
        if kind == "transformer" and train:
            out[kind].setdefault("train_rows", []).append(json.loads(train[0].dataset.profile)["num_rows"])
    return out


def earlier_rows(path: Path) -> dict[str, str]:
    """The rows the file's table already holds, by name: a row measured in another MLflow store (an earlier
    machine's) keeps its figures until it is run again here."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = text.split("<!-- ablation:begin -->", 1)[-1].split("<!-- ablation:end -->", 1)[0]
    rows = [line for line in block.splitlines() if line.startswith("| ") and not line.startswith("| row ")]
    return {line.split("|")[1].strip(): line for line in rows}


def fmt(vals: list[float]) -> str:
    if not vals:
        return ""
    if len(vals) == 1:
        return f"{vals[0]:.3f}"
    return f"{statistics.mean(vals):.3f} ± {statistics.stdev(vals):.3f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default=",".join(r[0] for r in ROWS))
    ap.add_argument("--seeds", default="13,14")
    ap.add_argument("--write", type=Path)
    ap.add_argument("--table-only", action="store_true", help="train nothing: the table from the tagged runs")
    a = ap.parse_args()
    if not (ROOT.parent / "shared/data/realdev2").exists():
        sys.exit("needs ../shared/data/realdev and realdev2 beside the repository")
    wanted = a.rows.split(",")
    seeds = [int(s) for s in a.seeds.split(",")]
    lines = [
        f"stance macro-F1, transformer (MiniLM-L6) mean ± std over seeds {', '.join(map(str, seeds))}; TF-IDF once",
        "",
        "| row | change | train rows | validation | test | realdev | realdev2 | real (both) | TF-IDF realdev | "
        "TF-IDF realdev2 | TF-IDF real |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    earlier = earlier_rows(a.write) if a.write else {}
    for name, what, overrides in ROWS:
        if name not in wanted:
            continue
        if not a.table_only:
            run_row(name, overrides, seeds)
        sc = row_scores(name, seeds)
        t, b = sc["transformer"], sc["baseline"]
        if not t:
            if name in earlier:  # measured before, in runs this MLflow store does not hold: kept as written
                lines.append(earlier[name])
            continue  # never run: no row
        rows = sorted(set(t.get("train_rows", [])))
        row = (
            f"| {name} | {what} | {'/'.join(map(str, rows))} | {fmt(t['validation'])} | {fmt(t['test'])} | "
            f"{fmt(t['external_realdev'])} | {fmt(t['external_realdev2'])} | {fmt(t.get('external_real', []))} | "
            f"{fmt(b.get('external_realdev', []))} | {fmt(b.get('external_realdev2', []))} | "
            f"{fmt(b.get('external_real', []))} |"
        )
        print(row, flush=True)
        lines.append(row)
    print("\n".join(lines))
    if a.write:
        write_block(a.write, "ablation", lines)  # it notes the command and the date
    return 0


if __name__ == "__main__":
    sys.exit(main())
