# `make run`: set up and run the main job (report + compile of vgg16). `make test`: set up and run the tests.
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: setup run test bench docs clean

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

# regenerate the generated docs: the error catalogue and the library table (tests check both are current)
docs: setup
	$(BIN)/python tests/test_errors.py > docs/errors.md
	$(BIN)/python -c "import json; from archdsl.analysis import Analysis; print(json.dumps(Analysis.model_json_schema(), indent=2))" > docs/report.schema.json
	sed '/^| name | input |/,$$d' docs/library.md > docs/library.md.tmp
	$(BIN)/archdsl list --format markdown >> docs/library.md.tmp
	mv docs/library.md.tmp docs/library.md

clean:
	rm -rf $(VENV) out .pytest_cache
