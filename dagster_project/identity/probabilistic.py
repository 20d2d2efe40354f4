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

import hashlib
import json
import math
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from dagster_project.identity.resolve import SCORED_PAIRS_SCHEMA
from dagster_project.identity.pinned_model import PinnedModel, load_pinned_model
from dagster_project.identity.scoring_cache import changed_records, write_scoring_cache

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

# Splink's EmailComparison has a "same username, other domain" level that random pairs almost
# never reach, so its u cannot be estimated from the data; a domain typo lands in the
# Jaro-Winkler levels here instead, whose u is observed.
EMAIL = cl.CustomComparison(
    output_column_name="email",
    comparison_levels=[
        cll.NullLevel("email"),
        cll.ExactMatchLevel("email").configure(tf_adjustment_column="email"),
        cll.JaroWinklerLevel("email", 0.88),
        cll.JaroWinklerLevel("email_user", 0.88),
        cll.ElseLevel(),
    ],
)

COMPARISONS = [
    cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
    cl.NameComparison("surname").configure(term_frequency_adjustments=True),
    cl.DateOfBirthComparison("date_of_birth", input_is_string=False),
    EMAIL,
    cl.ExactMatch("phone"),
    cl.ExactMatch("postcode"),
]

# Candidate pairs for scoring: each rule is an index a real person can fall into, so a record
# reaches its match through whichever key survived the noise; the username's tail catches a
# typo early in the username. Exact phone and email pairs are
# linked by the exact rules already; the same username (any domain) covers the email ones.
PREDICTION_BLOCKS = [
    block_on("date_of_birth", "surname"),
    block_on("date_of_birth", "first_name"),
    block_on("email_user"),
    block_on("email_domain", "right(email_user, 6)"),
]

TF_COLUMNS = ("first_name", "surname", "email")
TRAINING_SPEC = {"prior_recall": 0.8, "u_max_pairs": 5e6, "em_max_pairs": 2e6}
TRAINING_BLOCKS = [block_on("date_of_birth"), block_on("email"), block_on("phone"), block_on("first_name", "surname")]
EXACT_RULES_FOR_PRIOR = [block_on("email"), block_on("phone")]


@dataclass(frozen=True)
class ScoredPairs:
    pairs: pa.Table          # record_id_l, record_id_r, match_weight, match_probability
    candidates: int
    model_json: dict
    weights: list[dict]      # one row per comparison level: comparison, level, m, u, match_weight
    mode: str = "trained"    # "trained" this run, or "pinned model" (reused from the last training)
    rescored_records: int = 0  # records whose pairs were scored this run (all, or the new and changed)


def _splink_connection(memory_limit: str | None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    if memory_limit:
        con.execute(f"set memory_limit = '{memory_limit}'")
    con.execute(f"set temp_directory = '{tempfile.gettempdir()}/crm_cif_splink'")
    con.execute("set preserve_insertion_order = false")
    return con


def _settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=COMPARISONS,
        blocking_rules_to_generate_predictions=PREDICTION_BLOCKS,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def model_spec() -> str:
    """Fingerprint of what the model is: a change here retrains it (the pinned one no longer applies)."""
    settings = json.dumps(_settings().create_settings_dict(sql_dialect_str="duckdb"), sort_keys=True, default=str)
    training = json.dumps([TRAINING_SPEC, [r.get_blocking_rule("duckdb").blocking_rule_sql for r in
                                           TRAINING_BLOCKS + EXACT_RULES_FOR_PRIOR]])
    return hashlib.sha256((settings + CANDIDATES_SQL + training).encode()).hexdigest()[:16]


def train_model(records: pa.Table, *, seed: int = 42, memory_limit: str | None = None) -> PinnedModel:
    """Train on every candidate record (u by random sampling, m by EM) and keep its term frequencies."""
    con = _splink_connection(memory_limit)
    logging.getLogger("splink").setLevel(logging.ERROR)
    db_api = DuckDBAPI(con)
    linker = Linker(db_api.register(records, dataset_display_name="party_records"), _settings(), log_level=None)
    linker.training.estimate_probability_two_random_records_match(EXACT_RULES_FOR_PRIOR,
                                                                  recall=TRAINING_SPEC["prior_recall"])
    linker.training.estimate_u_using_random_sampling(max_pairs=TRAINING_SPEC["u_max_pairs"], seed=seed)
    for rule in TRAINING_BLOCKS:
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, max_pairs=TRAINING_SPEC["em_max_pairs"])
    term_frequencies = {c: linker.table_management.compute_tf_table(c).as_duckdbpyrelation().to_arrow_table()
                        for c in TF_COLUMNS}
    model = linker.misc.save_model_to_json()
    con.close()
    return PinnedModel(model_json=model, term_frequencies=term_frequencies, spec=model_spec())


def _scoring_linker(db_api: DuckDBAPI, records: pa.Table, model: PinnedModel) -> Linker:
    """A linker over ``records`` that scores with the pinned parameters and term frequencies."""
    linker = Linker(db_api.register(records, dataset_display_name="party_records"), model.model_json,
                    log_level=None)
    for column, table in model.term_frequencies.items():
        linker.table_management.register_term_frequency_lookup(db_api.register(table), column)
    return linker


def _normalised_pairs(con: duckdb.DuckDBPyConnection, predictions: list[str]) -> pa.Table:
    union = " union all ".join(f"select unique_id_l, unique_id_r, match_weight, match_probability from {p}"
                               for p in predictions)
    if not predictions:
        return SCORED_PAIRS_SCHEMA.empty_table()
    return con.sql(f"""
        select least(unique_id_l, unique_id_r) as record_id_l, greatest(unique_id_l, unique_id_r) as record_id_r,
               round(max(match_weight), 4) as match_weight, round(max(match_probability), 6) as match_probability
        from ({union})
        group by all
    """).to_arrow_table().cast(SCORED_PAIRS_SCHEMA)


def score_pairs(records: pa.Table, model: PinnedModel, *, changed: set[str] | None = None,
                min_probability: float = 0.5, memory_limit: str | None = None) -> pa.Table:
    """Candidate pairs scoring >= ``min_probability``: all of them, or (``changed`` given) only those
    with at least one record in ``changed``.

    The second is the first restricted to such pairs, exactly: the same blocking rules generate the
    pairs (new x old, and new x new) and a pair's score depends on its two records and the model only.
    """
    con = _splink_connection(memory_limit)
    logging.getLogger("splink").setLevel(logging.ERROR)
    db_api = DuckDBAPI(con)
    linker = _scoring_linker(db_api, records, model)
    threshold = {"threshold_match_probability": min_probability, "warning_mode": "never"}
    if changed is None:
        predictions = [linker.inference.predict(**threshold).physical_name]
    else:
        is_changed = pc.is_in(records.column("unique_id"), pa.array(sorted(changed), pa.string()))
        new, old = records.filter(is_changed), records.filter(pc.invert(is_changed))
        predictions = []
        if new.num_rows:
            predictions.append(linker.inference.predict_within(db_api.register(new), **threshold).physical_name)
            if old.num_rows:
                predictions.append(linker.inference.predict_between(
                    db_api.register(old), db_api.register(new), **threshold).physical_name)
    pairs = _normalised_pairs(con, predictions)
    con.close()
    return pairs


def score_candidate_pairs(warehouse: duckdb.DuckDBPyConnection, schema: str = "integration", *,
                          model_dir: Path | None = None, full_refresh: bool = False, min_probability: float = 0.5,
                          seed: int = 42, memory_limit: str | None = None) -> ScoredPairs:
    """Score the party records' candidate pairs with the pinned model (trained here when there is none).

    With a pinned model and the previous run's scores in the warehouse, only pairs touching a new or
    changed record are scored (``scoring_cache``); ``full_refresh`` retrains and rescores everything.
    """
    records = warehouse.sql(CANDIDATES_SQL.format(schema=schema)).to_arrow_table()
    spec = model_spec()
    model = None if full_refresh or model_dir is None else load_pinned_model(model_dir, spec, list(TF_COLUMNS))
    mode = "pinned model"
    if model is None:
        model, mode = train_model(records, seed=seed, memory_limit=memory_limit), "trained"
        if model_dir is not None:
            model.save(model_dir)
    model_id = model.model_id
    changed = None if full_refresh else changed_records(warehouse, records, model_id, schema)
    pairs = score_pairs(records, model, changed=changed, min_probability=min_probability, memory_limit=memory_limit)
    pairs = write_scoring_cache(warehouse, records, pairs, model_id, changed, schema)
    return ScoredPairs(pairs=pairs, candidates=records.num_rows, model_json=model.model_json,
                       weights=weights_from_model(model.model_json), mode=mode,
                       rescored_records=records.num_rows if changed is None else len(changed))


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
