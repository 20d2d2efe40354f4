"""`make docs` (crm-cif docs --dbt): the dbt docs site is built from the built warehouse as one
static page holding the models, their lineage and the column descriptions."""

from __future__ import annotations

import re

import pytest

from dagster_project.cli import main
from dagster_project.dbt_docs import docs_dir

pytestmark = pytest.mark.e2e


def test_make_docs_writes_a_static_page_with_models_and_column_descriptions(built_world, capsys):
    assert main(["docs", "--dbt"]) == 0
    page = docs_dir() / "index.html"
    assert page == built_world.root / "dbt_docs" / "index.html"
    html = page.read_text(encoding="utf-8")
    assert "model.crm_cif.customer_360" in html  # the model, in the embedded manifest and lineage
    assert "Golden given name (most trusted source, then most recent)." in html  # a column description
    assert "Attrition rate: numerator = customers at the period start" in html  # a metric's definition
    assert re.search(r'"type": ?"VIEW"', html)  # the catalog: relations and column types read from the warehouse
    assert str(page) in capsys.readouterr().out


def test_docs_without_a_warehouse_says_what_to_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CRM_CIF_WAREHOUSE", str(tmp_path / "missing.duckdb"))
    monkeypatch.setattr("dagster_project.sources_doc.write_sources_markdown", lambda path: None)
    assert main(["docs", "--dbt"]) == 1
    assert "crm-cif run" in capsys.readouterr().err
