# make demo: create .venv if missing, install sov, run `sov demo` end to end.
# make test: create .venv if missing, install sov with test extras, run the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test install install-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/sov demo

test: install-test
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

bench: install-test
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) sov-demo.duckdb sov.duckdb
