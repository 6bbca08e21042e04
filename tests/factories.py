"""Tiny builders for hand-computable fixture warehouses (one row at a time, explicit values)."""

from __future__ import annotations

from datetime import datetime
from itertools import count

from lib.core import warehouse
from lib.security import search_index

_ids = count(1)


def customer(tx: warehouse.Tx, customer_id: int, **fields) -> int:
    row = {
        "customer_id": customer_id,
        "source": "test",
        "source_record_id": f"T{customer_id}",
        "family_name": "张",
        "given_name": "三",
        "full_name": "张三",
        "name_pinyin": "zhang san|zs|zhangsan",
        "gender": "M",
        "birth_date": None,
        "mobile": None,
        "email": None,
        "country": "CN",
        "province": "广东省",
        "city": "深圳市",
        "customer_type": "B2C",
        "channel": "web",
        "registered_at": datetime(2024, 1, 1),
        "updated_at": datetime(2024, 1, 1),
        "lifecycle_stage": None,
        "version": 1,
    }
    row.update(fields)
    cols = ", ".join(row)
    binds = ", ".join(f":{c}" for c in row)
    tx.run(f"INSERT INTO customers ({cols}) VALUES ({binds})", **row)
    search_index.refresh(tx, [customer_id])  # as every lib/ path that writes customers
    _keep_sequence_ahead(tx, "customer_id_seq", customer_id)
    return customer_id


def _keep_sequence_ahead(tx: warehouse.Tx, sequence: str, used_id: int) -> None:
    """Explicit fixture ids must not be handed out again by the loaders' nextval()."""
    last = tx.scalar("SELECT coalesce(last_value, 0) FROM duckdb_sequences() WHERE sequence_name = :s", s=sequence)
    if last is not None and used_id > last:
        tx.scalar(f"SELECT max(nextval('{sequence}')) FROM range({int(used_id - last)})")


def order(
    tx: warehouse.Tx,
    customer_id: int,
    when: datetime,
    amount: float,
    *,
    status: str = "paid",
    refund: float = 0.0,
    channel: str = "web",
    category: str = "apparel",
    order_id: int | None = None,
    with_event: bool = True,
) -> int:
    order_id = order_id or next(_ids) + 1_000_000
    tx.run(
        "INSERT INTO orders (order_id, customer_id, source, source_record_id, order_time, status,"
        " amount, refund_amount, channel, category) VALUES (:oid, :cid, 'test', :srid, :t, :s,"
        " :a, :r, :ch, :cat)",
        oid=order_id,
        cid=customer_id,
        srid=f"O{order_id}",
        t=when,
        s=status,
        a=amount,
        r=refund,
        ch=channel,
        cat=category,
    )
    if with_event:
        event(tx, customer_id, "purchase", when, amount=amount, order_id=order_id, channel=channel, category=category)
    return order_id


def event(
    tx: warehouse.Tx,
    customer_id: int,
    event_type: str,
    when: datetime,
    *,
    amount: float | None = None,
    order_id: int | None = None,
    channel: str = "web",
    category: str | None = None,
    note: str | None = None,
) -> int:
    event_id = next(_ids) + 5_000_000
    tx.run(
        "INSERT INTO events (event_id, customer_id, event_type, event_time, channel, category,"
        " amount, order_id, source, note) VALUES (:eid, :cid, :et, :t, :ch, :cat, :a, :oid,"
        " 'test', :note)",
        eid=event_id,
        cid=customer_id,
        et=event_type,
        t=when,
        ch=channel,
        cat=category,
        a=amount,
        oid=order_id,
        note=note,
    )
    return event_id


def consent(
    tx: warehouse.Tx,
    customer_id: int,
    channel: str,
    status: str = "granted",
    when: datetime = datetime(2024, 1, 1),
    source: str = "test",
) -> None:
    tx.run(
        "INSERT INTO consents (customer_id, channel, status, source, recorded_at) VALUES (:cid, :ch, :st, :src, :t)",
        cid=customer_id,
        ch=channel,
        st=status,
        src=source,
        t=when,
    )


def tag(tx: warehouse.Tx, customer_id: int, name: str, by: str = "test") -> None:
    tx.run("INSERT INTO tags (customer_id, tag, created_by) VALUES (:cid, :tag, :by)", cid=customer_id, tag=name, by=by)
