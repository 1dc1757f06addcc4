"""Finding a complaint by what a call handler has: a name, an address, a postcode, a phone number,
an email address or the reference, typed into one box.

What can be searched is kept in `search_entries` (models.py), written by `index` in the same
transaction as the complaint and removed by `forget` when the complaint is anonymised
(casework/retention.py), so a search never finds personal data that has been erased:

- each word of the resident's and any representative's name, accents and case folded;
- their email addresses (lower case) and phone numbers (digits only, +44 written as 0);
- the resident's postcode (no spaces) and whole address (for words and fragments of it).

Names are typo-tolerant: each word typed is matched, through the database's own trigram index
on `search_terms` (pg_trgm on PostgreSQL, FTS5's trigram tokenizer on SQLite; migration 0015),
against the distinct words of every name, and a word within one edit (two for words of eight
letters or more; a swap of two letters is one edit) or that it begins counts. Only then are the
entries read, through an ordinary index, which also gives the order: the closest first, then the
newest complaint, so a common name is never sorted through the complaints' own rows. Addresses are
matched as typed, anywhere in the address, through the same trigram indexes; emails, phones,
postcodes and references exactly, through ordinary indexes. `bench/search.py` times each at
1,100,000 complaints. Nothing typed into the box is logged, nor put in a URL (the form posts it).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, case, delete, exists, func, insert, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from workflow_app.casework.models import Complaint, Deadline, SearchEntry, SearchTerm, User
from workflow_app.rules.statuses import ComplaintStatus

NAME, EMAIL, PHONE, POSTCODE, ADDRESS, REFERENCE = "name", "email", "phone", "postcode", "address", "reference"
MATCHED = {NAME: "name", EMAIL: "email", PHONE: "phone", POSTCODE: "postcode", ADDRESS: "address",
           REFERENCE: "reference"}
"""What a result was found by, in words for the results page."""
LIMIT = 20
"""Results shown; a search that finds more says so and asks for more of what the caller has."""
MAX_QUERY = 200
"""Characters of a search that are read."""
ADDRESS_CANDIDATES = 1000
"""Addresses read for a fragment, the most recently indexed first: a street or a town can be in tens of thousands
of addresses, and the complaints a caller asks about are the recent ones; a longer fragment narrows it."""
CANDIDATE_TERMS = 200
"""Words of names looked at for one word typed, the nearest (by trigrams) first."""
TEXT_INDEXES = frozenset({"ix_search_terms_trgm", "ix_search_entries_address_trgm"})
"""The trigram indexes migration 0015 makes on PostgreSQL, beside the models' schema."""
FTS_TABLES = ("search_fts_terms", "search_fts_addresses")
"""SQLite's FTS5 tables (with their own shadow tables) that migration 0015 makes, beside the models' schema."""

POSTCODE_PATTERN = re.compile(r"\b([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})\b")
REFERENCE_START = re.compile(r"^[A-Z][A-Z0-9]{0,9}-[0-9]{4}(-[0-9]{0,6})?$")
PHONE_LIKE = re.compile(r"^\+?[0-9][0-9 ()-]{5,}$")


def outside_the_models(name: str | None, type_: str, parent_names: Mapping[str, Any]) -> bool:
    """False for the text-search objects migration 0015 adds beside the models (Alembic's `include_name`), so
    comparing the schema with the models, or autogenerating a migration, leaves them alone."""
    if type_ == "table" and name and name.startswith(FTS_TABLES):
        return False
    return not (type_ == "index" and name in TEXT_INDEXES)


# --- what is indexed ------------------------------------------------------------------------

def name_words(name: str | None) -> list[str]:
    """A name's words as searched: accents dropped, case folded, apostrophes closed up ("O'Brien" -> "obrien"),
    split at anything else that is not a letter or digit."""
    folded = unicodedata.normalize("NFKD", name or "").casefold()
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    folded = re.sub(r"['’`]", "", folded)
    return [w for w in re.split(r"[^\w]+|_", folded) if w][:20]


def phone_digits(phone: str | None) -> str:
    """A UK phone number as digits alone, with +44 (or 0044) written as the 0 it stands for."""
    digits = re.sub(r"\D", "", phone or "")
    if digits.startswith("0044"):
        digits = "0" + digits[4:]
    elif digits.startswith("44") and (phone or "").strip().startswith("+"):
        digits = "0" + digits[2:]
    return digits


def postcode(text_: str | None) -> str | None:
    """The UK postcode in a text, upper case without its space, or None."""
    found = POSTCODE_PATTERN.search((text_ or "").upper())
    return found.group(1) + found.group(2) if found else None


def address_text(address: str | None) -> str:
    """An address as searched: case folded, accents dropped, punctuation and line breaks as single spaces."""
    folded = unicodedata.normalize("NFKD", address or "").casefold()
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(re.split(r"[^\w]+", folded)).strip()


def entries(resident: Mapping[str, Any] | None, representative: Mapping[str, Any] | None) -> set[tuple[str, str]]:
    """What a complaint can be found by, as (kind, value) pairs."""
    found: set[tuple[str, str]] = set()
    for person in (resident or {}, representative or {}):
        found.update((NAME, word) for word in name_words(person.get("name")))
        if person.get("email"):
            found.add((EMAIL, person["email"].strip().lower()[:2000]))
        phone = phone_digits(person.get("phone"))
        if len(phone) >= 6:
            found.add((PHONE, phone))
    address = (resident or {}).get("address")
    code, words = postcode(address), address_text(address)
    if code:
        found.add((POSTCODE, code))
    if words:
        found.add((ADDRESS, words[:2000]))
    return found


def index(session: Session, complaint: Complaint, *, new: bool = False) -> None:
    """Bring the complaint's entries up to date, in the caller's transaction; an anonymised complaint has none.
    A complaint `new` in this transaction has none to forget first."""
    if not new:
        forget(session, complaint.id)
    if complaint.anonymised_at is not None:
        return
    found = entries(complaint.resident, complaint.representative)
    if not found:
        return
    session.connection().execute(_NEW_ENTRIES, [
        {"complaint_id": complaint.id, "kind": kind, "value": value} for kind, value in sorted(found)])
    add_terms(session, {value for kind, value in found if kind == NAME})


_NEW_ENTRIES = insert(SearchEntry.__table__)
"""Built once: every complaint logged writes its entries."""


def add_terms(session: Session, words: Iterable[str]) -> None:
    """Add the words not yet among the terms (another transaction adding the same word at once is harmless)."""
    words = sorted(set(words))
    if not words:
        return
    session.connection().execute(_NEW_TERMS[session.bind.dialect.name], [{"term": w} for w in words])


_NEW_TERMS = {"postgresql": postgresql.insert(SearchTerm.__table__).on_conflict_do_nothing(),
              "sqlite": sqlite.insert(SearchTerm.__table__).on_conflict_do_nothing()}
"""Words added unless there already, built once (every complaint logged adds its resident's)."""


def forget(session: Session, complaint_id: int) -> None:
    """Remove the complaint's entries, and any word of a name that no other complaint's name uses."""
    words = list(session.scalars(select(SearchEntry.value).where(SearchEntry.complaint_id == complaint_id,
                                                                 SearchEntry.kind == NAME)))
    session.execute(delete(SearchEntry).where(SearchEntry.complaint_id == complaint_id))
    for word in words:
        used = exists().where(SearchEntry.kind == NAME, SearchEntry.value == word)
        session.execute(delete(SearchTerm).where(SearchTerm.term == word, ~used))


# --- finding --------------------------------------------------------------------------------

@dataclass
class Found:
    """One complaint found: what the results page shows of it."""

    reference: str
    landlord: str
    resident: str
    stage: str
    status: str
    received_at: datetime
    next_due_at: datetime | None
    """When the complaint's earliest running deadline falls, if it is open and has one."""
    matched: str


@dataclass
class Results:
    query: str
    found: list[Found]
    more: bool
    """More complaints match than are shown."""


def find(session: Session, user: User, typed: str) -> Results:
    """The complaints `user` may see that match what was typed, the closest first, then the newest; at most
    `LIMIT`."""
    query = " ".join((typed or "").split())[:MAX_QUERY]
    hits: dict[int, str] = {}
    for kind, ids in _matches(session, user, query):
        for complaint_id in ids:
            hits.setdefault(complaint_id, kind)
        if len(hits) > LIMIT:
            break
    shown = list(hits)[:LIMIT]
    return Results(query, _described(session, shown, hits), len(hits) > LIMIT)


def _matches(session: Session, user: User, query: str) -> Iterable[tuple[str, list[int]]]:
    """(what matched, complaint ids in order) for each way the query can be read, the most exact first."""
    if not query:
        return
    upper = query.upper().replace(" ", "")
    if REFERENCE_START.match(upper):
        ids = _by_reference(session, user, upper)
        yield REFERENCE, ids
        if ids:
            return
    if "@" in query:
        yield EMAIL, _by_entry(session, user, EMAIL, [query.lower()])
        return
    if PHONE_LIKE.match(query) and len(phone_digits(query)) >= 6:
        yield PHONE, _by_entry(session, user, PHONE, [phone_digits(query)])
        return
    code = postcode(query)
    if code and len(upper) <= 8:
        yield POSTCODE, _by_entry(session, user, POSTCODE, [code])
    words = name_words(query)
    if words and not any(c.isdigit() for word in words for c in word):
        yield NAME, _by_name(session, user, words)
    if len(address_text(query)) >= 3:
        yield ADDRESS, _by_address(session, user, address_text(query))


def _visible(user: User, query: Any, complaint_id: Any = Complaint.id) -> Any:
    """The complaints of the user's landlords: read only when the user does not work for every landlord."""
    if "*" in user.landlords:
        return query
    if complaint_id is not Complaint.id:
        query = query.join(Complaint, Complaint.id == complaint_id)
    return query.where(user.landlords_clause(Complaint.landlord))


def _ordered(query: Any, *first: Any, complaint_id: Any = Complaint.id) -> Any:
    """The newest complaints first (ids are given as complaints are logged); one more than is shown.

    By id, not by received time or status, so the order comes from the index the match was read from: ordering
    17,000 Smiths by a column of the complaints would read each of their rows."""
    return query.order_by(*first, complaint_id.desc()).limit(LIMIT + 1)


def _by_reference(session: Session, user: User, start: str) -> list[int]:
    # A prefix as a range, so the unique index on the reference answers it on every database.
    after = start[:-1] + chr(ord(start[-1]) + 1)
    query = select(Complaint.id).where(Complaint.reference >= start, Complaint.reference < after)
    return list(session.scalars(_ordered(_visible(user, query))))


def _by_entry(session: Session, user: User, kind: str, values: list[str]) -> list[int]:
    query = select(Complaint.id).where(Complaint.id.in_(
        select(SearchEntry.complaint_id).where(SearchEntry.kind == kind, SearchEntry.value.in_(values))))
    return list(session.scalars(_ordered(_visible(user, query))))


def _by_name(session: Session, user: User, words: list[str]) -> list[int]:
    """Complaints with a name word near each word typed, the fewest edits first. The words as typed are tried
    first: when they alone find more than are shown (a common name), the near ones would only come after them."""
    words = words[:6]
    exact = _named(session, user, [{word: 0} for word in words])
    if len(exact) > LIMIT:
        return exact
    return _named(session, user, [near_terms(session, word) for word in words])


def _named(session: Session, user: User, near: list[dict[str, int]]) -> list[int]:
    costs = []
    for n, terms in enumerate(near):
        cost = case(terms, value=SearchEntry.value)
        costs.append(select(SearchEntry.complaint_id.label("complaint_id"), func.min(cost).label("cost"))
                     .where(SearchEntry.kind == NAME, SearchEntry.value.in_(list(terms)))
                     .group_by(SearchEntry.complaint_id).subquery(f"word{n}"))
    query = select(costs[0].c.complaint_id)
    for other in costs[1:]:
        query = query.join(other, other.c.complaint_id == costs[0].c.complaint_id)
    total = sum((c.c.cost for c in costs[1:]), costs[0].c.cost)
    found = _visible(user, query, costs[0].c.complaint_id)
    return list(session.scalars(_ordered(found, total, complaint_id=costs[0].c.complaint_id)))


def _by_address(session: Session, user: User, fragment: str) -> list[int]:
    """Complaints whose address holds the fragment as typed, through the trigram index."""
    if session.bind.dialect.name == "postgresql":
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", fragment) + "%"
        newest = select(SearchEntry.complaint_id).where(SearchEntry.kind == ADDRESS, SearchEntry.value.like(pattern)) \
            .order_by(SearchEntry.id.desc()).limit(ADDRESS_CANDIDATES).subquery()
        matching = select(newest.c.complaint_id)
    else:
        phrase = '"' + fragment.replace('"', '""') + '"'
        rows = text("SELECT rowid FROM search_fts_addresses WHERE search_fts_addresses MATCH :phrase "
                    "ORDER BY rowid DESC LIMIT :limit") \
            .bindparams(phrase=phrase, limit=ADDRESS_CANDIDATES).columns(rowid=Integer).subquery()
        matching = select(SearchEntry.complaint_id).where(SearchEntry.id.in_(select(rows.c.rowid)))
    query = select(Complaint.id).where(Complaint.id.in_(matching))
    return list(session.scalars(_ordered(_visible(user, query))))


def near_terms(session: Session, word: str) -> dict[str, int]:
    """The words of names near `word`, each with its cost: 0 the same, 1 or 2 the edits (or a word it begins)."""
    allowed = edits_allowed(word)
    near = {word: 0}
    if allowed == 0:
        return near
    for term in _candidates(session, word, allowed):
        if term == word:
            continue
        distance = edit_distance(word, term, allowed)
        if distance <= allowed:
            near[term] = distance
        elif term.startswith(word):
            near[term] = 1
    return near


def edits_allowed(word: str) -> int:
    return 0 if len(word) < 3 else 1 if len(word) < 8 else 2


def _candidates(session: Session, word: str, allowed: int) -> list[str]:
    """Words of names sharing trigrams with `word` (and long enough to be near it, or to begin with it)."""
    if session.bind.dialect.name == "postgresql":
        # The nearest by trigrams, read in order from the GiST index (a one-letter slip in a five-letter name leaves
        # about a fifth of its trigrams shared, so no similarity threshold: the edit distance decides).
        query = select(SearchTerm.term).where(func.length(SearchTerm.term) >= len(word) - allowed) \
            .order_by(SearchTerm.term.op("<->")(word)).limit(CANDIDATE_TERMS)
        return list(session.scalars(query))
    padded = f"^{word}$"
    grams = {padded[i:i + 3] for i in range(len(padded) - 2)}
    match = " OR ".join('"' + g.replace('"', '""') + '"' for g in sorted(grams))
    rows = session.execute(text(
        "SELECT t.term FROM search_fts_terms f JOIN search_terms t ON t.id = f.rowid "
        "WHERE search_fts_terms MATCH :match AND length(t.term) >= :shortest ORDER BY f.rank LIMIT :limit"),
        {"match": match, "shortest": len(word) - allowed, "limit": CANDIDATE_TERMS})
    return [row[0] for row in rows]


def edit_distance(a: str, b: str, most: int) -> int:
    """Edits (insert, delete, change, or swap two neighbouring letters) from a to b; `most + 1` once past `most`.

    Only the cells within `most` of the diagonal are worked out: any path outside them costs more."""
    if abs(len(a) - len(b)) > most:
        return most + 1
    far = most + 1
    previous2: list[int] = []
    previous = [j if j <= most else far for j in range(len(b) + 1)]
    for i in range(1, len(a) + 1):
        row = [far] * (len(b) + 1)
        if i <= most:
            row[0] = i
        ca = a[i - 1]
        best = row[0]
        for j in range(max(1, i - most), min(len(b), i + most) + 1):
            cb = b[j - 1]
            cost = previous[j - 1] + (ca != cb)
            if previous[j] + 1 < cost:
                cost = previous[j] + 1
            if row[j - 1] + 1 < cost:
                cost = row[j - 1] + 1
            if previous2 and j > 1 and ca == b[j - 2] and a[i - 2] == cb and previous2[j - 2] + 1 < cost:
                cost = previous2[j - 2] + 1
            row[j] = cost if cost < far else far
            if row[j] < best:
                best = row[j]
        if best > most:
            return far
        previous2, previous = previous, row
    return previous[-1] if previous[-1] <= most else far


def _described(session: Session, ids: list[int], matched: Mapping[int, str]) -> list[Found]:
    if not ids:
        return []
    complaints = {c.id: c for c in session.scalars(select(Complaint).where(Complaint.id.in_(ids)))}
    running = and_(Deadline.complaint_id.in_(ids), or_(*Deadline.running_clauses()))
    next_due = dict(session.execute(select(Deadline.complaint_id, func.min(Deadline.due_at))
                                    .where(running).group_by(Deadline.complaint_id)).all())
    return [Found(c.reference, c.landlord, (c.resident or {}).get("name", ""), c.stage, c.status, c.received_at,
                  next_due.get(c.id) if c.status == ComplaintStatus.OPEN else None, matched[c.id])
            for c in (complaints[i] for i in ids)]
