"""Probabilistic identity: a Splink model, trained on the data itself, scores candidate pairs.

Exact keys (account number, email, phone) already link records deterministically; this
model finds what they miss: a typo in an email, a surname changed at marriage with the same
date of birth, a name and birth date shared with no contact point. It is trained without
labels (u by random sampling, m by expectation maximisation), and name and email matches are
weighted by how common the value is (term frequencies), so two "John Musa"s born on the same
day in a large city are not taken for one person without further evidence.

Splink runs in its own in-memory DuckDB so its working tables never land in the warehouse;
the candidate records go in as Arrow and the scored pairs come back as Arrow.
"""

from __future__ import annotations

import json
import math
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

# Candidate records: every registered individual record (contact points carry a single key
# and are linked by the exact rules only).
CANDIDATES_SQL = """
    with named as (
        select record_id, source_system, date_of_birth, email, phone, postcode,
               coalesce(first_name, case when strpos(trim(full_name), ' ') > 0
                   then split_part(trim(full_name), ' ', 1) end) as first_name,
               coalesce(last_name, case when strpos(trim(full_name), ' ') > 0
                   then regexp_extract(trim(full_name), '([^ ]+)$', 1) end) as last_name
        from {schema}.int_party_records
        where party_type = 'individual' and source_entity <> 'contact_point'
    )
    select record_id as unique_id, source_system,
           nullif(lower(strip_accents(regexp_replace(first_name, '[^[:alpha:]]', '', 'g'))), '') as first_name,
           nullif(lower(strip_accents(regexp_replace(last_name, '[^[:alpha:]]', '', 'g'))), '') as surname,
           date_of_birth,
           email,
           nullif(split_part(email, '@', 1), '') as email_user,
           nullif(split_part(email, '@', 2), '') as email_domain,
           phone,
           nullif(lower(replace(postcode, ' ', '')), '') as postcode
    from named
"""

COMPARISONS = [
    cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
    cl.NameComparison("surname").configure(term_frequency_adjustments=True),
    cl.DateOfBirthComparison("date_of_birth", input_is_string=False),
    cl.EmailComparison("email"),
    cl.ExactMatch("phone"),
    cl.ExactMatch("postcode"),
]

# Candidate pairs for scoring: each rule is an index a real person can fall into, so a record
# reaches its match through whichever key survived the noise.
PREDICTION_BLOCKS = [
    block_on("date_of_birth", "surname"),
    block_on("date_of_birth", "first_name"),
    block_on("email_user"),
    block_on("email_domain", "substr(email_user, 4)"),
    block_on("phone"),
    block_on("email"),
]

TRAINING_BLOCKS = [block_on("date_of_birth"), block_on("email"), block_on("phone"), block_on("first_name", "surname")]
EXACT_RULES_FOR_PRIOR = [block_on("email"), block_on("phone")]


@dataclass(frozen=True)
class ScoredPairs:
    pairs: pa.Table          # record_id_l, record_id_r, match_weight, match_probability
    candidates: int
    model_json: dict
    weights: list[dict]      # one row per comparison level: comparison, level, m, u, match_weight


def _splink_connection(memory_limit: str | None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    if memory_limit:
        con.execute(f"set memory_limit = '{memory_limit}'")
    con.execute(f"set temp_directory = '{tempfile.gettempdir()}/crm_cif_splink'")
    con.execute("set preserve_insertion_order = false")
    return con


def score_candidate_pairs(warehouse: duckdb.DuckDBPyConnection, schema: str = "integration", *,
                          min_probability: float = 0.5, seed: int = 42, u_max_pairs: float = 5e6,
                          em_max_pairs: float = 2e6, memory_limit: str | None = None) -> ScoredPairs:
    """Train a Splink model on the party records and return the pairs scoring ≥ min_probability."""
    records = warehouse.sql(CANDIDATES_SQL.format(schema=schema)).to_arrow_table()
    con = _splink_connection(memory_limit)
    logging.getLogger("splink").setLevel(logging.ERROR)
    db_api = DuckDBAPI(con)
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=COMPARISONS,
        blocking_rules_to_generate_predictions=PREDICTION_BLOCKS,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(db_api.register(records, dataset_display_name="party_records"), settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(EXACT_RULES_FOR_PRIOR, recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed)
    for rule in TRAINING_BLOCKS:
        linker.training.estimate_parameters_using_expectation_maximisation(rule, max_pairs=em_max_pairs)
    predictions = linker.inference.predict(threshold_match_probability=min_probability)
    pairs = con.sql(f"""
        select least(unique_id_l, unique_id_r) as record_id_l, greatest(unique_id_l, unique_id_r) as record_id_r,
               round(max(match_weight), 4) as match_weight, round(max(match_probability), 6) as match_probability
        from {predictions.physical_name}
        group by all
    """).to_arrow_table()
    model = linker.misc.save_model_to_json()
    weights = weights_from_model(model)
    con.close()
    return ScoredPairs(pairs=pairs, candidates=records.num_rows, model_json=model, weights=weights)


def weights_from_model(model: dict) -> list[dict]:
    """The trained model as rows a person can read: m, u and the match weight of each level."""

    rows = []
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = math.log2(m / u) if m and u else None
            rows.append({"comparison": comparison["output_column_name"], "level": level.get("label_for_charts", ""),
                         "m": m, "u": u, "match_weight": weight})
    return rows


def save_model(model: dict, folder: Path, run_id: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"splink_model_{run_id or 'latest'}.json"
    path.write_text(json.dumps(model, indent=2, default=str))
    return path
