"""Entry point of the app server: `streamlit run serve.py` (what `make run` does).

Streamlit's ASGI app (st.App) runs app.py and pages/ as before, plus the route that writes the
login cookie server-side, httpOnly and SameSite=Strict (lib/ui/routes.py). It also warms the
process once in the background (lib/ui/warmup.py). `streamlit run app.py` still works, but without that route a login lasts only as long as its browser tab.
"""

import streamlit as st

from lib.admin import scheduler
from lib.ui import routes, warmup

app = st.App("app.py", routes=routes.routes())
warmup.start()  # heavy imports and the warehouse's first connection, before the first visitor

# The job scheduler lives with the server: one per process (lib/admin/scheduler.py).
scheduler.start()
