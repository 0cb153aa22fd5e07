# `make run`: set up and run the main job (report + compile of vgg16). `make test`: set up and run the tests.
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: setup run test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $@

run: setup
	$(BIN)/archdsl report vgg16
	$(BIN)/archdsl compile vgg16 -o out/vgg16.py
	@echo "wrote out/vgg16.py"

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) out .pytest_cache
