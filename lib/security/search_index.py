"""The customer search index: trigrams of every live customer's name, pinyin and company.

Searching 1M customers by scanning their names took 110-160 ms; reading the entries of one gram
takes a few milliseconds (docs/benchmarks.md). The index (table search_grams, migration 0023)
is derived data, so it must follow every write that changes a searched text or whether a
customer is live: each such write calls `refresh` in its own transaction (one place per kind of
write, listed in WRITERS; tests/unit/test_search_index.py fails on a customers write that is in
neither list, and checks the index against a fresh derivation after each kind of write).
`rebuild` re-derives all of it (the demo, `lib.cli search rebuild`), `differences` compares.

The SQL is in lib/core/sql/search_index.sql; the search itself (search_match_page) is read by
lib/dashboards/customers.search, which checks the caller's role. The index holds fragments of
names, so it lives with the privacy code: the erasure deletes a person's entries.
"""

from __future__ import annotations

from collections.abc import Iterable

from lib.core import warehouse
from lib.security import auth

GRAM = 3  # characters per gram (the SQL pads texts with GRAM - 1 chr(1))

# Named statements that write customers, by whether their callers refresh the index.
WRITERS = {
    "rec_insert_customer": "lib/stewardship/records.create",
    "rec_soft_delete": "lib/stewardship/records.set_deleted",
    "rec_restore": "lib/stewardship/records.set_deleted",
    "stw_customer_update": "lib/stewardship/edits (edit and undo)",
    "stw_insert_customers": "lib/stewardship/importer (the new ids' range)",
    "stw_merge_survivor_update": "lib/stewardship/dedup.merge",
    "stw_merge_mark_merged": "lib/stewardship/dedup.merge",
    "stw_merge_restore_customers": "lib/stewardship/dedup.undo_merge",
    "erase_customer_fields": "lib/security/privacy erasure (ERASURE_REGISTRY: search_index_erase)",
}
NOT_SEARCHED = {
    "stw_customer_verify": "sets verified_at",
    "privacy_apply_rotation": "re-encrypts resident ids",
    "infer_registration_dates": "sets registration dates",
    "lifecycle_apply": "sets lifecycle stages",
}


@auth.pii_internal("re-derives index entries inside the caller's checked write; returns nothing")
def refresh(tx: warehouse.Tx, ids: Iterable[int]) -> None:
    """Re-derive the entries of these customers inside the caller's transaction (after its
    write): a new, renamed, deleted, restored, merged or erased customer."""
    ids = sorted({int(i) for i in ids})
    if ids:
        tx.run("search_index_delete_ids", ids=ids)
        tx.run("search_index_insert_ids", ids=ids)


@auth.pii_internal("re-derives index entries inside the caller's checked import; returns nothing")
def refresh_range(tx: warehouse.Tx, lo: int, hi: int) -> None:
    """The same for every customer with an id in [lo, hi] (a batch of imported customers, whose
    ids come from the sequence); the gram counts are recounted too."""
    tx.run("search_index_delete_range", lo=int(lo), hi=int(hi))
    tx.run("search_index_insert_range", lo=int(lo), hi=int(hi))
    _recount(tx)


@auth.pii_internal("derives the whole index inside the caller's transaction; returns nothing")
def rebuild(tx: warehouse.Tx) -> None:
    """The whole index again, sorted by gram, and its gram counts."""
    tx.run("search_index_clear")
    tx.run("search_index_insert_all")
    _recount(tx)


def _recount(tx: warehouse.Tx) -> None:
    tx.run("search_index_clear_counts")
    tx.run("search_index_count_grams")


@auth.pii_internal("compares the index with its source; returns counts and customer ids only")
def differences() -> dict:
    """Entries missing from the index and entries it should not hold (both 0 when in step),
    with up to 20 of the customers concerned."""
    row = warehouse.one("search_index_differences") or {}
    return {
        "missing": int(row.get("missing") or 0),
        "extra": int(row.get("extra") or 0),
        "customers": list(row.get("customers") or []),
    }


def size() -> dict:
    return warehouse.one("search_index_size") or {"entries": 0, "customers": 0}


def grams(needle: str) -> list[str]:
    """The grams of a lower-cased search entry (none for an entry of up to GRAM characters,
    which is looked up as a prefix of the grams)."""
    return [needle[i : i + GRAM] for i in range(len(needle) - GRAM + 1)]
