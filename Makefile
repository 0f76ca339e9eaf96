# make run  - set up .venv and open the default scenario in the terminal app (its transcript without a terminal)
# make test - set up .venv with the dev tools and run lint, types and the whole suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[tui]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,tui,notebook]'
	touch $@ $(VENV)/.run-installed

# The terminal app on the default world; without a terminal (a pipe, CI), its transcript instead.
run: $(VENV)/.run-installed
	@if [ -t 1 ]; then $(BIN)/smtpsim tui basic; else $(BIN)/smtpsim run basic; fi

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check simulator tests bench
	$(BIN)/ruff format --check simulator tests bench

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

# The real Mermaid parser, for the test that every scenario's diagram parses (a browser test).
MERMAID_JS := .cache/mermaid/node_modules/mermaid/dist/mermaid.min.js

$(MERMAID_JS):
	@if command -v npm >/dev/null; then \
		npm install --prefix .cache/mermaid mermaid@11 --no-audit --no-fund --loglevel=error; \
	else \
		echo "npm not found: the Mermaid parse test will be skipped (and fail under CI=true)"; \
	fi

pytest: $(VENV)/.dev-installed $(MERMAID_JS)
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/bench_smtp.py
	$(BIN)/python bench/bench_world.py 1000 10000
	$(BIN)/python bench/bench_tls.py
	$(BIN)/python bench/bench_tui.py
	$(BIN)/python bench/bench_notebooks.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .cache
