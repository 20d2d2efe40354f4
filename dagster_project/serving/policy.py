"""The access policy (access_policy.yml): what each access level sees of each kind of personal data.

Each action exists twice: as a SQL expression (the publish step runs it inside DuckDB, so a
million-row table never passes through Python) and as a Python function that says the same in
plain code; the tests hold the two to exact equal values.
"""

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

ACCESS_POLICY = Path(__file__).with_name("access_policy.yml")
ACTIONS = ("keep", "pseudonymise", "mask", "generalise", "drop")
GENERALISABLE = ("date_of_birth", "postcode")
TOKEN_PREFIX = "tok_"
TOKEN_PATTERN = r"^tok_[0-9a-f]{16}$"
_WHITESPACE = re.compile(r"[\t\n\f\r ]+")  # what RE2's \s matches, so Python and DuckDB agree


@dataclass(frozen=True)
class LevelPolicy:
    level: str
    kinds: Mapping[str, str]        # pii_kind -> action
    unclassified_personal: str      # keep | drop

    @property
    def keeps_everything(self) -> bool:
        """Every kind of personal data kept as it is: this level may hold what any other level holds."""
        return self.unclassified_personal == "keep" and all(a == "keep" for a in self.kinds.values())

    def action(self, kind: str) -> str:
        if kind not in self.kinds:
            raise KeyError(f"access level {self.level!r} has no rule for personal data of kind {kind!r}")
        return self.kinds[kind]


def load_policy(path: Path = ACCESS_POLICY) -> dict[str, LevelPolicy]:
    """Every level of the policy file, checked: known actions, generalise only where defined."""
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    levels = {}
    for level, spec in document["levels"].items():
        kinds = dict(spec["kinds"])
        for kind, action in kinds.items():
            if action not in ACTIONS:
                raise ValueError(f"{level}.{kind}: unknown action {action!r} (one of {ACTIONS})")
            if action == "generalise" and kind not in GENERALISABLE:
                raise ValueError(f"{level}.{kind}: generalise is defined for {GENERALISABLE} only")
        unclassified = spec.get("unclassified_personal", "drop")
        if unclassified not in ("keep", "drop"):
            raise ValueError(f"{level}: unclassified_personal must be keep or drop")
        levels[level] = LevelPolicy(level=level, kinds=kinds, unclassified_personal=unclassified)
    kinds = [set(p.kinds) for p in levels.values()]
    if any(k != kinds[0] for k in kinds):
        raise ValueError("every access level must name the same pii kinds")
    return levels


# --- Python reference implementations ---------------------------------------------------------

def normalise(value) -> str | None:
    """Lower case, whitespace runs collapsed to one space, trimmed; '' counts as no value."""
    if value is None:
        return None
    text = _WHITESPACE.sub(" ", str(value)).strip(" ").lower()
    return text or None


def token(value, salt: str) -> str | None:
    """The stable pseudonym of a value: equal after normalising -> equal token, in any column."""
    text = normalise(value)
    if text is None:
        return None
    return TOKEN_PREFIX + hashlib.sha256((salt + text).encode("utf-8")).hexdigest()[:16]


def mask(value, kind: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return None
    if kind == "email":
        at = value.find("@")
        return value[0] + "***" + value[at:] if at > 0 else "***"
    if kind == "phone":
        return value[:4] + "*" * (len(value) - 6) + value[-2:] if len(value) > 6 else "*" * len(value)
    if kind == "name":
        return value[0] + "***" if value else value
    return "***"


# --- SQL --------------------------------------------------------------------------------------

def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def normalise_sql(column_sql: str) -> str:
    collapsed = f"regexp_replace(cast({column_sql} as varchar), '[\\t\\n\\f\\r ]+', ' ', 'g')"
    return f"nullif(lower(trim({collapsed})), '')"


def token_sql(column_sql: str, salt: str) -> str:
    return f"({literal(TOKEN_PREFIX)} || substr(sha256({literal(salt)} || {normalise_sql(column_sql)}), 1, 16))"


def _is_text(sql_type: str) -> bool:
    return sql_type.upper() in ("VARCHAR", "TEXT", "STRING") or sql_type.upper().startswith("VARCHAR")


def mask_sql(column_sql: str, kind: str, sql_type: str) -> str:
    c = column_sql
    if not _is_text(sql_type):
        return "cast(null as varchar)"
    if kind == "email":
        return (f"case when {c} is null then null when strpos({c}, '@') > 1 "
                f"then left({c}, 1) || '***' || substr({c}, strpos({c}, '@')) else '***' end")
    if kind == "phone":
        return (f"case when {c} is null then null when length({c}) > 6 "
                f"then left({c}, 4) || repeat('*', length({c}) - 6) || right({c}, 2) else repeat('*', length({c})) end")
    if kind == "name":
        return f"case when {c} is null or {c} = '' then {c} else left({c}, 1) || '***' end"
    return f"case when {c} is null then null else '***' end"


def generalised_name(column: str, kind: str) -> str:
    if kind == "date_of_birth":
        return "birth_year" if column == "date_of_birth" else f"{column}_year"
    return column


def generalise_sql(column_sql: str, kind: str) -> str:
    if kind == "date_of_birth":
        return f"cast(year(cast({column_sql} as date)) as integer)"
    if kind == "postcode":
        return f"nullif(left(trim(cast({column_sql} as varchar)), 3), '')"
    raise ValueError(f"no generalisation for {kind!r}")


def column_select(column: str, sql_type: str, kind: str | None, action: str, salt: str) -> str | None:
    """The select-list item for one column under one action (None = leave the column out)."""
    c = quote(column)
    if action == "keep":
        return c
    if action == "drop":
        return None
    if action == "pseudonymise":
        return f"{token_sql(c, salt)} as {c}"
    if action == "mask":
        return f"{mask_sql(c, kind, sql_type)} as {c}"
    if action == "generalise":
        return f"{generalise_sql(c, kind)} as {quote(generalised_name(column, kind))}"
    raise ValueError(f"unknown action {action!r}")
