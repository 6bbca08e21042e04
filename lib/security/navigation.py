"""Which pages exist, who may open them, and how they are grouped in the sidebar.

The single source of truth for page access: each page's guard looks its entry up here, and
the sidebar lists only the entries the user's roles allow. A test checks that every file in
pages/ has an entry and every entry has a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lib.security.auth import ALL, PERMISSIONS


@dataclass(frozen=True)
class Page:
    key: str  # also the i18n key nav.<key>
    path: str  # file, relative to the app root
    icon: str
    section: str  # i18n key nav.section.<section>
    roles: frozenset[str]

    @property
    def url_path(self) -> str:
        """The page's URL path as Streamlit derives it: file stem without the number prefix."""
        return re.sub(r"^[0-9]+[_ -]*", "", Path(self.path).stem)


STEWARDS = frozenset({"steward", "admin"})
MARKETERS = frozenset({"marketing", "admin"})
ADMINS = frozenset({"admin"})
INTERACTION_ROLES = PERMISSIONS["log_interaction"]  # My follow-ups: whoever logs interactions

PAGES: tuple[Page, ...] = (
    Page("overview", "pages/01_overview.py", ":material/monitoring:", "dashboards", ALL),
    Page("customers", "pages/02_customers.py", ":material/search:", "dashboards", ALL),
    Page("customer_360", "pages/03_customer_360.py", ":material/person:", "dashboards", ALL),
    Page("categories", "pages/04_categories.py", ":material/category:", "dashboards", ALL),
    Page("import", "pages/10_import.py", ":material/upload_file:", "stewardship", STEWARDS),
    Page("quality", "pages/11_quality.py", ":material/fact_check:", "stewardship", STEWARDS),
    Page("review_queue", "pages/12_review_queue.py", ":material/checklist:", "stewardship", STEWARDS),
    Page("duplicates", "pages/13_duplicates.py", ":material/merge:", "stewardship", STEWARDS),
    Page("entry_rules", "pages/14_entry_rules.py", ":material/rule:", "stewardship", STEWARDS),
    Page("new_customer", "pages/15_new_customer.py", ":material/person_add:", "stewardship", STEWARDS),
    Page("follow_ups", "pages/16_follow_ups.py", ":material/event_upcoming:", "stewardship", INTERACTION_ROLES),
    Page("feedback", "pages/17_feedback.py", ":material/sentiment_dissatisfied:", "stewardship", STEWARDS),
    Page("rfm", "pages/20_rfm.py", ":material/grid_view:", "marketing", MARKETERS),
    Page("segments", "pages/21_segments.py", ":material/filter_alt:", "marketing", MARKETERS),
    Page("tags", "pages/22_tags.py", ":material/sell:", "marketing", MARKETERS),
    Page("churn", "pages/23_churn.py", ":material/trending_down:", "marketing", MARKETERS),
    # managers open it to approve contact exports; creating and launching stays with marketing
    Page("campaigns", "pages/24_campaigns.py", ":material/campaign:", "marketing", MARKETERS | {"manager"}),
    Page("users", "pages/30_users.py", ":material/manage_accounts:", "admin", ADMINS),
    Page("audit", "pages/31_audit.py", ":material/policy:", "admin", ADMINS),
    Page("privacy", "pages/32_privacy.py", ":material/shield_person:", "admin", ADMINS),
    Page("backups", "pages/33_backups.py", ":material/backup:", "admin", ADMINS),
    Page("jobs", "pages/34_jobs.py", ":material/schedule:", "admin", ADMINS),
    Page("alerts", "pages/35_alerts.py", ":material/notifications:", "admin", STEWARDS),
    Page("settings", "pages/36_settings.py", ":material/tune:", "admin", ADMINS),
)

HOME = "app.py"


def page(key: str) -> Page:
    for p in PAGES:
        if p.key == key:
            return p
    raise KeyError(f"No page {key!r} in lib.security.navigation.PAGES")


def allowed(roles) -> list[Page]:
    return [p for p in PAGES if p.roles & set(roles)]
