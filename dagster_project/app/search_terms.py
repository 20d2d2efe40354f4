"""What a service representative types into the search box, understood the way staging stores it.

A caller gives a name, an email or a phone number in whatever form they say it; the warehouse
holds lower-case emails and E.164 phones (macro ``normalize_phone`` in
dbt/macros/staging/cleaning.sql). So the box is read with the same rules, here in Python.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_PHONE_CHARS = re.compile(r"^[0-9+()\-./\s]+$")


def normalize_phone(text: str | None, country_code: str = "234") -> str | None:
    """E.164 like staging's ``normalize_phone``: '0803 123 4567' -> '+2348031234567'; None if not 8-15 digits."""
    if text is None:
        return None
    digits = re.sub(r"[^0-9]", "", text)
    cc = str(country_code)
    if digits.startswith(cc + "0"):
        e164 = cc + digits[len(cc) + 1:]
    elif text.strip().startswith("+"):
        e164 = digits
    elif digits.startswith("00"):
        e164 = digits[2:]
    elif digits.startswith("0") and len(digits) >= 8:
        e164 = cc + digits[1:]
    elif digits.startswith(cc):
        e164 = digits
    elif 7 <= len(digits) <= 10:
        e164 = cc + digits
    else:
        e164 = digits
    return "+" + e164 if 8 <= len(e164) <= 15 else None


def fold(text: str) -> str:
    """Lower case without accents, so 'Adébáyọ̀' is found by 'adebayo'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


@dataclass(frozen=True)
class SearchTerm:
    kind: str  # name | email | phone | party_id | identifier | empty
    value: str  # what to look for, already normalised
    words: tuple[str, ...] = ()  # name words, each of which must appear


def parse_search(text: str | None, country_code: str = "234") -> SearchTerm:
    """Decide whether the box holds a party id, an email, a phone number or a name."""
    raw = (text or "").strip()
    if not raw:
        return SearchTerm("empty", "")
    if re.fullmatch(r"[PHGS][0-9a-f]{16}", raw, flags=re.IGNORECASE):
        return SearchTerm("party_id", raw[0].upper() + raw[1:].lower())
    if "@" in raw:
        return SearchTerm("email", raw.lower())
    if _PHONE_CHARS.match(raw) and sum(ch.isdigit() for ch in raw) >= 5:
        phone = normalize_phone(raw, country_code)
        # Too short for a whole number: look for the digits inside stored numbers instead.
        return SearchTerm("phone", phone or re.sub(r"[^0-9]", "", raw))
    if " " not in raw and any(ch.isdigit() for ch in raw):
        # One token with digits that is no phone: an account number or a source system's key.
        return SearchTerm("identifier", raw)
    words = tuple(w for w in re.split(r"[\s,]+", fold(raw)) if w)
    return SearchTerm("name", " ".join(words), words)
