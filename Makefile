# Thin targets: each is one or two commands. `make pipeline` and `make test` create .venv/ when absent.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# spaCy parse workers for scoring extraction in `make pipeline`: two where there are two cores (extraction
# alone with n_process 1 and 2: docs/benchmarks.md), one on a single core
PARSE_WORKERS := $(shell python3 -c "import os; print(min(2, len(os.sched_getaffinity(0))))" 2>/dev/null || echo 1)

.PHONY: setup pipeline test test-fast test-avx2 lint eval-extract bench-extract bench clean

setup: $(VENV)/.installed

# torch==2.13.0 is the CPU build that lies on this machine's disk (never a multi-GB CUDA wheel)
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev,spark]'
	touch $@

# the main job on the embedded defaults: score extraction on every gold set, then dataset -> train
# (transformer + TF-IDF baseline) -> evaluate, all logged to MLflow in experiments/mlflow.db
pipeline: setup
	$(BIN)/quotestance-eval-extract extract.n_process=$(PARSE_WORKERS)
	$(BIN)/quotestance-pipeline

# ruff: the lint rules in pyproject.toml, and the code as `ruff format` writes it
lint: setup
	$(BIN)/ruff check src tests benchmarks && $(BIN)/ruff format --check src tests benchmarks

# the whole suite (doctests in src/ included), slow end-to-end tests included; pytest's exit 5 (no tests collected) is not a failure
test: setup
	$(BIN)/python -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

# the fast tests as an AVX2-only CPU would run them (flags hidden from quotestance and torch's kernels capped)
test-avx2: setup
	QUOTESTANCE_CPU_FLAGS=avx2 $(MAKE) --no-print-directory test-fast

eval-extract: setup
	$(BIN)/quotestance-eval-extract output=docs/extraction_eval.md

bench-extract: setup
	$(BIN)/python benchmarks/extract_vs_textacy.py --output docs/extraction_vs_textacy.md

clean:
	rm -rf experiments/hydra experiments/cache .pytest_cache

# stance-scoring throughput vs the plain HF pipeline, then extraction and end-to-end quotestance-score
# (needs a champion: make pipeline; exports it to models/quote-stance first)
bench: setup
	$(BIN)/quotestance-register export
	$(BIN)/python benchmarks/score_bench.py --e2e
	$(BIN)/python benchmarks/scale_bench.py --n 300
