"""Raw loading: landing files -> ``raw.<source>__<entity>`` with lineage, rejects and a file ledger."""

from dagster_project.ingest.discovery import Discovery, discover
from dagster_project.ingest.ledger import ensure_raw_schema
from dagster_project.ingest.loader import (
    EntityLoadResult, FileLoadResult, IngestError, ingest_entity,
    record_unmatched,
)

__all__ = ["Discovery", "EntityLoadResult", "FileLoadResult", "IngestError", "discover",
           "ensure_raw_schema", "ingest_entity", "record_unmatched"]
