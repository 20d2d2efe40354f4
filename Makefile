# Thin wrappers. Each target creates .venv when missing; re-running is safe.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test dev docs bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/crm-cif demo

test: install
	$(BIN)/python -m pytest

dev: install
	$(BIN)/crm-cif dev

# docs/sources.md and the dbt docs site (data/dbt_docs/index.html) from the built warehouse
docs: install
	$(BIN)/crm-cif docs --dbt

bench: install
	$(BIN)/python benchmarks/bench_generate.py --people $${SCALE:-100000}

clean:
	rm -rf data dbt/target dbt/logs .dagster_home
