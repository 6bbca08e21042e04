"""Duplicates: candidate pairs with their match probability and why, merge with survivorship, undo."""

import streamlit as st

from lib.stewardship import edits, dedup, match_model
from lib import ui
from lib.core import i18n
from lib.core.i18n import t

user = ui.guard("duplicates")
# fields of the side-by-side comparison stored as codes, with their labels' key prefix (or namer)
CODED_FIELDS = {
    "source": "dash.source",
    "gender": "dash.gender",
    "channel": "dash.channel",
    "industry": "dash.industry",
    "lifecycle_stage": "dash.stage",
    "country": i18n.country_name,
}


@ui.cached
def accuracy() -> dict:
    return dedup.evaluate()


st.title(t("nav.duplicates"))
st.caption(t("stewards.dd.intro"))

top1, top2 = st.columns([1, 3])
if top1.button(t("stewards.dd.run"), key="dd_run"):
    with st.spinner(t("stewards.dd.running")):
        with ui.shown() as outcome:
            r = dedup.run(user)
        if outcome.ok:
            st.success(
                t(
                    "stewards.dd.run_done",
                    pairs=r.pairs,
                    new=r.new_pairs,
                    clusters=r.clusters,
                    seconds=f"{r.seconds:.1f}",
                )
            )
runs = dedup.runs(1)
if not runs.empty:
    top2.caption(
        t(
            "stewards.dd.last_run",
            when=str(runs.iloc[0]["finished_at"])[:19],
            records=ui.fmt_int(runs.iloc[0]["records"]),
            mode=t(f"stewards.dd.mode.{runs.iloc[0]['mode']}"),
        )
    )

tabs = ui.tabs({"pairs": t("stewards.dd.tab_pairs"), "merges": t("stewards.dd.tab_merges")}, key="dd_tab")
tab_pairs, tab_merges = tabs["pairs"], tabs["merges"]

with tab_pairs:
    min_p = st.slider(t("stewards.dd.min_probability"), 0.5, 1.0, 0.5, 0.01, key="dd_min_p")
    pairs = dedup.candidates(user, min_probability=min_p, limit=200)
    st.caption(t("stewards.dd.open_pairs", n=ui.fmt_int(dedup.candidate_count())))
    if pairs.empty:
        st.info(t("stewards.dd.no_pairs"))
    else:
        st.caption(t("stewards.dd.pick_pair"))
        picked = st.dataframe(
            i18n.display_frame(
                pairs[
                    [
                        "pair_id",
                        "match_probability",
                        "customer_id_l",
                        "source_l",
                        "source_record_id_l",
                        "name_l",
                        "customer_id_r",
                        "source_r",
                        "source_record_id_r",
                        "name_r",
                    ]
                ],
                {"source_l": "dash.source", "source_r": "dash.source"},
                headers="stewards.dd.col",
            ),
            hide_index=True,
            width="stretch",
            height=240,
            column_config={t("stewards.dd.col.match_probability"): st.column_config.NumberColumn(format="%.4f")},
            on_select="rerun",
            selection_mode="single-row",
            key="dd_pairs_table",
        )
        ui.download(
            user,
            pairs.drop(columns=["agreement"]),
            "duplicate_pairs",
            key="dd_download",
            what="duplicate_pairs",
            filters={"min_probability": min_p, "limit": 200},
            label=t("common.download_csv"),
            type="secondary",
        )
        ids = pairs["pair_id"].astype(int).tolist()
        wanted = st.session_state.pop("dd_pair", None)
        if wanted is not None and wanted in ids:
            st.session_state["dd_pair_select"] = wanted
        elif wanted is not None and wanted not in ids and dedup.pair(user, wanted):
            ids = [wanted] + ids
            st.session_state["dd_pair_select"] = wanted
        position = ui.selected_row(picked)
        if position is not None and position < len(pairs) and st.session_state.get("dd_pairs_pos") != position:
            st.session_state["dd_pairs_pos"] = position  # a click in the table picks that pair
            st.session_state["dd_pair_select"] = int(pairs.iloc[position]["pair_id"])
        names = {
            int(r["pair_id"]): t(
                "stewards.dd.pair_label",
                left=r["name_l"] or r["customer_id_l"],
                right=r["name_r"] or r["customer_id_r"],
                p=f"{r['match_probability']:.1%}",
            )
            for _, r in pairs.iterrows()
        }
        pair_id = st.selectbox(
            t("stewards.dd.pair"),
            ids,
            key="dd_pair_select",
            format_func=lambda i: names.get(i, t("stewards.dd.pair_number", id=i)),
        )
        pr = dedup.pair(user, pair_id)
        a = edits.get(user, pr["customer_id_l"])
        b = edits.get(user, pr["customer_id_r"])
        st.metric(
            t("stewards.dd.probability"),
            f"{pr['match_probability']:.4f}",
            help=t("stewards.dd.probability_help", weight=f"{pr['match_weight']:.1f}"),
        )
        survivor, other = dedup.suggested_survivor(a, b)
        side = st.radio(
            t("stewards.dd.survivor"),
            [survivor["customer_id"], other["customer_id"]],
            format_func=lambda i: t("stewards.dd.keep", id=i),
            horizontal=True,
            key=f"dd_survivor_{pair_id}",
        )
        s_rec, m_rec = (a, b) if side == a["customer_id"] else (b, a)
        table = dedup.compare(user, s_rec["customer_id"], m_rec["customer_id"])
        why = {f: f"{match_model.level_text(v['label'])} ({v['weight']:+.1f})" for f, v in pr["agreement"].items()}
        table["why"] = table["field"].map(why).fillna("")
        for field, how in CODED_FIELDS.items():  # codes by name: "Online shop", "Female", "China"
            rows = table["field"] == field
            name = how if callable(how) else (lambda v, p=how: i18n.code_label(p, v))
            for side_col in ("a", "b"):
                table.loc[rows, side_col] = table.loc[rows, side_col].map(name)
        table["field"] = [i18n.code_label(("stewards.field", "common.col"), f) for f in table["field"]]
        table = table.rename(
            columns={
                "a": t("stewards.dd.survivor_col", id=s_rec["customer_id"]),
                "b": t("stewards.dd.other_col", id=m_rec["customer_id"]),
                "why": t("stewards.dd.why"),
            }
        )
        st.dataframe(
            i18n.display_frame(table.astype(object), headers="stewards.dd.col").astype(str),
            hide_index=True,
            width="stretch",
            height=600,
        )

        st.markdown(f"**{t('stewards.dd.choices')}**")
        st.caption(t("stewards.dd.choices_help"))
        defaults = dedup.suggested_choices(user, s_rec["customer_id"], m_rec["customer_id"])
        choices = {}
        cols = st.columns(3)
        for i, group in enumerate(dedup.FIELD_GROUPS):
            opts = ["survivor", "merged"]
            choices[group] = cols[i % 3].radio(
                t(f"stewards.field.{group}"),
                opts,
                index=opts.index(defaults[group]),
                horizontal=True,
                format_func=lambda o, s=s_rec, m=m_rec: t(
                    "stewards.dd.from", id=(s if o == "survivor" else m)["customer_id"]
                ),
                key=f"dd_choice_{pair_id}_{side}_{group}",
            )
        b1, b2 = st.columns(2)
        if b1.button(t("stewards.dd.merge"), type="primary", key="dd_merge"):
            with ui.shown() as outcome:
                merge_id = dedup.merge(
                    user,
                    s_rec["customer_id"],
                    m_rec["customer_id"],
                    choices,
                    pair_id=pair_id,
                    expected_versions=(s_rec["version"], m_rec["version"]),
                )
            if outcome.ok:
                st.success(
                    t(
                        "stewards.dd.merged",
                        merged=m_rec["customer_id"],
                        survivor=s_rec["customer_id"],
                        merge_id=merge_id,
                    )
                )
        if b2.button(t("stewards.dd.reject"), key="dd_reject"):
            with ui.shown() as outcome:
                dedup.reject(user, pair_id)
            if outcome.ok:
                st.success(t("stewards.dd.rejected"))

with tab_merges:
    merges = dedup.recent_merges(user, 50)
    if merges.empty:
        st.info(t("stewards.dd.no_merges"))
    else:
        st.dataframe(i18n.display_frame(merges, headers="stewards.dd.col"), hide_index=True, width="stretch")
        undoable = merges[merges["undone_at"].isna()]
        labels = {
            int(r["merge_id"]): t(
                "stewards.dd.merge_label",
                merged=r["merged_id"],
                survivor=r["survivor_id"],
                name=r["survivor_name"] or ui.EMPTY,
                when=str(r["merged_at"])[:16],
            )
            for _, r in undoable.iterrows()
        }
        if labels:
            merge_id = st.selectbox(
                t("stewards.dd.undo_which"), list(labels), key="dd_undo_id", format_func=lambda i: labels.get(i, str(i))
            )
            if st.button(t("stewards.dd.undo"), key="dd_undo"):
                with ui.shown() as outcome:
                    dedup.undo_merge(user, merge_id)
                if outcome.ok:
                    st.success(t("stewards.dd.undone", merge_id=merge_id))

with st.expander(t("stewards.dd.accuracy")):
    ev = accuracy()
    if ev["true_pairs"]:
        ui.kpi_row(
            [
                {"label": t("stewards.dd.precision"), "value": ui.fmt_pct(ev["precision"])},
                {"label": t("stewards.dd.recall"), "value": ui.fmt_pct(ev["recall"])},
                {"label": "F1", "value": f"{ev['f1']:.3f}"},
            ]
        )
        st.caption(
            t(
                "stewards.dd.accuracy_note",
                threshold=ev["threshold"],
                true=ui.fmt_int(ev["true_pairs"]),
                predicted=ui.fmt_int(ev["predicted_pairs"]),
            )
        )
    else:
        st.caption(t("stewards.dd.no_truth"))
