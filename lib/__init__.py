"""Customer 360 domain library. Only lib/ui.py imports streamlit; everything else is plain Python.

Areas: core (storage, config, field rules) <- security <- dashboards, stewardship, marketing,
admin <- ui. See docs/architecture.md."""
