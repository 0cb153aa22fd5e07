# `make run`: set up and run the main job (report + compile of vgg16). `make test`: set up and run the tests.
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: setup run test lint bench bench-report diagrams docs clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $@

run: setup
	$(BIN)/archdsl report vgg16
	$(BIN)/archdsl compile vgg16 -o out/vgg16.py

test: setup lint
	$(BIN)/python -m pytest -q

# ruff check with the rules in pyproject.toml ([tool.ruff.lint]), ruff format's check, and the spec library in
# archdsl fmt's layout (docs/editor.md, "Formatting"); `make test` runs them first
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/archdsl fmt --check specs/

bench: setup
	$(BIN)/python benchmarks/run.py

# `archdsl report vgg16` against plain PyTorch + torchinfo.summary, whole processes; torchinfo goes
# into .bench-deps/ (the benchmark's own folder), not into .venv
bench-report: setup
	$(BIN)/pip install -q --target .bench-deps torchinfo
	$(BIN)/python benchmarks/report_vs_torchinfo.py

# the README's diagrams (needs graphviz's dot: apt-get install graphviz)
diagrams: setup
	mkdir -p docs/img
	for net in lenet5 googlenet_paper resnet50 unet ssd300; do $(BIN)/archdsl render $$net -o docs/img/$$net.png; done
	for net in resnet50 googlenet_paper densenet121 unet ssd300; do $(BIN)/archdsl render $$net --fit slide -o docs/img/slide_$$net.png; done

# regenerate the generated docs: the error catalogue and the library table (tests check both are current)
docs: setup
	$(BIN)/python tests/test_errors.py > docs/errors.md
	$(BIN)/python -c "import json; from archdsl.ir.analysis import Analysis; print(json.dumps(Analysis.model_json_schema(), indent=2))" > docs/report.schema.json
	sed '/^| name | input |/,$$d' docs/library.md > docs/library.md.tmp
	$(BIN)/archdsl list --format markdown >> docs/library.md.tmp
	mv docs/library.md.tmp docs/library.md

clean:
	rm -rf $(VENV) out .pytest_cache .bench-deps
