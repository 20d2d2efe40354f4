"""The Splink model a run scores with, kept between runs so a daily run need not retrain.

A model is its trained parameters (Splink's JSON) plus the term-frequency tables of the
columns with term-frequency adjustments: a pair's score depends on both. Retraining on a
day's extra records would nudge every parameter and every term frequency, so every pair's
score, and a run would cost the whole history. Instead the model is trained once (first run,
a change of the model's specification, or a full refresh) and pinned in
``<data_dir>/identity/model``, outside the warehouse like people's match decisions, so a
rebuild of the warehouse scores with the same model. With a fixed model a pair's score is a
function of its two records alone, which is what makes incremental scoring exact.
A full refresh retrains: it is how a model change, or an erasure (the term-frequency tables
hold names and emails), reaches the pinned model.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

MODEL_FILE = "splink_model.json"


@dataclass(frozen=True)
class PinnedModel:
    model_json: dict
    term_frequencies: dict[str, pa.Table]  # column → (value, tf_<column>)
    spec: str  # fingerprint of the model's specification (comparisons, blocking, candidate SQL, training)
    saved_id: str | None = None  # model_id as written by save(): computing it took 1.2 s at a million people

    @property
    def model_id(self) -> str:
        """Identifies the parameters and term frequencies, so scores cached with another model are not reused."""
        return self.saved_id or self.computed_id()

    def computed_id(self) -> str:
        """The model id from the parameters and every term frequency (what ``model_id`` is when not saved)."""
        digest = hashlib.sha256(json.dumps(_rounded(_parameters(self.model_json)), sort_keys=True).encode())
        digest.update(self.spec.encode())
        for column in sorted(self.term_frequencies):
            table = self.term_frequencies[column].sort_by([(column, "ascending")])
            digest.update(column.encode())
            for name in table.column_names:
                digest.update(repr(table.column(name).to_pylist()).encode())
        return digest.hexdigest()[:16]

    def save(self, folder: Path) -> None:
        """Write to a fresh folder, then swap it in, so a crash never leaves half a model."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = folder.with_name(folder.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for column, table in self.term_frequencies.items():
            # Uncompressed on purpose: the term frequencies hold names and emails, and erasure finds
            # (and deletes) files holding a person's values by their bytes; deleting one retrains.
            pq.write_table(table, staging / f"tf_{column}.parquet", compression="none")
        (staging / MODEL_FILE).write_text(json.dumps({"spec": self.spec, "model_id": self.computed_id(),
                                                      "model": self.model_json}, indent=2, default=str))
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)


def _parameters(model: dict) -> list:
    """What a score depends on: the prior and every level's m and u (not run-specific keys of the JSON)."""
    return [model.get("probability_two_random_records_match")] + [
        [c.get("output_column_name"), [[level.get("sql_condition"), level.get("m_probability"),
                                        level.get("u_probability"), level.get("tf_adjustment_column"),
                                        level.get("tf_adjustment_weight")] for level in c["comparison_levels"]]]
        for c in model["comparisons"]]


def _rounded(value):
    """Floats to 10 significant digits: EM on the same data differs in the last bits from run to run
    (parallel sums), and two such trainings are the same model for the cache (scores are rounded to 6)."""
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def load_pinned_model(folder: Path, spec: str, tf_columns: list[str]) -> PinnedModel | None:
    """The pinned model, or None when there is none or it was trained for another specification."""
    path = folder / MODEL_FILE
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    if saved.get("spec") != spec or not all((folder / f"tf_{c}.parquet").exists() for c in tf_columns):
        return None
    return PinnedModel(model_json=saved["model"], spec=spec, saved_id=saved.get("model_id"),
                       term_frequencies={c: pq.read_table(folder / f"tf_{c}.parquet") for c in tf_columns})
