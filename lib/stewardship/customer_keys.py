"""Which customer an imported row names (orders, events, feedback, consents, interactions).

A row names its customer by the customer's key in the customer source (`customer_key`), or,
as shops and marketing tools export them, by the customer's email: a key that is no customer
key of the source but holds an "@" finds the live customer of that source with that address,
in any letter case. Merged records lead to the survivor; deleted ones are not found. An email
two customers of the source share names nobody (`customer_key.ambiguous`).
"""

from __future__ import annotations

import pandas as pd

from lib.core import warehouse
from lib.security import auth

# Header names of the column that names the customer, in every kind that has one: its key in
# the customer source first, then the email (a mapping prefers the earlier name).
HEADER_NAMES = (
    "customer_key",
    "customer_id",
    "customerid",
    "member_id",
    "客户编号",
    "会员编号",
    "客户id",
    "email",
    "email_address",
    "customer_email",
    "buyer_email",
    "邮箱",
    "客户邮箱",
)

UNKNOWN = "customer_key.unknown"
AMBIGUOUS = "customer_key.ambiguous"


@auth.pii_internal("matches keys and emails inside an import's transaction; returns customer ids only")
def resolve(tx: warehouse.Tx, row_nos, keys: pd.Series, source: str) -> tuple[pd.Series, dict[int, str]]:
    """(customer id per row number, NaN where none; {row number: failure code} of those)."""
    row_nos = pd.Index(row_nos, dtype="int64")
    tx.register("stw_keys", pd.DataFrame({"row_no": row_nos, "k": keys.astype("string").to_numpy()}))
    try:
        by_key = tx.df("stw_resolve_customer_keys", source=source)
        by_email = tx.df("stw_resolve_customer_emails", source=source)
    finally:
        tx.unregister("stw_keys")
    ids = pd.Series(by_key["customer_id"].to_numpy(), index=by_key["row_no"].to_numpy(), dtype="float64")
    ids = ids.reindex(row_nos)
    by_email = by_email[~by_email["row_no"].isin(by_key["row_no"])].set_index("row_no")
    single = by_email.index[by_email["n"] == 1]
    if len(single):
        ids.loc[single] = by_email.loc[single, "customer_id"].to_numpy(dtype="float64")
    shared = set(by_email.index[by_email["n"] > 1].tolist())
    codes = {int(r): AMBIGUOUS if r in shared else UNKNOWN for r in ids.index[ids.isna()]}
    return ids, codes
