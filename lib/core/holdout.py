"""The control group of a campaign: random, reproducible, unbiased (issue #18).

Each member gets a rank key SHA-256("<campaign_id>:<customer_id>") (the first 8 bytes as an
unsigned integer): a keyed shuffle that needs no stored seed. The members with the smallest
keys form the control group, exactly round(share x members) of them (at least one when the
share is positive and there are two members or more). Because SHA-256 output is uniform and
unrelated to the customer's data, every member has the same chance to be held out, whatever
their value, age or history; the same campaign and members always give the same group, and
another campaign shuffles the same customers differently.

Plain Python so that both lib/marketing (at launch) and the demo generator use it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

DEFAULT_SHARE = 0.10


def rank_key(campaign_id: int, customer_id: int) -> int:
    digest = hashlib.sha256(f"{int(campaign_id)}:{int(customer_id)}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def control_size(members: int, share: float) -> int:
    if members <= 0 or share <= 0:
        return 0
    size = int(round(members * share + 1e-9))
    if members >= 2:
        size = max(size, 1)
    return min(size, members - 1) if members >= 2 else 0


def control_ids(campaign_id: int, customer_ids: Iterable[int], share: float = DEFAULT_SHARE) -> set[int]:
    """The members kept out of the campaign (the control group)."""
    ids = sorted({int(i) for i in customer_ids})
    ranked = sorted(ids, key=lambda cid: (rank_key(campaign_id, cid), cid))
    return set(ranked[: control_size(len(ids), share)])
