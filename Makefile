# `make repro` and `make test` work on a fresh clone: they build .venv first.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: repro test cluster-test snakemake bench gpu-check quality docs serve clean-venv

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

repro: $(STAMP)
	dvc repro

snakemake: $(STAMP)
	snakemake --cores 4 report

test: $(STAMP)
	pytest -q

# profiles/slurm on a one-node SLURM cluster that the test starts on this machine and stops (root)
cluster-test: $(STAMP)
	command -v slurmctld >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null; }
	pytest -q -m slurm tests/test_cluster.py

bench: $(STAMP)
	python bench/run.py

# on a machine with a CUDA GPU: speed and correctness of training there, a few minutes -> reports/bench/gpu.md
# and gpu.json. No venv needed: any python with torch and numpy (GPU_PYTHON=...; the venv's if make built one)
GPU_PYTHON ?= python3
gpu-check:
	$(GPU_PYTHON) bench/gpu.py

# every variant and the plain DCGAN for the same calibrated minutes (bench/quality.yaml) at three seeds; about
# 2 hours on 2 cores -> docs/quality/
quality: $(STAMP)
	python bench/quality.py

# the generated blocks of README.md and docs/ (tables from reports/, options, stages)
docs: $(STAMP)
	python -m doggan.report.docs README.md docs/*.md

serve: $(STAMP)
	doggan serve

clean-venv:
	rm -rf $(VENV)
