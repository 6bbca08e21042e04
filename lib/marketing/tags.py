"""Customer tags: add/remove for one customer or in bulk for a segment; counts; all audited.

A tag is a short label (1-40 characters: letters of any script, digits, space, - _ . :).
Bulk changes are one set-based statement over the segment's members and one audit entry
with the segment definition and the number of customers changed. Tags live in their own
table, so tagging does not bump customers.version (it cannot clash with a steward's edit).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pandas as pd

from lib.security import audit, auth
from lib.core import settings, warehouse, errors
from lib.marketing.queries import compose
from lib.marketing import segments

TAG_RE = re.compile(r"^[\w\-.: ]{1,40}$", re.UNICODE)


class TagError(errors.ValidationError):
    """A tag or customer that cannot be accepted (message meant for people)."""


def clean_tag(tag: Any) -> str:
    if not isinstance(tag, str):
        raise TagError("A tag must be text.")
    tag = " ".join(tag.split()).lower()
    if not TAG_RE.match(tag):
        raise TagError("Tags are 1-40 characters: letters, digits, spaces and - _ . :")
    return tag


def counts() -> pd.DataFrame:
    """Every tag with the number of live customers carrying it."""
    return warehouse.read("tag_counts")


def of_customer(customer_id: int) -> list[str]:
    return warehouse.read("tags_of_customer", customer_id=int(customer_id))["tag"].tolist()


def _live_customer(tx: warehouse.Tx, customer_id: int) -> dict:
    row = tx.one("customer_brief", customer_id=int(customer_id))
    if row is None or row["merged_into"] is not None or row["deleted_at"] is not None or row["erased_at"] is not None:
        raise TagError(f"No live customer with id {customer_id}.")
    return row


@warehouse.retrying
@auth.pii_internal("checks the customer exists and is live; returns whether a tag was added")
def add(user: auth.User, customer_id: int, tag: str) -> bool:
    """Tag one customer; False when the tag was already there."""
    auth.require(user, "manage_tags")
    tag = clean_tag(tag)
    with warehouse.transaction() as tx:
        _live_customer(tx, customer_id)
        had = tag in tx.df("tags_of_customer", customer_id=int(customer_id))["tag"].tolist()
        if had:
            return False
        tx.run("tag_add", customer_id=int(customer_id), tag=tag, username=user.username)
        audit.record(tx, user, "tag.add", "customer", customer_id, after={"tag": tag})
    return True


@warehouse.retrying
def remove(user: auth.User, customer_id: int, tag: str) -> bool:
    """Untag one customer; False when the customer did not carry the tag."""
    auth.require(user, "manage_tags")
    tag = clean_tag(tag)
    with warehouse.transaction() as tx:
        had = tag in tx.df("tags_of_customer", customer_id=int(customer_id))["tag"].tolist()
        if not had:
            return False
        tx.run("tag_remove", customer_id=int(customer_id), tag=tag)
        audit.record(tx, user, "tag.remove", "customer", customer_id, before={"tag": tag})
    return True


def bulk_add(user: auth.User, segment: Any, tag: str, as_of: date | None = None) -> int:
    """Tag every member of a segment (saved name or definition); returns customers newly tagged."""
    return _bulk(user, segment, tag, as_of, remove=False)


def bulk_remove(user: auth.User, segment: Any, tag: str, as_of: date | None = None) -> int:
    """Remove a tag from every member of a segment; returns customers untagged."""
    return _bulk(user, segment, tag, as_of, remove=True)


@warehouse.retrying
def _bulk(user: auth.User, segment: Any, tag: str, as_of: date | None, *, remove: bool) -> int:
    auth.require(user, "manage_tags")
    tag = clean_tag(tag)
    name, definition = segments.resolve(segment)
    compiled = segments.compile(definition)
    extra = {"segment_filter": compiled.sql}
    params = dict(compiled.params, as_of=as_of or settings.as_of(), tag=tag)
    with warehouse.transaction() as tx:
        if remove:
            changed = int(tx.scalar(compose("tags_bulk_tagged", extra), **params))
            tx.run(compose("tags_bulk_remove", extra), **params)
        else:
            changed = int(tx.scalar(compose("tags_bulk_pending", extra), **params))
            tx.run(compose("tags_bulk_add", extra), username=user.username, **params)
        audit.record(
            tx,
            user,
            "tag.bulk_remove" if remove else "tag.bulk_add",
            "segment",
            name,
            detail={
                "tag": tag,
                "customers": changed,
                "segment": name,
                "definition": definition,
                "description": segments.describe(definition),
            },
        )
    return changed
