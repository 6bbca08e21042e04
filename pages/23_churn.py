"""Churn risk (model vs recency baseline, calibration, importance, scores) and CLV (BG/NBD +
Gamma-Gamma, per customer and per segment, backtest)."""

from datetime import timedelta

import streamlit as st

from lib.security import auth
from lib.dashboards import charts
from lib.marketing import campaigns, churn, clv
from lib.core import i18n, settings
from lib import ui
from lib.core.i18n import t

user = ui.guard("churn")
may_train = auth.can(user, "train_models")
data_date = settings.as_of()

st.title(t("nav.churn"))
tab_churn, tab_clv = st.tabs([t("marketing.churn.tab"), t("marketing.clv.tab")])


# Reads cached per data version (lib/ui/cache.py): a page view after the first costs no query.
@ui.cached
def tier_summary():
    return churn.tier_summary()


@ui.cached
def top_scores(viewer, tiers: tuple[str, ...]):
    return churn.top_scores(viewer, list(tiers), 200)


@ui.cached
def clv_by_segment():
    return clv.by_segment()


@ui.cached
def clv_top_customers(viewer):
    return clv.top_customers(viewer, 200)


def reasons_text(codes) -> str:
    return ", ".join(t(f"marketing.reason.{c}") for c in (codes if codes is not None else [])) or "–"


with tab_churn:
    models = churn.models()
    if models.empty:
        st.info(t("marketing.churn.no_model"))
    else:
        m = models.iloc[0]
        st.caption(
            t(
                "marketing.churn.model_caption",
                id=int(m["model_id"]),
                as_of=m["as_of"],
                horizon=int(m["horizon_days"]),
                train=m["train_cutoff"],
                eval=m["eval_cutoff"],
                n_train=ui.fmt_int(m["n_train"]),
                n_holdout=ui.fmt_int(m["n_holdout"]),
            )
        )
        if m["metrics"].get("dropped_features"):
            st.caption(t("marketing.churn.dropped", features=", ".join(m["metrics"]["dropped_features"])))
        ui.kpi_row(
            [
                {
                    "label": t("marketing.churn.auc"),
                    "value": f"{m['auc']:.3f}",
                    "delta": f"{m['auc'] - m['baseline_auc']:+.3f} " + t("marketing.churn.vs_baseline"),
                    "help": t("marketing.churn.auc.help", baseline=f"{m['baseline_auc']:.3f}"),
                },
                {
                    "label": t("marketing.churn.baseline_auc"),
                    "value": f"{m['baseline_auc']:.3f}",
                    "help": t("marketing.churn.baseline.help"),
                },
                {
                    "label": t("marketing.churn.precision_at_k", k=f"{m['k_share']:.0%}"),
                    "value": ui.fmt_pct(m["precision_at_k"]),
                    "delta": t(
                        "dash.kpi.pp", value=f"{100 * (m['precision_at_k'] - m['baseline_precision_at_k']):+.1f}"
                    )
                    + " "
                    + t("marketing.churn.vs_baseline"),
                },
                {
                    "label": t("marketing.churn.brier"),
                    "value": f"{m['brier']:.3f}",
                    "help": t("marketing.churn.brier.help", base=ui.fmt_pct(m["base_rate"])),
                },
            ]
        )
        c1, c2 = st.columns(2)
        c1.plotly_chart(charts.churn_calibration(m["metrics"]["calibration"]), width="stretch")
        c2.plotly_chart(charts.feature_importance(m["metrics"]["importance"]), width="stretch")

        tiers = tier_summary()
        if tiers.empty:
            st.info(t("marketing.churn.not_scored"))
        else:
            by_tier = tiers.set_index("risk_tier")
            ui.kpi_row(
                [
                    {
                        "label": t(f"marketing.tier.{tier}"),
                        "value": ui.fmt_int(by_tier.loc[tier, "customers"]) if tier in by_tier.index else "0",
                        "help": t(
                            "marketing.churn.tier_help",
                            avg=ui.fmt_pct(by_tier.loc[tier, "avg_probability"]),
                            revenue=ui.fmt_money(by_tier.loc[tier, "revenue_at_stake"]),
                        )
                        if tier in by_tier.index
                        else None,
                    }
                    for tier in ("high", "medium", "low")
                ]
            )
            if auth.can(user, "manage_campaigns") and st.button(t("campaigns.winback.button"), key="churn_winback"):
                with ui.shown():  # an SMS draft on the high-risk list: starts tomorrow, 30-day window
                    st.session_state["campaign_goto"] = campaigns.create_winback(
                        user, t("campaigns.winback.name", date=data_date), "sms", data_date + timedelta(days=1),
                        data_date + timedelta(days=7), data_date + timedelta(days=30),
                    )  # fmt: skip
                    st.switch_page("pages/24_campaigns.py")
            show = st.multiselect(
                t("marketing.churn.show_tiers"),
                ["high", "medium", "low"],
                default=["high"],
                format_func=lambda x: t(f"marketing.tier.{x}"),
                key="churn_tiers",
                placeholder=t("common.choose"),
            )
            scores = top_scores(user, tuple(show or ["high"]))
            scores = scores.assign(reasons=[reasons_text(r) for r in scores["reasons"]])
            st.dataframe(
                i18n.display_frame(scores, {"risk_tier": "marketing.tier", "rfm_segment": charts.rfm_label}),
                hide_index=True,
                width="stretch",
                column_config={
                    "customer_id": t("marketing.field.customer_id"),
                    "source_record_id": t("stewards.field.source_record_id"),
                    "full_name": t("marketing.field.full_name"),
                    "rfm_segment": t("marketing.rfm.segment"),
                    "recency_days": t("marketing.field.days_since_purchase"),
                    "probability": st.column_config.ProgressColumn(
                        t("marketing.churn.probability"), format="percent", min_value=0, max_value=1
                    ),
                    "risk_tier": t("marketing.churn.tier"),
                    "reasons": t("marketing.churn.reasons"),
                    "total_spend": st.column_config.NumberColumn(t("marketing.rfm.revenue"), format="¥%,.0f"),
                    "clv": st.column_config.NumberColumn(t("marketing.clv.value"), format="¥%,.0f"),
                },
            )
        with st.expander(t("marketing.churn.versions")):
            model_col = lambda name: t(f"marketing.churn.model.col.{name}")  # noqa: E731
            st.dataframe(
                i18n.display_frame(models.drop(columns=["metrics"]), headers="marketing.churn.model.col"),
                hide_index=True,
                width="stretch",
                column_config={
                    model_col("model_id"): st.column_config.NumberColumn(format="%d"),
                    **{model_col(k): ui.count_column() for k in ("horizon_days", "n_train", "n_holdout")},
                    **{
                        model_col(k): st.column_config.NumberColumn(format="percent")
                        for k in ("base_rate", "precision_at_k", "baseline_precision_at_k", "k_share")
                    },
                    **{
                        model_col(k): st.column_config.NumberColumn(format="%.3f")
                        for k in ("auc", "baseline_auc", "brier")
                    },
                },
            )
        with st.expander(t("marketing.churn.definition_title")):
            st.markdown(t("marketing.churn.definition"))

    if may_train:
        st.subheader(t("marketing.churn.retrain"))
        with st.form("churn_train"):
            f1, f2 = st.columns(2)
            as_of = f1.date_input(t("marketing.as_of"), value=data_date, max_value=data_date)
            horizon = f2.number_input(t("marketing.churn.horizon"), min_value=7, max_value=730, value=90, step=1)
            go = st.form_submit_button(t("marketing.churn.train_button"), type="primary")
        if go:
            bar = st.progress(0.0, text=t("marketing.progress.features"))
            with ui.shown() as outcome:
                result = churn.train(
                    user,
                    as_of,
                    int(horizon),
                    progress=lambda f, msg: bar.progress(min(f * 0.7, 0.7), text=t(f"marketing.progress.{msg}")),
                )
                churn.score(
                    user,
                    as_of,
                    int(horizon),
                    model_id=result["model_id"],
                    progress=lambda f, msg: bar.progress(0.7 + 0.3 * f, text=t("marketing.progress.score")),
                )
                bar.progress(1.0, text=t("marketing.progress.done"))
                st.success(
                    t(
                        "marketing.churn.trained",
                        id=result["model_id"],
                        auc=f"{result['auc']:.3f}",
                        baseline=f"{result['baseline_auc']:.3f}",
                    )
                )
                st.button(t("marketing.churn.show_new"), key="churn_show_new")
            if not outcome.ok:
                bar.empty()

with tab_clv:
    fits = clv.models()
    if fits.empty:
        st.info(t("marketing.clv.no_model"))
    else:
        fit = fits.iloc[0]
        bg, gg, bt = fit["bgnbd"], fit["gamma_gamma"], fit["backtest"]
        st.caption(
            t(
                "marketing.clv.caption",
                as_of=fit["as_of"],
                horizon=int(fit["horizon_days"]),
                r=f"{bg['r']:.3f}",
                alpha=f"{bg['alpha']:.2f}",
                a=f"{bg['a']:.3f}",
                b=f"{bg['b']:.3f}",
                p=f"{gg['p']:.3f}",
                q=f"{gg['q']:.3f}",
                gamma=f"{gg['gamma']:.1f}",
            )
        )
        segs = clv_by_segment()
        total = float(segs["total_clv"].sum()) if not segs.empty else 0.0
        cards = [{"label": t("marketing.clv.total", horizon=int(fit["horizon_days"])), "value": total, "money": True}]
        if bt:
            error = (bt["predicted_purchases"] - bt["actual_purchases"]) / max(bt["actual_purchases"], 1)
            cards += [
                {
                    "label": t("marketing.clv.bt_predicted"),
                    "value": bt["predicted_purchases"],
                    "count": True,
                    "delta": f"{100 * error:+.1f}% " + t("marketing.clv.vs_actual"),
                    "delta_color": "off",
                    "help": t("marketing.clv.bt_help", cutoff=bt["calibration_cutoff"], horizon=bt["horizon_days"]),
                },
                {"label": t("marketing.clv.bt_actual"), "value": bt["actual_purchases"], "count": True},
                {
                    "label": t("marketing.clv.bt_mae"),
                    "value": f"{bt['mae']:.2f}",
                    "help": t("marketing.clv.bt_corr", corr=f"{bt['correlation']:.3f}"),
                },
            ]
        ui.kpi_row(cards)
        c1, c2 = st.columns(2)
        c1.plotly_chart(charts.clv_backtest(bt["by_repeat_purchases"] if bt else []), width="stretch")
        c2.plotly_chart(charts.clv_by_segment(segs), width="stretch")
        st.subheader(t("marketing.clv.per_segment"))
        seg_names = [
            t(f"marketing.rfm.seg.{charts.rfm_slug(x)}") if not x.startswith("(") else t("marketing.rfm.none")
            for x in segs["rfm_segment"]
        ]
        st.dataframe(
            segs.assign(rfm_segment=seg_names),
            hide_index=True,
            width="stretch",
            column_config={
                "rfm_segment": t("marketing.rfm.segment"),
                "customers": st.column_config.NumberColumn(t("marketing.rfm.customers"), format="localized"),
                "avg_expected_purchases": st.column_config.NumberColumn(
                    t("marketing.clv.expected_purchases"), format="%.2f"
                ),
                "avg_clv": st.column_config.NumberColumn(t("marketing.clv.avg"), format="¥%,.0f"),
                "total_clv": st.column_config.NumberColumn(t("marketing.clv.value"), format="¥%,.0f"),
                "avg_p_alive": st.column_config.ProgressColumn(
                    t("marketing.clv.p_alive"), format="percent", min_value=0, max_value=1
                ),
            },
        )
        st.subheader(t("marketing.clv.per_customer"))
        st.dataframe(
            i18n.display_frame(clv_top_customers(user), {"rfm_segment": charts.rfm_label}),
            hide_index=True,
            width="stretch",
            column_config={
                "source_record_id": t("stewards.field.source_record_id"),
                "p_alive": st.column_config.ProgressColumn(
                    t("marketing.clv.p_alive"), format="percent", min_value=0, max_value=1
                ),
                "expected_avg_value": st.column_config.NumberColumn(
                    t("marketing.clv.expected_avg_value"), format="¥%,.0f"
                ),
                "expected_value": st.column_config.NumberColumn(t("marketing.clv.value"), format="¥%,.0f"),
                "expected_purchases": st.column_config.NumberColumn(
                    t("marketing.clv.expected_purchases"), format="%.2f"
                ),
                "rfm_segment": t("marketing.rfm.segment"),
                "full_name": t("marketing.field.full_name"),
                "customer_id": t("marketing.field.customer_id"),
            },
        )
        with st.expander(t("marketing.clv.definition_title")):
            st.markdown(t("marketing.clv.definition"))
    if may_train:
        st.subheader(t("marketing.clv.refit"))
        with st.form("clv_fit"):
            f1, f2 = st.columns(2)
            clv_as_of = f1.date_input(t("marketing.as_of"), value=data_date, max_value=data_date, key="clv_as_of")
            clv_horizon = f2.number_input(t("marketing.clv.horizon"), min_value=7, max_value=1825, value=180, step=1)
            go_clv = st.form_submit_button(t("marketing.clv.fit_button"), type="primary")
        if go_clv:
            bar = st.progress(0.0, text=t("marketing.progress.backtest"))
            with ui.shown() as outcome:
                result = clv.fit_and_score(
                    user,
                    clv_as_of,
                    int(clv_horizon),
                    progress=lambda f, msg: bar.progress(f, text=t(f"marketing.progress.{msg}")),
                )
                st.success(t("marketing.clv.fitted", scored=ui.fmt_int(result["scored"])))
                st.button(t("marketing.churn.show_new"), key="clv_show_new")
            if not outcome.ok:
                bar.empty()
