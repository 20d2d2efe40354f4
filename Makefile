# Thin wrappers. Each target creates .venv when missing; re-running is safe.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test dev docs app bench bench-generate bench-growth clean

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

# The customer 360 page on http://127.0.0.1:8501 (reads the restricted serving copy, else the
# warehouse; CRM_CIF_APP_DB points it at any DuckDB file).
app: install
	$(BIN)/streamlit run dagster_project/app/main.py --server.headless true --server.address 127.0.0.1 \
		--server.port $${APP_PORT:-8501} --browser.gatherUsageStats false --client.toolbarMode viewer

# The pipeline benchmark (benchmarks/bench_pipeline.py): stages, two new days, SQL floor, serving
# queries, machine probe; results in benchmarks/results/. `make bench-generate` times the generator alone.
bench: install
	$(BIN)/python benchmarks/bench_pipeline.py --people $${SCALE:-10000}

bench-generate: install
	$(BIN)/python benchmarks/bench_generate.py --people $${SCALE:-100000}

# One new day over 12, 24 and 48 months of history (benchmarks/bench_history_growth.py): does the
# daily run grow with the history? Three full benchmark runs: ~20 min at SCALE=100000.
bench-growth: install
	$(BIN)/python benchmarks/bench_history_growth.py --people $${SCALE:-100000}

clean:
	rm -rf data dbt/target dbt/logs .dagster_home
