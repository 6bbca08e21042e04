"""New customer: a steward types in one customer; same checks as an import (field rules, the
entry rules of the source "manual", duplicate check before the save), then opens its 360° page."""

from lib import ui
from lib.ui import records as records_ui

user = ui.guard("new_customer")
records_ui.new_customer_form(user)
