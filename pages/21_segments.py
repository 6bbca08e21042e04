"""Segment builder with live count, revenue share and a masked sample; saved segments;
comparison; reachable audience per channel and its audited export."""

import json
from datetime import date, timedelta
from itertools import count

import streamlit as st

from lib.marketing import audience, rfm, segments, tags
from lib.security import auth
from lib.dashboards import charts
from lib.core import i18n, settings
from lib import ui
from lib.ui import preferences as prefs_ui
from lib.core.i18n import t

user = ui.guard("segments")
as_of = settings.as_of()
may_write = auth.can(user, "manage_segments")
may_export = auth.can(user, "export_audience")

STATE = "seg_state"  # the builder: {"op", "items": [condition | group]}, each with an "id"
LOADED = "seg_loaded"  # the saved segment being edited: {segment_id, name, version, owner}
EXPORT = "seg_export"  # the last prepared export (bytes are only built on request: audited)


@ui.cached
def cached_stats(definition_json: str, as_of: date) -> dict:
    return segments.stats(json.loads(definition_json), as_of)


@ui.cached
def cached_reachable(definition_json: str, as_of: date):
    return audience.reachable(json.loads(definition_json), as_of)


@ui.cached
def cached_sample(viewer, definition_json: str, as_of: date):
    return segments.sample(viewer, json.loads(definition_json), 10, as_of)


@ui.cached
def cached_by_rfm(definition_json: str, as_of: date):
    return segments.by_rfm_segment(json.loads(definition_json), as_of)


@ui.cached
def cached_values(field: str, as_of: date) -> list[str]:
    return segments.field_values(field, as_of)


@ui.cached
def cached_tags() -> list[str]:
    return tags.counts()["tag"].tolist()


def _ids():
    if "seg_next_id" not in st.session_state:
        st.session_state["seg_next_id"] = count(1)
    return st.session_state["seg_next_id"]


def new_condition(field: str = "rfm_segment") -> dict:
    return {"id": next(_ids()), "field": field, "operator": segments.operators_for(field)[0], "value": None}


def new_group() -> dict:
    return {"id": next(_ids()), "op": "or", "items": [new_condition()]}


def from_definition(definition: dict) -> dict:
    def node(n):
        if "op" in n:
            return {"id": next(_ids()), "op": n["op"], "items": [node(c) for c in n["conditions"]]}
        return {"id": next(_ids()), **n}

    return node(segments.validate(definition))


def to_definition(state: dict) -> dict:
    def node(n):
        if "op" in n:
            return {"op": n["op"], "conditions": [node(c) for c in n["items"]]}
        return {"field": n["field"], "operator": n["operator"], "value": n["value"]}

    return node(state)


def load(definition: dict, saved: dict | None = None) -> None:
    for key in [k for k in st.session_state if k.startswith("seg_c")]:
        del st.session_state[key]
    st.session_state[STATE] = from_definition(definition)
    st.session_state[LOADED] = saved
    st.session_state.pop(EXPORT, None)


if STATE not in st.session_state:
    st.session_state[STATE] = {"id": 0, "op": "and", "items": [new_condition()]}
    st.session_state[LOADED] = None


def value_label(field_key: str):
    """How a stored value of the field is shown: "Champions" -> "冠军客户", "wechat" -> "微信"."""
    if field_key == "rfm_segment":
        return lambda v: t(f"marketing.rfm.seg.{charts.rfm_slug(v)}")
    if field_key in segments.CATEGORY_FIELDS or segments.FIELDS[field_key].kind == "list":
        return prefs_ui.category_label
    prefixes = {
        "lifecycle_stage": "dash.stage",
        "churn_risk": "marketing.tier",
        "price_level": "prefs.price_level",
        "nps_category": "fb.category",
        "gender": "dash.gender",
        "channel": "dash.channel",
        "source": "dash.source",
        "industry": "dash.industry",
    }
    prefix = prefixes.get(field_key)
    return (lambda v: i18n.code_label(prefix, v)) if prefix else str


def reads_as(definition: dict) -> str:
    """The definition in words of the page's language: (RFM segment is Champions AND ...)."""

    def group(node: dict) -> str:
        parts = [group(c) if "op" in c else condition(c) for c in node["conditions"]]
        joiner = f" {t('common.and') if node['op'] == 'and' else t('common.or')} "
        if not parts:
            return t("marketing.builder.everyone" if node["op"] == "and" else "marketing.builder.nobody")
        return "(" + joiner.join(parts) + ")"

    def condition(c: dict) -> str:
        field, op, value = t(f"marketing.field.{c['field']}"), t(f"marketing.op.{c['operator']}"), c.get("value")
        if value is None or c["operator"] in segments.NO_VALUE:
            return f"{field} {op}"
        if "…" in op:  # "within the last … days": the number in its place
            return f"{field} {op.replace('…', f' {value} ')}".replace("  ", " ")
        if c["operator"] == "between":
            return f"{field} {op} {value[0]} – {value[1]}"
        label = value_label(c["field"])
        if isinstance(value, list):
            joined = ("、" if i18n.language() == "zh" else ", ").join(str(label(v)) for v in value)
            return f"{field} {op} {joined}"
        return f"{field} {op} {label(value)}"

    return group(segments.validate(definition))


def value_widget(cond: dict) -> object:
    """The value input for one condition; returns the value (None for no-value operators)."""
    field, op, key = segments.FIELDS[cond["field"]], cond["operator"], f"seg_c{cond['id']}_v{cond['operator']}"
    current = cond.get("value")
    label = t("marketing.builder.value")
    if op in segments.NO_VALUE:
        return None
    if field.kind in ("tags", "list"):
        known = cached_tags() if field.kind == "tags" else cached_values(field.key, as_of)
        options = sorted(set(known) | set(current or []))
        return st.multiselect(
            label,
            options,
            default=current or [],
            key=key,
            label_visibility="collapsed",
            placeholder=t("marketing.builder.pick_tags"),
            format_func=prefs_ui.category_label if field.kind == "list" else str,
        )
    if field.kind in ("enum", "text") and op not in ("contains", "starts_with"):
        options = cached_values(field.key, as_of)
        fmt = value_label(field.key)
        if op in ("in", "not_in"):
            default = [v for v in (current or []) if v in options]
            return st.multiselect(
                label,
                options,
                default=default,
                key=key,
                format_func=fmt,
                label_visibility="collapsed",
                placeholder=t("marketing.builder.pick"),
            )
        index = options.index(current) if current in options else (0 if options else None)
        return st.selectbox(label, options, index=index, key=key, format_func=fmt, label_visibility="collapsed")
    if field.kind == "text":
        return (
            st.text_input(
                label, value=current or "", key=key, label_visibility="collapsed", max_chars=segments.MAX_TEXT
            )
            or None
        )
    if field.kind == "number":
        if op == "between":
            lo, hi = current or [0, 1000]
            a, b = st.columns(2)
            return [
                a.number_input(label, value=float(lo), key=key + "lo", label_visibility="collapsed"),
                b.number_input(label, value=float(hi), key=key + "hi", label_visibility="collapsed"),
            ]
        return st.number_input(label, value=float(current or 0), key=key, label_visibility="collapsed")
    if field.kind == "date":
        if op in ("within_days", "not_within_days"):
            return int(
                st.number_input(
                    t("marketing.builder.days"), min_value=0, max_value=36500, step=1, value=int(current or 90), key=key
                )
            )
        if op == "between":
            lo, hi = current or [(as_of - timedelta(days=365)).isoformat(), as_of.isoformat()]
            chosen = st.date_input(
                label, value=(date.fromisoformat(lo), date.fromisoformat(hi)), key=key, label_visibility="collapsed"
            )
            return [d.isoformat() for d in chosen] if isinstance(chosen, (list, tuple)) and len(chosen) == 2 else None
        chosen = st.date_input(
            label,
            value=date.fromisoformat(current) if current else as_of - timedelta(days=90),
            key=key,
            label_visibility="collapsed",
        )
        return chosen.isoformat() if chosen else None
    return None


def condition_row(cond: dict, parent: dict) -> None:
    c1, c2, c3, c4 = st.columns([3, 2, 4, 0.6], vertical_alignment="center")
    keys = list(segments.FIELDS)
    cond["field"] = c1.selectbox(
        t("marketing.builder.field"),
        keys,
        index=keys.index(cond["field"]),
        key=f"seg_c{cond['id']}_f",
        format_func=lambda k: f"{t('marketing.fieldgroup.' + segments.FIELDS[k].group)} · {t('marketing.field.' + k)}",
        label_visibility="collapsed",
    )
    ops = segments.operators_for(cond["field"])
    if cond["operator"] not in ops:
        cond["operator"], cond["value"] = ops[0], None
    cond["operator"] = c2.selectbox(
        t("marketing.builder.operator"),
        ops,
        index=ops.index(cond["operator"]),
        key=f"seg_c{cond['id']}_o{cond['field']}",
        format_func=lambda o: t(f"marketing.op.{o}"),
        label_visibility="collapsed",
    )
    with c3:
        cond["value"] = value_widget(cond)
    if c4.button("✕", key=f"seg_c{cond['id']}_rm", help=t("marketing.builder.remove")):
        parent["items"].remove(cond)
        st.rerun()


def group_block(group: dict, depth: int) -> None:
    labels = {"and": t("marketing.builder.all"), "or": t("marketing.builder.any")}
    group["op"] = st.radio(
        t("marketing.builder.match"),
        ["and", "or"],
        index=["and", "or"].index(group["op"]),
        format_func=labels.get,
        horizontal=True,
        key=f"seg_c{group['id']}_g",
    )
    for item in list(group["items"]):
        if "op" in item:
            with st.container(border=True):
                group_block(item, depth + 1)
                if st.button(t("marketing.builder.remove_group"), key=f"seg_c{item['id']}_rmg"):
                    group["items"].remove(item)
                    st.rerun()
        else:
            condition_row(item, group)
    b1, b2, _ = st.columns([1, 1, 3])
    if b1.button(t("marketing.builder.add_condition"), key=f"seg_c{group['id']}_add", icon=":material/add:"):
        group["items"].append(new_condition())
        st.rerun()
    if depth < 2 and b2.button(
        t("marketing.builder.add_group"), key=f"seg_c{group['id']}_addg", icon=":material/account_tree:"
    ):
        group["items"].append(new_group())
        st.rerun()


st.title(t("nav.segments"))
snapshot = rfm.ensure_snapshot(user, as_of)
st.caption(t("marketing.segments.caption", as_of=as_of.isoformat(), snapshot=snapshot.get("as_of") or "–"))

tab_build, tab_saved, tab_compare = st.tabs(
    [t("marketing.segments.tab_build"), t("marketing.segments.tab_saved"), t("marketing.segments.tab_compare")]
)

with tab_build:
    loaded = st.session_state.get(LOADED)
    if loaded:
        st.info(t("marketing.segments.editing", name=loaded["name"], version=loaded["version"], owner=loaded["owner"]))
    with st.container(border=True):
        group_block(st.session_state[STATE], 1)
    definition = to_definition(st.session_state[STATE])
    try:
        segments.validate(definition)
        problem = None
    except segments.SegmentError as exc:
        problem = str(exc)
    if problem:
        st.warning(t("marketing.builder.incomplete", message=problem))
    else:
        st.caption(t("marketing.builder.reads_as", text=reads_as(definition)))
        definition_json = json.dumps(definition, sort_keys=True, ensure_ascii=False)
        stats = cached_stats(definition_json, as_of)
        ui.kpi_row(
            [
                {"label": t("marketing.segments.members"), "value": ui.fmt_int(stats["members"])},
                {"label": t("marketing.segments.customer_share"), "value": ui.fmt_pct(stats["customer_share"])},
                {
                    "label": t("marketing.segments.revenue_share"),
                    "value": ui.fmt_pct(stats["revenue_share"]),
                    "help": t("marketing.segments.revenue_share.help"),
                },
                {"label": t("marketing.segments.avg_spend"), "value": stats["avg_spend"], "money": True},
            ]
        )

        st.subheader(t("marketing.segments.sample"))
        sample = cached_sample(user, definition_json, as_of)
        st.dataframe(
            i18n.display_frame(
                sample,
                {"rfm_segment": charts.rfm_label, "lifecycle_stage": "dash.stage", "churn_risk": "marketing.tier"},
            ),
            hide_index=True,
            width="stretch",
            column_config={
                col: st.column_config.Column(t(f"marketing.field.{col}"))
                for col in sample.columns
                if col in segments.FIELDS or col in ("customer_id", "full_name", "mobile", "email")
            }
            | {"total_spend": st.column_config.NumberColumn(t("marketing.field.total_spend"), format="¥%,.0f")},
        )

        st.subheader(t("marketing.audience.title"))
        reach = cached_reachable(definition_json, as_of)
        a1, a2 = st.columns([1, 1])
        a1.plotly_chart(charts.audience_bars(reach), width="stretch")
        a2.dataframe(
            reach.assign(channel=[t(f"marketing.channel.{c}") for c in reach["channel"]]),
            hide_index=True,
            width="stretch",
            column_config={
                c: st.column_config.NumberColumn(t(f"marketing.audience.{c}"), format="localized")
                for c in ("members", "consenting", "valid_contact", "reachable")
            }
            | {"channel": t("marketing.audience.channel")},
        )
        a2.caption(t("marketing.audience.rule"))
        if may_export:
            e1, e2, e3 = st.columns([1, 1, 2], vertical_alignment="bottom")
            channel = e1.selectbox(
                t("marketing.audience.channel"),
                audience.CHANNELS,
                key="seg_export_channel",
                format_func=lambda c: t(f"marketing.channel.{c}"),
            )
            fmt = e2.selectbox(
                t("marketing.export.format"),
                audience.FORMATS,
                key="seg_export_format",
                format_func=lambda f: {"csv": "CSV", "xlsx": "Excel"}[f],
            )
            if e3.button(t("marketing.export.prepare"), type="primary", key="seg_export_prepare"):
                segment = (
                    loaded["name"]
                    if loaded
                    and segments.get(loaded["segment_id"])
                    and segments.get(loaded["segment_id"])["definition"] == definition
                    else definition
                )
                with ui.shown():
                    result = audience.export(user, segment, channel, fmt, as_of)
                    st.session_state[EXPORT] = {
                        "data": result.data,
                        "file_name": result.file_name,
                        "mime": result.mime,
                        "rows": result.rows,
                    }
            prepared = st.session_state.get(EXPORT)
            if prepared:
                st.success(t("marketing.export.ready", rows=ui.fmt_int(prepared["rows"]), file=prepared["file_name"]))
                st.download_button(
                    t("marketing.export.download"),
                    prepared["data"],
                    file_name=prepared["file_name"],
                    mime=prepared["mime"],
                    key="seg_export_download",
                    icon=":material/download:",
                    on_click="ignore",
                )  # audited when prepared

        # computed only when opened: a fourth pass over every customer for a table few open
        by_rfm_box = st.expander(t("marketing.segments.by_rfm"), key="seg_by_rfm", on_change="rerun")
        if by_rfm_box.open:
            with by_rfm_box:
                st.caption(t("marketing.segments.by_rfm.note"))
                by_rfm = cached_by_rfm(definition_json, as_of)
                st.dataframe(
                    i18n.display_frame(by_rfm, {"rfm_segment": charts.rfm_label}),
                    hide_index=True,
                    width="stretch",
                    column_config={
                        "rfm_segment": t("marketing.rfm.segment"),
                        "customers": st.column_config.NumberColumn(t("marketing.rfm.customers"), format="localized"),
                        "avg_clv": st.column_config.NumberColumn(t("marketing.clv.avg"), format="¥%,.0f"),
                        "total_clv": st.column_config.NumberColumn(t("marketing.clv.value"), format="¥%,.0f"),
                        "avg_p_alive": st.column_config.ProgressColumn(
                            t("marketing.clv.p_alive"), format="percent", min_value=0, max_value=1
                        ),
                        "avg_churn_probability": st.column_config.ProgressColumn(
                            t("marketing.segments.avg_churn_probability"), format="percent", min_value=0, max_value=1
                        ),
                    },
                )

        if may_write:
            st.subheader(t("marketing.segments.save_title"))
            s1, s2 = st.columns([3, 1], vertical_alignment="bottom")
            name = s1.text_input(t("marketing.segments.name"), key="seg_save_name", max_chars=80)
            if s2.button(t("marketing.segments.save_new"), key="seg_save"):
                with ui.shown():
                    sid = segments.save(user, name, definition)
                    row = segments.get(sid)
                    st.session_state[LOADED] = {k: row[k] for k in ("segment_id", "name", "version", "owner")}
                    st.success(t("marketing.segments.saved", name=row["name"]))
            if loaded and st.button(t("marketing.segments.update", name=loaded["name"]), key="seg_update"):
                with ui.shown():
                    new = segments.update(user, loaded["segment_id"], loaded["version"], definition=definition)
                    st.session_state[LOADED] = {**loaded, "version": new["version"]}
                    st.success(t("marketing.segments.saved", name=loaded["name"]))
        with st.expander(t("marketing.builder.json")):
            st.code(json.dumps(definition, ensure_ascii=False, indent=2), language="json")
            pasted = st.text_area(t("marketing.builder.paste"), key="seg_paste")
            if st.button(t("marketing.builder.apply"), key="seg_apply") and pasted.strip():
                with ui.shown():
                    load(segments.validate(pasted), None)
                    st.rerun()

with tab_saved:
    saved = segments.list_saved()
    if saved.empty:
        st.info(t("marketing.segments.none_saved"))
    else:
        view = saved.assign(definition=[reads_as(d) for d in saved["definition"]])
        st.dataframe(
            view,
            hide_index=True,
            width="stretch",
            column_order=["name", "owner", "version", "updated_at", "created_at", "definition"],
            column_config={
                "name": t("marketing.segments.name"),
                "owner": t("marketing.segments.owner"),
                "version": t("marketing.segments.version"),
                "updated_at": t("marketing.segments.updated"),
                "created_at": t("marketing.segments.created"),
                "definition": t("marketing.segments.definition"),
            },
        )
        names = dict(zip(saved["segment_id"], saved["name"]))
        chosen = st.selectbox(t("marketing.segments.choose"), list(names), format_func=names.get, key="seg_chosen")
        row = segments.get(int(chosen))
        if row:
            c1, c2, c3 = st.columns(3)
            if c1.button(t("marketing.segments.load"), key="seg_load", icon=":material/edit:"):
                load(row["definition"], {k: row[k] for k in ("segment_id", "name", "version", "owner")})
                st.rerun()
            if may_write:
                with c2.popover(t("marketing.segments.rename"), icon=":material/drive_file_rename_outline:"):
                    new_name = st.text_input(t("marketing.segments.new_name"), value=row["name"], key="seg_rename_to")
                    if st.button(t("marketing.segments.rename"), key="seg_rename"):
                        with ui.shown():
                            segments.rename(user, row["segment_id"], new_name, row["version"])
                            st.rerun()
                if c2.button(t("marketing.segments.duplicate"), key="seg_duplicate", icon=":material/content_copy:"):
                    with ui.shown():
                        segments.duplicate(user, row["segment_id"])
                        st.rerun()
                with c3.popover(t("marketing.segments.delete"), icon=":material/delete:"):
                    st.warning(t("marketing.segments.delete_confirm", name=row["name"]))
                    if st.button(t("marketing.segments.delete"), key="seg_delete", type="primary"):
                        with ui.shown():
                            segments.delete(user, row["segment_id"], row["version"])
                            if (st.session_state.get(LOADED) or {}).get("segment_id") == row["segment_id"]:
                                st.session_state[LOADED] = None
                            st.rerun()

with tab_compare:
    saved = segments.list_saved()
    if len(saved) < 1:
        st.info(t("marketing.compare.need_saved"))
    else:
        options = {
            "__builder__": t("marketing.compare.builder"),
            **dict(zip(saved["segment_id"].astype(str), saved["name"])),
        }
        k1, k2 = st.columns(2)
        a = k1.selectbox(t("marketing.compare.a"), list(options), format_func=options.get, key="seg_cmp_a")
        b = k2.selectbox(
            t("marketing.compare.b"),
            list(options),
            index=min(1, len(options) - 1),
            format_func=options.get,
            key="seg_cmp_b",
        )

        def definition_of(key: str) -> dict:
            return (
                to_definition(st.session_state[STATE]) if key == "__builder__" else segments.get(int(key))["definition"]
            )

        with ui.shown():
            o = segments.overlap(definition_of(a), definition_of(b), as_of)
            ui.kpi_row(
                [
                    {"label": options[a], "value": ui.fmt_int(o["a"])},
                    {"label": options[b], "value": ui.fmt_int(o["b"])},
                    {"label": t("marketing.compare.both"), "value": ui.fmt_int(o["both_ab"])},
                    {
                        "label": t("marketing.compare.jaccard"),
                        "value": ui.fmt_pct(o["jaccard"]),
                        "help": t("marketing.compare.jaccard.help"),
                    },
                ]
            )
            st.plotly_chart(charts.segment_overlap(o, options[a], options[b]), width="stretch")
