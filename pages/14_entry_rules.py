"""Entry rules: required fields per source and kind, what a missing one does, default country."""

import json

import streamlit as st

from lib.stewardship import entry_rules
from lib.core import i18n, validation
from lib import ui
from lib.core.i18n import t

user = ui.guard("entry_rules")

st.title(t("nav.entry_rules"))
st.caption(t("stewards.er.intro"))

c1, c2, c3 = st.columns(3)
choice = c1.selectbox(
    t("stewards.er.source"),
    [entry_rules.ALL_SOURCES] + entry_rules.sources(),
    format_func=lambda s: (
        t("stewards.er.all_sources") if s == entry_rules.ALL_SOURCES else i18n.code_label("dash.source", s)
    ),
    key="er_source",
)
typed = c2.text_input(t("stewards.er.new_source"), key="er_new_source")
source = typed.strip() or choice
kind = c3.selectbox(
    t("stewards.er.kind"), list(entry_rules.KINDS), format_func=lambda k: t(f"stewards.imp.kind.{k}"), key="er_kind"
)

rules = entry_rules.in_force(source, kind)
version = entry_rules.stored_version(source, kind)
st.info(t("stewards.er.in_force", origin=t(f"stewards.er.origin.{rules.origin}"), version=rules.version))

options = ["none", "quarantine", "flag"] if kind == "customers" else ["none", "quarantine"]
prefix = f"er_{source}_{kind}_{version}"
with st.form(f"{prefix}_form"):
    required = {}
    grid = st.columns(3)
    for i, field in enumerate(entry_rules.FIELDS[kind]):
        label = validation.field_label(field)
        if field in entry_rules.LOCKED[kind]:
            grid[i % 3].selectbox(label, [t("stewards.er.locked")], disabled=True, key=f"{prefix}_{field}")
            required[field] = "quarantine"
            continue
        current = rules.required.get(field, "none")
        action = grid[i % 3].selectbox(
            label,
            options,
            index=options.index(current) if current in options else 0,
            format_func=lambda a: t(f"stewards.er.action.{a}"),
            key=f"{prefix}_{field}",
        )
        if action != "none":
            required[field] = action
    country = (
        ui.country_select(
            st,
            t("stewards.er.country"),
            rules.country or "CN",
            help=t("stewards.er.country_help"),
            key=f"{prefix}_default_country",
        )
        if kind == "customers"
        else None
    )
    note = st.text_input(t("stewards.er.note"), key=f"{prefix}_note")
    submitted = st.form_submit_button(t("stewards.er.save"), type="primary")

if submitted:
    with ui.shown() as outcome:  # EntryRuleError, PermissionDenied: their message is shown
        saved = entry_rules.save(user, source, kind, required, country=country, note=note, expected_version=version)
    if outcome.ok:
        st.success(t("stewards.er.saved", version=saved.version, kind=t(f"stewards.imp.kind.{kind}"), source=source))

st.subheader(t("stewards.er.history"))
past = entry_rules.history(source, kind)
if past.empty:
    st.caption(t("stewards.er.no_history"))
else:
    past = past.assign(
        required=[
            ", ".join(f"{validation.field_label(f)}: {t('stewards.er.action.' + a)}" for f, a in json.loads(r).items())
            for r in past["required"]
        ]
    )
    st.dataframe(
        i18n.display_frame(
            past.drop(columns=["source", "kind"]),
            codes={"saved_by": lambda v: v, "default_country": i18n.country_name},
            headers=("stewards.er.col",),
        ),
        hide_index=True,
        width="stretch",
    )
