"""Import: upload CSV/Excel, map columns, preview rejects, import in one transaction; quarantine."""

import json

import streamlit as st

from lib.stewardship import importer
from lib import ui
from lib.core import i18n, validation
from lib.core.i18n import t

user = ui.guard("import")

st.title(t("nav.import"))
tabs = ui.tabs({code: t(f"stewards.imp.tab_{code}") for code in ("import", "quarantine", "history")}, key="imp_tab")
tab_import, tab_quarantine, tab_history = tabs["import"], tabs["quarantine"], tabs["history"]


@st.cache_data(show_spinner=False, max_entries=2)
def _read(data: bytes, name: str):
    return importer.read_table(data, name)


with tab_import:
    c1, c2, c3 = st.columns(3)
    kind = c1.selectbox(
        t("stewards.imp.kind"), list(importer.KINDS), format_func=lambda k: t(f"stewards.imp.kind.{k}"), key="imp_kind"
    )
    source = c2.text_input(t("stewards.imp.source"), key="imp_source", help=t("stewards.imp.source_help"))
    rules = importer.rules_for(source or None, kind)
    country = (
        ui.country_select(
            c3,
            t("stewards.er.country"),
            rules.country or "CN",
            key=f"imp_country_{source}_{kind}",
            help=t("stewards.er.country_help"),
        )
        if kind == "customers"
        else None
    )
    with st.expander(
        t("stewards.imp.rules_in_force", origin=t(f"stewards.er.origin.{rules.origin}"), version=rules.version)
    ):
        for line in rules.describe():
            st.markdown(f"- {line}")
        st.page_link("pages/14_entry_rules.py", label=t("nav.entry_rules"), icon=":material/rule:")
    upload = st.file_uploader(
        t("stewards.imp.file"), type=["csv", "tsv", "txt", "xlsx", "xlsm", "xlsb", "xls", "ods"], key="imp_file"
    )
    if upload is None:
        st.info(t("stewards.imp.start_hint"))
    else:
        data = upload.getvalue()
        try:
            frame = _read(data, upload.name)
        except importer.ImportProblem as exc:
            st.error(str(exc))
            st.stop()
        st.caption(t("stewards.imp.file_info", rows=ui.fmt_int(len(frame)), cols=len(frame.columns)))
        for note in frame.attrs.get("notes", []):
            st.warning(i18n.note_text(note))
        st.dataframe(frame.head(5), hide_index=True, width="stretch")

        st.subheader(t("stewards.imp.mapping"))
        saved = importer.saved_mappings(kind)
        m1, m2 = st.columns(2)
        preset = m1.selectbox(
            t("stewards.imp.saved_mapping"),
            [None] + list(saved),
            format_func=lambda n: n or t("stewards.imp.suggested"),
            key="imp_preset",
        )
        mapping_file = m2.file_uploader(t("stewards.imp.mapping_file"), type=["json"], key="imp_mapping_file")
        if mapping_file is not None:
            base = json.loads(mapping_file.getvalue()).get("fields", {})
        elif preset:
            base = saved[preset].get("fields", {})
        else:
            base = importer.suggest_mapping(kind, frame.columns)
        columns = list(frame.columns)
        mapping = {}
        grid = st.columns(3)
        for i, field in enumerate(importer.FIELDS[kind]):
            required = field in importer.REQUIRED_FIELDS[kind] or rules.required.get(field) == "quarantine"
            label = t(f"stewards.field.{field}") + (" *" if required else "")
            chosen = grid[i % 3].multiselect(
                label,
                columns,
                default=[c for c in base.get(field, []) if c in columns],
                key=f"imp_map_{kind}_{field}_{preset}_{bool(mapping_file)}",
                placeholder=t("common.choose"),
            )
            if chosen:
                mapping[field] = chosen
        st.caption(t("stewards.imp.mapping_help"))
        s1, s2, s3 = st.columns([2, 1, 1])
        mapping_name = s1.text_input(t("stewards.imp.mapping_name"), key="imp_mapping_name")
        if s2.button(t("stewards.imp.save_mapping"), key="imp_save_mapping"):
            with ui.shown() as outcome:
                importer.save_mapping(user, mapping_name, kind, mapping)
            if outcome.ok:
                st.success(t("stewards.imp.mapping_saved", name=mapping_name))
        s3.download_button(
            t("stewards.imp.download_mapping"),
            importer.mapping_json(kind, mapping),
            file_name=f"mapping-{kind}.json",
            mime="application/json",
            key="imp_dl_mapping",
            on_click="ignore",
        )

        create = kind in ("orders", "events") and st.checkbox(
            t("stewards.imp.create_customers"), help=t("stewards.imp.create_customers_help"), key="imp_create"
        )
        if st.button(t("stewards.imp.preview"), key="imp_preview"):
            try:
                st.session_state["imp_plan"] = importer.prepare(
                    kind,
                    frame,
                    mapping,
                    source,
                    file_name=upload.name,
                    file_bytes=data,
                    country=country or None,
                    create_customers=create,
                )
            except importer.ImportProblem as exc:
                st.session_state.pop("imp_plan", None)
                st.error(str(exc))
        plan = st.session_state.get("imp_plan")
        if plan is not None and plan.file_name == upload.name and plan.kind == kind:
            st.subheader(t("stewards.imp.preview_title"))
            ui.kpi_row(
                [
                    {"label": t("stewards.imp.rows"), "value": ui.fmt_int(plan.rows)},
                    {"label": t("stewards.imp.will_load"), "value": ui.fmt_int(plan.rows - plan.quarantine_count)},
                    {"label": t("stewards.imp.will_quarantine"), "value": ui.fmt_int(plan.quarantine_count)},
                    {"label": t("stewards.imp.will_flag"), "value": ui.fmt_int(plan.flagged_count)},
                ]
            )
            for note in plan.notes[len(frame.attrs.get("notes", [])) :]:  # what the mapping did (order lines ...)
                st.info(i18n.note_text(note))
            rejects = plan.rejects()
            if not rejects.empty:
                st.markdown(f"**{t('stewards.imp.rejects')}**")
                st.dataframe(i18n.display_frame(rejects, headers="stewards.imp.col"), hide_index=True, width="stretch")
            flagged = plan.flagged()
            if not flagged.empty:
                st.markdown(f"**{t('stewards.imp.flagged')}**")
                st.dataframe(i18n.display_frame(flagged, headers="stewards.imp.col"), hide_index=True, width="stretch")
            if st.button(t("stewards.imp.run"), type="primary", key="imp_run"):
                bar = st.progress(0.0, text=t("stewards.imp.stage.write"))

                def progress(fraction: float, stage: str) -> None:
                    bar.progress(fraction, text=t(f"stewards.imp.stage.{stage}"))

                with ui.shown() as outcome:
                    result = importer.run_import(user, plan, progress=progress)
                if outcome.ok:
                    st.session_state.pop("imp_plan", None)
                    st.success(
                        t(
                            "stewards.imp.done",
                            loaded=ui.fmt_int(result.rows_loaded),
                            unchanged=ui.fmt_int(result.rows_unchanged),
                            quarantined=ui.fmt_int(result.rows_quarantined),
                            flagged=ui.fmt_int(result.rows_flagged),
                            seconds=f"{result.seconds:.1f}",
                            pairs=ui.fmt_int(result.duplicate_candidates),
                        )
                    )
                    if result.customers_created:
                        st.caption(t("stewards.imp.customers_created", n=ui.fmt_int(result.customers_created)))
                    if result.consents_recorded:
                        st.caption(t("stewards.imp.consents", n=ui.fmt_int(result.consents_recorded)))
                    for note in result.notes:
                        st.caption(i18n.note_text(note))

with tab_quarantine:
    if flash := st.session_state.pop("imp_q_flash", None):
        st.success(flash)
    rows = importer.quarantine(user, "open")
    if rows.empty:
        st.success(t("stewards.imp.quarantine_empty"))
    else:
        view = rows.assign(
            reasons=[
                i18n.sentences(validation.message(r["field"], r["code"]) for r in json.loads(x))
                for x in rows["reasons"]
            ],
            raw=[importer.readable_raw(row["kind"], row["raw"]) for _, row in rows.iterrows()],
        )
        st.caption(t("stewards.imp.pick_row"))
        picked = st.dataframe(
            i18n.display_frame(
                view[["quarantine_id", "kind", "source", "source_record_id", "row_no", "reasons", "raw"]],
                {"kind": "stewards.imp.kind"},
                headers="stewards.imp.col",
            ),
            hide_index=True,
            width="stretch",
            height=260,
            on_select="rerun",
            selection_mode="single-row",
            key="imp_q_table",
        )
        position = ui.selected_row(picked)
        row = rows.iloc[position if position is not None and position < len(rows) else 0]
        qid = int(row["quarantine_id"])
        st.markdown(f"**{t('stewards.imp.fixing', row=row['row_no'], record=row['source_record_id'] or ui.EMPTY)}**")
        raw = json.loads(row["raw"])
        for r in json.loads(row["reasons"]):
            st.warning(validation.message(r["field"], r["code"]))
        with st.form(f"quarantine_{qid}"):
            values = {}
            cols = st.columns(3)
            for i, field in enumerate(importer.field_order(row["kind"], raw)):
                values[field] = cols[i % 3].text_input(
                    t(f"stewards.field.{field}"), value=raw[field] or "", key=f"q_{qid}_{field}"
                )
            release = st.form_submit_button(t("stewards.imp.release"), type="primary")
        if release:
            with ui.shown() as outcome:
                new_id = importer.release(user, qid, values)
            if outcome.ok:
                st.session_state["imp_q_flash"] = t("stewards.imp.released", id=new_id or ui.EMPTY)
                st.session_state.pop("imp_q_table", None)
                st.rerun()
        d1, d2 = st.columns([3, 1])
        reason = d1.text_input(t("stewards.field.reason"), key=f"q_reason_{qid}")
        if d2.button(t("stewards.imp.discard"), key="imp_discard"):
            with ui.shown() as outcome:
                importer.discard(user, qid, reason)
            if outcome.ok:
                st.session_state["imp_q_flash"] = t("stewards.imp.discarded")
                st.session_state.pop("imp_q_table", None)
                st.rerun()

with tab_history:
    past = importer.recent_imports(50)
    if past.empty:  # an empty table would be drawn as a grid with one blank row
        st.info(t("stewards.imp.no_history"))
    else:
        st.dataframe(
            i18n.display_frame(
                past, {"kind": "stewards.imp.kind", "status": "stewards.imp.status"}, headers="stewards.imp.col"
            ),
            hide_index=True,
            width="stretch",
        )
