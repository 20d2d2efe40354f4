"""The identity asset: exact keys + a Splink model + people's decisions → stable party ids."""


import dagster as dg
from dagster_duckdb import DuckDBResource

from dagster_project.identity.deterministic import MAX_RECORDS_PER_IDENTIFIER
from dagster_project.full_refresh import full_refresh_requested
from dagster_project.identity.model_report import model_parameters_table, weights_markdown, write_model_parameters
from dagster_project.identity.probabilistic import save_model, score_candidate_pairs
from dagster_project.identity.resolve import Thresholds, resolve_parties
from dagster_project.settings import get_settings

_INPUTS = [dg.AssetKey(["integration", "int_party_records"]), dg.AssetKey(["integration", "int_party_identifiers"])]


def _spec(name: str, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(["integration", name], deps=_INPUTS, group_name="integration", kinds={"python", "duckdb"},
                        description=description)


@dg.multi_asset(
    specs=[
        _spec("party_xref", "Every party record and contact point → party_id, with the match probability and "
                            "the rule or model that linked it."),
        _spec("party_identifiers", "Every linking identifier (type, normalised value) → its party_id."),
        _spec("match_review", "Pairs the model is unsure about, side by side, waiting for a person's decision "
                              "(`crm-cif review`)."),
        _spec("match_decisions", "People's link / do-not-link decisions, honoured on every run."),
        _spec("party_merge_log", "Every merge and split of party ids between runs (append-only)."),
        _spec("match_model_parameters", "The Splink model this run scored with (trained on the first run "
                                        "or a full refresh, then pinned): m, u and match weight of every "
                                        "comparison level."),
    ],
    name="party_identity",
)
def party_identity(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    """Resolve every party record to one party: exact keys, a Splink model, then stable ids."""
    settings = get_settings()
    thresholds = Thresholds()
    with duckdb.get_connection() as con:
        full_refresh = full_refresh_requested(duckdb.database, context.run.tags)
        scored = score_candidate_pairs(con, model_dir=settings.data_dir / "identity" / "model",
                                       full_refresh=full_refresh, memory_limit=settings.duckdb_memory_limit)
        stats = resolve_parties(con, scored_pairs=scored.pairs, decisions_path=settings.match_decisions_path,
                                thresholds=thresholds, run_id=context.run.run_id, full=full_refresh)
        write_model_parameters(con, model_parameters_table(scored.weights))
        counts = {name: con.execute(f"select count(*) from integration.{name}").fetchall()[0][0]
                  for name in ("party_xref", "party_identifiers", "match_review", "match_decisions",
                               "party_merge_log", "match_model_parameters")}
    model_path = save_model(scored.model_json, settings.data_dir / "identity" / "models", context.run.run_id)
    context.log.info(f"identity: model {scored.mode}, {scored.rescored_records} of {scored.candidates} candidate "
                     f"records scored; {stats.records} records → {stats.parties} parties {stats.parties_by_type} "
                     f"({stats.mode} resolve: {stats.resolved_records} records clustered); "
                     f"{stats.model_links} model links, {stats.review_queue} pairs to review, ids {stats.ids}")

    def rows(name: str) -> dict:
        return {"dagster/row_count": dg.MetadataValue.int(counts[name])}

    yield dg.MaterializeResult(asset_key=["integration", "party_xref"], metadata={
        **rows("party_xref"),
        "parties": dg.MetadataValue.int(stats.parties),
        "parties_by_type": dg.MetadataValue.json(stats.parties_by_type),
        "largest_party_records": dg.MetadataValue.int(stats.largest_party),
        "model_links": dg.MetadataValue.int(stats.model_links),
        "link_threshold": dg.MetadataValue.float(thresholds.link),
        "ids": dg.MetadataValue.json(stats.ids),
        "resolve": dg.MetadataValue.text(stats.mode),
        "records_clustered": dg.MetadataValue.int(stats.resolved_records),
        "ignored_identifiers": dg.MetadataValue.int(stats.ignored_identifiers),
        "max_records_per_identifier": dg.MetadataValue.int(MAX_RECORDS_PER_IDENTIFIER),
    })
    yield dg.MaterializeResult(asset_key=["integration", "party_identifiers"], metadata=rows("party_identifiers"))
    yield dg.MaterializeResult(asset_key=["integration", "match_review"], metadata={
        **rows("match_review"), "review_band": dg.MetadataValue.text(f"[{thresholds.review}, {thresholds.link})")})
    yield dg.MaterializeResult(asset_key=["integration", "match_decisions"], metadata={
        **rows("match_decisions"), "decisions_file": dg.MetadataValue.path(str(settings.match_decisions_path))})
    yield dg.MaterializeResult(asset_key=["integration", "party_merge_log"], metadata={
        **rows("party_merge_log"), "this_run": dg.MetadataValue.json(stats.ids)})
    yield dg.MaterializeResult(asset_key=["integration", "match_model_parameters"], metadata={
        **rows("match_model_parameters"),
        "candidate_records": dg.MetadataValue.int(scored.candidates),
        "model": dg.MetadataValue.text(scored.mode),
        "rescored_records": dg.MetadataValue.int(scored.rescored_records),
        "scored_pairs": dg.MetadataValue.int(scored.pairs.num_rows),
        "match_weights": dg.MetadataValue.md(weights_markdown(scored.weights)),
        "model_file": dg.MetadataValue.path(str(model_path)),
    })
