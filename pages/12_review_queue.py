"""Review queue: everything that needs a steward, most severe first; fix, verify or ignore."""

import json

import streamlit as st

from lib.stewardship import edits, quality, records, review
from lib.core import i18n, settings, validation
from lib import ui
from lib.core.i18n import t
from lib.ui import records as records_ui, review_bulk

user = ui.guard("review_queue")

st.title(t("nav.review_queue"))
st.caption(t("stewards.rq.intro", months=settings.get("stale_after_months")))

counts = review.counts(user)
totals = counts.groupby("category")["n"].sum() if not counts.empty else {}
ui.kpi_row(
    [
        {"label": t(f"stewards.rq.cat.{c}"), "value": ui.fmt_int(int(totals.get(c, 0)) if len(totals) else 0)}
        for c in review.CATEGORIES
    ]
)

with st.container(border=True):
    c1, c2, c3, c4 = st.columns(4)
    categories = c1.multiselect(
        t("stewards.rq.category"),
        list(review.CATEGORIES),
        format_func=lambda c: t(f"stewards.rq.cat.{c}"),
        key="rq_categories",
        placeholder=t("dash.filter.all"),
    )
    severities = c2.multiselect(
        t("stewards.q.severity"),
        list(quality.SEVERITIES),
        format_func=lambda s: t(f"stewards.sev.{s}"),
        key="rq_severities",
        placeholder=t("dash.filter.all"),
    )
    source = c3.selectbox(
        t("stewards.q.source"),
        [None] + review.sources(),
        format_func=lambda s: i18n.code_label("dash.source", s) if s else t("stewards.all"),
        key="rq_source",
    )
    rule_ids = [None] + [r.rule_id for r in quality.RULES]
    rule_id = c4.selectbox(
        t("stewards.q.rule"),
        rule_ids,
        format_func=lambda r: t(f"stewards.rule.{r}") if r else t("stewards.all"),
        key="rq_rule",
    )

PAGE = 50
queue_filter = review.QueueFilter(categories, severities, None, source, rule_id)
if st.session_state.get("rq_filter") != queue_filter:  # other filters: back to the first page
    st.session_state["rq_filter"] = queue_filter
    st.session_state["rq_page"] = 0
page_no = st.session_state.get("rq_page", 0)
items = review.items(user, queue_filter, limit=PAGE, offset=page_no * PAGE)
if items.empty:
    st.success(t("stewards.rq.empty"))
    if page_no > 0 and st.button(t("stewards.prev"), key="rq_prev"):  # e.g. the last item was fixed
        st.session_state["rq_page"] = page_no - 1
        st.rerun()
    st.stop()


def _problem(rule_id: str, category: str, field: str) -> str:
    """What an item is about: its rule, or the field an import rejected ("Mobile rejected at import")."""
    if category == "import":
        if field == "contact":
            return t("stewards.rq.not_contactable")
        return t("stewards.rq.import_value", field=t(f"stewards.field.{field}"))
    return t(f"stewards.rule.{rule_id}")


def _import_detail(detail) -> str:
    """An import rejection's detail ({"code": "mobile.invalid", "raw": "12345"}) in words."""
    try:
        data = json.loads(detail) if isinstance(detail, str) else dict(detail or {})
    except (TypeError, ValueError):
        return str(detail or "")
    code, raw = data.get("code"), data.get("raw")
    words = [t("stewards.rq.received", value=raw)] if raw not in (None, "") else []
    if code and i18n.has(f"stewards.v.{code}"):
        words.insert(0, t(f"stewards.v.{code}", field=t(f"stewards.field.{str(code).split('.')[0]}")))
    return " ".join(words)


def _item_label(row) -> str:
    what = (
        _problem(row.rule_id, row.category, row.field)
        if row.category != "duplicate"
        else t("stewards.rq.duplicate_of", other=int(row.other_customer_id), p=f"{row.probability:.3f}")
    )
    name = row.full_name if isinstance(row.full_name, str) else "—"
    return f"{t('stewards.sev.' + row.severity)} · #{row.customer_id} {name} · {what}"


shown = items.assign(
    category=[t(f"stewards.rq.cat.{c}") for c in items["category"]],
    severity=[t(f"stewards.sev.{s}") for s in items["severity"]],
    rule=[
        _problem(r, k, f) if k != "duplicate" else t("stewards.rq.cat.duplicate")
        for r, k, f in zip(items["rule_id"], items["category"], items["field"])
    ],
    field=[t(f"stewards.field.{f}") for f in items["field"]],
)
table_key = f"rq_table_{st.session_state.get('rq_saves', 0)}"  # a new key after a bulk save: no stale selection
table = st.dataframe(
    i18n.display_frame(
        shown[
            [
                "severity",
                "category",
                "rule",
                "field",
                "customer_id",
                "source",
                "source_record_id",
                "full_name",
                "other_customer_id",
                "probability",
                "created_at",
            ]
        ]
    ),
    hide_index=True,
    width="stretch",
    height=260,
    on_select="rerun",
    selection_mode="multi-row",
    key=table_key,
    column_config={
        "severity": t("stewards.q.severity"),
        "category": t("stewards.rq.category"),
        "rule": t("stewards.q.rule"),
        "field": t("stewards.q.field"),
        "customer_id": t("dash.col.customer_id"),
        "source": t("stewards.q.source"),
        "source_record_id": t("stewards.field.source_record_id"),
        "full_name": t("stewards.field.full_name"),
        "other_customer_id": t("stewards.rq.other_customer"),
        "probability": t("stewards.rq.probability"),
        "created_at": t("stewards.rq.created_at"),
    },
)
nav1, nav2, _ = st.columns([1, 1, 6])
if nav1.button(t("stewards.prev"), disabled=page_no == 0, key="rq_prev"):
    st.session_state["rq_page"] = page_no - 1
    st.rerun()
if nav2.button(t("stewards.next"), disabled=len(items) < PAGE, key="rq_next"):
    st.session_state["rq_page"] = page_no + 1
    st.rerun()

review_bulk.bulk_actions(user, items, table.selection.rows)

keys = [f"{r.item_kind}:{r.item_id}" for r in items.itertuples(index=False)]
labels = {k: _item_label(r) for k, r in zip(keys, items.itertuples(index=False))}
choice = st.selectbox(t("stewards.rq.work_on"), keys, format_func=labels.get, key="rq_item")
item = items.iloc[keys.index(choice)]
st.divider()

if item["category"] == "duplicate":
    st.subheader(t("stewards.rq.duplicate_title"))
    st.write(t("stewards.rq.duplicate_hint"))
    if st.button(t("stewards.rq.open_pair"), type="primary", key="rq_open_pair"):
        st.session_state["dd_pair"] = int(item["item_id"])
        st.switch_page("pages/13_duplicates.py")
    st.stop()

flag_id = int(item["item_id"])
customer_id = int(item["customer_id"])
record = edits.get(user, customer_id)
version_key = f"rq_version_{flag_id}"
if version_key not in st.session_state:
    st.session_state[version_key] = record["version"]  # the version this form was opened on
loaded_version = st.session_state[version_key]
flag = review.flag(user, flag_id)

st.subheader(
    t(
        "stewards.rq.fix_title",
        id=customer_id,
        name=record["full_name"] if isinstance(record["full_name"], str) else "—",
    )
)
st.caption(
    t(
        "stewards.rq.fix_caption",
        source=i18n.code_label("dash.source", record["source"]),
        record_key=record["source_record_id"],
        rule=_problem(flag["rule_id"], "rule" if flag["kind"] == "rule" else "import", flag["field"]),
        help=t(f"stewards.rule.{flag['rule_id']}.help") if flag["kind"] == "rule" else _import_detail(flag["detail"]),
    )
)
if record.get("raw_values"):
    st.info(t("stewards.rq.raw_values", values=i18n.readable_json(record["raw_values"], "stewards.field")))

visible = record  # masked for the user by customer_edits.get
with st.form(f"fix_form_{flag_id}"):
    values = records_ui.customer_inputs(f"fix_{flag_id}", visible, id_help="stewards.rq.id_help")
    saved = st.form_submit_button(t("stewards.rq.save"), type="primary")

if saved:
    changes = records.changed_fields(visible, values)
    if not changes:
        st.warning(t("stewards.rq.no_changes"))
    else:
        with ui.shown():
            try:
                edits.update_customer(user, customer_id, changes, loaded_version, flag_id=flag_id)
            except validation.ValidationError as exc:
                for field, msg in exc.by_field().items():
                    st.error(f"{t('stewards.field.' + field)}: {msg}")
            except edits.StaleRecordError as exc:
                st.error(str(exc))
                if st.button(t("stewards.rq.reload"), key="rq_reload"):
                    st.session_state.pop(version_key, None)
                    st.rerun()
            else:
                st.session_state.pop(version_key, None)
                st.success(t("stewards.rq.saved", id=customer_id))

a1, a2 = st.columns(2)
with a1.container(border=True):
    st.markdown(f"**{t('stewards.rq.verify_title')}**")
    st.caption(t("stewards.rq.verify_help"))
    if st.button(t("stewards.rq.verify"), key="rq_verify"):
        with ui.shown():
            edits.verify(user, customer_id, loaded_version, flag_id=flag_id)
            st.session_state.pop(version_key, None)
            st.success(t("stewards.rq.verified", id=customer_id))
with a2.container(border=True):
    st.markdown(f"**{t('stewards.rq.ignore_title')}**")
    reason = st.text_input(t("stewards.field.reason"), key=f"rq_reason_{flag_id}")
    if st.button(t("stewards.rq.ignore"), key="rq_ignore"):
        with ui.shown():
            edits.ignore_flag(user, flag_id, reason)
            st.success(t("stewards.rq.ignored"))

with st.expander(t("stewards.rq.history")):
    history = edits.edit_history(user, customer_id)
    if history.empty:
        st.caption(t("stewards.rq.no_history"))
    else:
        st.dataframe(
            i18n.display_frame(
                history,
                {"username": "dash.actor", "action": "dash.action"},
                headers="admin.audit.col",
                json=ui.audit_json("before", "after", "detail"),
            ),
            hide_index=True,
            width="stretch",
        )
        undoable = history[history["action"] == "customer.update"]["audit_id"].tolist()
        if undoable:
            undo_id = st.selectbox(t("stewards.rq.undo_which"), undoable, key="rq_undo_id")
            if st.button(t("stewards.rq.undo"), key="rq_undo"):
                with ui.shown():
                    edits.undo_edit(user, int(undo_id))
                    st.session_state.pop(version_key, None)
                    st.success(t("stewards.rq.undone"))
