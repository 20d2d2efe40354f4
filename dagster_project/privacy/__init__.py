"""Right to erasure: `crm-cif erase`, the erasure log, and suppression of erased people at ingestion."""
