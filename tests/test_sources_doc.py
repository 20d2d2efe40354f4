"""docs/sources.md is the registry rendered: editing one without the other fails here."""

from dagster_project.sources import ENTITIES
from dagster_project.sources_doc import DOC_PATH, render_sources_markdown


def test_committed_sources_md_equals_render():
    assert DOC_PATH.read_text(encoding="utf-8") == render_sources_markdown(), (
        "docs/sources.md is stale: run `python -m dagster_project.sources_doc`")


def test_render_covers_every_entity_and_column():
    text = render_sources_markdown()
    for e in ENTITIES:
        assert f"### `{e.source}.{e.name}`" in text
        assert f"`raw.{e.table}`" in text
        for c in e.columns:
            assert f"`{c.name}`" in text
    assert "| `status` | string | active \\| closed |  | `active`, `closed` |" in text
    assert "| Delimiter | tab |" in text
    assert "| Encoding | UTF-8 with a byte-order mark |" in text
