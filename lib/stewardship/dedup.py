"""Duplicate customers: splink (DuckDB backend) candidates, merges with survivorship, undo.

Matching runs in a private in-memory DuckDB: the live customers' matching columns are copied
there as Arrow (not pandas), splink creates its work tables there, and only the scored pairs
(and clusters) come back to the warehouse. The warehouse file never holds splink's tables.

Model (unsupervised): u probabilities by random sampling, m probabilities by EM over two
blocking passes (same mobile; same pinyin name + birth date), the prior from deterministic
rules. Chinese names are compared on three levels: the same characters after Traditional ->
Simplified conversion (opencc), the same pinyin (homophones, Traditional spellings), then
Jaro-Winkler on pinyin (typos in Latin names). The trained model is stored with its run and
reused to match new imports incrementally (`match_new`: new x existing, new x new).

A merge keeps one survivor: per field the steward's choice, by default the most recent valid
value; orders, events, consents and tags move to the survivor; the other record gets
`merged_into`. Everything the merge changed is stored (typed row snapshots and the ids of the
rows that moved), so `undo_merge` restores every row exactly.
"""

from __future__ import annotations

from pathlib import Path
import json
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from lib.security import audit, auth, privacy, search_index
from lib.core import errors, hooks, validation, warehouse
from lib.stewardship import edits, match_model
from lib.stewardship.edits import StaleRecordError

log = logging.getLogger(__name__)

CANDIDATE_THRESHOLD = 0.5  # pairs stored for review
CLUSTER_THRESHOLD = 0.9  # clusters (and the precision/recall figures) use this cut
U_PAIRS = 1e6  # random pairs for u (a field's rare levels are floored anyway)
SEED = 42


class NoModel(errors.NotFoundError):
    """No duplicate model has been trained yet (run a full `dedup run` first)."""


class MergeError(errors.ValidationError):
    """A merge or undo that cannot be done as asked, for people to read."""


# ---------------------------------------------------------------- splink model

FIELD_LABELS = match_model.FIELD_LABELS
M_FLOOR = match_model.M_FLOOR
_regularise = match_model.regularise
_levels = match_model.levels


def _connection():
    return warehouse.scratch()


MAX_SHARED = 20  # a phone/email/ID/address on more records than this is a placeholder, not a person's
# The identifying keys a placeholder value is looked for in (the only names spliced into that SQL).
SHARED_KEY_COLUMNS = ("mobile_key", "email_norm", "id_hash", "address_n")


def _export_input(con, only_ids: list[int] | None = None) -> int:
    """Copy the matching columns of live customers into the private DuckDB as `dedup_input`,
    with the name keys of `match_model.name_columns`. Values of a contact/ID/address field that
    more than MAX_SHARED records share (a shop's phone, 11111111111) are left out of matching."""
    table = warehouse.arrow("stw_dedup_input")
    con.register("stw_input_arrow", table)
    con.execute("CREATE OR REPLACE TEMP TABLE stw_input AS SELECT * FROM stw_input_arrow")
    con.unregister("stw_input_arrow")
    raw_ids = [r[0] for r in con.execute("SELECT DISTINCT raw_id FROM stw_input WHERE raw_id IS NOT NULL").fetchall()]
    if raw_ids:
        from lib.security import privacy

        con.register("stw_raw_ids", pd.DataFrame({"raw_id": raw_ids, "h": privacy.id_hash_many(raw_ids)}))
        con.execute(
            "UPDATE stw_input SET id_hash = r.h FROM stw_raw_ids r "
            "WHERE stw_input.raw_id = r.raw_id AND stw_input.id_hash IS NULL"
        )
        con.unregister("stw_raw_ids")
    match_model.name_columns(con, "stw_input")
    # the placeholders per field by a hash aggregate (four window partitions over 1M rows took
    # ~4 s of the export), then left out with an anti-join. Column names come from
    # SHARED_KEY_COLUMNS (no user input), in the private scratch database.
    shared = {}
    for c in SHARED_KEY_COLUMNS:  # names from the whitelist only; the threshold is bound
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE stw_shared_{c} AS SELECT {c} AS v FROM stw_input "
            f"WHERE {c} IS NOT NULL GROUP BY {c} HAVING count(*) > ?",
            [MAX_SHARED],
        )
        shared[c] = f"CASE WHEN i.{c} IN (SELECT v FROM stw_shared_{c}) THEN NULL ELSE i.{c} END"
    con.execute(
        f"CREATE OR REPLACE TABLE dedup_input AS SELECT *, {match_model.HOUSEHOLD_COPIES} "
        "FROM (SELECT i.unique_id, n.name_s, n.py, n.fam, n.giv, n.name_key, n.name_fz, n.cjk, "
        f"{shared['mobile_key']} AS mobile_key, {shared['email_norm']} AS email_norm, "
        f"i.birth_date, {shared['address_n']} AS address_n, i.postcode, i.city, "
        f"{shared['id_hash']} AS id_hash "
        "FROM stw_input i JOIN stw_input_names n USING (unique_id))"
    )
    con.execute("DROP TABLE stw_input")
    con.execute("DROP TABLE stw_input_names")
    for c in shared:
        con.execute(f"DROP TABLE stw_shared_{c}")
    return con.execute("SELECT count(*) FROM dedup_input").fetchone()[0]


def _agreement(frame: pd.DataFrame, levels: dict[str, list[tuple[int, str, float]]]) -> list[str]:
    """Per pair and field: the level reached (label) and its match weight, from splink's
    per-comparison weights (mw_<field>)."""
    cols = [c for c in levels if f"mw_{c}" in frame.columns]
    weights = {c: frame[f"mw_{c}"].to_numpy() for c in cols}
    out = []
    for i in range(len(frame)):
        rec = {}
        for c in cols:
            w = float(weights[c][i])
            gamma, label, _ = min(levels[c], key=lambda lv: abs(lv[2] - w))
            rec[FIELD_LABELS.get(c, c)] = {"level": gamma, "label": label, "weight": round(w, 2)}
        out.append(json.dumps(rec, ensure_ascii=False))
    return out


def _pairs_frame(con, sdf, labels) -> pd.DataFrame:
    rel = con.table(sdf.physical_name)
    cols = ["unique_id_l", "unique_id_r", "match_probability", "match_weight"] + [f"mw_{c}" for c in labels]
    frame = rel.select(*[c for c in cols if c in rel.columns]).df()
    if frame.empty:
        return pd.DataFrame(columns=["id_l", "id_r", "match_probability", "match_weight", "agreement"])
    lo = frame[["unique_id_l", "unique_id_r"]].min(axis=1).astype("int64")
    hi = frame[["unique_id_l", "unique_id_r"]].max(axis=1).astype("int64")
    out = pd.DataFrame(
        {
            "id_l": lo,
            "id_r": hi,
            "match_probability": frame["match_probability"].astype(float),
            "match_weight": frame["match_weight"].astype(float),
            "agreement": _agreement(frame, labels),
        }
    )
    return out.drop_duplicates(["id_l", "id_r"])


_linker_seq = iter(range(1, 1_000_000))


def _relinked(db_api, model: dict):
    """A fresh Linker over dedup_input with the given (regularised) model."""
    from splink import Linker

    sdf = db_api.register("dedup_input", table_name=f"dedup_input_{next(_linker_seq)}")
    return Linker(sdf, model, log_level=logging.WARNING)


def _em(linker, db_api, blocking_rule):
    """One EM session, between regularised models. Returns (linker, trained?).

    Flooring m before the session matters: an m of exactly 0 learnt in an earlier session
    (the demo's duplicates copy addresses verbatim) gives every non-matching pair a match
    probability of exactly 0, and the next session then derives m = 0 for other levels, which
    splink 5 refuses (ValueError). A session that still fails is discarded: the linker is
    rebuilt from the model as it was before it (a failed session leaves splink's settings
    half-changed)."""
    before = _regularise(linker.misc.save_model_to_json())
    linker = _relinked(db_api, before)
    try:
        linker.training.estimate_parameters_using_expectation_maximisation(
            blocking_rule, estimate_without_term_frequencies=True
        )
    except ValueError as exc:
        if "probability" not in str(exc):
            raise
        log.warning("EM session %s discarded: %s", blocking_rule, exc)
        return _relinked(db_api, before), False
    return _relinked(db_api, _regularise(linker.misc.save_model_to_json())), True


@dataclass
class DedupResult:
    run_id: int
    records: int
    pairs: int
    new_pairs: int
    clusters: int
    seconds: float


@auth.pii_internal("trains the matcher on live customers; returns counts only")
def run(user: auth.User, threshold: float = CANDIDATE_THRESHOLD, max_pairs_u: float | None = None) -> DedupResult:
    """Train the model on all live customers, score candidate pairs, store them and clusters.

    Comparisons, blocking rules, the prior and the EM sessions are derived from the fields the
    customers actually have (`match_model.plan`); a missing field is left out, never an error."""
    auth.require(user, "merge_customers")
    from splink import DuckDBAPI, Linker, block_on

    started = time.perf_counter()
    con = _connection()
    n = _export_input(con)
    if n < 2:
        raise MergeError("There are fewer than two live customers to compare.")
    timings = {"export": time.perf_counter() - started}
    plan = match_model.plan(con)
    timings["plan"] = time.perf_counter() - started
    if not plan.present:
        raise MergeError(
            "No customer has a name, birth date, address, postcode, phone, email or "
            "ID number: there is nothing to match on."
        )
    log.info("dedup plan: %s", plan.as_dict())
    db_api = DuckDBAPI(connection=con)
    sdf = db_api.register("dedup_input")
    linker = Linker(sdf, match_model.settings(plan), log_level=logging.WARNING)
    if plan.prior_rules:
        linker.training.estimate_probability_two_random_records_match(
            [block_on(*r) for r in plan.prior_rules], recall=0.8
        )
    timings["prior"] = time.perf_counter() - started
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs_u or U_PAIRS, seed=SEED)
    timings["u"] = time.perf_counter() - started
    trained = [_em(linker, db_api, block_on(*r)) for r in plan.em_rules[:1]]
    if trained:
        linker = trained[0][0]
    for r in plan.em_rules[1:]:
        linker, ok = _em(linker, db_api, block_on(*r))
        trained.append((linker, ok))
    if not any(ok for _, ok in trained):
        log.warning("EM could not train any m probability; using splink's defaults, floored")
    timings["em"] = time.perf_counter() - started
    model = _regularise(match_model.unmix_u(_regularise(linker.misc.save_model_to_json())))
    linker = _relinked(db_api, model)
    predictions = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
    timings["predict"] = time.perf_counter() - started
    labels = _levels(model)
    pairs = _pairs_frame(con, predictions, labels)
    timings["pairs"] = time.perf_counter() - started
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=CLUSTER_THRESHOLD
    )
    crel = con.table(clusters.physical_name).set_alias("members")
    sizes = crel.aggregate("cluster_id, count(*) AS n", "cluster_id").filter("n > 1").set_alias("sizes")
    multi = crel.join(sizes, "cluster_id").select("members.cluster_id", "members.unique_id").df()
    cluster_frame = pd.DataFrame({"customer_id": multi["unique_id"].astype("int64")})
    cluster_frame["cluster_id"] = multi.groupby("cluster_id")["unique_id"].transform("min").astype("int64").to_numpy()
    con.close()
    timings["cluster"] = time.perf_counter() - started
    model["c360_plan"] = {**plan.as_dict(), "seconds_since_start": {k: round(v, 1) for k, v in timings.items()}}
    return _store(user, "full", threshold, n, pairs, cluster_frame, model, started)


@warehouse.retrying
def _store(user, mode, threshold, n, pairs, clusters, model, started) -> DedupResult:
    with warehouse.transaction() as tx:
        run_id = int(tx.scalar("stw_dedup_run_start", username=user.username, mode=mode, threshold=threshold))
        before = int(tx.scalar("stw_dedup_candidates_total"))
        tx.register("stw_pairs", pairs)
        try:
            tx.run("stw_dedup_refresh_open_pairs", run_id=run_id)
            tx.run("stw_dedup_insert_pairs", run_id=run_id)
        finally:
            tx.unregister("stw_pairs")
        new_pairs = int(tx.scalar("stw_dedup_candidates_total")) - before
        if clusters is not None and not clusters.empty:
            tx.register("stw_clusters", clusters)
            try:
                tx.run("stw_dedup_insert_clusters", run_id=run_id)
            finally:
                tx.unregister("stw_clusters")
        seconds = time.perf_counter() - started
        tx.run(
            "stw_dedup_run_finish",
            run_id=run_id,
            records=n,
            pairs=len(pairs),
            model=json.dumps(model) if model is not None else None,
            seconds=seconds,
        )
        audit.record(
            tx,
            user,
            f"dedup.{mode}",
            "dedup_run",
            run_id,
            detail={"records": n, "pairs": len(pairs), "new_pairs": new_pairs},
        )
    n_clusters = 0 if clusters is None or clusters.empty else clusters["cluster_id"].nunique()
    return DedupResult(run_id, n, len(pairs), new_pairs, n_clusters, seconds)


@auth.pii_internal("scores new customers with the stored model; returns a count")
def match_new(user: auth.User, new_ids: list[int], threshold: float = CANDIDATE_THRESHOLD) -> int:
    """Score newly imported customers against existing ones (and each other) with the stored
    model; returns the number of new candidate pairs."""
    auth.require(user, "merge_customers")
    from splink import DuckDBAPI, Linker

    latest = warehouse.one("stw_dedup_latest_model")
    if latest is None:
        raise NoModel("No duplicate model yet: run `python -m lib.cli dedup run` once.")
    if not new_ids:
        return 0
    started = time.perf_counter()
    model = json.loads(latest["model"])
    model.pop("c360_plan", None)
    con = _connection()
    n = _export_input(con)
    con.register("stw_new_ids", pd.DataFrame({"unique_id": pd.Series(new_ids, dtype="int64")}))
    con.execute(
        "CREATE TABLE new_records AS SELECT * FROM dedup_input WHERE unique_id IN (SELECT unique_id FROM stw_new_ids)"
    )
    con.execute(
        "CREATE TABLE old_records AS SELECT * FROM dedup_input "
        "WHERE unique_id NOT IN (SELECT unique_id FROM stw_new_ids)"
    )
    db_api = DuckDBAPI(connection=con)
    old = db_api.register("old_records")
    new = db_api.register("new_records")
    linker = Linker(old, model, log_level=logging.WARNING)
    # The email comparison adjusts for term frequency (a shared company domain says less than a
    # rare one); predict_between needs the frequencies from the existing records.
    for col in match_model.tf_columns(model):
        linker.table_management.compute_tf_table(col)
    labels = _levels(model)
    frames = []
    between = linker.inference.predict_between(new, old, threshold_match_probability=threshold, warning_mode="never")
    frames.append(_pairs_frame(con, between, labels))
    if len(new_ids) > 1:
        new2 = db_api.register("new_records", table_name="new_records_within")
        within = linker.inference.predict_within(new2, threshold_match_probability=threshold, warning_mode="never")
        frames.append(_pairs_frame(con, within, labels))
    con.close()
    pairs = pd.concat(frames, ignore_index=True).drop_duplicates(["id_l", "id_r"])
    result = _store(user, "incremental", threshold, n, pairs, None, None, started)
    return result.new_pairs


# ---------------------------------------------------------------- review of candidates


@auth.pii_reader("merge_customers")
def candidates(
    user: auth.User, status: str = "open", min_probability: float = 0.0, limit: int = 100, offset: int = 0
) -> pd.DataFrame:
    auth.require(user, "merge_customers")
    from lib.security import privacy

    return privacy.mask_frame(
        user,
        warehouse.read(
            "stw_dedup_candidates",
            status=status,
            min_probability=float(min_probability),
            limit=int(limit),
            offset=int(offset),
        ),
    )


def candidate_count() -> int:
    return int(warehouse.scalar("stw_dedup_candidate_count") or 0)


@auth.pii_reader("merge_customers")
def pair(user: auth.User, pair_id: int) -> dict | None:
    """One candidate pair with its per-field agreement (levels and weights, no values)."""
    auth.require(user, "merge_customers")
    row = warehouse.one("stw_dedup_pair", pair_id=int(pair_id))
    if row:
        row["agreement"] = json.loads(row["agreement"])
    return row


@warehouse.retrying
def reject(user: auth.User, pair_id: int) -> None:
    """Not the same person: the pair leaves the queue and is not proposed again."""
    auth.require(user, "merge_customers")
    with warehouse.transaction() as tx:
        row = tx.one("stw_dedup_pair", pair_id=int(pair_id))
        if row is None or row["status"] != "open":
            raise MergeError("This pair is no longer open.")
        tx.run("stw_dedup_pair_set_status", pair_id=int(pair_id), status="rejected", username=user.username)
        audit.record(
            tx,
            user,
            "dedup.reject",
            "dedup_pair",
            pair_id,
            detail={"customer_ids": [row["customer_id_l"], row["customer_id_r"]]},
        )


def runs(limit: int = 10) -> pd.DataFrame:
    return warehouse.read("stw_dedup_runs", limit=limit)


# ---------------------------------------------------------------- survivorship and merge

# Fields chosen together (a name's parts, an ID's token/hash/last4, an address's parts).
FIELD_GROUPS: dict[str, tuple[str, ...]] = {
    "full_name": ("family_name", "given_name", "full_name", "name_pinyin"),
    "gender": ("gender",),
    "birth_date": ("birth_date",),
    "mobile": ("mobile",),
    "email": ("email",),
    "id_number": ("id_number_enc", "id_number_hash", "id_number_last4"),
    "address": ("country", "province", "city", "district", "address", "postcode"),
    "customer_type": ("customer_type",),
    "company": ("company", "industry", "job_title", "uscc"),
}


def _valid(group: str, record: dict) -> bool:
    """Whether the record's value for a field group is present and passes its validator."""
    first = FIELD_GROUPS[group][0] if group != "full_name" else "full_name"
    if group == "id_number":
        first = "id_number_hash"
    value = record.get(first)
    if value is None or (isinstance(value, float) and value != value) or value == "":
        return False
    raw = json.loads(record["raw_values"]) if record.get("raw_values") else {}
    if group in raw:
        return False
    try:
        if group == "mobile":
            validation.mobile(value)
        elif group == "email":
            validation.email(value)
        elif group == "birth_date":
            validation.birth_date(value)
    except validation.FieldError:
        return False
    return True


def default_choices(survivor: dict, merged: dict) -> dict[str, str]:
    """Per field group: 'survivor' or 'merged' — the most recently updated valid value."""
    newer_first = sorted([("survivor", survivor), ("merged", merged)], key=lambda kv: kv[1]["updated_at"], reverse=True)
    choices = {}
    for group in FIELD_GROUPS:
        pick = next((side for side, rec in newer_first if _valid(group, rec)), "survivor")
        choices[group] = pick
    return choices


def suggested_survivor(a: dict, b: dict) -> tuple[dict, dict]:
    """Keep the older registration (its history is longest); ties by the smaller id. An unknown
    registration date (no source gave one, no activity yet: lib/stewardship/registration.py) counts as newest."""

    def key(rec: dict) -> tuple:
        return (rec["registered_at"] is None, rec["registered_at"] or datetime.min, rec["customer_id"])

    return (a, b) if key(a) <= key(b) else (b, a)


@auth.pii_reader("merge_customers")
def suggested_choices(user: auth.User, survivor_id: int, merged_id: int) -> dict[str, str]:
    """default_choices for two stored records (validity is judged on the unmasked values,
    which never leave this function)."""
    from lib.stewardship import edits as customer_edits

    auth.require(user, "merge_customers")
    s, m = customer_edits._get(survivor_id), customer_edits._get(merged_id)
    if s is None or m is None:
        raise MergeError("One of the records does not exist.")
    return default_choices(s, m)


@auth.pii_reader("merge_customers")
def compare(user: auth.User, id_a: int, id_b: int) -> pd.DataFrame:
    """Side-by-side values of two records (contacts masked per role) for the merge screen."""
    auth.require(user, "merge_customers")
    a, b = edits._get(id_a), edits._get(id_b)
    if a is None or b is None:
        raise MergeError("One of the records does not exist.")
    a, b = privacy.mask_record(user, a), privacy.mask_record(user, b)
    fields = [
        "customer_id",
        "source",
        "source_record_id",
        "full_name",
        "gender",
        "birth_date",
        "mobile",
        "email",
        "id_number",
        "country",
        "province",
        "city",
        "district",
        "address",
        "postcode",
        "customer_type",
        "company",
        "channel",
        "registered_at",
        "updated_at",
        "verified_at",
        "version",
    ]
    return pd.DataFrame({"field": fields, "a": [a.get(f) for f in fields], "b": [b.get(f) for f in fields]})


def _jsonable(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


@auth.pii_writer("merge_customers")
@warehouse.retrying
def merge(
    user: auth.User,
    survivor_id: int,
    merged_id: int,
    choices: dict[str, str] | None = None,
    *,
    pair_id: int | None = None,
    expected_versions: tuple[int, int] | None = None,
) -> int:
    """Merge `merged_id` into `survivor_id`; returns the merge id (for undo)."""
    auth.require(user, "merge_customers")
    survivor_id, merged_id = int(survivor_id), int(merged_id)
    if survivor_id == merged_id:
        raise MergeError("A record cannot be merged into itself.")
    with warehouse.transaction() as tx:
        s = tx.one("stw_customer_by_id", customer_id=survivor_id)
        m = tx.one("stw_customer_by_id", customer_id=merged_id)
        for rec in (s, m):
            if rec is None or rec["merged_into"] is not None or rec["deleted_at"] is not None:
                raise MergeError("Both records must exist and be live (not merged or deleted).")
        if expected_versions is not None and (s["version"], m["version"]) != tuple(expected_versions):
            raise StaleRecordError(survivor_id)
        picked = default_choices(s, m)
        for group, side in (choices or {}).items():
            if group not in FIELD_GROUPS or side not in ("survivor", "merged"):
                raise MergeError(f"Unknown choice {group}={side}")
            picked[group] = side
        merge_id = int(
            tx.scalar(
                "stw_merge_start",
                survivor_id=survivor_id,
                merged_id=merged_id,
                pair_id=pair_id,
                choices=json.dumps(picked),
                username=user.username,
            )
        )
        tx.run("stw_merge_snapshot", merge_id=merge_id, role="survivor", customer_id=survivor_id)
        tx.run("stw_merge_snapshot", merge_id=merge_id, role="merged", customer_id=merged_id)
        children = tx.one("stw_merge_child_ids", merged_id=merged_id, survivor_id=survivor_id)
        moved = {k: list(children[k]) for k in ("orders", "events", "consents", "tags", "tags_dropped", "flags")}
        moved["tags_dropped_rows"] = tx.df(
            "stw_merge_dropped_tags", merged_id=merged_id, tags=moved["tags_dropped"]
        ).to_dict("records")
        # the survivor's writable columns (raw import values stay with their own records)
        row = {c: s[c] for c in edits.WRITABLE if c != "raw_values"}
        for group, side in picked.items():
            if side == "merged":
                for col in FIELD_GROUPS[group]:
                    row[col] = m[col]
        for col, check in (("mobile", validation.mobile), ("email", validation.email)):
            try:
                row[col] = check(row[col]) if row[col] else row[col]  # the survivor gets E.164 etc.
            except validation.FieldError:
                pass
        if tx.scalar("stw_merge_survivor_update", customer_id=survivor_id, expected_version=s["version"], **row) == 0:
            raise StaleRecordError(survivor_id)
        if (
            tx.scalar(
                "stw_merge_mark_merged", merged_id=merged_id, survivor_id=survivor_id, expected_version=m["version"]
            )
            == 0
        ):
            raise StaleRecordError(merged_id)
        search_index.refresh(tx, [survivor_id, merged_id])
        move = dict(from_id=merged_id, to_id=survivor_id)
        tx.run("stw_merge_move_orders", ids=moved["orders"], **move)
        tx.run("stw_merge_move_events", ids=moved["events"], **move)
        tx.run("stw_merge_move_consents", ids=moved["consents"], **move)
        tx.run("stw_merge_move_tags", tags=moved["tags"], **move)
        tx.run("stw_merge_delete_tags", customer_id=merged_id, tags=moved["tags_dropped"])
        tx.run("stw_merge_flags_close", ids=moved["flags"], username=user.username)
        if pair_id is not None:
            tx.run("stw_dedup_pair_set_status", pair_id=int(pair_id), status="merged", username=user.username)
        after = tx.one("stw_customer_by_id", customer_id=survivor_id)
        tx.run(
            "stw_merge_finish",
            merge_id=merge_id,
            moved=json.dumps(moved, default=str),
            survivor_version=after["version"],
        )
        changed = {c: (_jsonable(s[c]), _jsonable(after[c])) for c in row if s[c] != after[c]}
        # Masked: the exact rows are in merge_customer_snapshots (erased with the person).
        from lib.security import privacy

        audit.record(
            tx,
            user,
            "customer.merge",
            "customer",
            survivor_id,
            before=privacy.mask_for_audit({"survivor": {c: v[0] for c, v in changed.items()}, "merged_id": merged_id}),
            after=privacy.mask_for_audit(
                {"survivor": {c: v[1] for c, v in changed.items()}, "merged_into": survivor_id}
            ),
            detail={
                "merge_id": merge_id,
                "pair_id": pair_id,
                "choices": picked,
                "moved": {k: len(v) for k, v in moved.items()},
            },
        )
    _refresh_aggregates()
    return merge_id


@auth.pii_writer("merge_customers")
@warehouse.retrying
def undo_merge(user: auth.User, merge_id: int) -> None:
    """Restore both records and every moved row exactly as they were before the merge."""
    auth.require(user, "merge_customers")
    with warehouse.transaction() as tx:
        mg = tx.one("stw_merge_by_id", merge_id=int(merge_id))
        if mg is None:
            raise MergeError(f"No merge {merge_id}.")
        if mg["undone_at"] is not None:
            raise MergeError("This merge was already undone.")
        s = tx.one("stw_customer_by_id", customer_id=mg["survivor_id"])
        m = tx.one("stw_customer_by_id", customer_id=mg["merged_id"])
        if s["version"] != mg["survivor_version"] or m["merged_into"] != mg["survivor_id"]:
            raise StaleRecordError(
                mg["survivor_id"], "The survivor was edited or merged again after this merge; undo those changes first."
            )
        moved = json.loads(mg["moved"])
        back = dict(from_id=mg["survivor_id"], to_id=mg["merged_id"])
        tx.run("stw_merge_restore_customers", merge_id=int(merge_id))
        search_index.refresh(tx, [mg["survivor_id"], mg["merged_id"]])
        tx.run("stw_merge_move_orders", ids=moved["orders"], **back)
        tx.run("stw_merge_move_events", ids=moved["events"], **back)
        tx.run("stw_merge_move_consents", ids=moved["consents"], **back)
        tx.run("stw_merge_move_tags", tags=moved["tags"], **back)
        for t in moved.get("tags_dropped_rows", []):
            tx.run("stw_merge_insert_tag", customer_id=mg["merged_id"], **t)
        tx.run("stw_merge_flags_reopen", ids=moved["flags"])
        if mg["pair_id"] is not None:
            tx.run("stw_dedup_pair_reopen", pair_id=mg["pair_id"])
        tx.run("stw_merge_undone", merge_id=int(merge_id), username=user.username)
        audit.record(
            tx,
            user,
            "customer.merge_undo",
            "customer",
            mg["survivor_id"],
            detail={"merge_id": int(merge_id), "merged_id": mg["merged_id"]},
        )
    _refresh_aggregates()


@auth.pii_reader("merge_customers")
def recent_merges(user: auth.User, limit: int = 20) -> pd.DataFrame:
    """The latest merges with the survivor's name (for the undo list)."""
    auth.require(user, "merge_customers")
    return warehouse.read("stw_merges_recent", limit=limit)


def _refresh_aggregates(kind: str = "merge", source: object = "") -> None:
    """Publish the committed merge/unmerge (the dashboards rebuild their aggregates)."""
    hooks.loaded(hooks.Load(kind, str(source)))


# ---------------------------------------------------------------- export and evaluation


def export(user: auth.User, out_path: str, min_probability: float = CANDIDATE_THRESHOLD) -> dict:
    """Pairs (both records' source keys, probability) to OUT; clusters to OUT with
    `.clusters` before the extension. Returns the paths and row counts."""
    auth.require(user, "merge_customers")
    pairs = warehouse.read("stw_dedup_export_pairs", min_probability=float(min_probability))
    clusters = warehouse.read("stw_dedup_export_clusters")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    cpath = out.with_name(out.stem + ".clusters" + (out.suffix or ".csv"))
    from lib.security import exports

    exports.write_file(pairs, out)
    exports.write_file(clusters, cpath)
    audit.record(
        None,
        user,
        "dedup.export",
        "dedup",
        None,
        detail={"pairs": len(pairs), "cluster_rows": len(clusters), "file": str(out)},
    )
    return {"pairs_file": str(out), "pairs": len(pairs), "clusters_file": str(cpath), "cluster_rows": len(clusters)}


def evaluate(threshold: float = CLUSTER_THRESHOLD) -> dict:
    """Precision, recall and F1 of stored candidate pairs against demo_ground_truth duplicates."""
    truth = warehouse.read("stw_dedup_truth_pairs")
    pred = warehouse.read("stw_dedup_predicted_pairs", threshold=float(threshold))
    # A person with two injected duplicates has three true pairs (the duplicates match each
    # other too): expand the (duplicate, original) links into all pairs per true cluster.
    clusters: dict[int, set[int]] = {}
    for lo, hi in zip(truth["id_l"].astype(int), truth["id_r"].astype(int)):
        clusters.setdefault(lo, {lo}).add(hi)
    t = set()
    for members in clusters.values():
        ids = sorted(members)
        t |= {(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]}
    p = set(zip(pred["id_l"].astype(int), pred["id_r"].astype(int)))
    tp = len(t & p)
    precision = tp / len(p) if p else 0.0
    recall = tp / len(t) if t else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold": threshold,
        "true_pairs": len(t),
        "predicted_pairs": len(p),
        "true_positives": tp,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }
